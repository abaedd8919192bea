"""python -m matrix run: one `python -m conformance` session per cell, cells in parallel.

    python -m matrix run [--cells GLOB ...] [--jobs N|auto] [--workers-per-cell N]
                         [--cell-timeout S] [--rerun-failed] [--fresh] [--python PATH ...]
                         [--out reports/matrix] [-- pytest args]
    python -m matrix run --cell ID --out DIR        exactly one cell (CI fan-out)
    python -m matrix run --tests PATH [PATH ...] [--cells GLOB ...] [-- pytest args]

--tests runs your own pytest suite (tests written against the mod_gateway_pytest plugin)
in each selected cell instead of the conformance suite: `pytest PATH... --wsgi-target
--wsgi-mode --wsgi-server-python --wsgi-apxs --wsgi-mpm --wsgi-profile` from the cell, in the
current directory, with the same records, report, JUnit files and exit status (default
--out reports/matrix-tests).

Cells start longest first; how many run at once follows the CPU unless --jobs fixes it
(Jobs).  Resumable: a cell whose record is on disk for the same definition is reused;
--rerun-failed runs only the cells recorded as fail/timeout/error/setup-error.
Targets are built before their cell's session (one build per module, cached by
conformance.targets) so the build's cost is measured apart and parallel cells never
build the same module twice.  A cell that outlives --cell-timeout is killed with
every process it started (Apache runs in sessions of its own, so by PID, not by group).

MATRIX_CONFORMANCE_CMD replaces `python -m conformance` (tests use a fake that writes
a synthetic journal); with it set, no target is pre-built.
"""

import argparse
import datetime
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from conformance import targets
from conformance.journal import KNOWN_DEVIATION, FAIL, PASS, SKIP, JournalError
from gateway.host import cache_root
from gateway import httpd
from gateway.httpd import kill_tree

from . import store
from .cells import select
from gateway.text import fmt_duration, headline

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = "reports/matrix"
DEFAULT_TESTS_OUT = "reports/matrix-tests"
DEFAULT_TIMEOUT = 900.0
# Cells wait a good part of their time (server starts, daemon timeouts, sleeps), so more
# cells than cores run at once, one worker per cell (3 jobs x 2 xdist workers cost 60%
# more CPU for the same wall time).  How many is the CPU's call: see Jobs.
AUTO = "auto"
DEFAULT_JOBS = AUTO


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")



# -- the session command ---------------------------------------------------------------

def tests_command(cell, cdir, tests, workers=1, pytest_args=()):
    """`pytest TESTS` with the mod_gateway_pytest options that make it this cell.  Values go
    as --opt=value: pytest takes any existing path among its arguments into the rootdir."""
    opts = [("--wsgi-target", cell.target), ("--wsgi-mode", cell.mode),
            ("--wsgi-server-python", cell.python_path), ("--wsgi-apxs", cell.apxs), ("--wsgi-mpm", cell.mpm),
            ("--wsgi-profile", cell.profile),
            ("--wsgi-mod-wsgi-version", cell.mod_wsgi_version if cell.target == "mod_wsgi" else None),
            ("--wsgi-journal", cdir / "journal.json"), ("--junitxml", cdir / "junit.xml")]
    cmd = [sys.executable, "-m", "pytest"] + [str(t) for t in tests] + [
        "-p", "mod_gateway_pytest", "-p", "no:cacheprovider", "-q", "-rfE"]
    cmd += ["%s=%s" % (k, v) for k, v in opts if v]
    if workers > 1:
        cmd += ["-n", str(workers)]
    return cmd + list(pytest_args)


def conformance_command(cell, cdir, workers=1, pytest_args=(), tests=None):
    if tests:
        return tests_command(cell, cdir, tests, workers, pytest_args)
    fake = os.environ.get("MATRIX_CONFORMANCE_CMD")
    cmd = shlex.split(fake) if fake else [sys.executable, "-m", "conformance"]
    cmd += ["--target", cell.target, "--server-python", cell.python_path, "--apxs", cell.apxs,
            "--mpm", cell.mpm, "--mode", cell.mode, "--profile", cell.profile,
            "--json", str(cdir / "journal.json"), "--junitxml", str(cdir / "junit.xml")]
    if cell.target == "mod_wsgi":
        cmd += ["--mod-wsgi-version", cell.mod_wsgi_version]
    if workers > 1:
        cmd += ["-n", str(workers)]
    return cmd + list(pytest_args)


def session_env():
    """A session's environment: ours, the repository first on PYTHONPATH, and byte code kept
    in the cache (PYTHONPYCACHEPREFIX) instead of nowhere.  Under PYTHONDONTWRITEBYTECODE
    (tox sets it, to keep the tree free of __pycache__) every session redid pytest's
    assertion rewriting of the suite, about 1 CPU-s of a cell's 8; in the cache's own
    directory nothing lands in the tree either.  Apache never sees this environment
    (gateway.httpd.SCRUBBED_ENV)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and not env.get("PYTHONPYCACHEPREFIX"):
        env["PYTHONPYCACHEPREFIX"] = str(cache_root() / "pycache")
    return env


class Prebuilder:
    """Builds each cell's module once, before its session; one lock per distinct module,
    and a failed build is not retried by the next cell that needs the same module."""

    def __init__(self):
        self.locks = {}
        self.failed = {}
        self.guard = threading.Lock()

    def __call__(self, cell):
        key = (cell.target, cell.python_path, cell.apxs, cell.mod_wsgi_version)
        with self.guard:
            lock = self.locks.setdefault(key, threading.Lock())
        with lock:
            if key in self.failed:
                raise RuntimeError("(as for an earlier cell) " + self.failed[key])
            t0 = time.monotonic()
            try:
                targets.resolve(cell.target, cell.python_path, cell.apxs,
                                cell.mod_wsgi_version if cell.target == "mod_wsgi" else None)
            except Exception as e:
                self.failed[key] = str(e)
                raise
            return round(time.monotonic() - t0, 3)


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- one cell --------------------------------------------------------------------------

class Interrupted(Exception):
    """The run was stopped (Ctrl-C, SIGTERM) while this cell ran: it has no result."""


# Sessions running now, so that an interrupted run can stop them: they run in sessions
# of their own, out of reach of the terminal's Ctrl-C.
_RUNNING = {}
_STOPPING = threading.Event()


def stop_running():
    _STOPPING.set()
    for pid in list(_RUNNING):
        kill_tree(pid, grace=3)


def run_cell(cell, out, workers=1, timeout=DEFAULT_TIMEOUT, pytest_args=(), prebuild=None, tests=None):
    """Run one cell's session (the conformance suite, or the `tests` given); writes and
    returns its record."""
    cdir = store.cell_dir(out, cell.id)
    store.clear_cell(out, cell.id)
    cdir.mkdir(parents=True, exist_ok=True)
    rec = {"cell": cell.as_dict(), "started": now_iso(), "host": socket.gethostname(),
           "build_s": 0.0, "exit_code": None, "message": ""}
    if tests:
        rec["tests"] = [str(t) for t in tests]
    t0 = time.monotonic()
    if prebuild:
        try:
            rec["build_s"] = prebuild(cell)
        except Exception as e:  # any build failure is this cell's setup error, not the run's
            rec.update(status="setup-error", message="building %s: %s" % (cell.target, e),
                       wall_s=round(time.monotonic() - t0, 3), finished=now_iso())
            store.write_record(out, rec)
            return rec
    cmd = conformance_command(cell, cdir, workers, pytest_args, tests)
    rec["command"] = cmd
    env = session_env()
    with open(cdir / "output.log", "wb") as log:
        if _STOPPING.is_set():
            raise Interrupted(cell.id)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd() if tests else str(REPO), env=env,
                                start_new_session=True)
        _RUNNING[proc.pid] = cell.id
        try:
            rc, rec["cpu_s"] = _wait(proc, timeout)
        except subprocess.TimeoutExpired:
            killed = kill_tree(proc.pid)
            proc.wait()
            rc = None
            rec.update(status="timeout", message="no result after %ss; killed %d processes\n%s"
                       % (timeout, killed, _tail(cdir / "output.log")))
        finally:
            _RUNNING.pop(proc.pid, None)
    if _STOPPING.is_set():
        store.clear_cell(out, cell.id)
        raise Interrupted(cell.id)
    rec["exit_code"] = rc
    rec["wall_s"] = round(time.monotonic() - t0, 3)
    if rc is not None:
        try:
            journal = store.read_journal(cdir / "journal.json")
        except JournalError as e:
            rec.update(status="error", message="exit code %s and %s\n%s" % (rc, e, _tail(cdir / "output.log")))
        else:
            rec.update(_status(rc, journal, cdir))
    rec["finished"] = now_iso()
    store.write_record(out, rec)
    return rec


def _wait(proc, timeout):
    """proc.wait(timeout), and the CPU seconds the session used with everything it reaped
    (Apache, which reaps its children and daemons), read from the zombie before reaping it."""
    deadline = time.monotonic() + timeout
    while not os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG):
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.1)
    cpu = round(httpd.cpu_s(proc.pid), 2)
    return proc.wait(), cpu


def _status(rc, journal, cdir):
    """The cell's status from the session's exit code and journal (the contract: 0 every
    required case passed, 1 one failed, 2 setup error; anything else is a harness error)."""
    if journal is None:
        return {"status": "error", "message": "exit code %s and no journal\n%s" % (rc, _tail(cdir / "output.log"))}
    if journal.setup_error:
        return {"status": "setup-error", "message": journal.setup_error}
    if rc == 0:
        return {"status": "pass", "message": ""}
    if rc == 1:
        failed = [c.id for c in journal.failed_required()]
        return {"status": "fail", "message": "failed: " + " ".join(failed)}
    return {"status": "error", "message": "exit code %s\n%s" % (rc, _tail(cdir / "output.log"))}


def _summary(out, cell_id):
    """The cell's journal's {verdict: count}, or None (no journal, or not a readable one)."""
    try:
        journal = store.read_journal(store.journal_path(out, cell_id))
    except JournalError:
        return None
    return journal.summary if journal else None




def describe(rec):
    """The progress line's middle: '58 pass 2 fail (41.2s)'."""
    status, summary = rec["status"], rec.get("summary") or {}
    if status in ("pass", "fail") and summary:
        parts = ["%d %s" % (summary.get(k, 0), k) for k in (PASS, FAIL)]
        parts += ["%d %s" % (summary[k], k) for k in (KNOWN_DEVIATION, SKIP) if summary.get(k)]
        text = " ".join(parts)
    else:
        text = status.upper() + (": " + headline(rec.get("message")) if rec.get("message") else "")
    return "%s (%.1fs)" % (text, rec.get("wall_s", 0.0))


# -- the run ---------------------------------------------------------------------------

class CpuMeter:
    """The machine's idle CPU, in cores, between readings of /proc/stat (idle + iowait)."""

    def __init__(self, cpus):
        self.cpus = cpus
        self.last = self._read()

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return v[3] + v[4], sum(v)

    def idle_cores(self):
        """Idle cores on average since the last call."""
        (idle0, total0), (idle1, total1) = self.last, self._read()
        self.last = (idle1, total1)
        return self.cpus * (idle1 - idle0) / max(1, total1 - total0)


class Jobs:
    """How many cells run at once.  A number fixes it.  AUTO follows the CPU: one cell per
    core always, and one more whenever at least half a core stayed idle since the last
    start, SETTLE seconds at least (a starting session's own load - interpreter, pytest's
    collection - needs that long to show), up to 6 per core.  A cell keeps about 0.15 of
    a core busy on average (7 CPU-s over ~45 s embedded, 16 over ~130 s daemon: mostly the
    cases' timeouts and sleeps), so 2 cores take a dozen before they are busy; CPU-heavy
    moments do not get crowded further, and on a machine shared with other work the run
    yields to it."""

    SETTLE = 3.0
    PER_CORE = 6

    def __init__(self, jobs=AUTO, cpus=None, meter=None, clock=time.monotonic):
        self.cpus = cpus or os.cpu_count() or 2
        self.fixed = None if jobs in (None, AUTO) else max(1, int(jobs))
        self.most = self.fixed or self.PER_CORE * self.cpus
        self.meter = meter or (None if self.fixed else CpuMeter(self.cpus))
        self.clock = clock
        self.last_start = None
        self.peak = 0

    def may_start(self, running):
        if running >= self.most:
            return False
        if not self.fixed and running >= self.cpus:
            if self.clock() - self.last_start < self.SETTLE or self.meter.idle_cores() < 0.5:
                return False
        return True

    def started(self, running):
        self.last_start = self.clock()
        self.peak = max(self.peak, running)
        if self.meter:
            self.meter.idle_cores()      # the next decision sees only what came after this start

    def describe(self):
        """'3', or 'auto (2-8)', with how many ran at most once cells have started."""
        text = str(self.fixed) if self.fixed else "auto (%d-%d)" % (self.cpus, self.most)
        return text + (", at most %d at once" % self.peak if self.peak else "")

def plan(cells, out, rerun_failed=False, fresh=False, tests=None):
    """(to_run, reused, unavailable) for the selected cells; a record is reused only for
    the same cell definition and the same suite (conformance, or the same --tests)."""
    tests = [str(t) for t in tests] if tests else None
    to_run, reused, unavailable = [], [], []
    for cell in cells:
        if cell.unavailable:
            unavailable.append(cell)
            continue
        rec = None if fresh else store.read_record(out, cell.id)
        same = rec is not None and rec.get("cell") == cell.as_dict() and rec.get("tests") == tests
        if rerun_failed:
            (to_run if same and rec.get("status") in store.FAILED else reused).append(cell)
        elif same and rec.get("status") in store.STATUSES:
            reused.append(cell)
        else:
            to_run.append(cell)
    return to_run, reused, unavailable


# A cell's wall time when no earlier record says: on the 2-core machine a daemon cell takes
# about twice an embedded one (more cases, sites and daemon timeouts); only the ratio counts.
GUESS_S = {"daemon": 60.0, "embedded": 30.0}


def expected_s(cell, rec):
    """How long `cell` should take: its earlier record's wall time (a pass or fail), else a
    guess from its kind.  Only the order of cells uses it: longest first, so that the
    last cells running are short ones and the run does not end on one long cell."""
    if rec and rec.get("status") in ("pass", "fail") and rec.get("wall_s"):
        return rec["wall_s"]
    return GUESS_S[cell.mode]


def run_cells(cells, out, jobs=AUTO, workers=1, timeout=DEFAULT_TIMEOUT, pytest_args=(),
              rerun_failed=False, fresh=False, prebuild=None, log=print, tests=None):
    """Run the selected cells into `out`, longest first, as many at once as `jobs` allows (a
    number, or AUTO: see Jobs); returns {cell id: record} of every selected cell."""
    out = Path(out).resolve()
    _STOPPING.clear()
    to_run, reused, unavailable = plan(cells, out, rerun_failed, fresh, tests)
    to_run.sort(key=lambda c: -expected_s(c, store.read_record(out, c.id)))
    for cell in unavailable:
        store.clear_cell(out, cell.id)
        store.write_record(out, {"cell": cell.as_dict(), "status": "unavailable",
                                 "message": cell.unavailable, "wall_s": 0.0, "build_s": 0.0})
    jobs = jobs if isinstance(jobs, Jobs) else Jobs(jobs)
    log("%d cells selected: %d to run, %d reused from %s, %d unavailable (jobs=%s, workers/cell=%d)"
        % (len(cells), len(to_run), len(reused), out, len(unavailable), jobs.describe(), workers))
    started, t0, done = now_iso(), time.monotonic(), 0
    pending, running = deque(to_run), {}
    with ThreadPoolExecutor(jobs.most) as pool:
        try:
            while pending or running:
                while pending and jobs.may_start(len(running)):
                    running[pool.submit(run_cell, pending.popleft(), out, workers, timeout, pytest_args,
                                        prebuild, tests)] = True
                    jobs.started(len(running))
                finished, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                for fut in finished:
                    del running[fut]
                    try:
                        rec = fut.result()
                    except Interrupted:
                        continue
                    done += 1
                    rec["summary"] = _summary(out, rec["cell"]["id"])
                    elapsed = time.monotonic() - t0
                    eta = elapsed / done * (len(to_run) - done)
                    log("[%d/%d] %s: %s elapsed %s ETA %s running %d" % (
                        done, len(to_run), rec["cell"]["id"], describe(rec), fmt_duration(elapsed),
                        fmt_duration(eta), len(running)))
        except KeyboardInterrupt:
            log("interrupted: stopping the running cells")
            pending.clear()
            stop_running()
            raise
    wall = round(time.monotonic() - t0, 3)
    runs = store.read_json(out / "runs.json", [])
    runs.append({"started": started, "wall_s": wall, "jobs": jobs.describe(), "workers_per_cell": workers,
                 "cell_timeout_s": timeout, "selected": len(cells), "ran": len(to_run),
                 "reused": len(reused), "unavailable": len(unavailable), "host": socket.gethostname(),
                 "argv": sys.argv[1:]})
    store.write_json(out / "runs.json", runs)
    log("wall time %s for %d cells (%d run; jobs %s)" % (fmt_duration(wall), len(cells), len(to_run),
                                                          jobs.describe()))
    return {c.id: store.read_record(out, c.id) for c in cells}


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _jobs(text):
    if text == AUTO:
        return AUTO
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return n


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m matrix run", description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", nargs="+", action="extend", default=[], metavar="GLOB",
                   help="cell ID globs, segment-wise (default: every cell); env MATRIX_CELLS too")
    p.add_argument("--cell", help="exactly this cell ID")
    p.add_argument("--jobs", "-j", type=_jobs, default=DEFAULT_JOBS,
                   help="cells at a time: a number, or auto (default: one per core, more while "
                        "the CPU has room, up to %d per core)" % Jobs.PER_CORE)
    p.add_argument("--workers-per-cell", type=int, default=1, help="pytest-xdist workers inside a cell")
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per cell")
    p.add_argument("--rerun-failed", action="store_true", help="rerun only fail/timeout/error cells")
    p.add_argument("--fresh", action="store_true", help="ignore results already on disk")
    p.add_argument("--python", action="append", default=[], help="also consider this server Python")
    p.add_argument("--apxs", action="append", default=[], help="also consider the Apache install of this apxs")
    p.add_argument("--tests", nargs="+", action="extend", default=[], metavar="PATH",
                   help="run this pytest suite (written against the mod_gateway_pytest plugin) in "
                        "each cell instead of the conformance suite")
    p.add_argument("--out", default=None, help="default %s (%s with --tests)" % (DEFAULT_OUT, DEFAULT_TESTS_OUT))
    p.add_argument("pytest_args", nargs="*", help="after --: passed to every session")
    return p.parse_args(argv)


def main(argv=None):
    from . import axes, publish
    a = parse_args(sys.argv[1:] if argv is None else argv)
    found = axes.discover(a.python, extra_apxs=a.apxs)
    if a.cell:
        cells = [c for c in found.cells if c.id == a.cell]
        if not cells:
            print("no such cell: %s (python -m matrix list)" % a.cell, file=sys.stderr)
            return 2
    else:
        patterns = a.cells or os.environ.get("MATRIX_CELLS", "").split()
        cells = select(found.cells, patterns)
        if not cells:
            print("no cell matches %s (python -m matrix list)" % " ".join(patterns), file=sys.stderr)
            return 2
    tests = [str(Path(t.partition("::")[0]).resolve()) + "".join(t.partition("::")[1:]) for t in a.tests] or None
    missing = [t for t in tests or () if not os.path.exists(t.split("::")[0])]
    if missing:
        print("no such test path: %s" % " ".join(missing), file=sys.stderr)
        return 2
    out = Path(a.out or (DEFAULT_TESTS_OUT if tests else DEFAULT_OUT)).resolve()
    store.write_json(out / "axes.json", found.as_dict())
    prebuild = None if os.environ.get("MATRIX_CONFORMANCE_CMD") else Prebuilder()
    signal.signal(signal.SIGTERM, _raise_interrupt)   # a cancelled CI job stops like Ctrl-C
    try:
        records = run_cells(cells, out, a.jobs, a.workers_per_cell, a.cell_timeout, a.pytest_args,
                            a.rerun_failed, a.fresh, prebuild, tests=tests)
    except KeyboardInterrupt:
        publish.write_report(out, expected=cells)
        return 130
    paths = publish.write_report(out, expected=cells)
    print("report: %s" % paths["html"])
    bad = sorted(i for i, r in records.items() if r and r.get("status") in store.FAILED)
    if bad:
        print("%d cells did not pass: %s" % (len(bad), " ".join(bad[:20]) + (" ..." if len(bad) > 20 else "")))
    return 1 if bad else 0
