"""Scoring profiles: named weight sets, as data (``profiles/*.toml``), validated on load."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

from geo.errors import Invalid
from geo.land.buildings import DEFAULT_UNDERUSED_SHARE
from geo.registry import check_id, read_registry
from geo.scoring.model import BY_NAME, Profile

PROFILES_DIR = Path(__file__).parent / "profiles"
ALLOWED_WEIGHTS = (0.5, 1.0, 2.0)
CRITERIA_NAMES = (*BY_NAME, "size_fit")
DEFAULT_PROFILE = "small-industry"


class ProfileError(Invalid):
    """A profile file or a profile given in a request that cannot be used."""


def validate(
    profile_id: str,
    name: str,
    weights: dict[str, float],
    size_min_ha: float | None = None,
    size_max_ha: float | None = None,
    underused_built_share: float = DEFAULT_UNDERUSED_SHARE,
) -> Profile:
    # The id names SQL columns (geo.scoring.model): checked before anything else.
    check_id(profile_id, ProfileError)
    unknown = sorted(set(weights) - set(CRITERIA_NAMES))
    if unknown:
        raise ProfileError(
            f"{profile_id}: unknown criteria {', '.join(unknown)} "
            f"(known: {', '.join(CRITERIA_NAMES)})"
        )
    # numbers only: a string, a list, null or a boolean (JSON true is not 1) is refused
    bad = {
        k: v
        for k, v in weights.items()
        if isinstance(v, bool) or not isinstance(v, int | float) or float(v) not in ALLOWED_WEIGHTS
    }
    if bad:
        raise ProfileError(f"{profile_id}: weights must be 0.5, 1 or 2, not {bad}")
    if not weights:
        raise ProfileError(f"{profile_id}: no criterion weighted")
    if size_min_ha is not None and size_max_ha is not None and size_min_ha > size_max_ha:
        raise ProfileError(f"{profile_id}: size_min_ha is above size_max_ha")
    if (
        isinstance(underused_built_share, bool)
        or not isinstance(underused_built_share, int | float)
        or not 0 <= underused_built_share <= 1
    ):
        raise ProfileError(f"{profile_id}: underused_built_share must be a share between 0 and 1")
    return Profile(
        profile_id,
        name,
        {k: float(v) for k, v in weights.items()},
        size_min_ha,
        size_max_ha,
        float(underused_built_share),
    )


def custom_profile(base: Profile, weights: dict[str, float]) -> Profile:
    """``base`` with the weights a request gives instead of its own (its size and
    land-use settings kept): scored on the fly, never stored."""
    checked = validate(
        "custom",
        f"custom weights on {base.id}",
        weights,
        base.size_min_ha,
        base.size_max_ha,
        base.underused_built_share,
    )
    return dataclasses.replace(checked, custom=True)


@lru_cache
def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, Profile]:
    return {
        profile_id: validate(
            profile_id,
            data.get("name", profile_id),
            data.get("weights", {}),
            data.get("size_min_ha"),
            data.get("size_max_ha"),
            data.get("underused_built_share", DEFAULT_UNDERUSED_SHARE),
        )
        for profile_id, data in read_registry(directory, ProfileError).items()
    }


def get_profile(profile_id: str | None) -> Profile:
    profiles = load_profiles()
    profile_id = DEFAULT_PROFILE if profile_id is None else profile_id  # "" is no profile id
    if profile_id not in profiles:
        raise ProfileError(f"unknown profile {profile_id!r} (known: {', '.join(sorted(profiles))})")
    return profiles[profile_id]
