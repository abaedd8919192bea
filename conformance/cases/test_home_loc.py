"""HOME: python-home / WSGIPythonHome / python-path.  LOC: lang and locale of daemon groups."""

import re
import time

import pytest

from conformance.catalogue import case
from conformance.client import fetch_json, http
from gateway import httpd
from conformance.cases.test_err import PATH, Mark, check_error_path, check_startup, log_has, optional_lines


@case("HOME-001", "python-home (daemon) / WSGIPythonHome (embedded) at a venv makes sys.prefix the venv",
      site="home")
def test_venv_prefix(server, mode):
    facts = fetch_json(server, "/probe/sys")
    assert facts["prefix"] == str(server.ctx.root / "venv")


@case("HOME-002", "a package installed only in the venv imports", site="home")
def test_venv_package(server, mode):
    got = fetch_json(server, "/probe/import?mod=probe_marker")
    assert got["imported"], got.get("error")
    assert got["file"].startswith(str(server.ctx.root / "venv"))


@case("HOME-003", "with a venv as home, sys.base_prefix is the server Python's own prefix", site="home")
def test_venv_base_prefix(server, mode, env):
    if not env.py3:
        pytest.skip("Python 2 has no sys.base_prefix")
    facts = fetch_json(server, "/probe/sys")
    assert facts["base_prefix"] != facts["prefix"]
    assert facts["version"] == list(env.python_version)


@case("HOME-004", "python-path / WSGIPythonPath directories are importable and ahead of the stdlib",
      site="home")
def test_python_path(server, mode):
    facts = fetch_json(server, "/probe/sys")
    extra = str(server.ctx.root / "extra-path")
    assert extra in facts["path"]
    stdlib = [i for i, p in enumerate(facts["path"]) if p.rstrip("/").endswith(("lib/python%d.%d" % tuple(facts["version"][:2])))]
    assert not stdlib or facts["path"].index(extra) < stdlib[0]
    assert fetch_json(server, "/probe/import?mod=probe_pathmod")["imported"]


# A python-home that cannot work: the request is answered fast with the profile's status (503,
# the releases' answer when a daemon's socket cannot be reached) and its log line; the group's
# own start-up failure, naming the python-home, is in the log (`names_home`).
BAD_HOME = {"daemon": PATH, "names_home": [str]}


def _bad_home(server, path, expect):
    mark = Mark(server)
    t0 = time.monotonic()
    resp = http(server, path, timeout=30)
    took = time.monotonic() - t0
    assert took < 2.0, "the client waited %.1fs for %d: a python-home that cannot work must fail fast" % (
        took, resp.status_code)
    check_error_path(server, mark, expect["daemon"], "GET", path, resp.status_code)
    log_has(server, expect["names_home"], since=0)
    check_startup(server, mark.log, expect["names_home"] + optional_lines(server, expect["daemon"]["log"]))


@case("HOME-005", "a missing python-home gives the profile's 5xx within 2 s and its log lines, one naming the "
      "python-home; never a hang", site="home-missing", modes=("daemon",), expects=BAD_HOME)
def test_missing_home(server, mode, expect):
    _bad_home(server, "/probe/env", expect)


@case("HOME-006", "a python-home made from another Python version gives the profile's 5xx within 2 s and its "
      "log lines, one naming the python-home", site="home-mismatch", modes=("daemon",), expects=BAD_HOME)
def test_mismatched_home(server, mode, expect):
    _bad_home(server, "/probe/sys", expect)


@case("HOME-007", "a python-home that passes every check of its path (it exists, can be read, has a "
      "lib/pythonX.Y) but holds no Python gives the profile's 5xx within 2 s and its log lines, one "
      "saying why Python could not start; never a hang", site="home-empty", modes=("daemon",),
      expects=BAD_HOME)
def test_empty_home(server, mode, expect):
    _bad_home(server, "/probe/env", expect)


@case("HOME-008", "a WSGIPythonHome that does not exist (embedded) is reported when Python starts: the profile's "
      "warning naming the path and why (no such file); any error line beside it is one of the site's "
      "declared start-up failures; no request is made (the 4.x and 5.x releases crash their children here)",
      site="home-missing-embedded", modes=("embedded",), profiles=("5", "6"), expects={"names_home": [str]})
def test_missing_home_embedded(server, mode, expect):
    log_has(server, expect["names_home"], since=0)


@case("HOME-009", "a WSGIPythonHome that does not exist (embedded) gets no warning naming it before Python "
      "starts: 3.4 does not check the path (4.3.2 added the check HOME-008 asks for); Python's own failure "
      "is the site's declared start-up lines", site="home-missing-embedded", modes=("embedded",),
      profiles=("3.4",))
def test_missing_home_unchecked(server, mode):
    home = str(server.ctx.root / "no-such-home")
    deadline = time.monotonic() + 10
    # Python's failure: a declared line of the site, or Python's own words on the child's
    # stderr (2.7: "ImportError: No module named site", <3.8: "Fatal Python error: ...").
    while not any(any(re.search(p, line) for p in server.site_log)
                  or httpd.parse_log_line(line, server.install.version) is None
                  for line in server.read_log().splitlines()):
        assert time.monotonic() < deadline, "Python's start-up failure never came:\n" + server.read_log()[-3000:]
        time.sleep(0.1)
    warned = [l for l in server.read_log().splitlines() if home in l and re.search(r"\[(?:\w*:)?warn\]", l)]
    assert not warned, "3.4 does not check WSGIPythonHome, yet:\n" + "\n".join(warned)


@case("LOC-001", "lang=X sets LANG=X before Python starts and Python's encodings follow it",
      site="locale", modes=("daemon",))
def test_lang(server, mode, env):
    facts = fetch_json(server, "/lang/sys")
    assert facts["environ"]["LANG"] == "en_US.UTF-8"
    if env.py3:
        assert facts["fs_encoding"].lower().replace("-", "") == "utf8"
        assert facts["preferred_encoding"].lower().replace("-", "") == "utf8"


@case("LOC-002", "locale=X calls setlocale(LC_ALL, X) in the daemon", site="locale", modes=("daemon",),
      expects={"LC_ALL": (str, type(None))})
def test_locale(server, mode, expect):
    facts = fetch_json(server, "/locale/sys")
    assert "de_DE" in facts["lc_ctype"], "LC_CTYPE is %r" % facts["lc_ctype"]
    assert facts["environ"]["LC_ALL"] == expect["LC_ALL"]


@case("LOC-003", "with lang and locale a non-ASCII file name is written and read back",
      site="locale", modes=("daemon",))
def test_non_ascii_file(server, mode):
    got = fetch_json(server, "/both/nonascii")
    assert got["ok"], got.get("error")


@case("LOC-004", "without lang/locale the app sees Apache's environment: LANG=C, no LC_ALL",
      site="locale",
      expects={"embedded": [str], "daemon": [str], "py3.7?": [str]})
def test_no_options(server, mode, env, expect):
    facts = fetch_json(server, "/plain/sys")
    assert facts["environ"]["LANG"] == "C"
    assert facts["environ"]["LC_ALL"] is None
    if env.py3:
        # Python 3.7 turns UTF-8 mode on by itself under a C locale, whatever the module.
        want = expect.get("py%d.%d" % env.python_version[:2]) or expect[mode]
        assert facts["fs_encoding"].lower().replace("-", "") in want, \
            "filesystem encoding %s, expected one of %s" % (facts["fs_encoding"], want)


@case("LOC-005", "an unsupported locale= is reported in the log by the profile's line and the group still serves",
      site="locale", modes=("daemon",), expects={"warns": bool, "line": [str]})
def test_bad_locale(server, mode, expect):
    resp = http(server, "/badlocale/sys")
    assert resp.status_code == 200
    if expect["warns"]:
        # Logged when the group starts, so look from the start of the log.
        log_has(server, expect["line"], since=0)


@case("LOC-006", "with LC_ALL=C in Apache's own environment a group without locale= keeps it, and a group's "
      "locale=X still wins: setlocale gives X and os.environ has the profile's LC_ALL (X; Apache's C in 3.4)",
      site="locale-env", modes=("daemon",), expects={"LC_ALL": str})
def test_locale_over_apache_lc_all(server, mode, expect):
    plain = fetch_json(server, "/plain/sys")
    assert plain["environ"]["LC_ALL"] == "C", "Apache's LC_ALL=C did not reach the daemon: %r" % (
        plain["environ"]["LC_ALL"],)
    facts = fetch_json(server, "/locale/sys")
    assert facts["environ"]["LC_ALL"] == expect["LC_ALL"], "os.environ['LC_ALL'] is %r, expected %r" % (
        facts["environ"]["LC_ALL"], expect["LC_ALL"])
    assert "de_DE" in facts["lc_ctype"], "LC_CTYPE is %r: Apache's LC_ALL=C won over locale=" % facts["lc_ctype"]
