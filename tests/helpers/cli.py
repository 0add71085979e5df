"""The `foncier` command run as a user runs it, on a test database."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import Engine


def foncier(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FONCIER_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env
    )
