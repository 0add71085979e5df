import pyarrow as pa
import pytest

from geo.crs import departement_codes, departement_of

CODES = ["08105", "91216", "2A004", "2B033", "97105", "97411", "98735", "01001"]


@pytest.mark.parametrize(
    ("insee", "dep"),
    [("08105", "08"), ("2A004", "2A"), ("97105", "971"), ("97611", "976"), ("98735", "987")],
)
def test_departement_of(insee: str, dep: str) -> None:
    assert departement_of(insee) == dep


def test_vectorised_rule_agrees_with_scalar_rule() -> None:
    assert departement_codes(pa.array(CODES)).to_pylist() == [departement_of(c) for c in CODES]
