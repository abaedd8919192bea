"""pytest plumbing for the reliability suite: options, targets, servers, the figures collector.

Targets are resolved once in the controller (builds are cached) and handed to xdist
workers.  Every test that takes `env` runs once per target.  Each test records its
figures through the `figures` fixture; the controller gathers them from the test
reports (so xdist workers need no shared file) and writes reports/reliability.json at
session end.  `bars` holds the issue's pass bars: a missed bar fails the test on
mod_gateway; on a reference module (the real mod_wsgi) it is recorded and the test is
reported xfail, so the report shows where the reference itself misses the bar.
"""

import datetime
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conformance.verdict import failure_message

from . import harness
from . import sites  # noqa: F401  (registers the rel-* sites)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "mod_gateway/reliability/1"


def pytest_addoption(parser):
    g = parser.getgroup("reliability", "mod_gateway reliability and security")
    g.addoption("--rel-targets", default=",".join(harness.DEFAULT_TARGETS),
                help="comma-separated targets: gateway, mod_wsgi, mod_wsgi-debian, or .so paths")
    g.addoption("--rel-python", default="3.11", help="server Python for gateway and mod_wsgi builds")
    g.addoption("--rel-apxs", default="apxs")
    g.addoption("--rel-gateway-so", default=os.environ.get("REL_GATEWAY_SO"),
                help="a prebuilt mod_gateway.so for the gateway target (default: build this tree's)")
    g.addoption("--rel-mpm", default="event", choices=("prefork", "worker", "event"))
    g.addoption("--rel-json", default=str(ROOT / "reports" / "reliability.json"))
    g.addoption("--rel-soak-requests", type=int, default=200000)
    g.addoption("--rel-fuzz-seconds", type=int, default=60)


def pytest_configure(config):
    config.addinivalue_line("markers", "targets(*names): run only for these target names")
    config.addinivalue_line("markers", "xdist_group(name): tests of one target run on one xdist worker")
    config.rel_records = []
    config.rel_started = time.time()
    winput = getattr(config, "workerinput", None)
    if winput is not None and "rel_setups" in winput:
        config.rel_setups = winput["rel_setups"]
        return
    names = [n.strip() for n in config.option.rel_targets.split(",") if n.strip()]
    if config.option.collectonly:
        config.rel_setups = dict((n, {"error": "not resolved (collect only)"}) for n in names)
        return
    config.rel_setups = harness.resolve_targets(names, config.option.rel_python, config.option.rel_apxs,
                                                config.option.rel_gateway_so)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["rel_setups"] = node.config.rel_setups


def pytest_generate_tests(metafunc):
    if "env" in metafunc.fixturenames:
        names = list(metafunc.config.rel_setups)
        marker = metafunc.definition.get_closest_marker("targets")
        if marker:
            names = [n for n in names if n in marker.args]
        metafunc.parametrize("target_name", names, ids=names, scope="function")


def pytest_collection_modifyitems(session, config, items):
    # Tests of one target together (one build, fewer cold caches); xdist groups by target.
    for item in items:
        name = item.callspec.params.get("target_name", "") if hasattr(item, "callspec") else ""
        item.add_marker(pytest.mark.xdist_group(name or "none"))


@pytest.fixture(scope="session")
def workdir():
    base = Path(tempfile.mkdtemp(prefix="reliability-"))
    os.chmod(str(base), 0o755)
    yield base
    shutil.rmtree(str(base), ignore_errors=True)


@pytest.fixture
def env(request, target_name):
    setup = request.config.rel_setups[target_name]
    if "error" in setup:
        pytest.skip("target %s unavailable: %s" % (target_name, setup["error"]))
    e = harness.make_env(setup, request.config.option.rel_mpm)
    request.node.user_properties.append(("rel_target", {
        "name": target_name, "kind": e.target.kind, "label": e.label, "module": e.target.module,
        "python": setup["python_version"]}))
    return e


@pytest.fixture
def servers(request, workdir):
    """Starts servers for a test and stops every one of them (by PID) however the test ends."""
    started = []

    def start(env, site, mode="daemon", **kw):
        srv = harness.start_server(env, workdir, site, mode, **kw)
        started.append(srv)
        return srv
    start.started = started
    yield start
    for srv in started:
        srv.stop()


class Bars:
    """The issue's pass bars for one test: each check is recorded; missing one fails on the gateway."""

    def __init__(self, figures):
        self.figures = figures
        self.results = figures.setdefault("bars", {})

    def check(self, name, ok, detail=""):
        self.results[name] = {"ok": bool(ok), "detail": detail} if detail else {"ok": bool(ok)}
        return ok

    def missed(self):
        return ["%s (%s)" % (k, v.get("detail", "")) for k, v in self.results.items() if not v["ok"]]

    def enforce(self, env):
        missed = self.missed()
        if not missed:
            return
        if harness.is_reference(env):
            self.figures["reference_misses_bar"] = missed
            pytest.xfail("%s misses the issue's bar: %s" % (env.label, "; ".join(missed)))
        raise AssertionError("%s misses the issue's bar: %s" % (env.label, "; ".join(missed)))


@pytest.fixture
def figures(request):
    data = {}
    yield data
    request.node.user_properties.append(("rel_figures", data))


@pytest.fixture
def bars(figures):
    return Bars(figures)


def pytest_runtest_logreport(report):
    props = dict(report.user_properties)
    if "rel_figures" not in props or report.when != "teardown":
        return
    cfg = _CONFIG.get("config")
    if cfg is None:
        return
    outcome = props.get("rel_outcome")
    cfg.rel_records.append({"nodeid": report.nodeid, "target": props.get("rel_target", {}),
                            "figures": props["rel_figures"], "outcome": outcome})


_OUTCOMES = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if hasattr(report, "wasxfail"):
            outcome = "xfail"
        else:
            outcome = report.outcome
        item.rel_outcome = (outcome, _short(report))
    if report.when == "teardown":
        outcome = getattr(item, "rel_outcome", ("unknown", ""))
        if report.failed:
            outcome = ("failed", _short(report))
        report.user_properties.append(("rel_outcome", list(outcome)))
    return report


def _short(report):
    if report.passed:
        return ""
    if hasattr(report, "wasxfail"):
        return report.wasxfail
    if report.skipped and isinstance(report.longrepr, tuple):
        return report.longrepr[2]
    return failure_message(report.longrepr, lines=12, tail=1200)


_CONFIG = {}


def pytest_sessionstart(session):
    _CONFIG["config"] = session.config


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if getattr(config, "workeroutput", None) is not None:
        return
    if config.option.collectonly:
        return
    write_report(config, config.option.rel_json)


def write_report(config, path):
    records = []
    for r in config.rel_records:
        outcome = r.get("outcome") or ("unknown", "")
        if isinstance(outcome, (list, tuple)):
            verdict, message = outcome[0], outcome[1]
        else:
            verdict, message = outcome, ""
        records.append(dict(r, outcome=verdict, message=message))
    results = {}
    for r in records:
        test = r["nodeid"].split("::")[-1].split("[")[0]
        params = r["nodeid"].split("[", 1)[1].rstrip("]") if "[" in r["nodeid"] else ""
        target = r["target"].get("name", "-")
        rest = params.replace(target, "", 1).strip("-") if params else ""
        key = test[len("test_"):] if test.startswith("test_") else test
        if rest:
            key = "%s[%s]" % (key, rest)
        results.setdefault(key, {})[target] = dict(r["figures"], outcome=r["outcome"],
                                                   **({"message": r["message"]} if r["message"] else {}))
    targets = {}
    for name, s in config.rel_setups.items():
        targets[name] = ({"error": s["error"]} if "error" in s else
                         {"module": s["target"]["module"], "kind": s["target"]["kind"],
                          "version": s["target"]["version"], "python": s["python_version"]})
    report = {
        "schema": SCHEMA,
        "started": datetime.datetime.utcfromtimestamp(config.rel_started).isoformat() + "Z",
        "duration_s": round(time.time() - config.rel_started, 1),
        "host": {"cpus": os.cpu_count(), "client_python": platform.python_version()},
        "mpm": config.option.rel_mpm,
        "targets": targets,
        "summary": _summary(records),
        "results": results,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=1, sort_keys=True, default=str))


def _summary(records):
    out = {}
    for r in records:
        t = r["target"].get("name", "-")
        out.setdefault(t, {}).setdefault(r["outcome"], 0)
        out[t][r["outcome"]] += 1
    return out


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if getattr(config, "workeroutput", None) is None and not config.option.collectonly:
        terminalreporter.write_line("reliability figures: %s" % config.option.rel_json)
