"""One loader registry (geo.ingest.loaders): the command line, sync and the demo name the
same loaders, older names still answer."""

from __future__ import annotations

from click.testing import CliRunner

from app.cli import main
from app.services.demo import demo_steps
from geo.ingest.catalogue import load_catalogue
from geo.ingest.loaders import BY_NAME, LOADERS, loader
from geo.ingest.sync import loader_for
from tests.helpers import DATA


def test_every_name_of_a_loader_is_a_command_and_a_sync_loader() -> None:
    commands = main.commands["import"].commands  # type: ignore[attr-defined]
    for name, registered in BY_NAME.items():
        assert name in commands, name
        assert loader_for(name)[0] is registered.function
    # the command line's French names are older names of sync's
    assert loader("proprietaires") is loader("owners")
    assert loader("batiments") is loader("bdtopo") is loader("buildings")
    assert len({name for registered in LOADERS for name in registered.names}) == len(BY_NAME)


def test_the_catalogue_and_the_demo_name_registered_loaders() -> None:
    known = {s.loader for s in load_catalogue().values() if loader(s.loader) is not None}
    assert {"admin", "cadastre", "buildings", "owners", "plu", "friches"} <= known
    functions = {registered.function for registered in LOADERS}
    assert all(load in functions for _, load in demo_steps(DATA))


def test_a_command_says_its_accepted_formats() -> None:
    answer = CliRunner().invoke(main, ["import", "owners", "--help"])
    # the owners' file as the DGFiP publishes it, a zip of a département's parts, or one part
    assert answer.exit_code == 0 and "Accepted: CSV, zip of CSV." in answer.output
    older = CliRunner().invoke(main, ["import", "proprietaires", "--help"])
    assert older.exit_code == 0 and "import owners" in older.output


def test_the_pene_consumption_loader_takes_one_file() -> None:
    from geo.ingest.zan_rules import load_pene_consumption

    registered = loader("pene-consumption")
    assert registered is not None and registered.function is load_pene_consumption
    assert registered.one_file
    answer = CliRunner().invoke(main, ["import", "pene-consumption", "--help"])
    assert answer.exit_code == 0 and "Usage: main import pene-consumption [OPTIONS] FILE\n" in (
        answer.output
    )
