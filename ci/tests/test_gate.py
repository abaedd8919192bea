"""ci/gate: the slice file (shape and coverage), verdicts, dry run, and the acceptance
test: a deliberately broken mod_gateway turns the gate red naming the failing cases."""

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from ci import gate
from conformance import journal

PYTHONS = {"2.7"} | {"3.%d" % m for m in range(6, 14)}
TODAY = datetime.date(2026, 11, 28)


def entries():
    return gate.load_slice(gate.SLICE)


# -- the slice file ---------------------------------------------------------------------

def test_slice_is_representative():
    cells = [e.cell.split("/") for e in entries()]
    assert 12 <= len(cells) <= 17, "the slice must fit the CI budget (about a minute a cell)"
    assert {c[1][2:] for c in cells} == PYTHONS, "every Python at least once"
    assert {c[2] for c in cells} == {"prefork", "worker", "event"}
    assert {c[3] for c in cells} == {"embedded", "daemon"}
    assert {c[4] for c in cells} == {"gateway", "mod_wsgi", "mod_wsgi-debian"}
    from matrix import httpd_builds
    assert {c[0] for c in cells} == {gate.SYSTEM} | {"apache" + v for v in httpd_builds.KNOWN}
    assert sum(c[4] == "mod_wsgi-debian" for c in cells) == 1
    for apache in {c[0] for c in cells}:   # each Apache build: both targets, both modes
        mine = [c for c in cells if c[0] == apache]
        assert {c[3] for c in mine} == {"embedded", "daemon"}, apache
        assert {"gateway", "mod_wsgi"} <= {c[4] for c in mine}, apache
    from matrix.axes import mod_wsgi_version_for
    assert {mod_wsgi_version_for(c[1][2:]) for c in cells if c[4] == "mod_wsgi"} == {"6.1.1", "5.0.2", "4.9.4"}
    # every behaviour profile of the gateway, the seed 3.4 included, in both modes
    from matrix.axes import profile_for_mod_wsgi
    profiles = {(e.profile or profile_for_mod_wsgi(mod_wsgi_version_for(e.cell.split("/")[1][2:])),
                 e.cell.split("/")[3]) for e in entries() if e.cell.endswith("/gateway")}
    assert profiles >= {(p, m) for p in ("3.4", "5") for m in ("embedded", "daemon")} | {("6", "embedded"),
                                                                                         ("6", "daemon")}


def test_allowances_have_reason_and_expiry():
    for e in entries():
        if e.allow_fail:
            assert e.allow_fail["reason"].strip() and e.expires


@pytest.mark.parametrize("doc, problem", [
    ({"cells": [{"cell": "apache-system/py3.11/event/daemon/gateway"}]}, "schema"),
    ({"schema": gate.SLICE_SCHEMA, "cells": []}, "no cells"),
    ({"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "*/py3.11/*"}]}, "not a cell ID"),
    ({"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "apache2.4.69/py3.11/event/daemon/gateway"}] * 2},
     "listed twice"),
    ({"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "apache2.4.69/py3.11/event/daemon/gateway",
                                             "allow_fail": {"reason": "x"}}]}, "allow_fail: needs exactly expires, reason"),
    ({"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "apache2.4.69/py3.11/event/daemon/gateway",
                                             "allow_fail": {"reason": "x", "expires": "soon"}}]}, "not a YYYY-MM-DD"),
    ({"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "apache2.4.69/py3.11/event/daemon/gateway",
                                             "required": False}]}, "unknown keys required"),
    ({"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "apache2.4.69/py3.11/event/daemon/mod_wsgi",
                                             "profile": "3.4"}]}, "profile must be one of"),
    ({"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "apache2.4.69/py3.11/event/daemon/gateway",
                                             "profile": "4"}]}, "profile must be one of"),
])
def test_bad_slice_files_are_refused(tmp_path, doc, problem):
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(gate.GateError, match=problem):
        gate.load_slice(path)


def test_expired_allowance_counts_as_required():
    e = gate.Entry("apache2.4.69/py3.10/prefork/daemon/gateway", {"reason": "daemon", "expires": "2026-12-05"})
    assert e.allowed(datetime.date(2026, 12, 5)) and not e.allowed(datetime.date(2026, 12, 6))
    assert e.role(datetime.date(2026, 12, 6)).startswith("required (allowance expired 2026-12-05")


# -- verdicts ---------------------------------------------------------------------------

def _record(status, cases=(), message=""):
    """A cell record as matrix.store.load_records gives it: its journal read (a Journal)."""
    summary = dict(journal.empty_summary(), **{journal.PASS: 70, journal.FAIL: len(cases), journal.SKIP: 2})
    return {"status": status, "message": message, "journal": journal.Journal(summary=summary, cases=[
        journal.CaseRecord(id=cid, mode=mode, verdict=journal.FAIL, required=True) for cid, mode in cases])}


def test_verdicts_name_failing_cases_and_respect_allowances():
    required = gate.Entry("apache2.4.71/py3.13/event/embedded/gateway")
    allowed = gate.Entry("apache2.4.71/py3.12/worker/daemon/gateway", {"reason": "issue 4", "expires": "2026-12-05"})
    missing = gate.Entry("apache2.4.71/py3.11/event/daemon/mod_wsgi-debian")
    records = {required.id: _record("fail", [("QUE-001", "embedded"), ("ENV-004", "embedded")]),
               allowed.id: _record("fail", [("DAE-001", "daemon")])}
    rows = gate.verdicts([required, allowed, missing], records, TODAY)
    assert [r["red"] for r in rows] == [True, False, True]
    assert rows[0]["failing_cases"] == ["QUE-001[embedded]", "ENV-004[embedded]"]
    assert rows[0]["fail"] == 2 and rows[0]["pass"] == 70 and rows[0]["other"] == 2
    assert rows[2]["status"] == "not-run" and "not in this machine's matrix" in rows[2]["why"]
    lines = []
    assert gate.print_table(rows, lines.append) is False
    text = "\n".join(lines)
    assert "FAILED apache2.4.71/py3.13/event/embedded/gateway (fail): QUE-001[embedded] ENV-004[embedded]" in text
    assert "allowed failure apache2.4.71/py3.12/worker/daemon/gateway" in text
    assert "gate: RED" in text
    # after the allowance expires the same result is red
    assert gate.verdicts([allowed], records, datetime.date(2027, 1, 1))[0]["red"]


def test_allowed_case_failures_alone_keep_a_required_cell_green():
    e = gate.Entry("apache2.4.71/py3.12/worker/daemon/mod_wsgi", case_allowances=[
        {"case": "MODE-015", "cells": "*/*/*/daemon/*", "reason": "timing", "expires": "2026-12-05"}])
    only = {e.id: _record("fail", [("MODE-015", "daemon")])}
    row = gate.verdicts([e], only, TODAY)[0]
    assert not row["red"] and row["excused_cases"][0]["case"] == "MODE-015[daemon]"
    lines = []
    assert gate.print_table([row], lines.append) is True
    assert "allowed case failure apache2.4.71/py3.12/worker/daemon/mod_wsgi: MODE-015[daemon] " \
        "(until 2026-12-05: timing)" in lines
    more = {e.id: _record("fail", [("MODE-015", "daemon"), ("DMN-001", "daemon")])}
    row = gate.verdicts([e], more, TODAY)[0]
    assert row["red"] and row["why"] == "DMN-001[daemon]"
    assert gate.verdicts([e], only, datetime.date(2026, 12, 6))[0]["red"], "expired: required again"


def test_case_allowances_in_the_slice_file(tmp_path):
    doc = {"schema": gate.SLICE_SCHEMA, "cells": [{"cell": "apache2.4.69/py3.10/prefork/daemon/gateway"},
                                                  {"cell": "apache2.4.69/py3.10/prefork/embedded/gateway"}],
           "allow_case_fail": [{"case": "MODE-015", "cells": "*/*/*/daemon", "reason": "t", "expires": "2026-12-05"}]}
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(doc))
    daemon, embedded = gate.load_slice(path)
    assert daemon.excuse("MODE-015[daemon]", TODAY) and not embedded.excuse("MODE-015[embedded]", TODAY)
    for bad, problem in (({"case": "MODE-015", "cells": "*/*/*/nothing", "reason": "t", "expires": "2026-12-05"},
                          "matches no cell"),
                         ({"case": "mode 15", "cells": "*", "reason": "t", "expires": "2026-12-05"}, "not a case ID"),
                         ({"case": "MODE-015", "cells": "*", "reason": "t"}, "needs exactly")):
        path.write_text(json.dumps(dict(doc, allow_case_fail=[bad])))
        with pytest.raises(gate.GateError, match=problem):
            gate.load_slice(path)


def test_a_pass_on_the_retry_is_green_and_reported_flaky():
    e = gate.Entry("apache2.4.71/py3.12/worker/daemon/mod_wsgi")
    first = {e.id: _record("fail", [("MODE-015", "daemon")])}
    rows = gate.verdicts([e], {e.id: _record("pass")}, TODAY, first=first)
    lines = []
    assert gate.print_table(rows, lines.append) is True
    assert rows[0]["first_attempt"]["failing_cases"] == ["MODE-015[daemon]"]
    assert "flaky apache2.4.71/py3.12/worker/daemon/mod_wsgi: passed on the retry; first attempt fail: " \
        "MODE-015[daemon]" in lines


def test_setup_errors_and_unavailable_cells_are_red_when_required():
    e = gate.Entry("apache2.4.12/py2.7/prefork/embedded/gateway")
    for status, msg in (("setup-error", "building gateway: apxs failed\nmore"),
                        ("unavailable", "not built (run python -m matrix build-httpd 2.4.12)")):
        row = gate.verdicts([e], {e.id: {"status": status, "message": msg}}, TODAY)[0]
        assert row["red"] and row["why"] == msg.splitlines()[0]


def test_green_when_every_required_cell_passes():
    e = gate.Entry("apache2.4.71/py3.13/event/embedded/gateway")
    a = gate.Entry("apache2.4.71/py3.12/worker/daemon/gateway", {"reason": "issue 4", "expires": "2026-12-05"})
    lines = []
    rows = gate.verdicts([e, a], {e.id: _record("pass"), a.id: _record("pass")}, TODAY)
    assert gate.print_table(rows, lines.append) is True
    assert "its allowance in ci/gate.json can go" in "\n".join(lines)


def test_system_apache_is_resolved_and_globs_select_by_either_name():
    es = gate.resolve_ids(entries(), "2.4.99")
    assert all(not e.id.startswith(gate.SYSTEM) for e in es)
    assert gate.select_entries(es, ["apache-system/py3.13"]) == gate.select_entries(es, ["apache2.4.99/py3.13"])
    assert gate.apache_versions(es) == ["2.4.12", "2.4.69"]


def test_shim_replaces_only_the_gateway_target(monkeypatch):
    seen = {}
    monkeypatch.setattr(os, "execv", lambda exe, argv: seen.setdefault("argv", argv))
    gate.main([gate.SHIM, "/m/mod_gateway.so", "--target", "gateway", "--mpm", "event", "-n", "2"])
    assert seen["argv"][1:] == ["-m", "conformance", "--target", "/m/mod_gateway.so", "--mpm", "event", "-n", "2"]


# -- the command ------------------------------------------------------------------------

def run_gate(*args, **kw):
    return subprocess.run([str(ROOT / "ci" / "gate")] + list(args), cwd=str(ROOT),
                          env=dict(os.environ, PYTHON=sys.executable), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, **kw)


def test_dry_run_lists_every_cell_and_runs_nothing(tmp_path):
    proc = run_gate("--dry-run", "--out", str(tmp_path / "gate"))
    assert proc.returncode == 0, proc.stdout
    assert "would run: bash ci/provision" in proc.stdout
    for e in entries():
        tail = e.cell.split("/", 1)[1]
        assert any(line.strip().split()[0].endswith("/" + tail) for line in proc.stdout.splitlines()
                   if line.startswith("  ")), e.cell
    assert not (tmp_path / "gate").exists()


def test_dry_run_refuses_a_selection_outside_the_slice():
    proc = run_gate("--dry-run", "--cells", "apache2.2/*")
    assert proc.returncode == 2 and "no cell of the slice matches" in proc.stdout


# -- acceptance: a broken module turns the gate red -------------------------------------

def _python(version):
    from conformance import targets
    try:
        return targets.find_python(version)
    except targets.TargetError:
        return None


def _broken_sources(dest, name, original, replacement):
    """A copy of the module's sources (as conformance/power copies them) in `dest`, with the
    one occurrence of `original` in file `name` replaced: if the code has moved on and the
    text is not there exactly once, the fault must be chosen again."""
    from gateway import build
    dest.mkdir()
    for f in build.source_files():
        shutil.copy2(str(f), str(dest / f.name))
    text = (dest / name).read_text()
    assert text.count(original) == 1, "%s no longer reads %r exactly once" % (name, original)
    (dest / name).write_text(text.replace(original, replacement))
    return dest


@pytest.mark.parametrize("name, original, replacement, python, cell, case", [
    # the environ misses mod_wsgi.request_start
    ("gw_environ.c",
     '            if (set_item(d, "mod_wsgi.request_start", time_value(prof, req)) < 0)\n'
     "                goto fail;\n", "",
     "3.13", "apache-system/py3.13/event/embedded/gateway", "QUE-001[embedded]"),
    # every request routed to a daemon group answers 503
    ("mod_gateway.c", "return gw_daemon_handle(r, g, &rc, env);", "return HTTP_SERVICE_UNAVAILABLE;",
     "3.12", "apache-system/py3.12/worker/daemon/gateway", "DMN-001[daemon]"),
], ids=["timing-key-dropped", "daemon-unavailable"])
def test_broken_module_turns_the_gate_red(tmp_path, name, original, replacement, python, cell, case):
    """mod_gateway built from a copy of its sources with one fault (a timing key dropped /
    daemon groups answering 503), run by the gate on one cell of the slice (2 workers):
    exit 1, the failing cases named."""
    if not shutil.which("apxs") or not _python(python):
        pytest.skip("needs Apache's apxs and a Python %s with a shared libpython" % python)
    assert cell in [e.cell for e in entries() if not e.allow_fail], "the cell must be required"
    src = _broken_sources(tmp_path / "src", name, original, replacement)
    built = subprocess.run([sys.executable, "-m", "gateway", "build", "--python", _python(python),
                            "--src", str(src), "--out", str(tmp_path / "broken")],
                           cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
    assert built.returncode == 0, built.stdout
    module = built.stdout.strip().splitlines()[-1]
    out = tmp_path / "gate"
    proc = run_gate("--no-provision", "--cells", cell, "--gateway-module", module,
                    "--out", str(out), "--jobs", "1", "--", "-n", "2", timeout=900)
    assert proc.returncode == 1, proc.stdout[-4000:]
    failed = [l for l in proc.stdout.splitlines() if l.startswith("FAILED ")]
    tail = cell.split("/", 1)[1]
    assert len(failed) == 1 and failed[0].split()[1].endswith("/" + tail), proc.stdout[-3000:]
    assert case in failed[0].split(), failed[0]
    assert "gate: RED" in proc.stdout
    verdict = json.loads((out / "gate.json").read_text())
    assert verdict["passed"] is False and verdict["gateway_module"] == module
    (row,) = verdict["cells"]
    assert row["red"] and case in row["failing_cases"]
    ran = journal.Journal.read(next(out.glob("cells/*/" + tail + "/journal.json")), strict=True)
    assert ran.target.module == module   # the session ran the given module, not a fresh build
