"""The project's unit tests that compile a gateway source file themselves: a mutant of that file
meets them before the suite (seconds, not minutes), pointed at the mutant's copy by GW_SRC.
The table is the one place that knows which tests those are."""

import re
import sys

# file in gateway/src -> the tests (paths from the repository root) that compile it from GW_SRC
TESTS = {
    "gw_wire.c": ("gateway/tests/test_wire.py",),
}


def tests_for(files):
    """The unit tests that compile any of `files`, each once, in a stable order."""
    return sorted({t for f in files for t in TESTS.get(f, ())})


def command(tests, basetemp):
    """pytest on `tests`, run from the tree copy (its root names the node ids), with a temporary
    folder of its own (mutants run side by side) and a FAILED/ERROR line per failure."""
    return [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "--rootdir", ".",
            "--basetemp", str(basetemp)] + list(tests)


def failed(log):
    """The node ids of the failed or erroring tests in a pytest log."""
    return re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", log, re.M)
