"""Soak: 200k requests mixing the suite's apps (embedded and daemon mounts), in segments of
10k; RSS of every child and daemon sampled after each segment; growth reported per 10k
requests after warm-up (goal: flat), for mod_gateway and the real mod_wsgi.

Sizes per process kind: the sum over its processes (RSS, and PSS, which divides each shared
page among the processes sharing it) and the largest one process; the start figures are read
once the processes' RSS has settled (a daemon just forked may still be starting Python).
The event MPM may run one child or two, so the per-process figure is the one to compare
between targets (issue 14: no process larger than the real module's)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway import httpd

from . import harness

LUA = Path(__file__).parent / "soak.lua"
SEGMENT = 10000
WARMUP_REQUESTS = 30000      # growth is measured on the samples after this many requests
TIME_BUDGET_S = 150          # per target; the figures say how many requests fitted
# Growth allowed after warm-up, per 10k requests, summed over the processes of a kind.
# 6.1.1 measured here: well under 100 kB per 10k for both kinds; this bar leaves room for noise
# (allocator arenas, interned strings) while catching a leak of ~50 bytes per request.
MAX_GROWTH_KB_PER_10K = 512


def _slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def _growth(samples, kind):
    """Sum over processes alive in every post-warm-up sample of their RSS slope (kB per 10k)."""
    post = [s for s in samples if s["requests"] >= WARMUP_REQUESTS]
    if len(post) < 2:
        return None, 0
    pids = set(post[0][kind])
    for s in post[1:]:
        pids &= set(s[kind])
    total = 0.0
    for pid in pids:
        xs = [s["requests"] / 10000.0 for s in post]
        ys = [s[kind][pid] for s in post]
        total += _slope(xs, ys)
    return round(total, 1), len(pids)


@pytest.mark.targets("gateway", "mod_wsgi")
def test_soak_200k_mixed(env, servers, figures, bars, request):
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed (ci/provision installs it)")
    total_wanted = request.config.option.rel_soak_requests
    srv = servers(env, "rel-soak")
    assert len(srv.wait_daemons("soak", 2)) == 2, "group soak should run 2 daemons"
    samples, done, bad, errors, p99 = [], 0, 0, 0, []

    def sample():
        samples.append({"requests": done,
                        "children": dict((p, httpd.rss_kb(p)) for p in srv.children()),
                        "daemons": dict((p, httpd.rss_kb(p)) for p in srv.daemons("soak"))})

    def pss_mb(kind):
        return round(sum(harness.pss_kb(p) for p in samples[-1][kind]) / 1024.0, 1)
    harness.settle_rss(lambda: srv.children() + srv.daemons("soak"))
    sample()
    pss_start = dict((kind, pss_mb(kind)) for kind in ("children", "daemons"))
    import time
    t_start, rate, segments = time.monotonic(), None, 0
    while done < total_wanted and time.monotonic() - t_start < TIME_BUDGET_S:
        # about SEGMENT requests per segment, from the rate measured so far
        dur = 2 if rate is None else int(min(10, max(1, round(min(SEGMENT, total_wanted - done) / rate))))
        out = subprocess.run(["wrk", "-t1", "-c8", "-d%ds" % dur, "--timeout", "10s", "-s", str(LUA),
                              srv.url + "/"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                             timeout=dur + 60)
        line = [l for l in out.stdout.splitlines() if l.startswith("{")]
        assert line, "wrk printed no summary: %s" % out.stdout[-1000:]
        seg = json.loads(line[-1])
        done += seg["requests"]
        bad += seg["non_2xx"]
        errors += seg["connect"] + seg["read"] + seg["write"] + seg["timeout"]
        p99.append(seg["p99_us"])
        rate = max(50.0, seg["requests"] / (seg["duration_us"] / 1e6))
        segments += 1
        sample()
    elapsed = time.monotonic() - t_start
    kinds = {}
    for kind in ("children", "daemons"):
        growth, n = _growth(samples, kind)
        post = [s for s in samples if s["requests"] >= WARMUP_REQUESTS]
        first = sum(post[0][kind].values()) if post else 0
        last = sum(samples[-1][kind].values())
        kinds[kind] = {"growth_kb_per_10k_after_warmup": growth, "processes_tracked": n,
                       "rss_mb_after_warmup": round(first / 1024.0, 1), "rss_mb_end": round(last / 1024.0, 1),
                       "rss_mb_start": round(sum(samples[0][kind].values()) / 1024.0, 1),
                       "pss_mb_start": pss_start[kind], "pss_mb_end": pss_mb(kind),
                       "largest_process_rss_mb": round(max(max(s[kind].values() or [0]) for s in samples) / 1024.0, 1),
                       "processes_end": len(samples[-1][kind])}
    figures.update({"requests": done, "non_200": bad, "socket_errors": errors, "seconds": round(elapsed, 1),
                    "requests_per_s": round(done / elapsed) if elapsed else None,
                    "max_segment_p99_ms": round(max(p99) / 1000.0, 1) if p99 else None,
                    "segments": segments, "warmup_requests": WARMUP_REQUESTS,
                    "children": kinds["children"], "daemons": kinds["daemons"],
                    "rss_series_mb": [{"requests": s["requests"],
                                       "children": round(sum(s["children"].values()) / 1024.0, 1),
                                       "daemons": round(sum(s["daemons"].values()) / 1024.0, 1)}
                                      for s in samples]})
    assert done >= total_wanted * 0.95, "only %d of %d requests were made" % (done, total_wanted)
    bars.check("0 failed requests", bad == 0 and errors == 0, "%d non-200, %d socket errors" % (bad, errors))
    for kind in ("children", "daemons"):
        g = kinds[kind]["growth_kb_per_10k_after_warmup"]
        bars.check("%s RSS flat after warm-up" % kind, g is not None and g <= MAX_GROWTH_KB_PER_10K,
                   "%s kB per 10k requests" % g)
    bars.enforce(env)
