"""Test databases on a real PostGIS, as fixtures.

Once per run: a template database gets the migrations and the administrative
reference. Tests that write get a fresh clone of it (``fresh_engine``,
CREATE DATABASE … TEMPLATE takes ~0.1 s); read-only API tests share one clone
that also holds the 91216 cadastre (``api_client``). The helpers these fixtures use,
and tests import, are in tests/helpers/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db import migrate
from app.settings import Settings
from geo.ingest.admin import load_admin
from geo.ingest.cadastre import load_cadastre
from tests.helpers import (
    CADASTRE_91216,
    DATA,
    RUN_ID,
    UNHURRIED_COUNT_MS,
    Databases,
    engine_for,
    free_port,
    running_server,
)
from tests.helpers.order import seed_from_env, shuffled_by_module

SHUFFLE_SEED = seed_from_env()


def pytest_report_header() -> str | None:
    if SHUFFLE_SEED is None:
        return None
    return f"random order: FONCIER_TEST_SHUFFLE={SHUFFLE_SEED} replays it"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # a test that makes a throwaway cluster is a cluster test, marked or not
        if "throwaway_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
    if SHUFFLE_SEED is not None:
        items[:] = shuffled_by_module(items, lambda item: item.nodeid.split("::")[0], SHUFFLE_SEED)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    # Counting a search's matches gets all the time it needs: tests compare numberMatched
    # with counts of their own, and on a loaded machine the service's budget (300 ms) would
    # leave the count out now and then. The tests of the budget set their own.
    settings = Settings().model_copy(update={"count_budget_ms": UNHURRIED_COUNT_MS})
    if settings.uses_embedded_db:
        # `./dev test` has started it; starting again is a no-op, and lets a bare
        # `pytest` work too.
        from app.localdb.cluster import LocalCluster

        LocalCluster.from_settings(settings).start(echo=lambda _msg: None)
    return settings


@pytest.fixture(scope="session")
def databases(base_settings: Settings) -> Iterator[Databases]:
    dbs = Databases(base_settings)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def template_db(databases: Databases) -> str:
    """Name of the template: schema plus the administrative reference."""
    name = f"foncier_test_template_{RUN_ID}"
    url = databases.create(name)
    migrate(url=url)  # the first migration creates the postgis extension
    engine = engine_for(url)
    load_admin(engine, DATA / "admin")
    engine.dispose()
    return name


@pytest.fixture
def fresh_engine(databases: Databases, template_db: str) -> Iterator[Engine]:
    """A private clone of the template for a test that writes."""
    name = f"foncier_test_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    engine = engine_for(databases.create(name, template=template_db))
    yield engine
    engine.dispose()
    databases.drop(name)


@pytest.fixture(scope="session")
def demo_db_url(databases: Databases, template_db: str) -> str:
    """A shared clone holding the demo data (91216 cadastre); tests must not write to it."""
    url = databases.create(f"foncier_test_demo_{RUN_ID}", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def api_client(base_settings: Settings, demo_db_url: str) -> Iterator[TestClient]:
    from app.api.main import create_app

    settings = base_settings.model_copy(update={"database_url": demo_db_url})
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture(scope="session")
def scored_db_url(databases: Databases, template_db: str) -> str:
    """A clone with the 91216 cadastre scored, and the consumption data for trajectories
    (what the map shows); tests must not write to it."""
    from geo.ingest.consumption import load_consumption
    from geo.scoring.refresh import refresh_scores

    url = databases.create(f"foncier_test_scored_{RUN_ID}", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    load_consumption(engine, DATA / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv")
    refresh_scores(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def live_server(scored_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The scored demo base served by uvicorn (read-only: tests must not write)."""
    log = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    with running_server(scored_db_url, log) as base:
        yield base


@pytest.fixture
def throwaway_cluster(base_settings: Settings):
    """A second embedded PostGIS on a free port, to crash or stop without disturbing the
    test server (not started: the test starts it)."""
    import shutil
    import tempfile

    from app.localdb.cluster import LocalCluster

    if not base_settings.uses_embedded_db:
        pytest.skip("FONCIER_DATABASE_URL is set: the embedded PostGIS is not in use")
    # Under /var/tmp: the postgres user must be able to reach the directory.
    parent = Path(tempfile.mkdtemp(prefix="foncier-localdb-", dir="/var/tmp"))
    parent.chmod(0o755)
    cluster = LocalCluster(
        data_dir=parent / "pgdata",
        port=free_port(),
        bin_dir=base_settings.pg_bin_dir,
        db_name="foncier_localdb_test",
    )
    yield cluster
    if cluster.is_running():
        cluster.stop(echo=lambda _m: None)
    shutil.rmtree(parent, ignore_errors=True)
