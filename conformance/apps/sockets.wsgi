# -*- coding: utf-8 -*-
"""What a daemon process can see of its own sockets (DMN-017, DMN-018).

/sockets: every AF_UNIX stream socket under /proc/self/fd with its name, whether it listens
(SO_ACCEPTCONN), SO_SNDBUF, SO_RCVBUF and SO_RCVTIMEO/SO_SNDTIMEO in seconds; the one that
carries this request is the connected socket named like the group's listener.

/stall?out=FILE: reads wsgi.input to the end and writes to FILE how long that took and how
it ended (a client that stalls mid-body: the read fails after the daemon's socket timeout).
"""

import json
import os
import socket
import struct
import time

SO_ACCEPTCONN = getattr(socket, "SO_ACCEPTCONN", 30)
SO_DOMAIN = getattr(socket, "SO_DOMAIN", 39)


def _timeo(s, opt):
    raw = s.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("ll"))
    sec, usec = struct.unpack("ll", raw)
    return sec + usec / 1e6


def _name(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v.rstrip("\0")


def unix_sockets():
    found = []
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        fd = int(name)
        try:
            if not os.readlink("/proc/self/fd/%d" % fd).startswith("socket:"):
                continue
            s = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)
        except (OSError, socket.error):
            continue
        try:
            if (s.getsockopt(socket.SOL_SOCKET, SO_DOMAIN) != socket.AF_UNIX or
                    s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_STREAM):
                continue
            sockname = _name(s.getsockname())
            found.append({
                "fd": fd, "name": sockname,
                "listening": bool(s.getsockopt(socket.SOL_SOCKET, SO_ACCEPTCONN)),
                "sndbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                "rcvbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                "rcvtimeo": _timeo(s, socket.SO_RCVTIMEO),
                "sndtimeo": _timeo(s, socket.SO_SNDTIMEO),
            })
        except (OSError, socket.error):
            pass
        finally:
            s.close()
    return found


def defaults():
    out = {}
    for key, path in (("wmem_default", "/proc/sys/net/core/wmem_default"),
                      ("rmem_default", "/proc/sys/net/core/rmem_default")):
        with open(path) as f:
            out[key] = int(f.read())
    return out


def json_response(start_response, data):
    body = json.dumps(data, sort_keys=True).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    action = environ.get("PATH_INFO", "/").strip("/") or "sockets"
    if action == "sockets":
        return json_response(start_response, {"pid": os.getpid(), "sockets": unix_sockets(),
                                               "defaults": defaults()})
    if action == "stall":
        out = environ.get("QUERY_STRING", "").partition("out=")[2]
        t0 = time.time()
        got, error = 0, None
        try:
            while True:
                c = environ["wsgi.input"].read(8192)
                if not c:
                    break
                got += len(c)
        except Exception as e:
            error = "%s: %s" % (type(e).__name__, e)
        result = {"elapsed": time.time() - t0, "got": got, "error": error}
        with open(out + ".tmp", "w") as f:
            f.write(json.dumps(result))
        os.rename(out + ".tmp", out)
        return json_response(start_response, result)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown action"]
