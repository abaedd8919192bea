"""pytest plugin: the hooks that wire the suite's stages together.

    options -> session.py (the setup, resolved once, sent to xdist workers) -> the case's
    applicability (verdict.py) -> server_pool.py (one Apache per site and mode) -> the
    error-log check -> evidence and verdict (journal.py, verdict.py) -> the journal

The Python running pytest is the client; the server Python (the one the module
embeds) only runs inside Apache.  The session's state is one `Conformance` object on
`config.conformance_state`; the `env` fixture hands cases its Env.
"""

import collections
import datetime
import platform
import re
import time

import pytest

from . import journal
from . import targets as targets_mod
from . import verdict as verdict_mod
from .catalogue import load_all, selects
from .server_pool import ServerPool
from .session import Env, Setup, resolve_setup
from .venvs import Unsupported
from gateway import httpd

STATE = "conformance_state"        # the attribute of config holding the Conformance object
SETUP_KEY = "conformance_setup"    # the key of xdist's workerinput holding the setup's dict


class Conformance:
    """One session's state: setup, Env, server pool and the records of its cases."""

    def __init__(self, config):
        self.config = config
        self.started = time.time()
        self.setup = None            # Setup
        self.env = None              # Env, or None when no --target / a setup error
        self.error = None            # why the session cannot run (exit 2)
        self.pool = None             # ServerPool
        self.records = []            # journal.CaseRecord, as reported (deduplicated at the end)
        self.worker_timings = []     # xdist: each finished worker's ServerPool.timings()
        self.worker_stop_problems = []

    def set_up(self):
        opt = self.config.option
        winput = getattr(self.config, "workerinput", None)
        try:
            if winput is not None and SETUP_KEY in winput:
                self.setup = Setup.from_dict(winput[SETUP_KEY])
            else:
                self.setup = resolve_setup(opt.target, opt.server_python, opt.apxs,
                                           opt.mod_wsgi_version, opt.profile)
        except (targets_mod.TargetError, httpd.HttpdError) as e:
            self.error = str(e)
            return
        self.env = Env.from_setup(self.setup, opt.mpm, opt.mode)
        problems = self.env.profile.problems(load_all())
        if problems:
            self.error = "profile data does not fit the catalogue:\n  " + "\n  ".join(problems)
            return
        self.pool = ServerPool(self.env)

    # -- the records -----------------------------------------------------------------------

    def record(self, report):
        props = dict(report.user_properties)
        if "case_id" not in props:
            return
        v = verdict_mod.of_report(report, not_applicable=bool(props.get("not_applicable")))
        if v is None:
            return
        ev = props.get("evidence") or journal.Evidence()
        self.records.append(journal.CaseRecord(
            id=props["case_id"], area=props["case_id"].split("-")[0], mode=props["mode"],
            requirement=props["requirement"], verdict=v.verdict,
            required=journal.is_required(v.verdict), duration_s=round(report.duration, 3),
            message=v.message, evidence=ev, metrics=props.get("metrics"), nodeid=report.nodeid))

    def server_timings(self):
        """The server starts and stops of this process and of every xdist worker, summed."""
        parts = self.worker_timings + ([self.pool.timings()] if self.pool else [])
        return {k: round(sum(p[k] for p in parts), 3) for k in (parts[0] if parts else {})}

    def stop_problems(self):
        return list(self.worker_stop_problems) + (self.pool.stop_problems if self.pool else [])

    def journal(self):
        opt, env, setup = self.config.option, self.env, self.setup
        j = journal.Journal(
            started=datetime.datetime.utcfromtimestamp(self.started).isoformat() + "Z",
            duration_s=round(time.time() - self.started, 3),
            setup_error=self.error,
            target=(setup.journal_target() if setup else journal.Target(name=opt.target)),
            server_python=setup.journal_python() if setup else journal.ServerPython(),
            apache=(journal.Apache(apxs=env.install.apxs, httpd=env.install.httpd,
                                   version=env.install.version_string, mpm=env.mpm) if env else
                    journal.Apache(apxs=opt.apxs, mpm=opt.mpm)),
            mode=opt.mode,
            client=journal.Client(python=platform.python_version()),
            timings=journal.Timings(build_s=(setup.target.get("build_s", 0.0) if setup else 0.0),
                                    **self.server_timings()),
            stop_problems=[journal.StopProblem.from_dict(p) for p in self.stop_problems()],
            cases=journal.dedupe(self.records))
        return j.finish()

    # -- hooks that need the state (registered as a plugin object: no module global) --------

    def pytest_runtest_logreport(self, report):
        self.record(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        """xdist: collect each worker's server starts and stops for the journal."""
        out = getattr(node, "workeroutput", {}) or {}
        if "conformance_timings" in out:
            self.worker_timings.append(dict(out["conformance_timings"]))
            self.worker_stop_problems += out.get("conformance_stop_problems", [])


def _state(config):
    return getattr(config, STATE)


def pytest_addoption(parser):
    g = parser.getgroup("conformance", "mod_wsgi conformance")
    g.addoption("--target", default=None,
                help="module under test: a .so path, or gateway, mod_wsgi, mod_wsgi-debian")
    g.addoption("--server-python", default=None, help="the Python the module embeds")
    g.addoption("--apxs", default="apxs", help="apxs of the Apache install to run")
    g.addoption("--mpm", default="event", choices=("prefork", "worker", "event"))
    g.addoption("--profile", default=None, choices=("3.4", "5", "6"),
                help="behaviour profile (default: from the target's version)")
    g.addoption("--mode", default="both", choices=("embedded", "daemon", "both"))
    g.addoption("--mod-wsgi-version", default=None, help="version of the real mod_wsgi to build")
    g.addoption("--conformance-json", default=None, help="write the journal here")
    g.addoption("--case", action="append", default=[], metavar="ID",
                help="run only these cases: an ID, a glob of IDs ('QUE-*') or ID[mode] as the gate "
                     "names a failing case ('QUE-001[embedded]'); repeatable, or comma-separated")


def pytest_configure(config):
    state = Conformance(config)
    setattr(config, STATE, state)
    config.pluginmanager.register(state, "conformance-state")
    if config.option.target:
        state.set_up()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: hand the controller's resolved setup to each worker (no rebuilds)."""
    setup = _state(node.config).setup
    if setup:
        node.workerinput[SETUP_KEY] = setup.to_dict()


def pytest_generate_tests(metafunc):
    meta = getattr(metafunc.function, "conformance_case", None)
    if meta and "mode" in metafunc.fixturenames:
        wanted = metafunc.config.option.mode
        modes = [m for m in meta.modes if wanted in ("both", m)]
        # The ID in the node id, so what the gate prints (QUE-001[embedded]) selects it: -k QUE-001
        metafunc.parametrize("mode", modes, ids=["%s-%s" % (meta.id, m) for m in modes])


def _mode_of(item):
    mode = item.callspec.params.get("mode", "") if hasattr(item, "callspec") else ""
    return mode if isinstance(mode, str) else None  # None: no mode left after --mode


def _unselected(item, patterns):
    """Not a case in a mode left after --mode, or not one --case names."""
    mode = _mode_of(item)
    if mode is None:
        return True
    meta = getattr(item.function, "conformance_case", None)
    return bool(patterns) and not (meta and selects(patterns, meta.id, mode))


def pytest_collection_modifyitems(session, config, items):
    dropped = [i for i in items if _unselected(i, config.option.case)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if not _unselected(i, config.option.case)]

    def key(item):
        meta = getattr(item.function, "conformance_case", None)
        return (meta.site if meta else "", _mode_of(item))
    # Cases sharing a site and mode run together on one worker: one server start.
    items.sort(key=key)
    for item in items:
        site, mode = key(item)
        item.add_marker(pytest.mark.xdist_group("%s-%s" % (site, mode)))
    error = _state(config).error
    if error:
        for item in items:
            item.add_marker(pytest.mark.skip(reason="setup error: " + error))


def pytest_runtest_setup(item):
    env = _state(item.config).env
    meta = getattr(item.function, "conformance_case", None)
    if env is None or meta is None:
        return
    mode = item.callspec.params.get("mode", "both") if hasattr(item, "callspec") else "both"
    item.user_properties += [("case_id", meta.id), ("mode", mode), ("requirement", meta.requirement)]
    applies = verdict_mod.applicability(env.profile, env.label, meta, mode, env.install.version_string,
                                        ".".join(str(v) for v in env.python_version))
    if applies.not_applicable:
        item.user_properties.append(("not_applicable", applies.not_applicable))
        pytest.skip(applies.skip_reason)
    if applies.deviation:
        item.add_marker(pytest.mark.xfail(reason=applies.deviation, strict=applies.strict, run=True))


@pytest.fixture
def env(request):
    env = _state(request.config).env
    if env is None:
        pytest.skip("no --target given")
    return env


@pytest.fixture
def case(request):
    return request.function.conformance_case


@pytest.fixture
def metrics(request):
    """Record figures a case measured (RSS, timings) into its journal entry.

    Kept off pytest's record_property, which JUnit's xunit2 family refuses with a warning."""
    def record(**figures):
        request.node.user_properties.append(("metrics", figures))
    return record


@pytest.fixture
def expect(env, case):
    """This case's expectation under the session's profile (data from profiles/*.json), of
    the shape the case declares; a missing or malformed entry is an error, never None."""
    return env.profile.expectation(case)


@pytest.fixture
def server(request, env, case, mode):
    pool = _state(request.config).pool
    try:
        srv = pool.get(case.site, mode)
    except Unsupported as e:
        pytest.skip(str(e))
    except httpd.HttpdError:
        request.node.conformance_evidence = journal.Evidence.from_server(pool.current, 0)
        pool.stop()
        raise
    srv.expected_log = list(case.expect_log) + list(srv.site_log)
    srv.exchanges = []
    # The first case on a server answers for its start-up lines too: they land before or
    # after its mark by timing alone (children and daemons log their start-up after the
    # port answers), so they are always judged, never left to the race.
    offset = srv.log_size() if srv.cases_served else 0
    srv.cases_served += 1
    request.node.conformance_server = (srv, offset)
    request.node.conformance_access = _access_size(srv)
    yield srv


# An access-log line's request: method and target ("%r" in httpd's LogFormat).
_ACCESS_REQUEST = re.compile(r'\] "(\S+) (\S+)')


def _access_size(srv):
    try:
        return (srv.root / "access.log").stat().st_size
    except OSError:
        return 0


def _requests_logged(srv, since):
    """The requests the access log records after byte `since`: Counter of "METHOD TARGET"."""
    try:
        with open(str(srv.root / "access.log"), "rb") as f:
            f.seek(since)
            text = f.read().decode("latin-1")
    except OSError:
        return collections.Counter()
    return collections.Counter(" ".join(m.groups()) for m in map(_ACCESS_REQUEST.search, text.splitlines()) if m)


def _requests_recorded(srv):
    """The requests of the exchanges conformance.client recorded: Counter of "METHOD TARGET"."""
    return collections.Counter(" ".join(e["request"].split("\n", 1)[0].split(" ")[:2]) for e in srv.exchanges)


GRACE_S = 0.05    # for requests nobody recorded: how long their late lines had before
SETTLE_S = 2.0    # at most, for the access-log lines of the requests recorded


def settle(srv, access_since, timeout=SETTLE_S):
    """Wait until the error log holds every line of the case's requests.  Apache writes a
    request's access-log line after the request is over (its handler has returned; in daemon
    mode the daemon has closed the connection), so after every error-log line of it: once the
    access log holds exactly the requests the client recorded, their lines have landed.  A
    request made without the recorder (raw requests.get, bursts) can only be noticed once
    logged: then, or where nothing was recorded, the old fixed grace is added.  Returns how
    it ended: "recorded", "grace" or "timeout" (a recorded request Apache never logged, such
    as a request line the client cut off)."""
    want = _requests_recorded(srv)
    deadline = time.monotonic() + timeout
    while True:
        got = _requests_logged(srv, access_since)
        if not want - got:
            break
        if time.monotonic() > deadline:
            return "timeout"
        time.sleep(0.005)
    if want and got == want:
        return "recorded"
    time.sleep(GRACE_S)
    return "grace"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Error-log discipline: an unexpected [error]/[crit]/[emerg], segfault or exit signal fails."""
    result = yield
    srv_off = getattr(item, "conformance_server", None)
    if srv_off:
        srv, offset = srv_off
        settle(srv, item.conformance_access)
        bad = srv.log_failures(offset, srv.expected_log)
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad[:20]))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Evidence: a failing case's config, log and last exchanges, in the report's sections
    (terminal, JUnit) and in its journal record."""
    report = yield
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        srv_off = getattr(item, "conformance_server", None)
        ev = (journal.Evidence.from_server(*srv_off) if srv_off else
              getattr(item, "conformance_evidence", None) or journal.Evidence())
        if report.failed and ev:
            report.sections.append(("generated httpd.conf", ev.config or ""))
            report.sections.append(("error log of this case", "\n".join(ev.log or [])))
            if ev.request:
                report.sections.append(("last exchange", ev.request + "\n---\n" + (ev.response or "")))
        # user_properties travel from xdist workers as plain data: the evidence's dict
        report.user_properties.append(("evidence", ev.to_dict() if report.failed else {}))
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    state = _state(config)
    if state.pool:
        state.pool.close()
    wout = getattr(config, "workeroutput", None)
    if wout is not None:
        # xdist sends workeroutput right after this hook: server counts ride along.
        if state.pool:
            wout["conformance_timings"] = state.pool.timings()
            wout["conformance_stop_problems"] = state.pool.stop_problems
        return
    if config.option.conformance_json:
        state.journal().write(config.option.conformance_json)
    if state.error:
        session.exitstatus = 2


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = _state(config)
    if state.error:
        terminalreporter.write_line("conformance setup error: %s" % state.error, red=True)
    for p in state.stop_problems():
        terminalreporter.write_line("server %s/%s did not stop cleanly: %s" % (
            p["site"], p["mode"], "; ".join(p["log"])[:300] or "left pids %s" % p["leftover_pids"]),
            yellow=True)
