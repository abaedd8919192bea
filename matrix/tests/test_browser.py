"""report.html in a real browser: headless Chromium renders it, the matrix table is in the
DOM, and a failure's link leads to an evidence block that exists (also when the page is
opened at that anchor).  At full-matrix size (630 cells, 330 that ran, 200 cases each,
see synthetic.py): the summary is above the fold and needs no horizontal scrolling at
1400 px; the screenshot, page size and render time go to the test's output directory
(and its JUnit properties)."""

import json
import os
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from matrix import publish

from . import synthetic
from .conftest import make_cell, write_cell


def _chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        # System packages come from ci/provision, never from a test (tox -e tests provisions it).
        pytest.skip("chromium is not installed: PROVISION_BROWSER=1 bash ci/provision installs it")
    return found


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links, self.tables = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.links.append(a["href"][1:])
        if tag == "table":
            self.tables.append(a.get("id"))


def _chrome(chromium, tmp_path, *args):
    res = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--hide-scrollbars", "--user-data-dir=%s" % (tmp_path / "profile")]
                         + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _dump(chromium, url, tmp_path, *args):
    dom = _Dom()
    dom.feed(_chrome(chromium, tmp_path, *(args + ("--dump-dom", url))))
    return dom


# Appended to a copy of the page: measures it once loaded and leaves the numbers in the DOM.
MEASURE = """<script>
window.addEventListener("load", function () {
  var r = function (el) { var b = el.getBoundingClientRect(); return {top: b.top, bottom: b.bottom, left: b.left,
                                                                       right: b.right}; };
  var s = document.getElementById("summary"), nav = performance.getEntriesByType("navigation")[0] || {};
  var wide = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var b = el.getBoundingClientRect();
    if (b.right > innerWidth + 1 && !el.closest(".scroll")) { var t = el.closest("table,section"); wide.push(el.tagName + "." + el.className + " in " + (t ? t.tagName + "#" + t.id : "body")); }
  });
  var out = {innerWidth: innerWidth, innerHeight: innerHeight, summary: r(s), summaryScrollWidth: s.scrollWidth,
             summaryClientWidth: s.clientWidth, docScrollWidth: document.documentElement.scrollWidth,
             grids: Array.prototype.map.call(s.querySelectorAll("table.sum"), r), tooWide: wide.slice(0, 10),
             domContentLoadedMs: nav.domContentLoadedEventEnd, loadMs: performance.now(),
             elements: document.getElementsByTagName("*").length};
  var f = document.getElementById("filters");                      // the filters, as a user would
  f.elements.target.value = "gateway"; f.elements.mode.value = "daemon"; f.elements.python.value = "2.7";
  f.elements.problems.checked = true;
  f.dispatchEvent(new Event("change"));
  var shown = function (sel) { return Array.prototype.filter.call(document.querySelectorAll(sel),
                                                                  function (e) { return !e.hidden; }); };
  out.filteredCells = shown("#cells tbody tr").map(function (tr) { return tr.cells[0].textContent; });
  out.filteredCases = shown("#cases tbody tr.case").map(function (tr) { return tr.cells[0].textContent; });
  out.selected = document.getElementById("selected").textContent;
  f.reset();                                                        // a click on a summary square
  document.querySelector('#summary a[data-target="gateway"][data-mode="daemon"][data-apache="2.4.71"]' +
                         '[data-python="2.7"]').click();
  out.afterClick = document.getElementById("selected").textContent;
  out.afterClickCells = shown("#cells tbody tr").map(function (tr) { return tr.cells[0].textContent; });
  var pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


class _Measured(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inside, self.text = False, ""

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or dict(attrs).get("id") == "measured"

    def handle_data(self, data):
        if self.inside:
            self.text += data

    def handle_endtag(self, tag):
        if self.inside and tag == "pre":
            self.inside = False


def test_report_html_in_headless_chromium(tmp_path):
    chromium = _chromium()
    out = tmp_path / "report"
    gw = make_cell("gateway")
    write_cell(out, gw, "fail", "journal_gateway_fail.json")
    write_cell(out, make_cell("mod_wsgi"), "pass", "journal_mod_wsgi_pass.json")
    page = publish.write_report(out)["html"]
    anchor = "evidence-apache2.4.71_py3.11_event_embedded_gateway-ENV-002-embedded"

    dom = _dump(chromium, page.as_uri(), tmp_path)
    assert "matrix" in dom.tables and "differential" in dom.tables
    assert anchor in dom.links, "the failing case's cell does not link to its evidence"
    assert anchor in dom.ids
    assert not [l for l in dom.links if l not in dom.ids], "links to anchors that do not exist"

    followed = _dump(chromium, page.as_uri() + "#" + anchor, tmp_path)
    assert anchor in followed.ids and "case-ENV-002" in followed.ids


class _Rows(HTMLParser):
    """The matrix table's rows (hidden or not) and the filter's "N of M selected" text."""
    def __init__(self):
        super().__init__()
        self.rows, self.selected, self._in_selected, self._table = [], "", False, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
        if tag == "tr" and self._table == "cells" and "data-c" in a:
            self.rows.append((a.get("id"), "hidden" in a))
        self._in_selected = a.get("id") == "selected"

    def handle_data(self, data):
        if self._in_selected:
            self.selected += data

    def handle_endtag(self, tag):
        if tag == "span":
            self._in_selected = False


def test_filters_come_from_the_address(tmp_path):
    """A report opened at #target=mod_wsgi shows only that target's cells; with &problems=1
    none of them (it passed); a hash without '=' (an evidence anchor) filters nothing."""
    chromium = _chromium()
    out = tmp_path / "report"
    write_cell(out, make_cell("gateway"), "fail", "journal_gateway_fail.json")
    write_cell(out, make_cell("mod_wsgi"), "pass", "journal_mod_wsgi_pass.json")
    page = publish.write_report(out)["html"]

    def rows(fragment):
        dom = _Rows()
        dom.feed(_chrome(chromium, tmp_path, "--dump-dom", page.as_uri() + fragment))
        return dom
    everything = rows("")
    assert len(everything.rows) == 2 and not any(h for _, h in everything.rows), everything.rows
    one = rows("#target=mod_wsgi")
    assert [(i, h) for i, h in one.rows if not h] and len([1 for _, h in one.rows if not h]) == 1, one.rows
    assert one.selected.startswith("1 of 2"), one.selected
    assert all(h for _, h in rows("#target=mod_wsgi&problems=1").rows)
    assert rows("#target=gateway&problems=1").selected.startswith("1 of 2")
    assert not any(h for _, h in rows("#evidence-nothing").rows)


def test_full_matrix_report_summary_above_the_fold(tmp_path, record_property):
    """630 cells (330 ran, 200 cases each; 300 unavailable) through the real store and report
    code, rendered at 1400x900: the summary is above the fold, fits the width, and the
    screenshot, page size and render times are recorded in the output dir."""
    chromium = _chromium()
    out = tmp_path / "report"
    synthetic.write_matrix(out)
    t0 = time.monotonic()
    page = publish.write_report(out)["html"]
    write_s = time.monotonic() - t0
    doc = json.loads((out / "report.json").read_text())
    assert doc["summary"]["cells"] == 630 and doc["summary"]["status"]["unavailable"] == 300
    size = page.stat().st_size

    shot = tmp_path / "report-1400x900.png"
    t0 = time.monotonic()
    _chrome(chromium, tmp_path, "--window-size=1400,900", "--screenshot=%s" % shot, page.as_uri())
    screenshot_s = time.monotonic() - t0
    assert shot.stat().st_size > 10000

    measure = page.with_name("measure.html")
    measure.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    t0 = time.monotonic()
    html = _chrome(chromium, tmp_path, "--window-size=1400,900", "--dump-dom", measure.as_uri())
    dump_s = time.monotonic() - t0
    parser = _Measured()
    parser.feed(html)
    m = json.loads(parser.text)

    result = {"page_bytes": size, "cells": 630, "cells_ran": 330, "cases_per_cell": 200,
              "report_write_s": round(write_s, 2), "chromium_screenshot_s": round(screenshot_s, 2),
              "chromium_dump_dom_s": round(dump_s, 2), "dom_content_loaded_ms": round(m["domContentLoadedMs"] or 0),
              "load_ms": round(m["loadMs"]), "elements": m["elements"], "screenshot": str(shot),
              "viewport": [m["innerWidth"], m["innerHeight"]], "summary": m["summary"],
              "doc_scroll_width": m["docScrollWidth"], "too_wide": m["tooWide"]}
    (tmp_path / "measurements.json").write_text(json.dumps(result, indent=1))
    # pytest keeps only its last few tmp dirs: a copy where it stays (reports/ is not versioned)
    keep = Path(os.environ.get("MATRIX_TEST_OUT") or Path(__file__).resolve().parents[2] / "reports" / "tests")
    keep = keep / "full-matrix-report"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(str(shot), str(keep / shot.name))
    result["screenshot_copy"] = str(keep / shot.name)
    (keep / "measurements.json").write_text(json.dumps(result, indent=1))
    for k in ("page_bytes", "load_ms", "dom_content_loaded_ms", "chromium_screenshot_s", "screenshot_copy"):
        record_property(k, result[k])
    print("full-matrix report: %s" % json.dumps(result))

    assert m["innerWidth"] == 1400, m
    assert 0 <= m["summary"]["top"] and m["summary"]["bottom"] <= m["innerHeight"], \
        "summary not above the fold: %s" % m["summary"]
    assert m["summaryScrollWidth"] <= m["summaryClientWidth"] and m["summary"]["right"] <= m["innerWidth"], m
    assert all(g["right"] <= m["innerWidth"] for g in m["grids"]) and len(m["grids"]) == 6, m["grids"]
    assert m["docScrollWidth"] <= m["innerWidth"], "the page scrolls sideways: %s" % m["tooWide"]
    assert size < 1500000, "report.html is %d bytes" % size

    # the filters: gateway, daemon, Python 2.7, failures only
    chosen = [c for c in doc["cells"] if c["status"] != "unavailable" and c["axes"]["target"] == "gateway"
              and c["axes"]["mode"] == "daemon" and c["axes"]["python"] == "2.7"]
    assert m["filteredCells"] == [c["id"] for c in chosen if c["status"] != "pass"] and len(chosen) == 9
    assert m["filteredCases"] == sorted({k["id"] for c in chosen for k in c["cases"] if k["verdict"] == "fail"})
    assert m["selected"].startswith("9 of 330")
    assert m["afterClick"].startswith("3 of 330") and m["afterClickCells"] == [
        "apache2.4.71/py2.7/%s/daemon/gateway" % mpm for mpm in ("event", "prefork", "worker")]

    dom = _Dom()
    dom.feed(page.read_text())
    assert not [l for l in dom.links if l not in dom.ids], "links to anchors that do not exist"
    assert "matrix" not in dom.tables and {"areas", "cases", "cells"} <= set(dom.tables)
