"""DIR: the per-directive behaviour of mod_wsgi's configuration directives."""

import os
import socket
import time

import pytest

from conformance.catalogue import case
from conformance.client import environ, fetch_json, http
from conformance.cases.test_err import _config_rejected


def rewrite_version(path, version):
    text = path.read_text().replace("VERSION = 1", "VERSION = %d" % version)
    path.write_text(text)
    future = time.time() + 2
    os.utime(str(path), (future, future))


@case("DIR-001", "WSGIScriptAliasMatch maps a regex to a script; SCRIPT_NAME is the matched part",
      site="directives")
def test_alias_match(server, mode):
    env, _ = environ(server, "/match/probe/env/x")
    assert (env["SCRIPT_NAME"]["value"], env["PATH_INFO"]["value"]) == ("/match/probe", "/env/x")


@case("DIR-002", "WSGICallableObject names the callable to run", site="directives")
def test_callable_object(server, mode):
    assert fetch_json(server, "/callable") == {"callable": "alt_application"}


@case("DIR-003", "the callable-object= option of WSGIScriptAlias names the callable", site="directives")
def test_callable_option(server, mode):
    assert fetch_json(server, "/calloption") == {"callable": "alt_application"}


@case("DIR-004", "with WSGIScriptReloading On (default) a changed script is served anew, without errors",
      site="directives")
def test_reload_on(server, mode):
    assert http(server, "/reload-on").text.split()[0] == "1"
    rewrite_version(server.ctx.apps / "reload_on.wsgi", 2)
    deadline = time.monotonic() + 10
    seen = []
    while time.monotonic() < deadline:
        r = http(server, "/reload-on")
        assert r.status_code == 200, "status %d while reloading" % r.status_code
        seen.append(r.text.split()[0])
        if seen[-1] == "2":
            break
        time.sleep(0.2)
    assert seen[-1] == "2", "script change never picked up: %s" % seen


@case("DIR-005", "with WSGIScriptReloading Off a changed script is not reloaded", site="directives")
def test_reload_off(server, mode):
    first = http(server, "/reload-off").text.split()
    rewrite_version(server.ctx.apps / "reload_off.wsgi", 2)
    for _ in range(5):
        r = http(server, "/reload-off").text.split()
        if r[1] == first[1]:
            assert r[0] == "1", "reloaded although WSGIScriptReloading Off"


@case("DIR-006", "WSGIPassAuthorization On passes the Authorization header as HTTP_AUTHORIZATION; Off hides it",
      site="directives")
def test_pass_authorization(server, mode):
    auth = {"Authorization": "Basic dXNlcjpwYXNz"}
    on, _ = environ(server, "/auth-on/env", headers=auth)
    off, _ = environ(server, "/auth-off/env", headers=auth)
    assert on["HTTP_AUTHORIZATION"]["value"] == "Basic dXNlcjpwYXNz"
    assert "HTTP_AUTHORIZATION" not in off


def chunked_post(server, path, body):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = ("POST %s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n" % path).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:5], body[5:])) + b"0\r\n\r\n"
    s.sendall(head + chunks)
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


@case("DIR-007", "WSGIChunkedRequest On de-chunks request bodies; Off answers 411", site="directives",
      expect_log=(r"chunked|411|Length",))
def test_chunked_request(server, mode):
    status, body = chunked_post(server, "/chunked-on/echo", b"hello chunked world")
    assert status == 200 and body.endswith(b"hello chunked world"), (status, body[:200])
    status, _ = chunked_post(server, "/chunked-off/echo", b"hello chunked world")
    assert status == 411


@case("DIR-008", "WSGIMapHEADToGET On shows a HEAD as GET to the app; Off keeps HEAD", site="directives",
      profiles=("5", "6"))
def test_map_head(server, mode):
    on = http(server, "/head-get/env", method="HEAD")
    off = http(server, "/head-keep/env", method="HEAD")
    assert on.status_code == off.status_code == 200 and on.content == off.content == b""
    assert on.headers["X-Probe-Method"] == "GET"
    assert off.headers["X-Probe-Method"] == "HEAD"


@case("DIR-009", "WSGIRestrictStdout On makes sys.stdout raise; WSGIRestrictStdin On the same for stdin",
      site="serverwide", modes=("embedded",), expect_log=(r"restricted|stdout|stdin",))
def test_restrict_stdio(server, mode):
    assert fetch_json(server, "/probe/stdout")["restricted"] is True
    assert fetch_json(server, "/probe/stdin")["restricted"] is True


@case("DIR-010", "WSGIPythonOptimize 1 sets sys.flags.optimize", site="serverwide", modes=("embedded",))
def test_optimize(server, mode):
    assert fetch_json(server, "/probe/sys")["optimize"] == 1


@case("DIR-011", "WSGIRestrictSignal (default On) ignores signal.signal, returns the handler and logs it",
      expect_log=(r"[Ss]ignal",))
def test_restrict_signal(server, mode):
    offset = server.log_size()
    assert fetch_json(server, "/probe/signal")["returned_same"] is True
    assert server.wait_for_log(r"[Ss]ignal", since=offset)


@case("DIR-012", "WSGILazyInitialization is accepted where the profile has it, rejected where removed (6.x)",
      site="none", modes=("embedded",),
      expects={"rejected": bool})
def test_lazy_initialization(env, mode, tmp_path, expect):
    from conformance.sites import SiteContext
    from gateway import httpd
    if expect["rejected"]:
        out = _config_rejected(env, tmp_path, lambda c: ["WSGILazyInitialization On"])
        assert "WSGILazyInitialization" in out
    else:
        root = tmp_path / "srv"
        root.mkdir()
        ctx = SiteContext(root, env, mode)
        ctx.copy_apps()
        srv = httpd.Server(env.install, root, mpm=env.mpm, module_lines=[env.target.load_line()],
                           fragments=ctx.common() + ["WSGILazyInitialization On"])
        srv.check()


@case("DIR-013", "WSGIMapHEADToGET does not exist in 3.4: a config error", site="none", modes=("embedded",),
      profiles=("3.4",))
def test_no_map_head_in_34(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path, lambda c: ["WSGIMapHEADToGET On"])
    assert "WSGIMapHEADToGET" in out


@case("DIR-014", "a daemon option 3.4 did not have (queue-timeout) is a config error under 3.4",
      site="none", modes=("daemon",), profiles=("3.4",))
def test_34_daemon_option(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path, lambda c: ["WSGIDaemonProcess g queue-timeout=10"])
    assert "WSGIDaemonProcess" in out or "daemon process" in out.lower()
