"""ERR: scripts and apps that fail, and configurations that are wrong."""

import os
import time

import pytest

from conformance.catalogue import case
from conformance.client import dechunk, get_request, http, raw
from conformance.sites import SiteContext
from gateway import httpd

# A failing app produces a traceback; these say which lines a case expects.
TRACEBACK = (r"Traceback|File \"|Error|Exception|exception|mod_wsgi|mod_gateway|WSGI|\[wsgi:error\]",)


def status_for(expect, mode):
    return expect[mode] if isinstance(expect, dict) else expect


@case("ERR-001", "an import error gives 500 and a log line; the fixed script is served on the next request",
      expect_log=TRACEBACK)
def test_import_error_recovers(server, mode):
    offset = server.log_size()
    assert http(server, "/imperr").status_code == 500
    assert server.wait_for_log(r"import_error\.wsgi", since=offset), "no log line names the script"
    script = server.ctx.apps / "import_error.wsgi"
    script.write_text("def application(environ, start_response):\n"
                      "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                      "    return [b'fixed']\n")
    future = time.time() + 2
    os.utime(str(script), (future, future))
    resp = http(server, "/imperr")
    assert resp.status_code == 200 and resp.content == b"fixed"


@case("ERR-002", "a script without the callable gives the profile's status and a log line naming it",
      expect_log=(r"no_callable\.wsgi|application",),
      expects={"embedded": int, "daemon": int})
def test_missing_callable(server, mode, expect):
    offset = server.log_size()
    assert http(server, "/nocall").status_code == status_for(expect, mode)
    assert server.wait_for_log(r"no_callable\.wsgi", since=offset)


@case("ERR-003", "a non-iterable result gives 500", expect_log=TRACEBACK)
def test_non_iterable(server, mode):
    assert http(server, "/errs/noniterable").status_code == 500
    assert http(server, "/probe/env").status_code == 200


@case("ERR-004", "an exception before start_response gives 500 and the exception in the log",
      expect_log=TRACEBACK)
def test_exception(server, mode):
    offset = server.log_size()
    assert http(server, "/errs/raise").status_code == 500
    assert server.wait_for_log(r"probe failure before start_response", since=offset)


@case("ERR-005", "start_response called twice before the body: the second call wins")
def test_start_response_twice(server, mode):
    resp = http(server, "/errs/twice")
    assert resp.status_code == 200 and resp.content == b"second wins"
    assert "X-Second" in resp.headers and "X-First" not in resp.headers


@case("ERR-006", "an exception after the body started leaves the response visibly truncated",
      expect_log=TRACEBACK)
def test_exception_after_body(server, mode):
    data = raw(server, get_request("/errs/after-body"))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    if b"chunked" in head.lower():
        payload, complete = dechunk(body)
        assert payload.startswith(b"first chunk")
        assert not complete, "the body ended with a clean terminating chunk: truncation is invisible"
    else:
        assert b"content-length" not in head.lower(), "a Content-Length would hide the truncation"


@case("ERR-007", "a missing script file gives 404 and a log line naming the path",
      expect_log=(r"does_not_exist\.wsgi",))
def test_missing_script(server, mode):
    offset = server.log_size()
    assert http(server, "/missing").status_code == 404
    assert server.wait_for_log(r"does_not_exist\.wsgi", since=offset)


@case("ERR-008", "a str body item: 500 on Python 3 in strict profiles, accepted where the profile allows",
      expect_log=TRACEBACK,
      expects={"py3": int})
def test_str_body(server, mode, env, expect):
    resp = http(server, "/errs/str-body")
    if not env.py3:
        assert resp.status_code == 200
    else:
        assert resp.status_code == expect["py3"]


@case("ERR-009", "an invalid status line ('OK') gives 500", expect_log=TRACEBACK)
def test_bad_status(server, mode):
    assert http(server, "/errs/bad-status").status_code == 500


@case("ERR-010", "a header value with CR/LF gives 500 and is never sent", expect_log=TRACEBACK)
def test_crlf_header(server, mode):
    resp = http(server, "/errs/crlf-header")
    assert resp.status_code == 500
    assert "X-Injected" not in resp.headers


@case("ERR-011", "no more than Content-Length bytes are sent")
def test_content_length_truncation(server, mode):
    resp = http(server, "/errs/content-length")
    assert resp.status_code == 200 and resp.content == b"x" * 100


@case("ERR-012", "an app that never calls start_response gives 500", expect_log=TRACEBACK)
def test_no_start_response(server, mode):
    assert http(server, "/errs/no-start-response").status_code == 500


@case("ERR-013", "close() of the returned iterable is called")
def test_close_called(server, mode):
    # One keep-alive connection stays with one Apache child; in daemon mode the group has
    # one process, so the counter read before and after is the one close() bumped.
    import requests
    with requests.Session() as s:
        before = int(s.get(server.url + "/errs/closed-count").text)
        assert s.get(server.url + "/errs/closing").content == b"closing body"
        after = int(s.get(server.url + "/errs/closed-count").text)
    assert after == before + 1, "close() count went %d -> %d" % (before, after)


@case("ERR-014", "write() output comes before the iterable's, in order")
def test_write_callable(server, mode):
    assert http(server, "/errs/write").content == b"written;iterated"


def _config_rejected(env, tmp_path, fragment, mode="embedded"):
    root = tmp_path / "srv"
    root.mkdir()
    ctx = SiteContext(root, env, mode)
    ctx.copy_apps()
    srv = httpd.Server(env.install, root, mpm=env.mpm, module_lines=[env.target.load_line()],
                       fragments=ctx.common() + fragment(ctx))
    with pytest.raises(httpd.ConfigError) as info:
        srv.check()
    return info.value.output


@case("ERR-015", "an unknown WSGIDaemonProcess option is a config error naming the directive",
      site="none", modes=("daemon",))
def test_bad_daemon_option(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path, lambda c: ["WSGIDaemonProcess bad no-such-option=1"])
    assert "WSGIDaemonProcess" in out or "daemon process" in out, out


@case("ERR-016", "an unknown WSGIScriptAlias option is a config error", site="none", modes=("embedded",))
def test_bad_alias_option(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path,
                           lambda c: ["WSGIScriptAlias /x %s/probe.wsgi no-such-option=1" % c.apps])
    assert "WSGIScriptAlias" in out or "script alias" in out.lower(), out


@case("ERR-017", "a duplicate WSGIDaemonProcess name is a config error", site="none", modes=("daemon",))
def test_duplicate_group(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path, lambda c: ["WSGIDaemonProcess dup", "WSGIDaemonProcess dup"])
    assert "dup" in out.lower() or "WSGIDaemonProcess" in out, out


@case("ERR-018", "WSGIPythonHome inside a VirtualHost is a config error", site="none", modes=("embedded",))
def test_server_only_directive(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path, lambda c: ["<VirtualHost 127.0.0.1:*>",
                                                     "WSGIPythonHome /usr", "</VirtualHost>"])
    assert "WSGIPythonHome" in out, out


@case("ERR-019", "a WSGIDaemonProcess option with a bad value (processes=0) is a config error",
      site="none", modes=("daemon",))
def test_bad_option_value(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path, lambda c: ["WSGIDaemonProcess bad processes=0"])
    assert "WSGIDaemonProcess" in out or "process" in out.lower(), out
