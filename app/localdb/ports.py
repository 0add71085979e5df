"""A busy TCP port said in one sentence: which port, who holds it, which setting to change.

Usage from ``./dev``: ``python -m app.localdb.ports PORT VARIABLE`` exits 1 with that sentence
when PORT is taken on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

PROC = Path("/proc")


class PortBusy(RuntimeError):
    """The port a server should listen on is taken."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: a connection of a past server in TIME_WAIT does not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the system's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is ADDR:PORT in hex; state 0A is LISTEN.
            listening = len(fields) > 9 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holder(port: int, proc: Path = PROC) -> str | None:
    """Who listens on ``port``, as 'name (pid N: command line)', from /proc; None when it
    cannot tell (no permission to see the other user's processes, or no /proc)."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    pids = sorted((p for p in proc.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    for pid_dir in pids:
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in targets:
                    name = (pid_dir / "comm").read_text().strip()
                    cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ")
                    command = cmdline.decode(errors="replace").strip()
                    return f"{name} (pid {pid_dir.name}: {command})"
            except OSError:
                continue
    return None


def busy_port_message(port: int, variable: str, host: str = "127.0.0.1") -> str:
    holder = port_holder(port)
    by = f" by {holder}" if holder else ""
    candidates = range(port + 1, min(port + 200, 65536))
    suggestion = next((p for p in candidates if port_is_free(p, host)), None)
    example = f", e.g. {variable}={suggestion}" if suggestion else ""
    return f"port {port} on {host} is already in use{by}; set {variable} to a free port{example}."


def check_port(port: int, variable: str, host: str = "127.0.0.1") -> None:
    """Raise PortBusy with the sentence when ``port`` cannot be listened on."""
    if not port_is_free(port, host):
        raise PortBusy(busy_port_message(port, variable, host))


if __name__ == "__main__":
    try:
        check_port(int(sys.argv[1]), sys.argv[2])
    except PortBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
