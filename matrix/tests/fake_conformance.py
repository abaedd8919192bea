"""A stand-in for `python -m conformance` (MATRIX_CONFORMANCE_CMD) that writes a synthetic
journal and JUnit file from the fixtures, following the contract's exit codes.

Behaviour by environment:
  FAKE_FAIL=gateway          targets whose cells fail (their journal has a failing case)
  FAKE_SETUP_ERROR=mod_wsgi  targets whose session reports a setup error (exit 2)
  FAKE_HANG=glob             cells (fnmatch on "target/mode") that hang, after starting a
                             grandchild in its own session, as Apache does; its PID goes
                             to FAKE_PIDFILE
  FAKE_CALLS=file            append each call's target/mpm/mode here
"""

import argparse
import os
import subprocess
import sys
import time
from fnmatch import fnmatchcase
from pathlib import Path

from conformance.journal import Journal, empty_summary

FIXTURES = Path(__file__).parent / "fixtures"


def main():
    p = argparse.ArgumentParser()
    for opt in ("--target", "--server-python", "--apxs", "--mpm", "--mode", "--profile", "--json",
                "--junitxml", "--mod-wsgi-version", "-n"):
        p.add_argument(opt)
    a, _ = p.parse_known_args()
    if os.environ.get("FAKE_CALLS"):
        with open(os.environ["FAKE_CALLS"], "a") as f:
            f.write("%s/%s/%s\n" % (a.target, a.mpm, a.mode))
    if fnmatchcase("%s/%s" % (a.target, a.mode), os.environ.get("FAKE_HANG", "-")):
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
        Path(os.environ["FAKE_PIDFILE"]).write_text(str(child.pid))
        time.sleep(300)
    failing = a.target in os.environ.get("FAKE_FAIL", "").split(",")
    journal = Journal.read(FIXTURES / ("journal_gateway_fail.json" if failing else "journal_mod_wsgi_pass.json"),
                           strict=True)
    journal.target.name, journal.target.profile = a.target, a.profile
    journal.apache.apxs, journal.apache.mpm = a.apxs, a.mpm
    journal.mode = a.mode
    for c in journal.cases:
        c.mode = a.mode
    rc = 1 if failing else 0
    if a.target in os.environ.get("FAKE_SETUP_ERROR", "").split(","):
        journal.setup_error, journal.cases, journal.summary = "cannot build %s" % a.target, [], empty_summary()
        rc = 2
    journal.write(a.json)
    Path(a.junitxml).write_text('<?xml version="1.0"?><testsuites><testsuite name="fake" tests="%d"/></testsuites>'
                                % len(journal.cases))
    print("fake conformance: %s exit %d" % (a.target, rc))
    return rc


if __name__ == "__main__":
    sys.exit(main())
