"""ENV, wsgi.input: its methods and argument checks, bodies intact however they are read and
however slowly they arrive, and what it does once its request is over or its client went
away (expired, failed reads, freed buffers)."""

import hashlib
import json
import time

import pytest

from conformance.catalogue import case
from conformance.cases.test_env import OUTCOME
from conformance.client import fetch_json, http, raw


@case("ENV-024", "wsgi.input supports readline(size), readlines, read; reads past the end give b''")
def test_input_methods(server, mode):
    body = b"line one\nabcdef\nthree\nfour"
    got = fetch_json(server, "/probe/input", method="POST", data=body)
    assert got["first_line"] == "line one\n"
    assert got["limited"] == "abc"
    assert got["rest_lines"] == ["def\n", "three\n", "four"]
    assert got["after"] == "" and got["again"] == ""
    assert got["has_iter"] is True


@case("ENV-025", "request bodies of 0 B to 1 MiB arrive intact")
def test_body_integrity(server, mode):
    for size in (0, 1, 11, 1024, 8192, 65536, 1 << 20):
        body = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
        body = body[:size]
        resp = http(server, "/probe/echo", method="POST", data=body)
        assert resp.status_code == 200, "size %d: status %d" % (size, resp.status_code)
        assert resp.content == body, "size %d: body differs (%d bytes back)" % (size, len(resp.content))


@case("ENV-051", "wsgi.input mixing readline(), read(n) above and below what is buffered, readline(size) "
                 "and read() hands the app the body exactly, in order (256 KiB)")
def test_input_mixed_reads(server, mode):
    import random
    rnd = random.Random(51)
    body = b"first line\n" + bytes(bytearray(rnd.randrange(256) for _ in range(256 * 1024 - 11)))
    resp = http(server, "/probe/input-mixed", method="POST", data=body)
    sizes = [int(x) for x in resp.headers.get("X-Parts", "").split(",")] if resp.headers.get("X-Parts") else []
    assert resp.status_code == 200 and sizes[:3] == [11, 100000, 7], (resp.status_code, sizes)
    assert hashlib.sha256(resp.content).hexdigest() == hashlib.sha256(body).hexdigest(), (
        "the body came back changed (%d bytes, parts %s)" % (len(resp.content), sizes))


@case("ENV-038", "wsgi.input refuses arguments of the wrong type with TypeError (read(None) too, as every "
                 "release does) and consumes nothing; read(-1) reads the whole body; readline(0) gives b''")
def test_input_argument_types(server, mode):
    got = fetch_json(server, "/probe/input-args", method="POST", data=b"abc\ndef\n")
    refused = ("read('x')", "read(1, 2)", "readline('x')", "readlines('x')", "read(None)")
    assert dict((k, got[k]) for k in refused) == dict((k, "TypeError") for k in refused), got
    assert got["read(-1)"] in ("returned 'abc\\ndef\\n'", "returned u'abc\\ndef\\n'"), got
    zero = fetch_json(server, "/probe/readline-sized?size=0", method="POST", data=b"abc\ndef\n")
    assert zero == {"first": "", "rest": "abc\ndef\n"}, "readline(0) must give b'' and consume nothing: %s" % zero


@case("ENV-039", "iterating an exhausted wsgi.input ends with StopIteration and keeps no references "
                 "(1000 times)")
def test_input_iteration_keeps_nothing(server, mode):
    got = fetch_json(server, "/probe/input-iter-refs?n=1000", method="POST", data=b"abc\ndef\n")
    assert got == {"body": 8, "refs_delta": 0}, got


@case("ENV-041", "wsgi.input.readline(size) on a body that arrives in pieces waits for size bytes (or a "
                 "newline) instead of returning what happens to be buffered, and stops at a newline "
                 "before size")
def test_readline_size_slow_body(server, mode):
    head = (b"POST /probe/readline-sized?size=5 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Length: 8\r\n\r\n")
    # size bytes when the line is longer; the line alone (newline included) when shorter
    for parts, want in (([head + b"ab", b"cdef\ng"], {"first": "abcde", "rest": "f\ng"}),
                        ([head + b"a", b"b\ncdefg"], {"first": "ab\n", "rest": "cdefg"})):
        data = raw(server, parts)
        body = data.partition(b"\r\n\r\n")[2]
        assert data.startswith(b"HTTP/1.1 200 "), data[:300]
        assert json.loads(body.decode("utf-8")) == want, body


LIFE_APP = "/dir/input_life.wsgi"
KEPT_CALLS = ("read()", "read(5)", "readline()", "readline(5)", "readlines()", "iter()", "next()",
              "close()")


@case("ENV-042", "wsgi.input kept past its request refuses every use in a later request (read, "
                 "readline, readlines, iteration, close) with RuntimeError and the profile's message",
      expects={"messages": dict((k, str) for k in KEPT_CALLS)})
def test_input_expired(server, mode, expect):
    kept = fetch_json(server, LIFE_APP + "/keep", method="POST", data=b"abcd\nefgh\nijkl\n")
    assert kept["first"] == "abcd", kept
    late = fetch_json(server, LIFE_APP + "/late")
    assert late["pid"] == kept["pid"] and late["kept"], "the second request ran elsewhere: %s %s" % (kept, late)
    want = dict((k, {"raised": "RuntimeError", "message": m}) for k, m in expect["messages"].items())
    assert late["calls"] == want, late["calls"]


ABORTS = 30
# What each request declares: above glibc's largest mmap threshold (32 MiB), so read(n)'s
# buffer is its own mapping, returned on free.  At 4 MiB every malloc arena keeps a freed
# buffer (observed: VmData +55 MB in embedded mode over 30 reads, with no leak).
ABORT_DECLARED = 40 << 20
ABORT_SENT = 64 << 10       # what it sends before going away


def one_process_only(mode, env):
    """These cases count what one process saw across requests; prefork in embedded mode
    hands each request to any of its single-threaded children, so the count is not one
    process's (the real releases 'fail' there exactly as mod_gateway does)."""
    if mode == "embedded" and env.mpm == "prefork":
        pytest.skip("needs the requests in one process: prefork spreads them over its children")


def _aborted_post(server, action="abort", declared=ABORT_DECLARED, sent=ABORT_SENT, pause=0.3):
    """POST that declares `declared` bytes, sends `sent`, and after `pause` seconds stops
    sending (the client went away mid-body); waits for the server to be done with it."""
    import socket
    s = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    try:
        s.sendall(b"POST " + LIFE_APP.encode("ascii") + b"/" + action.encode("ascii") +
                  b" HTTP/1.1\r\nHost: localhost\r\n"
                  b"Connection: close\r\nContent-Length: %d\r\n\r\n" % declared)
        s.sendall(b"x" * sent)
        if pause:
            time.sleep(pause)   # the app is inside read(n) when the client goes
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except (socket.timeout, OSError):
        pass
    finally:
        s.close()


# What the releases log as the client goes away (observed): the daemon-mode proxy's read
# error (4.9.4, 5.0.2, 6.1.1), 3.4's bucket brigade error and its failed response write.
ABORT_LOG = (r"Request data read error when proxying data to daemon process",
             r"Unable to get bucket brigade for request",
             r"IOError: failed to write data",
             r"Exception occurred processing WSGI script '\S+/input_life\.wsgi'")


@case("ENV-043", "wsgi.input.read(n) that fails because the client went away mid-body frees its buffer: "
                 "30 such reads of a declared 40 MiB leave the process's memory flat",
      expect_log=ABORT_LOG)
def test_failed_read_frees_buffer(server, mode, metrics, env):
    one_process_only(mode, env)
    def settled(at_least):
        """The app's figures once its count of aborted reads stops moving (in daemon mode the
        client's connection ends before the daemon is done with the request)."""
        deadline, last = time.monotonic() + 30, None
        while True:
            got = fetch_json(server, LIFE_APP + "/memory")
            if last is not None and got["reads"] == last["reads"] and got["reads"] >= at_least:
                return got
            if time.monotonic() > deadline:
                return got
            last = got
            time.sleep(1.0)

    # No pause: the body and the client's end arrive together, so Apache's first read of the
    # body may already report it cut short; the request still reaches the app, in daemon mode
    # too (the releases send the environ to the daemon before reading the body).
    for _ in range(3):          # warm up: arenas and the first loads are not a leak
        _aborted_post(server, pause=0)
    before = settled(3)
    for _ in range(ABORTS):
        _aborted_post(server, pause=0)
    after = settled(before["reads"] + ABORTS)
    metrics(aborts=ABORTS, before=before, after=after)
    assert after["pid"] == before["pid"], "requests went to several processes: %s %s" % (before, after)
    # Each one reaches the app, in both modes (observed: 30 of 30 on every release).
    assert after["reads"] - before["reads"] == ABORTS, "%d of %d aborted requests reached the app: %s %s" % (
        after["reads"] - before["reads"], ABORTS, before, after)
    assert after["returned"] == [] and after["raised"], "the reads did not fail: %s" % after
    # A leaked buffer per failed read would be 40 MiB of address space each (400 MiB for 10).
    grown = after["VmData"] - before["VmData"]
    assert grown < 64 * 1024, "VmData grew %d kB over %d failed reads of %d bytes" % (
        grown, after["reads"] - before["reads"], ABORT_DECLARED)


LATE_ARGS = ("read('x')", "read(1, 2)", "read(None)", "readline('x')", "readlines('x')", "close(1)")


@case("ENV-044", "wsgi.input kept past its request checks that before its arguments: a wrong-typed "
                 "argument gets the expiry RuntimeError with the profile's message, not TypeError "
                 "(close(1) too under 3.4, whose close() takes arguments; a TypeError elsewhere)",
      expects={"messages": dict((k, (str, type(None))) for k in LATE_ARGS)})
def test_input_expired_before_arguments(server, mode, expect):
    kept = fetch_json(server, LIFE_APP + "/keep", method="POST", data=b"abcd\nefgh\n")
    late = fetch_json(server, LIFE_APP + "/late-args")
    assert late["pid"] == kept["pid"] and late["kept"], "the second request ran elsewhere: %s %s" % (kept, late)
    # null: a TypeError (its wording is Python's own, not compared)
    got = dict((k, v if v.get("raised") != "TypeError" else {"raised": "TypeError"})
               for k, v in late["calls"].items())
    want = dict((k, {"raised": "RuntimeError", "message": m} if m is not None else {"raised": "TypeError"})
                for k, m in expect["messages"].items())
    assert got == want, late["calls"]


AGAIN_CALLS = ("read(5)", "read()", "read(0)", "readline()", "readlines()", "next()", "read(5) again")


@case("ENV-045", "after a wsgi.input read failed (the client went away mid-body) every later read on "
                 "that input in the same request, read(0) too, fails as the profile's release does: "
                 "IOError \"input is already in error state\" (4.9.4, 5.0.2, 6.1.1 each in its wording)",
      expects={"again": dict((k, OUTCOME) for k in AGAIN_CALLS)},
      expect_log=ABORT_LOG)
def test_input_reads_after_failure(server, mode, env, expect):
    one_process_only(mode, env)
    got = None
    for _ in range(3):   # in daemon mode a request whose client is gone may never reach the daemon
        _aborted_post(server, "abort-retry", declared=1 << 20, sent=16 << 10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            got = fetch_json(server, LIFE_APP + "/retried")
            if got["seen"]:
                break
            time.sleep(0.3)
        if got["seen"]:
            break
    assert got and got["seen"], "the aborted request never reached the app"

    def same(outcome):   # IOError is OSError on Python 3: one class, two names; b'' is ''
        if outcome.get("raised") == "OSError":
            outcome = dict(outcome, raised="IOError")
        if outcome.get("returned", "").startswith("b'"):
            outcome = dict(outcome, returned=outcome["returned"][1:])
        return outcome

    assert same(got["first"]) == {"raised": "IOError"}, got
    again = dict((k, same(v)) for k, v in got["again"])
    assert again == expect["again"], "first failure: %r; then: %s" % (got["first_message"], got["again"])
