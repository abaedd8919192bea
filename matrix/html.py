"""report.html: one self-contained page (inline CSS, no scripts, no external assets).

A table of cases x cells grouped by area, coloured by verdict with a legend; every
failure links to its evidence block (config, request, response, error-log lines) further
down the same page.  Unavailable cells share one column per reason; the cells table,
the differential (gateway vs real mod_wsgi) and each cell's own problems follow.
"""

from collections import OrderedDict, defaultdict
from html import escape

from .run import fmt_duration

MAX_EVIDENCE = 1500        # evidence blocks on the page, shared fairly among the failing cells;
                           # failures beyond a cell's share link to the cell (report.json has all)
MAX_FIELD = 6000           # characters of one evidence field on the page

# verdict or cell status -> (css class, symbol, legend text)
STYLE = OrderedDict([
    ("pass", ("p", "✓", "pass")),
    ("fail", ("f", "✗", "fail (links to its evidence)")),
    ("skip", ("s", "s", "skip (something the case needs is missing)")),
    ("not-applicable", ("n", "·", "not applicable to this profile/mode")),
    ("known-deviation", ("k", "~", "known deviation of this target")),
    ("unavailable", ("u", "∅", "unavailable: the cell cannot run here")),
    ("no-result", ("x", "!", "no result: timeout, setup error, harness error or not run")),
    ("absent", ("a", "", "case not collected in this cell (other mode)")),
])

CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:1px 4px}
#matrix td{text-align:center;width:1.2em;padding:0}#matrix th.col{writing-mode:vertical-rl;
transform:rotate(180deg);font-weight:normal;white-space:nowrap;padding:4px 0;max-height:28em}
#matrix tr.area th{background:#eef;text-align:left}#matrix th.case{text-align:left;white-space:nowrap}
td a{color:inherit;text-decoration:none;display:block}
.p{background:#b7e4b0}.f{background:#f29a9a;font-weight:bold}.s{background:#f5e6a8}
.n{background:#eee;color:#999}.k{background:#f7c27b}.x{background:#c9b3e6}
.u{background:repeating-linear-gradient(45deg,#bbb,#bbb 3px,#ddd 3px,#ddd 6px)}.a{background:#fff}
.legend span{display:inline-block;padding:0 .6em;margin-right:.4em;border:1px solid #ccc}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em;overflow:auto;max-height:30em;white-space:pre-wrap}
.evidence,.cellnote{border-left:4px solid #f29a9a;padding-left:1em;margin:1.5em 0}
.cellnote{border-color:#c9b3e6}:target{outline:3px solid #36c}
.num{text-align:right}
"""


def _e(text):
    return escape(str(text if text is not None else ""))


def _cut(text, limit=MAX_FIELD):
    text = text if isinstance(text, str) else "\n".join(text or [])
    return text if len(text) <= limit else text[:limit] + "\n... (%d more characters in report.json)" % (len(text) - limit)


def _legend():
    return '<p class="legend">' + "".join(
        '<span class="%s">%s %s</span>' % (cls, sym, _e(text)) for cls, sym, text in STYLE.values()) + "</p>"


def _columns(doc):
    """Grid columns: one per cell that ran or should have, one per unavailable reason."""
    cols, unavailable = [], defaultdict(list)
    for c in doc["cells"]:
        if c["status"] == "unavailable":
            unavailable[c["message"]].append(c)
        else:
            cols.append(c)
    return cols, sorted(unavailable.items())


def _grid(doc, evidence_ids):
    cols, unavailable = _columns(doc)
    by_cell = {c["id"]: {} for c in cols}
    for c in cols:
        for case in c["cases"]:
            if case["id"] not in by_cell[c["id"]] or case["mode"] == c["axes"]["mode"]:
                by_cell[c["id"]][case["id"]] = case
    head = "".join('<th class="col" title="%s"><a href="#%s">%s</a></th>' % (
        _e("%s: %s, profile %s" % (c["id"], c["status"], c["profile"])), c["anchor"], _e(c["id"]))
        for c in cols)
    head += "".join('<th class="col" title="%s"><a href="#unavailable">unavailable (%d cells): %s</a></th>'
                    % (_e(why), len(cells), _e(why[:60])) for why, cells in unavailable)
    rows, area = [], None
    width = 1 + len(cols) + len(unavailable)
    for case_id, meta in doc["catalogue"].items():
        if meta["area"] != area:
            area = meta["area"]
            rows.append('<tr class="area"><th colspan="%d">%s</th></tr>' % (width, _e(area)))
        tds = []
        for c in cols:
            case = by_cell[c["id"]].get(case_id)
            if case is None:
                key = "absent" if c["cases"] else "no-result"
                cls, sym, _ = STYLE[key]
                tds.append('<td class="%s"></td>' % cls if key == "absent" else
                           '<td class="%s" title="%s"><a href="#%s">%s</a></td>' % (
                               cls, _e(c["status"]), c["anchor"], sym))
                continue
            cls, sym, _ = STYLE.get(case["verdict"], STYLE["no-result"])
            if case["verdict"] == "pass":
                tds.append('<td class="p">%s</td>' % sym)
            elif case.get("anchor"):
                href = case["anchor"] if case["anchor"] in evidence_ids else c["anchor"]
                tds.append('<td class="%s" title="%s"><a href="#%s">%s</a></td>' % (
                    cls, _e(case["message"][:300]), href, sym))
            else:
                tds.append('<td class="%s" title="%s">%s</td>' % (cls, _e(case.get("message", "")[:300]), sym))
        tds += ['<td class="u" title="%s">∅</td>' % _e(why) for why, _ in unavailable]
        rows.append('<tr><th class="case" id="case-%s" title="%s">%s</th>%s</tr>'
                    % (_e(case_id), _e(meta["requirement"]), _e(case_id), "".join(tds)))
    return ('<table id="matrix"><thead><tr><th>case \\ cell</th>%s</tr></thead><tbody>%s</tbody></table>'
            % (head, "".join(rows)))


def _cells_table(doc):
    rows = []
    for c in doc["cells"]:
        if c["status"] == "unavailable":
            continue
        s, t = c["summary"], c["timings"]
        cls = STYLE.get(c["status"], STYLE["no-result"])[0] if c["status"] in ("pass", "fail") else "x"
        rows.append(
            '<tr id="%s"><td>%s</td><td class="%s">%s</td><td>%s</td>%s%s<td><a href="%s">JUnit</a></td></tr>' % (
                c["anchor"], _e(c["id"]), cls, _e(c["status"]), _e(c["profile"]),
                "".join('<td class="num">%s</td>' % s.get(v, "") for v in ("pass", "fail", "skip", "not-applicable", "known-deviation")),
                "".join('<td class="num">%s</td>' % t[k] for k in ("wall_s", "build_s", "server_starts", "server_start_s", "cases_s", "other_s")),
                _e(c["junit"])))
    return ('<table id="cells"><thead><tr><th>cell</th><th>status</th><th>profile</th><th>pass</th>'
            '<th>fail</th><th>skip</th><th>n/a</th><th>known dev.</th><th>wall s</th><th>build s</th>'
            '<th>server starts</th><th>start s</th><th>cases s</th><th>other s</th><th></th></tr></thead>'
            '<tbody>%s</tbody></table>' % "".join(rows))


def _differential(doc):
    from .report import differential_by_case
    rows = []
    for d in differential_by_case(doc["differential"]):
        where = ", ".join('<a href="#%s">%s</a>' % (a, _e(g)) if a else _e(g) for g, a in d["where"])
        rows.append('<tr><td><a href="#case-%s">%s</a> %s</td><td class="%s">%s</td><td>%s</td>'
                    '<td class="%s">%s</td><td>%s</td><td>%d: %s</td></tr>' % (
                        _e(d["case"]), _e(d["case"]), _e(d["requirement"]),
                        STYLE.get(d["gateway"], STYLE["no-result"])[0], _e(d["gateway"]), _e(d["reference"]),
                        STYLE.get(d["reference_verdict"], STYLE["no-result"])[0], _e(d["reference_verdict"]),
                        _e(" ".join("%s/%s" % p for p in d["profiles"])), len(d["where"]), where))
    if not rows:
        return "<p>No case where mod_gateway and a real mod_wsgi disagree in the same cell.</p>"
    return ('<p>Cases where mod_gateway and a real mod_wsgi, in the same Apache/Python/MPM/mode, behave '
            'differently: one passes where the other fails or deviates (skips say nothing).</p>'
            '<table id="differential"><thead><tr><th>case</th><th>gateway</th><th>reference</th>'
            '<th>its verdict</th><th>profiles</th><th>where</th></tr></thead><tbody>%s</tbody></table>'
            % "".join(rows))


def _evidence(doc):
    """Evidence blocks of failures; a generated httpd.conf is shown once and linked from
    every failure that ran under it (the cases of one site share it)."""
    blocks, ids, shown = [], set(), set()
    failing = sum(1 for c in doc["cells"] if any(k["verdict"] == "fail" for k in c["cases"]))
    share = max(5, MAX_EVIDENCE // max(1, failing))
    for c in doc["cells"]:
        for case in [k for k in c["cases"] if k["verdict"] == "fail"][:share]:
            ev = case.get("evidence") or {}
            parts = ""
            if ev.get("config_id"):
                shown.add(ev["config_id"])
                parts += '<p><a href="#config-%s">httpd.conf #%s</a></p>' % (ev["config_id"], ev["config_id"])
            parts += "".join('<details%s><summary>%s</summary><pre>%s</pre></details>' % (
                " open" if name == "log" else "", label, _e(_cut(ev.get(name))))
                for name, label in (("request", "request"), ("response", "response"),
                                    ("log", "error-log lines")) if ev.get(name))
            ids.add(case["anchor"])
            blocks.append('<section class="evidence" id="%s"><h3>%s in <a href="#%s">%s</a></h3><p>%s</p>'
                          '<pre>%s</pre>%s</section>' % (
                              case["anchor"], _e(case["id"]), c["anchor"], _e(c["id"]),
                              _e(doc["catalogue"][case["id"]]["requirement"]),
                              _e(_cut(case.get("message") or "")), parts or "<p>no evidence recorded</p>"))
    for c in doc["cells"]:
        if c["status"] not in ("pass", "fail", "unavailable") or c["stop_problems"]:
            blocks.append('<section class="cellnote"><h3>cell %s: %s</h3><pre>%s</pre>%s</section>' % (
                _e(c["id"]), _e(c["status"]), _e(_cut(c["message"] or "")),
                "<pre>%s</pre>" % _e(_cut(repr(c["stop_problems"]))) if c["stop_problems"] else ""))
    blocks += ['<section class="config" id="config-%s"><h4>httpd.conf #%s</h4><pre>%s</pre></section>'
               % (n, n, _e(doc["configs"][n])) for n in sorted(shown, key=int)]
    return "".join(blocks), ids


def _unavailable(doc):
    _, groups = _columns(doc)
    return "".join("<details><summary>%d cells: %s</summary><pre>%s</pre></details>" % (
        len(cells), _e(why), _e("\n".join(c["id"] for c in cells))) for why, cells in groups) or "<p>none</p>"


def render(doc):
    evidence, ids = _evidence(doc)
    status = ", ".join("%d %s" % (n, s) for s, n in sorted(doc["summary"]["status"].items()))
    runs = "".join("<li>%s on %s: %s, %d cells run, %d reused, jobs %s, workers/cell %s</li>" % (
        _e(r.get("started")), _e(r.get("host")), fmt_duration(r.get("wall_s") or 0), r.get("ran", 0),
        r.get("reused", 0), r.get("jobs"), r.get("workers_per_cell")) for r in doc["runs"])
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mod_gateway conformance matrix</title>
<style>%s</style></head><body>
<h1>mod_gateway conformance matrix</h1>
<p>%d cells: %s. Generated %s. Wall time of the runs into this report: %s.</p><ul>%s</ul>
%s
<h2>Cases &times; cells</h2>%s
<h2>gateway vs real mod_wsgi</h2>%s
<h2>Cells</h2>%s
<h2 id="unavailable">Unavailable cells</h2>%s
<h2>Evidence</h2>%s
</body></html>
""" % (CSS, doc["summary"]["cells"], _e(status), _e(doc["generated"]),
       fmt_duration(doc.get("wall_s_all_runs") or 0), runs, _legend(),
       _grid(doc, ids), _differential(doc), _cells_table(doc), _unavailable(doc), evidence)
