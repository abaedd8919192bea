"""Print reports/reliability.json as Markdown tables: one row per scenario, one column per target.

    python -m reliability.table [reports/reliability.json]
"""

import json
import sys
from pathlib import Path

# The figures shown per scenario (everything else stays in the JSON).
KEYS = {
    "kill9_daemons_under_load": ["requests", "failed_by_status", "hung", "failed_outside_gap",
                                 "replacement_serving_after_kill_one_s", "group_serving_again_after_kill_all_s"],
    "deadlocked_daemon_holding_gil": ["requests", "failed_by_status", "hung", "failed_outside_gap",
                                      "group_serving_again_s", "deadlocked_request"],
    "memory_leak_past_memory_limit": ["memory_limit", "leak_requests_ok_before_failure", "leak_failure_statuses",
                                      "daemon_peak_rss_mb", "hung", "hello_serves_after_s"],
    "graceful_x5_under_load": ["requests", "failed", "hung", "processes_left_after_stop",
                               "socket_files_left_after_stop"],
    "stop_under_load": ["parent_exit_s", "all_processes_gone_s", "hung", "processes_left", "socket_files_left"],
    "daemon_identity_exactly_as_configured": ["ident", "processes_running_as_root_besides_parent"],
    "socket_not_connectable_by_other_user": ["socket_modes", "connect_as_nobody"],
    "restricted_process_group_refused": ["own_group", "allowed_by_WSGIRestrictProcess", "not_in_WSGIRestrictProcess",
                                         "other_vhosts_group_by_env", "other_vhosts_group_static"],
    "soak_200k_mixed": ["requests", "requests_per_s", "non_200", "socket_errors", "children", "daemons"],
    "fuzz_wire_decoder_bounded": ["engine", "seconds", "runs", "edges_covered", "crashes"],
}
HOSTILE = ["statuses", "log_lines", "fd_growth", "daemon_threads_free_before", "daemon_threads_free_after"]


def _fmt(v):
    if isinstance(v, dict):
        if "uid" in v and "configured" in v:
            return "uid %s gid %s groups %s" % (v["uid"][0], v["gid"][0], v["groups"])
        if "growth_kb_per_10k_after_warmup" in v:
            largest = v.get("largest_process_rss_mb")
            return "%s kB/10k (RSS %s→%s MB%s)" % (v["growth_kb_per_10k_after_warmup"], v["rss_mb_after_warmup"],
                                                   v["rss_mb_end"],
                                                   "; largest process %s MB" % largest if largest else "")
        return ", ".join("%s: %s" % (k, _fmt(x)) for k, x in sorted(v.items())) or "–"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return "–" if v is None else str(v)


def main(argv):
    path = Path(argv[1] if len(argv) > 1 else "reports/reliability.json")
    data = json.loads(path.read_text())
    targets = [t for t in ("gateway", "mod_wsgi", "mod_wsgi-debian", "-") if any(
        t in r for r in data["results"].values())]
    print("Run %s, %ss, MPM %s; targets: %s\n" % (data["started"], data["duration_s"], data["mpm"], ", ".join(
        "%s %s" % (k, v.get("version", v.get("error", ""))) for k, v in sorted(data["targets"].items()))))
    print("| scenario | figure | " + " | ".join(targets) + " |")
    print("|---|---|" + "---|" * len(targets))
    for scen in sorted(data["results"]):
        res = data["results"][scen]
        base = scen.split("[")[0]
        keys = KEYS.get(base, HOSTILE if base == "hostile_input" else [])
        outcome = " | ".join(res.get(t, {}).get("outcome", "–") for t in targets)
        print("| %s | **outcome** | %s |" % (scen, outcome))
        for k in keys:
            if not any(k in res.get(t, {}) for t in targets):
                continue
            print("| | %s | %s |" % (k, " | ".join(_fmt(res.get(t, {}).get(k)) for t in targets)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
