"""Server.stop for real (this machine's Apache, no module): a clean stop leaves nothing and
says nothing; a parent that outlives the stop's timeout is killed and the stop says so,
with every process of its session gone."""

import tempfile

import pytest

from gateway import httpd


@pytest.fixture
def install():
    try:
        return httpd.ApacheInstall.from_apxs("apxs")
    except httpd.HttpdError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("timeout, forced", [(15, False), (0, True)])
def test_stop_reports_what_it_had_to_force(install, timeout, forced):
    mpm = "worker" if "worker" in install.mpms else install.mpms[0]
    srv = httpd.Server(install, tempfile.mkdtemp(prefix="httpd-stop-"), mpm=mpm).start()
    sid = srv.proc.pid
    assert len(httpd.session_pids(sid)) >= 2           # the parent and a child at least
    srv.stop(timeout=timeout)
    assert not httpd.session_pids(sid)
    if forced:
        assert srv.forced == "the parent (pid %d) did not exit within 0s of SIGTERM: killed" % sid
    else:
        assert (srv.forced, srv.leftover) == ("", [])
