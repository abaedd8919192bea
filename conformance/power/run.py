"""Build each mutant, put it through the suite, classify it, write reports/power/.

A run works on its own copy of gateway/src and of the suite (conformance/, gateway/) taken
when it starts, as others edit the tree; it builds the unmutated copy first and requires the
suite green on it under every profile, and the unit tests that compile a sampled file (unit.py)
green on it too.  Mutants reviewed as equivalent or unreachable (equivalent.json) are not run.
"""

import datetime
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from gateway import build
from gateway.httpd import kill_tree
from gateway.text import fmt_duration
from . import SCHEMA, equivalent as EQ, mutants as M, unit as U

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("killed", "survived", "stillborn", "identical", "equivalent", "error")
_RUNNING = set()        # sessions (suite, unit tests) in flight, stopped on Ctrl-C
_STOP = threading.Event()


class BaselineRed(Exception):
    """The unmutated module does not pass: a score would mean nothing."""


def stripped(so, work):
    """The module's bytes without symbols, debug info and build ID (which hashes the debug info)."""
    fd, out = tempfile.mkstemp(dir=str(work), suffix=".stripped")
    os.close(fd)
    out = Path(out)
    subprocess.run(["objcopy", "--strip-all", "--remove-section=.note.gnu.build-id", str(so), str(out)],
                   check=True)
    try:
        return out.read_bytes()
    finally:
        out.unlink()


def _sessions_under(tmp):
    """PIDs of processes started under `tmp` (Apache's -f names its server root there) and of
    every process in their sessions (children, daemons that renamed themselves)."""
    procs = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path("/proc/%s/cmdline" % d).read_bytes()
            stat = Path("/proc/%s/stat" % d).read_text().rsplit(")", 1)[1].split()
            procs[int(d)] = (cmd, int(stat[3]))
        except (OSError, IndexError, ValueError):
            continue
    sids = {sid for cmd, sid in procs.values() if tmp.encode() in cmd}
    sids.discard(os.getsid(0))
    return [p for p, (cmd, sid) in procs.items() if sid in sids or tmp.encode() in cmd]


def _spawn(cmd, opts, stem, timeout, **env):
    """Run cmd from the tree copy in a session of its own, output to stem.log, `env` added to
    the environment; its exit code, or None when it ran over `timeout` (then killed)."""
    if _STOP.is_set():
        raise KeyboardInterrupt
    with open(stem.with_suffix(".log"), "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(opts.tree),
                                env=dict(os.environ, PYTHONPATH=str(opts.tree), **env),
                                start_new_session=True)
        _RUNNING.add(proc.pid)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            return None
        finally:
            _RUNNING.discard(proc.pid)


def run_suite(so, opts, profile, stem, timeout, extra=(), case_args=True):
    """One `python -m conformance` session; (exit code or None on timeout, journal or None)."""
    journal = stem.with_suffix(".json")
    tmp = tempfile.mkdtemp(prefix="suite-", dir=str(opts.work))
    os.chmod(tmp, 0o755)           # the server roots go under it; Apache's children traverse it
    cmd = [sys.executable, "-m", "conformance", "--target", str(so), "--server-python", opts.python,
           "--profile", profile, "--mode", "both", "--json", str(journal)] + list(extra)
    cmd += opts.case_args if case_args else []
    try:
        rc = _spawn(cmd, opts, stem, timeout, TMPDIR=tmp)
    finally:
        for pid in _sessions_under(tmp):       # no Apache of ours outlives its session, by PID
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        return rc, json.loads(journal.read_text())
    except (OSError, ValueError):
        return rc, None


def unit_session(tests, src, opts, stem, timeout):
    """The unit tests `tests` on the sources in `src`; (exit code or None on timeout, the failed
    node ids: on a timeout, the tests themselves)."""
    basetemp = Path(tempfile.mkdtemp(prefix="unit-", dir=str(opts.work)))
    try:
        rc = _spawn(U.command(tests, basetemp / "t"), opts, stem, timeout, GW_SRC=str(src))
    finally:
        shutil.rmtree(str(basetemp), ignore_errors=True)
    log = stem.with_suffix(".log").read_text(errors="replace")
    return rc, list(tests) if rc is None else U.failed(log)


def failures(journal):
    return [c for c in (journal or {}).get("cases", []) if c.get("verdict") == "fail" and c.get("required")]


def failed_cases(journal):
    return ["%s[%s]" % (c["id"], c["mode"]) for c in failures(journal)]


def mutant_session(so, opts, p, i, timeout):
    """The mutant's session under profile p, stopping at the first failure; a failure counts
    only if the failing cases fail again on their own (--confirm times), else they are set
    aside as flaky and the session runs again without them.  (rc, journal, flaky case ids,
    the stem of the last session's files)."""
    deselect, flaky, attempt = [], [], 0
    while True:              # ends: each round deselects the cases that failed in it
        attempt += 1
        stem = opts.out / "runs" / ("m%03d-%s%s" % (i, p, "-%d" % attempt if attempt > 1 else ""))
        rc, journal = run_suite(so, opts, p, stem, timeout, ["--maxfail=1"] + deselect)
        failed = failures(journal)
        if rc is None or not failed:
            break
        ids = sorted({c["id"] for c in failed})
        for k in range(opts.confirm):
            again, _ = run_suite(so, opts, p, stem.with_name(stem.name + "-confirm%d" % (k + 1)), timeout,
                                 ["-k", " or ".join(ids)], case_args=False)
            if again == 0:
                flaky += ids
                deselect += [a for c in failed for a in ("--deselect", c["nodeid"])]
                break
        else:
            break
    return rc, journal, flaky, stem


def _tail(path, n=15):
    """The session's verdict lines (pytest's FAILED/ERROR summary), else its last n lines."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    verdict = [l for l in lines if l.startswith(("FAILED", "ERROR", "INTERNALERROR"))]
    return "\n".join(l[:300] for l in (verdict[:n] + lines[-1:] if verdict else lines[-n:]))


def baseline(opts, src, chosen):
    """Build the unmutated copy, run the unit tests of the chosen mutants' files on it and the
    suite under every profile; returns (module, facts)."""
    so = build.build_module(opts.python, src=src)
    facts = {"module": str(so), "profiles": {}}
    tests = U.tests_for({m.file for m in chosen if m not in opts.equivalents})
    if tests:
        t0 = time.monotonic()
        stem = opts.out / "runs" / "baseline-unit"
        rc, failed = unit_session(tests, src, opts, stem, opts.timeout or 600)
        facts["unit"] = {"tests": tests, "exit_code": rc, "duration_s": round(time.monotonic() - t0, 1)}
        if rc != 0:
            raise BaselineRed("the unit tests fail on the unmutated sources: %s\n(%s)\n%s" % (
                " ".join(failed) or "exit %s" % rc, stem.with_suffix(".log"), _tail(stem.with_suffix(".log"))))
    for p in opts.profiles:
        t0 = time.monotonic()
        rc, journal = run_suite(so, opts, p, opts.out / "runs" / ("baseline-%s" % p), opts.timeout or 3600)
        facts["profiles"][p] = {"exit_code": rc, "duration_s": round(time.monotonic() - t0, 1),
                                "summary": (journal or {}).get("summary")}
        if rc != 0:
            why = failed_cases(journal) or [(journal or {}).get("setup_error") or "exit %s" % rc]
            raise BaselineRed("the unmutated module is not green under profile %s: %s\n(%s)\n%s" % (
                p, " ".join(why), opts.out / "runs" / ("baseline-%s.log" % p),
                _tail(opts.out / "runs" / ("baseline-%s.log" % p))))
    return so, facts


def judge(i, m, opts, src, base_bytes, timeouts):
    """One mutant's record: unless reviewed as equivalent, build it, compare it, run its file's
    unit tests on it, then the suite profile by profile."""
    t0 = time.monotonic()
    rec = dict(m.as_dict(), index=i, classification=None, reason="", profile=None, failed_cases=[],
               flaky_cases=[])
    entry = opts.equivalents.get(m)
    if entry:
        rec.update(classification="equivalent", kind=entry["kind"], reason=entry["why"], duration_s=0.0)
        return rec
    mdir = opts.work / ("m%03d" % i)
    mdir.mkdir()
    for f in build.source_files(src):
        shutil.copy2(str(f), str(mdir / f.name))
    target = mdir / m.file
    target.write_text(M.apply(m, target.read_text()))
    try:
        so = build.build_module(opts.python, src=mdir)
    except build.BuildError as e:
        errors = [l for l in str(e).splitlines() if "error" in l]
        rec.update(classification="stillborn", reason=" | ".join(errors[:3])[:400])
    else:
        rec["build_s"] = round(time.monotonic() - t0, 1)
        if stripped(so, opts.work) == base_bytes:
            rec.update(classification="identical")
        else:
            _sessions(rec, i, m, opts, mdir, so, timeouts)
    shutil.rmtree(str(mdir), ignore_errors=True)
    rec["duration_s"] = round(time.monotonic() - t0, 1)
    return rec


def _sessions(rec, i, m, opts, mdir, so, timeouts):
    """Classify a built mutant: its file's unit tests first (seconds), then the suite under each
    profile, up to the first session that fails it."""
    tests = U.tests_for([m.file])
    if tests:
        stem = opts.out / "runs" / ("m%03d-unit" % i)
        rc, failed = unit_session(tests, mdir, opts, stem, timeouts["unit"])
        if rc != 0:
            return _verdict(rec, "unit", rc, failed, stem, timeouts["unit"], _tail(stem.with_suffix(".log"), 3))
    for p in opts.profiles:
        rc, journal, flaky, stem = mutant_session(so, opts, p, i, timeouts[p])
        rec["flaky_cases"] += flaky
        if rc != 0:
            return _verdict(rec, p, rc, failed_cases(journal), stem, timeouts[p], "failed cases",
                            (journal or {}).get("setup_error"))
    rec.update(classification="survived")


def _verdict(rec, profile, rc, failed, stem, timeout, why, setup_error=None):
    """A session that did not pass: the mutant is killed if it failed tests, exited 1 or hung;
    set-up errors and harness crashes are not its doing (error: not in the score)."""
    tail = _tail(stem.with_suffix(".log"), 3)
    rec.update(profile=profile, failed_cases=failed)
    if rc is None:
        rec.update(classification="killed", reason="timeout after %ds" % timeout)
    elif failed or rc == 1:
        rec.update(classification="killed", reason=why if failed else "exit 1: " + tail)
    else:
        rec.update(classification="error", reason=setup_error or "exit %s: %s" % (rc, tail))


def _change(rec, width=70):
    return M.Mutant(**{k: rec[k] for k in M.Mutant.__dataclass_fields__}).change(width)


def totals(records):
    """Counts by class; `score` over the viable mutants less the reviewed equivalent and
    unreachable ones (killed + survived), `raw_score` over every viable one (those counted as
    survivors, as they were before the review)."""
    t = {c: sum(r["classification"] == c for r in records) for c in CLASSES}
    viable = t["killed"] + t["survived"]
    t["score"] = round(t["killed"] / viable, 4) if viable else None
    t["raw_score"] = round(t["killed"] / (viable + t["equivalent"]), 4) if viable + t["equivalent"] else None
    return t


def _pct(score, digits=1):
    return "n/a" if score is None else "%.*f %%" % (digits, 100 * score)


def write_reports(opts, doc):
    recs = doc["mutants"]
    doc["totals"] = totals(recs)
    doc["score"] = doc["totals"]["score"]
    doc["by_family"] = {f: totals([r for r in recs if r["family"] == f]) for f in M.FAMILIES}
    (opts.out / "power.json").write_text(json.dumps(doc, indent=1))
    t = doc["totals"]
    viable = t["killed"] + t["survived"]
    lines = ["# Suite power", "",
             "**Score %s** (killed %d / viable %d, reviewed equivalent or unreachable %d left out); "
             "raw %s (killed %d / all %d viable) — %d mutants, seed %s, profiles %s, %s%s." % (
                 _pct(t["score"]), t["killed"], viable, t["equivalent"], _pct(t["raw_score"]), t["killed"],
                 viable + t["equivalent"], len(recs), doc["seed"], ", ".join(doc["profiles"]),
                 fmt_duration(doc["duration_s"]), "" if doc["complete"] else " (incomplete)"),
             "", "Sources: commit %s%s (sha256 %s); server Python %s; suite args `%s`." % (
                 doc["source"]["commit"][:10], " + uncommitted changes" if doc["source"]["dirty"] else "",
                 doc["source"]["sha256"][:12],
                 doc["server_python"], " ".join(doc["case_args"]) or "(none)"),
             "", "| family | %s | score | raw |" % " | ".join(CLASSES), "|---" * (len(CLASSES) + 3) + "|"]
    for f, ft in doc["by_family"].items():
        lines.append("| %s | %s | %s | %s |" % (f, " | ".join(str(ft[c]) for c in CLASSES),
                                               _pct(ft["score"], 0), _pct(ft["raw_score"], 0)))
    lines += ["", "## Survivors", ""]
    surv = [r for r in recs if r["classification"] == "survived"]
    lines += ["| # | where | family | change |", "|---|---|---|---|"] if surv else ["None."]
    lines += ["| %d | %s:%d | %s | %s |" % (r["index"], r["file"], r["line"], r["family"],
                                                                _change(r)) for r in surv]
    other = [r for r in recs if r["classification"] in ("killed", "error")]
    if other:
        lines += ["", "## Killed and errors", "", "| # | where | family | verdict | profile | by |",
                  "|---|---|---|---|---|---|"]
        lines += ["| %d | %s:%d | %s | %s | %s | %s |" % (
            r["index"], r["file"], r["line"], r["family"], r["classification"], r["profile"],
            " ".join(r["failed_cases"][:3]) or r["reason"].replace("\n", " ").replace("|", "/")[:120])
            for r in other]
    equiv = [r for r in recs if r["classification"] == "equivalent"]
    if equiv:
        lines += ["", "## Reviewed equivalent and unreachable (not run)", "",
                  "Matched an entry of conformance/power/equivalent.json; left out of the score, "
                  "counted in the raw score.", "", "| # | where | family | change | kind | why |",
                  "|---|---|---|---|---|---|"]
        lines += ["| %d | %s:%d | %s | %s | %s | %s |" % (
            r["index"], r["file"], r["line"], r["family"], _change(r), r["kind"], r["reason"].replace("|", "/"))
            for r in equiv]
    flaky = {}
    for r in recs:
        for c in r.get("flaky_cases", []):
            flaky[c] = flaky.get(c, 0) + 1
    if flaky:
        lines += ["", "## Flaky cases", "", "Failed on a mutant, then passed on the same mutant (set aside, "
                  "not counted as kills): " + ", ".join("%s (%d mutants)" % kv for kv in sorted(flaky.items()))]
    (opts.out / "power.md").write_text("\n".join(lines) + "\n")


def _source_state(src):
    """The commit, gateway/src's uncommitted changes, and a hash of the copy judged (which
    names the sources when the tree is not a git checkout)."""
    def git(*a):
        return subprocess.run(["git"] + list(a), cwd=str(REPO), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
    h = hashlib.sha256()
    for f in build.source_files(src):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return {"commit": git("rev-parse", "HEAD") or "unknown", "sha256": h.hexdigest(),
            "dirty": git("status", "--porcelain", "--", str(build.SRC)).splitlines()}


def run(opts, chosen=None, log=print):
    """The whole run; `chosen` replaces the sampled mutants (a list of Mutant); returns the doc."""
    opts.out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(str(opts.out / "runs"), ignore_errors=True)
    (opts.out / "runs").mkdir()
    opts.work = Path(tempfile.mkdtemp(prefix="power-"))
    os.chmod(str(opts.work), 0o755)
    started = time.monotonic()
    try:
        src = opts.work / "src"
        src.mkdir()
        for f in build.source_files():       # a snapshot: the tree may change during the run
            shutil.copy2(str(f), str(src / f.name))
        opts.tree = opts.work / "tree"       # and the suite that judges it, run from there
        for pkg in ("conformance", "gateway"):
            shutil.copytree(str(REPO / pkg), str(opts.tree / pkg),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        opts.equivalents = EQ.load(src)      # a stale entry stops the run before any build
        chosen = chosen if chosen is not None else select(opts, src)
        doc = {"schema": SCHEMA, "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "seed": opts.seed, "mutants_requested": opts.mutants, "files": opts.files,
               "profiles": opts.profiles, "server_python": opts.python, "case_args": opts.case_args,
               "source": _source_state(src), "equivalent_entries": len(opts.equivalents),
               "complete": False, "duration_s": 0.0, "mutants": []}
        log("baseline: building and running the unmutated copy under profiles %s" % ", ".join(opts.profiles))
        so, doc["baseline"] = baseline(opts, src, chosen)
        base_bytes = stripped(so, opts.work)
        # a mutant's session may take three times the baseline's (it shares the cores) plus a minute
        timeouts = {p: opts.timeout or 3 * f["duration_s"] + 60 for p, f in doc["baseline"]["profiles"].items()}
        timeouts["unit"] = opts.timeout or 3 * doc["baseline"].get("unit", {}).get("duration_s", 0) + 60
        log("baseline green (%s); %d mutants, %d at a time" % (
            ", ".join("%s: %ss" % (p, f["duration_s"]) for p, f in doc["baseline"]["profiles"].items()),
            len(chosen), opts.jobs))
        lock = threading.Lock()
        with ThreadPoolExecutor(max(1, opts.jobs)) as pool:
            futs = [pool.submit(judge, i, m, opts, src, base_bytes, timeouts) for i, m in enumerate(chosen, 1)]
            try:
                for fut in as_completed(futs):
                    rec = fut.result()
                    with lock:
                        doc["mutants"] = sorted(doc["mutants"] + [rec], key=lambda r: r["index"])
                        doc["duration_s"] = round(time.monotonic() - started, 1)
                        write_reports(opts, doc)
                    why = " ".join(rec["failed_cases"][:2]) or rec["reason"].splitlines()[0][:70] \
                        if rec["reason"] else ""
                    log("[%d/%d] #%d %s %s: %s %s (%ss)" % (
                        len(doc["mutants"]), len(chosen), rec["index"], rec["id"], _change(rec, 40),
                        rec["classification"].upper(), why, rec["duration_s"]))
            except KeyboardInterrupt:
                _STOP.set()
                for f in futs:
                    f.cancel()
                for pid in list(_RUNNING):
                    kill_tree(pid, grace=3)
                raise
        doc["complete"] = True
        doc["duration_s"] = round(time.monotonic() - started, 1)
        write_reports(opts, doc)
        return doc
    finally:
        shutil.rmtree(str(opts.work), ignore_errors=True)


def select(opts, src):
    """The mutants of this run: those named by --mutant ID, else a sample."""
    if not opts.mutant:
        return M.sample(src, opts.mutants, opts.seed, opts.files)
    every = {s.id: s for p in M.c_files(src) for s in M.sites(p.name, p.read_text())}
    missing = [i for i in opts.mutant if i not in every]
    if missing:
        raise SystemExit("no such mutation site in the current sources: %s (see --list)" % " ".join(missing))
    return [every[i] for i in opts.mutant]


def parse_args(argv=None):
    import argparse
    from conformance.targets import find_python
    p = argparse.ArgumentParser(prog="python -m conformance.power", description=(
        "Sample single-point mutations of gateway/src/*.c, build each, run the suite on it and "
        "report how many it kills."))
    p.add_argument("--mutants", type=int, default=60, help="how many to sample (default %(default)s)")
    p.add_argument("--seed", type=int, default=12, help="sampling seed (default %(default)s)")
    p.add_argument("--server-python", default="3.11.7", help="path or version (default %(default)s, pyenv)")
    p.add_argument("--profiles", default="5,6,3.4", help="comma-separated, run in this order (default %(default)s)")
    p.add_argument("--out", default="reports/power", help="report directory (default %(default)s)")
    p.add_argument("--files", default="*.c", help="comma-separated globs of gateway/src files (default %(default)s)")
    p.add_argument("--jobs", "-j", type=int, default=2, help="mutants judged at a time (default %(default)s)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per suite session (default: 3x the baseline's plus 60)")
    p.add_argument("--case-args", action="append", default=[], metavar="ARGS",
                   help="extra suite arguments, shell-split, e.g. --case-args='-k ENV -n 2' (repeatable)")
    p.add_argument("--confirm", type=int, default=2, metavar="N",
                   help="rerun a mutant's failing cases N times; a pass sets them aside as flaky (default %(default)s)")
    p.add_argument("--mutant", action="append", default=[], metavar="ID",
                   help="judge this site (file:line:col:family, from --list) instead of sampling (repeatable)")
    p.add_argument("--list", action="store_true", help="print the sampled mutants and exit")
    a = p.parse_args(argv)
    a.python = find_python(a.server_python)
    a.profiles = [x.strip() for x in a.profiles.split(",") if x.strip()]
    a.case_args = [w for s in a.case_args for w in shlex.split(s)]
    a.out = Path(a.out).resolve()
    return a


def _raise(e):
    raise e


def main(argv=None):
    opts = parse_args(argv)
    if opts.list:
        with tempfile.TemporaryDirectory() as d:
            for f in build.source_files():
                shutil.copy2(str(f), d)
            try:
                eq = EQ.load(d)
            except EQ.EntryError as e:
                print("power: %s" % e, file=sys.stderr)
                return 2
            for i, m in enumerate(select(opts, d), 1):
                print("%3d %-36s %s%s" % (i, m.id, m.change(), "  [reviewed %s]" % eq[m]["kind"] if m in eq else ""))
        return 0
    signal.signal(signal.SIGTERM, lambda *a: _raise(KeyboardInterrupt))   # `kill PID` stops cleanly
    try:
        doc = run(opts)
    except EQ.EntryError as e:
        print("power: %s" % e, file=sys.stderr)
        return 2
    except BaselineRed as e:
        print("power: %s" % e, file=sys.stderr)
        return 2
    except build.BuildError as e:
        print("power: the unmutated sources do not build: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("power: interrupted; partial reports in %s" % opts.out, file=sys.stderr)
        return 130
    t = doc["totals"]
    print("score %s (raw %s): %d killed, %d survived, %d stillborn, %d identical, %d equivalent, %d error "
          "in %s; %s" % (_pct(t["score"]), _pct(t["raw_score"]), t["killed"], t["survived"], t["stillborn"],
                         t["identical"], t["equivalent"], t["error"], fmt_duration(doc["duration_s"]),
                         opts.out / "power.md"))
    return 0
