"""From what the profile says about a case, and what pytest reports of it, to its verdict.

Two pure functions, no pytest needed to call them:

  applicability(profile, label, case, mode)  before the case runs: does it apply to this
        profile and mode, and does the profile list this target as deviating here?
  decide(...) / of_report(report, ...)       after each phase: the journal's verdict and
        message, or None when the phase says nothing (a passing setup or teardown).

The plugin turns an Applicability into pytest's skip/xfail and hands the report's facts
back here; nothing parses a skip message to find out why a case was skipped.
"""

from dataclasses import dataclass
from typing import Optional

from .journal import FAIL, KNOWN_DEVIATION, NOT_APPLICABLE, PASS, SKIP

SETUP, CALL, TEARDOWN = "setup", "call", "teardown"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
NOT_APPLICABLE_PREFIX = "not-applicable: "    # the skip message (and journal message) of such a case


@dataclass(frozen=True)
class Applicability:
    """not_applicable: why the case does not apply (None: it does); deviation: the profile's
    known deviation of this target (None: none), expected to fail -- strictly, unless the
    profile says the target only sometimes deviates."""
    not_applicable: Optional[str] = None
    deviation: Optional[str] = None
    strict: bool = True

    @property
    def skip_reason(self):
        return NOT_APPLICABLE_PREFIX + self.not_applicable if self.not_applicable else None


def applicability(profile, label, case, mode, apache=None, python=None):
    """`profile`: a conformance.profiles.Profile; `label`: 'gateway 0.1.0' (Env.label);
    `case`: the case's catalogue entry (id, profiles); `mode`: embedded or daemon;
    `apache`, `python`: the server's versions ('2.4.12', '3.3.7'), which a deviation may be
    limited to."""
    if profile.name not in case.profiles:
        return Applicability(not_applicable="case not in profile %s" % profile.name)
    reason = profile.not_applicable(case.id, mode)
    if reason:
        return Applicability(not_applicable=reason)
    deviation = profile.deviation(label, case.id, mode, apache, python)
    if deviation:
        reason, strict = deviation
        return Applicability(deviation="known deviation of %s: %s" % (label, reason), strict=bool(strict))
    return Applicability()


@dataclass(frozen=True)
class Verdict:
    verdict: str
    message: str = ""


def decide(when, outcome, longrepr=None, wasxfail=None, not_applicable=False):
    """The verdict of one phase of a case (None: this phase says nothing).

    when: setup | call | teardown; outcome: passed | failed | skipped (pytest's);
    longrepr: the report's (a (file, line, message) tuple for a skip); wasxfail: the
    xfail reason when the case ran under its known deviation; not_applicable: whether
    the setup skipped it because it does not apply (Applicability.not_applicable)."""
    if when == SETUP and outcome == SKIPPED:
        return Verdict(NOT_APPLICABLE if not_applicable else SKIP, skip_message(longrepr))
    if outcome == FAILED:
        return Verdict(FAIL, failure_message(longrepr))         # including a strict XPASS
    if when != CALL:
        return None                  # a passing setup/teardown; one under xfail adds nothing
    if wasxfail is not None:
        return Verdict(KNOWN_DEVIATION, wasxfail)   # failed as the profile says, or passed anyway
    if outcome == SKIPPED:
        return Verdict(SKIP, skip_message(longrepr))            # pytest.skip() in the case
    return Verdict(PASS, "")


def of_report(report, not_applicable=False):
    """decide() from a pytest TestReport (or anything with its attributes)."""
    return decide(report.when, report.outcome, report.longrepr, getattr(report, "wasxfail", None),
                  not_applicable)


def skip_message(longrepr):
    msg = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return msg.replace("Skipped: ", "")


def failure_message(longrepr, lines=15, tail=1500):
    """The assertion's 'E ' lines (at most `lines`), else the end of the traceback."""
    text = str(longrepr or "")
    found = [l for l in text.splitlines() if l.startswith("E ")]
    return "\n".join(found[:lines]) or text[-tail:]
