# Apps that misbehave on purpose; the action is the first PATH_INFO segment.
import gc
import json
import os
import sys
import time

PY3 = sys.version_info[0] >= 3
closed = {"n": 0}


class Closing(object):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def close(self):
        closed["n"] += 1


# Response header items that are not a pair of native strings, by action.
BAD_HEADERS = {"int-header-name": (7, "1"), "int-header-value": ("X-Number", 5), "list-header": ["X-Listed", "1"],
               "three-tuple-header": ("X-Three", "1", "2"), "empty-name-header": ("", "1")}


CTL_BODY = b"app body after a refused header\n" * 32


class Counted(object):
    """`n` items yielded 5 ms apart; close() writes {"taken": items handed out} to `out`."""
    def __init__(self, out, item, n):
        self.out, self.item, self.n, self.taken = out, item, n, 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.taken >= self.n:
            raise StopIteration
        if self.taken:
            time.sleep(0.005)
        self.taken += 1
        return self.item
    next = __next__

    def close(self):
        with open(self.out + ".tmp", "w") as f:
            f.write(json.dumps({"taken": self.taken}))
        os.rename(self.out + ".tmp", self.out)


def after_body():
    yield b"first chunk of a body that will not finish\n"
    raise RuntimeError("probe failure after the body started")


def chained_by_cause():
    # `raise X from Y` without the Python 3 syntax, so this file still compiles on 2.7.
    outer = RuntimeError("probe outer failure raised from the inner one")
    outer.__cause__ = KeyError("probe inner cause")
    raise outer


def chained_by_context():
    try:
        {}["probe-missing-key"]
    except KeyError:
        raise RuntimeError("probe failure while handling the KeyError")


LEAK = ("X-Probe-Leak", "set-before-the-error")


def raise_before_first_item():
    raise ValueError("probe failure before the first body item")
    yield b"never"


def raise_after_empty_item():
    yield b""
    raise ValueError("probe failure after an empty body item")


def exit_mid_body():
    import os
    import time
    yield b"partial body before the daemon exits\n"
    time.sleep(0.2)  # let the first chunk reach the client before the process ends
    os._exit(3)


class traced_growth(object):
    """Writes {"grown": bytes} to `out` (if given): what Python's traced memory grew by over
    the block (its exception, still alive then, counts: a few hundred bytes).  Nothing but the
    block runs while tracing: tracemalloc takes PyGILState on every raw allocation (an import,
    an open file's lock), which on a thread whose first thread state is another
    interpreter's waits forever (seen: 4.9.4 embedded)."""
    def __init__(self, out):
        self.out = out
        try:
            import tracemalloc
        except ImportError:
            tracemalloc = None
        self.tm = tracemalloc if out else None

    def __enter__(self):
        if self.tm:
            self.tm.start()
            gc.collect()
            self.before = self.tm.get_traced_memory()[0]

    def __exit__(self, *exc_info):
        if not self.out:
            return
        grown = None
        if self.tm:
            gc.collect()
            grown = self.tm.get_traced_memory()[0] - self.before
            self.tm.stop()
        with open(self.out + ".tmp", "w") as f:
            f.write(json.dumps({"grown": grown}))
        os.rename(self.out + ".tmp", self.out)


def application(environ, start_response):
    action = environ.get("PATH_INFO", "/").strip("/") or "raise"
    if action == "raise":
        raise ValueError("probe failure before start_response")
    if action == "raise-big":
        raise ValueError("probe big failure " + "x" * 2000)
    if action == "tracemalloc":
        # What this process's Python has allocated and still holds (ERR-035); the first call
        # starts tracing, ?stop=1 ends it.
        import tracemalloc
        if "stop=1" in environ.get("QUERY_STRING", ""):
            tracemalloc.stop()
        elif not tracemalloc.is_tracing():
            tracemalloc.start()
        gc.collect()
        body = json.dumps({"pid": os.getpid(), "traced": tracemalloc.get_traced_memory()[0]})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode("ascii")]
    if action == "chain-cause":
        chained_by_cause()
    if action == "chain-context":
        chained_by_context()
    if action == "leak-raise":
        start_response("200 OK", [("Content-Type", "text/plain"), LEAK])
        raise ValueError("probe failure after start_response")
    if action == "leak-iter":
        start_response("200 OK", [("Content-Type", "text/plain"), LEAK])
        return raise_before_first_item()
    if action == "leak-empty":
        start_response("200 OK", [("Content-Type", "text/plain"), LEAK])
        return raise_after_empty_item()
    if action == "ctl-header":
        # A header value with a control character that start_response lets through (only CR
        # and LF are refused there) and Apache's header filter refuses; then a body of 200
        # items 5 ms apart, whose close() writes to ?out=FILE how many the server took.
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Ctl", "a\x01b")])
        return Counted(environ.get("QUERY_STRING", "").partition("out=")[2], CTL_BODY, 200)
    if action == "read-body":
        # Reads the whole body the client announced; the client sends less and leaves.  With
        # ?out=FILE, writes to FILE how much more memory Python holds after the failed read
        # than before it (tracemalloc; null on Python 2), and the read's exception goes on.
        out = environ.get("QUERY_STRING", "").partition("out=")[2]
        with traced_growth(out):
            data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("read %d bytes" % len(data)).encode("ascii")]
    if action == "exit-mid-body":
        # Daemon mode only: the daemon process ends after the first body chunk.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return exit_mid_body()
    if action == "noniterable":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return None
    if action == "twice":
        start_response("500 Wrong", [("Content-Type", "text/plain"), ("X-First", "1")])
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Second", "1")])
        return [b"second wins"]
    if action == "after-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return after_body()
    if action == "str-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a native str body item"]
    if action == "bad-status":
        start_response("OK", [("Content-Type", "text/plain")])
        return [b"bad status"]
    if action == "bare-status":
        start_response("200", [("Content-Type", "text/plain")])
        return [b"bare status"]
    if action == "crlf-header":
        start_response("200 OK", [("Content-Type", "text/plain"), LEAK,
                                  ("X-Bad", "a\r\nX-Injected: 1")])
        return [b"crlf"]
    if action in BAD_HEADERS:
        # The bad item comes after a good one (LEAK): none of the call's headers may be sent.
        start_response("200 OK", [("Content-Type", "text/plain"), LEAK, BAD_HEADERS[action]])
        return [b"bad header"]
    if action == "unauthorized":
        start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                            ("WWW-Authenticate", 'Basic realm="probe"'), ("X-Probe-Auth", "1")])
        return [b"authorization required"]
    if action == "bad-content-length":
        start_response("200 OK", [("Content-Type", "text/plain"), LEAK, ("Content-Length", "abc")])
        return [b"bad content length"]
    if action == "content-length":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return [b"x" * 200]
    if action == "no-start-response":
        return [b"never started"]
    if action == "closing":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"closing body"])
    if action == "closed-count":
        body = str(closed["n"]).encode("ascii")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    if action == "write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written;")
        return [b"iterated"]
    if action == "print":
        print("probe-print-line")
        sys.stdout.flush()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"printed"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown action"]
