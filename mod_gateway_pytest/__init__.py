"""pytest plugin: your WSGI app under real Apache with mod_gateway or the real mod_wsgi.

Registered as the `pytest11` entry point `mod_gateway_pytest` (also `-p mod_gateway_pytest`).

    @pytest.fixture
    def wsgi_app():
        return "myproject.wsgi:application"      # or a script path: "deploy/app.wsgi"

    def test_home(wsgi_server):
        r = wsgi_server.get("/")
        assert r.status == 200, wsgi_server.log_lines()

Fixtures
  wsgi_server    the running app of `wsgi_app` (base URL `.url`, `.get()`/`.post()`/`.request()`,
                 `.log_lines()`, `.log_errors()`, `.pids()`, `.parent_pid`, `.daemon_pids()`,
                 `.config_text`, `.target`, `.mode`, `.mpm`, `.server_python`, `.profile`)
  wsgi_serve     a factory: wsgi_serve(app, mount="/", python_path=(), python_home=...,
                 daemon_options="processes=1 threads=4", application_group=None,
                 directives=(), expect_log=(), target=, mode=, mpm=, server_python=, profile=)
  wsgi_app       what wsgi_server serves (default: --wsgi-app / ini wsgi_app); override it
  wsgi_app_options  keyword arguments wsgi_server passes to wsgi_serve (default {}); override it

Options (and ini keys without the dashes, e.g. `wsgi_target = mod_wsgi`)
  --wsgi-target      gateway | mod_wsgi | mod_wsgi-debian | /path/to/module.so  (comma list)
  --wsgi-mode        embedded | daemon | both  (comma list; default daemon)
  --wsgi-server-python  the Python the module embeds (path or X.Y; default: the Python
                     running pytest, its base interpreter when in a virtualenv)
  --wsgi-python-home the app's virtualenv (default: the one running pytest when the server
                     Python is its base; "none" for none; "{python}" is replaced by X.Y)
  --wsgi-mpm, --wsgi-apxs, --wsgi-profile, --wsgi-mod-wsgi-version, --wsgi-app,
  --wsgi-journal FILE (a conformance-style journal of every test: what `matrix run --tests` reads)

Markers
  @pytest.mark.wsgi(targets=[...], modes=[...])   run the test across these (a --wsgi-target /
                     --wsgi-mode given on the command line narrows them: a matrix cell)
  @pytest.mark.wsgi_allow_errors(*patterns)        error-log lines the test may cause (all when none)

A test that made the app log an unexpected error ([error], [crit], a segfault ...) fails; a
failing test's report carries the generated httpd.conf and the test's error-log lines.
Servers are kept running across tests that ask for the same app and settings, and every
one is stopped (by PID, through gateway.httpd.Server) at the end of the session.
"""

import datetime
import os
import platform
import shutil
import tempfile
import time
from itertools import product
from pathlib import Path

import pytest

from conformance import journal
from conformance import targets as targets_mod
from conformance.session import Env, resolve_setup
from gateway import httpd

from .app import AppError, AppSpec, MODES, default_python_home, harness_base_python, start_app

OPTIONS = {   # name: (default, help)
    "target": ("gateway", "module under test: gateway, mod_wsgi, mod_wsgi-debian or a .so path "
                          "(comma-separated: the tests run against each)"),
    "mode": ("daemon", "embedded, daemon or both (comma-separated)"),
    "server_python": (None, "the Python the module embeds (path or X.Y); default: the Python running "
                            "pytest (its base interpreter in a virtualenv)"),
    "python_home": (None, "the app's python-home (a virtualenv); default: the virtualenv running "
                          "pytest when the server Python is its base; 'none': none; {python} -> X.Y"),
    "mpm": ("event", "Apache MPM: prefork, worker or event"),
    "apxs": ("apxs", "apxs of the Apache install to run"),
    "profile": (None, "mod_gateway's WSGICompatibility profile (3.4, 5, 6; default from the target)"),
    "mod_wsgi_version": (None, "the real mod_wsgi release to build from PyPI (default: the newest "
                               "that builds for the server Python)"),
    "app": (None, "the WSGI app wsgi_server serves: a script path or module:callable"),
}


def pytest_addoption(parser):
    g = parser.getgroup("wsgi", "your WSGI app under Apache (mod_gateway_pytest)")
    for name, (default, help_) in OPTIONS.items():
        g.addoption("--wsgi-" + name.replace("_", "-"), dest="wsgi_" + name, default=None,
                    help=help_ + ("" if default is None else " (default %s)" % default))
        parser.addini("wsgi_" + name, help_, default=None)
    g.addoption("--wsgi-journal", dest="wsgi_journal", default=None,
                help="write a journal of every test's verdict (the matrix reads it)")


def pytest_configure(config):
    config.addinivalue_line("markers", "wsgi(targets=None, modes=None): run the test against these "
                                       "targets and modes (mod_gateway_pytest)")
    config.addinivalue_line("markers", "wsgi_allow_errors(*patterns): the app may log these errors "
                                       "(any error when no pattern is given)")
    config._wsgi = _State(config)
    if config.option.wsgi_journal:
        config.pluginmanager.register(_Journal(config), "mod_gateway_pytest-journal")


def _opt(config, name):
    """(value, given on the command line?) of one option: command line, ini, default."""
    v = getattr(config.option, "wsgi_" + name, None)
    if v is not None:
        return v, True
    v = config.getini("wsgi_" + name)
    return (v if v not in (None, "", []) else OPTIONS[name][0]), False


def _split(value):
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _modes(values):
    out = []
    for v in values:
        for m in (MODES if v == "both" else (v,)):
            if m not in MODES:
                raise pytest.UsageError("--wsgi-mode: %r is not embedded, daemon or both" % m)
            if m not in out:
                out.append(m)
    return out


def _short(target):
    return os.path.basename(target)[:-3] if target.endswith(".so") else target


class _State:
    """The session's resolved targets, servers and journal records."""

    def __init__(self, config):
        self.config = config
        self.setups = {}        # key -> setup dict or Exception
        self.envs = {}
        self.live = {}          # pool key -> RunningApp
        self.base = None
        self.records = []
        self.setup_error = None
        self.started = time.time()
        self.starts = 0
        self.start_s = 0.0
        self.first_setup = None

    def resolve(self, target, server_python, profile):
        apxs = _opt(self.config, "apxs")[0]
        mwv = _opt(self.config, "mod_wsgi_version")[0] if target == "mod_wsgi" else None
        if server_python is None and target in ("gateway", "mod_wsgi"):
            server_python = harness_base_python()
        key = (target, server_python, apxs, mwv, profile)
        if key not in self.setups:
            try:
                self.setups[key] = resolve_setup(target, server_python, apxs, mwv, profile)
            except (targets_mod.TargetError, httpd.HttpdError, OSError) as e:
                self.setups[key] = e
        got = self.setups[key]
        if isinstance(got, Exception):
            raise got
        self.first_setup = self.first_setup or got
        return key, got

    def env(self, key, setup, mpm, mode):
        if (key, mpm, mode) not in self.envs:
            self.envs[(key, mpm, mode)] = Env.from_setup(setup, mpm, mode)
        return self.envs[(key, mpm, mode)]

    def acquire(self, pool_key, make, owner):
        """A running server for this key: the one kept from an earlier test, or a new one;
        servers the current test does not use are stopped first (one app set at a time)."""
        app = self.live.get(pool_key)
        if app is not None and app.running:
            app.owner = owner
            return app, 0.0
        for k, other in list(self.live.items()):
            if getattr(other, "owner", None) != owner or k == pool_key:
                other.stop()
                del self.live[k]
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="wsgi-pytest-"))
            os.chmod(str(self.base), 0o755)
        self.starts += 1
        t0 = time.monotonic()
        app = make(self.base / ("server-%d" % self.starts))
        took = time.monotonic() - t0
        self.start_s += took
        app.owner = owner
        self.live[pool_key] = app
        return app, took

    def close(self):
        for k, app in list(self.live.items()):
            app.stop()
            self.live.pop(k, None)
        if self.base is not None:
            shutil.rmtree(str(self.base), ignore_errors=True)
            self.base = None


# -- parametrization ---------------------------------------------------------------------

def pytest_generate_tests(metafunc):
    if "wsgi_variant" not in metafunc.fixturenames:
        return
    config = metafunc.config
    targets, t_cli = _opt(config, "target")
    modes, m_cli = _opt(config, "mode")
    targets, modes = _split(targets), _modes(_split(modes))
    marker = metafunc.definition.get_closest_marker("wsgi")
    mk = dict(marker.kwargs) if marker else {}
    if marker and marker.args:
        raise pytest.UsageError("%s: use @pytest.mark.wsgi(targets=[...], modes=[...])" % metafunc.definition.nodeid)
    if mk.get("targets"):
        wanted = [mk["targets"]] if isinstance(mk["targets"], str) else list(mk["targets"])
        targets = [t for t in wanted if t in targets] if t_cli else wanted
    if mk.get("modes"):
        wanted = _modes([mk["modes"]] if isinstance(mk["modes"], str) else list(mk["modes"]))
        modes = [m for m in wanted if m in modes] if m_cli else wanted
    combos = list(product(targets, modes))
    if len(combos) == 1 and not (mk.get("targets") or mk.get("modes")):
        return                  # one target and mode: plain test ids, the fixture uses them
    params = [pytest.param(c, id="%s-%s" % (_short(c[0]), c[1])) for c in combos]
    if not params:
        params = [pytest.param(None, id="not-selected", marks=pytest.mark.skip(
            reason="none of the test's targets/modes is selected (--wsgi-target/--wsgi-mode)"))]
    metafunc.parametrize("wsgi_variant", params, indirect=True)


@pytest.fixture
def wsgi_variant(request):
    """(target, mode) of this test: its parameter, or the single one the options select."""
    param = getattr(request, "param", None)
    if param:
        return param
    return _split(_opt(request.config, "target")[0])[0], _modes(_split(_opt(request.config, "mode")[0]))[0]


# -- fixtures ----------------------------------------------------------------------------

@pytest.fixture
def wsgi_app(request):
    """What wsgi_server serves: a WSGI script path or module:callable.  Override this
    fixture, or set --wsgi-app / ini wsgi_app (relative paths: from the rootdir)."""
    app = _opt(request.config, "app")[0]
    if not app:
        pytest.fail("wsgi_server needs an app: override the wsgi_app fixture, or set --wsgi-app "
                    "or the ini option wsgi_app (a script path or module:callable)", pytrace=False)
    return app


@pytest.fixture
def wsgi_app_options():
    """Keyword arguments wsgi_server passes to wsgi_serve (mount, python_path, ...)."""
    return {}


@pytest.fixture(scope="session")
def _wsgi_session(request):
    state = request.config._wsgi
    yield state
    state.close()


@pytest.fixture
def wsgi_serve(request, wsgi_variant, _wsgi_session):
    """Start (or reuse) an app under Apache: wsgi_serve(app, **options) -> RunningApp."""
    state, config, item = _wsgi_session, request.config, request.node
    item._wsgi_apps = getattr(item, "_wsgi_apps", [])
    variant = wsgi_variant

    def serve(app, target=None, mode=None, mpm=None, server_python=None, profile=None, **spec_options):
        t = target or variant[0]
        m = mode or variant[1]
        if m not in MODES:
            raise ValueError("mode must be embedded or daemon, not %r" % m)
        mpm_ = mpm or _opt(config, "mpm")[0]
        sp = server_python or _opt(config, "server_python")[0]
        try:
            key, setup = state.resolve(t, sp, profile or _opt(config, "profile")[0])
        except Exception as e:
            failure = "cannot set up target %s: %s" % (t, e)
        else:
            failure = None
        if failure:
            item.user_properties.append(("wsgi_setup_error", failure))
            pytest.fail(failure, pytrace=False)
        if "python_home" not in spec_options:
            home, _ = _opt(config, "python_home")
            if home is None:
                home = default_python_home(setup)
            elif home.lower() == "none":
                home = None
            else:
                home = home.replace("{python}", ".".join(setup.python_version.split(".")[:2]))
            spec_options["python_home"] = home
        if ":" in app and not os.path.exists(app) and "python_path" not in spec_options:
            spec_options["python_path"] = (str(config.rootpath),)
        elif ":" not in app and not os.path.isabs(app):
            app = str(config.rootpath / app) if not os.path.exists(app) else os.path.abspath(app)
        spec = AppSpec(app, **spec_options)
        env = state.env(key, setup, mpm_, m)
        pool_key = (key, mpm_, m, spec.key())
        try:
            running, took = state.acquire(pool_key, lambda root: start_app(env, spec, setup, root), item.nodeid)
        except AppError as e:
            failure = str(e)
        except Exception as e:
            item._wsgi_start_error = (getattr(e, "config_text", ""), getattr(e, "log", ""))
            raise
        if failure:
            pytest.fail(failure, pytrace=False)
        if took:
            item.user_properties.append(("wsgi_start_s", round(took, 3)))
        running.mark()
        item._wsgi_apps.append(running)
        item.user_properties.append(("wsgi_mode", m))
        return running

    return serve


@pytest.fixture
def wsgi_server(wsgi_serve, wsgi_app, wsgi_app_options):
    """The app of `wsgi_app` under Apache, started for this test's target and mode (or kept
    from the previous test that asked for the same)."""
    return wsgi_serve(wsgi_app, **dict(wsgi_app_options))


# -- error-log discipline and evidence ----------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    apps = getattr(item, "_wsgi_apps", None)
    if not apps:
        return result
    allow = item.get_closest_marker("wsgi_allow_errors")
    if allow is not None and not allow.args:
        return result
    patterns = tuple(allow.args) if allow else ()
    time.sleep(0.1)    # let the last request's log lines land (daemons write through Apache)
    bad, gone = [], []
    for app in apps:
        bad += app.log_errors(patterns)
        if not app.running:
            gone.append(app)
    if gone:
        raise AssertionError("Apache exited during the test (%s)" % ", ".join(a.label for a in gone))
    if bad:
        raise AssertionError("the app logged unexpected errors (mark the test "
                             "@pytest.mark.wsgi_allow_errors(PATTERN) if they are expected):\n"
                             + "\n".join(bad[:30]))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if not report.failed:
        return report
    for app in getattr(item, "_wsgi_apps", ()):
        log = "\n".join(app.log_lines()[-200:])
        report.sections.append(("wsgi: httpd.conf (%s)" % app.label, app.config_text))
        report.sections.append(("wsgi: error log of this test (%s)" % app.label, log or "(empty)"))
        report.user_properties.append(("wsgi_config", app.config_text))
        report.user_properties.append(("wsgi_error_log", log))
    start = getattr(item, "_wsgi_start_error", None)
    if start:
        report.sections.append(("wsgi: httpd.conf (did not start)", start[0]))
        report.sections.append(("wsgi: error log (did not start)", start[1][-6000:] or "(empty)"))
    return report


# -- the journal (matrix run --tests) -----------------------------------------------------

class _Journal:
    """Registered with --wsgi-journal: one record per test (what `matrix run --tests` reads)."""

    def __init__(self, config):
        self.config = config

    def pytest_runtest_logreport(self, report):
        config = self.config
        props = dict(report.user_properties)
        state = config._wsgi
        if props.get("wsgi_setup_error") and not state.setup_error:
            state.setup_error = props["wsgi_setup_error"]
        if report.skipped and hasattr(report, "wasxfail"):
            verdict = journal.KNOWN_DEVIATION
        elif report.skipped:
            verdict = journal.SKIP
        elif report.failed:
            verdict = journal.FAIL
        elif report.when == "call" and report.passed:
            verdict = journal.PASS
        else:
            return
        text = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
        message = "" if verdict == journal.PASS else (
            "\n".join(l for l in text.splitlines() if l.startswith("E "))[:2000] or text[-1500:])
        evidence = journal.Evidence()
        if verdict == journal.FAIL and props.get("wsgi_config"):
            evidence = journal.Evidence(config=props["wsgi_config"],
                                        log=props.get("wsgi_error_log", "").splitlines()[-60:])
        path, _, name = report.nodeid.partition("::")
        state.records.append((journal.CaseRecord(
            id=report.nodeid, area=os.path.basename(path) or path,
            mode=props.get("wsgi_mode") or _single_mode(config),
            requirement=name or report.nodeid, verdict=verdict,
            required=journal.is_required(verdict), duration_s=round(report.duration, 3),
            message=message, evidence=evidence, nodeid=report.nodeid),
            report.when, props.get("wsgi_start_s", 0.0)))

    def pytest_sessionfinish(self, session, exitstatus):
        if getattr(self.config, "workerinput", None) is None:     # the xdist controller writes it
            write_journal(self.config, self.config.option.wsgi_journal)


def _single_mode(config):
    modes = _modes(_split(_opt(config, "mode")[0]))
    return modes[0] if len(modes) == 1 else ""


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "_wsgi"):
        session.config._wsgi.close()


def write_journal(config, path):
    """The journal of a project's own tests (suite "tests"), read as the suite's are: one
    record per test, a failure in any phase or a setup-phase skip winning over the rest."""
    state = config._wsgi
    merged = {}                 # test id -> (CaseRecord, seconds its server took to start)
    for rec, when, start_s in state.records:
        old, old_start = merged.get(rec.id, (None, 0.0))
        if old is None or rec.verdict == journal.FAIL or (old.verdict == journal.SKIP and when == "setup"):
            merged[rec.id] = (rec, old_start + start_s)
    records = [merged[k][0] for k in sorted(merged)]
    start_times = [merged[k][1] for k in sorted(merged)]
    setup = state.first_setup
    apache = journal.Apache(apxs=_opt(config, "apxs")[0], mpm=_opt(config, "mpm")[0])
    if setup:
        try:
            inst = httpd.ApacheInstall.from_apxs(setup.apxs)
            apache.apxs, apache.httpd, apache.version = inst.apxs, inst.httpd, inst.version_string
        except Exception:
            pass
    j = journal.Journal(
        suite="tests", tests=[str(a) for a in config.args],
        started=datetime.datetime.utcfromtimestamp(state.started).isoformat() + "Z",
        duration_s=round(time.time() - state.started, 3),
        target=(setup.journal_target() if setup else journal.Target(name=_opt(config, "target")[0])),
        server_python=setup.journal_python() if setup else journal.ServerPython(),
        apache=apache, mode=_opt(config, "mode")[0],
        client=journal.Client(python=platform.python_version()),
        timings=journal.Timings(build_s=setup.target.get("build_s", 0.0) if setup else 0.0,
                                server_starts=sum(1 for s in start_times if s),
                                server_start_s=round(sum(start_times), 3)),
        cases=records).finish()
    j.setup_error = state.setup_error if not j.count(journal.PASS) else None
    j.write(path)
