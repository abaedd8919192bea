"""python -m matrix bench: mod_gateway against the real mod_wsgi and Apache itself, one run.

For one Apache build, MPM and server Python, one server per target runs for the
whole benchmark (embedded mounts under /e, a daemon group under /d); wrk loads each
target in turn on loopback, scenarios and targets interleaved and repeated so that
noise hits all of them alike.  While wrk runs, a thread samples the resident set of
the server's children and daemon processes.  Every figure is reported as the median
of the rounds with its spread; a ratio whose range straddles the value it is judged
against is marked unresolved, and the goals (bench_goals.GOALS) are judged holds / missed /
unresolved from those ranges.  Writes reports/bench/bench.json, bench.md, bench.svg.

Here: the command, wrk, the RSS sampler, the servers and the run's record (bench.json);
bench_goals.py: the scenarios, goals and figures; bench_report.py: bench.md and bench.svg.
"""

import argparse
import collections
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gateway import httpd, wsgi_config
from conformance import targets as targets_mod

from .bench_goals import (BAR, MIB, MODES, RSS_KINDS, SCENARIOS, build_ratios, evaluate_goals,
                          settings_goal, summarise)
from .bench_report import write_reports

APP = Path(__file__).parent / "bench_app.wsgi"
# display-name: the daemons show as "(wsgi:bench)" in /proc/PID/cmdline, which is how the
# RSS sampler tells them from Apache's children.
DAEMON_OPTIONS = "processes=2 threads=16 display-name=%s" % wsgi_config.GROUP


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


if __name__ == "__main__":
    sys.exit(main())
