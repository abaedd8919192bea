"""The benchmark's report as people read it: bench.md (goals, figures, ratios) and bench.svg,
drawn from the document matrix/bench.py writes as bench.json (its figures and verdicts come
from bench_goals.py)."""

import json

from .bench_goals import RSS_KINDS, SCENARIOS


def fmt_spread(s, fmt="%.0f", scale=1.0):
    if not s:
        return "-"
    return (fmt + " (" + fmt + "–" + fmt + ")") % (s["median"] * scale, s["min"] * scale, s["max"] * scale)


def fmt_ratio(q, against=1.0, flag=True):
    """'1.04× (0.97–1.10)', with ', unresolved' when the range straddles `against`."""
    if not q:
        return "-"
    straddles = q["low"] < against < q["high"]
    return "%.2f× (%.2f–%.2f%s)" % (q["value"], q["low"], q["high"], ", unresolved" if flag and straddles else "")


def _instance_label(i):
    return " ".join(x for x in (i["scenario"], i["mode"], i.get("kind")) if x)


def goal_lines(goals):
    lines = ["| goal | verdict | instances | not holding |", "|---|---|---|---|"]
    for g in goals:
        if g["id"] == "settings":
            lines.append("| %s | **%s** | %s | |" % (g["goal"], g["verdict"], g["detail"]))
            continue
        counts = ", ".join("%d %s" % (n, v) for v, n in g["counts"].items())
        bad = ["%s %s%s: %s" % (_instance_label(i), fmt_ratio(i.get("ratio"), flag=False),
                                " vs " + i["against"] if i.get("against") and g["against"] == "real" else "",
                                i["verdict"] + (" (non-2xx)" if i.get("non2xx") else ""))
               for i in g["instances"] if i["verdict"] in ("missed", "unresolved")]
        lines.append("| %s | **%s** | %s | %s |" % (g["goal"], g["verdict"], counts, "; ".join(bad)))
    return lines


def render_md(report):
    st = report["settings"]
    bar = report["bar"]
    lines = ["# Benchmark: Apache %s %s, Python %s (%s, %d cores)" % (
        report["apache"]["version"], report["apache"]["mpm"], report["server_python"],
        report["machine"]["cpu"], report["machine"]["cpus"]), "",
        "wrk -t2 (-t1 at one connection), %gs per run after a %gs warm-up, %d interleaved rounds "
        "(round by round, every scenario, mode and target in turn); daemon: %s. "
        "Load average at the end: %s; wall time %.0f s." % (
            st["duration_s"], st["warmup_s"], st["repeat"], report["daemon_options"],
            "%.2f" % report["machine"]["loadavg_at_end"] if report["machine"].get("loadavg_at_end") is not None
            else "?", report["wall_s"]), ""]
    if st["duration_s"] < bar["duration_s"] or st["repeat"] < bar["repeat"]:
        lines += ["**Not evidence:** %gs per run and %d rounds is below the bar (>= %gs, >= %d rounds); "
                  "the figures and verdicts below come from a short run." % (
                      st["duration_s"], st["repeat"], bar["duration_s"], bar["repeat"]), ""]
    lines += ["How to read it: every figure is the median of the rounds with their min–max; *spread* is "
              "(max - min) / median. Peak RSS: the largest resident set one process of that kind reached, "
              "sampled every %gs while wrk ran (children: Apache's worker processes, daemons: the "
              "WSGI daemon processes; the parent is left out); each target's server runs the whole "
              "benchmark, so a run's RSS includes what earlier runs left its processes holding (round 1 "
              "reads lower than later rounds, for every target alike). A ratio a/b is the ratio of the medians, "
              "and its range (low–high) the worst case of the two figures' ranges: min(a)/max(b) to "
              "max(a)/min(b); bench.json also has the per-round paired ratios. A ratio is *unresolved* "
              "when its range straddles 1.0 (in the goals: the goal's threshold), so which side it is "
              "on is within the noise. A goal holds when every instance's range is on the right side, "
              "is missed when one is wholly on the wrong side, and is otherwise unresolved (or not "
              "measured when a scenario, mode or target did not run)." % st["rss_interval_s"], ""]
    lines += ["## Goals", ""] + goal_lines(report["goals"])
    lines += ["", "## Figures", "",
              "| scenario | mode | target | req/s median (min–max) | spread | p99 ms median (min–max) "
              "| peak RSS child MiB | peak RSS daemon MiB | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        if "rps" not in r:
            lines.append("| %s | %s | %s | error: %s | | | | | |" % (
                r["scenario"], r["mode"], r["target"], (r.get("error") or "")[:60]))
            continue
        rss = [fmt_spread(r["rss"][k]["peak_kb"], "%.1f", 1 / 1024) if k in r["rss"] else "-" for k in RSS_KINDS]
        errs = ", ".join(x for x in (
            "%d non-2xx" % r["non2xx"] if r["non2xx"] else "",
            "%d socket" % r["socket_errors"] if r["socket_errors"] else "",
            "%d failed runs" % r["failed_runs"] if r.get("failed_runs") else "") if x)
        lines.append("| %s | %s | %s | %s | %.1f%% | %s | %s | %s | %s |" % (
            r["scenario"], r["mode"], r["target"], fmt_spread(r["rps"]), 100 * (r["rps"]["rel_spread"] or 0),
            fmt_spread(r.get("p99_ms"), "%.2f"), rss[0], rss[1], errs))
    if report["ratios"]:
        lines += ["", "## Ratios (mod_gateway over ...)", "",
                  "| scenario | mode | req/s / best real | best real | p99 / best real | best real (p99) "
                  "| req/s / Apache static |", "|---|---|---|---|---|---|---|"]
        for q in report["ratios"]:
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                q["scenario"], q["mode"], fmt_ratio(q["rps"]["vs_best_real"]), q["rps"]["best_real"] or "-",
                fmt_ratio(q["p99_ms"]["vs_best_real"]), q["p99_ms"]["best_real"] or "-",
                fmt_ratio(q["rps_vs_static"])))
    return "\n".join(lines) + "\n"


def write_reports(report, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=1))
    (out / "bench.md").write_text(render_md(report))
    plot(report, out / "bench.svg")


def plot(report, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib not installed, no plot")
        return
    rows = [r for r in report["results"] if "rps" in r]
    labels = sorted({(r["scenario"], r["mode"]) for r in rows}, key=lambda x: (list(SCENARIOS).index(x[0]), x[1]))
    targets = sorted({r["target"] for r in rows})
    fig, axes = plt.subplots(2, 1, figsize=(14, 9))
    width = 0.8 / max(1, len(targets))
    for i, t in enumerate(targets):
        by = {(r["scenario"], r["mode"]): r for r in rows if r["target"] == t}
        xs = [j + i * width for j in range(len(labels))]
        for ax, metric in zip(axes, ("rps", "p99_ms")):
            figs = [by[lab].get(metric) if lab in by else None for lab in labels]
            med = [s["median"] if s else 0 for s in figs]
            err = [[s["median"] - s["min"] if s else 0 for s in figs], [s["max"] - s["median"] if s else 0 for s in figs]]
            ax.bar(xs, med, width, yerr=err, capsize=2, label=t)
    for ax, title in zip(axes, ("requests/s (median, min–max)", "p99 latency ms (median, min–max)")):
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))])
        ax.set_xticklabels(["%s\n%s" % lab for lab in labels], fontsize=7)
        ax.set_title(title)
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))
