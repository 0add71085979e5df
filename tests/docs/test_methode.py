"""docs/methode.md's worked examples, recomputed through the code.

Every ``<!-- check: … -->`` line of the method is one figure: the scenario it belongs to,
the territory and rule set, the field and the value the method states. The scenarios are
the method's "cas d'école": synthetic Cerema flows on real communes, plus the real
territorialisation of Hauts-de-France, a synthetic planning-document file and a
synthetic PENE list."""

from __future__ import annotations

import datetime
import importlib
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.api.main import create_app
from app.settings import PROJECT_DIR
from geo.errors import DomainError
from geo.ingest.cadastre import load_cadastre
from geo.ingest.consumption import load_consumption
from geo.ingest.ocsge import load_ocsge
from geo.ingest.zan_rules import (
    load_pene,
    load_pene_consumption,
    load_planning_documents,
    load_target_members,
    load_targets,
)
from geo.ledger.reports import balance
from geo.ledger.write import ProjectDraft, create_project
from geo.zan.artificialisation import net_artificialisation
from geo.zan.rulesets import get_ruleset
from geo.zan.trajectories import trajectory
from tests.helpers import CADASTRE_91216
from tests.helpers.ocsge import DELIVERY as OCSGE_DELIVERY
from tests.helpers.ocsge import epinay_outline
from tests.helpers.synthetic import cerema_consumption_csv, ocsge_artif_gpkg
from tests.helpers.zan import CAS_ECOLE, HDF_TARGETS, SACLAY, pene_list, pene_seen

METHOD = PROJECT_DIR / "docs" / "methode.md"
_CHECK = re.compile(r"<!-- check: (.+?) = (.+?) -->")


def checks() -> dict[str, list[tuple[str, str]]]:
    """Scenario -> [(what, expected)], in the method's order."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for what, expected in _CHECK.findall(METHOD.read_text(encoding="utf-8")):
        out[what.split()[0]].append((what, expected.strip()))
    return out


CHECKS = checks()


def test_the_method_states_checked_figures() -> None:
    assert sum(len(v) for v in CHECKS.values()) >= 35
    assert set(CHECKS) == {"constant", "ruleset", "refused", *SCENARIOS}


_DATES = "commune_insee;document;prescribed_on;arrete_on;approved_on\n"
# Synthetic planning-document files (Saclay, own allowance 0.3 ha): the RNU alone (in the
# earlier one-date format), a PLU prescribed in 2024 and approved after 22 August 2026, an
# RNU commune whose PLU was prescribed on 1 March 2025, one prescribed after the deadline.
PLANNING = {
    "documents": f"commune_insee;document;procedure_state;state_date\n{SACLAY};RNU;;\n",
    "garantie-plu": f"{_DATES}{SACLAY};PLU;2024-03-01;;2026-10-15\n",
    "garantie-rnu-prescrit": f"{_DATES}{SACLAY};RNU;;;\n{SACLAY};PLU;2025-03-01;;\n",
    "garantie-late": f"{_DATES}{SACLAY};RNU;;;\n{SACLAY};PLU;2026-09-01;;\n",
}
# Net artificialisation on the synthetic OCS GE of Épinay (data/ocsge): IGN's artif field,
# and the same polygons without it (the couverture × usage matrix).
OCSGE = ["ocsge", "ocsge-matrix"]
SCENARIOS = ["base", "cascade", "pene", "scot", *PLANNING, *OCSGE]


def scenario(engine: Engine, tmp_path: Path, name: str) -> None:
    load_consumption(engine, cerema_consumption_csv(tmp_path / "cas-ecole.csv", CAS_ECOLE))
    if name == "cascade":
        load_targets(engine, HDF_TARGETS)
    if name == "scot":
        # a synthetic SCoT of two real communes of the cas d'école, with a target of its own
        targets = tmp_path / "scot-SYNTHETIQUE.csv"
        targets.write_text(
            "land;parent;reduction_pct;document;regulatory;document_url;comment\n"
            "SCOT_SYNTH;REGION_32;60;SCoT synthétique;true;;synthetic\n",
            encoding="utf-8",
        )
        load_targets(engine, targets)
        perimeter = tmp_path / "scot-perimetre-SYNTHETIQUE.csv"
        perimeter.write_text(
            "land;commune_insee;land_name\n"
            "SCOT_SYNTH;60542;SCoT synthétique\nSCOT_SYNTH;60612;SCoT synthétique\n",
            encoding="utf-8",
        )
        load_target_members(engine, perimeter)
    if name in PLANNING:
        docs = tmp_path / f"{name}-SYNTHETIQUE.csv"
        docs.write_text(PLANNING[name], encoding="utf-8")
        load_planning_documents(engine, docs)
    if name == "pene":
        load_pene(engine, pene_list(tmp_path, 1.5))
        load_pene_consumption(engine, pene_seen(tmp_path))
    if name == "ocsge":
        for path in OCSGE_DELIVERY.values():
            load_ocsge(engine, path)
    if name == "ocsge-matrix":
        outline = epinay_outline(engine)
        for m in OCSGE_DELIVERY:
            path = tmp_path / f"OCS-GE_OCCUPATION_SOL_SYNTHETIQUE_D091_{m}-01-01.gpkg"
            load_ocsge(engine, ocsge_artif_gpkg(path, m, outline, with_artif=False))


def _field(value: Any, field: str) -> Any:
    """``value``'s ``a.0.b`` (list items by their index)."""
    for key in field.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def actual(engine: Engine, what: str) -> Any:
    words = what.split()
    with engine.connect() as conn:
        if words[1] == "envelope":
            _, _, rule_id, field = words
            return getattr(balance(conn, get_ruleset(rule_id, kind="envelope")), field)
        scenario_name, level, code, rule_id, field = words
        if scenario_name in OCSGE:
            return _field(net_artificialisation(conn, level, code), field)
        value: Any = trajectory(conn, level, code, get_ruleset(rule_id, kind="zan"))
    return _field(value, field)


def through_the_api(client: TestClient, what: str) -> Any:
    """The same figure as ``actual``, read from the HTTP answer a prefecture would get."""
    words = what.split()
    if words[1] == "envelope":
        _, _, rule_id, field = words
        answer = client.get("/envelope", params={"ruleset": rule_id})
        assert answer.status_code == 200, answer.text
        return answer.json()["national"][field]
    scenario_name, level, code, rule_id, field = words
    if scenario_name in OCSGE:
        answer = client.get(f"/trajectories/{level}/{code}/net-artificialisation")
    else:
        answer = client.get(f"/trajectories/{level}/{code}", params={"ruleset": rule_id})
    assert answer.status_code == 200, answer.text
    return _field(answer.json(), field)


def same(value: Any, expected: str) -> bool:
    if expected in ("True", "False"):
        return value is (expected == "True")
    try:
        return value == pytest.approx(float(expected), abs=1e-4)
    except ValueError:
        return str(value) == expected


@pytest.mark.parametrize("name", SCENARIOS)
def test_worked_examples(fresh_engine: Engine, tmp_path: Path, name: str) -> None:
    scenario(fresh_engine, tmp_path, name)
    wrong = [
        f"{what}: the method says {expected}, the code gives {got!r}"
        for what, expected in CHECKS[name]
        if not same(got := actual(fresh_engine, what), expected)
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", SCENARIOS)
def test_worked_examples_through_the_api(
    fresh_engine: Engine, base_settings: Any, tmp_path: Path, name: str
) -> None:
    """/trajectories/region/32, CC Senlis Sud Oise (from the cascade), Saclay without a
    planning document (RNU), Massy hosting a PENE, Épinay (Île-de-France), Ajaccio
    (Corsica) and the PENE envelope answer the method's figures over HTTP, and name the
    sources of their target and data."""
    scenario(fresh_engine, tmp_path, name)
    settings = base_settings.model_copy(
        update={"database_url": fresh_engine.url.render_as_string(hide_password=False)}
    )
    app = create_app(settings)
    with TestClient(app) as client:
        wrong = [
            f"{what}: the method says {expected}, the API gives {got!r}"
            for what, expected in CHECKS[name]
            if not same(got := through_the_api(client, what), expected)
        ]
        sample = client.get("/trajectories/commune/91216").json()
        envelope = client.get("/envelope", params={"ruleset": "pene-2021-2031"}).json()
    app.state.engine.dispose()
    assert not wrong, "\n".join(wrong)
    assert sample["target"]["source"] and sample["data"]["source"].startswith("Cerema")
    assert sample["ruleset"]["sources"] and envelope["ruleset"]["sources"]
    assert set(envelope["ruleset"]["envelope_shares"]) == {"sraddet-regions", "idf-corse-outre-mer"}


def test_constants() -> None:
    for what, expected in CHECKS["constant"]:
        module, _, name = what.split()[1].rpartition(".")
        assert same(getattr(importlib.import_module(module), name), expected), what


def test_rule_sets_as_stated() -> None:
    """Each rule set's legal standing and parameters, as the method states them (and as
    /rulesets answers them: the same model)."""
    for what, expected in CHECKS["ruleset"]:
        _, rule_id, field = what.split()
        value: Any = get_ruleset(rule_id, kind="zan" if rule_id.startswith("zan") else "envelope")
        value = value.model_dump(mode="json")
        for key in field.split("."):
            value = value[key]
        assert same(value, expected), f"{what}: the method says {expected}, the rules {value!r}"


def _refused(engine: Engine, tmp_path: Path, case: str) -> str:
    """The domain error a ledger write of ``case`` meets (its class name), or "accepted"."""
    industrial = get_ruleset("industrial-envelope-2025", kind="envelope")
    draft: dict[str, Any] = {
        "name": "Usine (synthetic)",
        "kind": "industrial",
        "epci_siren": "200056232",
        "parcel_ids": ["91216000AB0037"],
        "occurred_on": datetime.date(2025, 6, 2),
    }
    if case == "double-draw":
        load_pene(engine, pene_list(tmp_path, 1.5))
        draft["pene_id"] = "T1"
    elif case == "commercial":
        draft["kind"] = "commercial"
    elif case == "before-opening":
        draft["occurred_on"] = datetime.date(2025, 5, 26)
    try:
        with engine.begin() as conn:
            create_project(conn, ProjectDraft(**draft), ruleset=industrial, author="method")
    except DomainError as exc:
        return type(exc).__name__
    return "accepted"


def test_refused_writes(fresh_engine: Engine, tmp_path: Path) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    for what, expected in CHECKS["refused"]:
        got = _refused(fresh_engine, tmp_path, what.split()[1])
        assert got == expected, f"{what}: the method says {expected}, the ledger {got}"
