"""report.md: the report for a terminal or a PR comment (summary, cells, failures, differential)."""

from collections import defaultdict

from .report import differential_by_case, summary_grids
from gateway.text import fmt_duration, headline


def _md(text):
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


SYMBOL = {"pass": "✓", "fail": "✗", "no-result": "!", "unavailable": "∅"}


def summary(doc):
    """Apache x Python per target and mode: each entry counts the cells (one per MPM) by state."""
    s = summary_grids(doc)
    out = ["## Summary", "", "Apache × Python per target and mode, cells over the MPMs: "
           "✓ passed, ✗ a case failed, ! no result (timeout, setup error, error, not run), ∅ cannot run here.", ""]
    for g in s["grids"]:
        out += ["**%s · %s** (%s)" % (g["target"], g["mode"], " ".join("%d%s" % (n, SYMBOL[k]) for k, n in g["counts"].items())),
                "", "| Apache | %s |" % " | ".join("py" + p for p in g["pythons"]),
                "|---|" + "---|" * len(g["pythons"])]
        for apache in g["apaches"]:
            out.append("| %s | %s |" % (apache, " | ".join(
                " ".join("%d%s" % (n, SYMBOL[k]) for k, n in g["squares"][(apache, p)]["counts"].items())
                if (apache, p) in g["squares"] else "" for p in g["pythons"])))
        out.append("")
    hidden = ["%s %s" % (label, v) for axis, label in (("apache", "Apache"), ("python", "Python"))
              for v in sorted(s["hidden"][axis])]
    if hidden:
        out += ["Not in the tables, no cell can run: %s (see Unavailable cells)." % ", ".join(hidden), ""]
    return out


def render(doc):
    s = doc["summary"]
    out = ["# mod_gateway conformance matrix", "",
           "%d cells: %s. Wall time: %s (%d runs: %s); time in cells: %s. Generated %s." % (
               s["cells"], ", ".join("%d %s" % (n, k) for k, n in sorted(s["status"].items())),
               fmt_duration(doc.get("wall_s_all_runs") or 0), len(doc["runs"]),
               ", ".join("%s for %d cells" % (fmt_duration(r.get("wall_s") or 0), r.get("ran", 0))
                         for r in doc["runs"][-5:]),
               fmt_duration(s["cell_time_s"]), doc["generated"]),
           "", "Case verdicts: " + ", ".join("%d %s" % (n, v) for v, n in s["verdicts"].items()), ""]
    out += summary(doc)
    out += ["## Cells", "",
            "| cell | status | profile | pass | fail | skip | n/a | known dev. | wall s | build s | starts | start s | cases s |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    unavailable = defaultdict(list)
    for c in doc["cells"]:
        if c["status"] == "unavailable":
            unavailable[c["message"]].append(c["id"])
            continue
        n, t = c["summary"], c["timings"]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c["id"], c["status"], c["profile"], *(n.get(v, "") for v in
                                                  ("pass", "fail", "skip", "not-applicable", "known-deviation")),
            *(t[k] for k in ("wall_s", "build_s", "server_starts", "server_start_s", "cases_s"))))
    out += ["", "## Failures", ""]
    for c in doc["cells"]:
        failed = [case for case in c["cases"] if case["verdict"] == "fail"]
        if len(failed) == 1:
            out.append("- `%s` %s: %s" % (c["id"], failed[0]["id"], _md(headline(failed[0]["message"]))))
        elif failed:
            out.append("- `%s` %d cases: %s" % (c["id"], len(failed), " ".join(f["id"] for f in failed)))
    if out[-1] == "":
        out.append("none")
    problems = [c for c in doc["cells"] if c["status"] not in ("pass", "fail", "unavailable")]
    if problems:
        out += ["", "## Cells without a result", ""]
        out += ["- `%s` %s: %s" % (c["id"], c["status"], _md(headline(c["message"]))) for c in problems]
    out += ["", "## gateway vs real mod_wsgi", ""]
    if doc["differential"]:
        out += ["| case | gateway | reference | its verdict | profiles | where |", "|---|---|---|---|---|---|"]
        out += ["| %s | %s | %s | %s | %s | %d: %s |" % (
            d["case"], d["gateway"], d["reference"], d["reference_verdict"],
            " ".join("%s/%s" % p for p in d["profiles"]), len(d["where"]),
            ", ".join(g for g, _ in d["where"][:6]) + (" ..." if len(d["where"]) > 6 else ""))
            for d in differential_by_case(doc["differential"])]
    else:
        out.append("No case where they disagree.")
    out += ["", "## Unavailable cells", ""]
    out += ["- %d cells: %s (e.g. `%s`)" % (len(ids), why, ids[0]) for why, ids in sorted(unavailable.items())] or ["none"]
    return "\n".join(out) + "\n"
