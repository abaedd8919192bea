"""MODE: routing with WSGIProcessGroup / WSGIApplicationGroup, interpreters and processes."""

import re
import time

from gateway import httpd
from conformance.catalogue import case
from conformance.client import burst, environ, fetch_json, http
from conformance.cases.test_err import DAEMON_PATH, error_path

DAEMON = ("daemon",)
EMBEDDED = ("embedded",)


def group_of(server, mount):
    env, _ = environ(server, "/%s/env" % mount)
    return env["mod_wsgi.application_group"]["value"]


@case("MODE-001", "%{GLOBAL} selects the main interpreter: application_group ''")
def test_global_group(server, mode):
    assert group_of(server, "g-global") == ""


@case("MODE-002", "%{SERVER} names the interpreter 'host:port'")
def test_server_group(server, mode):
    assert group_of(server, "g-server") == "localhost:%d" % server.port


@case("MODE-003", "%{RESOURCE} names the interpreter 'host:port|SCRIPT_NAME'")
def test_resource_group(server, mode):
    assert group_of(server, "g-resource") == "localhost:%d|/g-resource" % server.port


@case("MODE-004", "%{ENV:var} takes the group name from the request's environment")
def test_env_group(server, mode):
    assert group_of(server, "g-env") == "envgroup"


@case("MODE-005", "a literal WSGIApplicationGroup name is used as is")
def test_literal_group(server, mode):
    assert group_of(server, "g-other") == "other"


@case("MODE-006", "module globals are shared within one application group")
def test_shared_group_globals(server, mode):
    # One process serves both mounts when the group is pinned: compare per pid.
    seen = {}
    for _ in range(12):
        for mount in ("g-sharedA", "g-sharedB"):
            r = fetch_json(server, "/%s/counter" % mount, headers={"Connection": "close"})
            seen.setdefault(r["pid"], []).append(r["count"])
    for pid, counts in seen.items():
        assert counts == sorted(counts) and len(set(counts)) == len(counts), \
            "pid %d: counts %s are not one shared counter" % (pid, counts)
    assert any(len(c) > 1 for c in seen.values())


@case("MODE-007", "module globals are isolated between application groups (sub-interpreters)")
def test_isolated_group_globals(server, mode):
    http(server, "/g-other/mark")
    for _ in range(6):
        facts = fetch_json(server, "/g-sharedA/sys")
        assert facts["interpreter_marker"] is False, "a module planted in group 'other' is visible in 'shared'"


@case("MODE-017", "concurrent first requests for an application group not yet made create one interpreter "
                 "for it in each process: every request of the burst, and every later one, runs in it")
def test_one_interpreter_per_group(server, mode):
    # Three fresh groups, each first met by 8 requests at once: the window in which a second
    # thread could find the group missing and make another is wherever making the first
    # lets go of the GIL (importing the interpreter's modules does).
    for mount in ("g-race1", "g-race2", "g-race3"):
        got = burst(server, "/%s/sys" % mount, n=8)
        got += [fetch_json(server, "/%s/sys" % mount, headers={"Connection": "close"}) for _ in range(6)]
        made = {}
        for facts in got:
            assert facts["mod_wsgi_module"]["application_group"] == mount[2:], facts["mod_wsgi_module"]
            made.setdefault(facts["pid"], set()).add(facts["interpreter_id"])
        assert all(len(ids) == 1 for ids in made.values()), (
            "group %s ran in more than one interpreter of a process: %s"
            % (mount[2:], dict((pid, len(ids)) for pid, ids in made.items())))


@case("MODE-008", "the mod_wsgi module reports the request's process and application group")
def test_mod_wsgi_module(server, mode):
    facts = fetch_json(server, "/g-other/sys")
    assert facts["mod_wsgi_module"] is not None, "import mod_wsgi failed inside the app"
    assert facts["mod_wsgi_module"]["application_group"] == "other"
    assert facts["mod_wsgi_module"]["process_group"] == ("main" if mode == "daemon" else "")


@case("MODE-009", "embedded requests run in an Apache child; daemon requests in another process",
      site="groups", modes=DAEMON)
def test_embedded_vs_daemon_pid(server, mode):
    emb = fetch_json(server, "/emb/sys")
    dmn = fetch_json(server, "/one/sys")
    assert emb["pid"] != dmn["pid"]
    assert emb["ppid"] == dmn["ppid"] == server.proc.pid


@case("MODE-010", "WSGIProcessGroup and the process-group= option route to the named daemon group",
      site="groups", modes=DAEMON)
def test_named_groups(server, mode):
    one, _ = environ(server, "/one/env")
    two, _ = environ(server, "/two/env")
    assert one["mod_wsgi.process_group"]["value"] == "g1"
    assert two["mod_wsgi.process_group"]["value"] == "g2"
    assert fetch_json(server, "/one/sys")["pid"] != fetch_json(server, "/two/sys")["pid"]


@case("MODE-011", "a request for an undefined process group gets 500 and the profile's log line naming it",
      site="groups", modes=DAEMON, expects=DAEMON_PATH)
def test_unknown_group(server, mode, expect):
    error_path(server, mode, expect, "/unknown/env")


@case("MODE-012", "processes=N gives N distinct daemon processes", site="groups", modes=DAEMON)
def test_processes(server, mode):
    pids = set()
    deadline = time.monotonic() + 20
    while len(pids) < 3 and time.monotonic() < deadline:
        # threads=1: holding requests open in parallel forces them onto different processes.
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            for r in pool.map(lambda _: fetch_json(server, "/procs/sleep?s=0.3",
                                                   headers={"Connection": "close"}), range(3)):
                pids.add(r["pid"])
    assert len(pids) == 3, "saw pids %s" % sorted(pids)


@case("MODE-013", "processes=N makes wsgi.multiprocess True; threads=1 makes wsgi.multithread False",
      site="groups", modes=DAEMON)
def test_processes_flags(server, mode):
    env, _ = environ(server, "/procs/env")
    assert env["wsgi.multiprocess"]["value"] is True
    assert env["wsgi.multithread"]["value"] is False


@case("MODE-014", "WSGIRestrictEmbedded On refuses embedded requests with 500 and the profile's log line "
      "while daemons serve", site="restrict", modes=DAEMON, expects=DAEMON_PATH)
def test_restrict_embedded(server, mode, expect):
    error_path(server, mode, expect, "/emb/env")
    assert http(server, "/dmn/env").status_code == 200


@case("MODE-015", "a script named with both process and application group is loaded before the first request",
      site="preload")
def test_preload(server, mode):
    if mode == "daemon":
        # Another script of the same group answering first proves the daemon is up (a
        # daemon still starting would import the preload after our request arrived).
        assert http(server, "/other/env").status_code == 200
    data = fetch_json(server, "/preload")
    assert data["arrived"] is not None, "no mod_wsgi.request_start/queue_start in environ"
    ahead = data["arrived"] - data["imported_at"]
    assert ahead > 0, ("script was imported %.3fs after the request arrived: loaded on demand, "
                       "not preloaded" % -ahead)


# The text alone at error level: no client, no errno prefix.
_IMPORT_TEXT = re.compile(r"^preload-import-line pid=(\d+)$")


def _import_line(line, version):
    """The pid the app wrote, where `line` is its import line as written by that process
    (the writer's pid where the log records one: 2.2's does not), else None."""
    parsed = httpd.parse_log_line(line, version)
    text = parsed and _IMPORT_TEXT.match(parsed[2])
    ok = text and re.fullmatch(r"\[(?:wsgi|gateway|):error\]" if version >= (2, 4) else r"\[error\]", parsed[1])
    return text.group(1) if ok and parsed[0] in (None, text.group(1)) else None


@case("MODE-016", "what a preloaded script writes to sys.stderr at import, outside any request, reaches the "
      "error log once per importing process, as written (no client, no errno prefix)", site="preload")
def test_import_output(server, mode):
    fetch_json(server, "/preload")
    lines = [l for l in server.read_log(0).splitlines() if "preload-import-line" in l]
    assert lines, "the line written at import is not in the error log"
    pids = [_import_line(l, server.install.version) for l in lines]
    bad = [l for l, pid in zip(lines, pids) if pid is None]
    assert not bad, "not logged as written by the importing process: %s" % bad
    assert len(set(pids)) == len(pids), "logged more than once by one process: %s" % lines
