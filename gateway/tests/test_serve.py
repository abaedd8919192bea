"""`python -m gateway serve` for real: Apache starts, the first request is checked before
"serving ... at http://..." is printed, the error log is echoed on the terminal, and a
start that cannot serve (a virtualenv the children cannot read, an app that raises)
exits 1 with the log's lines and the fix named instead of claiming to serve."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from gateway import httpd, serve

ROOT = Path(__file__).resolve().parents[2]

APP = """
def application(environ, start_response):
    if environ["PATH_INFO"] == "/log":
        print("logged-by-the-app-%s" % environ["QUERY_STRING"], file=environ["wsgi.errors"])
        environ["wsgi.errors"].flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from the app\\n"]
"""

BROKEN = """
def application(environ, start_response):
    raise RuntimeError("the app is broken on purpose")
"""


def _needs_apache():
    try:
        httpd.ApacheInstall.from_apxs("apxs")
    except httpd.HttpdError as e:
        pytest.skip(str(e))


@pytest.fixture
def place(request):
    """A directory under /tmp with the given owner and mode, removed afterwards."""
    made = []

    def make(mode=0o755, owner=None):
        d = Path(tempfile.mkdtemp(prefix="serve-test-", dir="/tmp"))
        os.chmod(str(d), mode)
        if owner:
            shutil.chown(str(d), owner)
        made.append(d)
        return d
    yield make
    for d in made:
        shutil.rmtree(str(d), ignore_errors=True)


def _venv(where):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    return str(where / "bin" / "python")


def _app(where, text=APP, name="app.wsgi"):
    p = where / name
    p.write_text(text)
    os.chmod(str(p), 0o644)
    return str(p)


def _apache_pids(server_root):
    """PIDs of processes whose command line names this server root (an Apache serve started)."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if server_root.encode() in f.read():
                        found.append(int(d))
            except OSError:
                pass
    return found


class Serve:
    """One `python -m gateway serve` process; stdout and stderr collected as they come."""

    def __init__(self, *args):
        self.port = httpd.free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(self.port)] + list(args),
                                     cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True)
        self.out, self.err = [], []
        self.readers = [threading.Thread(target=self._read, args=(s, l), daemon=True)
                        for s, l in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self.readers:
            t.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, where="out", timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.out if where == "out" else self.err
            hit = next((l for l in lines if re.search(pattern, l)), None)
            if hit:
                return hit
            if self.proc.poll() is not None:
                time.sleep(0.2)
                lines = self.out if where == "out" else self.err
                return next((l for l in lines if re.search(pattern, l)), None)
            time.sleep(0.1)
        return None

    def finish(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        finally:
            for t in self.readers:
                t.join(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for t in self.readers:
            t.join(10)

    @property
    def server_root(self):
        m = re.search(r"(/\S*gateway-serve-[^/\s]+)/", "\n".join(self.out + self.err))
        return m.group(1) if m else None

    def assert_no_apache_left(self):
        root = self.server_root
        assert root, "serve never named its server root:\n%s" % "\n".join(self.out + self.err)
        left = _apache_pids(root)
        for pid in left:                          # what this test started, by PID
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert not left, "Apache processes left running: %s" % left


@pytest.fixture
def served():
    started = []

    def start(*args):
        s = Serve(*args)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()
        if s.server_root:
            s.assert_no_apache_left()


def _get(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as r:
        return r.status, r.read()


@pytest.mark.parametrize("mode", ["daemon", "embedded"])
def test_serves_after_checking_and_echoes_the_error_log(place, served, mode):
    _needs_apache()
    d = place(0o755)
    python = _venv(d / "venv")
    s = served(_app(d), "--python", python, "--mode", mode)
    line = s.wait_for(r"^serving ")
    assert line, "no 'serving' line:\n%s" % "\n".join(s.out + s.err)
    url = re.search(r"at (http://127\.0\.0\.1:\d+/)", line).group(1)
    assert url == "http://127.0.0.1:%d/" % s.port
    # the check request was answered by the app before the line was printed; now a user's
    assert _get(url) == (200, b"hello from the app\n")
    assert _get(url + "log?%s" % mode)[0] == 200
    assert s.wait_for(r"logged-by-the-app-%s" % mode, where="err", timeout=20), \
        "the app's log line was not echoed on the terminal:\n%s" % "\n".join(s.err)
    s.stop()
    assert s.proc.returncode == 0
    s.assert_no_apache_left()


def test_a_virtualenv_the_children_cannot_read_is_not_served(place, served):
    """The first minutes of a new user: a venv under a mode-700 root-owned directory (as under
    /root); the children run as www-data and answer 503 -- serve must say so, and how to fix it."""
    _needs_apache()
    if os.geteuid() != 0:
        pytest.skip("needs root: the children then run as an unprivileged user")
    private = place(0o700)
    python = _venv(private / "venv")
    s = served(_app(place(0o755)), "--python", python, "--check-timeout", "20")
    rc = s.finish(120)
    out, err = "\n".join(s.out), "\n".join(s.err)
    assert rc == 1 and "serving" not in out, out + err
    assert "answered 503" in err
    assert "Permission denied" in err                                # the error log's lines, on the terminal
    assert "cannot read python-home" in err and str(private) in err and "another location" in err
    assert "--user" in err
    s.assert_no_apache_left()


def test_user_who_can_read_the_virtualenv_fixes_it(place, served):
    """A venv only `nobody` can enter: the default children (www-data) cannot, and serve names
    --user; with --user nobody it serves.  The venv is made from the system Python, which
    every user can read (pyenv's, under /root, only www-data may traverse)."""
    _needs_apache()
    if os.geteuid() != 0:
        pytest.skip("needs root")
    system_python = "/usr/bin/python3"
    if not os.access(system_python, os.X_OK):
        pytest.skip("no system python3")
    try:
        user = serve.parse_user("nobody")
    except httpd.HttpdError:
        pytest.skip("no user nobody")
    private = place(0o700, owner="nobody")                           # only nobody (and root) can enter
    subprocess.run([system_python, "-m", "venv", "--without-pip", str(private / "venv")], check=True, timeout=120)
    python = str(private / "venv" / "bin" / "python")
    app = _app(place(0o755))

    s = served(app, "--python", python, "--check-timeout", "20")
    assert s.finish(600) == 1                                         # first build for this Python: slow
    err = "\n".join(s.err)
    assert "www-data, who cannot read python-home" in err and "--user" in err, err
    s.assert_no_apache_left()

    s = served(app, "--python", python, "--user", "%s:%s" % user)
    line = s.wait_for(r"^serving ")
    assert line and "children as nobody" in line, "\n".join(s.out + s.err)
    assert _get("http://127.0.0.1:%d/" % s.port) == (200, b"hello from the app\n")


def test_an_app_that_raises_is_not_served(place, served):
    _needs_apache()
    d = place(0o755)
    s = served(_app(d, BROKEN), "--python", _venv(d / "venv"), "--mode", "embedded")
    rc = s.finish(120)
    err = "\n".join(s.err)
    assert rc == 1 and "serving" not in "\n".join(s.out)
    assert "answered 500" in err and "the app is broken on purpose" in err and "The app raised" in err
    s.assert_no_apache_left()


def test_apache_that_does_not_start_prints_why(place, served):
    _needs_apache()
    d = place(0o755)
    s = served(_app(d), "--mpm", "no-such-mpm")                       # refused by argparse
    assert s.finish(60) == 2
    s2 = served(_app(d), "--module", str(d / "missing.so"))
    assert s2.finish(60) == 1
    err = "\n".join(s2.err)
    assert "Apache did not start" in err and "missing.so" in err


def test_parse_user():
    with pytest.raises(httpd.HttpdError, match="not run its children as root"):
        serve.parse_user("root")
    with pytest.raises(httpd.HttpdError, match="no such user"):
        serve.parse_user("no-such-user-here")
