"""Cases by ID: --case patterns, -k on the ID in the node id, and --list's one line per case."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import catalogue
from conformance.catalogue import listing, load_all, selects

HERE = Path(catalogue.__file__).parent
ROOT = HERE.parent


@pytest.mark.parametrize("patterns, case_id, mode, want", [
    (["ENV-027"], "ENV-027", "daemon", True),
    (["ENV-027"], "ENV-0271", "daemon", False),          # an ID is whole, not a prefix
    (["ENV-02"], "ENV-027", "daemon", False),
    (["QUE-*"], "QUE-008", "embedded", True),
    (["QUE-*"], "ENV-001", "embedded", False),
    (["QUE-001[embedded]"], "QUE-001", "embedded", True),   # as the gate names a failing case
    (["QUE-001[embedded]"], "QUE-001", "daemon", False),
    (["QUE-00?[daemon]"], "QUE-005", "daemon", True),
    (["ENV-001, QUE-*"], "QUE-002", "daemon", True),        # comma-separated
    (["ENV-001", "QUE-002"], "QUE-002", "daemon", True),    # repeated
    (["ENV-001,"], "QUE-002", "daemon", False),
    ([], "QUE-002", "daemon", False),
])
def test_selects(patterns, case_id, mode, want):
    assert selects(patterns, case_id, mode) is want


def test_list_prints_id_location_requirement_profiles_modes():
    cases = sorted(load_all().values(), key=lambda c: c.id)
    lines = listing(cases)
    assert len(lines) == len(cases) > 100
    for c, line in zip(cases, lines):
        m = re.match(r"^([A-Z]+-\d{3}) +(cases/test_\w+\.py)::(test_\w+) +(.+?)  profiles ([\d.,]+)  modes ([a-z,]+)$",
                     line)
        assert m, line
        assert m.group(1) == c.id and m.group(4) == c.requirement
        assert m.group(5).split(",") == list(c.profiles) and m.group(6).split(",") == list(c.modes)
        # the location names a real file and the function defined in it
        assert re.search(r"^def %s\(" % m.group(3), (HERE / m.group(2)).read_text(), re.M), line


def collected(*args):
    """The node ids `python -m conformance --collect-only ARGS` selects (no target needed)."""
    out = subprocess.run([sys.executable, "-m", "conformance", "--collect-only"] + list(args), cwd=str(ROOT),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    return re.findall(r"^(test_\w+\.py::\S+)$", out.stdout, re.M)


def test_k_and_case_select_by_id():
    assert sorted(collected("-k", "ENV-027")) == ["test_env.py::test_environ_contract[ENV-027-daemon]",
                                                  "test_env.py::test_environ_contract[ENV-027-embedded]"]
    que = [c for c in load_all().values() if c.id.startswith("QUE-")]
    got = collected("--case", "QUE-*")
    assert len(got) == sum(len(c.modes) for c in que) and all("[QUE-" in n for n in got), got
    assert collected("--case", "QUE-001[embedded]", "--mode", "both") == \
        ["test_que.py::test_presence[QUE-001-embedded]"]
