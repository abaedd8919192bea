"""The benchmark's pure parts (matrix/bench.py, bench_goals.py, bench_report.py) on synthetic run records: spreads, ratio ranges, the
unresolved flag, goal verdicts, RSS aggregation and the report.  No server, no wrk."""

import json
import os
import types

import pytest

from matrix import bench, bench_goals, bench_report

WRK_OUT = """Running 1s test @ http://127.0.0.1:8080/e/hello
  2 threads and 16 connections
  Latency Distribution
     50%  310.00us
     75%  400.00us
     90%    1.10ms
     99%    2.50ms
  12000 requests in 1.00s, 2.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:  12000.50
Transfer/sec:      2.00MB
"""


def run(rnd, rps, p99=1.0, children=40000, daemons=None, non2xx=0):
    rss = {"children": {"peak_kb": children, "total_kb": 2 * children, "processes": 2}}
    if daemons is not None:
        rss["daemons"] = {"peak_kb": daemons, "total_kb": 2 * daemons, "processes": 2}
    return {"round": rnd, "rps": float(rps), "p99_ms": float(p99), "non2xx": non2xx, "socket_errors": 0, "rss": rss}


def row(scenario, mode, target, rpss, p99s=None, children=None, daemons=None, non2xx=0):
    p99s = p99s or [1.0] * len(rpss)
    children = children or [40000] * len(rpss)
    runs = [run(i, r, p, c, daemons[i] if daemons else (50000 if mode == "daemon" else None), non2xx)
            for i, (r, p, c) in enumerate(zip(rpss, p99s, children))]
    return dict(scenario=scenario, mode=mode, target=target, **bench_goals.summarise(runs))


def test_parse_wrk():
    r = bench.parse_wrk(WRK_OUT)
    assert r == {"rps": 12000.5, "p99_ms": 2.5, "non2xx": 4, "socket_errors": 3}
    assert "error" in bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
    assert bench.parse_wrk(WRK_OUT.replace("2.50ms", "1.20s"))["p99_ms"] == 1200.0


def test_defaults_meet_the_bar():
    a = bench.parse_args([])
    assert a.duration >= 10 and a.repeat >= 3
    assert bench_goals.settings_goal({"duration_s": a.duration, "repeat": a.repeat})["verdict"] == "holds"
    assert bench_goals.settings_goal({"duration_s": 1.0, "repeat": 2})["verdict"] == "missed"


def test_spread():
    s = bench_goals.spread([300, 100, None, 200])
    assert s == {"median": 200, "min": 100, "max": 300, "rel_spread": 1.0, "n": 3}
    assert bench_goals.spread([]) is None and bench_goals.spread([None]) is None
    assert bench_goals.spread([0, 0])["rel_spread"] is None


def test_ratio_range_bounds_and_paired():
    q = bench_goals.ratio_range({0: 110, 1: 100, 2: 105}, {0: 100, 1: 95, 2: 98})
    assert q["value"] == round(105 / 98, 3)
    assert (q["low"], q["high"]) == (1.0, round(110 / 95, 3))
    assert q["resolved"]   # low == 1.0: not below it
    assert q["paired"]["median"] == round(105 / 98, 3) and q["paired"]["n"] == 3
    assert (q["paired"]["min"], q["paired"]["max"]) == (round(100 / 95, 3), round(110 / 100, 3))


def test_ratio_range_unresolved_when_ranges_overlap():
    q = bench_goals.ratio_range({0: 104, 1: 97, 2: 110}, {0: 100, 1: 101, 2: 99})
    assert q["low"] < 1.0 < q["high"] and not q["resolved"]
    assert bench_report.fmt_ratio(q) == "%.2f× (%.2f–%.2f, unresolved)" % (q["value"], q["low"], q["high"])
    # the same ratio judged against a goal threshold it clearly misses is resolved
    assert bench_goals.ratio_range({0: 104, 1: 97, 2: 110}, {0: 100, 1: 101, 2: 99}, against=1.5)["resolved"]
    assert "unresolved" not in bench_report.fmt_ratio(bench_goals.ratio_range({0: 3}, {0: 1}))


def test_ratio_range_pairs_only_common_rounds_and_refuses_nothing():
    q = bench_goals.ratio_range({0: 2.0, 1: 4.0}, {1: 2.0})
    assert q["paired"]["n"] == 1 and q["paired"]["median"] == 2.0
    assert bench_goals.ratio_range({}, {0: 1.0}) is None
    assert bench_goals.ratio_range({0: 1.0}, {}) is None
    assert bench_goals.ratio_range({0: 1.0}, {0: 0.0}) is None


@pytest.mark.parametrize("low, high, threshold, higher, want", [
    (1.01, 1.2, 1.0, True, "holds"),
    (1.0, 1.2, 1.0, True, "holds"),
    (0.8, 0.99, 1.0, True, "missed"),
    (0.95, 1.05, 1.0, True, "unresolved"),
    (1.6, 1.9, 2.0, True, "missed"),
    (1.9, 2.1, 2.0, True, "unresolved"),
    (0.7, 0.95, 1.0, False, "holds"),
    (1.01, 1.3, 1.0, False, "missed"),
    (0.9, 1.1, 1.0, False, "unresolved"),
])
def test_verdict(low, high, threshold, higher, want):
    assert bench_goals.verdict({"value": (low + high) / 2, "low": low, "high": high}, threshold, higher) == want


def test_verdict_and_combine_without_data():
    assert bench_goals.verdict(None, 1.0, True) == "not measured"
    assert bench_goals.combine([]) == "not measured"
    assert bench_goals.combine(["holds", "holds"]) == "holds"
    assert bench_goals.combine(["holds", "not measured"]) == "not measured"
    assert bench_goals.combine(["holds", "not measured", "unresolved"]) == "unresolved"
    assert bench_goals.combine(["unresolved", "missed", "holds"]) == "missed"


def test_process_kind():
    assert bench.process_kind("(wsgi:bench)      -f /x/httpd.conf -DFOREGROUND") == "daemons"
    assert bench.process_kind("/usr/sbin/apache2 -f /x/httpd.conf -DFOREGROUND") == "children"


def test_rss_peaks():
    samples = [{11: ("children", 1000), 12: ("children", 3000), 21: ("daemons", 5000)},
               {11: ("children", 2500), 12: ("children", 2600), 21: ("daemons", 4000), 22: ("daemons", 4500)},
               {13: ("children", 100)}]
    assert bench.rss_peaks(samples) == {
        "children": {"peak_kb": 3000, "total_kb": 5100, "processes": 3},
        "daemons": {"peak_kb": 5000, "total_kb": 8500, "processes": 2}}
    assert bench.rss_peaks([]) == {}
    assert bench.rss_peaks([{11: ("children", 10)}]) == {"children": {"peak_kb": 10, "total_kb": 10, "processes": 1}}


def test_rss_sampler_samples_a_process_tree_in_a_thread():
    # A stand-in for httpd.Server: its "session" is this test process, its "parent" pid 1.
    server = types.SimpleNamespace(proc=types.SimpleNamespace(pid=1), pids=lambda: [1, os.getpid()])
    with bench.RssSampler(server, interval=0.01) as s:
        bytearray(1 << 20)
        import time
        time.sleep(0.05)
    assert len(s.samples) >= 3
    assert all(set(x) == {os.getpid()} for x in s.samples)   # the parent is left out
    peaks = s.peaks()
    assert list(peaks) == ["children"] and peaks["children"]["peak_kb"] > 1000
    assert peaks["children"]["processes"] == 1


def test_summarise_spreads_and_rss():
    runs = [run(0, 100, 2.0, 40000, 60000), {"round": 1, "error": "boom", "rss": {}},
            run(2, 120, 1.0, 42000, 61000, non2xx=3)]
    s = bench_goals.summarise(runs)
    assert s["rps"] == {"median": 110.0, "min": 100.0, "max": 120.0, "rel_spread": round(20 / 110, 4), "n": 2}
    assert s["p99_ms"]["median"] == 1.5
    assert s["rss"]["children"]["peak_kb"]["max"] == 42000 and s["rss"]["daemons"]["peak_kb"]["min"] == 60000
    assert s["rss"]["children"]["processes"] == 2
    assert (s["runs"], s["failed_runs"], s["non2xx"]) == (2, 1, 3)
    assert [r["round"] for r in s["rounds"]] == [0, 1, 2]
    assert bench_goals.summarise([{"round": 0, "error": "refused", "rss": {}}])["error"] == "refused"


def test_plan_interleaves_rounds_and_skips_static_where_it_has_no_file():
    p = bench.plan(2, ["hello-c16", "post1m-echo"], ["embedded", "daemon"], ["static", "gateway", "mod_wsgi"])
    first = [x[1:] for x in p if x[0] == 0]
    assert first == [("hello-c16", "embedded", "static"), ("hello-c16", "embedded", "gateway"),
                     ("hello-c16", "embedded", "mod_wsgi"), ("hello-c16", "daemon", "gateway"),
                     ("hello-c16", "daemon", "mod_wsgi"), ("post1m-echo", "embedded", "gateway"),
                     ("post1m-echo", "embedded", "mod_wsgi"), ("post1m-echo", "daemon", "gateway"),
                     ("post1m-echo", "daemon", "mod_wsgi")]
    assert [x[1:] for x in p if x[0] == 1] == first
    assert [x[0] for x in p] == [0] * 9 + [1] * 9


def hello_rows(gw_daemon=(300, 310, 305), real_daemon=(100, 101, 99), debian_daemon=(90, 95, 92),
               gw_embedded=(1000, 1010, 990), real_embedded=(1000, 1020, 980), static=(1050, 1060, 1040)):
    return [row("hello-c16", "daemon", "gateway", gw_daemon, p99s=[1.0, 1.1, 1.0], children=[30000] * 3,
                daemons=[40000] * 3),
            row("hello-c16", "daemon", "mod_wsgi", real_daemon, p99s=[3.0, 3.1, 3.2], children=[35000] * 3,
                daemons=[45000] * 3),
            row("hello-c16", "daemon", "mod_wsgi-debian", debian_daemon, p99s=[3.5, 3.6, 3.4],
                children=[36000] * 3, daemons=[41000, 43000, 39000]),
            row("hello-c16", "embedded", "gateway", gw_embedded, children=[30000, 30100, 30050]),
            row("hello-c16", "embedded", "mod_wsgi", real_embedded, children=[31000] * 3),
            row("hello-c16", "embedded", "static", static, children=[5000] * 3)]


def goals_by_id(rows):
    return {g["id"]: g for g in bench_goals.evaluate_goals(rows)}


def test_goals_on_synthetic_rounds():
    g = goals_by_id(hello_rows())
    hello = g["daemon-hello"]
    assert hello["verdict"] == "holds" and hello["counts"] == {"holds": 1}
    inst = hello["instances"][0]
    assert inst["against"] == "mod_wsgi" and inst["ratio"]["value"] == round(305 / 100, 3)
    assert set(inst["per_target"]) == {"mod_wsgi", "mod_wsgi-debian"}
    # embedded gateway vs mod_wsgi: 990-1010 against 980-1020, ratio range straddles 1.0
    rps = {(i["scenario"], i["mode"]): i for i in g["rps-vs-real"]["instances"]}
    assert rps[("hello-c16", "embedded")]["verdict"] == "unresolved"
    assert rps[("hello-c16", "daemon")]["verdict"] == "holds"
    assert rps[("get1m", "daemon")]["verdict"] == "not measured"
    assert g["rps-vs-real"]["verdict"] == "unresolved"
    # 1000 / 1050 = 0.952 >= 0.9 with its whole range (990/1060 = 0.934)
    assert g["embedded-hello-static"]["verdict"] == "holds"
    assert g["daemon-get1m"]["verdict"] == "not measured"
    p99 = {(i["scenario"], i["mode"]): i for i in g["p99-vs-real"]["instances"]}
    assert p99[("hello-c16", "daemon")]["verdict"] == "holds"
    assert p99[("hello-c16", "embedded")]["verdict"] == "holds"   # 1.0 ms everywhere: equal is <=
    rss = {(i["scenario"], i["mode"], i["kind"]): i for i in g["rss-vs-real"]["instances"]}
    assert ("hello-c16", "embedded", "daemons") not in rss
    assert rss[("hello-c16", "daemon", "children")]["verdict"] == "holds"
    # daemons: gateway 40000 vs debian's 39000-43000 -> unresolved, best (lowest median) is debian
    assert rss[("hello-c16", "daemon", "daemons")]["verdict"] == "unresolved"
    assert rss[("hello-c16", "daemon", "daemons")]["against"] == "mod_wsgi-debian"
    assert rss[("hello-c16", "embedded", "children")]["verdict"] == "holds"


def test_goal_against_the_best_must_hold_against_every_real_module():
    # gateway beats mod_wsgi 2x but Debian's is faster than both
    rows = hello_rows(gw_daemon=(200, 201, 202), real_daemon=(100, 100, 100), debian_daemon=(250, 251, 252))
    inst = goals_by_id(rows)["daemon-hello"]["instances"][0]
    assert inst["per_target"]["mod_wsgi"]["verdict"] == "holds"
    assert inst["per_target"]["mod_wsgi-debian"]["verdict"] == "missed"
    assert inst["against"] == "mod_wsgi-debian" and inst["verdict"] == "missed"
    assert goals_by_id(rows)["rps-vs-real"]["verdict"] == "missed"


def test_goal_threshold_decides_resolution():
    # 1.6x with a tight spread: >= 1.0 holds, >= 1.5 holds; 1.45-1.55: 1.5 unresolved
    rows = hello_rows(gw_daemon=(145, 150, 155), real_daemon=(100, 100, 100), debian_daemon=(50, 50, 50))
    g = goals_by_id(rows)
    assert g["daemon-hello"]["verdict"] == "unresolved"
    assert g["daemon-hello"]["instances"][0]["ratio"]["resolved"] is False
    d = {(i["scenario"], i["mode"]): i for i in g["rps-vs-real"]["instances"]}
    assert d[("hello-c16", "daemon")]["verdict"] == "holds"


def test_non2xx_answers_do_not_let_a_goal_hold():
    rows = hello_rows()
    rows[0] = row("hello-c16", "daemon", "gateway", (300, 310, 305), non2xx=5)
    inst = goals_by_id(rows)["daemon-hello"]["instances"][0]
    assert inst["verdict"] == "unresolved" and inst["non2xx"] == {"gateway": 15}


def test_goals_are_data():
    ids = [g.id for g in bench_goals.GOALS]
    assert len(ids) == len(set(ids))
    for g in bench_goals.GOALS:
        assert g.metric in bench_goals.HIGHER_IS_BETTER and g.against in ("real", "static")
        assert all(s in bench_goals.SCENARIOS for s in g.scenarios or ()) and set(g.modes) <= set(bench_goals.MODES)


def test_ratios():
    q = {(r["scenario"], r["mode"]): r for r in bench_goals.build_ratios(hello_rows())}
    d = q[("hello-c16", "daemon")]
    assert d["rps"]["best_real"] == "mod_wsgi" and d["p99_ms"]["best_real"] == "mod_wsgi"
    assert d["rps"]["vs_best_real"]["resolved"] and set(d["rps"]["vs"]) == {"mod_wsgi", "mod_wsgi-debian"}
    assert d["rps_vs_static"]["value"] == round(305 / 1050, 3)
    e = q[("hello-c16", "embedded")]
    assert not e["rps"]["vs_best_real"]["resolved"]


class FakeTarget:
    default_profile = "6"

    def __init__(self, name):
        self.name = name

    def as_dict(self):
        return {"name": self.name, "kind": self.name}


def synthetic_report(duration=10.0, repeat=3):
    results = {}
    for r in hello_rows():
        for rnd in r["rounds"]:
            results.setdefault((r["scenario"], r["mode"], r["target"]), []).append(rnd)
    a = types.SimpleNamespace(duration=duration, warmup=1.0, repeat=repeat, rss_interval=0.2, mpm="event")
    install = types.SimpleNamespace(version_string="2.4.62", apxs="/usr/bin/apxs")
    targets = {"static": None, "gateway": FakeTarget("gateway"), "mod_wsgi": FakeTarget("mod_wsgi"),
               "mod_wsgi-debian": FakeTarget("mod_wsgi-debian")}
    return bench.build_report(a, install, {"version": "3.11.2"}, targets, results, 12.0)


def test_report_json_and_md(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_report, "plot", lambda report, path: None)
    report = synthetic_report()
    bench_report.write_reports(report, tmp_path)
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["schema"] == "mod_gateway.bench/2"
    assert data["goals"][0] == {"id": "settings", "goal": "runs of >= 10s, >= 3 interleaved rounds",
                                "verdict": "holds", "detail": "10s per run, 3 rounds"}
    assert [g["id"] for g in data["goals"][1:]] == [g.id for g in bench_goals.GOALS]
    gw = next(r for r in data["results"] if r["target"] == "gateway" and r["mode"] == "daemon")
    assert gw["rss"]["daemons"]["peak_kb"]["median"] == 40000
    md = (tmp_path / "bench.md").read_text()
    assert "## Goals" in md and "Not evidence" not in md
    figures = [line.split(" | ")[:3] for line in md.splitlines() if line.startswith("| hello-c16 | ")][:6]
    assert figures == [["| hello-c16", "embedded", "static"], ["| hello-c16", "embedded", "gateway"],
                       ["| hello-c16", "embedded", "mod_wsgi"], ["| hello-c16", "daemon", "gateway"],
                       ["| hello-c16", "daemon", "mod_wsgi"], ["| hello-c16", "daemon", "mod_wsgi-debian"]]
    assert "| daemon hello (16 connections) >= 1.5x the best real module | **holds** | 1 holds |" in md
    assert "hello-c16 embedded 1.00× (0.97–1.03) vs mod_wsgi: unresolved" in md
    assert "| hello-c16 | daemon | gateway | 305 (300–310) | 3.3% | 1.00 (1.00–1.10) | 29.3 (29.3–29.3) " \
           "| 39.1 (39.1–39.1) |  |" in md
    assert "| hello-c16 | embedded | 1.00× (0.97–1.03, unresolved) | mod_wsgi |" in md


def test_md_says_when_the_settings_are_below_the_bar(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_report, "plot", lambda report, path: None)
    report = synthetic_report(duration=1.0, repeat=2)
    assert report["goals"][0]["verdict"] == "missed"
    md = bench_report.render_md(report)
    assert "**Not evidence:** 1s per run and 2 rounds is below the bar" in md
