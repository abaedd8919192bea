"""report.html in a real browser: headless Chromium renders it, the matrix table is in the
DOM, and a failure's link leads to an evidence block that exists (also when the page is
opened at that anchor)."""

import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from matrix import report

from .conftest import make_cell, write_cell


def _chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get") or os.environ.get("MATRIX_NO_APT"):
        pytest.skip("chromium is not installed and cannot be installed here (not root, no apt-get, or MATRIX_NO_APT)")
    res = subprocess.run(["apt-get", "install", "-y", "chromium"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium could not be installed: " + res.stdout[-500:])
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


def _dump(chromium, url, tmp_path):
    res = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--user-data-dir=%s" % (tmp_path / "profile"), "--dump-dom", url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    dom = _Dom()
    dom.feed(res.stdout)
    return dom


def test_report_html_in_headless_chromium(tmp_path):
    chromium = _chromium()
    out = tmp_path / "report"
    gw = make_cell("gateway")
    write_cell(out, gw, "fail", "journal_gateway_fail.json")
    write_cell(out, make_cell("mod_wsgi"), "pass", "journal_mod_wsgi_pass.json")
    page = report.write_report(out)["html"]
    anchor = "evidence-apache2.4.71_py3.11_event_embedded_gateway-ENV-002-embedded"

    dom = _dump(chromium, page.as_uri(), tmp_path)
    assert "matrix" in dom.tables and "differential" in dom.tables
    assert anchor in dom.links, "the failing case's cell does not link to its evidence"
    assert anchor in dom.ids
    assert not [l for l in dom.links if l not in dom.ids], "links to anchors that do not exist"

    followed = _dump(chromium, page.as_uri() + "#" + anchor, tmp_path)
    assert anchor in followed.ids and "case-ENV-002" in followed.ids
