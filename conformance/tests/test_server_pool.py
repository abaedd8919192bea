"""The server pool for real (mod_gateway, the server Python 3.11, Apache 2.4.12's worker MPM as
`matrix build-httpd 2.4.12` leaves it): moving on to the next site does not wait for the old
server's stop, which takes Apache 2.4.12's worker children 5 s; close() waits for it, and
what the stop logged is reported."""

import os
import time

import pytest

from conformance import targets
from conformance.server_pool import ServerPool
from conformance.session import Env, resolve_setup
from gateway import host, httpd


def _glibc():
    name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    return tuple(int(x) for x in version.split(".")) if name == "glibc" else ()


@pytest.fixture(scope="module")
def env():
    if _glibc() < (2, 34):
        pytest.skip("the 5 s stop of 2.4.12's worker children shows on glibc 2.34+ only")
    apxs = host.cache_root() / "httpd" / "2.4.12" / "bin" / "apxs"
    if not apxs.exists():
        pytest.skip("needs Apache 2.4.12 (python -m matrix build-httpd 2.4.12)")
    try:
        setup = resolve_setup("gateway", host.find_python("3.11"), str(apxs))
    except (targets.TargetError, host.HostError, httpd.HttpdError) as e:
        pytest.skip(str(e))
    return Env.from_setup(setup, "worker", "embedded")


def test_the_next_site_starts_while_the_old_server_stops(env):
    pool = ServerPool(env)
    try:
        first = pool.get("basic", "embedded")
        parent = first.proc.pid
        t0 = time.monotonic()
        second = pool.get("groups", "embedded")
        took = time.monotonic() - t0
        assert second.running and httpd.session_pids(parent), "the old server was not stopping any more"
        assert took < 3, "the next start waited %.1f s" % took
    finally:
        pool.close()
    assert not httpd.session_pids(parent) and not second.pids()
    assert pool.stops == 2 and pool.stop_s >= 5
    # what the journal's timings get: the stops ran beside the next start, close() waited for the rest
    t = pool.timings()
    assert t["server_starts"] == 2 and t["server_stops"] == 2 and t["server_stop_s"] >= 5
    assert 0 < t["server_stop_wait_s"] < t["server_stop_s"]
    assert [p["site"] for p in pool.stop_problems] == ["basic", "groups"]
    assert all("AH00045" in p["log"][0] for p in pool.stop_problems)
