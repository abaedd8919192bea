"""The mod_gateway_pytest plugin, through pytester, against real Apache and mod_gateway.

Each inner session serves a small app (module:callable or a script file) in the modes
asked; these tests check what a downstream project sees: passes, an app error failing
the test with the config and error log attached, the opt-out marker, and the worked
example (examples/flask_app) failing once its app is broken on purpose."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gateway import httpd

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "flask_app"

pytestmark = pytest.mark.skipif(not (httpd._which("apxs") or httpd._which("apxs2")),
                                reason="needs Apache's apxs (apache2-dev)")

APP = '''
import os

def application(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise ValueError("boom on purpose")
    start_response("200 OK", [("Content-Type", "text/plain")])
    group = environ.get("mod_wsgi.process_group") or "embedded"
    return [("hello %s %d" % (group, os.getpid())).encode()]
'''


@pytest.fixture
def appdir():
    """The app in a directory Apache's unprivileged children can read (pytest's own tmp
    dirs are private to their owner): hello.py and hello.wsgi."""
    d = Path(tempfile.mkdtemp(prefix="plugin-app-"))
    os.chmod(str(d), 0o755)
    for name in ("hello.py", "hello.wsgi"):
        (d / name).write_text(APP)
        os.chmod(str(d / name), 0o644)
    yield d
    shutil.rmtree(str(d), ignore_errors=True)


def _run(pytester, appdir, test_source, *args):
    pytester.makeconftest('''
import pytest

@pytest.fixture
def wsgi_app():
    return "hello:application"

@pytest.fixture
def wsgi_app_options():
    return {"python_path": [%r]}
''' % str(appdir))
    pytester.makepyfile(test_source)
    return pytester.runpytest("-p", "mod_gateway_pytest", "-p", "no:cacheprovider", *args)


def test_passes_against_mod_gateway_in_both_modes(pytester, appdir, tmp_path):
    pids = tmp_path / "pids"
    result = _run(pytester, appdir, '''
import os, pytest

@pytest.mark.wsgi(targets=["gateway"], modes=["embedded", "daemon"])
def test_hello(wsgi_server):
    r = wsgi_server.get("/")
    assert r.status == 200
    group, pid = r.text.split()[1:]
    assert int(pid) in wsgi_server.pids() and wsgi_server.parent_pid in wsgi_server.pids()
    assert wsgi_server.url.startswith("http://127.0.0.1:")
    if wsgi_server.mode == "daemon":
        assert group == "app" and int(pid) in wsgi_server.daemon_pids()
    else:
        assert group == "embedded" and wsgi_server.daemon_pids() == []
    assert wsgi_server.target.kind == "gateway" and "LoadModule gateway_module" in wsgi_server.config_text
    assert any("mod_gateway" in line for line in wsgi_server.log_lines(since_mark=False))
    with open(%r, "a") as f:
        f.write(" ".join(str(p) for p in wsgi_server.pids()) + "\\n")
''' % str(pids), "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_hello?gateway-embedded? PASSED*", "*test_hello?gateway-daemon? PASSED*"])
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) >= 4
    alive = [p for p in started if os.path.exists("/proc/%d" % p)
             and open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert alive == [], "Apache processes left running after the session: %s" % alive


def test_script_file_and_command_line_defaults(pytester, appdir):
    result = _run(pytester, appdir, '''
def test_script(wsgi_serve):
    srv = wsgi_serve(%r, mount="/sub")
    assert srv.mode == "embedded" and srv.url.endswith("/sub")
    assert srv.get("/x").status == 200 and srv.get("/x").text.startswith("hello embedded ")
''' % str(appdir / "hello.wsgi"), "--wsgi-mode", "embedded", "--wsgi-target", "gateway")
    result.assert_outcomes(passed=1)


def test_an_app_error_fails_the_test_with_config_and_log_attached(pytester, appdir):
    result = _run(pytester, appdir, '''
def test_boom(wsgi_server):
    assert wsgi_server.get("/boom").status == 500
''', "--wsgi-mode", "daemon", "-rf")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "the app logged unexpected errors" in out
    assert "boom on purpose" in out
    result.stdout.fnmatch_lines(["*wsgi: httpd.conf (gateway *, daemon mode*",
                                 "*WSGIDaemonProcess app *",
                                 "*wsgi: error log of this test (gateway *, daemon mode*"])


def test_the_opt_out_marker(pytester, appdir):
    result = _run(pytester, appdir, '''
import pytest

@pytest.mark.wsgi_allow_errors
def test_any_error_allowed(wsgi_server):
    assert wsgi_server.get("/boom").status == 500

@pytest.mark.wsgi_allow_errors("this pattern matches nothing")
def test_other_errors_still_fail(wsgi_server):
    assert wsgi_server.get("/boom").status == 500
''', "--wsgi-mode", "embedded")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_other_errors_still_fail*"])


def test_a_start_failure_fails_with_the_config(pytester, appdir):
    result = _run(pytester, appdir, '''
def test_bad_directive(wsgi_serve, wsgi_app_options):
    wsgi_serve("hello:application", directives=["NoSuchDirective on"], **wsgi_app_options)
''', "--wsgi-mode", "embedded")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*httpd -t rejected*", "*wsgi: httpd.conf (did not start)*"])


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: Apache's children run as another user")
def test_an_unreadable_app_is_named_with_the_fix(pytester):
    # pytester's directory is private to root: the daemon's user could not import from it
    result = _run(pytester, pytester.path, '''
def test_private(wsgi_server):
    pass
''', "--wsgi-mode", "daemon")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot be read by *, the user Apache's children and daemons run as*setfacl*"])


def _example_copy(tmp_path):
    os.chmod(str(tmp_path), 0o755)
    dest = tmp_path / "flask_app"
    shutil.copytree(str(EXAMPLE), str(dest), ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return dest


def _run_example(path, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "mod_gateway_pytest", "-p", "no:cacheprovider",
                           "-q", "--wsgi-mode", "daemon"] + list(args), cwd=str(path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)


def test_the_example_fails_when_its_app_is_broken(appdir):
    pytest.importorskip("flask")
    app = _example_copy(appdir)
    source = (app / "app.py").read_text()
    broken = source.replace("return jsonify(n=n, square=n * n)", "return jsonify(n=n, square=n + n)")
    broken = broken.replace("NOTES.append(note[\"text\"])", "NOTES.append(note[\"txt\"])")
    assert broken.count("n + n") == 1 and "note[\"txt\"]" in broken
    (app / "app.py").write_text(broken)
    got = _run_example(app)
    assert got.returncode == 1, got.stdout[-3000:]
    assert "FAILED tests/test_app.py::test_square[7]" in got.stdout
    assert "FAILED tests/test_app.py::test_post_and_read_back" in got.stdout
    # the KeyError became a 500 and a traceback in the error log: attached to the failure
    assert "KeyError: 'txt'" in got.stdout and "wsgi: error log of this test" in got.stdout
    assert "FAILED tests/test_app.py::test_square[0]" not in got.stdout    # 0 + 0 == 0 * 0
    assert "3 failed" in got.stdout, got.stdout[-2000:]
