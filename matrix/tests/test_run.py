import json
import os
import time
from pathlib import Path

from conformance.journal import PASS, Journal
from gateway import httpd, text
from matrix import run, store

from .conftest import make_cell, write_cell

CELLS = [make_cell(t, m) for t in ("gateway", "mod_wsgi") for m in ("embedded", "daemon")]


def _calls(path):
    return sorted(path.read_text().split()) if path.exists() else []


def test_cells_run_through_the_session_command(tmp_path, fake_conformance, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "gateway")
    lines = []
    out = tmp_path / "out"
    records = run.run_cells(CELLS + [make_cell(apache="2.2", unavailable="Apache 2.2 is not obtainable here")],
                            out, jobs=2, log=lines.append)
    assert {i: r["status"] for i, r in records.items() if "2.2" not in i} == {
        c.id: ("fail" if c.target == "gateway" else "pass") for c in CELLS}
    assert records["apache2.2/py3.11/event/embedded/gateway"]["status"] == "unavailable"
    assert len(_calls(fake_conformance)) == 4
    progress = [l for l in lines if l.startswith("[")]
    assert len(progress) == 4 and any(
        "apache2.4.71/py3.11/event/daemon/gateway: 2 pass 1 fail (" in l and " elapsed " in l and " ETA " in l
        for l in progress)
    rec = store.read_record(out, CELLS[0].id)
    assert rec["command"][-4:] == ["--json", str(out / "cells" / CELLS[0].id / "journal.json"),
                                   "--junitxml", str(out / "cells" / CELLS[0].id / "junit.xml")]
    assert "--mod-wsgi-version" not in rec["command"]
    assert 0 < rec["cpu_s"] < 30                             # the fake session's own interpreter, at least
    assert json.loads((out / "runs.json").read_text())[0]["ran"] == 4


def test_finished_cells_are_reused_and_rerun_failed_reruns_only_failures(tmp_path, fake_conformance, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("FAKE_FAIL", "gateway")
    run.run_cells(CELLS[:2], out, log=lambda *_: None)                     # gateway cells: fail
    fake_conformance.unlink()
    run.run_cells(CELLS, out, log=lambda *_: None)                         # resumes: only the new two
    assert _calls(fake_conformance) == ["mod_wsgi/event/daemon", "mod_wsgi/event/embedded"]
    fake_conformance.unlink()
    monkeypatch.setenv("FAKE_FAIL", "")
    records = run.run_cells(CELLS, out, rerun_failed=True, log=lambda *_: None)
    assert _calls(fake_conformance) == ["gateway/event/daemon", "gateway/event/embedded"]
    assert {r["status"] for r in records.values()} == {"pass"}


def test_plan_selection(tmp_path):
    out = tmp_path
    write_cell(out, CELLS[0], "fail")
    write_cell(out, CELLS[1], "timeout")
    write_cell(out, CELLS[2], "pass")
    changed = make_cell("mod_wsgi", "daemon")
    write_cell(out, changed, "fail")
    changed.python_path = "/elsewhere/python3.11"                           # redefined: not reusable
    to_run, reused, _ = run.plan(CELLS[:3] + [changed], out)
    assert [c.id for c in to_run] == [changed.id]
    to_run, reused, _ = run.plan(CELLS[:3] + [changed], out, rerun_failed=True)
    assert [c.id for c in to_run] == [CELLS[0].id, CELLS[1].id]
    to_run, _, _ = run.plan(CELLS[:3], out, fresh=True)
    assert len(to_run) == 3


def test_setup_error_is_its_own_status(tmp_path, fake_conformance, monkeypatch):
    monkeypatch.setenv("FAKE_SETUP_ERROR", "mod_wsgi")
    rec = run.run_cells([CELLS[2]], tmp_path, log=lambda *_: None)[CELLS[2].id]
    assert (rec["status"], rec["message"], rec["exit_code"]) == ("setup-error", "cannot build mod_wsgi", 2)


def test_failed_prebuild_is_recorded_without_a_session(tmp_path, fake_conformance):
    def prebuild(cell):
        raise RuntimeError("apxs failed:\n  x.c:1: error: no member named cgi_pass_auth")
    rec = run.run_cells([CELLS[0]], tmp_path, prebuild=prebuild, log=lambda *_: None)[CELLS[0].id]
    assert rec["status"] == "setup-error" and not fake_conformance.exists()
    assert text.headline(rec["message"]) == ("building gateway: apxs failed: ... "
                                            "x.c:1: error: no member named cgi_pass_auth")


def test_timeout_kills_the_cell_and_what_it_started_in_other_sessions(tmp_path, fake_conformance, monkeypatch):
    pidfile = tmp_path / "grandchild.pid"
    monkeypatch.setenv("FAKE_HANG", "gateway/daemon")
    monkeypatch.setenv("FAKE_PIDFILE", str(pidfile))
    t0 = time.monotonic()
    records = run.run_cells(CELLS, tmp_path / "out", jobs=2, timeout=3, log=lambda *_: None)
    assert time.monotonic() - t0 < 30
    hung = records[make_cell("gateway", "daemon").id]
    assert hung["status"] == "timeout" and hung["message"].startswith("no result after 3")
    grandchild = int(pidfile.read_text())
    time.sleep(0.2)
    assert not httpd.alive(grandchild), "the cell's grandchild (own session, like Apache) survived"
    assert {r["status"] for i, r in records.items() if i != hung["cell"]["id"]} == {"pass"}


def test_stopping_a_run_kills_running_cells_and_records_nothing_for_them(tmp_path, fake_conformance, monkeypatch):
    import threading
    pidfile = tmp_path / "grandchild.pid"
    monkeypatch.setenv("FAKE_HANG", "*")
    monkeypatch.setenv("FAKE_PIDFILE", str(pidfile))
    result = {}
    t = threading.Thread(target=lambda: result.update(run.run_cells(CELLS[:1], tmp_path / "out",
                                                                    log=lambda *_: None)))
    t.start()
    deadline = time.monotonic() + 20
    while not (run._RUNNING and pidfile.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    run.stop_running()
    t.join(20)
    assert not t.is_alive()
    assert result[CELLS[0].id] is None                     # no record: the next run redoes it
    assert not httpd.alive(int(pidfile.read_text()))


def test_cli_single_cell(tmp_path, fake_conformance, monkeypatch, capsys):
    from matrix import axes
    monkeypatch.setattr(axes, "discover", lambda extra=(), assume_built=False, extra_apxs=(): axes.Axes([], [], CELLS))
    assert run.main(["--cell", CELLS[1].id, "--out", str(tmp_path)]) == 0
    assert _calls(fake_conformance) == ["gateway/event/daemon"]
    assert (tmp_path / "report.html").exists() and (tmp_path / "axes.json").exists()
    assert run.main(["--cell", "apache9/py1/x/y/z", "--out", str(tmp_path)]) == 2
    monkeypatch.setenv("MATRIX_CELLS", "*/py3.11/event/embedded")
    assert run.main(["--out", str(tmp_path)]) == 0
    assert _calls(fake_conformance) == ["gateway/event/daemon", "gateway/event/embedded", "mod_wsgi/event/embedded"]
    assert "[2/2]" in capsys.readouterr().out


def test_cells_run_longest_first_by_their_last_record_else_their_kind(tmp_path, fake_conformance):
    out = tmp_path / "out"
    write_cell(out, CELLS[2], "pass")                        # mod_wsgi/embedded: 4.5 s last time
    rec = store.read_record(out, CELLS[2].id)
    store.write_record(out, dict(rec, wall_s=300.0))        # ... now the longest of all
    run.run_cells(CELLS, out, jobs=1, fresh=True, log=lambda *_: None)
    assert fake_conformance.read_text().split() == [
        "mod_wsgi/event/embedded", "gateway/event/daemon", "mod_wsgi/event/daemon", "gateway/event/embedded"]


def test_sessions_keep_their_byte_code_in_the_cache_not_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("MOD_GATEWAY_CACHE", str(tmp_path))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    env = run.session_env()
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(run.REPO)
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    assert "PYTHONPYCACHEPREFIX" not in run.session_env()     # byte code where Python puts it


class _Meter:
    def __init__(self):
        self.idle = 0.0

    def idle_cores(self):
        return self.idle


def test_auto_jobs_follow_the_idle_cpu():
    now = [0.0]
    meter = _Meter()
    jobs = run.Jobs(run.AUTO, cpus=2, meter=meter, clock=lambda: now[0])
    assert jobs.most == 12 and jobs.may_start(0) and jobs.may_start(1)  # one per core always
    jobs.started(2)
    meter.idle = 1.5
    assert not jobs.may_start(2)                              # the last start has not settled
    now[0] += run.Jobs.SETTLE
    assert jobs.may_start(2)
    meter.idle = 0.4                                         # less than half a core idle: wait
    assert not jobs.may_start(2)
    meter.idle = 2.0
    assert not jobs.may_start(12) and jobs.describe() == "auto (2-12), at most 2 at once"


def test_a_number_of_jobs_is_fixed():
    jobs = run.Jobs(3, cpus=2)
    assert jobs.may_start(2) and not jobs.may_start(3) and jobs.describe() == "3"
    jobs.started(1)
    assert jobs.describe() == "3, at most 1 at once"
    assert run.parse_args(["--jobs", "auto"]).jobs == run.AUTO and run.parse_args(["-j", "5"]).jobs == 5


# -- --tests: a downstream project's own suite in each cell --------------------------------

def test_tests_command_makes_the_cell_through_the_plugin_options(tmp_path):
    cell = make_cell("mod_wsgi", "daemon", mpm="worker")
    cmd = run.conformance_command(cell, tmp_path, 2, ["-x"], tests=["/proj/tests"])
    assert cmd[1:4] == ["-m", "pytest", "/proj/tests"] and cmd[4:6] == ["-p", "mod_gateway_pytest"]
    opts = dict(a.split("=", 1) for a in cmd if a.startswith("--") and "=" in a)
    assert (opts["--wsgi-target"], opts["--wsgi-mode"], opts["--wsgi-mpm"]) == ("mod_wsgi", "daemon", "worker")
    assert (opts["--wsgi-server-python"], opts["--wsgi-apxs"], opts["--wsgi-profile"]) == (
        "/usr/bin/python3.11", "/usr/bin/apxs", "6")
    assert opts["--wsgi-mod-wsgi-version"] == "6.1.1" and cmd[-3:] == ["-n", "2", "-x"]
    assert opts["--wsgi-journal"] == str(tmp_path / "journal.json")
    assert opts["--junitxml"] == str(tmp_path / "junit.xml")


def test_a_conformance_record_is_not_reused_for_a_tests_run(tmp_path):
    write_cell(tmp_path, CELLS[0], "pass")
    assert run.plan(CELLS[:1], tmp_path)[0] == []
    assert [c.id for c in run.plan(CELLS[:1], tmp_path, tests=["/proj/tests"])[0]] == [CELLS[0].id]


def test_tests_run_in_real_cells(tmp_path, monkeypatch):
    """Two real cells (mod_gateway, both modes, this machine's Apache): a passing and a failing
    test; the records, journals, JUnit files, report and exit status are the matrix's own."""
    import shutil
    import tempfile
    from gateway import httpd
    from mod_gateway_pytest.app import harness_base_python
    from matrix import publish
    from matrix.cells import Cell
    if not (httpd._which("apxs") or httpd._which("apxs2")):
        import pytest
        pytest.skip("needs apxs")
    inst = httpd.ApacheInstall.from_apxs()
    proj = Path(tempfile.mkdtemp(prefix="matrix-tests-"))      # readable by Apache's children
    os.chmod(str(proj), 0o755)
    try:
        (proj / "hello.py").write_text("def application(environ, start_response):\n"
                                       "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                                       "    return [environ.get('mod_wsgi.process_group', '').encode() or b'-']\n")
        (proj / "test_hello.py").write_text(
            "import pytest\n\n@pytest.fixture\ndef wsgi_app():\n    return 'hello:application'\n\n"
            "def test_ok(wsgi_server):\n    assert wsgi_server.get('/').status == 200\n\n"
            "def test_group(wsgi_server):\n    assert wsgi_server.get('/').text == 'app'\n")
        py = harness_base_python()
        cells = [Cell(inst.version_string, "3.x", "event", m, "gateway", apxs=inst.apxs, python_path=py,
                      profile="5") for m in ("embedded", "daemon")]
        monkeypatch.chdir(proj)
        out = tmp_path / "out"
        records = run.run_cells(cells, out, jobs=2, tests=[str(proj)], log=lambda *_: None)
    finally:
        shutil.rmtree(str(proj), ignore_errors=True)
    emb, dmn = records[cells[0].id], records[cells[1].id]
    assert (dmn["status"], emb["status"]) == ("pass", "fail"), (emb["message"], dmn["message"])
    assert emb["message"] == "failed: test_hello.py::test_group" and emb["tests"] == [str(proj)]
    journal = store.read_journal(store.journal_path(out, cells[0].id))
    assert journal.suite == "tests" and Journal.read(store.journal_path(out, cells[0].id), strict=True)
    assert journal.count(PASS) == 1 and journal.target.kind == "gateway"
    (failed,) = journal.failed_required()
    assert failed.mode == "embedded" and "WSGIScriptAlias / " in failed.evidence.config
    paths = publish.write_report(out, expected=cells)
    assert (out / "junit").is_dir() and len(list((out / "junit").glob("*.xml"))) == 2
    assert Path(paths["html"]).exists()
