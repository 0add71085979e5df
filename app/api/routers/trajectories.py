"""ZAN trajectories of territories."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import Connection

from app.api.dependencies import Digits, ReadConnectionDep
from app.presentation import charts
from geo.zan.artificialisation import net_artificialisation
from geo.zan.dossier import trajectory_dossier
from geo.zan.figures import yearly_consumption
from geo.zan.rulesets import RuleSet, get_ruleset
from geo.zan.targets import ZAN_LEVEL_NAMES
from geo.zan.trajectories import trajectory

router = APIRouter(prefix="/trajectories", tags=["ZAN"])

# Literal[tuple] is Literal of its items: the domain's list, documented as an enum.
Level = Literal[ZAN_LEVEL_NAMES]  # type: ignore[valid-type]
Code = Annotated[
    str,
    Path(
        min_length=2,
        max_length=20,
        pattern=r"^[0-9A-Za-z_-]+$",
        description="The territory's code (INSEE, SIREN, département, région, TI id, SCoT "
        "code of its imported perimeter)",
        examples=["200056232"],
    ),
]
RulesetQuery = Annotated[
    str | None, Query(description="ZAN rule set id (default: the one marked default)")
]
VintageQuery = Annotated[
    int | None, Query(ge=2000, le=2100, description="Cerema vintage (default: latest)"), Digits
]


class Territory(NamedTuple):
    level: str
    code: str


def territory_path(level: Level, code: Code) -> Territory:
    """The territory a route names in its path: every route of this router starts there."""
    return Territory(level, code)


TerritoryDep = Annotated[Territory, Depends(territory_path)]


class TrajectoryAsked(NamedTuple):
    """What a route of this router reads: a territory, under a rule set, at a vintage."""

    conn: Connection
    level: str
    code: str
    ruleset: RuleSet
    vintage: int | None


def trajectory_asked(
    territory: TerritoryDep,
    conn: ReadConnectionDep,
    ruleset: RulesetQuery = None,
    vintage: VintageQuery = None,
) -> TrajectoryAsked:
    """The territory's rule set and vintage: the trajectory, dossier and chart routes
    start there."""
    return TrajectoryAsked(conn, *territory, get_ruleset(ruleset, kind="zan"), vintage)


AskedDep = Annotated[TrajectoryAsked, Depends(trajectory_asked)]


def trajectory_query(asked: AskedDep) -> dict[str, Any]:
    """The territory's trajectory: the trajectory and chart routes read it."""
    return trajectory(*asked)


TrajectoryDep = Annotated[dict[str, Any], Depends(trajectory_query)]


@router.get(
    "/{level}/{code}",
    summary="Reference, allowance, consumption, pace, projection and status of a territory",
)
def get_trajectory(found: TrajectoryDep) -> dict[str, Any]:
    return found


@router.get(
    "/{level}/{code}/dossier",
    summary="The trajectory with its reference period, source (dataset, vintage, synthetic), "
    "legal basis, parents and the status of each member commune",
)
def get_trajectory_dossier(asked: AskedDep) -> dict[str, Any]:
    return trajectory_dossier(*asked)


@router.get(
    "/{level}/{code}/chart.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="The territory's trajectory as a chart",
)
def get_trajectory_chart(found: TrajectoryDep, conn: ReadConnectionDep) -> Response:
    # the flows year by year of the territory and vintage the trajectory was computed for
    territory, vintage = found["territory"], found["data"]["vintage"]
    yearly = yearly_consumption(conn, territory["level"], territory["code"], vintage)
    return Response(charts.trajectory_chart(found, yearly), media_type="image/png")


FromQuery = Annotated[
    int | None,
    Query(alias="from", ge=2000, le=2100, description="Earlier OCS GE millésime"),
    Digits,
]
ToQuery = Annotated[
    int | None, Query(ge=2000, le=2100, description="Later OCS GE millésime"), Digits
]


@router.get(
    "/{level}/{code}/net-artificialisation",
    summary="Net artificialisation measured on IGN's OCS GE between two millésimes "
    "(the ZAN unit from 2031; no 2031-2041 target is loaded)",
)
def get_net_artificialisation(
    territory: TerritoryDep, conn: ReadConnectionDep, from_: FromQuery = None, to: ToQuery = None
) -> dict[str, Any]:
    return net_artificialisation(conn, *territory, from_, to)
