"""Rule sets and profiles are read by one registry loader that holds ids to one pattern."""

import pytest

from geo.registry import read_registry
from geo.scoring.profiles import ProfileError, load_profiles, validate
from geo.zan.rulesets import RuleSetError


def test_a_profile_id_that_could_break_its_sql_column_is_refused():
    # the id becomes part of SQL identifiers (size_fit__<id>, s_<id>) in geo.scoring.model
    for bad in ("x; DROP TABLE parcel", "Custom", "a b", 'a"b', ""):
        with pytest.raises(ProfileError, match="lower-case letters, digits and hyphens"):
            validate(bad, "bad", {"zoning": 1})
    assert validate("custom", "ok", {"zoning": 1}).id == "custom"


def test_a_registry_file_named_out_of_pattern_is_refused(tmp_path):
    (tmp_path / "Big Plant.toml").write_text('id = "Big Plant"\n[weights]\nzoning = 1\n')
    with pytest.raises(ProfileError, match="lower-case letters"):
        load_profiles(tmp_path)
    with pytest.raises(RuleSetError, match="lower-case letters"):
        read_registry(tmp_path, RuleSetError)


def test_a_registry_file_whose_id_is_not_its_name_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text('id = "b"\n')
    with pytest.raises(RuleSetError, match="id must be the file name"):
        read_registry(tmp_path, RuleSetError)
    (tmp_path / "a.toml").write_text("id = \n")
    with pytest.raises(RuleSetError, match="not valid TOML"):
        read_registry(tmp_path, RuleSetError)
