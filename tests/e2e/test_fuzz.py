"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis).

The service runs under uvicorn on its own database (the demo cadastre, scored), with an
administrator token so that writes go past authentication. Schemathesis's own runner drives
it, with every check it has (``--checks all``: no 5xx; status codes, content types, headers
and bodies as documented; schema-valid requests accepted and invalid ones rejected; 405s
with their Allow header; resources created by POST /projects readable after), through all
its phases: the documented examples, boundary values (coverage), random requests (fuzzing,
NUL characters included) and a stateful phase that chains the ledger's operations through
the links it infers (a project created, then read, its status changed, corrected).

In the test suite: a bounded run. ``./dev fuzz`` runs the deeper one (FUZZ_EXAMPLES and
FUZZ_MAX_SECONDS below, from the environment), with the same checks. Both print the counts
and the server's peak memory (VmHWM), and fail on any failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import PROJECT_DIR
from geo.ingest.cadastre import load_cadastre
from geo.scoring.refresh import refresh_scores
from tests.helpers import CADASTRE_91216, RUN_ID, SERVERS, Databases, engine_for, running_server

pytestmark = pytest.mark.fuzz

TOKEN = "fuzz-admin-token-0123456789"
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Examples per operation and time budget of the whole run (the stateful phase repeats
# until the time is spent); ./dev fuzz raises both.
FUZZ_EXAMPLES = int(os.environ.get("FONCIER_FUZZ_EXAMPLES", "60"))
FUZZ_MAX_SECONDS = int(os.environ.get("FONCIER_FUZZ_MAX_SECONDS", "150"))
# The server's resident memory must stay bounded through the run.
MAX_RSS_MB = 600


@pytest.fixture(scope="module")
def fuzz_server(databases: Databases, template_db: str, tmp_path_factory) -> Iterator[str]:
    url = databases.create(f"foncier_test_fuzz_{RUN_ID}", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    refresh_scores(engine)
    engine.dispose()
    log = tmp_path_factory.mktemp("fuzz") / "uvicorn.log"
    with running_server(url, log, FONCIER_ADMIN_TOKEN=TOKEN) as base:
        yield base


OUTPUT = PROJECT_DIR / "tests" / "output"


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kb) / 1024


def test_api_conforms_and_never_fails(fuzz_server: str, tmp_path: Path) -> None:
    """Counts, failures and peak memory are printed (pytest -s, or ./dev fuzz)."""
    report = tmp_path / "report.json"
    command = [
        *(sys.executable, "-m", "schemathesis.cli"),
        *("--config-file", str(CONFIG), "run", f"{fuzz_server}/openapi.json"),
        *("--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"),
        *("--max-examples", str(FUZZ_EXAMPLES), "--max-time", str(FUZZ_MAX_SECONDS)),
        *("--seed", "20261123", "--workers", "1", "--generation-allow-x00", "true"),
        *("--header", f"Authorization: Bearer {TOKEN}", "--request-timeout", "30"),
        *("--report", "json", "--report-json-path", str(report), "--no-color"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=FUZZ_MAX_SECONDS + 600)
    rss = peak_rss_mb(SERVERS[fuzz_server].pid)
    assert report.exists(), f"{run.stdout[-5000:]}\n{run.stderr[-3000:]}"
    data = json.loads(report.read_text())
    found = {(f["code"], op) for f in data["failures"] for op in f["operations"]}
    cases = data["test_cases"]
    print(
        f"\nschemathesis {' '.join(command[4:-4]).replace(TOKEN, '…')}\n"
        f"{data['operations']['tested']} operations, {cases['generated']} test cases in "
        f"{data['running_time']:.0f} s, {cases['unique_failures']} unique failures, "
        f"{len(data['errors'])} errors; server peak RSS {rss:.0f} MB"
    )
    # the whole report, every failure with its curl reproduction, kept for reading
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "schemathesis.txt").write_text(run.stdout)
    assert not found and not data["errors"], (
        f"{sorted(found)}: see tests/output/schemathesis.txt\n{run.stdout[-5000:]}"
    )
    assert data["operations"]["tested"] >= 28 and cases["generated"] > 1000
    assert rss < MAX_RSS_MB, f"the server grew to {rss:.0f} MB"


if __name__ == "__main__":  # pragma: no cover - ./dev fuzz goes through pytest
    raise SystemExit(pytest.main([__file__, "-s", "-p", "no:cacheprovider"]))
