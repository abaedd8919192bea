"""pytest plugin: options, the target and server fixtures, error-log discipline, the journal.

The Python running pytest is the client; the server Python (the one the module
embeds) only runs inside Apache.  Each (site, mode) gets one Apache per worker,
started on first use and stopped when the worker moves on or the session ends.
"""

import datetime
import json
import platform
import time
from pathlib import Path

import pytest

from . import JOURNAL_SCHEMA
from . import sites
from .catalogue import load_all
from . import targets as targets_mod
from .server_pool import ServerPool
from .session import Env, resolve_setup
from gateway import httpd


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


def pytest_configure(config):
    config.conformance = None
    config.conformance_error = None
    config.conformance_records = []
    config.conformance_started = time.time()
    if not config.option.target:
        return
    winput = getattr(config, "workerinput", None)
    if winput is not None and "conformance_setup" in winput:
        setup = winput["conformance_setup"]
    else:
        try:
            opt = config.option
            setup = resolve_setup(opt.target, opt.server_python, opt.apxs, opt.mod_wsgi_version,
                                  opt.profile)
        except (targets_mod.TargetError, httpd.HttpdError) as e:
            config.conformance_error = str(e)
            return
    config.conformance_setup = setup
    config.conformance = Env.from_setup(setup, config.option.mpm, config.option.mode)
    problems = config.conformance.profile.problems(load_all())
    if problems:
        config.conformance_error = "profile data does not fit the catalogue:\n  " + "\n  ".join(problems)
        return
    config.conformance_pool = ServerPool(config.conformance)


def pytest_configure_node(node):
    """xdist: hand the controller's resolved setup to each worker (no rebuilds)."""
    setup = getattr(node.config, "conformance_setup", None)
    if setup:
        node.workerinput["conformance_setup"] = setup


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


def pytest_collection_modifyitems(session, config, items):
    dropped = [i for i in items if _mode_of(i) is None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if _mode_of(i) is not None]

    def key(item):
        meta = getattr(item.function, "conformance_case", None)
        return (meta.site if meta else "", _mode_of(item))
    # Cases sharing a site and mode run together on one worker: one server start.
    items.sort(key=key)
    for item in items:
        site, mode = key(item)
        item.add_marker(pytest.mark.xdist_group("%s-%s" % (site, mode)))
    if config.conformance_error:
        for item in items:
            item.add_marker(pytest.mark.skip(reason="setup error: " + config.conformance_error))


def pytest_runtest_setup(item):
    env = item.config.conformance
    meta = getattr(item.function, "conformance_case", None)
    if env is None or meta is None:
        return
    mode = item.callspec.params.get("mode", "both") if hasattr(item, "callspec") else "both"
    item.user_properties += [("case_id", meta.id), ("mode", mode), ("requirement", meta.requirement)]
    if env.profile.name not in meta.profiles:
        pytest.skip("not-applicable: case not in profile %s" % env.profile.name)
    reason = env.profile.not_applicable(meta.id, mode)
    if reason:
        pytest.skip("not-applicable: " + reason)
    deviation = env.profile.deviation(env.label, meta.id, mode)
    if deviation:
        reason, strict = deviation
        item.add_marker(pytest.mark.xfail(reason="known deviation of %s: %s" % (env.label, reason),
                                          strict=strict, run=True))


@pytest.fixture
def env(request):
    if request.config.conformance is None:
        pytest.skip("no --target given")
    return request.config.conformance


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
    pool = request.config.conformance_pool
    try:
        srv = pool.get(case.site, mode)
    except httpd.HttpdError as e:
        srv = pool.current
        request.node.conformance_evidence = _evidence(srv, 0) if srv else {}
        pool.stop()
        raise
    srv.expected_log = list(case.expect_log) + list(sites.SITE_LOG.get(case.site, ()))
    srv.exchanges = []
    offset = srv.log_size()
    request.node.conformance_server = (srv, offset)
    yield srv


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Error-log discipline: an unexpected [error]/[crit]/[emerg], segfault or exit signal fails."""
    result = yield
    srv_off = getattr(item, "conformance_server", None)
    if srv_off:
        srv, offset = srv_off
        time.sleep(0.05)  # let the last request's log lines land
        bad = srv.log_failures(offset, srv.expected_log)
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad[:20]))
    return result


def _evidence(srv, offset):
    if srv is None:
        return {}
    ex = getattr(srv, "exchanges", [])[-3:]
    return {"config": srv.config_text,
            "request": "\n\n".join(e["request"] for e in ex),
            "response": "\n\n".join(e["response"] for e in ex),
            "log": srv.read_log(offset).splitlines()[-60:]}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        srv_off = getattr(item, "conformance_server", None)
        ev = _evidence(*srv_off) if srv_off else getattr(item, "conformance_evidence", {})
        if report.failed and ev:
            report.sections.append(("generated httpd.conf", ev.get("config", "")))
            report.sections.append(("error log of this case", "\n".join(ev.get("log", []))))
            if ev.get("request"):
                report.sections.append(("last exchange", ev["request"] + "\n---\n" + ev["response"]))
        report.user_properties.append(("evidence", ev if report.failed else {}))
    return report


def pytest_runtest_logreport(report):
    cfg = _CONFIG.get("config")
    if cfg is None:
        return
    props = dict(report.user_properties)
    if "case_id" not in props:
        return
    verdict = None
    if report.when == "setup" and report.skipped:
        msg = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        verdict = "not-applicable" if "not-applicable" in msg else "skip"
        message = msg.replace("Skipped: ", "")
    elif report.failed:
        verdict, message = "fail", _short(report)
    elif report.when == "call" and hasattr(report, "wasxfail"):
        verdict, message = "known-deviation", report.wasxfail
    elif report.when == "call" and report.passed:
        verdict, message = "pass", ""
    if verdict is None:
        return
    cfg.conformance_records.append({
        "id": props["case_id"], "area": props["case_id"].split("-")[0], "mode": props["mode"],
        "requirement": props["requirement"], "verdict": verdict,
        "required": verdict not in ("not-applicable", "known-deviation"),
        "duration_s": round(report.duration, 3), "message": message,
        "evidence": props.get("evidence", {}), "metrics": props.get("metrics"),
        "nodeid": report.nodeid})


def _short(report):
    text = str(report.longrepr)
    lines = [l for l in text.splitlines() if l.startswith("E ")]
    return "\n".join(lines[:15]) or text[-1500:]


_CONFIG = {}


def pytest_sessionstart(session):
    _CONFIG["config"] = session.config


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    pool = getattr(config, "conformance_pool", None)
    if pool:
        pool.close()
    wout = getattr(config, "workeroutput", None)
    if wout is not None:
        # xdist sends workeroutput right after this hook: server counts ride along.
        if pool:
            wout["conformance_starts"] = [pool.starts, round(pool.start_s, 3)]
            wout["conformance_stop_problems"] = pool.stop_problems
        return
    if config.option.conformance_json:
        write_journal(config, config.option.conformance_json)
    if config.conformance_error:
        session.exitstatus = 2


def write_journal(config, path):
    records = _dedupe(config.conformance_records)
    summary = {k: 0 for k in ("pass", "fail", "skip", "not-applicable", "known-deviation")}
    for r in records:
        summary[r["verdict"]] += 1
    setup = getattr(config, "conformance_setup", None) or {}
    env = config.conformance
    journal = {
        "schema": JOURNAL_SCHEMA,
        "started": datetime.datetime.utcfromtimestamp(config.conformance_started).isoformat() + "Z",
        "duration_s": round(time.time() - config.conformance_started, 3),
        "setup_error": config.conformance_error,
        "target": dict(setup.get("target", {"name": config.option.target}),
                       profile=setup.get("profile")),
        "server_python": {"path": setup.get("server_python"), "version": setup.get("python_version")},
        "apache": ({"apxs": env.install.apxs, "httpd": env.install.httpd,
                    "version": env.install.version_string, "mpm": env.mpm} if env else
                   {"apxs": config.option.apxs, "mpm": config.option.mpm}),
        "mode": config.option.mode,
        "client": {"python": platform.python_version()},
        "timings": {"build_s": setup.get("target", {}).get("build_s", 0.0),
                    "server_starts": _sum_starts(config)[0], "server_start_s": _sum_starts(config)[1],
                    "cases_s": round(sum(r["duration_s"] for r in records), 3)},
        "summary": summary,
        "stop_problems": _stop_problems(config),
        "cases": records,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(journal, indent=1, sort_keys=True))


def _dedupe(records):
    """One record per (case, mode): a failure in teardown overrides the call's pass."""
    out = {}
    for r in records:
        key = (r["id"], r["mode"])
        if key not in out or r["verdict"] == "fail":
            out[key] = r
    return sorted(out.values(), key=lambda r: (r["id"], r["mode"]))


def _stop_problems(config):
    pool = getattr(config, "conformance_pool", None)
    return list(getattr(config, "conformance_worker_stop_problems", [])) + (pool.stop_problems if pool else [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.conformance_error:
        terminalreporter.write_line("conformance setup error: %s" % config.conformance_error, red=True)
    for p in _stop_problems(config):
        terminalreporter.write_line("server %s/%s did not stop cleanly: %s" % (
            p["site"], p["mode"], "; ".join(p["log"])[:300] or "left pids %s" % p["leftover_pids"]),
            yellow=True)


def _sum_starts(config):
    pool = getattr(config, "conformance_pool", None)
    starts = getattr(config, "conformance_worker_starts", [])
    n = sum(s[0] for s in starts) + (pool.starts if pool else 0)
    t = sum(s[1] for s in starts) + (pool.start_s if pool else 0.0)
    return n, round(t, 3)


def pytest_testnodedown(node, error):
    """xdist: collect each worker's server-start counts for the journal."""
    out = getattr(node, "workeroutput", {}) or {}
    if "conformance_starts" in out:
        node.config.conformance_worker_starts = getattr(node.config, "conformance_worker_starts", [])
        node.config.conformance_worker_starts.append(tuple(out["conformance_starts"]))
        node.config.conformance_worker_stop_problems = (
            getattr(node.config, "conformance_worker_stop_problems", []) + out.get("conformance_stop_problems", []))
