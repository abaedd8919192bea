"""The profiles as data: every expectation a case reads is there and of the declared shape,
and the environ contracts resolve from the observations (no Apache needed)."""

import copy
import json

import pytest

from conformance import PROFILES, profiles
from conformance.catalogue import load_all
from conformance.profiles import Profile, ProfileError, shape_problems

CASES = load_all()


@pytest.mark.parametrize("name", PROFILES)
def test_profile_fits_the_catalogue(name):
    assert Profile(name).problems(CASES) == []


def _profile(name, mutate):
    p = Profile(name)
    p.data = copy.deepcopy(p.data)
    mutate(p.data)
    return p


def test_missing_entry_is_a_problem_not_a_weaker_case():
    p = _profile("5", lambda d: d["expect"].pop("ENV-021"))
    assert p.problems(CASES) == ["profile 5 has no expect entry for ENV-021"]
    with pytest.raises(ProfileError, match="no expect entry for ENV-021"):
        p.expectation(CASES["ENV-021"])


def test_malformed_entry_names_the_key():
    p = _profile("6", lambda d: d["expect"]["LOC-005"].update(warns=1))
    assert p.problems(CASES) == ["profile 6 expect LOC-005.warns: 1 is not bool"]
    p = _profile("6", lambda d: d["expect"]["ERR-002"].pop("daemon"))
    assert p.problems(CASES) == ["profile 6 expect ERR-002: missing key 'daemon'"]


def test_entries_for_unknown_cases_and_undeclared_shapes_are_problems():
    p = _profile("3.4", lambda d: d["expect"].update({"ENV-999": 1, "ENV-001": 2}))
    problems = p.problems(CASES)
    assert "profile 3.4: expect entry for unknown case ENV-999" in problems
    assert "profile 3.4: expect entry for ENV-001, which declares no expects= shape" in problems
    p = _profile("3.4", lambda d: d["not_applicable"].update({"ENV-002/sideways": "x"}))
    assert p.problems(CASES) == ["profile 3.4: ENV-002/sideways names no case (mode) in the catalogue"]


def test_a_deviation_seen_on_some_apaches_excuses_only_those():
    p = Profile("5")
    reason, strict = p.deviation("mod_wsgi 4.9.4", "DMN-018", "daemon", "2.4.12")
    assert strict and "Apache 2.4.12" in reason
    for apache in ("2.4.69", "2.4.71", "2.4.30", None):
        assert p.deviation("mod_wsgi 4.9.4", "DMN-018", "daemon", apache) is None
    assert p.deviation("gateway 0.1.0", "DMN-018", "daemon", "2.4.12") is None
    bad = _profile("5", lambda d: d["known_deviations"]["mod_wsgi 5"].update(
        {"DMN-018": {"reason": "x", "apache": "2.4.12"}}))
    assert bad.problems(CASES) == [
        "profile 5 known_deviations[mod_wsgi 5][DMN-018]: {'reason': 'x', 'apache': '2.4.12'} is none of str, "
        '{"reason": "str", "strict?": "bool", "apache?": ["str"], "python?": ["str"]}']


def test_timing_block_is_checked():
    p = _profile("5", lambda d: d["timing"].pop("order"))
    assert p.problems(CASES) == ["profile 5 timing: missing key 'order'"]


def test_shapes():
    assert shape_problems({"a": [1, 2]}, {"a": [int], "b?": str}, "x") == []
    assert shape_problems({"a": [1, "2"]}, {"a": [int]}, "x") == ["x.a[1]: '2' is not int"]
    assert shape_problems(None, (str, type(None)), "x") == []
    assert shape_problems(True, int, "x") == ["x: True is not int"]
    assert shape_problems({"c": 1}, {}, "x") == ["x: unknown key 'c'"]


def test_contracts_resolve_and_differ_where_the_releases_do():
    six, five = Profile("6"), Profile("5")
    for mode in ("embedded", "daemon"):
        assert six.environ_contract(mode)["wsgi.errors"] == "_io.TextIOWrapper"
        assert six.environ_contract(mode, py3=False)["wsgi.errors"] == "mod_wsgi.Log"
        assert "mod_wsgi.total_requests" in five.environ_contract(mode)
        assert "mod_wsgi.total_requests" not in six.environ_contract(mode)
    assert "mod_wsgi.daemon_connects" in five.environ_contract("daemon")
    assert "mod_wsgi.daemon_connects" not in five.environ_contract("embedded")
    assert Profile("3.4").environ_contract("daemon")["mod_wsgi.queue_start"] == "str"


def test_disagreeing_observations_are_an_error(tmp_path, monkeypatch):
    for name in Profile("5").data["environ"]["py3"]:
        (tmp_path / (name + ".json")).write_text((profiles.OBSERVED / (name + ".json")).read_text())
    doc = json.loads((tmp_path / "mod_wsgi-5.0.2-py3.11.json").read_text())
    del doc["modes"]["daemon"]["mod_wsgi.daemon_restarts"]
    (tmp_path / "disagrees.json").write_text(json.dumps(doc))
    monkeypatch.setattr(profiles, "OBSERVED", tmp_path)
    p = _profile("5", lambda d: d["environ"]["py3"].append("disagrees"))
    with pytest.raises(ProfileError, match="disagree in daemon mode on .*daemon_restarts"):
        p.environ_contract("daemon")
    assert p.environ_contract("embedded")


APACHE_22_ONLY_ON_24 = {"CONTEXT_DOCUMENT_ROOT", "CONTEXT_PREFIX", "REQUEST_SCHEME", "mod_wsgi.request_id"}


@pytest.mark.parametrize("name", ["3.4", "5", "6"])
def test_apache_22_contract_is_the_24_one_without_what_22_lacks(name):
    p = Profile(name)
    for mode in ("embedded", "daemon"):
        for py3 in (True, False):
            on24, on22 = p.environ_contract(mode, py3), p.environ_contract(mode, py3, (2, 2, 34))
            assert set(on24) - set(on22) == APACHE_22_ONLY_ON_24 & set(on24)
            assert not set(on22) - set(on24) and all(on22[k] == on24[k] for k in on22)


def test_apache_22_without_its_observations_is_an_error():
    p = _profile("5", lambda d: d["environ"].pop("apache2.2"))
    assert p.environ_contract("daemon")
    with pytest.raises(ProfileError, match="no environ.apache2.2.py3 observations"):
        p.environ_contract("daemon", True, (2, 2, 34))


def test_a_deviation_seen_on_some_pythons_excuses_only_those():
    p = Profile("5")
    reason, strict = p.deviation("mod_wsgi 4.7.1", "ENV-030", "embedded", "2.2.34", "3.3.7")
    assert strict and "empty error-level line" in reason
    for python in ("2.7.18", "3.4.10", "3.33.0", None):
        assert p.deviation("mod_wsgi 4.7.1", "ENV-030", "embedded", "2.2.34", python) is None
    assert p.deviation("mod_wsgi 4.9.4", "ENV-030", "embedded", "2.4.71", "3.11.7") is None
