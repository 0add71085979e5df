import pytest

from geo.land.zoning import zoning_class


@pytest.mark.parametrize(
    ("typezone", "libelle", "destdomi", "libelong", "expected"),
    [
        ("A", "Ap", None, None, "agricultural"),
        ("Ah", "Ah", None, None, "agricultural"),
        ("N", "Npv", None, None, "natural"),
        ("Nh", "Nh", "01", None, "natural"),  # the zone type wins over the destination
        ("U", "Ua", "02", None, "activity"),
        ("U", "Ua", "2", None, "activity"),  # destdomi without its leading zero
        ("U", "Ub", "01", None, "housing"),
        ("U", "Uc", "03", None, "mixed"),
        ("U", "Ue", "05", None, "other"),
        ("U", "Ux", None, None, "activity"),
        ("U", "UYa", None, None, "activity"),
        ("AUc", "1AUx", None, None, "activity"),
        ("AUs", "2AUz", None, None, "activity"),
        ("U", "Ue", None, "Zone d'activités économiques", "activity"),
        ("U", "Ub", None, "Secteur d'habitat contemporain", "housing"),
        ("U", "Uc", None, None, "mixed"),
        ("AUc", "AU", None, None, "mixed"),
        ("U", "Ua", None, "Centre ancien, commerces", "mixed"),
        ("ZC", "Zc", None, None, "other"),
        (None, None, None, None, "other"),
    ],
)
def test_zoning_rule(typezone, libelle, destdomi, libelong, expected) -> None:
    assert zoning_class(typezone, libelle, destdomi, libelong) == expected
