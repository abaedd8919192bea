"""ERR: scripts and apps that fail, and configurations that are wrong.

An error path is judged on three things, all read from the profile (`expects=PATH_BY_MODE`):
the status (what the client sees and what Apache's access log records), the error-log lines
it produces (each named by a pattern for that one line, in order) and that nothing else is
logged at error level.  The helpers here are shared by the other areas' error paths."""

import json
import os
import re
import time

import pytest

from conformance.catalogue import case
from conformance.client import dechunk, fetch_json, get_request, http, keepalive_exchange, raw
from conformance.sites import SiteContext
from gateway import httpd

# The shape of an error path's expectation in the profiles: the status, and the log.
# `lines`: each entry a regex, or a list of alternatives (the releases' form, mod_gateway's),
# that exactly one logged line must match whole, in this order within each process; the
# text matched is "[module:level] message" (no time, pid or peer); "{apps}", "{root}" and
# "{port}" stand for the apps directory, the server root and the server's port.  `optional`: lines that may appear any
# number of times (a race, a daemon's restarts).  `traceback`: prefixes after which the lines
# of a Python traceback through the app's own files may appear (see _traceback_body).
# Any other line at error level fails the case.
# An optional line may be limited to Apache versions ("2.2": any 2.2.x) where only they write it.
LOG = {"lines": [(str, [str])], "optional?": [(str, {"line": str, "apache": [str]})], "traceback?": [str]}
PATH = {"status": int, "log": LOG}
PATH_BY_MODE = {"embedded": PATH, "daemon": PATH}
DAEMON_PATH = {"daemon": PATH}
NOTHING = {"lines": []}

_PEER = re.compile(r"\[(?:client|remote) [^\]]*\] ")
_TB_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line \d+, in [\w<>.]+$')
_TB_CARET = re.compile(r"^ +[~^]+ *$")


class Mark(object):
    """Where the error log and the access log stood before a request."""

    def __init__(self, server):
        self.server = server
        self.log = server.log_size()
        access = server.root / "access.log"
        self.access = access.stat().st_size if access.exists() else 0


def logged(server, since, until=None):
    """[(raw line, pid, "[module:level] message", at error level)] from offset `since` (to `until`)."""
    out = []
    for line in server.read_log(since, until).splitlines():
        parsed = httpd.parse_log_line(line, server.install.version)
        if parsed:
            pid, tag, rest = parsed
            out.append((line, pid, "%s %s" % (tag, _PEER.sub("", rest, 1)),
                        bool(httpd.LOG_FAILURE.search(line))))
        else:
            out.append((line, None, line, bool(httpd.LOG_FAILURE.search(line))))
    return out


def _app_sources(server):
    lines = set()
    for p in server.ctx.apps.iterdir():
        if p.is_file():
            lines.update(l.strip() for l in p.read_text(errors="replace").splitlines() if l.strip())
    return lines


def _traceback_body(body, server, sources):
    """Is `body` a line of a Python traceback through the app's files (or a blank line of one)?"""
    if body in ("", "Traceback (most recent call last):"):
        return True
    frame = _TB_FRAME.match(body)
    if frame:
        return frame.group("file").startswith(str(server.ctx.apps) + os.sep)
    if _TB_CARET.match(body):
        return True
    # Apache's error log doubles every backslash of a message ("a\\r\\n" for the source's "a\r\n").
    return body.startswith("    ") and body.strip().replace("\\\\", "\\") in sources


def _expand(pattern, server):
    apps = re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", str(server.ctx.apps))
    root = re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", str(server.root))
    pattern = pattern.replace("{apps}", apps).replace("{root}", root).replace("{port}", str(server.port))
    return httpd.log_pattern(pattern, server.install.version)


def _match(specs, lines):
    """Greedy, in order: the index of the line each spec matches (None where none does)."""
    used, found = set(), []
    for alts in specs:
        hit = None
        for i, (_, _, text, _) in enumerate(lines):
            if i not in used and any(re.fullmatch(a, text) for a in alts):
                hit = i
                break
        if hit is not None:
            used.add(hit)
        found.append(hit)
    return found


def _apache_is(server, version):
    """Is the server's Apache `version` ("2.2" or "2.4.12": a prefix of whole parts)?"""
    want = tuple(int(x) for x in version.split("."))
    return tuple(server.install.version[:len(want)]) == want


def optional_lines(server, spec):
    """The optional lines of a LOG `spec` that apply under the server's Apache."""
    return [a if isinstance(a, str) else a["line"] for a in spec.get("optional", [])
            if isinstance(a, str) or any(_apache_is(server, v) for v in a["apache"])]


def check_log(server, since, spec, timeout=10.0):
    """The error log since `since` holds one line per `spec["lines"]` entry, in that order
    within each process, and no other line at error level but `optional` ones and, where
    the spec allows them, traceback lines.  The accepted lines are added to the server's
    expected log (the plugin's discipline then passes exactly these)."""
    specs = [[_expand(a, server) for a in (alts if isinstance(alts, list) else [alts])]
             for alts in spec["lines"]]
    optional = [_expand(a, server) for a in optional_lines(server, spec)]
    deadline = time.monotonic() + timeout
    while True:
        lines = logged(server, since)
        found = _match(specs, lines)
        if None not in found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.3)   # what follows a line (a traceback, a second process's line) lands too
    lines = logged(server, since)
    found = _match(specs, lines)
    text = "\n".join(l[0] for l in lines[-40:])
    missing = [specs[k] for k, i in enumerate(found) if i is None]
    assert not missing, "no log line matches %s; logged:\n%s" % (missing, text)
    for k, i in enumerate(found):
        for j in found[:k]:
            assert lines[j][1] != lines[i][1] or j < i, (
                "log lines out of order: %r logged before %r" % (lines[i][2], lines[j][2]))
    sources = None
    accepted, extra = [lines[i][0] for i in found], []
    for i, (line, _, body, error) in enumerate(lines):
        if i in found or not error:
            continue
        if any(re.fullmatch(a, body) for a in optional) or any(re.search(p, line) for p in server.site_log):
            accepted.append(line)
            continue
        rest = [body[m.end():] for m in (re.match(_expand(p, server), body) for p in spec.get("traceback", []))
                if m]
        if sources is None and rest:
            sources = _app_sources(server)
        if any(_traceback_body(r, server, sources) for r in rest):
            accepted.append(line)
        else:
            extra.append(line)
    assert not extra, "logged at error level beside the expected lines:\n%s\n(all:\n%s)" % (
        "\n".join(extra), text)
    server.expected_log.extend("^%s$" % re.escape(line) for line in accepted)


def check_startup(server, until, alternatives):
    """Every line at error level the server wrote before byte `until` (its start-up, when
    the case is the first on its server) matches one of `alternatives` whole; they join the
    server's expected log."""
    alts = [_expand(a, server) for a in alternatives]
    lines = [(line, body) for line, _, body, error in logged(server, 0, until) if error]
    extra = [line for line, body in lines if not any(re.fullmatch(a, body) for a in alts)]
    assert not extra, "logged at error level at start-up beside the expected lines:\n%s" % "\n".join(extra)
    server.expected_log.extend("^%s$" % re.escape(line) for line, _ in lines)


def log_has(server, alternatives, since=0, timeout=10.0):
    """Some line since `since` matches one of `alternatives` whole (any level); returns it."""
    alts = [_expand(a, server) for a in alternatives]
    deadline = time.monotonic() + timeout
    while True:
        for _, _, text, _ in logged(server, since):
            if any(re.fullmatch(a, text) for a in alts):
                return text
        assert time.monotonic() < deadline, "no log line matches %s; logged:\n%s" % (
            alts, server.read_log(since)[-3000:])
        time.sleep(0.1)


def access_status(server, mark, method, path, timeout=10.0):
    """The status Apache's access log records for the request `method path` after `mark`."""
    want = re.compile(r'"%s %s HTTP/1\.[01]" (\d{3}) ' % (re.escape(method), re.escape(path)))
    log = server.root / "access.log"
    deadline = time.monotonic() + timeout
    while True:
        if log.exists():
            with open(str(log), "rb") as f:
                f.seek(mark.access)
                m = want.search(f.read().decode("latin-1"))
            if m:
                return int(m.group(1))
        assert time.monotonic() < deadline, "no access-log line for %s %s" % (method, path)
        time.sleep(0.1)


def check_error_path(server, mark, path_expect, method, path, seen=None):
    """The client saw the expected status (seen=None: it had gone), the access log records it,
    and the error log holds exactly the expected lines."""
    want = path_expect["status"]
    if seen is not None:
        assert seen == want, "status %d, expected %d" % (seen, want)
    got = access_status(server, mark, method, path)
    assert got == want, "the access log records %d for %s %s, expected %d" % (got, method, path, want)
    check_log(server, mark.log, path_expect["log"])


def error_path(server, mode, expect, path, **kw):
    """GET `path` and check it as this mode's error path; returns the response."""
    mark = Mark(server)
    resp = http(server, path, **kw)
    check_error_path(server, mark, expect[mode], "GET", path, resp.status_code)
    return resp


@case("ERR-001", "an import error gives 500 and the profile's log lines; the fixed script is served on "
      "the next request", expects=PATH_BY_MODE)
def test_import_error_recovers(server, mode, expect):
    error_path(server, mode, expect, "/imperr")
    script = server.ctx.apps / "import_error.wsgi"
    script.write_text("def application(environ, start_response):\n"
                      "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                      "    return [b'fixed']\n")
    future = time.time() + 2
    os.utime(str(script), (future, future))
    mark = Mark(server)
    resp = http(server, "/imperr")
    assert resp.status_code == 200 and resp.content == b"fixed"
    check_log(server, mark.log, NOTHING)


@case("ERR-031", "a script that fails at import after defining its callable fails the same way on the next "
      "request too (the half-run module is not kept): 500 and the profile's log lines both times",
      expects=PATH_BY_MODE)
def test_half_import_not_kept(server, mode, expect):
    for attempt in ("first", "second"):
        resp = error_path(server, mode, expect, "/halfimp")
        assert b"half-imported" not in resp.content, "%s request: the half-run module served" % attempt


@case("ERR-002", "a script without the callable gives the profile's status and its log line naming it",
      expects=PATH_BY_MODE)
def test_missing_callable(server, mode, expect):
    error_path(server, mode, expect, "/nocall")


@case("ERR-003", "a non-iterable result gives 500 and the profile's log lines; the server serves on",
      expects=PATH_BY_MODE)
def test_non_iterable(server, mode, expect):
    error_path(server, mode, expect, "/errs/noniterable")
    assert http(server, "/probe/env").status_code == 200


@case("ERR-004", "an exception before start_response gives 500 and the exception in the profile's log lines",
      expects=PATH_BY_MODE)
def test_exception(server, mode, expect):
    error_path(server, mode, expect, "/errs/raise")


@case("ERR-035", "a daemon process logging exceptions (each with a 2 KB message) keeps no memory of them: "
      "over each of three runs of 30, Python's traced memory (tracemalloc, Python 3) grows by less than "
      "16 KiB in at least one; each gives 500 and the profile's log lines", site="groups",
      modes=("daemon",), expects=DAEMON_PATH)
def test_logged_exceptions_leave_no_memory(server, mode, expect, env, metrics):
    # Daemon mode: one process (the group's) serves them all; Apache closes the connection
    # after each 500, so in embedded mode they would spread over the children.  A leak shows
    # in every run; a table of the interpreter's that doubles once (seen: 288 KiB at once on
    # 3.7-3.11, under every module) in one run only.
    if tuple(env.python_version[:2]) < (3, 4):
        pytest.skip("Python %d.%d has no tracemalloc (3.4 added it)" % tuple(env.python_version[:2]))
    runs, n, statuses, traced = 3, 30, [], []
    first = fetch_json(server, "/errs/tracemalloc")
    try:
        mark = Mark(server)
        statuses += [http(server, "/errs/raise-big").status_code for _ in range(5)]   # warms linecache
        for _ in range(runs):
            traced.append(fetch_json(server, "/errs/tracemalloc"))
            statuses += [http(server, "/errs/raise-big").status_code for _ in range(n)]
        traced.append(fetch_json(server, "/errs/tracemalloc"))
    finally:
        fetch_json(server, "/errs/tracemalloc?stop=1")
    assert set(t["pid"] for t in traced) == {first["pid"]}, "the daemon process changed during the case"
    assert statuses == [expect[mode]["status"]] * len(statuses), statuses
    log = dict(expect[mode]["log"], lines=expect[mode]["log"]["lines"] * len(statuses))
    check_log(server, mark.log, log)
    grown = [b["traced"] - a["traced"] for a, b in zip(traced, traced[1:])]
    metrics(traced_growth=grown)
    assert min(grown) < 16 << 10, "traced memory grew by %s bytes over runs of %d logged exceptions" % (grown, n)


@case("ERR-005", "start_response called twice before the body: the second call wins")
def test_start_response_twice(server, mode):
    resp = http(server, "/errs/twice")
    assert resp.status_code == 200 and resp.content == b"second wins"
    assert "X-Second" in resp.headers and "X-First" not in resp.headers


@case("ERR-006", "an exception after the body started leaves the response visibly truncated and is logged",
      expects=PATH_BY_MODE)
def test_exception_after_body(server, mode, expect):
    mark = Mark(server)
    data = raw(server, get_request("/errs/after-body"))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    check_error_path(server, mark, expect[mode], "GET", "/errs/after-body", 200)
    if b"chunked" in head.lower():
        payload, complete = dechunk(body)
        assert payload.startswith(b"first chunk")
        assert not complete, "the body ended with a clean terminating chunk: truncation is invisible"
    else:
        assert b"content-length" not in head.lower(), "a Content-Length would hide the truncation"


@case("ERR-007", "a missing script file gives 404 and the profile's log line naming the path",
      expects=PATH_BY_MODE)
def test_missing_script(server, mode, expect):
    error_path(server, mode, expect, "/missing")


@case("ERR-008", "a str body item: 500 and a log line on Python 3 in strict profiles, accepted where the "
      "profile allows (and on Python 2)", expects={"py3": PATH_BY_MODE})
def test_str_body(server, mode, env, expect):
    if not env.py3:
        mark = Mark(server)
        assert http(server, "/errs/str-body").status_code == 200
        check_log(server, mark.log, NOTHING)
    else:
        error_path(server, mode, expect["py3"], "/errs/str-body")


@case("ERR-009", "an invalid status line ('OK') gives 500 and the profile's log lines", expects=PATH_BY_MODE)
def test_bad_status(server, mode, expect):
    error_path(server, mode, expect, "/errs/bad-status")


@case("ERR-029", "a status without its reason phrase ('200'): the profile's status and log lines (6.x "
      "accepts it and Apache sends the code's own phrase; 3.4 and 4.x-5.x answer 500)", expects=PATH_BY_MODE)
def test_bare_status(server, mode, expect):
    resp = error_path(server, mode, expect, "/errs/bare-status")
    if resp.status_code == 200:
        assert (resp.reason, resp.content) == ("OK", b"bare status"), (resp.reason, resp.content)


@case("ERR-010", "a header value with CR/LF gives 500 and the profile's log lines; neither it nor the "
      "headers given with it are sent", expects=PATH_BY_MODE)
def test_crlf_header(server, mode, expect):
    resp = error_path(server, mode, expect, "/errs/crlf-header")
    assert "X-Injected" not in resp.headers
    assert "X-Probe-Leak" not in resp.headers, "a header of the refused start_response was sent"


BAD_HEADERS = ("int-header-name", "int-header-value", "list-header", "three-tuple-header")


@case("ERR-026", "a response header item that is not a pair of strings (an int name or value, a list, a "
      "3-tuple) gives 500 and the profile's log lines; no header of that call is sent",
      expects={m: dict([(a, PATH) for a in BAD_HEADERS] + [(a + "/py2?", PATH) for a in BAD_HEADERS])
               for m in ("embedded", "daemon")})
def test_bad_header_item(server, mode, expect, env):
    failed = []
    for action in BAD_HEADERS:      # each judged, so one run names every item that fails
        # Python 2's own lines where its message differs (4.x names no header part there)
        key = action + "/py2" if not env.py3 and action + "/py2" in expect[mode] else action
        try:
            resp = error_path(server, mode, {mode: expect[mode][key]}, "/errs/" + action)
            assert "X-Probe-Leak" not in resp.headers, "a header of the refused call was sent"
        except AssertionError as e:
            failed.append("%s: %s" % (action, e))
    assert not failed, "\n\n".join(failed)


@case("ERR-027", "an empty response header name gives 500 and the profile's log lines; no header of that "
      "call is sent", expects=PATH_BY_MODE)
def test_empty_header_name(server, mode, expect):
    resp = error_path(server, mode, expect, "/errs/empty-name-header")
    assert "X-Probe-Leak" not in resp.headers, "a header of the refused start_response was sent"


@case("ERR-034", "a response Content-Length that is not a number gives 500 and the profile's log lines; no "
      "header of that call is sent", expects=PATH_BY_MODE)
def test_bad_content_length(server, mode, expect):
    resp = error_path(server, mode, expect, "/errs/bad-content-length")
    assert "X-Probe-Leak" not in resp.headers, "a header of the refused response was sent"


@case("ERR-036", "an app's 401 with WWW-Authenticate reaches the client as the app gave it: status, the "
      "challenge, its other headers and body, nothing logged")
def test_unauthorized(server, mode):
    mark = Mark(server)
    resp = http(server, "/errs/unauthorized")
    assert resp.status_code == 401, resp.status_code
    got = (resp.headers.get("WWW-Authenticate"), resp.headers.get("X-Probe-Auth"), resp.content)
    assert got == ('Basic realm="probe"', "1", b"authorization required"), (got, dict(resp.headers))
    check_log(server, mark.log, NOTHING)


@case("ERR-037", "a response header value with a control character other than CR/LF (start_response lets "
      "it through) is refused by Apache: a 500 without that header or any of the app's body, the profile's "
      "log lines, the app's output stopped (of 200 items 5 ms apart it is not asked for them all), and the next "
      "request on the connection answered or the connection closed", expects=PATH_BY_MODE)
def test_control_char_header_refused(server, mode, expect, env):
    if env.install.version < (2, 4, 25):
        pytest.skip("Apache before 2.4.25 passes response headers on unchecked (AH02430 came with 2.4.25)")
    out = server.root / "run" / ("ctl-%d.json" % time.time_ns())
    path = "/errs/ctl-header?out=%s" % out
    mark = Mark(server)
    head, body, closed, again = keepalive_exchange(server, path)
    check_error_path(server, mark, expect[mode], "GET", path, int(head.split(b" ")[1]))
    deadline = time.monotonic() + 5
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.exists(), "the app's close() was not called within 5 s"
    taken = json.loads(out.read_text())["taken"]
    assert taken < 200, "the server took all %d body items after Apache refused the response" % taken
    assert b"x-ctl" not in head.lower(), head
    assert b"app body after a refused header" not in body + again, (body + again)[:300]
    assert closed or again.startswith(b"HTTP/1.1 200 "), "the next request got %r" % again[:200]


@case("ERR-011", "no more than Content-Length bytes are sent")
def test_content_length_truncation(server, mode):
    resp = http(server, "/errs/content-length")
    assert resp.status_code == 200 and resp.content == b"x" * 100


@case("ERR-012", "an app that never calls start_response gives 500 and the profile's log lines",
      expects=PATH_BY_MODE)
def test_no_start_response(server, mode, expect):
    error_path(server, mode, expect, "/errs/no-start-response")


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
    srv = httpd.Server(env.install, root, mpm=env.mpm, module_lines=env.target.load_lines(),
                       fragments=ctx.common() + fragment(ctx))
    with pytest.raises(httpd.ConfigError) as info:
        srv.check()
    return info.value.output


# A config error's expectation: the line of `httpd -t`'s output that names the problem, as a
# pattern matched whole, or a list of alternatives (the releases' line, mod_gateway's, which
# also names the offending option or group).
CONFIG_ERROR = {"line": (str, [str])}


def config_error(env, tmp_path, expect, fragment, mode="embedded"):
    out = _config_rejected(env, tmp_path, fragment, mode)
    want = expect["line"] if isinstance(expect["line"], list) else [expect["line"]]
    lines = [ln.strip() for ln in out.splitlines()]
    assert any(re.fullmatch(p, ln) for p in want for ln in lines), (
        "no line of the config check matches %s:\n%s" % (want, out))


@case("ERR-015", "an unknown WSGIDaemonProcess option is a config error with the profile's message",
      site="none", modes=("daemon",), expects=CONFIG_ERROR)
def test_bad_daemon_option(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: ["WSGIDaemonProcess bad no-such-option=1"], mode)


@case("ERR-016", "an unknown WSGIScriptAlias option is a config error with the profile's message", site="none",
      modes=("embedded",), expects=CONFIG_ERROR)
def test_bad_alias_option(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect,
                 lambda c: ["WSGIScriptAlias /x %s/probe.wsgi no-such-option=1" % c.apps])


@case("ERR-017", "a duplicate WSGIDaemonProcess name is a config error with the profile's message", site="none",
      modes=("daemon",), expects=CONFIG_ERROR)
def test_duplicate_group(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: ["WSGIDaemonProcess dup", "WSGIDaemonProcess dup"], mode)


@case("ERR-018", "WSGIPythonHome inside a VirtualHost is a config error with the profile's message", site="none",
      modes=("embedded",), expects=CONFIG_ERROR)
def test_server_only_directive(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: ["<VirtualHost 127.0.0.1:*>", "WSGIPythonHome /usr",
                                                   "</VirtualHost>"])


@case("ERR-019", "a WSGIDaemonProcess option with a bad value (processes=0) is a config error with the profile's message",
      site="none", modes=("daemon",), expects=CONFIG_ERROR)
def test_bad_option_value(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: ["WSGIDaemonProcess bad processes=0"], mode)


@case("ERR-028", "WSGICompatibility inside a VirtualHost is a config error (a release does not know the "
      "directive: its unknown-command error)", site="none", modes=("embedded",), expects=CONFIG_ERROR)
def test_compatibility_server_only(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: ["<VirtualHost 127.0.0.1:*>", "WSGICompatibility 5",
                                                   "</VirtualHost>"])


@case("ERR-030", "a WSGIImportScript option that is not name=value is a config error with the profile's "
      "message", site="none", modes=("embedded",), expects=CONFIG_ERROR)
def test_import_script_bad_option(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: ["WSGIImportScript %s/probe.wsgi nonsense" % c.apps])


@case("ERR-032", "a WSGIImportScript option with a name it does not take (process=) is a config error with "
      "the profile's message", site="none", modes=("embedded",), expects=CONFIG_ERROR)
def test_import_script_unknown_option(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: [
        "WSGIImportScript %s/probe.wsgi process=main application-group=%%{GLOBAL}" % c.apps])


@case("ERR-033", "WSGIMapHEADToGET with a value other than On, Off or Auto is a config error with the "
      "profile's message (3.4: the directive is unknown)", site="none", modes=("embedded",),
      expects=CONFIG_ERROR)
def test_map_head_bad_value(env, mode, tmp_path, expect):
    config_error(env, tmp_path, expect, lambda c: ["WSGIMapHEADToGET Sometimes"])


def _py3_only(env):
    if not env.py3:
        pytest.skip("Python 2 has no exception chaining")


@case("ERR-020", "an exception raised from another (raise X from Y) is logged whole: both exceptions, "
      "the cause first, joined by Python's cause line", expects=PATH_BY_MODE)
def test_exception_cause_chain(server, mode, env, expect):
    _py3_only(env)
    error_path(server, mode, expect, "/errs/chain-cause")


@case("ERR-021", "an exception raised while handling another is logged whole: both exceptions, the first "
      "one first, joined by Python's context line", expects=PATH_BY_MODE)
def test_exception_context_chain(server, mode, env, expect):
    _py3_only(env)
    error_path(server, mode, expect, "/errs/chain-context")


def _no_leak(resp):
    assert "X-Probe-Leak" not in resp.headers, (
        "the 500 carries a header the app set before failing: %s" % dict(resp.headers))


@case("ERR-022", "headers given to start_response before an exception (no body yet) are not in the 500",
      expects=PATH_BY_MODE)
def test_headers_not_leaked_on_raise(server, mode, expect):
    _no_leak(error_path(server, mode, expect, "/errs/leak-raise"))


@case("ERR-023", "headers given to start_response are not in the 500 when the iterable fails before its "
      "first item", expects=PATH_BY_MODE)
def test_headers_not_leaked_on_iter(server, mode, expect):
    _no_leak(error_path(server, mode, expect, "/errs/leak-iter"))


@case("ERR-024", "headers given to start_response are not in the 500 when the iterable fails after an "
      "empty item", expects=PATH_BY_MODE)
def test_headers_not_leaked_after_empty(server, mode, expect):
    _no_leak(error_path(server, mode, expect, "/errs/leak-empty"))


@case("ERR-025", "a request body cut short (Content-Length 1000, 10 bytes, the client leaves) fails the "
      "app's read: the profile's status in the access log and its log lines; Python (3) holds no more memory "
      "after the failed read than before it (tracemalloc: under 16 KiB more in one of three tries)",
      expects=PATH_BY_MODE)
def test_body_read_fails(server, mode, expect, env, metrics):
    import socket
    grown = []
    for i in range(3):  # a table of the interpreter's may double once inside one try
        out = server.root / "run" / ("read-body-%d-%d.json" % (time.time_ns(), i))   # run/: the child user's
        path = "/errs/read-body?out=%s" % out
        mark = Mark(server)
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n"
                  b"Content-Type: application/octet-stream\r\n\r\n0123456789")
        time.sleep(0.3)
        s.close()
        check_error_path(server, mark, expect[mode], "POST", path)
        grown.append(json.loads(out.read_text())["grown"])
    metrics(traced_growth=grown)
    if tuple(env.python_version[:2]) >= (3, 4):
        assert min(grown) < 16 << 10, "Python holds %s bytes more after each failed read" % grown
    else:   # no tracemalloc before 3.4: the app says it could not measure
        assert grown == [None] * 3, grown
