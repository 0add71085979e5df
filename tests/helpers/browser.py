"""Running a browser spec (web/tests/*.spec.mjs) in headless Chromium from a test."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from app.settings import PROJECT_DIR

SPECS = PROJECT_DIR / "web" / "tests"


def run_spec(spec: str, args: dict[str, Any], timeout: int = 300) -> dict[str, Any]:
    """What the spec ``spec`` (a file of web/tests) saw, given ``args`` as JSON: it prints
    one JSON document on success; any failure fails the test with its output."""
    node = shutil.which("node")
    if node is None or shutil.which("chromium") is None:
        pytest.fail("node and chromium are needed: apt-get install nodejs npm chromium")
    path = SPECS / spec
    run = subprocess.run(
        [node, str(path), json.dumps(args)],
        capture_output=True, text=True, timeout=timeout, cwd=path.parent,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    result: dict[str, Any] = json.loads(run.stdout)
    print(json.dumps(result, ensure_ascii=False, indent=1))  # pytest -s shows what was seen
    return result
