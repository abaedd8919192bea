"""Restarts under load: `graceful` five times during a steady load (0 failed requests, no
daemon or socket file left after stop), and `stop` during load (Apache exits within
shutdown-timeout and leaves nothing running)."""

import signal
import time

from .harness import Load, alive

SHUTDOWN_TIMEOUT = 3        # the rel-restart group's shutdown-timeout
STOP_MARGIN = 5.0           # Apache's own child reaping on top of it
PATHS = ["/emb/work?t=0.01", "/dmn/work?t=0.01"]


def _leftovers(srv, pids_seen):
    return sorted(p for p in pids_seen if alive(p))


def test_graceful_x5_under_load(env, servers, figures, bars):
    srv = servers(env, "rel-restart")
    assert len(srv.wait_daemons("rs", 2)) == 2, "group rs should run 2 daemons"
    seen = set(srv.pids())
    generations = [srv.daemons("rs")]
    load = Load(srv.port, PATHS, threads=4, hang_after=20, expect_body=b"worked\n")
    with load:
        time.sleep(1.0)
        for i in range(5):
            srv.graceful()
            time.sleep(0.3)
            # wait for the new generation of daemons, then keep the load on it a little
            ds = srv.wait_daemons("rs", 2, timeout=15, exclude=generations[-1])
            generations.append(ds)
            seen |= set(srv.pids())
            time.sleep(1.2)
    s = load.summary()
    figures.update(s)
    figures["gracefuls"] = 5
    figures["daemon_generations_seen"] = len(generations)
    figures["daemons_replaced_each_graceful"] = all(len(g) == 2 for g in generations)
    sockets_running = srv.socket_files()
    seen |= set(srv.pids())
    srv.stop()
    left = _leftovers(srv, seen)
    sockets_after = srv.socket_files()
    figures["processes_left_after_stop"] = len(left)
    figures["socket_files_while_running"] = len(sockets_running)
    figures["socket_files_left_after_stop"] = len(sockets_after)
    assert s["requests"] > 100, "the load generator barely ran: %s" % s
    bars.check("failed == 0 during 5 gracefuls", s["failed"] == 0, "%s" % s["failed_by_status"])
    bars.check("hung == 0", s["hung"] == 0)
    bars.check("no process left after stop", not left, str(left))
    bars.check("no socket file left after stop", not sockets_after, str(sockets_after))
    bars.enforce(env)


def test_stop_under_load(env, servers, figures, bars):
    srv = servers(env, "rel-restart")
    assert len(srv.wait_daemons("rs", 2)) == 2, "group rs should run 2 daemons"
    seen = set(srv.pids())
    proc = srv.proc
    load = Load(srv.port, PATHS + ["/dmn/work?t=0.5", "/emb/work?t=0.5"], threads=6, hang_after=20)
    with load:
        time.sleep(1.5)
        seen |= set(srv.pids())
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        exited = None
        try:
            proc.wait(SHUTDOWN_TIMEOUT + STOP_MARGIN + 10)
            exited = time.monotonic() - t0
        except Exception:
            pass
        # every process of the server gone?
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _leftovers(srv, seen):
            time.sleep(0.05)
        all_gone = time.monotonic() - t0
        left = _leftovers(srv, seen)
        load.stop()  # what the load saw after the server went is no figure of the server
    s = load.summary()
    sockets_after = srv.socket_files()
    srv.stop()  # reaps by PID whatever is left (and records it)
    figures.update(s)
    figures["parent_exit_s"] = exited and round(exited, 3)
    figures["all_processes_gone_s"] = round(all_gone, 3) if not left else None
    figures["processes_left"] = len(left)
    figures["socket_files_left"] = len(sockets_after)
    figures["bound_s"] = SHUTDOWN_TIMEOUT + STOP_MARGIN
    bars.check("hung == 0", s["hung"] == 0)
    bars.check("Apache exits within shutdown-timeout + margin",
               exited is not None and exited <= SHUTDOWN_TIMEOUT + STOP_MARGIN, "exit after %s s" % exited)
    bars.check("nothing left running", not left, str(left))
    bars.check("no socket file left", not sockets_after, str(sockets_after))
    bars.enforce(env)
