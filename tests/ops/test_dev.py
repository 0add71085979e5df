"""The ./dev script: apt-get waits, within a bound, for another apt-get or dpkg."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
import tomllib
from pathlib import Path

from app.settings import PROJECT_DIR


def _wait_apt(lock: Path, seconds: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FONCIER_APT_LOCKS": str(lock), "FONCIER_APT_WAIT": str(seconds)}
    return subprocess.run(
        [str(PROJECT_DIR / "dev"), "wait-apt"], env=env, capture_output=True, text=True, timeout=30
    )


def test_apt_waits_for_the_dpkg_lock_then_gives_up(tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    free = _wait_apt(lock, 2)
    assert free.returncode == 0 and free.stdout == ""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)  # as dpkg holds it
        started = time.monotonic()
        held = _wait_apt(lock, 2)
        assert time.monotonic() - started >= 2
    finally:
        os.close(fd)
    assert held.returncode == 1
    assert "waiting for another apt-get or dpkg" in held.stdout
    assert "still holds its lock after 2 s" in held.stderr


def test_the_quick_loop_leaves_out_registered_markers_as_documented() -> None:
    """`./dev test --quick` deselects markers pyproject.toml registers (pytest runs with
    --strict-markers, so a marker misspelt on a test fails the run), and
    docs/development.md states the same expression."""
    quick = re.search(r'^QUICK_TESTS="(.+)"$', (PROJECT_DIR / "dev").read_text(), re.M)
    assert quick is not None
    config = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["tool"]["pytest"]
    registered = {line.split(":")[0] for line in config["ini_options"]["markers"]}
    left_out = set(re.findall(r"[a-z_]+", quick.group(1))) - {"not", "or", "and"}
    assert left_out == {"slow", "browser", "clients", "fuzz", "cluster"} <= registered
    assert "--strict-markers" in config["ini_options"]["addopts"]
    assert f'-m "{quick.group(1)}"' in (PROJECT_DIR / "docs" / "development.md").read_text()
