"""The matrix report, from the cell records and journals of one or more output directories.

Its data: build() turns the records into the document (schema mod_gateway.matrix-report/1),
and its helpers (cell state, summary grids, the differential) are what html.py and
markdown.py draw; junit_for() makes a cell's junit/<cell>.xml (the session's, or a
synthetic one for a cell that produced none, so CI sees unavailable and timed-out cells
too).  publish.py writes them all.
"""

import datetime
from collections import Counter, defaultdict
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from conformance.journal import FAIL, OUTCOME, VERDICTS

from . import REPORT_SCHEMA
from .cells import Cell, _version_key, slug

REFERENCE_TARGETS = ("mod_wsgi", "mod_wsgi-debian")


def evidence_anchor(cell_id, case):
    return "evidence-%s-%s-%s" % (slug(cell_id), case["id"], case.get("mode", ""))


def cell_anchor(cell_id):
    return "cell-" + slug(cell_id)


def own_cases(cell_entry):
    """{case id: case} for the cell's own mode (a 'both' journal holds two per case)."""
    out = {}
    for case in cell_entry["cases"]:
        if case["id"] not in out or case.get("mode") == cell_entry["axes"]["mode"]:
            out[case["id"]] = case
    return out


def _cell_entry(rec, configs):
    """One cell of report.json.  Requirements live in the catalogue and each distinct
    generated httpd.conf once in `configs` (evidence names it by config_id): a full matrix
    has thousands of failures whose configs are mostly the same few."""
    cell = Cell.from_dict(rec["cell"])
    journal = rec.get("journal")                  # conformance.journal.Journal or None
    jt = journal.timings if journal else None
    build_s = round((rec.get("build_s") or 0.0) + (jt.build_s or 0.0 if jt else 0.0), 3)
    wall = rec.get("wall_s") or 0.0
    start_s, cases_s = (jt.server_start_s, jt.cases_s) if jt else (0.0, 0.0)
    cases = []
    for case in journal.cases if journal else []:
        c = {"id": case.id, "area": case.area, "mode": case.mode, "verdict": case.verdict,
             "required": case.required, "duration_s": case.duration_s, "message": case.message}
        ev = case.evidence.to_dict()
        if ev.get("config"):
            ev["config_id"] = configs.setdefault(ev.pop("config"), str(len(configs) + 1))
        c["evidence"] = ev
        if c["verdict"] == FAIL:
            c["anchor"] = evidence_anchor(cell.id, c)
        cases.append(c)
    return {
        "id": cell.id, "anchor": cell_anchor(cell.id),
        "axes": {"apache": cell.apache, "python": cell.python, "mpm": cell.mpm, "mode": cell.mode,
                 "target": cell.target},
        "definition": rec["cell"], "status": rec.get("status", "error"), "message": rec.get("message", ""),
        "profile": (journal.target.profile if journal else None) or cell.profile,
        "target": journal.target.to_dict() if journal else None,
        "apache": journal.apache.to_dict() if journal else None,
        "server_python": journal.server_python.to_dict() if journal else None,
        "setup_error": journal.setup_error if journal else None,
        "stop_problems": [p.to_dict() for p in journal.stop_problems] if journal else [],
        "host": rec.get("host"), "started": rec.get("started"), "finished": rec.get("finished"),
        "exit_code": rec.get("exit_code"),
        "timings": {"wall_s": wall, "build_s": build_s, "server_starts": jt.server_starts if jt else 0,
                    "server_start_s": start_s, "cases_s": cases_s,
                    "other_s": round(max(0.0, wall - build_s - start_s - cases_s), 3)},
        "summary": dict(journal.summary) if journal else {},
        "journal": "cells/%s/journal.json" % cell.id if journal else None,
        "junit": "junit/%s.xml" % slug(cell.id),
        "cases": cases,
    }


def differential(cells, catalogue):
    """Cases where mod_gateway and a real mod_wsgi behave differently in the same
    Apache/Python/MPM/mode: one passes where the other fails or deviates."""
    groups = defaultdict(dict)
    for c in cells:
        if c["cases"]:
            groups[c["id"].rsplit("/", 1)[0]][c["axes"]["target"]] = c
    out = []
    for group, by_target in sorted(groups.items()):
        gw = by_target.get("gateway")
        for ref in (by_target.get(t) for t in REFERENCE_TARGETS):
            if not gw or not ref:
                continue
            gv, rv = own_cases(gw), own_cases(ref)
            for case_id in sorted(set(gv) & set(rv)):
                a, b = gv[case_id], rv[case_id]
                oa, ob = OUTCOME.get(a["verdict"]), OUTCOME.get(b["verdict"])
                if oa and ob and oa != ob:
                    out.append({"group": group, "case": case_id, "requirement": catalogue[case_id]["requirement"],
                                "gateway": _side(gw, a), "reference": _side(ref, b)})
    return out


def differential_by_case(diff):
    """The differential folded per (case, gateway verdict, reference, its verdict), with
    the groups (Apache/Python/MPM/mode) where it happens: one line per kind of disagreement."""
    folded = {}
    for d in diff:
        key = (d["case"], d["gateway"]["verdict"], d["reference"]["target"], d["reference"]["verdict"])
        entry = folded.setdefault(key, {"case": d["case"], "requirement": d["requirement"],
                                        "gateway": d["gateway"]["verdict"], "reference": d["reference"]["target"],
                                        "reference_verdict": d["reference"]["verdict"],
                                        "profiles": set(), "where": []})
        entry["profiles"].add((d["gateway"]["profile"], d["reference"]["profile"]))
        entry["where"].append((d["group"], d["gateway"].get("anchor") or d["reference"].get("anchor")))
    return [dict(e, profiles=sorted(e["profiles"])) for _, e in sorted(folded.items())]


TARGET_ORDER = ("gateway", "mod_wsgi", "mod_wsgi-debian")
MODE_ORDER = ("embedded", "daemon")
# A summary square is the worst of its cells (one per MPM): fail, no result, pass, unavailable.
STATE_ORDER = ("fail", "no-result", "pass", "unavailable")


def cell_state(status):
    """A cell status folded for the summary: pass, fail, unavailable, or no-result
    (timeout, error, setup-error, not-run)."""
    return status if status in ("pass", "fail", "unavailable") else "no-result"


def summary_grids(doc):
    """The report's summary: per target and mode, Apache x Python squares, each holding
    that combination's cells (one per MPM) and their states.  Apaches or Pythons where
    no cell of any target can run are left out of the grids and returned in `hidden`
    with the reasons, so the grids show what there is to see.

    Returns {"grids": [{"target", "mode", "apaches", "pythons", "squares": {(apache, python):
    {"cells": [...], "counts": {state: n}, "state": worst}}, "counts": {state: n}}],
    "hidden": {"apache": {version: [reasons]}, "python": {...}}}."""
    cells = doc["cells"]
    hidden = {}
    for axis in ("apache", "python"):
        values = defaultdict(list)
        for c in cells:
            if axis == "python" and c["axes"]["apache"] in hidden["apache"]:
                continue                        # say why a Python is missing on the Apaches there are
            values[c["axes"][axis]].append(c)
        hidden[axis] = {v: sorted({c["message"] for c in cs}) for v, cs in values.items()
                        if all(c["status"] == "unavailable" for c in cs)}
    groups = defaultdict(list)
    for c in cells:
        if c["axes"]["apache"] in hidden["apache"] or c["axes"]["python"] in hidden["python"]:
            continue
        groups[(c["axes"]["target"], c["axes"]["mode"])].append(c)

    def order(key):
        t, m = key
        return (TARGET_ORDER.index(t) if t in TARGET_ORDER else len(TARGET_ORDER), t,
                MODE_ORDER.index(m) if m in MODE_ORDER else len(MODE_ORDER), m)

    grids = []
    for (target, mode) in sorted(groups, key=order):
        members = groups[(target, mode)]
        squares = defaultdict(lambda: {"cells": [], "counts": Counter()})
        for c in members:
            sq = squares[(c["axes"]["apache"], c["axes"]["python"])]
            sq["cells"].append(c)
            sq["counts"][cell_state(c["status"])] += 1
        for sq in squares.values():
            sq["state"] = next(s for s in STATE_ORDER if sq["counts"].get(s))
            sq["counts"] = {s: sq["counts"][s] for s in STATE_ORDER if sq["counts"].get(s)}
        grids.append({
            "target": target, "mode": mode,
            "apaches": sorted({a for a, _ in squares}, key=_version_key),
            "pythons": sorted({p for _, p in squares}, key=_version_key),
            "squares": dict(squares),
            "counts": {s: n for s, n in ((s, sum(1 for c in members if cell_state(c["status"]) == s))
                                         for s in STATE_ORDER) if n}})
    return {"grids": grids, "hidden": hidden}


def _side(cell, case):
    return {"cell": cell["id"], "target": cell["axes"]["target"], "profile": cell["profile"],
            "verdict": case["verdict"], "anchor": case.get("anchor")}


def catalogue(records):
    """{case id: {area, requirement}} of every case any journal reports."""
    out = {}
    for rec in records.values():
        for case in rec["journal"].cases if rec.get("journal") else []:
            out.setdefault(case.id, {"area": case.area, "requirement": case.requirement})
    return dict(sorted(out.items()))


def build(records, expected=(), runs=(), axes=None):
    """The report.json document from cell records; `expected` cells without one are not-run."""
    records = dict(records)
    for cell in expected:
        if cell.id not in records:
            records[cell.id] = {"cell": cell.as_dict(), "status": "not-run",
                                "message": "no result recorded (interrupted, or not selected by --rerun-failed)"}
    order = sorted(records, key=lambda i: Cell.from_dict(records[i]["cell"]).sort_key)
    configs = {}
    cells = [_cell_entry(records[i], configs) for i in order]
    cases = catalogue(records)
    verdicts = Counter(case["verdict"] for c in cells for case in c["cases"])
    runs = list(runs)
    return {
        "schema": REPORT_SCHEMA,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": runs[-1]["wall_s"] if runs else None,          # the last run
        "wall_s_all_runs": round(sum(r.get("wall_s") or 0 for r in runs), 3),
        "runs": runs,
        "axes": axes or {},
        "summary": {"cells": len(cells), "status": dict(Counter(c["status"] for c in cells)),
                    "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
                    "cell_time_s": round(sum(c["timings"]["wall_s"] for c in cells), 3)},
        "catalogue": cases,
        "configs": {n: text for text, n in configs.items()},
        "cells": cells,
        "differential": differential(cells, cases),
    }


# -- JUnit -----------------------------------------------------------------------------

def junit_for(cell, src):
    """The session's JUnit XML, or one test case standing for a cell that wrote none."""
    if src and Path(src).exists():
        return Path(src).read_text(errors="replace")
    status, msg = cell["status"], cell["message"] or cell["status"]
    if status == "unavailable":
        body = "<skipped message=%s/>" % quoteattr("unavailable: " + msg)
    elif status == "not-run":
        body = "<skipped message=%s/>" % quoteattr("not run: " + msg)
    else:
        body = "<error message=%s>%s</error>" % (quoteattr(status + ": " + msg.splitlines()[0] if msg else status),
                                                escape(msg))
    bad = int(status not in ("unavailable", "not-run"))
    return ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name=%s tests="1" errors="%d" '
            'failures="0" skipped="%d"><testcase classname="matrix" name=%s time="%s">%s</testcase>'
            '</testsuite></testsuites>\n' % (quoteattr(cell["id"]), bad, 1 - bad, quoteattr(cell["id"]),
                                            cell["timings"]["wall_s"], body))
