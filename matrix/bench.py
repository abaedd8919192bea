"""python -m matrix bench: mod_gateway against the real mod_wsgi and Apache itself, one run.

For one Apache build, MPM and server Python, one server per target runs for the
whole benchmark (embedded mounts under /e, a daemon group under /d); wrk loads each
target in turn on loopback, scenarios and targets interleaved and repeated so that
noise hits all of them alike.  Writes reports/bench/bench.json, bench.md, bench.svg.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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
DAEMON_OPTIONS = "processes=2 threads=16"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m matrix bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--apxs", default="apxs")
    p.add_argument("--mpm", default="event")
    p.add_argument("--python", default="3.11", help="server Python (path or version)")
    p.add_argument("--targets", default="static,gateway,mod_wsgi,mod_wsgi-debian")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--modes", default="embedded,daemon")
    p.add_argument("--duration", type=float, default=2.0, help="seconds measured per run")
    p.add_argument("--warmup", type=float, default=1.0,
                   help="seconds of load discarded before the first run of each scenario/mode/target")
    p.add_argument("--repeat", type=int, default=3)
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


def run_wrk(url, connections, seconds, script=None):
    # wrk needs at least one connection per thread: -c1 runs on one thread.
    cmd = [wrk_binary(), "-t%d" % min(2, connections), "-c%d" % connections, "-d%ss" % max(1, int(round(seconds))),
           "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=seconds + 60).stdout
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
            modules = [target.load_line()]
            script = app_dir / "bench.wsgi"
            frags = wsgi_config.header(target.kind, profile_of(target), root / "run" / "wsgi", python_prefix)
            frags += [wsgi_config.daemon_process("bench", DAEMON_OPTIONS),
                      wsgi_config.script_alias("/e", script),
                      wsgi_config.script_alias("/d", script, process_group="bench")]
            for mount in ("/e", "/d"):
                frags += ["<Location %s>" % mount, "    " + wsgi_config.application_group(wsgi_config.GLOBAL),
                          "</Location>"]
            frags += wsgi_config.directory_grant(app_dir)
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


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    install = httpd.ApacheInstall.from_apxs(a.apxs)
    python = targets_mod.find_python(a.python)
    info = targets_mod.python_info(python)
    scenarios = [s for s in a.scenarios.split(",") if s]
    modes = [m for m in a.modes.split(",") if m]
    tmp = tempfile.mkdtemp(prefix="bench-")
    os.chmod(tmp, 0o755)
    targets = resolve_targets([t for t in a.targets.split(",") if t], python, install.apxs)
    servers = {}
    results = {}
    t_start = time.monotonic()
    try:
        for name, target in targets.items():
            bs = BenchServer(install, a.mpm, target, info["prefix"], Path(tmp) / name)
            bs.server.start()
            servers[name] = bs
        for rep in range(a.repeat):
            for scenario in scenarios:
                _, conns, body, _ = SCENARIOS[scenario]
                script = post_script(tmp, body) if body else None
                for mode in modes:
                    for name, bs in servers.items():
                        url = bs.url(mode, scenario)
                        if url is None or (name == "static" and mode == "daemon"):
                            continue
                        if rep == 0:   # warm-up, discarded; later rounds find the server warm
                            run_wrk(url, conns, a.warmup, script)
                        r = run_wrk(url, conns, a.duration, script)
                        results.setdefault((scenario, mode, name), []).append(r)
                        print("[%d/%d] %-16s %-8s %-16s %s" % (rep + 1, a.repeat, scenario, mode, name,
                              "%.0f req/s p99 %.2f ms" % (r["rps"], r["p99_ms"] or 0) if "rps" in r
                              else r["error"][:100]), flush=True)
    finally:
        for bs in servers.values():
            bs.server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report = build_report(a, install, info, targets, results, time.monotonic() - t_start)
    write_reports(report, Path(a.out))
    return 0


def summarise(runs):
    ok = [r for r in runs if "rps" in r]
    if not ok:
        return {"error": runs[-1].get("error") if runs else "no runs"}
    rps = [r["rps"] for r in ok]
    p99 = [r["p99_ms"] for r in ok if r["p99_ms"] is not None]
    return {"rps": {"min": min(rps), "median": statistics.median(rps), "max": max(rps)},
            "p99_ms": {"min": min(p99), "median": statistics.median(p99), "max": max(p99)} if p99 else None,
            "non2xx": sum(r["non2xx"] for r in ok), "socket_errors": sum(r["socket_errors"] for r in ok),
            "runs": len(ok)}


def build_report(a, install, info, targets, results, wall):
    rows = []
    for (scenario, mode, name), runs in sorted(results.items()):
        s = summarise(runs)
        rows.append(dict(scenario=scenario, mode=mode, target=name, **s))
    ratios = []
    for scenario in SCENARIOS:
        for mode in ("embedded", "daemon"):
            by = {r["target"]: r for r in rows if r["scenario"] == scenario and r["mode"] == mode and "rps" in r}
            static = next((r for r in rows if r["scenario"] == scenario and r["target"] == "static"
                           and "rps" in r), None)
            gw = by.get("gateway")
            real = [by[t] for t in ("mod_wsgi", "mod_wsgi-debian") if t in by]
            if not gw:
                continue
            best = max(real, key=lambda r: r["rps"]["median"]) if real else None
            ratios.append({"scenario": scenario, "mode": mode,
                           "gateway_rps": gw["rps"]["median"],
                           "best_real": best["target"] if best else None,
                           "vs_best_real": round(gw["rps"]["median"] / best["rps"]["median"], 3) if best else None,
                           "p99_vs_best_real": round(gw["p99_ms"]["median"] / best["p99_ms"]["median"], 3)
                           if best and gw.get("p99_ms") and best.get("p99_ms") else None,
                           "vs_static": round(gw["rps"]["median"] / static["rps"]["median"], 3) if static else None})
    return {"schema": "mod_gateway.bench/1", "wall_s": round(wall, 1),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "cpu": _cpu_model()},
            "apache": {"version": install.version_string, "mpm": a.mpm, "apxs": install.apxs},
            "server_python": info["version"], "daemon_options": DAEMON_OPTIONS,
            "settings": {"duration_s": a.duration, "warmup_s": a.warmup, "repeat": a.repeat},
            # profile: the behaviour profile each module runs under (mod_gateway's WSGICompatibility)
            "targets": {n: (dict(t.as_dict(), profile=profile_of(t)) if t else {"kind": "static"})
                        for n, t in targets.items()},
            "results": rows, "ratios": ratios}


def _cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_reports(report, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=1))
    lines = ["# Benchmark: Apache %s %s, Python %s (%s, %d cores)" % (
        report["apache"]["version"], report["apache"]["mpm"], report["server_python"],
        report["machine"]["cpu"], report["machine"]["cpus"]), "",
        "wrk -t2 (-t1 at one connection), %ss per run after %ss warm-up, medians of %d interleaved runs; daemon: %s." % (
        report["settings"]["duration_s"], report["settings"]["warmup_s"], report["settings"]["repeat"],
        report["daemon_options"]), "",
        "| scenario | mode | target | req/s median (min-max) | p99 ms median |", "|---|---|---|---|---|"]
    for r in report["results"]:
        if "rps" in r:
            lines.append("| %s | %s | %s | %.0f (%.0f-%.0f) | %s |" % (
                r["scenario"], r["mode"], r["target"], r["rps"]["median"], r["rps"]["min"], r["rps"]["max"],
                "%.2f" % r["p99_ms"]["median"] if r.get("p99_ms") else "-"))
        else:
            lines.append("| %s | %s | %s | error: %s | |" % (r["scenario"], r["mode"], r["target"],
                                                           (r.get("error") or "")[:60]))
    if report["ratios"]:
        lines += ["", "## Ratios (mod_gateway median req/s over ...)", "",
                  "| scenario | mode | / best real mod_wsgi | best real | / Apache static | p99 / best real |",
                  "|---|---|---|---|---|---|"]
        for q in report["ratios"]:
            lines.append("| %s | %s | %s | %s | %s | %s |" % (q["scenario"], q["mode"], q["vs_best_real"],
                                                          q["best_real"], q["vs_static"], q["p99_vs_best_real"]))
    (out / "bench.md").write_text("\n".join(lines) + "\n")
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
        axes[0].bar(xs, [by[l]["rps"]["median"] if l in by else 0 for l in labels], width, label=t)
        axes[1].bar(xs, [by[l]["p99_ms"]["median"] if l in by and by[l].get("p99_ms") else 0 for l in labels],
                    width, label=t)
    for ax, title in zip(axes, ("requests/s (median)", "p99 latency ms (median)")):
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))])
        ax.set_xticklabels(["%s\n%s" % l for l in labels], fontsize=7)
        ax.set_title(title)
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))


if __name__ == "__main__":
    sys.exit(main())
