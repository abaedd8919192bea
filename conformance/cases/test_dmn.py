"""DMN: daemon process groups as processes: restarts, rotation, identity, large bodies."""

import grp
import hashlib
import os
import pwd
import signal
import time

import pytest
import requests

from conformance.catalogue import case
from conformance.client import fetch_json, http

DAEMON = ("daemon",)


def wait_for_new_pid(server, path, old, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = http(server, path, timeout=10)
            if r.status_code == 200 and r.json()["pid"] != old:
                return r.json()["pid"], time.monotonic()
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return None, None


@case("DMN-001", "a daemon process killed with SIGKILL is replaced and the group serves again",
      site="daemonopts", modes=DAEMON, expect_log=(r"signal|exit|died|restart|[Dd]aemon",))
def test_kill_restart(server, mode):
    old = fetch_json(server, "/named/sys")["pid"]
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)
    new, t1 = wait_for_new_pid(server, "/named/sys", old)
    assert new, "group 'named' did not serve again within 15 s after kill -9 of %d" % old
    assert new in server.pids()


@case("DMN-002", "maximum-requests=3 replaces the process after its third request", site="daemonopts",
      modes=DAEMON)
def test_maximum_requests(server, mode):
    pids = [fetch_json(server, "/maxreq/sys", headers={"Connection": "close"})["pid"] for _ in range(4)]
    assert pids[0] == pids[1] == pids[2], pids
    assert pids[3] != pids[0], "no new process after 3 requests: %s" % pids


@case("DMN-003", "inactivity-timeout=2 replaces an idle process", site="daemonopts", modes=DAEMON)
def test_inactivity_timeout(server, mode):
    old = fetch_json(server, "/idle/sys")["pid"]
    time.sleep(4)
    assert fetch_json(server, "/idle/sys")["pid"] != old


@case("DMN-004", "display-name=%{GROUP} shows the process as (wsgi:NAME)", site="daemonopts", modes=DAEMON)
def test_display_name(server, mode):
    pid = fetch_json(server, "/named/sys")["pid"]
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        cmdline = f.read()
    assert cmdline.startswith(b"(wsgi:named)"), cmdline[:60]


@case("DMN-005", "the daemon runs as Apache's child user with that user's HOME", site="daemonopts",
      modes=DAEMON)
def test_identity(server, mode):
    facts = fetch_json(server, "/named/sys")
    user = server.user[0] if server.user else pwd.getpwuid(os.getuid()).pw_name
    pw = pwd.getpwnam(user)
    assert (facts["uid"], facts["gid"]) == (pw.pw_uid, pw.pw_gid)
    assert facts["environ"]["HOME"] == pw.pw_dir
    assert pw.pw_gid in facts["groups"] or facts["groups"] == []


@case("DMN-006", "umask= and home= set the daemon's umask and working directory", site="daemonopts",
      modes=DAEMON)
def test_umask_home(server, mode):
    facts = fetch_json(server, "/ident/sys")
    assert facts["umask"] == 0o027
    assert facts["cwd"] == str(server.ctx.root / "daemon-home")


@case("DMN-007", "a 256 MiB request body and a 256 MiB response cross intact (sha256)", site="bigbody")
def test_large_bodies(server, mode, metrics):
    size = 256 << 20
    block = b"".join(bytes(bytearray([i % 251])) for i in range(251)) * 261

    def body():
        sent = 0
        while sent < size:
            c = block[:min(len(block), size - sent)]
            sent += len(c)
            yield c
    want = hashlib.sha256()
    for c in body():
        want.update(c)
    up = requests.post(server.url + "/probe/upload", data=PatternReader(body(), size), timeout=300)
    assert up.status_code == 200, up.text[:300]
    assert up.json()["size"] == size and up.json()["sha256"] == want.hexdigest()
    got, n = hashlib.sha256(), 0
    with requests.get(server.url + "/probe/download?size=%d" % size, stream=True, timeout=300) as r:
        assert r.status_code == 200
        for c in r.iter_content(1 << 20):
            got.update(c)
            n += len(c)
    assert n == size and got.hexdigest() == want.hexdigest()
    rss = {}
    for pid in server.pids():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss[pid] = int(line.split()[1])
        except OSError:
            pass
    metrics(**{"peak_rss_kb_by_pid": rss, "app_peak_rss_kb": up.json()["rss_peak_kb"],
             "bytes_each_way": size})
    # Bounded memory: nothing holds the whole body.
    assert max(rss.values()) < 200 * 1024, "a process peaked at %d KiB RSS" % max(rss.values())


class PatternReader(object):
    """A sized file-like body, so the client streams it with a Content-Length (not chunked)."""

    def __init__(self, chunks, size):
        self.chunks, self.size, self.pending = chunks, size, b""

    def __len__(self):
        return self.size

    def read(self, n=-1):
        while n < 0 or len(self.pending) < n:
            nxt = next(self.chunks, None)
            if nxt is None:
                break
            self.pending += nxt
        out, self.pending = (self.pending, b"") if n < 0 else (self.pending[:n], self.pending[n:])
        return out


@case("DMN-008", "during a graceful restart every request is answered 200 and the daemons are replaced",
      site="daemonopts", modes=DAEMON, expect_log=(r"graceful|SIGUSR1|restart",))
def test_graceful(server, mode):
    old = fetch_json(server, "/named/sys")["pid"]
    failures, pids = [], set()
    with requests.Session() as s:  # keep-alive: old children keep serving this connection
        s.get(server.url + "/named/sys")
        server.graceful()
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                r = s.get(server.url + "/named/sys", timeout=20)
            except requests.ConnectionError:
                # An idle keep-alive connection closed by an exiting child: clients retry those.
                r = s.get(server.url + "/named/sys", timeout=20)
            if r.status_code != 200:
                failures.append(r.status_code)
            else:
                pids.add(r.json()["pid"])
            time.sleep(0.02)
    assert not failures, "%d requests failed during graceful restart: %s" % (len(failures), failures[:5])
    assert pids - {old}, "daemon not replaced after graceful restart"


@case("DMN-009", "user=root for a daemon group is a config error", site="none", modes=DAEMON)
def test_root_refused(env, mode, tmp_path):
    from conformance.cases.test_err import _config_rejected
    out = _config_rejected(env, tmp_path, lambda c: ["WSGIDaemonProcess r user=root"])
    assert "root" in out.lower()


@case("DMN-010", "user=, group= and supplementary-groups= give the daemon exactly that uid, gid and groups "
      "(os.getgroups(): the supplementary groups and the primary one)", site="identity", modes=DAEMON)
def test_explicit_identity(server, mode):
    if os.geteuid() != 0:
        pytest.skip("needs Apache started as root to switch users")
    facts = fetch_json(server, "/explicit/sys")
    pw = pwd.getpwnam(server.user[0])
    users = grp.getgrnam("users").gr_gid
    want_groups = sorted({users, grp.getgrnam("adm").gr_gid, grp.getgrnam("nogroup").gr_gid})
    assert (facts["uid"], facts["gid"]) == (pw.pw_uid, users)
    # Observed on 6.1.1, 5.0.2, 4.9.4 and Debian's 4.9.4: the primary group is in the list too.
    assert facts["groups"] == want_groups, "os.getgroups() is %s, expected %s" % (facts["groups"], want_groups)
    assert facts["environ"]["HOME"] == pw.pw_dir


@case("DMN-011", "by default the daemon runs as Apache's User/Group with that user's groups and HOME, "
      "in Apache's working directory",
      site="identity", modes=DAEMON)
def test_default_identity(server, mode):
    facts = fetch_json(server, "/default/sys")
    user = server.user[0] if server.user else pwd.getpwuid(os.getuid()).pw_name
    pw = pwd.getpwnam(user)
    member_of = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {pw.pw_gid}
    assert facts["uid"] == pw.pw_uid
    if server.user:
        assert facts["gid"] == grp.getgrnam(server.user[1]).gr_gid
    assert set(facts["groups"]) <= member_of | {facts["gid"]}, facts["groups"]
    assert facts["environ"]["HOME"] == pw.pw_dir
    assert facts["cwd"] == os.readlink("/proc/%d/cwd" % server.proc.pid), facts["cwd"]


@case("DMN-012", "a client that disconnects mid-response frees the daemon thread (threads=1 serves again)",
      site="queue", modes=DAEMON)
def test_disconnect_frees_thread(server, mode):
    import socket
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"GET /probe/drip?s=60 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    got = 0
    while got < 256 * 1024:
        data = s.recv(65536)
        assert data, "connection closed before the body streamed"
        got += len(data)
    s.close()  # walk away mid-response
    t0 = time.monotonic()
    r = http(server, "/probe/sleep?s=0", timeout=30)
    took = time.monotonic() - t0
    assert r.status_code == 200
    assert took < 5, "the only daemon thread was busy for %.1fs after the client left" % took


# mod_wsgi 3.4 - 5.x answer 500, 6.x 502 (Bad Gateway) when the daemon dies before the headers.
PRE_HEADER_DEATH = {"3.4": 500, "5": 500, "6": 502}


@case("DMN-013", "a daemon process dying before the response headers gives the profile's status "
      "(500 / 502 in 6.x), a log line naming the group, and the group serves again",
      site="dying", modes=DAEMON, expect_log=(r"dyinggroup",))
def test_death_before_headers(server, mode, env):
    offset = server.log_size()
    r = http(server, "/probe/die", timeout=30)
    assert r.status_code == PRE_HEADER_DEATH[env.profile.name], r.status_code
    assert server.wait_for_log(r"dyinggroup", since=offset), "no log line names the group"
    new, _ = wait_for_new_pid(server, "/probe/sys", None)
    assert new, "the group did not serve again"
