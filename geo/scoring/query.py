"""A parcel search and a candidate-site search as requests: the one definition of what each
may ask, read by the API's query parameters, a saved search's body and the alerts' re-run.

Each model states what a value alone may be (types, ranges, code formats, the lists of
land-use states and owner groups), so that the OpenAPI document says it; ``filters()``
checks what values say together (a box's corners, min_area below max_area, a territory
where one is required) and gives the domain's ``Filters``, raising Invalid otherwise.

Query parameters arrive as text; a saved search's body is JSON and is read strictly
(``ParcelSearchBody``): "1" is not a number there, an unknown member is refused.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from geo.db.bbox import BBox
from geo.errors import Invalid
from geo.land.buildings import STATES as LAND_USE_STATES
from geo.land.owners import GROUPS as OWNER_GROUPS
from geo.land.zoning import CLASSES as ZONING_CLASSES
from geo.scoring.profiles import load_profiles
from geo.scoring.search import LAND_COVERS, RISK_KINDS, Filters
from geo.scoring.sites import MAX_GAP_M, MAX_SITE_AREA_HA
from geo.territories import LEVELS
from geo.text import Digits, number_text

# the members that name a territory; a search over all of France has none
TERRITORY_KEYS = ("commune", "epci", "territoire_industrie", "departement", "bbox")
# the members that are codes of a level of geo.territories
CODE_KEYS = ("commune", "epci", "territoire_industrie", "departement")

_NUMBER = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"


def _bbox_numbers(value: Any) -> Any:
    """A box written ``minLon,minLat,maxLon,maxLat`` (a query parameter) as its list of
    numbers; a list (JSON) as it is."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        try:
            return [number_text(v) for v in value[0].split(",")]
        except ValueError:
            raise ValueError("bbox must be four numbers separated by commas") from None
    return value


BBoxMember = Annotated[
    list[Annotated[float, Field(allow_inf_nan=False)]],
    BeforeValidator(_bbox_numbers),
    Field(min_length=4, max_length=4),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": f"^{_NUMBER}(?:,{_NUMBER}){{3}}$"},
                {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            ],
            "description": "WGS84 longitude/latitude box: minLon,minLat,maxLon,maxLat "
            "(a JSON body may give it as an array of four numbers)",
            "examples": ["2.30,48.67,2.33,48.69"],
        }
    ),
]


def _choices(name: str, allowed: tuple[str, ...], doc: str, example: str) -> Any:
    """A comma-separated list of ``allowed`` values, stated as a pattern in the schema."""
    one = "(?:" + "|".join(allowed) + ")"
    return Field(
        pattern=f"^{one}(?:,{one})*$",
        max_length=400,
        description=f"{doc}, comma-separated: {', '.join(allowed)}",
        examples=[example],
    )


def _code(level: str) -> Any:
    return Field(pattern=LEVELS[level].pattern)


# Literal[tuple] is Literal of its items: the domain's lists, documented as enums.
ZoningClass = Literal[ZONING_CLASSES]  # type: ignore[valid-type]
_Profiles = Literal[tuple(sorted(load_profiles()))]  # type: ignore[valid-type]
ProfileId = Annotated[
    _Profiles,  # type: ignore[valid-type]
    Field(description="Scoring profile (default: small-industry); /profiles describes them"),
]
Hectares = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False, description="hectares")]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class SearchArea(BaseModel):
    """Where to search, and the least score: what parcel and site searches share."""

    # A query string carries more parameters than the search (paging, format, weights):
    # they are the route's; a saved search's body refuses them (the *Body models).
    model_config = ConfigDict(extra="ignore")

    commune: Annotated[str | None, _code("commune")] = None
    epci: Annotated[str | None, _code("epci")] = None
    territoire_industrie: Annotated[str | None, _code("territoire_industrie")] = None
    departement: Annotated[str | None, _code("departement")] = None
    bbox: BBoxMember | None = None
    min_score: Score | None = None
    profile: ProfileId | None = None

    # whether a territory must be given (a candidate-site search of all France never ends)
    territory_required: ClassVar[bool] = False

    def box(self) -> BBox | None:
        """The box, Invalid unless its corners are in range and in order."""
        if self.bbox is None:
            return None
        min_lon, min_lat, max_lon, max_lat = self.bbox
        if not all(math.isfinite(v) for v in self.bbox):
            raise Invalid("bbox must be finite numbers")
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
            raise Invalid("bbox is out of longitude/latitude range: is it in WGS84, lon first?")
        if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            raise Invalid("bbox is out of longitude/latitude range: is it in WGS84, lon first?")
        if not (min_lon < max_lon and min_lat < max_lat):
            raise Invalid("bbox minimum must be below its maximum (minLon,minLat,maxLon,maxLat)")
        return (min_lon, min_lat, max_lon, max_lat)

    def has_territory(self) -> bool:
        return any(getattr(self, key) for key in TERRITORY_KEYS)

    def _area(self) -> dict[str, Any]:
        if self.territory_required and not self.has_territory():
            raise Invalid(
                "give a territory (commune, epci, territoire_industrie, departement or bbox)"
            )
        return {
            "commune": self.commune,
            "epci": self.epci,
            "territoire_industrie": self.territoire_industrie,
            "departement": self.departement,
            "bbox": self.box(),
            "min_score": self.min_score,
        }

    def filters(self) -> Filters:
        """The domain's filter; Invalid when the values contradict each other."""
        return Filters(**self._area())

    def stored(self) -> dict[str, Any]:
        """The search as a saved search keeps it: the members given, nothing by default."""
        return self.model_dump(exclude_none=True, exclude_defaults=True)


class ParcelSearch(SearchArea):
    """The filters of /parcels/search."""

    min_area: Hectares | None = None
    max_area: Hectares | None = None
    zoning: ZoningClass | None = None
    exclude_zoning: Annotated[
        ZoningClass | None,
        Field(description="drop this zoning class (parcels of unknown zoning are kept)"),
    ] = None
    on_friche: bool | None = None
    include_excluded: bool = False
    max_built_share: Annotated[
        float | None,
        Field(
            ge=0,
            le=1,
            allow_inf_nan=False,
            description="largest built share (building footprint / parcel area)",
        ),
    ] = None
    land_use: Annotated[
        str | None,
        _choices(
            "land_use",
            LAND_USE_STATES,
            "Land-use states (parcels whose commune has no building layer never match)",
            "vacant,underused",
        ),
    ] = None
    owner: Annotated[
        str | None,
        _choices(
            "owner",
            OWNER_GROUPS,
            "Owner groups (parcels whose commune has no owner file never match)",
            "commune,epci,etablissement_public",
        ),
    ] = None
    exclude_risk: Annotated[
        str | None,
        _choices(
            "exclude_risk",
            tuple(RISK_KINDS),
            "Drop parcels in a risk plan's (PPR, PPRT) zones of these kinds, over 1 % of the "
            "parcel (parcels outside every loaded plan are kept: their risk is unknown)",
            "interdiction",
        ),
    ] = None
    land_cover: Annotated[
        str | None,
        _choices(
            "land_cover",
            tuple(LAND_COVERS),
            "Keep NAF land (more than half of the parcel would count as NAF consumption) or "
            "already artificialised land (friche or artificialised: half or less)",
            "artificialised",
        ),
    ] = None

    def filters(self) -> Filters:
        if (
            self.min_area is not None
            and self.max_area is not None
            and self.min_area > self.max_area
        ):
            raise Invalid("min_area must not exceed max_area")
        members = {_FILTER_NAMES.get(name, name): getattr(self, name) for name in _PARCEL_ONLY}
        return Filters(
            **self._area(),
            **members,
            land_use=_listed(self.land_use),
            owner=_listed(self.owner),
            exclude_risk=_listed(self.exclude_risk),
            land_cover=_listed(self.land_cover),
        )


# The members of a parcel search that fill a Filters field as they are, and the fields'
# names where they differ.
_PARCEL_ONLY = (
    "min_area",
    "max_area",
    "zoning",
    "exclude_zoning",
    "on_friche",
    "include_excluded",
    "max_built_share",
)
_FILTER_NAMES = {"min_area": "min_area_ha", "max_area": "max_area_ha"}


class SiteSearch(SearchArea):
    """The parameters of /sites/search: contiguous eligible parcels reaching a size."""

    territory_required: ClassVar[bool] = True

    min_area: Annotated[
        float,
        Field(
            gt=0,
            le=MAX_SITE_AREA_HA,
            allow_inf_nan=False,
            description="hectares the site must reach",
        ),
    ]
    gap: Annotated[
        float,
        Field(
            ge=0, le=MAX_GAP_M, allow_inf_nan=False, description="metres between parcels of a site"
        ),
    ] = 0
    limit: Annotated[
        int, Field(ge=1, le=200, description="number of sites, best first"), Digits
    ] = 20


def _listed(value: str | None) -> tuple[str, ...]:
    """A checked comma-separated list, each value once, in order."""
    return () if value is None else tuple(dict.fromkeys(value.split(",")))


# The same searches read from JSON (a saved search): no text for a number, no unknown member.
_JSON = ConfigDict(extra="forbid", strict=True)


class ParcelSearchBody(ParcelSearch):
    """The filters of /parcels/search, as JSON."""

    model_config = _JSON


class SiteSearchBody(SiteSearch):
    """The parameters of /sites/search, as JSON."""

    model_config = _JSON


# A saved search's kinds, and the search each runs.
SEARCHES: dict[str, type[SearchArea]] = {"parcels": ParcelSearchBody, "sites": SiteSearchBody}
