"""verdict.py: what the profile says of a case before it runs (applicability) and what a
pytest report of each phase becomes in the journal (decide / of_report) -- no Apache."""

from types import SimpleNamespace

import pytest

from conformance import journal
from conformance.verdict import Applicability, applicability, decide, failure_message, of_report


class FakeProfile:
    def __init__(self, name="6", not_applicable=None, deviations=None):
        self.name = name
        self._na = not_applicable or {}
        self._dev = deviations or {}

    def not_applicable(self, case_id, mode):
        return self._na.get((case_id, mode))

    def deviation(self, label, case_id, mode, apache=None, python=None):
        return self._dev.get((label, case_id, mode))


CASE = SimpleNamespace(id="QUE-001", profiles=("5", "6"))
LABEL = "gateway 0.1.0"


def test_a_case_outside_the_profile_does_not_apply():
    a = applicability(FakeProfile("3.4"), LABEL, CASE, "embedded")
    assert a == Applicability(not_applicable="case not in profile 3.4")
    assert a.skip_reason == "not-applicable: case not in profile 3.4"


def test_the_profiles_not_applicable_entry_wins_over_a_deviation():
    p = FakeProfile(not_applicable={("QUE-001", "daemon"): "no daemons in 3.4"},
                    deviations={(LABEL, "QUE-001", "daemon"): ("wrong", True)})
    assert applicability(p, LABEL, CASE, "daemon").not_applicable == "no daemons in 3.4"


def test_a_known_deviation_is_named_with_the_target_and_its_strictness():
    p = FakeProfile(deviations={(LABEL, "QUE-001", "embedded"): ("sends 500", False)})
    a = applicability(p, LABEL, CASE, "embedded")
    assert a == Applicability(deviation="known deviation of gateway 0.1.0: sends 500", strict=False)
    assert a.skip_reason is None
    assert applicability(p, LABEL, CASE, "daemon") == Applicability()


SKIP_REPR = ("/x/plugin.py", 12, "Skipped: not-applicable: case not in profile 6")


@pytest.mark.parametrize("when, outcome, longrepr, wasxfail, na, expected", [
    ("setup", "passed", None, None, False, None),
    ("call", "passed", None, None, False, (journal.PASS, "")),
    ("teardown", "passed", None, None, False, None),
    # not-applicable comes from the setup's own decision, not from the skip's wording
    ("setup", "skipped", SKIP_REPR, None, True, (journal.NOT_APPLICABLE, "not-applicable: case not in profile 6")),
    ("setup", "skipped", SKIP_REPR, None, False, (journal.SKIP, "not-applicable: case not in profile 6")),
    ("setup", "skipped", ("f", 1, "Skipped: setup error: no apxs"), None, False, (journal.SKIP, "setup error: no apxs")),
    ("call", "skipped", ("f", 1, "Skipped: Python 2 has no sys.base_prefix"), None, False,
     (journal.SKIP, "Python 2 has no sys.base_prefix")),
    ("call", "skipped", None, "known deviation of gateway 0.1.0: x", False,
     (journal.KNOWN_DEVIATION, "known deviation of gateway 0.1.0: x")),
    ("call", "passed", None, "known deviation of gateway 0.1.0: x", False,     # non-strict, passed anyway
     (journal.KNOWN_DEVIATION, "known deviation of gateway 0.1.0: x")),
    ("teardown", "skipped", None, "known deviation", False, None),
    ("call", "failed", "E   assert 1 == 2\nmore", None, False, (journal.FAIL, "E   assert 1 == 2")),
    ("call", "failed", "[XPASS(strict)] known deviation", None, False,
     (journal.FAIL, "[XPASS(strict)] known deviation")),
    ("setup", "failed", "E   HttpdError: did not start", None, False, (journal.FAIL, "E   HttpdError: did not start")),
    ("teardown", "failed", "E   unexpected error-log lines", None, False, (journal.FAIL, "E   unexpected error-log lines")),
])
def test_decide(when, outcome, longrepr, wasxfail, na, expected):
    got = decide(when, outcome, longrepr, wasxfail, na)
    assert (got and (got.verdict, got.message)) == expected
    assert got is None or got.verdict in journal.VERDICTS


def test_of_report_reads_a_reports_attributes():
    report = SimpleNamespace(when="call", outcome="skipped", longrepr=None, wasxfail="deviates")
    assert of_report(report).verdict == journal.KNOWN_DEVIATION
    plain = SimpleNamespace(when="call", outcome="passed", longrepr=None)        # no wasxfail attribute
    assert of_report(plain).verdict == journal.PASS


def test_failure_message_keeps_the_E_lines_or_the_tail():
    text = "\n".join(["def test():"] + ["E   line %d" % i for i in range(20)])
    assert failure_message(text).splitlines() == ["E   line %d" % i for i in range(15)]
    assert failure_message("x" * 2000) == "x" * 1500
