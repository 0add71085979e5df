"""The `foncier` command: readable one-line errors and non-zero exits on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.helpers import CADASTRE_91216, write
from tests.helpers.cli import foncier

pytestmark = pytest.mark.slow


def test_import_cadastre_then_reimport(fresh_engine: Engine) -> None:
    first = foncier(fresh_engine, "import", "cadastre", str(CADASTRE_91216))
    assert first.returncode == 0, first.stderr
    assert "read 4241, written 4241 (4241 new, 0 updated)" in first.stdout
    second = foncier(fresh_engine, "import", "cadastre", str(CADASTRE_91216))
    assert "unchanged 4241" in second.stdout
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 4241


def test_bad_file_exits_non_zero_with_one_line(fresh_engine: Engine, tmp_path: Path) -> None:
    data = json.loads(CADASTRE_91216.read_bytes())
    data["features"][3]["geometry"] = None
    path = write(tmp_path / "bad.json", json.dumps(data))
    result = foncier(fresh_engine, "import", "cadastre", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "feature without geometry: 1" in lines[0]
    assert "Traceback" not in result.stderr
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0


def test_missing_file(fresh_engine: Engine, tmp_path: Path) -> None:
    result = foncier(fresh_engine, "import", "cadastre", str(tmp_path / "none.json"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'none.json'}: no such file"


def test_unreachable_database(tmp_path: Path) -> None:
    env = {**os.environ, "FONCIER_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/foncier"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "import", "cadastre", str(CADASTRE_91216)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: database error:")


def test_score_refresh_refuses_a_malformed_code(fresh_engine: Engine) -> None:
    """A scope that is no commune or département code is said, not scored as nothing."""
    for option, code in (("--commune", "abc'; drop"), ("--departement", "9Z")):
        result = foncier(fresh_engine, "score", "refresh", option, code)
        assert result.returncode == 1, result.stdout
        kind = option.removeprefix("--")
        assert result.stderr.strip() == f"error: {code!r} is not a {kind} code"
    fine = foncier(fresh_engine, "score", "refresh", "--commune", "2A004")
    assert fine.returncode == 0 and "scored 0 parcels" in fine.stdout, fine.stderr
