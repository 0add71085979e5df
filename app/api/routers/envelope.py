"""The envelope reports: consumed, reserved and remaining hectares, and the rule sets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from app.api.dependencies import EnvelopeRulesetQuery, ReadConnectionDep
from app.presentation import charts
from app.presentation.tables import envelope_csv
from geo.ledger.dashboard import territoires_industrie
from geo.ledger.reports import GROUPS, envelope_report
from geo.zan.rulesets import get_ruleset, load_rulesets

router = APIRouter(tags=["envelope"])

GroupBy = Literal[tuple(GROUPS)]  # type: ignore[valid-type]


@router.get("/rulesets", summary="The rule sets: ZAN trajectories, envelopes, what-ifs")
def list_rulesets() -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in load_rulesets().values()]


@router.get(
    "/envelope",
    summary="Consumed, reserved and remaining hectares; by territory, monthly, projected",
    responses={
        200: {
            "description": "The report as JSON, or its groups as CSV with format=csv",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def get_envelope(
    conn: ReadConnectionDep,
    ruleset: EnvelopeRulesetQuery = None,
    group_by: Annotated[
        GroupBy | None,  # type: ignore[valid-type]
        Query(description="Break the figures down by this territory level"),
    ] = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="json: the whole report; csv: its groups")
    ] = "json",
) -> Any:
    rules = get_ruleset(ruleset, kind="envelope")
    report = envelope_report(conn, rules, group_by)
    if format == "json":
        return report
    return Response(
        envelope_csv(report, group_by),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="envelope-{rules.id}.csv"'},
    )


@router.get(
    "/envelope/chart.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="Burn-down of the envelope with its projection",
)
def get_envelope_chart(conn: ReadConnectionDep, ruleset: EnvelopeRulesetQuery = None) -> Response:
    report = envelope_report(conn, get_ruleset(ruleset, kind="envelope"))
    return Response(charts.envelope_burndown(report), media_type="image/png")


@router.get(
    "/envelope/territoires-industrie",
    summary="Every Territoire d'industrie (0 ha where nothing is drawn) and by région, with "
    "the envelope's legal standing",
)
def get_envelope_territoires_industrie(
    conn: ReadConnectionDep, ruleset: EnvelopeRulesetQuery = None
) -> dict[str, Any]:
    return territoires_industrie(conn, get_ruleset(ruleset, kind="envelope"))
