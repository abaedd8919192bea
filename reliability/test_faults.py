"""Daemon faults under load: kill -9 one daemon then all of a group's, a daemon deadlocked
with the GIL held, an app leaking past memory-limit.

Measured per fault: requests that hung (no answer within socket-timeout + 10 s: must be 0),
failed requests and their statuses, failures outside the gap (must be 0), and the time
until the group serves again."""

import threading
import time

import pytest

from gateway.httpd import rss_kb

from .harness import Load, kill9, proc_limit, wait_serving, request
from .sites import MEMORY_LIMIT

SOCKET_TIMEOUT = 10
HANG = SOCKET_TIMEOUT + 10      # a request without an answer after this long has hung
# What a request caught in a gap may get: 502/503 (issue 8) or 504 when socket-timeout expires
# ("fails within the socket timeout"); under behaviour profiles 3.4 and 5 a daemon dying before
# the headers is a 500, as mod_wsgi 4.x answers (conformance case DMN-013).
GAP_STATUSES = {502, 503, 504}


def gap_statuses(env):
    return GAP_STATUSES | ({500} if env.profile.name in ("3.4", "5") else set())
RECOVERY_BOUND = 15.0           # seconds until a killed group must serve again


def _first_ok_after(load, t, old_pids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok = [r for r in load.ok_since(t) if r.get("pid") and r["pid"] not in old_pids]
        if ok:
            return min(r["end"] for r in ok) - t
        time.sleep(0.02)
    return None


def test_kill9_daemons_under_load(env, servers, figures, bars):
    srv = servers(env, "rel-kill")
    first = srv.wait_daemons("flt", 2)
    assert len(first) == 2, "group flt should run 2 daemon processes, found %s" % first
    load = Load(srv.port, ["/flt/work?t=0.02"], threads=4, hang_after=HANG, expect_body=b"worked\n")
    with load:
        time.sleep(1.5)
        # one daemon of two
        t1 = time.monotonic()
        kill9([first[0]])
        rec_one = _first_ok_after(load, t1, set(first), RECOVERY_BOUND)
        time.sleep(1.0)
        # every daemon of the group
        second = srv.daemons("flt")
        t2 = time.monotonic()
        kill9(second)
        rec_all = _first_ok_after(load, t2, set(second) | set(first), RECOVERY_BOUND)
        time.sleep(1.5)
    gaps = [(t1, t1 + (rec_one if rec_one is not None else RECOVERY_BOUND)),
            (t2, t2 + (rec_all if rec_all is not None else RECOVERY_BOUND))]
    s = load.summary(gaps)
    figures.update(s)
    figures["replacement_serving_after_kill_one_s"] = rec_one and round(rec_one, 3)
    figures["group_serving_again_after_kill_all_s"] = rec_all and round(rec_all, 3)
    figures["daemons_after"] = len(srv.daemons("flt"))
    assert s["requests"] > 50, "the load generator barely ran: %s" % s
    bars.check("hung == 0", s["hung"] == 0, "%d hung" % s["hung"])
    bars.check("failures only during the gap", s["failed_outside_gap"] == 0,
               "%s outside" % s["failed_outside_gap_by_status"])
    bars.check("gap failures are 502/503/504 (500 under profile 3.4/5)",
               set(s["failed_by_status"]) <= {str(x) for x in gap_statuses(env)},
               "got %s (profile %s)" % (s["failed_by_status"], env.profile.name))
    bars.check("killed daemon replaced", rec_one is not None)
    bars.check("group serves again after kill of all", rec_all is not None)
    bars.check("2 daemons afterwards", figures["daemons_after"] == 2, str(figures["daemons_after"]))
    bars.enforce(env)


def test_deadlocked_daemon_holding_gil(env, servers, figures, bars):
    srv = servers(env, "rel-deadlock")
    first = srv.wait_daemons("dl", 1)
    assert first, "group dl has no daemon process"
    load = Load(srv.port, ["/dl/work?t=0.02"], threads=3, hang_after=HANG, expect_body=b"worked\n")
    gil_result = {}

    def deadlock():
        t = time.monotonic()
        try:
            st, _, _ = request(srv.port, "/dl/gil?t=25", timeout=HANG)
            gil_result["status"] = st
        except OSError as e:
            gil_result["status"] = "hung" if "timed out" in str(e) else "error:%s" % type(e).__name__
        gil_result["seconds"] = round(time.monotonic() - t, 3)

    with load:
        time.sleep(1.0)
        t0 = time.monotonic()
        th = threading.Thread(target=deadlock, daemon=True)
        th.start()
        rec = _first_ok_after(load, t0 + 0.2, set(first), 3 + RECOVERY_BOUND)
        time.sleep(1.0)
    th.join(HANG + 5)
    s = load.summary([(t0, t0 + (rec if rec is not None else 3 + RECOVERY_BOUND))])
    figures.update(s)
    figures["deadlock_timeout_s"] = 3
    figures["group_serving_again_s"] = rec and round(rec, 3)
    figures["deadlocked_request"] = gil_result
    assert s["requests"] > 20, "the load generator barely ran: %s" % s
    bars.check("hung == 0", s["hung"] == 0 and gil_result.get("status") != "hung",
               "%d hung, deadlocked request %s" % (s["hung"], gil_result))
    bars.check("deadlock detected and group serves again", rec is not None)
    bars.check("failures only during the gap", s["failed_outside_gap"] == 0,
               "%s outside" % s["failed_outside_gap_by_status"])
    bars.check("gap failures are 502/503/504 (500 under profile 3.4/5)",
               set(s["failed_by_status"]) <= {str(x) for x in gap_statuses(env)},
               "got %s (profile %s)" % (s["failed_by_status"], env.profile.name))
    bars.enforce(env)


def test_memory_leak_past_memory_limit(env, servers, figures, bars):
    srv = servers(env, "rel-memory")
    first = srv.wait_daemons("mem", 1)
    assert first, "group mem has no daemon process"
    applied = proc_limit(first[0], "Max data size")
    figures["memory_limit_configured"] = MEMORY_LIMIT
    figures["memory_limit_applied"] = applied
    if applied != MEMORY_LIMIT:
        figures["memory_limit"] = "not supported"
        pytest.skip("%s does not apply memory-limit (daemon's data limit: %s)" % (env.label, applied))
    figures["memory_limit"] = "supported"
    load = Load(srv.port, ["/mem/hello"], threads=1, hang_after=HANG, expect_body=b"hello\n")
    leak_statuses, peak_rss, t_fail = [], 0, None
    with load:
        time.sleep(0.5)
        for i in range(40):  # 40 x 16 MiB = 640 MiB, well past the 256 MiB limit
            try:
                st, _, _ = request(srv.port, "/mem/leak?mb=16", timeout=HANG)
            except OSError as e:
                st = "hung" if "timed out" in str(e) else "error:%s" % type(e).__name__
            leak_statuses.append(st)
            peak_rss = max([peak_rss] + [rss_kb(p) for p in srv.daemons("mem")])
            if st != 200:
                t_fail = t_fail or time.monotonic()
                if len([x for x in leak_statuses if x != 200]) >= 3:
                    break
        t_after = time.monotonic()
        rec = wait_serving(srv.port, "/mem/hello", RECOVERY_BOUND)
        time.sleep(0.5)
    gap_start = t_fail or t_after
    s = load.summary([(gap_start, t_after + (rec or RECOVERY_BOUND))])
    figures.update(s)
    figures["leak_requests_ok_before_failure"] = leak_statuses.index(next(
        (x for x in leak_statuses if x != 200), None)) if any(x != 200 for x in leak_statuses) else len(leak_statuses)
    figures["leak_failure_statuses"] = [str(x) for x in leak_statuses if x != 200]
    figures["daemon_peak_rss_mb"] = round(peak_rss / 1024.0, 1)
    figures["daemon_replaced"] = srv.daemons("mem") != first
    figures["hello_serves_after_s"] = rec and round(rec, 3)
    bars.check("leak stopped by the limit", any(x != 200 for x in leak_statuses),
               "statuses %s" % leak_statuses)
    bars.check("daemon RSS within limit", peak_rss * 1024 <= MEMORY_LIMIT * 1.1,
               "peak %.0f MiB" % (peak_rss / 1024.0))
    bars.check("hung == 0", s["hung"] == 0 and "hung" not in leak_statuses)
    bars.check("group serves normal requests afterwards", rec is not None)
    bars.check("normal requests fail only during the gap", s["failed_outside_gap"] == 0,
               "%s outside" % s["failed_outside_gap_by_status"])
    bars.enforce(env)
