import json
import xml.etree.ElementTree as ET

from matrix import REPORT_SCHEMA, publish, report, store
from matrix.__main__ import main as matrix_main

from .conftest import make_cell, write_cell

GW = make_cell("gateway")
MW = make_cell("mod_wsgi")
GAP = make_cell("gateway", apache="2.2", unavailable="Apache 2.2 is not obtainable here")


def _sample(out):
    write_cell(out, GW, "fail", "journal_gateway_fail.json")
    write_cell(out, MW, "pass", "journal_mod_wsgi_pass.json")
    store.write_record(out, {"cell": GAP.as_dict(), "status": "unavailable", "message": GAP.unavailable})
    store.write_json(out / "runs.json", [{"started": "2026-01-01T00:00:00+00:00", "wall_s": 12.5, "jobs": 2,
                                          "workers_per_cell": 1, "ran": 2, "reused": 0, "host": "h"}])


def test_report_json_from_synthetic_journals(tmp_path):
    _sample(tmp_path)
    paths = publish.write_report(tmp_path)
    doc = json.loads(paths["json"].read_text())
    assert doc["schema"] == REPORT_SCHEMA and doc["wall_s"] == 12.5
    assert [c["id"] for c in doc["cells"]] == [GAP.id, GW.id, MW.id]          # never dropped
    assert doc["summary"]["status"] == {"fail": 1, "pass": 1, "unavailable": 1}
    gw = next(c for c in doc["cells"] if c["id"] == GW.id)
    assert gw["timings"] == {"wall_s": 4.5, "build_s": 1.25, "server_starts": 2, "server_start_s": 0.8,
                             "cases_s": 2.0, "other_s": 0.45}
    failed = next(c for c in gw["cases"] if c["verdict"] == "fail")
    assert failed["evidence"]["log"][-1].endswith("KeyError: 'SCRIPT_NAME'")
    assert doc["configs"][failed["evidence"]["config_id"]].startswith("LoadModule gateway_module")
    assert failed["anchor"] == "evidence-apache2.4.71_py3.11_event_embedded_gateway-ENV-002-embedded"
    assert list(doc["catalogue"]) == ["ENV-001", "ENV-002", "ERR-001", "QUE-001"]


def test_differential_lists_only_behaviour_disagreements(tmp_path):
    _sample(tmp_path)
    doc = report.build(store.load_records(tmp_path))
    # ENV-002: gateway fails where mod_wsgi passes; ERR-001 (n/a vs deviation) and QUE-001
    # (pass vs skip) say nothing about behaviour on one side.
    assert [(d["case"], d["gateway"]["verdict"], d["reference"]["verdict"]) for d in doc["differential"]] == [
        ("ENV-002", "fail", "pass")]
    assert doc["differential"][0]["group"] == "apache2.4.71/py3.11/event/embedded"


def test_markdown_and_junit(tmp_path):
    _sample(tmp_path)
    paths = publish.write_report(tmp_path)
    md = paths["md"].read_text()
    assert "`%s` ENV-002: E   assert 500 == 200" % GW.id in md
    assert "| ENV-002 | fail | mod_wsgi | pass | 6/6 | 1: apache2.4.71/py3.11/event/embedded |" in md
    assert "1 cells: Apache 2.2 is not obtainable here" in md
    junit = {p.name: p for p in (tmp_path / "junit").iterdir()}
    assert ET.parse(junit["apache2.4.71_py3.11_event_embedded_gateway.xml"]).getroot().find("testsuite").get(
        "name") == GW.id                                                    # the session's own, copied
    skipped = ET.parse(junit["apache2.2_py3.11_event_embedded_gateway.xml"]).getroot()
    assert "Apache 2.2" in skipped.find(".//skipped").get("message")       # synthetic for unavailable


def test_expected_cells_without_a_record_are_not_run(tmp_path):
    _sample(tmp_path)
    missing = make_cell("gateway", mode="daemon")
    doc = report.build(store.load_records(tmp_path), expected=[missing, GW])
    assert next(c for c in doc["cells"] if c["id"] == missing.id)["status"] == "not-run"


def test_merge_of_two_machines(tmp_path, capsys):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    write_cell(a, GW, "fail", "journal_gateway_fail.json", finished="2026-01-01T00:00:10+00:00")
    write_cell(b, MW, "pass", "journal_mod_wsgi_pass.json", host="host-b")
    # The same cell on both: the later result wins.
    write_cell(b, GW, "pass", "journal_mod_wsgi_pass.json", finished="2026-01-01T00:05:00+00:00", host="host-b")
    store.write_json(a / "axes.json", {"apache": [{"version": "2.4.71", "unavailable": None}]})
    store.write_json(b / "axes.json", {"apache": [{"version": "2.2", "unavailable": "gone"}]})
    assert matrix_main(["merge", str(a), str(b), "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    assert {c["id"]: (c["status"], c["host"]) for c in doc["cells"]} == {
        GW.id: ("pass", "host-b"), MW.id: ("pass", "host-b")}
    assert {x["version"] for x in doc["axes"]["apache"]} == {"2.4.71", "2.2"}
    assert (out / "cells" / GW.id / "journal.json").exists()
    assert "2 cells" in capsys.readouterr().out


def test_merge_rejects_a_directory_without_cells(tmp_path):
    assert matrix_main(["merge", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2


def test_summary_grids_of_the_sample(tmp_path):
    _sample(tmp_path)
    paths = publish.write_report(tmp_path)
    doc = json.loads(paths["json"].read_text())
    s = report.summary_grids(doc)
    assert [(g["target"], g["mode"]) for g in s["grids"]] == [("gateway", "embedded"), ("mod_wsgi", "embedded")]
    gw = s["grids"][0]
    assert gw["apaches"] == ["2.4.71"] and gw["pythons"] == ["3.11"]      # 2.2 can never run: not a row
    assert gw["squares"][("2.4.71", "3.11")]["state"] == "fail" and gw["counts"] == {"fail": 1}
    assert s["hidden"] == {"apache": {"2.2": ["Apache 2.2 is not obtainable here"]}, "python": {}}
    md = paths["md"].read_text()
    assert md.index("## Summary") < md.index("## Cells")
    assert "**gateway · embedded** (1✗)" in md and "| 2.4.71 | 1✗ |" in md
    html = paths["html"].read_text()
    assert html.index('id="summary"') < html.index('id="filters"') < html.index('id="areas"') < html.index(
        'id="cases"') < html.index('id="cells"')
    assert '<table id="matrix">' in html                                   # small: the grid is drawn too


def test_full_size_report(tmp_path):
    """630 cells, 330 that ran with 200 cases each: every cell is in the summary, the page
    stays small and draws no 330-column grid, and every link on it leads somewhere."""
    from . import synthetic
    from .test_browser import _Dom
    synthetic.write_matrix(tmp_path)
    paths = publish.write_report(tmp_path)
    doc = json.loads(paths["json"].read_text())
    assert doc["summary"]["cells"] == 630 and doc["summary"]["status"]["unavailable"] == 300
    s = report.summary_grids(doc)
    in_grids = sum(n for g in s["grids"] for n in g["counts"].values())
    assert in_grids == 330 and len(s["grids"]) == 6                         # 2.2 and 3.2-3.5 can never run
    assert sorted(s["hidden"]["python"]) == ["3.2", "3.3", "3.4", "3.5"] and list(s["hidden"]["apache"]) == ["2.2"]
    daemon = next(g for g in s["grids"] if (g["target"], g["mode"]) == ("gateway", "daemon"))
    assert daemon["squares"][("2.4.71", "2.7")]["counts"] == {"fail": 3}
    html = paths["html"].read_text()
    assert len(html) < 1500000 and '<table id="matrix">' not in html
    dom = _Dom()
    dom.feed(html)
    assert not [l for l in dom.links if l not in dom.ids]
    data = json.loads(html.split('<script type="application/json" id="report-data">')[1].split("</script>")[0])
    assert len(data["cells"]) == 330 and all(len(c["v"]) == 200 for c in data["cells"])
