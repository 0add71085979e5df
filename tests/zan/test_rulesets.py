"""Rule sets are data, validated on load."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.zan.rulesets import RULES_DIR, RuleSetError, get_ruleset, load_rulesets


def test_shipped_rule_sets() -> None:
    rules = load_rulesets()
    assert get_ruleset(None, kind="zan").id == "zan-2021-2031"
    assert get_ruleset(None, kind="envelope").id == "industrial-envelope-2025"
    industrial = rules["industrial-envelope-2025"]
    # a provision of the projet de loi de simplification de la vie économique, not promulgated
    assert (industrial.legal_status, industrial.in_force) == ("bill", False)
    assert industrial.status_as_of.isoformat() == "2026-01-20"  # the CMP's meeting
    assert industrial.effective_from is None and industrial.unverified
    assert industrial.envelope.total_ha == 10_000
    assert industrial.envelope.eligible_kinds == ["industrial"]
    assert industrial.envelope.opens_on.isoformat() == "2025-05-27"
    assert industrial.envelope.exclusive_with == ["pene-2021-2031"]
    # nothing cites TRACE (a proposition de loi) as the basis of a voted measure
    for rule in rules.values():
        if rule.legal_status in ("law", "decree", "bill"):
            assert "TRACE" not in rule.legal_basis, rule.id
    # current law counts industrial projects locally while the envelope is not in force
    assert rules["zan-2021-2031"].zan.envelopes_counted_locally == ["industrial-envelope-2025"]
    assert rules["zan-whatif-envelope-in-force"].zan.envelopes_counted_locally == []
    # a variant states its own standing; the 2034 what-if does not carry the garantie over
    assert all(not r.in_force for r in rules.values() if r.extends)
    later = rules["zan-whatif-2034"]
    assert later.zan.garantie_communale_ha == 0 and "première tranche" in later.zan.garantie_note
    assert "DHUP" in later.legal_basis
    assert rules["pene-2021-2031"].envelope.total_ha == 12_500
    assert not rules["pene-2021-2031"].envelope.counts_against_local_trajectories
    zan = rules["zan-2021-2031"].zan
    assert (zan.reduction, zan.garantie_communale_ha) == (0.5, 1.0)
    # each région's target is data with its source and legal status
    assert (zan.regions["32"].reduction, zan.regions["32"].legal_status) == (
        0.5447,
        "sraddet-adopted",
    )
    assert zan.regions["32"].date.isoformat() == "2024-11-21"  # SRADDET modifié adopted
    assert zan.regions["11"].reduction == 0.5 and zan.regions["94"].reduction is None
    sraddet = rules["pene-2021-2031"].envelope.shares["sraddet-regions"].regions
    assert {code for code, r in zan.regions.items() if r.reduction == 0.545} == set(sraddet) - {
        "32"
    }
    assert all(r.source for r in zan.regions.values())
    # the PENE forfait's split is shown with every envelope answer (its rule set summary)
    shares = rules["pene-2021-2031"].summary()["envelope_shares"]
    assert {k: v["total_ha"] for k, v in shares.items()} == {
        "sraddet-regions": 10_000,
        "idf-corse-outre-mer": 2_500,
    }
    for rule in rules.values():  # each rule set cites its sources (docs/methode.md)
        assert rule.sources or rule.extends, rule.id
    # what-ifs inherit what they do not override, and are never the default
    weights = rules["zan-whatif-weights"]
    assert (weights.zan.industrial_weight, weights.zan.reduction, weights.default) == (
        0.5,
        0.5,
        False,
    )


def copy_rules(tmp_path: Path) -> Path:
    for path in RULES_DIR.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "zan-bad.toml",
            'id = "zan-bad"\nname = "x"\nlegal_status = "rumour"\nlegal_basis = "x"\n'
            "status_as_of = 2025-01-01\nin_force = false\n",
            "legal_status",
        ),
        ("zan-x.toml", 'id = "other"\n', "id must be the file name"),
        ("zan-y.toml", 'id = "zan-y"\nextends = "nowhere"\n', "unknown rule set 'nowhere'"),
        (
            "zan-z.toml",
            'id = "zan-z"\nextends = "zan-2021-2031"\n[zan]\nreduction = 1.5\n',
            "reduction",
        ),
        (
            "zan-w.toml",
            'id = "zan-w"\nextends = "zan-2021-2031"\n[zan]\nperiod_first_year = 2015\n',
            "reference must end before",
        ),
        ("broken.toml", 'id = "broken"\nname = [', "not valid TOML"),
        (
            "zan-v.toml",
            'id = "zan-v"\nextends = "zan-2021-2031"\nlegal_status = "bill"\n'
            "status_as_of = 2026-01-01\nin_force = true\neffective_from = 2026-01-01\n",
            "a bill is not in force",
        ),
        (
            "pene-x.toml",
            'id = "pene-x"\nextends = "pene-2021-2031"\n[envelope]\ntotal_ha = 12000.0\n',
            "shares of an envelope must add up",
        ),
    ],
)
def test_invalid_rule_sets_are_refused(
    tmp_path: Path, file: str, content: str, message: str
) -> None:
    directory = copy_rules(tmp_path)
    (directory / file).write_text(content, encoding="utf-8")
    load_rulesets.cache_clear()
    try:
        with pytest.raises(RuleSetError, match=message):
            load_rulesets(directory)
    finally:
        load_rulesets.cache_clear()


def test_unknown_or_wrong_kind() -> None:
    with pytest.raises(RuleSetError, match="unknown rule set"):
        get_ruleset("nope", kind="zan")
    with pytest.raises(RuleSetError, match="has no envelope rules"):
        get_ruleset("zan-2021-2031", kind="envelope")
