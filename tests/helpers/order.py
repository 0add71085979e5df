"""The tests in a random order, on request: FONCIER_TEST_SHUFFLE=<seed> (an integer, or
``random`` for a fresh one, said in pytest's header) shuffles the modules, then the tests
within each module. A module's tests stay together, so its module-scoped fixtures are still
set up once. A test that passes alone and fails in some order reads another's leftovers;
the seed replays that order."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

ENV = "FONCIER_TEST_SHUFFLE"

T = TypeVar("T")


def seed_from_env(environ: dict[str, str] | None = None) -> int | None:
    """The seed FONCIER_TEST_SHUFFLE asks for; None when unset or empty."""
    value = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not value:
        return None
    if value == "random":
        return random.SystemRandom().randrange(10**6)
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{ENV} must be an integer seed or 'random', not {value!r}") from None


def shuffled_by_module(items: Sequence[T], module_of: Callable[[T], str], seed: int) -> list[T]:
    """``items`` with their modules (``module_of``) in a random order and, within each
    module, the items in a random order."""
    rng = random.Random(seed)
    modules: dict[str, list[T]] = {}
    for item in items:
        modules.setdefault(module_of(item), []).append(item)
    names = list(modules)
    rng.shuffle(names)
    result: list[T] = []
    for name in names:
        group = modules[name]
        rng.shuffle(group)
        result.extend(group)
    return result
