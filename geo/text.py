"""Numbers as clients write them in text (query and path parameters, a box's corners): the
rules every parameter and the search model (geo.scoring.query) read them by."""

from __future__ import annotations

import re

from pydantic import BeforeValidator

_INTEGER_TEXT = re.compile(r"0|-?[1-9][0-9]*")


def _integer_text(value: object) -> object:
    # A query or path value is text. Pydantic's lax mode also reads "0.0", "+1", " 1",
    # "1_000" and "01" as integers; the schema says "type: integer", so an integer
    # parameter takes an integer as JSON writes one and nothing else.
    if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value):
        raise ValueError("must be an integer written in digits (no +, point, space or leading 0)")
    return value


# A decimal number as clients write one, in ASCII digits: float() alone would also read
# "２.3" or "٢.٣" (any script's digits), "1_0", " 1", "nan" and "inf".
_NUMBER_TEXT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def number_text(value: str) -> float:
    """``value`` as a float when it is a decimal number written in ASCII; else ValueError."""
    if not _NUMBER_TEXT.fullmatch(value):
        raise ValueError(f"not a number: {value[:40]!r}")
    return float(value)


# Annotates every integer query or path parameter (and integer member of a search model),
# after its Query/Path/Field: pydantic documents the range (minimum, maximum) only of
# constraints given before a validator.
Digits = BeforeValidator(_integer_text)
