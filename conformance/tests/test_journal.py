"""journal.py: the records, the vocabulary and the JSON (strict and lenient reading)."""

import json

import pytest

from conformance import JOURNAL_SCHEMA, journal
from conformance.journal import CaseRecord, Evidence, Journal, JournalError


def _journal():
    cases = [CaseRecord(id="ENV-002", mode="daemon", verdict=journal.FAIL, area="ENV", requirement="r",
                        duration_s=0.5, message="E   boom", nodeid="n2",
                        evidence=Evidence(config="LoadModule x", request="GET /", response="HTTP/1.1 500",
                                          log=["[error] x"])),
             CaseRecord(id="ENV-001", mode="daemon", verdict=journal.NOT_APPLICABLE, area="ENV",
                        requirement="r", required=False, duration_s=0.25, nodeid="n1")]
    return Journal(started="2026-01-01T00:00:00Z", duration_s=1.0, mode="daemon",
                   target=journal.Target(name="gateway", profile="5", kind="gateway", module="/m.so",
                                         symbol="gateway_module", version="0.1.0", libpython="libpython3.11.so",
                                         build_s=0.0),
                   apache=journal.Apache(apxs="/usr/bin/apxs", mpm="event", httpd="/usr/sbin/apache2",
                                         version="2.4.62"),
                   server_python=journal.ServerPython(path="/usr/bin/python3", version="3.11.2"),
                   client=journal.Client(python="3.11.7"), cases=cases).finish()


def test_the_schema_is_the_packages():
    assert journal.SCHEMA == JOURNAL_SCHEMA


def test_finish_sorts_counts_and_totals():
    j = _journal()
    assert [c.id for c in j.cases] == ["ENV-001", "ENV-002"]
    assert j.summary == dict(journal.empty_summary(), **{"fail": 1, "not-applicable": 1})
    assert j.timings.cases_s == 0.75
    assert [c.label for c in j.failed_required()] == ["ENV-002[daemon]"]


def test_json_round_trip_strict():
    j = _journal()
    text = j.to_json()
    data = json.loads(text)
    assert sorted(data) == sorted(["schema", "started", "duration_s", "setup_error", "target", "server_python",
                                   "apache", "mode", "client", "timings", "summary", "stop_problems", "cases"])
    assert sorted(data["cases"][0]) == sorted(["id", "area", "mode", "requirement", "verdict", "required",
                                               "duration_s", "message", "evidence", "metrics", "nodeid"])
    assert data["cases"][0]["evidence"] == {} and data["cases"][0]["metrics"] is None
    assert Journal.from_json(text, strict=True) == j
    assert text == json.dumps(data, indent=1, sort_keys=True)


def test_a_setup_error_journal_omits_what_was_never_found():
    j = Journal(setup_error="no apxs", target=journal.Target(name="gateway"),
                apache=journal.Apache(apxs="apxs", mpm="event")).finish()
    d = j.to_dict()
    assert d["target"] == {"name": "gateway", "profile": None}
    assert d["apache"] == {"apxs": "apxs", "mpm": "event"}
    assert Journal.from_dict(d, strict=True) == j


def test_strict_reading_names_drift():
    d = _journal().to_dict()
    d["cases"][0]["colour"] = "red"
    del d["cases"][1]["nodeid"]
    with pytest.raises(JournalError, match=r"cases\[0\]: unknown keys colour"):
        Journal.from_dict(d, strict=True)
    d = _journal().to_dict()
    d["summary"]["pass"] = 3
    with pytest.raises(JournalError, match="does not count its cases"):
        Journal.from_dict(d, strict=True)


def test_lenient_reading_takes_older_and_newer_journals():
    d = {"schema": JOURNAL_SCHEMA, "summary": {"pass": 1}, "future": 1,
         "cases": [{"id": "X-1", "mode": "embedded", "verdict": "pass", "extra": True}]}
    j = Journal.from_dict(d)
    assert j.summary["pass"] == 1 and j.summary["fail"] == 0 and j.cases[0].required


def test_what_is_not_a_journal():
    with pytest.raises(JournalError, match="schema"):
        Journal.from_dict({"schema": "mod_gateway/reliability/1"})
    with pytest.raises(JournalError, match="verdict 'passed'"):
        Journal.from_dict({"schema": JOURNAL_SCHEMA, "cases": [{"id": "X-1", "mode": "m", "verdict": "passed"}]})
    with pytest.raises(JournalError, match="not JSON"):
        Journal.from_json("{")


def test_read_missing_is_none(tmp_path):
    assert Journal.read(tmp_path / "none.json") is None
    _journal().write(tmp_path / "j.json")
    assert Journal.read(tmp_path / "j.json", strict=True) == _journal()


def test_dedupe_lets_a_failure_win():
    ok = CaseRecord(id="A-1", mode="embedded", verdict=journal.PASS)
    bad = CaseRecord(id="A-1", mode="embedded", verdict=journal.FAIL)
    other = CaseRecord(id="A-0", mode="embedded", verdict=journal.PASS)
    assert journal.dedupe([ok, bad, other]) == [other, bad]


def test_required_follows_the_verdict():
    assert [v for v in journal.VERDICTS if journal.is_required(v)] == ["pass", "fail", "skip"]
