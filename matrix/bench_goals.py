"""What the benchmark measures and what it must reach, and the arithmetic that judges it.

The scenarios (what wrk asks for, with how many connections, and the static file Apache
serves as the same bytes), the goals of issue 14 (GOALS) and the bar under which the figures
count; then the figures: each results row summarised as medians with their min–max
(`spread`), a ratio of two rows as the range the two figures' ranges allow (`ratio_range`),
and each goal judged holds / missed / unresolved / not measured from those ranges.  Pure:
matrix/bench.py runs the scenarios and hands its run records here; bench_report.py draws.
"""

import collections
import statistics

MIB = 1 << 20

# name: (path, connections, body bytes for POST or 0, static equivalent file or None)
SCENARIOS = {
    "hello-c16": ("hello", 16, 0, "hello.txt"),
    "hello-c1": ("hello", 1, 0, "hello.txt"),
    "get1m": ("get1m", 16, 0, "1mib.bin"),
    "file1m": ("file1m", 16, 0, "1mib.bin"),
    "post1m-echo": ("echo", 16, MIB, None),
    "post64k-discard": ("discard", 16, 64 * 1024, None),
    "stream1000": ("stream", 16, 0, None),
    "sleep50-c64": ("sleep", 64, 0, None),
}
MODES = ("embedded", "daemon")
REAL_TARGETS = ("mod_wsgi", "mod_wsgi-debian")

# The settings under which the figures count as evidence (issue 14): shorter or fewer runs
# still report, but bench.md says the bar is not met.
BAR = {"duration_s": 10.0, "repeat": 3}

# Process kinds whose peak RSS is recorded, and the ones that serve requests in each mode
# (in daemon mode the children still proxy every request).
RSS_KINDS = ("children", "daemons")
RSS_KINDS_BY_MODE = {"embedded": ("children",), "daemon": ("children", "daemons")}

# metric: "rps" (higher is better), "p99_ms" or "rss" (peak resident set of one process of a
# kind; lower is better).  against: "real" = every real module measured, so the goal is against
# the best of them; "static" = Apache serving the same bytes from a file (embedded row).
# scenarios None = every scenario in SCENARIOS (one not run is "not measured").
Goal = collections.namedtuple("Goal", "id text metric against threshold scenarios modes")
GOALS = (
    Goal("rps-vs-real", "req/s >= 1.0x the best real module, every scenario, both modes",
         "rps", "real", 1.0, None, MODES),
    Goal("p99-vs-real", "p99 latency <= the best real module's, every scenario, both modes",
         "p99_ms", "real", 1.0, None, MODES),
    Goal("daemon-hello", "daemon hello (16 connections) >= 1.5x the best real module",
         "rps", "real", 1.5, ("hello-c16",), ("daemon",)),
    Goal("daemon-get1m", "daemon 1 MiB GET >= 2x the best real module",
         "rps", "real", 2.0, ("get1m",), ("daemon",)),
    Goal("daemon-post1m", "daemon 1 MiB POST echo >= 1.5x the best real module",
         "rps", "real", 1.5, ("post1m-echo",), ("daemon",)),
    Goal("embedded-hello-static", "embedded hello (16 connections) >= 0.9x Apache's static file",
         "rps", "static", 0.9, ("hello-c16",), ("embedded",)),
    Goal("rss-vs-real", "peak RSS per process <= the real modules' (children; daemons in daemon mode), "
         "every scenario", "rss", "real", 1.0, None, MODES),
)
HIGHER_IS_BETTER = {"rps": True, "p99_ms": False, "rss": False}
VERDICTS = ("holds", "missed", "unresolved", "not measured")


def spread(values):
    """median, min, max and rel_spread ((max - min) / median) of the rounds' values; None
    when there are none."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    med = statistics.median(vals)
    return {"median": med, "min": vals[0], "max": vals[-1],
            "rel_spread": round((vals[-1] - vals[0]) / med, 4) if med else None, "n": len(vals)}


def metric_values(row, metric, kind=None):
    """{round: value} of one metric from a results row's rounds (rss: the kind's peak_kb)."""
    out = {}
    for r in row.get("rounds", ()):
        if metric == "rss":
            v = r.get("rss", {}).get(kind, {}).get("peak_kb")
        else:
            v = r.get(metric)
        if v is not None:
            out[r["round"]] = v
    return out


def ratio_range(num, den, against=1.0):
    """num over den, both {round: value}.  value: median(num) / median(den); low..high: the
    bounds the two figures' ranges allow, min(num) / max(den) .. max(num) / min(den) (what
    decides `resolved`); paired: the spread of the per-round ratios (same round of both, run
    back to back), for reference.  resolved: False when low < `against` < high, the ranges
    overlapping so that the side of `against` the ratio falls on is within the noise.
    None when either side has no values."""
    a, b = [v for v in num.values()], [v for v in den.values()]
    if not a or not b or min(b) <= 0:
        return None
    value = statistics.median(a) / statistics.median(b)
    low, high = min(a) / max(b), max(a) / min(b)
    paired = spread([num[r] / den[r] for r in sorted(set(num) & set(den)) if den[r] > 0])
    return {"value": round(value, 3), "low": round(low, 3), "high": round(high, 3),
            "resolved": not (low < against < high),
            "paired": {k: round(v, 3) if isinstance(v, float) else v for k, v in paired.items()} if paired else None}


def verdict(ratio, threshold, higher_is_better):
    """holds / missed / unresolved for a goal `ratio >= threshold` (or <= when lower is
    better), judged on the ratio's low..high range; 'not measured' without a ratio."""
    if ratio is None:
        return "not measured"
    low, high = ratio["low"], ratio["high"]
    if higher_is_better:
        return "holds" if low >= threshold else "missed" if high < threshold else "unresolved"
    return "holds" if high <= threshold else "missed" if low > threshold else "unresolved"


def combine(verdicts):
    """One verdict for all of them: missed if any is, else unresolved, else not measured,
    else holds (and not measured for none)."""
    verdicts = list(verdicts)
    for v in ("missed", "unresolved", "not measured"):
        if v in verdicts:
            return v
    return "holds" if verdicts else "not measured"


def summarise(runs):
    """A results row's figures from its runs (each a run_wrk record with round and rss)."""
    rounds = [{k: r[k] for k in ("round", "rps", "p99_ms", "non2xx", "socket_errors", "rss", "error") if k in r}
              for r in runs]
    ok = [r for r in runs if "rps" in r]
    if not ok:
        return {"error": runs[-1].get("error") if runs else "no runs", "rounds": rounds}
    rss = {}
    for kind in RSS_KINDS:
        seen = [r["rss"][kind] for r in ok if kind in r.get("rss", {})]
        if seen:
            rss[kind] = {"peak_kb": spread(s["peak_kb"] for s in seen),
                         "total_kb": spread(s["total_kb"] for s in seen),
                         "processes": max(s["processes"] for s in seen)}
    return {"rps": spread(r["rps"] for r in ok),
            "p99_ms": spread(r["p99_ms"] for r in ok),
            "rss": rss,
            "non2xx": sum(r["non2xx"] for r in ok), "socket_errors": sum(r["socket_errors"] for r in ok),
            "runs": len(ok), "failed_runs": len(runs) - len(ok), "rounds": rounds}


def _index(rows):
    return {(r["scenario"], r["mode"], r["target"]): r for r in rows if "rps" in r}


def _static_row(idx, scenario):
    return idx.get((scenario, "embedded", "static"))


def _best(rows, metric, kind=None):
    """The row with the best median of `metric` (highest req/s, lowest p99 or RSS)."""
    def med(r):
        s = r["rss"].get(kind, {}).get("peak_kb") if metric == "rss" else r.get(metric)
        return s["median"] if s else None
    rows = [r for r in rows if med(r) is not None]
    if not rows:
        return None
    return (max if HIGHER_IS_BETTER[metric] else min)(rows, key=med)


def _reals(idx, scenario, mode):
    return [idx[(scenario, mode, t)] for t in REAL_TARGETS if (scenario, mode, t) in idx]


def compare(gw, others, metric, threshold, kind=None):
    """mod_gateway's row against each of `others` (rows) on one metric: the ratio to the best
    of them, each one's ratio and verdict, and the combined verdict (the goal is against the
    best, so it must hold against every one).  Errors (non-2xx answers) in a compared row
    turn 'holds' into 'unresolved'."""
    higher = HIGHER_IS_BETTER[metric]
    if gw is None or not others:
        return {"verdict": "not measured"}
    per = {}
    for o in others:
        q = ratio_range(metric_values(gw, metric, kind), metric_values(o, metric, kind), threshold)
        per[o["target"]] = dict(q, verdict=verdict(q, threshold, higher)) if q else {"verdict": "not measured"}
    best = _best(others, metric, kind)
    v = combine(p["verdict"] for p in per.values())
    errors = {r["target"]: r["non2xx"] for r in [gw] + list(others) if r.get("non2xx")}
    out = {"against": best["target"] if best else None, "ratio": per.get(best["target"]) if best else None,
           "per_target": per, "verdict": v}
    if errors:
        out["non2xx"] = errors
        if v == "holds":
            out["verdict"] = "unresolved"
    return out


def evaluate_goals(rows, goals=GOALS):
    """Each goal's instances (scenario x mode, x process kind for RSS) and its verdict."""
    idx = _index(rows)
    out = []
    for g in goals:
        instances = []
        for scenario in g.scenarios or list(SCENARIOS):
            for mode in g.modes:
                gw = idx.get((scenario, mode, "gateway"))
                if g.against == "static":
                    others = [r for r in [_static_row(idx, scenario)] if r]
                else:
                    others = _reals(idx, scenario, mode)
                for kind in (RSS_KINDS_BY_MODE[mode] if g.metric == "rss" else (None,)):
                    c = compare(gw, others, g.metric, g.threshold, kind)
                    inst = {"scenario": scenario, "mode": mode}
                    if kind:
                        inst["kind"] = kind
                    instances.append(dict(inst, **c))
        counts = collections.Counter(i["verdict"] for i in instances)
        out.append({"id": g.id, "goal": g.text, "metric": g.metric, "against": g.against,
                    "threshold": g.threshold, "verdict": combine(i["verdict"] for i in instances),
                    "counts": {v: counts[v] for v in VERDICTS if counts[v]}, "instances": instances})
    return out


def settings_goal(settings):
    """Whether the runs were long and many enough for the figures to count (BAR)."""
    ok = settings["duration_s"] >= BAR["duration_s"] and settings["repeat"] >= BAR["repeat"]
    return {"id": "settings", "goal": "runs of >= %gs, >= %d interleaved rounds" % (BAR["duration_s"], BAR["repeat"]),
            "verdict": "holds" if ok else "missed",
            "detail": "%gs per run, %d rounds" % (settings["duration_s"], settings["repeat"])}


def build_ratios(rows):
    """Per scenario and mode, mod_gateway over: the best real module in req/s, the best real
    module in p99, each real module, Apache's static file; each with its range and flag."""
    idx = _index(rows)
    out = []
    for scenario in SCENARIOS:
        for mode in MODES:
            gw = idx.get((scenario, mode, "gateway"))
            if not gw:
                continue
            reals = _reals(idx, scenario, mode)
            entry = {"scenario": scenario, "mode": mode, "gateway_rps": gw["rps"]["median"]}
            for metric in ("rps", "p99_ms"):
                best = _best(reals, metric)
                entry[metric] = {"best_real": best["target"] if best else None,
                                 "vs_best_real": ratio_range(metric_values(gw, metric), metric_values(best, metric))
                                 if best else None,
                                 "vs": {r["target"]: ratio_range(metric_values(gw, metric), metric_values(r, metric))
                                        for r in reals}}
            static = _static_row(idx, scenario)
            entry["rps_vs_static"] = ratio_range(metric_values(gw, "rps"), metric_values(static, "rps")) \
                if static else None
            out.append(entry)
    return out
