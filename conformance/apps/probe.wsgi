# The probe: reports what a WSGI app can observe (environ, sys, os) as JSON.
# Runs on Python 2.7 and 3.6+; the action is the first PATH_INFO segment or ?a=.
import json
import os
import sys
import time

try:
    from urllib.parse import parse_qs
except ImportError:  # Python 2
    from urlparse import parse_qs

PY3 = sys.version_info[0] >= 3
IMPORTED_AT = time.time()
counter = {"n": 0}


def _jsonable(v):
    if isinstance(v, (bool, int, float)) or v is None:
        return v
    if isinstance(v, bytes) and not PY3:
        return v.decode("latin-1")
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str,)) or (not PY3 and isinstance(v, unicode)):  # noqa: F821
        return v
    return repr(v)


def describe_environ(environ):
    return dict((k, {"type": type(v).__name__, "value": _jsonable(v)}) for k, v in environ.items())


def _class(v):
    """'str', 'int' ... for builtins, 'module.Name' otherwise (mod_wsgi.Input, _io.TextIOWrapper)."""
    t = type(v)
    if t.__module__ in ("builtins", "__builtin__"):
        return t.__name__
    return "%s.%s" % (t.__module__, t.__name__)


def describe_contract(environ):
    """Every key with its class, and its value where JSON can carry it (the observed contract)."""
    return dict((k, {"class": _class(v), "value": _jsonable(v)}) for k, v in environ.items())


def _nice():
    """This process's nice value, from /proc (os.getpriority is not on Python 2)."""
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def sys_facts():
    import locale
    try:
        current = locale.setlocale(locale.LC_ALL, None)
    except Exception as e:
        current = "error: %s" % e
    facts = {
        "pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(),
        "groups": sorted(os.getgroups()), "cwd": os.getcwd(),
        "umask": _umask(), "argv": list(getattr(sys, "argv", [])),
        "prefix": sys.prefix, "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "executable": sys.executable, "version": list(sys.version_info[:3]),
        "path": list(sys.path), "optimize": sys.flags.optimize,
        "fs_encoding": sys.getfilesystemencoding(),
        "preferred_encoding": locale.getpreferredencoding(False),
        "setlocale": current, "lc_ctype": locale.setlocale(locale.LC_CTYPE, None),
        "utf8_mode": getattr(sys.flags, "utf8_mode", 0),
        "environ": dict((k, os.environ.get(k)) for k in
                        ("LANG", "LC_ALL", "LC_CTYPE", "HOME", "USER", "LOGNAME", "USERNAME",
                         "PYTHONHOME", "PROBE_SETENV")),
        "module_name": __name__, "imported_at": IMPORTED_AT, "now": time.time(),
        "interpreter_marker": sys.modules.get("probe_marker_holder") is not None,
        # every interpreter has its own sys.modules, alive as long as the interpreter
        "interpreter_id": id(sys.modules),
        "nice": _nice(),
    }
    try:
        import mod_wsgi
        facts["mod_wsgi_module"] = {"process_group": getattr(mod_wsgi, "process_group", None),
                                    "application_group": getattr(mod_wsgi, "application_group", None)}
    except ImportError:
        facts["mod_wsgi_module"] = None
    return facts


def _umask():
    m = os.umask(0o22)
    os.umask(m)
    return m


def json_response(start_response, data, status="200 OK", extra=()):
    body = json.dumps(data, sort_keys=True).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))] + list(extra))
    return [body]


def read_body(environ):
    chunks = []
    inp = environ["wsgi.input"]
    while True:
        c = inp.read(65536)
        if not c:
            break
        chunks.append(c)
    return b"".join(chunks)


def _listening_tcp_inodes():
    """{"socket:[inode]": port} of the TCP sockets in LISTEN state on this host."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for row in rows:
            col = row.split()
            if len(col) > 9 and col[3] == "0A":
                out["socket:[%s]" % col[9]] = int(col[1].rsplit(":", 1)[1], 16)
    return out


def application(environ, start_response):
    app_time = time.time()
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    action = qs.get("a", [environ.get("PATH_INFO", "/").strip("/").split("/")[0] or "env"])[0]

    if action == "env":
        return json_response(start_response, {"environ": describe_environ(environ),
                                               "app_time": app_time},
                             extra=[("X-Probe-Method", str(environ["REQUEST_METHOD"]))])
    if action == "contract":
        return json_response(start_response, {"environ": describe_contract(environ)})
    if action == "sys":
        return json_response(start_response, sys_facts())
    if action == "counter":
        counter["n"] += 1
        return json_response(start_response, {"pid": os.getpid(), "count": counter["n"],
                                              "group": environ.get("mod_wsgi.application_group")})
    if action == "mark":
        # Plant a module in this interpreter's sys.modules, to see which interpreters share it.
        sys.modules["probe_marker_holder"] = sys
        return json_response(start_response, {"marked": True})
    if action == "sleep":
        if "started" in qs:
            # Tell the client this request is now inside the app (it holds a thread).
            with open(qs["started"][0], "w") as f:
                f.write(repr(app_time))
        time.sleep(float(qs.get("s", ["0.5"])[0]))
        return json_response(start_response, {"app_time": app_time, "pid": os.getpid(),
                                              "environ": describe_environ(environ)})
    if action == "echo":
        body = read_body(environ)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if action == "input":
        return input_methods(environ, start_response)
    if action == "stream-handshake":
        # One block, then wait (at most 5 s) for the client to say it has received it by
        # creating the marker file: a block held back anywhere is seen as "timeout".
        marker = qs["marker"][0]
        start_response("200 OK", [("Content-Type", "text/plain")])

        def blocks():
            yield b"first\n"
            deadline = time.time() + 5
            while not os.path.exists(marker) and time.time() < deadline:
                time.sleep(0.01)
            yield b"second: seen\n" if os.path.exists(marker) else b"second: timeout\n"
        return blocks()
    if action == "switch-interval":
        return json_response(start_response, {"pid": os.getpid(), "interval": sys.getswitchinterval()})
    if action == "input-mixed":
        # The body back through a mix of reads: a line, reads larger and smaller than what is
        # buffered, a sized line, a line (leaving some buffered), then the rest; echoed whole.
        inp = environ["wsgi.input"]
        parts = [inp.readline(), inp.read(100000), inp.read(7), inp.readline(50), inp.read(70000),
                 inp.readline(), inp.read()]
        body = b"".join(parts)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body))),
                                  ("X-Parts", ",".join(str(len(x)) for x in parts))])
        return [body]
    if action == "input-args":
        return input_args(environ, start_response)
    if action == "readline-sized":
        inp = environ["wsgi.input"]
        size = int(qs.get("size", ["5"])[0])
        first = inp.readline(size)
        return json_response(start_response, {"first": first.decode("latin-1"),
                                               "rest": inp.read().decode("latin-1")})
    if action == "input-iter-refs":
        # Iterating an exhausted wsgi.input ends each time with StopIteration and keeps nothing.
        inp = environ["wsgi.input"]
        body = read_body(environ)
        before = sys.getrefcount(b"")
        for _ in range(int(qs.get("n", ["1000"])[0])):
            for _line in inp:
                pass
        return json_response(start_response, {"body": len(body), "refs_delta": sys.getrefcount(b"") - before})
    if action == "log-write-refs":
        # The log object under wsgi.errors (a text wrapper's buffer on Python 3) keeps no
        # reference to what it writes: b"" is a singleton, so a kept one shows in its count.
        log = environ["wsgi.errors"]
        raw = getattr(log, "buffer", log)
        before = sys.getrefcount(b"")
        try:
            for _ in range(1000):
                raw.write(b"")
            error = None
        except Exception as e:
            error = "%s: %s" % (type(e).__name__, e)
        return json_response(start_response, {"refs_delta": sys.getrefcount(b"") - before,
                                               "error": error})
    if action == "big-response-headers":
        # n response headers of size bytes each (value i's digits repeated), then a short body.
        n, size = int(qs.get("n", ["40"])[0]), int(qs.get("size", ["8000"])[0])
        headers = [("Content-Type", "text/plain")] + [
            ("X-Big-%02d" % i, (("%02d" % i) * size)[:size]) for i in range(n)]
        start_response("200 OK", headers)
        return [b"big headers sent\n"]
    if action == "headers":
        # Every X-Big-* request header as the app got it: name -> (length, sha256).
        import hashlib
        got = dict((k, [len(v), hashlib.sha256(v.encode("latin-1")).hexdigest()])
                   for k, v in environ.items() if k.startswith("HTTP_X_BIG_"))
        return json_response(start_response, {"headers": got})
    if action == "fds":
        # what each open descriptor is: a path, "socket:[inode]", "pipe:[inode]", ...
        names = os.listdir("/proc/self/fd")
        targets = {}
        for n in names:
            try:
                targets[n] = os.readlink("/proc/self/fd/" + n)
            except OSError:
                pass        # the listing's own descriptor, gone by now
        return json_response(start_response, {"pid": os.getpid(), "fds": len(names), "targets": targets,
                                              "listening_tcp": _listening_tcp_inodes()})
    if action == "file":
        path = environ["SCRIPT_FILENAME"]
        f = open(path, "rb")
        offset = int(qs.get("offset", ["0"])[0])
        f.seek(offset)
        time.sleep(float(qs.get("sleep", ["0"])[0]))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 8192)
    if action == "errors":
        environ["wsgi.errors"].write("probe-wsgi-errors-line %s\n" % qs.get("tag", ["x"])[0])
        environ["wsgi.errors"].flush()
        return json_response(start_response, {"ok": True})
    if action == "import":
        name = qs.get("mod", ["probe_marker"])[0]
        try:
            mod = __import__(name)
            return json_response(start_response, {"imported": True, "file": getattr(mod, "__file__", None)})
        except ImportError as e:
            return json_response(start_response, {"imported": False, "error": str(e)})
    if action == "nonascii":
        import tempfile
        d = tempfile.mkdtemp()
        name = b"caf\xc3\xa9-\xc3\xbc\xc3\x9f.txt".decode("utf-8")   # no u"" on 3.2
        try:
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(b"ok")
            listed = os.listdir(d)
            with open(p, "rb") as f:
                data = f.read()
            os.unlink(p)
            result = {"ok": data == b"ok" and name in [
                x if not isinstance(x, bytes) else x.decode("utf-8", "replace") for x in listed]}
        except Exception as e:
            result = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        os.rmdir(d)
        return json_response(start_response, result)
    if action == "upload":
        import hashlib
        h, n, inp = hashlib.sha256(), 0, environ["wsgi.input"]
        while True:
            c = inp.read(1 << 20)
            if not c:
                break
            h.update(c)
            n += len(c)
        return json_response(start_response, {"size": n, "sha256": h.hexdigest(), "pid": os.getpid(),
                                               "rss_peak_kb": _rss_peak_kb()})
    if action == "download":
        size = int(qs.get("size", ["0"])[0])
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(size))])
        return _pattern(size)
    if action == "signal":
        import signal
        handler = lambda *a: None  # noqa: E731
        returned = signal.signal(signal.SIGUSR2, handler)
        return json_response(start_response, {"returned_same": returned is handler})
    if action == "stdout":
        try:
            sys.stdout.write("probe-stdout-line\n")
            sys.stdout.flush()
            result = {"restricted": False}
        except (IOError, OSError) as e:
            result = {"restricted": True, "error": str(e)}
        return json_response(start_response, result)
    if action == "stdin":
        try:
            sys.stdin.read(0)
            result = {"restricted": False}
        except (IOError, OSError) as e:
            result = {"restricted": True, "error": str(e)}
        return json_response(start_response, result)
    if action == "die":
        # The daemon process ends before any response header (a crash, an OOM kill).
        os._exit(3)
    if action == "drip":
        # 64 KiB every 20 ms for up to s seconds: a response a client can walk away from.
        limit = time.time() + float(qs.get("s", ["30"])[0])
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def drip():
            chunk = b"d" * 65536
            while time.time() < limit:
                yield chunk
                time.sleep(0.02)
        return drip()
    if action == "rss":
        return json_response(start_response, {"pid": os.getpid(), "rss_peak_kb": _rss_peak_kb()})
    return json_response(start_response, {"error": "unknown action %r" % action}, "404 Not Found")


def alt_application(environ, start_response):
    return json_response(start_response, {"callable": "alt_application"})


def _pattern(size):
    block = b"".join(bytes(bytearray([i % 251])) for i in range(251)) * 261  # 65511 bytes
    sent = 0
    while sent < size:
        chunk = block[:min(len(block), size - sent)]
        sent += len(chunk)
        yield chunk


def _rss_peak_kb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (IOError, OSError):
        pass
    return None


def input_args(environ, start_response):
    """What each wrongly-typed call on wsgi.input raises (nothing consumed), then what
    read(None) and read(-1) return of the body."""
    inp = environ["wsgi.input"]
    calls = {"read('x')": lambda: inp.read("x"), "read(1, 2)": lambda: inp.read(1, 2),
             "readline('x')": lambda: inp.readline("x"),
             "readlines('x')": lambda: inp.readlines("x")}
    out = {}
    for name, call in sorted(calls.items()):
        try:
            out[name] = "returned %r" % (call(),)
        except Exception as e:
            out[name] = type(e).__name__
    for name, call in (("read(None)", lambda: inp.read(None)), ("read(-1)", lambda: inp.read(-1))):
        try:
            out[name] = "returned %r" % (call().decode("latin-1"),)
        except Exception as e:
            out[name] = type(e).__name__
    return json_response(start_response, out)


def input_methods(environ, start_response):
    inp = environ["wsgi.input"]
    first_line = inp.readline()
    limited = inp.readline(3)
    rest_lines = inp.readlines()
    after = inp.read()
    again = inp.read(10)
    out = {"first_line": first_line.decode("latin-1"), "limited": limited.decode("latin-1"),
           "rest_lines": [x.decode("latin-1") for x in rest_lines],
           "after": after.decode("latin-1"), "again": again.decode("latin-1"),
           "has_iter": hasattr(inp, "__iter__")}
    return json_response(start_response, out)
