# The reliability suite's app: small, deliberate behaviours chosen by the first PATH_INFO
# segment.  Python 3 only (the suite's server Python is 3.x).
import ctypes
import json
import os
import threading
import time
from urllib.parse import parse_qs

STATE = {"stream_started": 0, "stream_closed": 0, "stream_failed": 0, "leaked": []}
LOCK = threading.Lock()


def _q(environ):
    return dict((k, v[0]) for k, v in parse_qs(environ.get("QUERY_STRING", "")).items())


def _json(start_response, data, status="200 OK"):
    body = json.dumps(data, sort_keys=True).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("X-Pid", str(os.getpid()))])
    return [body]


def _proc_status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups", "VmRSS", "Threads"):
                out[k] = v.split()
    return out


class Stream:
    """A long response that notices when it is closed early (client gone)."""

    def __init__(self, n, size, delay):
        self.n, self.chunk, self.delay, self.i = n, b"x" * size, delay, 0
        with LOCK:
            STATE["stream_started"] += 1

    def __iter__(self):
        return self

    def __next__(self):
        if self.i >= self.n:
            raise StopIteration
        self.i += 1
        if self.delay:
            time.sleep(self.delay)
        return self.chunk

    def close(self):
        with LOCK:
            STATE["stream_closed"] += 1
            if self.i < self.n:
                STATE["stream_failed"] += 1


def application(environ, start_response):
    action = environ.get("PATH_INFO", "/").strip("/").split("/")[0] or "hello"
    q = _q(environ)
    if action == "hello":
        body = b"hello\n"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6"),
                                  ("X-Pid", str(os.getpid()))])
        return [body]
    if action == "work":  # a request that stays in flight for a while
        time.sleep(float(q.get("t", "0.01")))
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Pid", str(os.getpid()))])
        return [b"worked\n"]
    if action == "echo":  # reads the whole body the way most apps do (no try/except)
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body))), ("X-Pid", str(os.getpid()))])
        return [body]
    if action == "big":
        size = int(q.get("size", "65536"))
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(size))])
        return [b"b" * size]
    if action == "env":
        return _json(start_response, sorted(k for k in environ))
    if action == "sleep":
        t0 = time.time()
        time.sleep(float(q.get("t", "0.5")))
        return _json(start_response, {"pid": os.getpid(), "start": t0,
                                      "thread": threading.get_ident()})
    if action == "stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Stream(int(q.get("n", "4096")), int(q.get("size", "65536")), float(q.get("delay", "0.002")))
    if action == "stats":
        with LOCK:
            data = dict((k, v) for k, v in STATE.items() if k != "leaked")
        data["leaked_mb"] = len(STATE["leaked"]) * int(q.get("mb", "16"))
        data["pid"] = os.getpid()
        data["threads"] = threading.active_count()
        return _json(start_response, data)
    if action == "leak":  # keeps what it allocates: RSS grows until memory-limit stops it
        mb = int(q.get("mb", "16"))
        block = bytearray(mb << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        STATE["leaked"].append(block)
        return _json(start_response, {"pid": os.getpid(), "leaked_mb": len(STATE["leaked"]) * mb})
    if action == "gil":  # a deadlock in C code that holds the GIL: no Python thread runs
        t = int(q.get("t", "20"))
        ctypes.PyDLL(None).sleep(t)
        return _json(start_response, {"pid": os.getpid(), "slept": t})
    if action == "whoami":
        st = _proc_status()
        return _json(start_response, {"pid": os.getpid(), "uid": os.getuid(), "euid": os.geteuid(),
                                      "gid": os.getgid(), "egid": os.getegid(),
                                      "groups": sorted(os.getgroups()), "status": st,
                                      "resuid": list(os.getresuid()), "resgid": list(os.getresgid())})
    if action == "escalate":  # what a compromised app could try: none of it may succeed
        tried = {}
        for name, fn in (("setuid0", lambda: os.setuid(0)), ("seteuid0", lambda: os.seteuid(0)),
                         ("setgid0", lambda: os.setgid(0)), ("setgroups0", lambda: os.setgroups([0]))):
            try:
                fn()
                tried[name] = "succeeded"
            except OSError as e:
                tried[name] = "refused: %s" % e.strerror
        return _json(start_response, tried)
    if action == "badheader":
        kind = q.get("kind", "nul")
        if kind == "status":
            start_response("200 \u20acuro", [("Content-Type", "text/plain")])
            return [b"should not be sent\n"]
        if kind == "huge":  # one 5 MiB header value: past any sane buffer between processes
            start_response("200 OK", [("Content-Type", "text/plain"), ("X-Huge", "h" * (5 << 20))])
            return [b"huge header sent\n"]
        if kind == "many":  # 10000 headers
            start_response("200 OK", [("Content-Type", "text/plain")] +
                           [("X-M%d" % i, "v") for i in range(10000)])
            return [b"many headers sent\n"]
        value = {"nul": "a\x00b", "crlf": "a\r\nX-Injected: yes", "lf": "a\nX-Injected: yes",
                 "nonlatin1": "caf\u20ac"}[kind]
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Bad", value)])
        return [b"should not be sent\n"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown action\n"]
