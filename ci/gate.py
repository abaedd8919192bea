"""ci/gate: the CI gate.  Provisions the machine, builds the Apaches the slice needs,
runs the slice of the matrix listed in ci/gate.json through the matrix runner, prints
a summary table and exits non-zero when a required cell fails, naming its failing cases.

    ci/gate [--dry-run] [--cells GLOB ...] [--gateway-module PATH] [--out reports/gate]
            [--jobs N] [--cell-timeout S] [--retries N] [--no-provision] [--python PATH ...]
            [--slice FILE] [-- pytest args for every cell]

Exit status: 0 every required cell passed; 1 a required cell did not pass (fail,
error, timeout, setup error, or it cannot run here); 2 the gate itself cannot run
(bad slice file, no cell selected, provisioning failed, unusable --gateway-module).

A cell that fails, errors or times out is run again (--retries, default once; at most
2 cells at a time, for less contention): the last attempt counts, and a pass after a failure is reported as flaky with the first
attempt's failing cases (kept in first-attempt/cells/).

Output (default reports/gate/): the matrix runner's cells/, report.json/.md/.html and
junit/, and gate.json (the verdict: every cell's status, role and failing cases).
"""

if __name__ == "__main__" and not __package__:
    # Run as a file (python ci/gate.py, ci/gate): run the module ci.gate of this tree,
    # found through PYTHONPATH, from the caller's directory (so relative paths stay theirs).
    import os as _os
    import sys as _sys
    _root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    _os.environ["PYTHONPATH"] = _os.pathsep.join(filter(None, [_root, _os.environ.get("PYTHONPATH")]))
    _os.execv(_sys.executable, [_sys.executable, "-m", "ci.gate"] + _sys.argv[1:])

import argparse
import dataclasses
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from conformance import targets
from conformance.journal import PASS, FAIL
from matrix import axes, httpd_builds, publish, store
from matrix.cells import matches
from matrix.run import Prebuilder, run_cells, _raise_interrupt
from gateway.text import headline

ROOT = Path(__file__).resolve().parent.parent

SLICE = ROOT / "ci" / "gate.json"
SLICE_SCHEMA = "mod_gateway.ci-gate/1"
RESULT_SCHEMA = "mod_gateway.ci-gate-result/1"
PROFILES = ("3.4", "5", "6")
SYSTEM = "apache-system"          # the slice's name for the Apache whose apxs is on PATH
DEFAULT_OUT = "reports/gate"
DEFAULT_JOBS = 3                  # 2 shared cores: cells mostly wait on servers, but timing cases suffer
DEFAULT_TIMEOUT = 600.0
RETRIED = ("fail", "timeout", "error")   # not setup-error/unavailable: those do not change on a rerun
SHIM = "--as-conformance"         # internal: `python -m conformance` with --target gateway replaced


class GateError(Exception):
    """The gate cannot run (exit 2); the message says why."""


# -- the slice file --------------------------------------------------------------------

def _active(allowance, today=None):
    return datetime.date.fromisoformat(allowance["expires"]) >= (today or datetime.date.today())


class Entry:
    def __init__(self, cell, allow_fail=None, case_allowances=(), profile=None):
        self.cell = cell                  # as written: apache-system/py3.11/event/daemon/mod_wsgi-debian
        self.profile = profile            # gateway cells: run under this profile, not the matrix's
        self.allow_fail = allow_fail      # {"reason", "expires"} or None
        self.case_allowances = list(case_allowances)   # allow_case_fail items whose cells match
        self.id = cell                    # resolved against this machine's Apache (resolve_ids)

    def excuse(self, case, today=None):
        """The active allowance that lets `case` ('MODE-015[daemon]') fail in this cell, or None."""
        cid, _, mode = case.rstrip("]").partition("[")
        return next((a for a in self.case_allowances if a["case"] == cid and a.get("mode", mode) == mode
                     and _active(a, today)), None)

    @property
    def expires(self):
        return datetime.date.fromisoformat(self.allow_fail["expires"]) if self.allow_fail else None

    def allowed(self, today=None):
        """True when this cell may fail today (an expired allowance counts as required)."""
        return bool(self.allow_fail) and _active(self.allow_fail, today)

    def role(self, today=None):
        if not self.allow_fail:
            return "required" + (" (profile %s)" % self.profile if self.profile else "")
        if self.allowed(today):
            return "allowed to fail until %s: %s" % (self.allow_fail["expires"], self.allow_fail["reason"])
        return "required (allowance expired %s: %s)" % (self.allow_fail["expires"], self.allow_fail["reason"])


def load_slice(path=SLICE):
    """The slice's entries; GateError names every problem with the file."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise GateError("cannot read the slice %s: %s" % (path, e))
    problems, entries, seen = [], [], set()
    if doc.get("schema") != SLICE_SCHEMA:
        problems.append("schema is %r, not %r" % (doc.get("schema"), SLICE_SCHEMA))
    for i, item in enumerate(doc.get("cells") or []):
        cell, allow, profile = item.get("cell", ""), item.get("allow_fail"), item.get("profile")
        where = "cells[%d] %s" % (i, cell)
        unknown = set(item) - {"cell", "allow_fail", "profile"}
        if profile is not None and (profile not in PROFILES or not cell.endswith("/gateway")):
            problems.append("%s: profile must be one of %s, on a gateway cell" % (where, ", ".join(PROFILES)))
        if unknown:
            problems.append("%s: unknown keys %s" % (where, ", ".join(sorted(unknown))))
        parts = cell.split("/")
        if len(parts) != 5 or not (parts[0] == SYSTEM or re.match(r"^apache\d+(\.\d+)+$", parts[0])) \
                or not re.match(r"^py\d+\.\d+$", parts[1]) or any("*" in p or "?" in p for p in parts):
            problems.append("%s: not a cell ID (%s|apache<version>)/py<X.Y>/<mpm>/<mode>/<target>"
                            % (where, SYSTEM))
        if cell in seen:
            problems.append("%s: listed twice" % where)
        seen.add(cell)
        if allow is not None:
            problems += _allowance_problems(where + ": allow_fail", allow, {"reason", "expires"})
        entries.append(Entry(cell, allow, profile=profile))
    if not entries:
        problems.append("no cells")
    for i, allow in enumerate(doc.get("allow_case_fail") or []):
        where = "allow_case_fail[%d] %s" % (i, allow.get("case"))
        problems += _allowance_problems(where, allow, {"case", "cells", "reason", "expires"}, {"mode"})
        if not re.match(r"^[A-Z]+-\d+$", str(allow.get("case"))):
            problems.append("%s: case is not a case ID such as MODE-015" % where)
        mine = [e for e in entries if matches(e.cell, str(allow.get("cells")))]
        if not mine:
            problems.append("%s: cells %r matches no cell of the slice" % (where, allow.get("cells")))
        for e in mine:
            e.case_allowances.append(allow)
    if problems:
        raise GateError("the slice %s is not valid:\n  %s" % (path, "\n  ".join(problems)))
    return entries


def _allowance_problems(where, allow, keys, optional=()):
    if not isinstance(allow, dict) or not keys <= set(allow) <= keys | set(optional) \
            or not str(allow.get("reason", "")).strip():
        return ["%s: needs exactly %s (optional: %s)" % (where, ", ".join(sorted(keys)), ", ".join(optional) or "-")]
    try:
        datetime.date.fromisoformat(allow["expires"])
    except (TypeError, ValueError):
        return ["%s: expires %r is not a YYYY-MM-DD date" % (where, allow["expires"])]
    return []


def apache_versions(entries):
    """Apache versions the slice names explicitly (the ones build-httpd may have to build)."""
    return sorted({e.cell.split("/")[0][len("apache"):] for e in entries if not e.cell.startswith(SYSTEM + "/")})


def resolve_ids(entries, system_version):
    for e in entries:
        if e.cell.startswith(SYSTEM + "/"):
            e.id = ("apache%s" % system_version if system_version else SYSTEM) + e.cell[len(SYSTEM):]
    return entries


def select_entries(entries, patterns):
    if not patterns:
        return list(entries)
    return [e for e in entries if any(matches(e.id, p) or matches(e.cell, p) for p in patterns)]


# -- what a cell's result says -----------------------------------------------------------

def failing_cases(record):
    """'QUE-001[embedded]' for each required case that failed in the cell's journal
    (record["journal"]: a conformance.journal.Journal, as matrix.store.load_records gives)."""
    journal = (record or {}).get("journal")
    return [c.label for c in journal.failed_required()] if journal else []


def counts(record):
    journal = (record or {}).get("journal")
    summary = journal.summary if journal else {}
    other = sum(v for k, v in summary.items() if k not in (PASS, FAIL))
    return summary.get(PASS, 0), summary.get(FAIL, 0), other


def verdicts(entries, records, today=None, first=None):
    """One row per entry: id, status, counts, role, whether it turns the gate red, and why;
    `first` holds the first attempt's record of the cells that were retried."""
    rows, first = [], first or {}
    for e in entries:
        rec = records.get(e.id)
        status = rec.get("status", "error") if rec else "not-run"
        npass, nfail, nother = counts(rec)
        cases = failing_cases(rec)
        excused = [c for c in cases if e.excuse(c, today)]
        remaining = [c for c in cases if c not in excused]
        why = (" ".join(remaining) if remaining else headline(rec.get("message")) if rec else
               "not in this machine's matrix (python -m matrix list)")
        only_excused = status == "fail" and bool(cases) and not remaining
        rows.append({"cell": e.id, "slice_cell": e.cell, "status": status, "pass": npass, "fail": nfail,
                     "other": nother, "role": e.role(today), "allowed": e.allowed(today),
                     "red": status != "pass" and not e.allowed(today) and not only_excused,
                     "failing_cases": cases, "why": "" if status == "pass" or only_excused else why,
                     "excused_cases": [{"case": c, "reason": e.excuse(c, today)["reason"],
                                        "expires": e.excuse(c, today)["expires"]} for c in excused]})
        if e.id in first:
            before = first[e.id] or {}
            rows[-1]["first_attempt"] = {"status": before.get("status"), "failing_cases": failing_cases(before),
                                         "why": headline(before.get("message"))}
    return rows


def print_table(rows, out=print):
    width = max([len(r["cell"]) for r in rows] + [4])
    out("\n%-*s  %-11s %5s %5s %5s  %s" % (width, "cell", "verdict", "pass", "fail", "other", "role"))
    for r in rows:
        verdict = r["status"].upper() if r["status"] != "pass" else "pass"
        out("%-*s  %-11s %5d %5d %5d  %s" % (width, r["cell"], verdict, r["pass"], r["fail"], r["other"], r["role"]))
    red = [r for r in rows if r["red"]]
    tolerated = [r for r in rows if r["status"] != "pass" and r["allowed"]]
    stale = [r for r in rows if r["status"] == "pass" and r["allowed"]]
    excused = [r for r in rows if r["status"] != "pass" and not r["red"] and not r["allowed"]]
    for r in excused:
        for x in r["excused_cases"]:
            out("allowed case failure %s: %s (until %s: %s)" % (r["cell"], x["case"], x["expires"], x["reason"]))
    for r in tolerated:
        cases = r["failing_cases"]
        why = ("%d failing cases: %s%s" % (len(cases), " ".join(cases[:6]), " ..." if len(cases) > 6 else "")
               if cases else r["why"])
        out("allowed failure %s (%s): %s" % (r["cell"], r["status"], why))
    for r in stale:
        out("note: %s passes; its allowance in ci/gate.json can go" % r["cell"])
    for r in rows:
        if r.get("first_attempt") and r["status"] == "pass":
            f = r["first_attempt"]
            out("flaky %s: passed on the retry; first attempt %s: %s"
                % (r["cell"], f["status"], " ".join(f["failing_cases"]) or f["why"]))
    for r in red:
        out("FAILED %s (%s): %s" % (r["cell"], r["status"], r["why"]))
    out("gate: %s -- %d cells, %d passed, %d passed but for allowed cases, %d allowed failures, "
        "%d required failures" % ("RED" if red else "GREEN", len(rows), sum(r["status"] == "pass" for r in rows),
                                  len(excused), len(tolerated), len(red)))
    return not red


# -- running ---------------------------------------------------------------------------

def provision():
    print("gate: bash ci/provision", flush=True)
    if subprocess.call(["bash", str(ROOT / "ci" / "provision")]) != 0:
        raise GateError("ci/provision failed (see above)")


def build_apaches(versions, log=lambda line: print(line, flush=True)):
    """Build the Apaches the slice names that build-httpd knows and the cache lacks; a
    failed build is reported and its cells end up unavailable (red when required)."""
    for v in versions:
        if v in httpd_builds.KNOWN and v not in httpd_builds.cached_builds():
            log("gate: python -m matrix build-httpd %s" % v)
            try:
                httpd_builds.build_httpd(v, log=log)
            except httpd_builds.BuildError as e:
                log("gate: %s" % e)


def module_python(module):
    """X.Y of the Python a module embeds, from the libpython it links."""
    targets.module_facts(module)          # raises TargetError for what is no WSGI module
    m = re.search(r"libpython(\d+\.\d+)", targets.linked_libpython(module))
    return m.group(1) if m else None


def check_gateway_module(module, cells):
    if not os.path.isfile(module):
        raise GateError("--gateway-module %s: no such file" % module)
    try:
        py = module_python(module)
    except targets.TargetError as e:
        raise GateError("--gateway-module: %s" % e)
    gw = [c for c in cells if c.target == "gateway"]
    if not gw:
        raise GateError("--gateway-module given but no gateway cell selected")
    wrong = [c.id for c in gw if py and c.python != py]
    if wrong:
        raise GateError("--gateway-module %s embeds Python %s; these selected cells use another "
                        "(narrow with --cells): %s" % (module, py, " ".join(wrong)))


class Prebuild:
    """The matrix runner's per-module prebuild, except for the gateway cells when a
    module is given (nothing to build: the session runs that module)."""

    def __init__(self, gateway_module=None):
        self.inner, self.gateway_module = Prebuilder(), gateway_module

    def __call__(self, cell):
        if self.gateway_module and cell.target == "gateway":
            return 0.0
        return self.inner(cell)


def as_conformance(argv):
    """`gate.py --as-conformance MODULE <conformance args>`: the matrix runner's session
    command while --gateway-module is set (MATRIX_CONFORMANCE_CMD): --target gateway
    becomes --target MODULE, everything else goes to python -m conformance unchanged."""
    module, args = argv[0], list(argv[1:])
    for i, a in enumerate(args[:-1]):
        if a == "--target" and args[i + 1] == "gateway":
            args[i + 1] = module
    os.execv(sys.executable, [sys.executable, "-m", "conformance"] + args)


def parse(argv):
    p = argparse.ArgumentParser(prog="ci/gate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be provisioned, built and run; run nothing")
    p.add_argument("--cells", nargs="+", action="extend", default=[], metavar="GLOB",
                   help="run only the slice's cells matching these globs (matrix cell syntax)")
    p.add_argument("--gateway-module", metavar="PATH",
                   help="run the gateway cells against this module instead of building mod_gateway from the tree")
    p.add_argument("--out", default=DEFAULT_OUT, help="output directory (default %(default)s)")
    p.add_argument("--jobs", "-j", type=int, default=DEFAULT_JOBS, help="cells at a time (default %(default)s)")
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per cell (default %(default)s)")
    p.add_argument("--retries", type=int, default=1,
                   help="run a cell that failed, errored or timed out again, this many times; the last "
                        "attempt counts and a pass after a failure is reported as flaky (default %(default)s)")
    p.add_argument("--no-provision", action="store_true", help="skip bash ci/provision")
    p.add_argument("--python", action="append", default=[], help="also consider this server Python")
    p.add_argument("--apxs", action="append", default=[], help="also consider the Apache install of this apxs")
    p.add_argument("--slice", default=str(SLICE), help="the slice file (default ci/gate.json)")
    p.add_argument("pytest_args", nargs="*", help="after --: passed to every cell's session")
    return p.parse_args(argv)


def discover_slice(a, entries, assume_built=False):
    """(the selected entries, {cell id: matrix cell}) on this machine's matrix."""
    try:
        found = axes.discover(a.python, assume_built, a.apxs)
    except axes.AxisError as e:
        raise GateError(str(e))
    resolve_ids(entries, next((ap.version for ap in found.apaches if ap.source == "system"), None))
    chosen = select_entries(entries, a.cells)
    if not chosen:
        raise GateError("no cell of the slice matches %s" % " ".join(a.cells))
    by_id = {c.id: c for c in found.cells}
    for e in chosen:
        if e.profile and e.id in by_id:      # e.g. the seed profile 3.4, which no matrix cell uses
            by_id[e.id] = dataclasses.replace(by_id[e.id], profile=e.profile)
    return found, chosen, by_id


def dry_run(a, entries):
    found, chosen, by_id = discover_slice(a, entries, assume_built=True)
    if not a.no_provision:
        print("would run: bash ci/provision")
    for v in apache_versions(chosen):
        state = "cached: nothing to build" if v in httpd_builds.cached_builds() else "to build"
        print("would run: python -m matrix build-httpd %s   (%s)" % (v, state))
    print("would run %d cells into %s (jobs %d):" % (len(chosen), a.out, a.jobs))
    for e in chosen:
        cell = by_id.get(e.id)
        here = ("not in this machine's matrix" if cell is None else
                "unavailable: " + cell.unavailable if cell.unavailable else "runnable")
        print("  %-52s %-24s %s" % (e.id, "[%s]" % here, e.role()))
    print("matrix equivalent: python -m matrix run --fresh --out %s --cells %s"
          % (shlex.quote(a.out), " ".join(e.id for e in chosen)))
    return 0


def gate(a):
    entries = load_slice(a.slice)
    if a.dry_run:
        return dry_run(a, entries)
    if not a.no_provision:
        provision()
    build_apaches(apache_versions(select_entries(entries, a.cells)))   # by the slice's names
    found, chosen, by_id = discover_slice(a, entries)
    cells = [by_id[e.id] for e in chosen if e.id in by_id]
    if a.gateway_module:
        a.gateway_module = os.path.abspath(a.gateway_module)
        check_gateway_module(a.gateway_module, cells)
        os.environ["MATRIX_CONFORMANCE_CMD"] = " ".join(
            shlex.quote(x) for x in (sys.executable, str(Path(__file__).resolve()), SHIM, a.gateway_module))
        print("gate: gateway cells run against %s" % a.gateway_module)
    out = Path(a.out).resolve()
    for old in ("cells", "first-attempt"):                      # this run's cells only
        shutil.rmtree(str(out / old), ignore_errors=True)
    store.write_json(out / "axes.json", found.as_dict())
    signal.signal(signal.SIGTERM, _raise_interrupt)   # a cancelled CI job stops the cells like Ctrl-C
    print("gate: %d cells of %s%s" % (len(chosen), os.path.relpath(a.slice, str(ROOT)),
                                      " matching " + " ".join(a.cells) if a.cells else ""), flush=True)
    log = lambda line: print(line, flush=True)  # noqa: E731
    prebuild = Prebuild(a.gateway_module)
    records = run_cells(cells, out, a.jobs, 1, a.cell_timeout, a.pytest_args, fresh=True,
                        prebuild=prebuild, log=log)
    first = {}
    for _ in range(a.retries):
        again = [c for c in cells if (records.get(c.id) or {}).get("status") in RETRIED]
        if not again:
            break
        log("gate: retrying %d cell(s) that did not pass: %s" % (len(again), " ".join(c.id for c in again)))
        now = store.load_records(out)
        for c in again:
            first.setdefault(c.id, now.get(c.id))
            keep = out / "first-attempt" / "cells" / c.id
            shutil.rmtree(str(keep), ignore_errors=True)
            shutil.copytree(str(store.cell_dir(out, c.id)), str(keep))
        records.update(run_cells(again, out, min(a.jobs, 2), 1, a.cell_timeout, a.pytest_args, fresh=True,
                                 prebuild=prebuild, log=log))
    paths = publish.write_report(out, expected=cells)
    rows = verdicts(chosen, store.load_records(out), first=first)
    green = print_table(rows)
    store.write_json(out / "gate.json", {
        "schema": RESULT_SCHEMA, "passed": green, "slice": str(a.slice),
        "gateway_module": a.gateway_module, "finished": datetime.datetime.now(
            datetime.timezone.utc).isoformat(timespec="seconds"), "cells": rows})
    print("gate: report %s, verdict %s" % (paths["html"], out / "gate.json"))
    return 0 if green else 1


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [SHIM]:
        return as_conformance(argv[1:])
    a = parse(argv)
    try:
        return gate(a)
    except KeyboardInterrupt:
        print("gate: interrupted", file=sys.stderr)
        return 130
    except GateError as e:
        print("gate: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
