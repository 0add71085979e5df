"""What the browser tests share: the page's database (built like the scored demo), the
basemap host stubbed on loopback, and the service serving both."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator

import pytest

from geo.ingest.cadastre import load_cadastre
from tests.helpers import (
    CADASTRE_91216,
    DATA,
    DEMO_COMMUNE,
    Databases,
    engine_for,
    running_server,
)
from tests.helpers.servers import QuietHandler, QuietHTTPServer


@pytest.fixture(scope="module")
def page_db(databases: Databases, template_db: str) -> str:
    from geo.ingest.consumption import load_consumption
    from geo.scoring.refresh import refresh_scores

    url = databases.create(f"{template_db}_page", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    if DEMO_COMMUNE != "91216":  # the commune the flow finds, and its parcels
        load_cadastre(engine, next((DATA / "cadastre").glob(f"cadastre-{DEMO_COMMUNE}-*")))
    load_consumption(engine, DATA / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv")
    refresh_scores(engine)
    engine.dispose()
    return url


def _tile(colour: str, line: str) -> bytes:
    """A 256 px PNG tile: a plain colour crossed by a grid, as a basemap would be."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (256, 256), colour)
    draw = ImageDraw.Draw(image)
    for at in range(0, 256, 64):
        draw.line([(at, 0), (at, 255)], fill=line, width=2)
        draw.line([(0, at), (255, at)], fill=line, width=2)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def basemap_stub() -> Iterator[tuple[str, Counter]]:
    """The basemap host, on loopback: any /plan/… or /aerial/… path answers a tile (with
    CORS, as the Géoplateforme does); the requests are counted by kind."""
    tiles = {"plan": _tile("#f2efe6", "#c9c1ad"), "aerial": _tile("#5b6b45", "#3d4a2c")}
    served: Counter = Counter()

    class Tiles(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            kind = self.path.strip("/").split("/")[0]
            if kind not in tiles:
                self.send_error(404)
                return
            served[kind] += 1
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(tiles[kind])))
            self.end_headers()
            self.wfile.write(tiles[kind])

    server = QuietHTTPServer(Tiles).start()
    yield f"http://127.0.0.1:{server.port}", served
    server.stop()


@pytest.fixture(scope="module")
def page_server(
    page_db: str, basemap_stub: tuple[str, Counter], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # the site search's time budget (3 s) is for one request on an idle server; the test
    # shares two cores with other runs
    log = tmp_path_factory.mktemp("page") / "uvicorn.log"
    stub, _ = basemap_stub
    with running_server(
        page_db,
        log,
        FONCIER_SITE_SEARCH_SECONDS="30",
        FONCIER_BASEMAP_URL=f"{stub}/plan/{{z}}/{{x}}/{{y}}.png",
        FONCIER_BASEMAP_AERIAL_URL=f"{stub}/aerial/{{z}}/{{x}}/{{y}}.png",
        FONCIER_BASEMAP_ATTRIBUTION="© IGN – Géoplateforme (tuiles de test)",
    ) as base:
        yield base
