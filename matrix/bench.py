"""python -m matrix bench: mod_gateway against the real mod_wsgi and Apache itself, one run.

For one Apache build, MPM and server Python, one server per target runs for the
whole benchmark (embedded mounts under /e, a daemon group under /d); wrk loads each
target in turn on loopback, scenarios and targets interleaved and repeated so that
noise hits all of them alike.  While wrk runs, a thread samples the resident set of
the server's children and daemon processes.  Every figure is reported as the median
of the rounds with its spread; a ratio whose range straddles the value it is judged
against is marked unresolved, and the goals (GOALS) are judged holds / missed /
unresolved from those ranges.  Writes reports/bench/bench.json, bench.md, bench.svg.
"""

import argparse
import collections
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gateway import httpd, wsgi_config
from conformance import targets as targets_mod

APP = Path(__file__).parent / "bench_app.wsgi"
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
# display-name: the daemons show as "(wsgi:bench)" in /proc/PID/cmdline, which is how the
# RSS sampler tells them from Apache's children.
DAEMON_OPTIONS = "processes=2 threads=16 display-name=%s" % wsgi_config.GROUP
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


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m matrix bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--apxs", default="apxs")
    p.add_argument("--mpm", default="event")
    p.add_argument("--python", default="3.11", help="server Python (path or version)")
    p.add_argument("--targets", default="static,gateway,mod_wsgi,mod_wsgi-debian")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--duration", type=float, default=BAR["duration_s"],
                   help="seconds measured per run (whole seconds for wrk; the bar is %gs)" % BAR["duration_s"])
    p.add_argument("--warmup", type=float, default=1.0,
                   help="seconds of load discarded before the first run of each scenario/mode/target")
    p.add_argument("--repeat", type=int, default=BAR["repeat"],
                   help="interleaved rounds (the bar is %d)" % BAR["repeat"])
    p.add_argument("--rss-interval", type=float, default=0.2, help="seconds between RSS samples during a run")
    p.add_argument("--out", default="reports/bench")
    return p.parse_args(argv)


def wrk_binary():
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed (apt-get install wrk, or bash ci/provision)")
    return found


def post_script(tmp, size):
    path = Path(tmp) / ("post-%d.lua" % size)
    path.write_text('wrk.method = "POST"\nwrk.body = string.rep("p", %d)\n'
                    'wrk.headers["Content-Type"] = "application/octet-stream"\n' % size)
    return str(path)


def wrk_seconds(seconds):
    return max(1, int(round(seconds)))


def run_wrk(url, connections, seconds, script=None):
    # wrk needs at least one connection per thread: -c1 runs on one thread.
    cmd = [wrk_binary(), "-t%d" % min(2, connections), "-c%d" % connections, "-d%ds" % wrk_seconds(seconds),
           "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=seconds + 60).stdout
    return parse_wrk(out)


def parse_wrk(out):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not rps:
        return {"error": " ".join(out.split())[-500:]}   # one line: it lands in a table cell
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {"rps": float(rps.group(1)),
            "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else None,
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0}


# ------------------------------------------------------------------ RSS sampling

def process_kind(cmd):
    """'daemons' for a WSGI daemon process (display-name shows it as '(wsgi:NAME)'), else
    'children' (the Apache parent is left out by the caller)."""
    return "daemons" if cmd.startswith("(wsgi:") else "children"


def rss_peaks(samples):
    """Per process kind, from samples [{pid: (kind, rss KiB)}, ...] taken during one run:
    peak_kb the largest resident set any one process of that kind reached, total_kb the
    largest sum over the kind's processes at one sample, processes how many were seen.
    Kinds never seen are absent."""
    out = {}
    for sample in samples:
        totals = collections.Counter()
        for pid, (kind, kb) in sample.items():
            k = out.setdefault(kind, {"peak_kb": 0, "total_kb": 0, "pids": set()})
            k["peak_kb"] = max(k["peak_kb"], kb)
            k["pids"].add(pid)
            totals[kind] += kb
        for kind, total in totals.items():
            out[kind]["total_kb"] = max(out[kind]["total_kb"], total)
    return {kind: {"peak_kb": k["peak_kb"], "total_kb": k["total_kb"], "processes": len(k["pids"])}
            for kind, k in out.items()}


class RssSampler:
    """A thread that samples the RSS of a server's processes (parent left out) every
    `interval` seconds while the with-block runs; .peaks() after it."""

    def __init__(self, server, interval=0.2):
        self.server, self.interval = server, interval
        self.samples = []
        self._kinds = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while True:
            self.samples.append(self.sample())
            if self._stop.wait(self.interval):
                self.samples.append(self.sample())
                return

    def sample(self):
        parent = self.server.proc.pid if self.server.proc else None
        out = {}
        for pid in self.server.pids():   # gateway.httpd: the one walker of a server's session
            if pid == parent:
                continue
            if pid not in self._kinds:
                self._kinds[pid] = process_kind(httpd.cmdline(pid))
            kb = httpd.rss_kb(pid)
            if kb:   # 0: gone between the walk and the read
                out[pid] = (self._kinds[pid], kb)
        return out

    def peaks(self):
        return rss_peaks(self.samples)


# ------------------------------------------------------------------ servers

def profile_of(target):
    """The behaviour profile a target runs under: its default (mod_gateway's is the one the
    conformance suite runs it under without --profile); None for Apache alone."""
    return target.default_profile if target is not None else None


class BenchServer:
    """One Apache for one target, with an embedded mount (/e) and a daemon group (/d)."""

    def __init__(self, install, mpm, target, python_prefix, root):
        self.target = target
        root = Path(root)
        root.mkdir(parents=True)
        app_dir = root / "app"
        app_dir.mkdir()
        shutil.copy(str(APP), str(app_dir / "bench.wsgi"))
        (app_dir / "1mib.bin").write_bytes(os.urandom(MIB))
        htdocs = root / "htdocs"
        htdocs.mkdir()
        (htdocs / "hello.txt").write_bytes(b"Hello world!")
        shutil.copy(str(app_dir / "1mib.bin"), str(htdocs / "1mib.bin"))
        for p in (root, app_dir, htdocs):
            os.chmod(str(p), 0o755)
        frags, modules = [], []
        if target is not None:
            modules = target.load_lines()
            script = app_dir / "bench.wsgi"
            frags = wsgi_config.header(target.kind, profile_of(target), root / "run" / "wsgi", python_prefix)
            frags += [wsgi_config.daemon_process("bench", DAEMON_OPTIONS),
                      wsgi_config.script_alias("/e", script),
                      wsgi_config.script_alias("/d", script, process_group="bench")]
            for mount in ("/e", "/d"):
                frags += ["<Location %s>" % mount, "    " + wsgi_config.application_group(wsgi_config.GLOBAL),
                          "</Location>"]
            frags += wsgi_config.directory_grant(app_dir, install.version)
        self.server = httpd.Server(install, root, mpm=mpm, module_lines=modules, fragments=frags,
                                   log_level="warn")

    def url(self, mode, scenario):
        path, _, _, static_file = SCENARIOS[scenario]
        if self.target is None:
            return self.server.url + "/" + static_file if static_file else None
        return "%s/%s/%s" % (self.server.url, "e" if mode == "embedded" else "d", path)


def resolve_targets(names, python, apxs):
    out = {}
    for name in names:
        if name == "static":
            out[name] = None
            continue
        try:
            t = targets_mod.resolve(name, python, apxs)
        except targets_mod.TargetError as e:
            print("bench: skipping target %s: %s" % (name, str(e).splitlines()[0]))
            continue
        # Debian's module embeds Debian's libpython: comparable when the X.Y matches.
        want = re.search(r"(\d+\.\d+)", targets_mod.python_info(python)["version"]).group(1)
        if name == "mod_wsgi-debian" and "libpython%s" % want not in t.libpython:
            print("bench: skipping mod_wsgi-debian: it embeds %s, not Python %s" % (t.libpython, want))
            continue
        out[name] = t
    return out


def plan(repeat, scenarios, modes, names):
    """The runs in order, (round, scenario, mode, target): round by round, and within a round
    every scenario, mode and target in turn, so slow drift of the machine hits them alike.
    Apache alone serves only the scenarios that have a static file, once (as 'embedded')."""
    out = []
    for rep in range(repeat):
        for scenario in scenarios:
            for mode in modes:
                for name in names:
                    if name == "static" and (SCENARIOS[scenario][3] is None or mode != "embedded"):
                        continue
                    out.append((rep, scenario, mode, name))
    return out


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    install = httpd.ApacheInstall.from_apxs(a.apxs)
    python = targets_mod.find_python(a.python)
    info = targets_mod.python_info(python)
    scenarios = [s for s in a.scenarios.split(",") if s]
    modes = [m for m in a.modes.split(",") if m]
    unknown = [s for s in scenarios if s not in SCENARIOS] + [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit("bench: unknown scenario or mode: %s" % ", ".join(unknown))
    tmp = tempfile.mkdtemp(prefix="bench-")
    os.chmod(tmp, 0o755)
    targets = resolve_targets([t for t in a.targets.split(",") if t], python, install.apxs)
    runs = plan(a.repeat, scenarios, modes, list(targets))
    warmups = len({r[1:] for r in runs})
    print("bench: %d runs of %ds + %d warm-ups of %ds: about %.0f min" % (
        len(runs), wrk_seconds(a.duration), warmups, wrk_seconds(a.warmup),
        (len(runs) * (wrk_seconds(a.duration) + 0.5) + warmups * (wrk_seconds(a.warmup) + 0.5)) / 60), flush=True)
    servers = {}
    results = {}
    t_start = time.monotonic()
    try:
        for name, target in targets.items():
            bs = BenchServer(install, a.mpm, target, info["prefix"], Path(tmp) / name)
            servers[name] = bs
            bs.server.start()
        for rep, scenario, mode, name in runs:
            _, conns, body, _ = SCENARIOS[scenario]
            script = post_script(tmp, body) if body else None
            bs = servers[name]
            url = bs.url(mode, scenario)
            if rep == 0:   # warm-up, discarded; later rounds find the server warm
                run_wrk(url, conns, a.warmup, script)
            with RssSampler(bs.server, a.rss_interval) as sampler:
                r = run_wrk(url, conns, a.duration, script)
            r = dict(r, round=rep, rss=sampler.peaks())
            results.setdefault((scenario, mode, name), []).append(r)
            print("[%d/%d] %-16s %-8s %-16s %s" % (rep + 1, a.repeat, scenario, mode, name, progress_line(r)),
                  flush=True)
    finally:
        for bs in servers.values():
            bs.server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report = build_report(a, install, info, targets, results, time.monotonic() - t_start)
    write_reports(report, Path(a.out))
    print("bench: wrote %s/bench.{json,md}" % a.out)
    return 0


def progress_line(r):
    rss = " ".join("%s %.1f MiB" % (k, r["rss"][k]["peak_kb"] / 1024) for k in RSS_KINDS if k in r.get("rss", {}))
    if "rps" not in r:
        return r["error"][:100]
    return "%.0f req/s p99 %.2f ms; peak RSS %s" % (r["rps"], r["p99_ms"] or 0, rss or "-")


# ------------------------------------------------------------------ figures

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


def build_report(a, install, info, targets, results, wall):
    order = list(targets)

    def key(k):   # scenarios, modes and targets in the order they run
        scenario, mode, name = k
        return (list(SCENARIOS).index(scenario), MODES.index(mode), order.index(name) if name in order else 99, name)
    rows = [dict(scenario=k[0], mode=k[1], target=k[2], **summarise(results[k])) for k in sorted(results, key=key)]
    settings = {"duration_s": float(wrk_seconds(a.duration)), "warmup_s": float(wrk_seconds(a.warmup)),
                "repeat": a.repeat, "rss_interval_s": a.rss_interval}
    return {"schema": "mod_gateway.bench/2", "wall_s": round(wall, 1),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "cpu": _cpu_model(), "loadavg_at_end": _loadavg()},
            "apache": {"version": install.version_string, "mpm": a.mpm, "apxs": install.apxs},
            "server_python": info["version"], "daemon_options": DAEMON_OPTIONS,
            "settings": settings, "bar": dict(BAR),
            # profile: the behaviour profile each module runs under (mod_gateway's WSGICompatibility)
            "targets": {n: (dict(t.as_dict(), profile=profile_of(t)) if t else {"kind": "static"})
                        for n, t in targets.items()},
            "results": rows, "ratios": build_ratios(rows),
            "goals": [settings_goal(settings)] + evaluate_goals(rows)}


def _cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


# ------------------------------------------------------------------ bench.md

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


if __name__ == "__main__":
    sys.exit(main())
