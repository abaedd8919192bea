"""The plugin's error-log discipline for real (mod_gateway, the server Python 3.11, the system
Apache): an error-log line an app writes after the client already has its whole response is
still caught, because the check waits for the request's access-log line, which Apache writes
only after the request is over."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conformance import targets
from conformance.client import http
from conformance.plugin import settle, _access_size
from conformance.session import Env, resolve_setup
from conformance.sites import SiteContext
from gateway import host, httpd, wsgi_config as wc

# close() runs after the body has gone out; its line lands a second after the client has it all.
LATE_APP = '''
import time

class Body(object):
    def __init__(self, errors):
        self.errors = errors
    def __iter__(self):
        return iter([b"body"])
    def close(self):
        time.sleep(1.0)
        self.errors.write("late-line-from-close\\n")
        self.errors.flush()

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return Body(environ["wsgi.errors"])
'''


@pytest.fixture(scope="module")
def setup():
    try:
        return resolve_setup("gateway", host.find_python("3.11"), "apxs")
    except (targets.TargetError, host.HostError, httpd.HttpdError) as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("mode", ["embedded", "daemon"])
def test_a_line_logged_after_the_response_is_caught(setup, mode):
    root = Path(tempfile.mkdtemp(prefix="conformance-settle-"))   # Apache's user reads it, as ServerPool's
    os.chmod(str(root), 0o755)
    try:
        _check_late_line(Env.from_setup(setup, "event", mode), mode, root)
    finally:
        shutil.rmtree(str(root), ignore_errors=True)


def _check_late_line(env, mode, tmp_path):
    ctx = SiteContext(tmp_path, env, mode)
    ctx.copy_apps()
    (ctx.apps / "late.wsgi").write_text(LATE_APP)
    os.chmod(str(ctx.apps / "late.wsgi"), 0o644)
    lines = ctx.common() + [wc.script_alias("/late", "%s/late.wsgi" % ctx.apps)]
    if mode == "daemon":
        lines += [wc.daemon_process("late", "threads=1"), wc.process_group("late")]
    srv = httpd.Server(env.install, tmp_path, mpm="event", module_lines=env.target.load_lines(), fragments=lines)
    with srv:
        srv.exchanges = []
        offset, access = srv.log_size(), _access_size(srv)
        t0 = time.monotonic()
        assert http(srv, "/late").content == b"body"
        took = time.monotonic() - t0
        # Embedded, the client has the body before close() runs; mod_gateway's daemon mode
        # answers only once close() is over, so there the line is not late (and a slow machine
        # cannot tell either).
        if took < 0.5:
            assert not srv.log_failures(offset), "the line landed before the response: nothing late to catch"
        assert settle(srv, access) == "recorded"
        bad = srv.log_failures(offset)
        assert len(bad) == 1 and "late-line-from-close" in bad[0], bad
