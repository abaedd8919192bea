"""QUE: the timing keys (mod_wsgi.request_start, queue_start, daemon_start, script/application_start):
presence by mode, type, unit and order per profile, and that queue time measures queueing."""

import concurrent.futures
import re
import time

from conformance.catalogue import case
from conformance.client import environ, fetch_json
from conformance.cases.test_err import DAEMON_PATH, Mark, check_error_path


def timing(env):
    return env.profile.data["timing"]


def seconds(entry, fmt):
    """A timing key's value in seconds since the epoch, checking its format on the way."""
    if fmt == "str_us":
        assert entry["type"] == "str", "timing key is %s, expected str of microseconds" % entry["type"]
        assert re.match(r"^\d{16,17}$", entry["value"]), "not integer microseconds: %r" % entry["value"]
        return int(entry["value"]) / 1e6
    assert entry["type"] == "float", "timing key is %s, expected float seconds" % entry["type"]
    return entry["value"]


def zero_keys(t, mode):
    """The mode's timing keys the profile says are always 0.0 (not instants)."""
    return [k for k in t["keys"][mode] if k in t.get("zero", {}).get(mode, [])]


def instants(t, mode, e):
    """(key, seconds since the epoch) of the mode's other timing keys, in the profile's order,
    each checked for the profile's format as it is read."""
    for k in t["keys"][mode]:
        if k not in zero_keys(t, mode):
            yield k, seconds(e["mod_wsgi." + k], t["format"])


@case("QUE-001", "the timing keys present in each mode are the profile's")
def test_presence(server, mode, env):
    t = timing(env)
    e, _ = environ(server)
    present = [k for k in t["keys"][mode] if "mod_wsgi." + k not in e]
    absent = [k for k in t["absent"][mode] if "mod_wsgi." + k in e]
    assert not present and not absent, "missing %s, unexpected %s" % (present, absent)


@case("QUE-002", "timing keys have the profile's type: str of integer µs (3.4, 5) or float seconds (6)")
def test_type(server, mode, env):
    t = timing(env)
    e, _ = environ(server)
    for k in zero_keys(t, mode):
        assert e["mod_wsgi." + k] == {"type": "float", "value": 0.0}
    list(instants(t, mode, e))


@case("QUE-003", "timing keys are wall-clock instants of this request (within 5 s of the app's clock)")
def test_unit(server, mode, env):
    t = timing(env)
    e, app_time = environ(server)
    for k, v in instants(t, mode, e):
        assert 0 <= app_time - v < 5, "%s = %r is %.3fs from the app's clock" % (k, v, app_time - v)


@case("QUE-004", "timing keys are ordered request_start <= queue_start <= daemon_start <= app start <= now")
def test_order(server, mode, env):
    t = timing(env)
    e, app_time = environ(server)
    values = []
    for k in t["order"]:
        if k in t["keys"][mode] and k not in zero_keys(t, mode):
            values.append((k, seconds(e["mod_wsgi." + k], t["format"])))
    values.append(("app", app_time))
    for (k1, v1), (k2, v2) in zip(values, values[1:]):
        assert v1 <= v2 + 1e-6, "%s (%.6f) after %s (%.6f)" % (k1, v1, k2, v2)


def hold_thread(server, pool, seconds, get=fetch_json):
    """Start a request that sleeps `seconds` in the app; return (future, time it entered the
    app) once it is there, so a request sent next is certain to queue behind it."""
    marker = server.root / "run" / ("started-%d" % time.monotonic_ns())
    future = pool.submit(get, server, "/probe/sleep?s=%s&started=%s" % (seconds, marker))
    deadline = time.monotonic() + 20
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the held request never reached the app"
        assert not future.done(), "the held request ended before reaching the app: %r" % future.result()
        time.sleep(0.02)
    return future, float(marker.read_text())


@case("QUE-005", "queue time measures queueing: behind a held request the wait shows in app_time - queue key",
      site="queue", modes=("daemon",))
def test_queue_measures_wait(server, mode, env):
    t = timing(env)
    key = "mod_wsgi." + t["queue_key"]["daemon"]
    hold = 1.5
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, entered = hold_thread(server, pool, hold)
        sent = time.time()
        second = pool.submit(fetch_json, server, "/probe/sleep?s=0")
        first.result(timeout=30)
        r = second.result(timeout=30)
    waited = r["app_time"] - seconds(r["environ"][key], t["format"])
    queued = entered + hold - sent       # the held thread was busy this long after we sent
    assert waited >= queued - 0.15, "%s says %.3fs of queueing, expected at least %.3fs" % (
        key, waited, queued)


@case("QUE-006", "X-Request-Start / X-Queue-Start request headers do not change the timing keys")
def test_headers_ignored(server, mode, env):
    t = timing(env)
    e, app_time = environ(server, headers={"X-Request-Start": "t=1000000000000000",
                                           "X-Queue-Start": "t=1000000000000000"})
    for k, v in instants(t, mode, e):
        assert abs(app_time - v) < 5, "%s = %r is %.3fs from the app's clock" % (k, v, app_time - v)


@case("QUE-007", "without queueing the queue key is close to the app's start (under 1 s)",
      site="queue", modes=("daemon",))
def test_no_queue_small(server, mode, env):
    t = timing(env)
    key = "mod_wsgi." + t["queue_key"]["daemon"]
    r = fetch_json(server, "/probe/sleep?s=0")
    waited = r["app_time"] - seconds(r["environ"][key], t["format"])
    assert 0 <= waited < 1.0, "%s is %.3fs before the app started" % (key, waited)


@case("QUE-008", "queue-timeout=1: a request still queued after 1 s behind a held one gets 504 and the "
      "profile's log line", site="queue-timeout", modes=("daemon",), profiles=("5", "6"),
      expects=DAEMON_PATH)
def test_queue_timeout(server, mode, expect):
    from conformance.client import http
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, _ = hold_thread(server, pool, 2.5, get=lambda srv, path: http(srv, path, timeout=30))
        mark = Mark(server)
        second = pool.submit(http, server, "/probe/sleep?s=0", timeout=30)
        held, queued = first.result(timeout=30), second.result(timeout=30)
    assert held.status_code == 200
    check_error_path(server, mark, expect["daemon"], "GET", "/probe/sleep?s=0", queued.status_code)
    # The group still serves afterwards.
    assert http(server, "/probe/sleep?s=0", timeout=30).status_code == 200
