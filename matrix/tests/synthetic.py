"""A synthetic full-size matrix output directory, written through the real store code:
4 Apaches (2.2 unobtainable) x 13 Pythons (3.2-3.5 without a shared libpython) x 3 MPMs
x 2 modes x gateway/mod_wsgi, plus Debian's mod_wsgi with its own Python and Apache =
630 cells, 330 that ran (with journals of ~200 cases each) and 300 unavailable.

    python -m matrix.tests.synthetic OUT     writes it and the report (to look at by hand)
"""

import json
import random
import sys
import zlib

from conformance import journal as journal_mod
from matrix import store
from matrix.cells import Cell

APACHES = ("2.2", "2.4.12", "2.4.69", "2.4.71")
PYTHONS = ("2.7",) + tuple("3.%d" % m for m in range(2, 14))
MPMS = ("prefork", "worker", "event")
MODES = ("embedded", "daemon")
AREAS = ("ENV", "INP", "OUT", "HDR", "ERR", "QUE", "DAE", "SIG", "FIL", "CHK", "THR", "SUB", "RLD", "LOG")
NO_SHARED = {"3.%d" % m for m in range(2, 6)}


def catalogue(n_cases=200):
    cases = []
    for i in range(n_cases):
        area = AREAS[i % len(AREAS)]
        cases.append(("%s-%03d" % (area, i // len(AREAS) + 1), area,
                      "requirement %d: %s behaves as mod_wsgi documents it, for every request and mode" % (i, area)))
    return sorted(cases, key=lambda c: (c[1], c[0]))


def cells():
    out = []
    for apache in APACHES:
        for py in PYTHONS:
            for mpm in MPMS:
                for mode in MODES:
                    for target in ("gateway", "mod_wsgi"):
                        why = ("Apache 2.2 is not obtainable here" if apache == "2.2" else
                               "no Python %s with a shared libpython (pyenv install %s with "
                               "--enable-shared)" % (py, py) if py in NO_SHARED else None)
                        out.append(Cell(apache, py, mpm, mode, target, apxs="/opt/apache%s/bin/apxs" % apache,
                                        python_path="/usr/bin/python" + py, python_version=py + ".9",
                                        mod_wsgi_version="6.1.1" if target == "mod_wsgi" else None,
                                        profile="6" if tuple(map(int, py.split("."))) >= (3, 10) else "5", unavailable=why))
    for mpm in MPMS:
        for mode in MODES:
            out.append(Cell("2.4.62", "3.11", mpm, mode, "mod_wsgi-debian", apxs="/usr/bin/apxs",
                            python_path="/usr/bin/python3.11", python_version="3.11.2", mod_wsgi_version="4.9.4",
                            profile="5"))
    return out


CONFIG = "\n".join(["LoadModule gateway_module /cache/%(target)s-py%(python)s.so",
                    "WSGIDaemonProcess site processes=2 threads=4 display-name=%%{GROUP}",
                    "WSGIScriptAlias / /srv/apps/site.wsgi process-group=site application-group=%%{GLOBAL}"] +
                   ["# filler line %d of the generated httpd.conf, as long as a real one" % i for i in range(30)])


def journal(cell, cases, rng):
    """A journal for a cell that ran: mostly passes, realistic failures with evidence."""
    out, summary = [], journal_mod.empty_summary()
    broken = set()
    if cell.target == "gateway" and cell.python == "2.7" and cell.mode == "daemon":
        broken |= {c[0] for c in cases if c[1] == "DAE"}               # a whole area in one combination
    if cell.apache == "2.4.12" and cell.mpm == "worker":
        broken |= {cases[rng.randrange(len(cases))][0] for _ in range(2)}
    if cell.id == "apache2.4.69/py3.8/event/daemon/gateway":
        broken |= {c[0] for c in cases[:60]}                          # one cell that fails a lot
    for case_id, area, requirement in cases:
        h = zlib.crc32(("%s %s %s" % (case_id, cell.profile, cell.mode)).encode()) % 100
        verdict = (journal_mod.NOT_APPLICABLE if h < 8 else journal_mod.SKIP if h < 11 else
                   journal_mod.KNOWN_DEVIATION if cell.target != "gateway" and h < 13 else journal_mod.PASS)
        if case_id in broken:
            verdict = journal_mod.FAIL
        evidence, message = {}, ("not-applicable: case not in profile %s" % cell.profile
                                 if verdict == journal_mod.NOT_APPLICABLE else "")
        if verdict == journal_mod.FAIL:
            message = ("E   AssertionError: %s: expected 200, got 500\nE   assert 500 == 200\n"
                       "conformance/cases/test_%s.py:%d: AssertionError" % (case_id, area.lower(), 40 + h))
            evidence = {"config": CONFIG % {"target": cell.target, "python": cell.python},
                        "request": "GET /%s?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: conformance\r\n" % case_id,
                        "response": "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n\r\n"
                                    "<html><body><h1>Internal Server Error</h1><p>The server encountered an "
                                    "internal error.</p></body></html>",
                        "log": ["[wsgi:error] [pid %d:tid %d] [client 127.0.0.1:%d] mod_wsgi (pid=%d): "
                                "Exception occurred processing WSGI script '/srv/apps/site.wsgi'." % (
                                    1000 + h, 2000 + h, 40000 + h, 1000 + h),
                                "[wsgi:error] Traceback (most recent call last):",
                                "[wsgi:error]   File \"/srv/apps/site.wsgi\", line %d, in application" % h,
                                "[wsgi:error] KeyError: 'wsgi.%s'" % area.lower()]}
        summary[verdict] += 1
        out.append({"id": case_id, "area": area, "mode": cell.mode, "requirement": requirement, "verdict": verdict,
                    "required": True, "duration_s": 0.05, "message": message, "evidence": evidence})
    return {"schema": journal_mod.SCHEMA, "started": "2026-01-01T00:00:00Z", "duration_s": 60.0,
            "setup_error": None, "mode": cell.mode, "summary": summary, "stop_problems": [],
            "target": {"name": cell.target, "kind": cell.target, "profile": cell.profile, "build_s": 0.0},
            "server_python": {"path": cell.python_path, "version": cell.python_version},
            "apache": {"apxs": cell.apxs, "version": cell.apache, "mpm": cell.mpm},
            "timings": {"build_s": 0.0, "server_starts": 24, "server_start_s": 9.5,
                        "server_stops": 24, "server_stop_s": 7.0, "server_stop_wait_s": 0.5, "cases_s": 40.0},
            "cases": out}


def write_matrix(out, n_cases=200, seed=7):
    """Write the cell directories of the synthetic matrix into `out`; returns the cells."""
    rng = random.Random(seed)
    cases = catalogue(n_cases)
    all_cells = cells()
    no_result = {"apache2.4.71/py3.13/prefork/embedded/mod_wsgi": ("timeout", "cell timed out after 900s"),
                 "apache2.4.12/py2.7/event/daemon/mod_wsgi": ("setup-error", "mod_wsgi 4.9.4 did not build:\n"
                                                              "error: command 'gcc' failed")}
    for cell in all_cells:
        if cell.unavailable:
            store.write_record(out, {"cell": cell.as_dict(), "status": "unavailable", "message": cell.unavailable})
            continue
        d = store.cell_dir(out, cell.id)
        d.mkdir(parents=True, exist_ok=True)
        status, message = no_result.get(cell.id, (None, ""))
        if status is None:
            j = journal(cell, cases, rng)
            (d / "journal.json").write_text(json.dumps(j))
            (d / "output.log").write_text("%d passed\n" % j["summary"]["pass"])
            status = "fail" if j["summary"]["fail"] else "pass"
        store.write_record(out, {"cell": cell.as_dict(), "status": status, "message": message, "wall_s": 75.0,
                                 "build_s": 0.5, "finished": "2026-01-01T01:00:00+00:00", "host": "synthetic",
                                 "exit_code": 0 if status == "pass" else 1})
    store.write_json(out / "runs.json", [{"started": "2026-01-01T00:00:00+00:00", "wall_s": 3600.0, "jobs": 6,
                                          "workers_per_cell": 1, "ran": 330, "reused": 0, "host": "synthetic"}])
    return all_cells


if __name__ == "__main__":
    from pathlib import Path
    from matrix import publish
    target = Path(sys.argv[1])
    write_matrix(target)
    print(publish.write_report(target)["html"])
