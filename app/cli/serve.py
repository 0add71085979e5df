"""``foncier serve``: the API under uvicorn."""

from __future__ import annotations

import click

from app.cli.base import fail, main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int, envvar="FONCIER_PORT")
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with uvicorn (OpenAPI docs at /docs); the port also from FONCIER_PORT."""
    import uvicorn

    from app.localdb.ports import PortBusy, check_port

    try:
        check_port(port, "FONCIER_PORT", host)
    except PortBusy as exc:
        fail(str(exc))
    uvicorn.run("app.api.main:app", host=host, port=port, workers=workers)
