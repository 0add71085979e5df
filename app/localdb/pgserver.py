"""Which PostgreSQL server the embedded PostGIS runs, discovered rather than pinned.

The installed server is used when there is one (15 or newer, with its PostGIS 3
package); otherwise the distribution's own default server is installed with apt,
its version read from ``/etc/os-release``. Everything is read under ``root`` so
the tests can hand in the recorded layout of each distribution.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

MIN_MAJOR = 15

# The PostgreSQL major version each supported release ships as its default
# (what its `postgresql` metapackage depends on), by release codename: Ubuntu
# derivatives say which Ubuntu they follow in UBUNTU_CODENAME.
DISTRIBUTION_DEFAULTS: dict[str, tuple[str, int]] = {
    "bookworm": ("Debian 12", 15),
    "trixie": ("Debian 13", 17),
    "jammy": ("Ubuntu 22.04", 14),
    "noble": ("Ubuntu 24.04", 16),
}

# Why an older default is refused, said to whoever runs the command on it.
TOO_OLD = {
    14: "PostgreSQL 14 reached its end of life on 12 November 2026 (no more security fixes)",
}

HOW_TO_GET_NEWER = (
    "install PostgreSQL 15 or newer with its PostGIS 3 package from apt.postgresql.org "
    "(e.g. postgresql-16 and postgresql-16-postgis-3), which is then found and used, "
    "or point FONCIER_DATABASE_URL at a PostGIS server"
)


class PgDiscoveryError(RuntimeError):
    """No usable PostgreSQL is installed and none can be installed on this system."""


@dataclass(frozen=True)
class InstalledServer:
    major: int
    bin_dir: Path
    postgis: str | None  # version of its PostGIS extension, None when not installed


@dataclass(frozen=True)
class ServerPlan:
    """The server to run, and the packages to install first (none when all is there)."""

    major: int
    bin_dir: Path
    packages: tuple[str, ...]
    source: str  # why this version: said when it is installed

    @property
    def install_command(self) -> str:
        return (
            "apt-get update && DEBIAN_FRONTEND=noninteractive "
            f"apt-get install -y --no-install-recommends {' '.join(self.packages)}"
        )


def read_os_release(root: Path = Path("/")) -> dict[str, str]:
    """The fields of os-release(5); empty when the file is missing."""
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        path = root / candidate
        if path.is_file():
            fields = {}
            for line in path.read_text(errors="replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() and not key.startswith("#"):
                    words = shlex.split(value, comments=False, posix=True) or [""]
                    fields[key.strip()] = words[0]
            return fields
    return {}


def _postgis_version(root: Path, major: int) -> str | None:
    """The PostGIS version packaged for this server: its control file and its library."""
    control = root / f"usr/share/postgresql/{major}/extension/postgis.control"
    if not control.is_file():
        return None
    match = re.search(r"default_version\s*=\s*'([^']+)'", control.read_text(errors="replace"))
    if match is None:
        return None
    version = match.group(1)
    library = root / f"usr/lib/postgresql/{major}/lib/postgis-{version.split('.')[0]}.so"
    return version if library.exists() else None


def installed_servers(root: Path = Path("/")) -> list[InstalledServer]:
    """Every Debian-packaged server (``/usr/lib/postgresql/N/bin``), oldest first."""
    base = root / "usr/lib/postgresql"
    servers = []
    if base.is_dir():
        for entry in base.iterdir():
            bin_dir = entry / "bin"
            if entry.name.isdigit() and all(
                (bin_dir / tool).exists() for tool in ("postgres", "initdb", "pg_ctl")
            ):
                major = int(entry.name)
                servers.append(InstalledServer(major, bin_dir, _postgis_version(root, major)))
    return sorted(servers, key=lambda s: s.major)


def _packages(major: int, server: InstalledServer | None) -> tuple[str, ...]:
    wanted = []
    if server is None:
        wanted.append(f"postgresql-{major}")
    if server is None or server.postgis is None or not server.postgis.startswith("3."):
        wanted.append(f"postgresql-{major}-postgis-3")
    return tuple(wanted)


def plan_server(root: Path = Path("/"), cluster_major: int | None = None) -> ServerPlan:
    """Choose the server: the one that made an existing cluster (``cluster_major``), else the
    newest installed one (15 or newer, preferring one that has PostGIS 3), else the
    distribution's default. Raises PgDiscoveryError with the reason and what to do."""
    servers = {s.major: s for s in installed_servers(root)}

    if cluster_major is not None:
        server = servers.get(cluster_major)
        if server is None:
            raise PgDiscoveryError(
                f"the existing cluster was created by PostgreSQL {cluster_major}, which is not "
                f"installed: install postgresql-{cluster_major} and "
                f"postgresql-{cluster_major}-postgis-3, or remove the cluster (./dev clean) "
                "to start afresh with the installed server"
            )
        return ServerPlan(
            cluster_major, server.bin_dir, _packages(cluster_major, server), "existing cluster"
        )

    recent = [s for s in servers.values() if s.major >= MIN_MAJOR]
    with_postgis = [s for s in recent if s.postgis and s.postgis.startswith("3.")]
    if with_postgis or recent:
        server = (with_postgis or recent)[-1]
        return ServerPlan(
            server.major, server.bin_dir, _packages(server.major, server), "installed"
        )

    release = read_os_release(root)
    codename = release.get("UBUNTU_CODENAME") or release.get("VERSION_CODENAME", "")
    name = release.get("PRETTY_NAME") or release.get("NAME") or "this system (no /etc/os-release)"
    if codename not in DISTRIBUTION_DEFAULTS:
        supported = ", ".join(
            label for label, major in DISTRIBUTION_DEFAULTS.values() if major >= MIN_MAJOR
        )
        raise PgDiscoveryError(
            f"PostgreSQL is not installed and Foncier installs it only on {supported} "
            f"(with apt); this is {name}: install PostgreSQL {MIN_MAJOR} or newer with "
            "PostGIS 3 and set FONCIER_PG_BIN_DIR to its bin directory, or point "
            "FONCIER_DATABASE_URL at a PostGIS server"
        )
    label, major = DISTRIBUTION_DEFAULTS[codename]
    if major < MIN_MAJOR:
        older = [s.major for s in servers.values()]
        found = f" (found PostgreSQL {older[-1]} installed)" if older else ""
        raise PgDiscoveryError(
            f"{label} ({name}) ships PostgreSQL {major}, and Foncier needs {MIN_MAJOR} or newer"
            f"{found}: {TOO_OLD.get(major, 'too old')}; {HOW_TO_GET_NEWER}"
        )
    return ServerPlan(
        major,
        root / f"usr/lib/postgresql/{major}/bin",
        _packages(major, servers.get(major)),
        f"{label}'s default",
    )
