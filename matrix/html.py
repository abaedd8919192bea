"""report.html: one self-contained page (inline CSS, a small inline script, no external
assets: it works offline, from a CI artifact or a file:// URL).

Top to bottom:
  - the summary, above the fold: per target and mode an Apache x Python grid, each square
    the cells of that combination (one per MPM) coloured by the worst of them, with counts;
    a square links to its cell (and, with the script, selects it in the views below);
  - filters (target, mode, Apache, Python, MPM, area, text, failures only) that apply to the
    views below them; without the script every view shows everything;
  - per area: verdict counts over the selected cells;
  - per case: verdict counts over the selected cells and the cells where it fails, each
    linked to its evidence;
  - the cases x cells grid, for small reports only (a full matrix would be hundreds of
    columns wide);
  - the differential (gateway vs real mod_wsgi), the cells with their counts, timings,
    failing cases and links to journal/log/JUnit, the unavailable cells and the evidence
    blocks (config, request, response, error-log lines).
"""

import json
from collections import OrderedDict, defaultdict
from html import escape

from .cells import _version_key
from .report import STATE_ORDER, cell_state, differential_by_case, own_cases, summary_grids
from gateway.text import fmt_duration

MAX_EVIDENCE = 600         # evidence blocks on the page, shared fairly among the failing cells;
                           # failures beyond a cell's share link to the cell's journal (it has all)
MAX_FIELD = 6000           # characters of one evidence field on the page
GRID_MAX_CELLS = 40        # the cases x cells grid is drawn up to this many cells that ran
MAX_LINKS = 8              # failing cells listed openly per case (the rest folded)

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
# summary square state -> legend text
STATE_TEXT = {"pass": "cells passed", "fail": "cells with a failing case", "no-result":
              "cells without a result (timeout, setup error, error, not run)", "unavailable": "cells that cannot run here"}
# verdicts in the page's data, one character per case and cell
VCHAR = {"pass": "p", "fail": "f", "skip": "s", "not-applicable": "n", "known-deviation": "k"}
COUNTED = ("pass", "fail", "skip", "not-applicable", "known-deviation")
COUNT_HEAD = "<th>pass</th><th>fail</th><th>skip</th><th>n/a</th><th>known dev.</th>"

CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:.6em 1.5em;color:#222;max-width:100%}
h1{font-size:1.3em;margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ccc;font-size:1.15em}
p.head{margin:.2em 0}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:1px 4px}
.scroll{overflow-x:auto;max-width:100%}
#summary h2{margin-top:.4em}
.grids{display:flex;flex-wrap:wrap;gap:.5em 1.6em;align-items:flex-start}
table.sum caption{text-align:left;font-weight:bold;white-space:nowrap;padding:2px 0}
table.sum caption span{font-weight:normal;color:#555}
table.sum td{text-align:center;padding:0;min-width:3.4em;white-space:nowrap}
table.sum td a{padding:1px 3px}table.sum th{font-weight:normal;color:#444;white-space:nowrap}
.hidden-axes{color:#555;margin:.3em 0}
#filters{position:sticky;top:0;background:#f4f6fb;border:1px solid #ccd;padding:.3em .6em;margin:1em 0 0;z-index:2}
#filters label{margin-right:.8em;white-space:nowrap}#filters input[type=search]{width:14em}
#selected{color:#555}
#matrix td{text-align:center;width:1.2em;padding:0}#matrix th.col{writing-mode:vertical-rl;
transform:rotate(180deg);font-weight:normal;white-space:nowrap;padding:4px 0;max-height:28em}
tr.area th{background:#eef;text-align:left}th.case{text-align:left;white-space:nowrap}
#cases td.req{max-width:40em}#cases td.where{font-size:12px;max-width:44em}
#cases td.where a,#cells td.fails a{margin-right:.5em;white-space:nowrap;text-decoration:underline dotted #999}
td a{color:inherit;text-decoration:none}#matrix td a,table.sum td a{display:block}
.p{background:#b7e4b0}.f{background:#f29a9a;font-weight:bold}.s{background:#f5e6a8}
.n{background:#eee;color:#777}.k{background:#f7c27b}.x{background:#c9b3e6}
.u{background:repeating-linear-gradient(45deg,#bbb,#bbb 3px,#ddd 3px,#ddd 6px)}.a{background:#fff}
.legend span{display:inline-block;padding:0 .6em;margin-right:.4em;border:1px solid #ccc}
.bar{display:flex;width:12em;height:.9em;border:1px solid #ccc}.bar span{display:block}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em;overflow:auto;max-height:30em;white-space:pre-wrap}
.evidence,.cellnote{border-left:4px solid #f29a9a;padding-left:1em;margin:1.5em 0}
.cellnote{border-color:#c9b3e6}:target{outline:3px solid #36c}
.num{text-align:right}tr[hidden]{display:none}
"""

# Filters: recount the per-area and per-case views over the selected cells, hide rows.
SCRIPT = r"""
(function () {
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var form = document.getElementById("filters"), KEYS = "pfsnk", AXES = ["target", "mode", "apache", "python", "mpm"];
  function val(n) { return form.elements[n].value; }
  function setCount(td, n, cls) { td.textContent = n ? n : ""; td.className = "num c" + (n ? " " + cls : ""); }
  function fill(tds, cs) { for (var j = 0; j < 5; j++) setCount(tds[j], cs[j], KEYS[j]); }
  function apply() {
    var chosen = {}, n = 0, only = form.elements.problems.checked, text = val("text").toLowerCase(), area = val("area");
    var counts = D.cases.map(function () { return [0, 0, 0, 0, 0]; });
    D.cells.forEach(function (c, i) {
      for (var a = 0; a < AXES.length; a++) { var v = val(AXES[a]); if (v && c[AXES[a]] !== v) return; }
      chosen[i] = true; n++;
      for (var k = 0; k < c.v.length; k++) { var j = KEYS.indexOf(c.v.charAt(k)); if (j >= 0) counts[k][j]++; }
    });
    document.querySelectorAll("#cells tbody tr").forEach(function (tr) {
      var i = +tr.getAttribute("data-c");
      tr.hidden = !chosen[i] || (only && D.cells[i].status === "pass");
    });
    var areas = {}, shown = {};
    document.querySelectorAll("#cases tbody tr.case").forEach(function (tr) {
      var k = +tr.getAttribute("data-k"), cs = counts[k], a = D.cases[k][1];
      var t = areas[a] || (areas[a] = [0, 0, 0, 0, 0, 0]);
      for (var j = 0; j < 5; j++) t[j] += cs[j];
      if (cs[1]) t[5]++;
      fill(tr.querySelectorAll("td.c"), cs);
      var links = tr.querySelectorAll("a[data-c]"), visible = 0;
      links.forEach(function (l) { var on = !!chosen[+l.getAttribute("data-c")]; l.hidden = !on; visible += on; });
      var sum = tr.querySelector("td.where summary");
      if (sum) sum.textContent = visible + " cells";
      tr.hidden = (area && a !== area) || (text && tr.getAttribute("data-q").indexOf(text) < 0) || (only && !cs[1]);
      if (!tr.hidden) shown[a] = true;
    });
    document.querySelectorAll("#cases tbody tr.area").forEach(function (tr) { tr.hidden = !shown[tr.getAttribute("data-a")]; });
    document.querySelectorAll("#areas tbody tr").forEach(function (tr) {
      var t = areas[tr.getAttribute("data-a")] || [0, 0, 0, 0, 0, 0], tds = tr.querySelectorAll("td.c");
      fill(tds, t);
      setCount(tds[5], t[5], "f");
      var total = t[0] + t[1] + t[2] + t[3] + t[4];
      tr.querySelectorAll(".bar span").forEach(function (s, j) { s.style.width = total ? (100 * t[j] / total) + "%" : "0"; });
      tr.hidden = !!area && tr.getAttribute("data-a") !== area;
    });
    document.getElementById("selected").textContent = n + " of " + D.cells.length + " cells that ran selected";
  }
  // The filters live in the address (#target=gateway&problems=1), so a filtered view can be
  // linked to and survives a reload; a hash without "=" is an evidence anchor, left alone.
  var NAMES = AXES.concat(["area", "text"]);
  function save() {
    var q = [];
    NAMES.forEach(function (k) { if (val(k)) q.push(k + "=" + encodeURIComponent(val(k))); });
    if (form.elements.problems.checked) q.push("problems=1");
    history.replaceState(null, "", q.length ? "#" + q.join("&") : location.pathname + location.search);
  }
  function load() {
    var h = location.hash.slice(1);
    if (h.indexOf("=") < 0) return;
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("="), k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));
      if (k === "problems") form.elements.problems.checked = v === "1";
      else if (NAMES.indexOf(k) >= 0) form.elements[k].value = v;
    });
  }
  function changed() { apply(); save(); }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("reset", function () { setTimeout(changed, 0); });
  document.querySelectorAll("#summary a[data-target]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      ["target", "mode", "apache", "python"].forEach(function (k) { form.elements[k].value = a.getAttribute("data-" + k); });
      form.elements.mpm.value = "";
      changed();
      document.getElementById("cells-view").scrollIntoView();
    });
  });
  load();
  apply();
})();
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


def _state_style(state):
    return STYLE[state][:2]


def _counts_text(counts):
    return " ".join("%d%s" % (n, _state_style(s)[1]) for s, n in counts.items())


# -- summary -----------------------------------------------------------------------------

def _square(target, mode, apache, python, sq):
    cls, _ = _state_style(sq["state"])
    lines = []
    for c in sorted(sq["cells"], key=lambda c: c["axes"]["mpm"]):
        failed = [k["id"] for k in c["cases"] if k["verdict"] == "fail" and k.get("mode", c["axes"]["mode"]) == c["axes"]["mode"]]
        line = "%s: %s" % (c["axes"]["mpm"], c["status"])
        if c["status"] == "unavailable" or (c["status"] not in ("pass", "fail") and c["message"]):
            line += " (%s)" % c["message"].splitlines()[0][:120] if c["message"] else ""
        if failed:
            line += ", %d failing: %s%s" % (len(failed), " ".join(failed[:8]), " ..." if len(failed) > 8 else "")
        lines.append(line)
    title = "apache%s/py%s/*/%s/%s\n%s" % (apache, python, mode, target, "\n".join(lines))
    worst = next(c for c in sq["cells"] if _cell_state(c) == sq["state"])
    href = "#unavailable" if sq["state"] == "unavailable" else "#" + worst["anchor"]
    data = "" if sq["state"] == "unavailable" else ' data-target="%s" data-mode="%s" data-apache="%s" data-python="%s"' % (
        _e(target), _e(mode), _e(apache), _e(python))
    return '<td class="%s"><a href="%s" title="%s"%s>%s</a></td>' % (cls, href, _e(title), data,
                                                                     _e(_counts_text(sq["counts"])))


def _cell_state(c):
    return cell_state(c["status"])


def _summary(doc):
    s = summary_grids(doc)
    tables = []
    for g in s["grids"]:
        rows = []
        for apache in g["apaches"]:
            tds = "".join(_square(g["target"], g["mode"], apache, py, g["squares"][(apache, py)])
                          if (apache, py) in g["squares"] else '<td class="a"></td>' for py in g["pythons"])
            rows.append("<tr><th>Apache %s</th>%s</tr>" % (_e(apache), tds))
        total = sum(g["counts"].values())
        tables.append('<table class="sum"><caption>%s &middot; %s <span>%d cells: %s</span></caption>'
                      '<thead><tr><th></th>%s</tr></thead><tbody>%s</tbody></table>' % (
                          _e(g["target"]), _e(g["mode"]), total, _e(_counts_text(g["counts"])),
                          "".join("<th>py%s</th>" % _e(p) for p in g["pythons"]), "".join(rows)))
    legend = '<p class="legend">A square is one Apache &times; Python, over its MPMs, coloured by the worst: ' + "".join(
        '<span class="%s">%s %s</span>' % (_state_style(st) + (_e(STATE_TEXT[st]),)) for st in STATE_ORDER) + "</p>"
    hidden = []
    for axis, label in (("apache", "Apache"), ("python", "Python")):
        by_reason = defaultdict(list)
        for v, reasons in s["hidden"][axis].items():
            by_reason["; ".join(reasons)].append(v)
        hidden += ["%s %s (%s)" % (label, ", ".join(sorted(vs)), _e(why[:200])) for why, vs in sorted(by_reason.items())]
    note = ('<p class="hidden-axes">Not in the grids, no cell can run: %s &mdash; see <a href="#unavailable">'
            'unavailable cells</a>.</p>' % "; ".join(hidden)) if hidden else ""
    return ('<section id="summary"><h2>Summary: which Apache &times; Python pass, per target and mode</h2>%s'
            '<div class="grids">%s</div>%s</section>' % (legend, "".join(tables) or "<p>no cells</p>", note))


# -- filters and the per-area / per-case views ----------------------------------------------

def _filters(doc, cols):
    def options(name, values, label):
        return '<label>%s <select name="%s"><option value="">any</option>%s</select></label>' % (
            label, name, "".join('<option>%s</option>' % _e(v) for v in values))
    axis = lambda k: sorted({c["axes"][k] for c in cols}, key=lambda v: (_version_key(v), v))  # noqa: E731
    areas = sorted({m["area"] for m in doc["catalogue"].values()})
    return ('<form id="filters" onsubmit="return false">%s%s%s%s%s%s'
            '<label>case <input type="search" name="text" placeholder="id or requirement"></label>'
            '<label><input type="checkbox" name="problems"> failures only</label>'
            '<button type="reset">all</button> <span id="selected"></span></form>' % (
                options("target", sorted({c["axes"]["target"] for c in cols}), "target"),
                options("mode", axis("mode"), "mode"), options("apache", axis("apache"), "Apache"),
                options("python", axis("python"), "Python"), options("mpm", axis("mpm"), "MPM"),
                options("area", areas, "area")))


def _case_counts(doc, cols):
    """{case id: {verdict: n}} over the cells that ran, and {case id: [(col index, cell, case)]} of failures."""
    counts = {k: dict.fromkeys(COUNTED, 0) for k in doc["catalogue"]}
    fails = defaultdict(list)
    for i, c in enumerate(cols):
        for case_id, case in own_cases(c).items():
            if case["verdict"] in COUNTED and case_id in counts:
                counts[case_id][case["verdict"]] += 1
            if case["verdict"] == "fail":
                fails[case_id].append((i, c, case))
    return counts, fails


def _nums(counts):
    return "".join('<td class="num c%s">%s</td>' % (" " + STYLE[v][0] if counts[v] else "", counts[v] or "")
                   for v in COUNTED)


def _bar(counts):
    total = sum(counts[v] for v in COUNTED) or 1
    return '<div class="bar">%s</div>' % "".join(
        '<span class="%s" style="width:%.2f%%"></span>' % (STYLE[v][0], 100.0 * counts[v] / total) for v in COUNTED)


def _areas(doc, counts):
    by_area = OrderedDict()
    for case_id, meta in sorted(doc["catalogue"].items(), key=lambda kv: kv[1]["area"]):
        a = by_area.setdefault(meta["area"], {"cases": 0, "failing": 0, **dict.fromkeys(COUNTED, 0)})
        a["cases"] += 1
        a["failing"] += bool(counts[case_id]["fail"])
        for v in COUNTED:
            a[v] += counts[case_id][v]
    rows = ['<tr data-a="%s"><th class="case"><a href="#area-%s">%s</a></th><td class="num">%d</td>%s'
            '<td class="num c%s">%s</td><td>%s</td></tr>' % (
                _e(area), _e(area), _e(area), a["cases"], _nums(a), " f" if a["failing"] else "",
                a["failing"] or "", _bar(a)) for area, a in by_area.items()]
    return ('<table id="areas"><thead><tr><th>area</th><th>cases</th>%s<th>failing cases</th><th></th></tr></thead>'
            '<tbody>%s</tbody></table>' % (COUNT_HEAD, "".join(rows)))


def _fail_href(c, case, evidence_ids):
    if case.get("anchor") in evidence_ids:
        return "#" + case["anchor"]
    return c["journal"] or "#" + c["anchor"]


def _cases(doc, counts, fails, evidence_ids):
    rows, area = [], None
    for k, (case_id, meta) in enumerate(doc["catalogue"].items()):
        if meta["area"] != area:
            area = meta["area"]
            rows.append('<tr class="area" id="area-%s" data-a="%s"><th colspan="8">%s</th></tr>'
                        % (_e(area), _e(area), _e(area)))
        links = " ".join('<a href="%s" data-c="%d" title="%s">%s</a>' % (
            _e(_fail_href(c, case, evidence_ids)), i, _e((case.get("message") or "")[:300]), _e(c["id"]))
            for i, c, case in fails.get(case_id, []))
        if len(fails.get(case_id, [])) > MAX_LINKS:
            links = "<details><summary>%d cells</summary>%s</details>" % (len(fails[case_id]), links)
        rows.append('<tr class="case" data-k="%d" data-q="%s"><th class="case" id="case-%s">%s</th>'
                    '<td class="req">%s</td>%s<td class="where">%s</td></tr>' % (
                        k, _e((case_id + " " + meta["requirement"]).lower()), _e(case_id), _e(case_id),
                        _e(meta["requirement"]), _nums(counts[case_id]), links))
    return ('<table id="cases"><thead><tr><th>case</th><th>requirement</th>%s<th>fails in (links to the '
            'evidence)</th></tr></thead><tbody>%s</tbody></table>' % (COUNT_HEAD, "".join(rows)))


def _data(doc, cols):
    ids = list(doc["catalogue"])
    data = {"cases": [[k, doc["catalogue"][k]["area"]] for k in ids],
            "cells": [dict(c["axes"], id=c["id"], status=c["status"],
                           v="".join(VCHAR.get((own.get(k) or {}).get("verdict"), "-") for k in ids))
                      for c, own in ((c, own_cases(c)) for c in cols)]}
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


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


def _cells_table(doc, cols, evidence_ids):
    rows = []
    for i, c in enumerate(cols):
        s, t = c["summary"], c["timings"]
        cls = STYLE.get(c["status"], STYLE["no-result"])[0] if c["status"] in ("pass", "fail") else "x"
        failed = [k for k in own_cases(c).values() if k["verdict"] == "fail"]
        fails = " ".join('<a href="%s" title="%s">%s</a>' % (_e(_fail_href(c, k, evidence_ids)),
                                                          _e((k.get("message") or "")[:300]), _e(k["id"]))
                        for k in failed[:MAX_LINKS])
        if len(failed) > MAX_LINKS:
            fails += ' <a href="%s">+%d more</a>' % (_e(c["journal"] or "#" + c["anchor"]), len(failed) - MAX_LINKS)
        if c["status"] not in ("pass", "fail") and not failed:
            fails = _e((c["message"] or "").splitlines()[0][:160]) if c["message"] else ""
        files = " ".join('<a href="%s">%s</a>' % (_e(href), label) for href, label in (
            (c["journal"], "journal"), ("cells/%s/output.log" % c["id"] if c["status"] != "not-run" else None, "log"),
            (c["junit"], "JUnit")) if href)
        rows.append(
            '<tr id="%s" data-c="%d"><td>%s</td><td class="%s">%s</td><td>%s</td>%s%s<td class="fails">%s</td>'
            '<td>%s</td></tr>' % (
                c["anchor"], i, _e(c["id"]), cls, _e(c["status"]), _e(c["profile"]),
                "".join('<td class="num">%s</td>' % s.get(v, "") for v in COUNTED),
                "".join('<td class="num">%s</td>' % t[k] for k in ("wall_s", "build_s", "server_starts", "server_start_s", "cases_s", "other_s")),
                fails, files))
    return ('<table id="cells"><thead><tr><th>cell</th><th>status</th><th>profile</th>%s<th>wall s</th>'
            '<th>build s</th><th>server starts</th><th>start s</th><th>cases s</th><th>other s</th>'
            '<th>failing cases</th><th>files</th></tr></thead><tbody>%s</tbody></table>' % (COUNT_HEAD, "".join(rows)))


def _differential(doc, evidence_ids):
    rows = []
    for d in differential_by_case(doc["differential"]):
        where = ", ".join('<a href="#%s">%s</a>' % (a, _e(g)) if a in evidence_ids else _e(g) for g, a in d["where"])
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
    cols, _ = _columns(doc)
    counts, fails = _case_counts(doc, cols)
    status = ", ".join("%d %s" % (n, s) for s, n in sorted(doc["summary"]["status"].items()))
    verdicts = ", ".join("%d %s" % (n, v) for v, n in doc["summary"]["verdicts"].items() if n)
    runs = "".join("<li>%s on %s: %s, %d cells run, %d reused, jobs %s, workers/cell %s</li>" % (
        _e(r.get("started")), _e(r.get("host")), fmt_duration(r.get("wall_s") or 0), r.get("ran", 0),
        r.get("reused", 0), r.get("jobs"), r.get("workers_per_cell")) for r in doc["runs"])
    if len(cols) <= GRID_MAX_CELLS:
        grid = '<div class="scroll">%s</div>' % _grid(doc, ids)
    else:
        grid = ("<p>%d cells ran: the grid would be %d columns wide. The per-case view above shows where each "
                "case fails; <code>python -m matrix report</code> on a slice of the cells draws it.</p>"
                % (len(cols), len(cols)))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>mod_gateway conformance matrix</title>
<style>%s</style></head><body>
<h1>mod_gateway conformance matrix</h1>
<p class="head">%d cells: %s. Case verdicts: %s. Generated %s; wall time of the runs into this report: %s
(<a href="#runs">runs: %d</a>).</p>
%s
%s
<h2 id="areas-view">Per area</h2>%s
<h2 id="cases-view">Per case</h2>%s
<h2 id="cells-view">Cells</h2>%s
<h2 id="grid-view">Cases &times; cells</h2>%s%s
<h2>gateway vs real mod_wsgi</h2>%s
<h2 id="unavailable">Unavailable cells</h2>%s
<h2 id="runs">Runs</h2><ul>%s</ul>
<h2>Evidence</h2>%s
<script type="application/json" id="report-data">%s</script>
<script>%s</script>
</body></html>
""" % (CSS, doc["summary"]["cells"], _e(status), _e(verdicts or "none"), _e(doc["generated"]),
       fmt_duration(doc.get("wall_s_all_runs") or 0), len(doc["runs"]), _summary(doc), _filters(doc, cols),
       _areas(doc, counts), _cases(doc, counts, fails, ids), _cells_table(doc, cols, ids),
       _legend() if len(cols) <= GRID_MAX_CELLS else "", grid, _differential(doc, ids), _unavailable(doc),
       runs, evidence, _data(doc, cols), SCRIPT)
