"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis).

Every operation gets a bounded number of generated requests, valid and invalid, against
the service under uvicorn on its own database, with an administrator token so that writes
go past authentication. Checked: never a 5xx, and every response conforms to the schema
(status code documented, content type and body as declared).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from geo.loaders.cadastre import load_cadastre
from tests.conftest import CADASTRE_91216, RUN_ID, Databases, engine_for, running_server

TOKEN = "fuzz-admin-token-0123456789"
MAX_EXAMPLES = 40
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(databases: Databases, template_db: str, tmp_path_factory) -> Iterator[str]:
    url = databases.create(f"foncier_test_fuzz_{RUN_ID}", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    engine.dispose()
    log = tmp_path_factory.mktemp("fuzz") / "uvicorn.log"
    with running_server(url, log, FONCIER_ADMIN_TOKEN=TOKEN) as base:
        yield base


def fuzz(operation, calls: dict[str, int]):
    """A Hypothesis test of one operation, counting the requests it sends."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case) -> None:
        calls[operation.label] += 1
        case.call_and_validate(
            headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS, timeout=30
        )

    return run


def test_api_conforms_and_never_fails(fuzz_server: str) -> None:
    """One Hypothesis run per operation; the counts are printed (pytest -s to see them)."""
    api = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    calls: dict[str, int] = {}
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()
        calls[operation.label] = 0
        try:
            fuzz(operation, calls)()
        except (Exception, BaseExceptionGroup) as exc:  # gathered, reported below
            failures.append(f"{operation.label}: {exc}")
    total = sum(calls.values())
    print(f"\nschemathesis: {len(calls)} operations, {total} requests, {len(failures)} failing")
    for label, n in sorted(calls.items()):
        print(f"  {n:>4}  {label}")
    assert not failures, "\n\n".join(failures)
    # operations without parameters have few distinct requests to generate
    assert len(calls) >= 28 and total > 10 * len(calls)
