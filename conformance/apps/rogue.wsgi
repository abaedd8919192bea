# -*- coding: utf-8 -*-
"""A daemon-mode app that misbehaves on its own connection to the Apache child (DMN-020..022).

It finds the connected socket carrying this request as DMN-017's app does (the AF_UNIX stream
socket under /proc/self/fd named like the group's listening one) and:

/garbage-head   writes bytes that are no valid response start onto it before any response,
                then answers normally (after the garbage: the child has given up on it);
/garbage-mid    yields a first chunk, writes the same garbage, yields a second chunk;
/shutdown-mid   yields a first chunk, then shuts the socket down (both ways; the process lives
                on) and ends the body there; ?cl=N declares Content-Length N first;
/bigfile?path=P&size=N
                writes N bytes of a fixed pattern to P (once) and returns it through
                wsgi.file_wrapper with its Content-Length (DMN-022);
/errno?path=P&size=N
                reads the request body in 8 KiB reads, each right after it sets the thread's
                errno to EINTR (as C code an app calls may leave it), answers X-Body-SHA256 of
                what it read and bigfile's N bytes, errno set to EINTR again on return (DMN-023);
/duplex         echoes the request body as it reads it: each 16 KiB read is yielded before the
                next one (DMN-030).
Runs on Python 2.7 and 3.6+.
"""

import os
import socket

SO_ACCEPTCONN = getattr(socket, "SO_ACCEPTCONN", 30)
SO_DOMAIN = getattr(socket, "SO_DOMAIN", 39)

GARBAGE = b"GARBAGE-NOT-A-RESPONSE no colon here\r\n\r\n"
FIRST = b"partial body before the daemon misbehaves\n"
SECOND = b"second chunk after the garbage\n"
BLOCK = bytes(bytearray(i % 251 for i in range(251))) * 261


def _name(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v.rstrip("\0")


def connection_fd():
    """The fd of the connection carrying this request (to the Apache child)."""
    listening, connected = set(), []
    for name in os.listdir("/proc/self/fd"):
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
            if s.getsockopt(socket.SOL_SOCKET, SO_ACCEPTCONN):
                listening.add(sockname)
            elif sockname:
                connected.append((fd, sockname))
        except (OSError, socket.error):
            pass
        finally:
            s.close()
    found = [fd for fd, sockname in connected if sockname in listening]
    if len(found) != 1:
        raise RuntimeError("expected one connection to the Apache child, found %r (listening on %r)"
                           % (connected, sorted(listening)))
    return found[0]


def _query(environ):
    out = {}
    for part in environ.get("QUERY_STRING", "").split("&"):
        k, _, v = part.partition("=")
        if k:
            out[k] = v
    return out


def leave_errno_eintr():
    """Set this thread's C errno to EINTR and return with it still set (a ctypes call with
    use_errno restores the old value on the way out, so write it through __errno_location)."""
    import ctypes
    import errno
    where = ctypes.CDLL(None).__errno_location
    where.restype = ctypes.POINTER(ctypes.c_int)
    where().contents.value = errno.EINTR


def _make_file(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path + ".tmp", "wb") as f:
        left = size
        while left > 0:
            c = BLOCK[:min(len(BLOCK), left)]
            f.write(c)
            left -= len(c)
    os.rename(path + ".tmp", path)


def application(environ, start_response):
    action = environ.get("PATH_INFO", "").strip("/")
    q = _query(environ)
    if action == "garbage-head":
        fd = connection_fd()
        os.write(fd, GARBAGE)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"after the garbage\n"]
    if action == "garbage-mid":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield FIRST
            os.write(connection_fd(), GARBAGE)
            yield SECOND
        return body()
    if action == "shutdown-mid":
        headers = [("Content-Type", "text/plain")]
        if "cl" in q:
            headers.append(("Content-Length", q["cl"]))
        start_response("200 OK", headers)

        def body():
            yield FIRST
            s = socket.fromfd(connection_fd(), socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.shutdown(socket.SHUT_RDWR)
            finally:
                s.close()       # the duplicate only: the module's own fd stays open
        return body()
    if action == "bigfile":
        path, size = q["path"], int(q["size"])
        _make_file(path, size)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](open(path, "rb"), 65536)
    if action == "errno":
        import hashlib
        path, size = q["path"], int(q["size"])
        _make_file(path, size)
        got, stream = hashlib.sha256(), environ["wsgi.input"]
        while True:
            leave_errno_eintr()
            c = stream.read(8192)
            if not c:
                break
            got.update(c)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(size)), ("X-Body-SHA256", got.hexdigest())])
        wrapped = environ["wsgi.file_wrapper"](open(path, "rb"), 65536)
        leave_errno_eintr()
        return wrapped
    if action == "duplex":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def echo(stream):
            while True:
                c = stream.read(16384)
                if not c:
                    return
                yield c
        return echo(environ["wsgi.input"])
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown action"]
