"""The journal a session writes: typed records, the verdict vocabulary, the schema, JSON.

One journal per session (`python -m conformance --json FILE`, or the mod_gateway_pytest
plugin's `--wsgi-journal FILE` for a project's own tests).  Everything that reads one --
matrix run/report, ci/gate, ci/validate-build -- reads it through `Journal.read` (or
`Journal.from_dict`), never by string keys, so the writer and its readers cannot drift.

The file is `json.dumps(journal.to_dict(), indent=1, sort_keys=True)`:

    schema        SCHEMA
    suite, tests  only in a journal of a project's own tests ("tests", the paths given)
    started       UTC ISO time, "Z";  duration_s: the session's wall time
    setup_error   why the target or Apache could not be set up, or null
    target        Target (the resolved module, and the profile it ran under)
    server_python {path, version};  apache: {apxs, httpd, version, mpm};  mode;  client {python}
    timings       {build_s, server_starts, server_start_s, server_stops, server_stop_s,
                   server_stop_wait_s, cases_s}: a stop's own seconds run beside the next
                   server's start; server_stop_wait_s is what the session waited for stops
    summary       {verdict: count} over VERDICTS
    stop_problems servers that did not stop cleanly: [{site, mode, log, leftover_pids}]
    cases         one CaseRecord per (case, mode), sorted

This module is the bottom of the suite: it imports nothing of the project.
"""

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import List, Optional

SCHEMA = "mod_gateway.conformance-journal/2"   # 2: timings.server_stop*

# -- the verdicts ------------------------------------------------------------------------

PASS = "pass"
FAIL = "fail"
SKIP = "skip"
NOT_APPLICABLE = "not-applicable"            # the case does not apply to this profile or mode
KNOWN_DEVIATION = "known-deviation"          # the profile lists this target as deviating here
VERDICTS = (PASS, FAIL, SKIP, NOT_APPLICABLE, KNOWN_DEVIATION)
NOT_REQUIRED = (NOT_APPLICABLE, KNOWN_DEVIATION)
# How a verdict says the module behaved (the matrix's differential); skips say nothing.
OUTCOME = {PASS: "as specified", FAIL: "deviates", KNOWN_DEVIATION: "deviates"}


def is_required(verdict):
    """Whether a case with this verdict counts towards the session's result."""
    return verdict not in NOT_REQUIRED


def empty_summary():
    return {v: 0 for v in VERDICTS}


def summarize(cases):
    """{verdict: count} over VERDICTS for these CaseRecords."""
    out = empty_summary()
    for c in cases:
        out[c.verdict] += 1
    return out


class JournalError(ValueError):
    """A journal that is not one of this schema, or (strict) not as the writer writes it."""


# -- records -----------------------------------------------------------------------------

class _Record:
    """to/from dict for the dataclasses below.

    _NESTED: {field: record class} (a list field holds a list of them);
    _OPTIONAL: fields a writer may leave out (omitted from the dict when None)."""

    _NESTED = {}
    _OPTIONAL = ()

    def to_dict(self):
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in self._OPTIONAL:
                continue
            if isinstance(v, _Record):
                v = v.to_dict()
            elif isinstance(v, list) and f.name in self._NESTED:
                v = [x.to_dict() for x in v]
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data, strict=False, where=None):
        """A record from its dict.  Lenient by default (missing keys take their defaults,
        unknown keys are ignored: journals from older or newer writers still read);
        strict: exactly the keys the writer writes."""
        where = where or cls.__name__
        if not isinstance(data, dict):
            raise JournalError("%s: not an object: %r" % (where, data))
        names = [f.name for f in fields(cls)]
        if strict:
            unknown = sorted(set(data) - set(names))
            missing = [n for n in names if n not in data and n not in cls._OPTIONAL]
            if unknown or missing:
                raise JournalError("%s: %s" % (where, "; ".join(
                    (["unknown keys " + ", ".join(unknown)] if unknown else []) +
                    (["missing keys " + ", ".join(missing)] if missing else []))))
        kw = {}
        for n in names:
            if n not in data:
                continue
            v, sub = data[n], cls._NESTED.get(n)
            if sub is not None and v is not None:
                if isinstance(v, list):
                    v = [sub.from_dict(x, strict, "%s.%s[%d]" % (where, n, i)) for i, x in enumerate(v)]
                else:
                    v = sub.from_dict(v, strict, "%s.%s" % (where, n))
            kw[n] = v
        return cls(**kw)


@dataclass
class Evidence(_Record):
    """What a failing case leaves to look at: the generated httpd.conf, the last exchanges
    and the error log's lines of the case.  Empty ({}) for a case that did not fail."""
    config: Optional[str] = None
    request: Optional[str] = None
    response: Optional[str] = None
    log: Optional[List[str]] = None
    _OPTIONAL = ("config", "request", "response", "log")

    @classmethod
    def from_server(cls, srv, offset):
        """From a running (or just stopped) httpd.Server: its config, its last three
        exchanges (srv.exchanges, written by conformance.client) and its log since `offset`."""
        if srv is None:
            return cls()
        ex = getattr(srv, "exchanges", [])[-3:]
        return cls(config=srv.config_text,
                   request="\n\n".join(e["request"] for e in ex),
                   response="\n\n".join(e["response"] for e in ex),
                   log=srv.read_log(offset).splitlines()[-60:])

    def __bool__(self):
        return any(v is not None for v in (self.config, self.request, self.response, self.log))


@dataclass
class CaseRecord(_Record):
    """One case in one mode."""
    id: str
    mode: str
    verdict: str
    area: str = ""
    requirement: str = ""
    required: bool = True
    duration_s: float = 0.0
    message: str = ""
    evidence: Evidence = field(default_factory=Evidence)
    metrics: Optional[dict] = None     # figures the case measured (the `metrics` fixture)
    nodeid: str = ""
    _NESTED = {"evidence": Evidence}

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise JournalError("case %s[%s]: verdict %r is not one of %s"
                               % (self.id, self.mode, self.verdict, ", ".join(VERDICTS)))
        if isinstance(self.evidence, dict):
            self.evidence = Evidence.from_dict(self.evidence)
        elif self.evidence is None:
            self.evidence = Evidence()

    @property
    def label(self):
        """'QUE-001[embedded]': how the gate and matrix name a case in one mode."""
        return "%s[%s]" % (self.id, self.mode)

    @property
    def failed_required(self):
        return self.verdict == FAIL and self.required


@dataclass
class Target(_Record):
    """The module under test (conformance.targets.Target.as_dict()) and the profile it
    ran under; at a setup error only the name given and a null profile."""
    name: Optional[str] = None
    profile: Optional[str] = None
    kind: Optional[str] = None
    module: Optional[str] = None
    symbol: Optional[str] = None
    version: Optional[str] = None
    libpython: Optional[str] = None
    build_s: Optional[float] = None
    load_file: Optional[str] = None     # a libpython Apache must LoadFile first ("" when none)
    _OPTIONAL = ("kind", "module", "symbol", "version", "libpython", "build_s", "load_file")

    @classmethod
    def from_setup(cls, target_dict, name=None, profile=None):
        d = dict(target_dict or {"name": name})
        d["profile"] = profile
        return cls.from_dict(d)


@dataclass
class ServerPython(_Record):
    path: Optional[str] = None
    version: Optional[str] = None


@dataclass
class Apache(_Record):
    """The Apache install; only apxs and mpm when it could not be set up."""
    apxs: Optional[str] = None
    mpm: Optional[str] = None
    httpd: Optional[str] = None
    version: Optional[str] = None
    _OPTIONAL = ("httpd", "version")


@dataclass
class Client(_Record):
    python: Optional[str] = None


@dataclass
class Timings(_Record):
    build_s: float = 0.0
    server_starts: int = 0
    server_start_s: float = 0.0
    server_stops: int = 0
    server_stop_s: float = 0.0
    server_stop_wait_s: float = 0.0
    cases_s: float = 0.0


@dataclass
class StopProblem(_Record):
    """A server that crashed or left processes behind at shutdown (belongs to no case)."""
    site: str = ""
    mode: str = ""
    log: List[str] = field(default_factory=list)
    leftover_pids: List[int] = field(default_factory=list)


@dataclass
class Journal(_Record):
    started: str = ""
    duration_s: float = 0.0
    setup_error: Optional[str] = None
    target: Target = field(default_factory=Target)
    server_python: ServerPython = field(default_factory=ServerPython)
    apache: Apache = field(default_factory=Apache)
    mode: str = ""
    client: Client = field(default_factory=Client)
    timings: Timings = field(default_factory=Timings)
    summary: dict = field(default_factory=empty_summary)
    stop_problems: List[StopProblem] = field(default_factory=list)
    cases: List[CaseRecord] = field(default_factory=list)
    suite: Optional[str] = None         # "tests": a project's own tests (mod_gateway_pytest)
    tests: Optional[List[str]] = None   # their paths
    schema: str = SCHEMA
    _NESTED = {"target": Target, "server_python": ServerPython, "apache": Apache, "client": Client,
               "timings": Timings, "stop_problems": StopProblem, "cases": CaseRecord}
    _OPTIONAL = ("suite", "tests")

    @classmethod
    def from_dict(cls, data, strict=False, where="journal"):
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise JournalError("%s: schema %r, not %r" % (
                where, data.get("schema") if isinstance(data, dict) else data, SCHEMA))
        j = super().from_dict(data, strict, where)
        for name in ("target", "server_python", "apache", "client", "timings"):
            if getattr(j, name) is None:        # null in the file: the record, empty
                setattr(j, name, cls._NESTED[name]())
        j.summary = dict(empty_summary(), **(j.summary or {}))
        if strict:
            problems = sorted(set(j.summary) - set(VERDICTS))
            if problems:
                raise JournalError("%s: summary counts unknown verdicts %s" % (where, ", ".join(problems)))
            if j.summary != summarize(j.cases):
                raise JournalError("%s: summary %s does not count its cases (%s)"
                                   % (where, j.summary, summarize(j.cases)))
        return j

    def to_json(self):
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text, strict=False, where="journal"):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise JournalError("%s: not JSON: %s" % (where, e))
        return cls.from_dict(data, strict, where)

    def write(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())

    @classmethod
    def read(cls, path, strict=False):
        """The journal at `path`; None when there is none; JournalError when it is not one."""
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise JournalError("%s: %s" % (path, e))
        return cls.from_json(text, strict, str(path))

    # -- what readers ask ----------------------------------------------------------------

    def failed_required(self):
        """The required cases that failed (what turns a session red)."""
        return [c for c in self.cases if c.failed_required]

    def count(self, verdict):
        return self.summary.get(verdict, 0)

    def finish(self):
        """Sort the cases, count them (summary) and total their durations (timings.cases_s)."""
        self.cases.sort(key=lambda c: (c.id, c.mode))
        self.summary = summarize(self.cases)
        self.timings.cases_s = round(sum(c.duration_s for c in self.cases), 3)
        return self


def dedupe(cases):
    """One record per (case, mode): a failure (say in teardown) overrides the call's pass."""
    out = {}
    for c in cases:
        key = (c.id, c.mode)
        if key not in out or c.verdict == FAIL:
            out[key] = c
    return sorted(out.values(), key=lambda c: (c.id, c.mode))
