"""The case catalogue: every case has a stable ID (AREA-NNN), a one-line requirement,
the modes it runs in, the site (Apache config) it needs and the log lines it expects."""

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from . import MODES, PROFILES

CASES = {}
ID_RE = re.compile(r"^[A-Z]+-\d{3}$")


@dataclass(frozen=True)
class Case:
    id: str
    requirement: str
    site: str
    modes: tuple = MODES
    profiles: tuple = PROFILES
    expect_log: tuple = field(default_factory=tuple)
    expects: object = None   # shape of its profile expectation (profiles.shape_problems)
    location: str = ""       # cases/test_x.py::test_y, where to find it

    @property
    def area(self):
        return self.id.split("-")[0]


def case(case_id, requirement, site="basic", modes=MODES, profiles=PROFILES, expect_log=(),
         expects=None):
    """Register a test function as conformance case `case_id`.  A case that reads its
    expectation from the profile (the `expect` fixture) declares its shape in `expects`,
    e.g. {"embedded": int, "daemon": int}; every profile it runs under must hold one."""
    if not ID_RE.match(case_id):
        raise ValueError("case id %r is not AREA-NNN" % case_id)

    def mark(fn):
        # A case module may be imported twice (by pytest, and as conformance.cases.*).
        where = "cases/%s.py::%s" % (fn.__module__.rsplit(".", 1)[-1], fn.__name__)
        if case_id in CASES and CASES[case_id].location != where:
            raise ValueError("duplicate case id %s (%s and %s)" % (case_id, CASES[case_id].location, where))
        meta = Case(case_id, requirement, site, tuple(modes), tuple(profiles), tuple(expect_log),
                    expects, where)
        CASES[case_id] = meta
        fn.conformance_case = meta
        return fn
    return mark


def load_all():
    """Import every case module so CASES is complete (for --list)."""
    import importlib
    import pkgutil
    from . import cases
    for info in pkgutil.iter_modules(cases.__path__):
        if info.name.startswith("test_"):
            importlib.import_module("conformance.cases." + info.name)
    return CASES


# ID[mode], as the gate names a failing case: QUE-001[embedded]
_WITH_MODE = re.compile(r"^(.+)\[(%s)\]$" % "|".join(MODES))


def selects(patterns, case_id, mode):
    """Does any of `patterns` (--case values: an ID, a glob of IDs such as 'QUE-*', or ID[mode]
    as the gate prints a failing case; commas separate several) select this case in `mode`?"""
    for value in patterns:
        for pattern in filter(None, (p.strip() for p in value.split(","))):
            m = _WITH_MODE.match(pattern)
            id_glob, only = (m.group(1), m.group(2)) if m else (pattern, None)
            if fnmatchcase(case_id, id_glob) and only in (None, mode):
                return True
    return False


def listing(cases):
    """--list: a line per case, `ID file::function requirement profiles modes`."""
    width = max((len(c.location) for c in cases), default=0)
    return ["%-8s %-*s  %s  profiles %s  modes %s" % (
        c.id, width, c.location, c.requirement, ",".join(c.profiles), ",".join(c.modes)) for c in cases]
