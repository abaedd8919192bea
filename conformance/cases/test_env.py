"""ENV: the environ a WSGI app and mod_wsgi users rely on (PEP 3333 + mod_wsgi keys); wsgi.input's
cases are in test_env_input.py."""

import concurrent.futures
import hashlib
import json
import re
import time

import pytest

from conformance.cases.test_que import hold_thread
from conformance.catalogue import case
from conformance.client import contract, environ, fetch_json, http
from conformance.profiles import OWN_NAMESPACE

CGI_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
            "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "REQUEST_URI",
            "SCRIPT_FILENAME", "DOCUMENT_ROOT", "SERVER_SOFTWARE", "SERVER_ADDR", "HTTP_HOST")


def value(env, key):
    return env[key]["value"]


@case("ENV-001", "CGI variables are present as native strings (str on 2.7 and 3.x)")
def test_cgi_keys_native_str(server, mode):
    env, _ = environ(server, "/probe/env?x=1")
    for key in CGI_KEYS:
        assert key in env, "missing %s" % key
        assert env[key]["type"] == "str", "%s is %s, not a native str" % (key, env[key]["type"])
    assert value(env, "REQUEST_METHOD") == "GET"
    assert value(env, "SERVER_PORT") == str(server.port)
    assert value(env, "SERVER_PROTOCOL") == "HTTP/1.1"
    assert value(env, "REMOTE_ADDR") == "127.0.0.1"
    assert value(env, "SCRIPT_FILENAME") == str(server.ctx.apps / "probe.wsgi")


@case("ENV-002", "wsgi.version is the tuple (1, 0)")
def test_wsgi_version(server, mode):
    env, _ = environ(server)
    assert env["wsgi.version"] == {"type": "tuple", "value": [1, 0]}


@case("ENV-003", "wsgi.url_scheme is 'http' on a plain connection")
def test_url_scheme(server, mode):
    env, _ = environ(server)
    assert env["wsgi.url_scheme"] == {"type": "str", "value": "http"}


@case("ENV-004", "wsgi.input, wsgi.errors and wsgi.file_wrapper are present")
def test_stream_objects(server, mode):
    env, _ = environ(server)
    for key in ("wsgi.input", "wsgi.errors", "wsgi.file_wrapper"):
        assert key in env, "missing %s" % key


@case("ENV-005", "wsgi.run_once is False")
def test_run_once(server, mode):
    env, _ = environ(server)
    assert env["wsgi.run_once"] == {"type": "bool", "value": False}


@case("ENV-006", "wsgi.multithread / wsgi.multiprocess follow the MPM (embedded) or the daemon options",
      expects={"prefork": [bool], "worker": [bool], "event": [bool], "daemon": [bool]})
def test_multithread_multiprocess(server, mode, env, expect):
    e, _ = environ(server)
    want = expect[mode if mode == "daemon" else env.mpm]
    got = [value(e, "wsgi.multithread"), value(e, "wsgi.multiprocess")]
    assert got == want, "multithread/multiprocess %s, expected %s" % (got, want)


@case("ENV-054", "ThreadsPerChild 1 on a threaded MPM makes wsgi.multithread False (the MPM's thread "
      "limit, not its kind, decides); ServerLimit 2 keeps wsgi.multiprocess True", site="onethread",
      modes=("embedded",))
def test_one_thread_per_child(server, mode, env):
    if env.mpm == "prefork":
        pytest.skip("prefork has no threads to cut (ENV-006 checks its single-threaded children)")
    e, _ = environ(server)
    assert [value(e, "wsgi.multithread"), value(e, "wsgi.multiprocess")] == [False, True]


@case("ENV-007", "HTTPS and PATH never appear in environ (PATH not even when the config sets it with SetEnv)")
def test_no_https_path(server, mode):
    env, _ = environ(server, headers={"HTTPS": "on"})
    assert "HTTPS" not in env and "PATH" not in env


@case("ENV-008", "request headers become HTTP_* keys; repeats join with ', '; names with '_' are dropped")
def test_http_headers(server, mode):
    env, _ = environ(server, headers={"X-Probe-One": "1", "X_Sneaky": "spoof"})
    assert value(env, "HTTP_X_PROBE_ONE") == "1"
    assert "HTTP_X_SNEAKY" not in env
    raw_env = fetch_json(server, "/probe/env", headers={"Accept-Language": "de, en"})["environ"]
    assert raw_env["HTTP_ACCEPT_LANGUAGE"]["value"] == "de, en"


@case("ENV-009", "CONTENT_TYPE and CONTENT_LENGTH carry the body headers, never as HTTP_CONTENT_*")
def test_content_headers(server, mode):
    env = fetch_json(server, "/probe/env", method="POST", data=b"abc",
                     headers={"Content-Type": "text/x-probe"})["environ"]
    assert value(env, "CONTENT_TYPE") == "text/x-probe"
    assert value(env, "CONTENT_LENGTH") == "3"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env


@case("ENV-010", "QUERY_STRING is raw (percent-encoded) and '' when there is none")
def test_query_string(server, mode):
    env, _ = environ(server, "/probe/env?a=env&x=%2Fb+c%20")
    assert value(env, "QUERY_STRING") == "a=env&x=%2Fb+c%20"
    env, _ = environ(server, "/probe")
    assert value(env, "QUERY_STRING") == ""


def url_split(server, path):
    """(SCRIPT_NAME, PATH_INFO) of a request for `path`."""
    env, _ = environ(server, path)
    return value(env, "SCRIPT_NAME"), value(env, "PATH_INFO")


@case("ENV-011", "a file mount splits the URL into SCRIPT_NAME (mount) and PATH_INFO (rest)")
def test_file_mount_split(server, mode):
    assert url_split(server, "/probe/env/extra/path") == ("/probe", "/env/extra/path")


@case("ENV-012", "a request for the mount point itself has PATH_INFO ''")
def test_mount_point_path_info(server, mode):
    assert url_split(server, "/probe") == ("/probe", "")


@case("ENV-013", "a root mount has SCRIPT_NAME '' and the whole path in PATH_INFO, '/' for the root "
                 "itself", site="rootmount")
def test_root_mount(server, mode):
    for path in ("/env/a/b", "/"):
        assert url_split(server, path) == ("", path), path


@case("ENV-014", "a directory mount makes each file its own app: SCRIPT_NAME /dir/name, PATH_INFO rest")
def test_directory_mount(server, mode):
    assert url_split(server, "/dir/probe.wsgi/env/x") == ("/dir/probe.wsgi", "/env/x")


@case("ENV-015", "repeated slashes collapse in PATH_INFO while REQUEST_URI stays raw")
def test_slash_collapse(server, mode):
    env, _ = environ(server, "/probe/env//a///b")
    assert value(env, "PATH_INFO") == "/env/a/b"
    assert value(env, "REQUEST_URI") == "/probe/env//a///b"


@case("ENV-016", "a non-ASCII path arrives as a latin-1-decoded native str (PEP 3333)")
def test_non_ascii_path(server, mode):
    env, _ = environ(server, "/probe/env/caf%C3%A9")
    assert value(env, "PATH_INFO") == u"/env/caf\u00c3\u00a9"


@case("ENV-017", "SetEnv variables appear in environ")
def test_setenv(server, mode):
    env, _ = environ(server)
    assert value(env, "PROBE_SETENV") == "from-setenv"
    facts = fetch_json(server, "/probe/sys")
    assert facts["environ"]["PROBE_SETENV"] is None, "SetEnv leaked into os.environ"


@case("ENV-018", "mod_wsgi.process_group is '' in embedded mode and the group name in daemon mode")
def test_process_group_key(server, mode):
    env, _ = environ(server)
    assert env["mod_wsgi.process_group"] == {"type": "str",
                                             "value": "" if mode == "embedded" else "main"}


@case("ENV-019", "mod_wsgi.application_group defaults to 'host:port|SCRIPT_NAME'")
def test_application_group_default(server, mode):
    env, _ = environ(server)
    assert value(env, "mod_wsgi.application_group") == "localhost:%d|/probe" % server.port


@case("ENV-020", "mod_wsgi.callable_object is 'application' by default")
def test_callable_object_key(server, mode):
    env, _ = environ(server)
    assert env["mod_wsgi.callable_object"] == {"type": "str", "value": "application"}


@case("ENV-021", "mod_wsgi.version is a tuple of the profile's shape", expects={"length": int, "major": [int]})
def test_mod_wsgi_version(server, mode, expect):
    env, _ = environ(server)
    v = env["mod_wsgi.version"]
    assert v["type"] == "tuple"
    assert len(v["value"]) == expect["length"] and v["value"][0] in expect["major"]


@case("ENV-022", "sys.argv is ['mod_wsgi']")
def test_sys_argv(server, mode):
    assert fetch_json(server, "/probe/sys")["argv"] == ["mod_wsgi"]


@case("ENV-023", "wsgi.file_wrapper over a real file sends exactly the file's bytes from tell(), with that "
                 "length as Content-Length (the app gave none)")
def test_file_wrapper(server, mode):
    data = (server.ctx.apps / "probe.wsgi").read_bytes()
    for offset in (0, 100):
        resp = http(server, "/probe/file?offset=%d" % offset)
        assert resp.status_code == 200 and resp.content == data[offset:], offset
        assert (resp.headers.get("Content-Length"), resp.headers.get("Transfer-Encoding")) == (
            str(len(data) - offset), None), (offset, dict(resp.headers))


@case("ENV-026", "mod_wsgi.listener_host/listener_port name the address Apache accepted on")
def test_listener(server, mode):
    env, _ = environ(server)
    assert value(env, "mod_wsgi.listener_port") == str(server.port)
    assert value(env, "mod_wsgi.listener_host") in ("127.0.0.1", "")


@case("ENV-027", "the environ has exactly the keys, each of the class, that the profile's real release hands "
                 "an app (observed: profiles/observed/); a module may add keys only under mod_gateway.")
def test_environ_contract(server, mode, env):
    want = env.profile.environ_contract(mode, env.py3, server.install.version)
    got = dict((k, v["class"]) for k, v in contract(server).items()
               if not k.startswith(OWN_NAMESPACE))
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = ["%s is %s, not %s" % (k, got[k], want[k]) for k in sorted(set(want) & set(got))
             if got[k] != want[k]]
    assert not (missing or extra or wrong), "missing %s; not in the release %s; %s" % (
        missing, extra, "; ".join(wrong) or "classes match")


@case("ENV-052", "each block an app yields reaches the client before the app produces the next (the "
                 "client acknowledges the first block; the app waits for that)")
def test_yielded_blocks_stream(server, mode):
    import socket
    marker = server.root / "run" / ("ack-%d" % time.monotonic_ns())
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.sendall(("GET /probe/stream-handshake?marker=%s HTTP/1.1\r\nHost: localhost\r\n"
                   "Connection: close\r\n\r\n" % marker).encode("ascii"))
        got = b""
        while b"first\n" not in got:
            chunk = s.recv(65536)
            assert chunk, "the connection ended before the first block: %r" % got[:300]
            got += chunk
        marker.write_text("1")
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        raise AssertionError("the first block never arrived on its own: %r" % got[:300])
    finally:
        s.close()
    assert got.startswith(b"HTTP/1.1 200 ") and b"second: seen\n" in got, got[-300:]


@case("ENV-028", "wsgi.input_terminated is True")
def test_input_terminated(server, mode):
    env, _ = environ(server)
    assert env.get("wsgi.input_terminated") == {"type": "bool", "value": True}


@case("ENV-029", "wsgi.errors writes reach Apache's error log", expect_log=(r"probe-wsgi-errors-line",))
def test_wsgi_errors(server, mode):
    offset = server.log_size()
    fetch_json(server, "/probe/errors?tag=e29")
    assert server.wait_for_log(r"probe-wsgi-errors-line e29", since=offset)


@case("ENV-030", "print() in the app goes to Apache's error log", expect_log=(r"probe-print-line",))
def test_print_to_log(server, mode):
    offset = server.log_size()
    assert http(server, "/errs/print").status_code == 200
    assert server.wait_for_log(r"probe-print-line", since=offset)


@case("ENV-031", "a HEAD request reaches the app and returns headers without a body")
def test_head(server, mode):
    resp = http(server, "/probe/env", method="HEAD")
    assert resp.status_code == 200 and resp.content == b""


@case("ENV-032", "the script module is named _mod_wsgi_<md5> of its path")
def test_module_name(server, mode):
    name = fetch_json(server, "/probe/sys")["module_name"]
    assert name.startswith("_mod_wsgi_") and len(name) == len("_mod_wsgi_") + 32


@case("ENV-033", "mod_wsgi.script_name and mod_wsgi.path_info are SCRIPT_NAME and PATH_INFO as the module "
                 "mapped them (mount, mount point, directory mount, collapsed slashes, non-ASCII)",
      profiles=("5", "6"))
def test_script_name_path_info_keys(server, mode):
    for path in ("/probe/env/a", "/probe", "/dir/probe.wsgi/env//x///y", "/probe/env/caf%C3%A9"):
        env, _ = environ(server, path)
        got = [env.get(k) for k in ("mod_wsgi.script_name", "mod_wsgi.path_info")]
        assert got == [env["SCRIPT_NAME"], env["PATH_INFO"]], "%s: %s" % (path, got)


@case("ENV-034", "mod_wsgi.thread_requests / total_requests count the requests this thread / this process "
                 "finished before this one (one more per request; one still running is not counted yet)",
      profiles=("5",))
def test_request_counters(server, mode):
    def number(entry):   # the probe reports a Python 2 long by its repr, "5L"
        v = entry["value"]
        return int(v.rstrip("L")) if entry["type"] == "long" else v

    def counters(data):
        e = data["environ"]
        return dict([("pid", data["pid"])] + [(k, number(e["mod_wsgi." + k])) for k in
                                              ("thread_id", "thread_requests", "total_requests")])

    def probe():
        return counters(fetch_json(server, "/probe/sleep?s=0"))

    order = [probe() for _ in range(6)]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future, _ = hold_thread(server, pool, 1.5)
        during = probe()
        held = counters(future.result(timeout=30))
    order += [held, during, probe()]          # the order the requests started in

    # This server sees only these requests, one at a time but for `during`, which ran
    # inside `held`: what each counts is what finished before it on its process / thread.
    for i, r in enumerate(order):
        assert 0 <= r["thread_requests"] <= r["total_requests"], r
        for scope, name in ((("pid",), "total_requests"), (("pid", "thread_id"), "thread_requests")):
            same = [o for o in order[:i] if all(o[k] == r[k] for k in scope)]
            if not same:
                continue
            finished = [o for o in same if not (o is held and r is during)]
            assert r[name] - same[0][name] == len(finished), (
                "%s %s after %d finished requests on its %s; requests in order: %s"
                % (name, r[name], len(finished), "/".join(scope), order))
    assert held["pid"] != during["pid"] or during["total_requests"] == held["total_requests"], (
        "the request during the held one counted it before it finished", held, during)


@case("ENV-035", "mod_wsgi.daemon_connects is '1' and mod_wsgi.daemon_restarts '0' for a request that "
                 "reached a running daemon at its first connect", modes=("daemon",), profiles=("5",))
def test_daemon_connect_counters(server, mode):
    for _ in range(3):
        env, _ = environ(server)
        assert [env.get("mod_wsgi.daemon_connects"), env.get("mod_wsgi.daemon_restarts")] == [
            {"type": "str", "value": "1"}, {"type": "str", "value": "0"}]


_TEXT = (str, type(None))      # null: the stream has no such attribute
ERRORS_STREAM = {"class": str, "buffer": _TEXT,
                 "attributes": {"name?": _TEXT, "encoding?": _TEXT, "errors?": _TEXT,
                                "line_buffering?": (bool, type(None))},
                 "str_returns_length": bool, "bytes_raise": _TEXT}
ERRORS_APP = "/dir/wsgi_errors.wsgi"
# What a call on a stream did: raised (the exception's class), its message, or returned (a repr).
OUTCOME = {"raised?": str, "message?": str, "returned?": str}


@case("ENV-036", "wsgi.errors is the profile's stream (on Python 3 under 5 and 6 a line-buffered utf-8 "
                 "TextIOWrapper over the mod_wsgi.Log; the Log itself on 2.7 and under 3.4): each complete "
                 "line reaches the error log at once with the request's client (6: and script), a partial "
                 "line when the request ends",
      expects={"py3": ERRORS_STREAM, "py2": ERRORS_STREAM, "names_script": bool},
      expect_log=(r"\] (\[script \S+\] )?wsgi-errors-(str|bytes|wl-1|wl-2|tail) e36$",))
def test_wsgi_errors_stream(server, mode, env, expect):
    want = expect["py3" if env.py3 else "py2"]
    script = server.ctx.apps / "wsgi_errors.wsgi"
    peer = r"127\.0\.0\.1:\d+" if server.install.version >= (2, 4) else r"127\.0\.0\.1"   # 2.2: no port
    prefix = r"\[(client|remote) %s\] " % peer + (
        re.escape("[script %s] " % script) if expect["names_script"] else "")

    def logged(text, timeout):
        return server.wait_for_log(r"(?m)%s%s$" % (prefix, re.escape(text)), since=offset, timeout=timeout)

    offset = server.log_size()
    marker = server.root / "run" / ("errors-%d" % time.monotonic_ns())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(fetch_json, server, "%s/write?tag=e36&s=3&started=%s" % (ERRORS_APP, marker))
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert time.monotonic() < deadline and not future.done(), "the request never got to its sleep"
            time.sleep(0.02)
        # The app now sleeps 3 s after its writes: the complete lines are in the log already.
        assert logged("wsgi-errors-wl-2 e36", 2.0), "complete lines did not reach the log during the request"
        assert not future.done(), "the request ended before the lines were checked"
        facts = future.result(timeout=30)
    got = {"class": facts["class"], "buffer": facts["buffer"],
           "attributes": dict((a, facts["attributes"].get(a)) for a in want["attributes"])}
    assert got == dict((k, want[k]) for k in got), got
    assert facts["str"] == {"returned": facts["str_length"] if want["str_returns_length"] else None}, facts["str"]
    assert facts["bytes"] == ({"raised": want["bytes_raise"]} if want["bytes_raise"] else {"returned": None})
    assert facts["writelines"] == {"returned": None}, facts["writelines"]
    lines = ["wsgi-errors-str e36", "wsgi-errors-wl-1 e36", "wsgi-errors-wl-2 e36"]
    lines += [] if want["bytes_raise"] else ["wsgi-errors-bytes e36"]
    assert logged("wsgi-errors-tail e36", 5.0), "the partial line did not reach the log at the request's end"
    text = server.read_log(offset)
    for line in lines + ["wsgi-errors-tail e36"]:
        assert len(re.findall(r"(?m)%s%s$" % (prefix, re.escape(line)), text)) == 1, "%r not logged once" % line


@case("ENV-037", "wsgi.errors kept past its request refuses writes with RuntimeError; nothing reaches the log")
def test_wsgi_errors_expired(server, mode):
    offset = server.log_size()
    kept = fetch_json(server, ERRORS_APP + "/keep")
    late = fetch_json(server, ERRORS_APP + "/late")
    assert late["pid"] == kept["pid"] and late["kept"], "the second request ran elsewhere: %s %s" % (kept, late)
    assert late["write"] == {"raised": "RuntimeError"}, late
    time.sleep(0.2)
    assert "wsgi-errors-late" not in server.read_log(offset)


# What a profile's mod_wsgi.Log type defines (vars(type)), observed per Python major; a
# string where no release of that profile runs on that Python, saying so.
LOG_TYPE = {"py3": ([str], str), "py2": ([str], str)}


@case("ENV-048", "the mod_wsgi.Log behind wsgi.errors (itself on 2.7 and under 3.4, the text wrapper's "
                 "buffer otherwise) defines exactly the release's attributes: no more (it is no "
                 "context manager), no fewer (softspace on Python 2)", expects=LOG_TYPE)
def test_log_type(server, mode, env, expect):
    want = expect["py3" if env.py3 else "py2"]
    if isinstance(want, str):
        pytest.skip("no observation: " + want)
    got = fetch_json(server, ERRORS_APP + "/log-type")
    assert (got["class"], got["defines"]) == ("mod_wsgi.Log", sorted(want)), got


@case("ENV-040", "40 request headers of 8000 bytes each (320 KB of environ) reach the app intact")
def test_large_request_headers(server, mode):
    sent = dict(("X-Big-%02d" % i, ("%02d" % i) * 4000) for i in range(40))
    got = fetch_json(server, "/probe/headers", headers=sent)["headers"]
    want = dict(("HTTP_X_BIG_%02d" % i, [len(v), hashlib.sha256(v.encode("latin-1")).hexdigest()])
                for i, v in enumerate(sent[k] for k in sorted(sent)))
    assert got == want, "headers lost or changed: %s" % sorted(set(want) ^ set(got))


@case("ENV-050", "40 response headers of 8000 bytes each (320 KB, more than a socket holds at once) reach "
                 "the client intact, with the body after them")
def test_large_response_headers(server, mode):
    resp = http(server, "/probe/big-response-headers?n=40&size=8000")
    got = dict((k.lower(), v) for k, v in resp.headers.items() if k.lower().startswith("x-big-"))
    want = dict(("x-big-%02d" % i, ("%02d" % i) * 4000) for i in range(40))
    assert (resp.status_code, resp.content) == (200, b"big headers sent\n"), (resp.status_code, resp.content[:200])
    assert got == want, "headers lost or changed: %s" % sorted(k for k in set(got) | set(want)
                                                             if got.get(k) != want.get(k))


SYS_STREAM = {"class": str, "buffer": _TEXT, "name": _TEXT, "encoding": _TEXT, "errors": _TEXT,
              "line_buffering": (bool, type(None))}
SYS_STREAMS = {"stdout": SYS_STREAM, "stderr": SYS_STREAM, "stdin": {"class": str}}


@case("ENV-046", "sys.stdout and sys.stderr in the app are the profile's streams (class, its buffer's "
                 "class, name, encoding, errors, line_buffering: on Python 3 under 5 and 6 a line-"
                 "buffered utf-8 TextIOWrapper over a mod_wsgi.Log, as wsgi.errors is), sys.stdin "
                 "the class the release leaves or puts there",
      expects={"py3": SYS_STREAMS, "py2": SYS_STREAMS})
def test_sys_streams(server, mode, env, expect):
    got = fetch_json(server, ERRORS_APP + "/streams")
    got.pop("pid")
    assert got == expect["py3" if env.py3 else "py2"], json.dumps(got, sort_keys=True)


LATE_ERRORS = ("write(line)", "write(partial)", "writelines", "flush")


@case("ENV-047", "wsgi.errors kept past its request: a line, a partial line, writelines and flush each "
                 "do what the profile's release does (RuntimeError with its message: 6 names the call; "
                 "flush 3.4 and 4.x refuse, 6 lets pass); none of it reaches the error log",
      expects={"py3": dict((k, OUTCOME) for k in LATE_ERRORS),
               "py2": dict((k, OUTCOME) for k in LATE_ERRORS)})
def test_wsgi_errors_late_calls(server, mode, env, expect):
    offset = server.log_size()
    kept = fetch_json(server, ERRORS_APP + "/keep")
    late = fetch_json(server, ERRORS_APP + "/late?all=1")
    assert late["pid"] == kept["pid"] and late["kept"], "the second request ran elsewhere: %s %s" % (kept, late)
    calls = dict((k, v) for k, v in late["calls"])
    for k, v in calls.items():     # what a call returns is its own business (None or a count)
        if "returned" in v:
            calls[k] = {"returned": "null" if v["returned"] is None else "count"}
    assert calls == expect["py3" if env.py3 else "py2"], late["calls"]
    fetch_json(server, ERRORS_APP + "/keep")      # a request after: the partial line stays unlogged
    time.sleep(0.3)
    assert "wsgi-errors-late" not in server.read_log(offset)


@case("ENV-049", "wsgi.file_wrapper returned after the write() callable sent bytes: the body is those "
                 "bytes, then the file from its tell() on, whole (with or without a Content-Length "
                 "covering both), and nothing is logged", site="directives")
def test_file_wrapper_after_write(server, mode):
    data = (server.ctx.apps / "file_after_write.wsgi").read_bytes()
    head = b"written-by-write()\n"
    for query, body in (("", head + data), ("?offset=7", head + data[7:]),
                        ("?length=1", head + data), ("?length=1&offset=30", head + data[30:])):
        resp = http(server, "/match/file_after_write" + query)
        assert (resp.status_code, resp.content) == (200, body), (query, resp.status_code, resp.content[:300])
        if "length=1" in query:
            assert resp.headers.get("Content-Length") == str(len(body)), (query, resp.headers)


@case("ENV-053", "the log object under wsgi.errors keeps no reference to what it writes (1000 writes of b'')")
def test_log_write_keeps_nothing(server, mode):
    got = fetch_json(server, "/probe/log-write-refs")
    assert got == {"refs_delta": 0, "error": None}, got
