"""DIR: the per-directive behaviour of mod_wsgi's configuration directives."""

import re
import os
import socket
import time

import pytest

from conformance.catalogue import case
from conformance.client import burst, environ, fetch_json, http, raw
from conformance.cases.test_err import (Mark, PATH, _config_rejected, check_error_path, log_has)


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
    first = http(server, "/reload-off")
    assert first.status_code == 200, first.text[:300]
    rewrite_version(server.ctx.apps / "reload_off.wsgi", 2)
    for _ in range(5):
        # every request is served by the module already loaded in its process (200, VERSION 1)
        resp = http(server, "/reload-off")
        assert resp.status_code == 200, resp.text[:300]
        version, pid = resp.text.split()
        if pid == first.text.split()[1]:
            assert version == "1", "reloaded although WSGIScriptReloading Off"


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


CHUNKED = {"on": PATH, "off": PATH}


@case("DIR-007", "WSGIChunkedRequest On de-chunks request bodies (where the profile answers 200); Off answers "
      "411 with the profile's log line", site="directives",
      expects={"embedded": CHUNKED, "daemon": CHUNKED})
def test_chunked_request(server, mode, expect):
    mark = Mark(server)
    status, body = chunked_post(server, "/chunked-on/echo", b"hello chunked world")
    check_error_path(server, mark, expect[mode]["on"], "POST", "/chunked-on/echo", status)
    if status == 200:
        assert body.endswith(b"hello chunked world"), body[:200]
    mark = Mark(server)
    status, _ = chunked_post(server, "/chunked-off/echo", b"hello chunked world")
    check_error_path(server, mark, expect[mode]["off"], "POST", "/chunked-off/echo", status)


@case("DIR-008", "WSGIMapHEADToGET On shows a HEAD as GET to the app; Off keeps HEAD", site="directives")
def test_map_head(server, mode):
    on = http(server, "/head-get/env", method="HEAD")
    off = http(server, "/head-keep/env", method="HEAD")
    assert on.status_code == off.status_code == 200 and on.content == off.content == b""
    assert on.headers["X-Probe-Method"] == "GET"
    assert off.headers["X-Probe-Method"] == "HEAD"


@case("DIR-009", "WSGIRestrictStdout On makes sys.stdout raise; WSGIRestrictStdin On the same for stdin",
      site="serverwide", modes=("embedded",))
def test_restrict_stdio(server, mode):
    assert fetch_json(server, "/probe/stdout")["restricted"] is True
    assert fetch_json(server, "/probe/stdin")["restricted"] is True


@case("DIR-010", "WSGIPythonOptimize 1 sets sys.flags.optimize", site="serverwide", modes=("embedded",))
def test_optimize(server, mode):
    assert fetch_json(server, "/probe/sys")["optimize"] == 1


@case("DIR-011", "WSGIRestrictSignal (default On) ignores signal.signal, returns the handler and logs the "
      "profile's line for it (not at error level)", expects={"line": [str]})
def test_restrict_signal(server, mode, expect):
    mark = Mark(server)
    assert fetch_json(server, "/probe/signal")["returned_same"] is True
    log_has(server, expect["line"], since=mark.log)


@case("DIR-012", "WSGILazyInitialization is accepted where the profile has it, rejected where removed (6.x)",
      site="none", modes=("embedded",),
      expects={"rejected": bool})
def test_lazy_initialization(env, mode, tmp_path, expect):
    _directive_in_profile(env, mode, tmp_path, expect, "WSGILazyInitialization On")


def _directive_in_profile(env, mode, tmp_path, expect, line):
    """`line` is refused by httpd -t (naming the directive) or accepted, as the profile says."""
    from conformance.sites import SiteContext
    from gateway import httpd
    if expect["rejected"]:
        out = _config_rejected(env, tmp_path, lambda c: [line])
        assert line.split()[0] in out
    else:
        root = tmp_path / "srv"
        root.mkdir()
        ctx = SiteContext(root, env, mode)
        ctx.copy_apps()
        srv = httpd.Server(env.install, root, mpm=env.mpm, module_lines=env.target.load_lines(),
                           fragments=ctx.common() + [line])
        srv.check()


@case("DIR-013", "WSGIMapHEADToGET is a config error where the profile lacks it (3.4), accepted elsewhere",
      site="none", modes=("embedded",), expects={"rejected": bool})
def test_map_head_directive(env, mode, tmp_path, expect):
    _directive_in_profile(env, mode, tmp_path, expect, "WSGIMapHEADToGET On")


@case("DIR-014", "a daemon option 3.4 did not have (queue-timeout) is a config error under 3.4",
      site="none", modes=("daemon",), profiles=("3.4",))
def test_34_daemon_option(env, mode, tmp_path):
    out = _config_rejected(env, tmp_path, lambda c: ["WSGIDaemonProcess g queue-timeout=10"])
    assert "WSGIDaemonProcess" in out or "daemon process" in out.lower()


@case("DIR-016", "the directives a release lacks are config errors (httpd -t names them) and the ones it "
                 "has are accepted: WSGIIgnoreActivity, WSGITrustedProxies and WSGITrustedProxyHeaders "
                 "(4.x on), WSGISwitchInterval, WSGIPerInterpreterGIL and WSGIFreeThreading (6.x only), "
                 "WSGIPy3kWarningFlag (before 6.x, built for Python 2 only)",
      site="none", modes=("embedded",), expects={"rejected": [str], "accepted": [str]})
def test_directives_of_release(env, mode, tmp_path, expect):
    # Every release defines WSGIPy3kWarningFlag only under PY_MAJOR_VERSION == 2 (3.4, 4.9.4,
    # 5.0.2; 6.x has none), so where it exists depends on the Python, not only the profile.
    py3k = "WSGIPy3kWarningFlag Off"
    known = expect["accepted"] + ([] if env.py3 or env.profile.name == "6" else [py3k])
    lacking = expect["rejected"] + ([py3k] if env.py3 or env.profile.name == "6" else [])
    for line in lacking:
        (tmp_path / line.split()[0]).mkdir()
        out = _config_rejected(env, tmp_path / line.split()[0], lambda c: [line])
        assert line.split()[0] in out, "%r: %s" % (line, out[-500:])
    from conformance.sites import SiteContext
    from gateway import httpd
    root = tmp_path / "srv"
    root.mkdir()
    ctx = SiteContext(root, env, mode)
    ctx.copy_apps()
    httpd.Server(env.install, root, mpm=env.mpm, module_lines=env.target.load_lines(),
                 fragments=ctx.common() + known).check()


@case("DIR-018", "WSGIImportScript needs both groups: without application-group (or without "
                 "process-group) it is a config error saying which is required", site="none",
      modes=("embedded",))
def test_import_script_needs_groups(env, mode, tmp_path):
    for missing, given in (("application group", "process-group=%{GLOBAL}"),
                           ("process group", "application-group=%{GLOBAL}")):
        where = tmp_path / missing.split()[0]
        where.mkdir()
        out = _config_rejected(env, where, lambda c: ["WSGIImportScript %s/preload.wsgi %s" % (c.apps, given)])
        assert "Name of WSGI %s required." % missing in out, out[-500:]


# Each option WSGIScriptAlias takes (and two it never took), an option without a value and
# empty group names, given to WSGIImportScript beside both groups.
IMPORT_OPTIONS = ("callable-object=application", "pass-authorization=On", "script-reloading=On",
                  "no-such-option=1", "bare-word", "application-group=", "process-group=")


@case("DIR-019", "WSGIImportScript takes process-group and application-group only: every other "
                 "option (callable-object, pass-authorization, ...) is a config error with the "
                 "release's text, an empty group name another; both groups alone are accepted",
      site="none", modes=("embedded",), expects={"errors": dict((k, str) for k in IMPORT_OPTIONS)})
def test_import_script_options(env, mode, tmp_path, expect):
    def line(c, option):
        words = ["process-group=%{GLOBAL}", "application-group=%{GLOBAL}"]
        key = option.split("=")[0] + "="
        words = [w for w in words if not w.startswith(key)] + [option]
        return "WSGIImportScript %s/preload.wsgi %s" % (c.apps, " ".join(words))

    got = {}
    for i, option in enumerate(IMPORT_OPTIONS):
        where = tmp_path / ("o%d" % i)
        where.mkdir()
        out = _config_rejected(env, where, lambda c: [line(c, option)])
        said = [l.strip() for l in out.splitlines() if "import script" in l.lower() or "WSGI" in l]
        got[option] = said[-1] if said else out.strip().splitlines()[-1]
    want = dict((k, v) for k, v in expect["errors"].items())
    assert all(want[k] in got[k] for k in want), got
    from conformance.sites import SiteContext
    from gateway import httpd
    root = tmp_path / "srv"
    root.mkdir()
    ctx = SiteContext(root, env, mode)
    ctx.copy_apps()
    httpd.Server(env.install, root, mpm=env.mpm, module_lines=env.target.load_lines(),
                 fragments=ctx.common() + [line(ctx, "application-group=%{GLOBAL}")]).check()


RELOADS = 25


@case("DIR-015", "25 reloads of a changed script (WSGIScriptReloading On) leave references flat: the "
      "modules (and files) of earlier loads are freed", site="directives", modes=("embedded",))
def test_reload_references_flat(server, mode, metrics):
    # Embedded only: in daemon mode the releases restart the daemon process when a script
    # changes (observed: 6.1.1, 5.0.2, 4.9.4), so nothing can pile up across loads there,
    # and 25 restarts take minutes.  Release builds have no sys.gettotalrefcount: the app
    # reports the references to a sentinel every load takes, gc's object count and sys.modules.
    import requests
    script = server.ctx.apps / "reload_refs.wsgi"
    seen = []
    with requests.Session() as s:   # one keep-alive connection: one Apache child
        for i in range(RELOADS + 1):
            r = s.get(server.url + "/reload-refs", timeout=30)
            assert r.status_code == 200, r.text[:300]
            seen.append(r.json())
            future = time.time() + 2 + i
            os.utime(str(script), (future, future))
    metrics(reloads=RELOADS, sentinel_refs=[x["sentinel_refs"] for x in seen],
            gc_objects=[x["gc_objects"] for x in seen], modules=[x["modules"] for x in seen])
    assert len(set(x["pid"] for x in seen)) == 1, "requests went to several processes"
    loads = [x["load"] for x in seen]
    assert loads == list(range(loads[0], loads[0] + len(loads))), "not reloaded on every change: %s" % loads
    first, last = seen[1], seen[-1]   # the first load creates what every later one reuses
    assert last["sentinel_refs"] == first["sentinel_refs"], (
        "references to the sentinel went %d -> %d over %d reloads: earlier loads' modules are kept"
        % (first["sentinel_refs"], last["sentinel_refs"], RELOADS - 1))
    assert last["modules"] == first["modules"], "sys.modules grew %d -> %d" % (first["modules"], last["modules"])
    # Each load reads the script from a file: one descriptor kept per load would show here.
    assert last["fds"] - first["fds"] < 5, "open descriptors went %d -> %d over %d reloads" % (
        first["fds"], last["fds"], RELOADS - 1)
    assert last["gc_objects"] - first["gc_objects"] < RELOADS, (
        "gc tracks %d more objects after %d reloads" % (last["gc_objects"] - first["gc_objects"], RELOADS - 1))


# What the releases log when a reload_required hook is not callable or raises (observed):
# the exception, with a traceback, under the script's name.
HOOK_LOG = (r"Exception occurred processing WSGI script '\S+/hook_(value|raise)\.wsgi'",
            r"(TypeError|ValueError) exception raised processing WSGI script '\S+/hook_(value|raise)\.wsgi'",
            r"TypeError: 'bool' object is not callable", r"ValueError: hook-raised-in-reload-required",
            r"Traceback \(most recent call last\)", r"File \"\S+/hook_raise\.wsgi\", line \d+",
            r"raise ValueError\(")


@case("DIR-017", "a script's reload_required(path) hook is called with the script's path on each request "
                 "to an unchanged script: True reloads it (a daemon process restarts), False keeps it; "
                 "a non-callable value or an exception is logged and keeps it", site="directives",
      expect_log=HOOK_LOG)
def test_reload_required_hook(server, mode):
    def three(name):
        return [fetch_json(server, "/match/hook_%s" % name) for _ in range(3)]

    mark = Mark(server)
    got = three("true")
    served = [(x["pid"], x["load"]) for x in got]
    assert len(set(served)) == 3, "not reloaded on each request: %s" % got
    if mode == "embedded":
        assert [x["args"] for x in got] == [[], [got[0]["script"]], [got[0]["script"]] * 2], got
    got = three("false")
    assert len(set((x["pid"], x["load"]) for x in got)) == 1, "reloaded: %s" % got
    assert got[-1]["args"] == [got[0]["script"]] * 2, got
    for name, line in (("value", r".*TypeError: 'bool' object is not callable.*"),
                       ("raise", r".*ValueError: hook-raised-in-reload-required.*")):
        got = three(name)
        assert len(set((x["pid"], x["load"]) for x in got)) == 1, "reloaded: %s" % got
        log_has(server, [line], since=mark.log)


def _loaded_once(got_all):
    """Per process, every request of a burst was served by one load, the last it made."""
    by_pid = {}
    for x in got_all:
        by_pid.setdefault(x["pid"], []).append(x)
    for pid, got in by_pid.items():
        assert len(set(x["load"] for x in got)) == 1 and max(x["loads"] for x in got) == got[0]["load"], (
            "process %d loaded the script more than once for one change: %s" % (pid, got))
    return set((x["pid"], x["load"]) for x in got_all)


@case("DIR-020", "concurrent requests for a script not yet loaded, or changed since (WSGIScriptReloading "
                 "On), load it once: the requests that waited for that import use its module, and the "
                 "module it replaced is freed (in daemon mode the process restarts for the change and "
                 "loads it once)", site="directives")
def test_concurrent_load_once(server, mode, env):
    if mode == "embedded" and env.mpm == "prefork":
        pytest.skip("prefork's children are single-threaded: no concurrent loads in one process")
    # slow_load.wsgi sleeps a second at import, so the other requests arrive while it loads.
    first = _loaded_once(burst(server, "/match/slow_load"))
    # one module holds the sentinel in a steady state: the same count in every process
    refs = fetch_json(server, "/match/slow_load")["sentinel_refs"]
    future = time.time() + 5
    os.utime(str(server.ctx.apps / "slow_load.wsgi"), (future, future))
    second = _loaded_once(burst(server, "/match/slow_load"))
    assert not first & second, "not reloaded after the change: %s then %s" % (first, second)
    last = fetch_json(server, "/match/slow_load")
    assert (last["pid"], last["load"]) in second and last["loads"] == last["load"], (last, second)
    # a module the concurrent reload replaced but kept would hold a second reference
    after = [fetch_json(server, "/match/slow_load", headers={"Connection": "close"}) for _ in range(8)]
    assert all(x["sentinel_refs"] == refs for x in after), (
        "references to the sentinel went from %d to %s after the reload: the replaced module is kept"
        % (refs, sorted(set((x["pid"], x["sentinel_refs"]) for x in after))))


@case("DIR-021", "a daemon loads at its start exactly the WSGIScriptAlias(Match) scripts of its group given "
                 "both process-group= and a literal application-group= or %{GLOBAL} (a Match target "
                 "without $N substitution); the others load at their first request, and a preloaded script "
                 "serves its first request without loading again", site="preload-aliases",
      modes=("daemon",), expects={"match_takes_groups": bool})
def test_preload_aliases(server, mode, env, expect, tmp_path):
    from conformance.sites import preload_aliases
    aliases = preload_aliases(env.profile)
    if not expect["match_takes_groups"]:   # 3.4: WSGIScriptAliasMatch takes neither group option
        for option in ("process-group=pa-one", "application-group=pa-app"):
            where = tmp_path / option.split("=")[0]
            where.mkdir()
            out = _config_rejected(env, where, lambda c: [
                "WSGIDaemonProcess pa-one threads=1",
                "WSGIScriptAliasMatch ^/mk_fixed %s/probe.wsgi %s" % (c.apps, option)], mode="daemon")
            assert "Invalid option to WSGI script alias definition." in out, (option, out[-500:])
    run = server.root / "run"

    def markers():
        return sorted(p.name for p in run.iterdir() if p.name.startswith("loaded-"))

    want = sorted(name for name, _, pre in aliases if pre)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sorted(set(m.split("-")[1] for m in markers())) == want:
            break
        time.sleep(0.2)
    time.sleep(1.5)   # anything else a daemon would load at start lands meanwhile
    at_start = markers()
    assert sorted(m.split("-")[1] for m in at_start) == want, "loaded at daemon start: %s" % at_start
    pids = {}
    for name, line, pre in aliases:
        path = "/m/%s" % name if "$1" in line else "/%s" % name
        got = fetch_json(server, path)
        assert got["name"] == name, got
        pids[name] = got["pid"]
    assert sorted(markers()) == sorted("loaded-%s-%d" % (name, pid) for name, pid in pids.items()), (
        "loaded %s for requests served by %s" % (markers(), pids))
    assert pids["mk_two"] not in (pids["mk_both"], pids["mk_none"]), pids


AUTH = "Basic dXNlcjpwYXNz"


@case("DIR-022", "pass-authorization=On|Off of WSGIScriptAlias (any case) passes the Authorization "
                 "header as HTTP_AUTHORIZATION or hides it, over WSGIPassAuthorization of its "
                 "location; hidden by default; another value is a config error with the release's "
                 "text", site="mounts", expects={"invalid": str})
def test_pass_authorization_option(server, mode, env, expect, tmp_path):
    got = {}
    for path in ("/opt-on", "/opt-off", "/opt-none", "/opt-off-dir-on", "/opt-on-dir-off"):
        seen, _ = environ(server, path + "/env", headers={"Authorization": AUTH})
        got[path] = seen.get("HTTP_AUTHORIZATION", {}).get("value")
    assert got == {"/opt-on": AUTH, "/opt-off": None, "/opt-none": None, "/opt-off-dir-on": None,
                   "/opt-on-dir-off": AUTH}, got
    for i, value in enumerate(("maybe", "1", "")):
        where = tmp_path / ("v%d" % i)
        where.mkdir()
        out = _config_rejected(env, where,
                               lambda c: ["WSGIScriptAlias /x %s/probe.wsgi pass-authorization=%s"
                                          % (c.apps, value)])
        assert expect["invalid"] in out, "pass-authorization=%s: %s" % (value, out[-500:])


@case("DIR-023", "\"OPTIONS *\" is Apache's to answer (200, empty, no app), and \"GET *\" too (its 400/404 page), "
                 "even when a WSGIScriptAliasMatch regex matches '*'; the same alias serves its paths",
      site="mounts")
def test_options_star(server, mode):
    if server.install.version < (2, 4):
        # 2.2's core logs its 404 for '*' at error level (2.4 at info, AH00128).
        server.expected_log.append(r"\[error\] \[client 127\.0\.0\.1\] File does not exist: %s/\*$"
                                   % re.escape(str(server.root / "htdocs")))
    assert http(server, "/star/env").status_code == 200
    data = raw(server, b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data[:300]
    assert body == b"" and b"\r\nContent-Length: 0" in head, data[:300]
    assert b"X-Probe" not in head and b"application/json" not in head, "the app answered OPTIONS *: %r" % head
    # a module that maps any URI by its aliases would hand "GET *" to the app
    data = raw(server, b"GET * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    # Apache's refusal: 400 where the request line is checked (2.4.71), 404 from its own
    # mapping of '*' on older ones (2.4.12); either way its error page, not the app
    assert head.split(b" ")[1:2] in ([b"400"], [b"404"]) and b"<title>40" in body, data[:300]
    assert b"X-Probe" not in head and b"application/json" not in head, "the app answered GET *: %r" % head


@case("DIR-024", "WSGISwitchInterval sets sys.getswitchinterval() in embedded mode and in daemon "
                 "processes, over a group's switch-interval= (as 6.1.1 does)", site="switch-interval",
      profiles=("6",))
def test_switch_interval(server, mode, env):
    if not env.py3:
        pytest.skip("Python 2 has no switch interval")
    got = fetch_json(server, "/sw/switch-interval")
    assert got["interval"] == pytest.approx(0.003), got


@case("DIR-025", "a daemon group's switch-interval= sets sys.getswitchinterval() in its processes",
      site="switch-group", modes=("daemon",), profiles=("6",))
def test_group_switch_interval(server, mode, env):
    if not env.py3:
        pytest.skip("Python 2 has no switch interval")
    got = fetch_json(server, "/sw/switch-interval")
    assert got["interval"] == pytest.approx(0.004), got
