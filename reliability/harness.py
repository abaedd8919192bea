"""What the reliability tests share: targets, servers, /proc readings and a bounded load.

Targets resolve through conformance.targets and servers start through
gateway.httpd.Server with fragments from conformance.sites (our sites are
registered there under names starting with "rel-"), so build caching,
privileges, environment scrubbing and teardown by PID are the same as the
conformance suite's.
"""

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from conformance import targets as targets_mod
from conformance.client import read_reply
from conformance.session import Env, Setup
from conformance.sites import SiteContext, render_site
from gateway import httpd
from gateway.httpd import cmdline

APPS = Path(__file__).parent / "apps"
DEFAULT_TARGETS = ("gateway", "mod_wsgi", "mod_wsgi-debian")
REFERENCE_KINDS = ("mod_wsgi", "mod_wsgi-debian")


# --------------------------------------------------------------------- targets

def resolve_targets(names, server_python, apxs="apxs", gateway_so=None):
    """{name: a conformance.session.Setup's dict, or {"error": why}} for each target name;
    builds what needs building.
    `gateway_so`: use this prebuilt mod_gateway.so for the target named gateway."""
    install = httpd.ApacheInstall.from_apxs(apxs)
    out = {}
    for name in names:
        try:
            py = targets_mod.find_python(server_python) if name != "mod_wsgi-debian" else None
            if name == "gateway" and gateway_so:
                t = targets_mod.resolve(gateway_so, py, install.apxs)
                t.name, t.kind = "gateway", "gateway"
            else:
                t = targets_mod.resolve(name, py, install.apxs)
            py = py or targets_mod.python_for_libpython(t.libpython)
            out[name] = Setup.of(t, install.apxs, py).to_dict()
        except (targets_mod.TargetError, httpd.HttpdError, OSError) as e:
            out[name] = {"error": str(e)}
    return out


def make_env(setup, mpm="event"):
    return Env.from_setup(setup, mpm)


def is_reference(env):
    return env.target.kind in REFERENCE_KINDS


# --------------------------------------------------------------------- servers

class RelServer(httpd.Server):
    """httpd.Server plus what these tests read about its processes."""

    def daemons(self, group=None):
        """PIDs of daemon processes (display-name=%{GROUP} shows as '(wsgi:NAME)')."""
        found = []
        for pid in self.pids():
            cmd = cmdline(pid)
            m = re.match(r"\(wsgi:([^)]*)\)", cmd)
            if m and (group is None or m.group(1) == group):
                found.append(pid)
        return sorted(found)

    def children(self):
        """Apache worker children: processes of the session that are not the parent or daemons."""
        parent = self.proc.pid if self.proc else None
        ds = set(self.daemons())
        return sorted(p for p in self.pids() if p != parent and p not in ds)

    def socket_files(self):
        run = self.root / "run"
        return sorted(str(p) for p in run.rglob("*") if p.is_socket()) if run.exists() else []

    def wait_daemons(self, group, count, timeout=20.0, exclude=()):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ds = [p for p in self.daemons(group) if p not in exclude]
            if len(ds) >= count:
                return ds
            time.sleep(0.05)
        return [p for p in self.daemons(group) if p not in exclude]


def start_server(env, base, site, mode="daemon", log_level="info", start_timeout=30):
    """A started RelServer for one of our sites; the caller stops it (fixtures do, by PID)."""
    root = Path(tempfile.mkdtemp(prefix="%s-%s-" % (site, env.target.name), dir=str(base)))
    os.chmod(str(root), 0o755)
    ctx = SiteContext(root, env, mode)
    ctx.copy_apps()
    for p in APPS.iterdir():
        shutil.copy(str(p), str(ctx.apps / p.name))
        os.chmod(str(ctx.apps / p.name), 0o644)
    srv = RelServer(env.install, root, mpm=env.mpm, module_lines=env.target.load_lines(),
                    fragments=render_site(site, ctx), log_level=log_level, start_timeout=start_timeout)
    srv.ctx = ctx
    srv.mode = mode
    srv.start()
    return srv


# --------------------------------------------------------------------- /proc

def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def thread_count(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return None


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.split()
    except OSError:
        pass
    return out


def pss_kb(pid):
    """A process's proportional set in kB (shared pages divided among their sharers), 0 once
    it is gone.  RSS counts what a child shares with its siblings in full; PSS does not."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            m = re.search(r"^Pss:\s+(\d+)", f.read(), re.M)
    except OSError:
        return 0
    return int(m.group(1)) if m else 0


def settle_rss(pids_of, timeout=15.0, quiet=1.0):
    """Wait (at most `timeout` s) until the RSS of every process `pids_of()` lists has not
    changed for `quiet` s: a daemon that has just been forked may still be starting Python,
    and a figure taken then says when it was read rather than what the process holds."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = dict((p, httpd.rss_kb(p)) for p in pids_of())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
        time.sleep(0.1)
    return False


def proc_limit(pid, name):
    """Soft limit from /proc/PID/limits ('Max data size' ...): int bytes, None for unlimited."""
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith(name):
                    soft = line[len(name):].split()[0]
                    return None if soft == "unlimited" else int(soft)
    except OSError:
        pass
    return None


alive = httpd.alive      # live and not a zombie (gateway.httpd owns the process facts)


# --------------------------------------------------------------------- HTTP

def request(port, path, method="GET", body=None, headers=None, timeout=10.0, host="localhost"):
    """One request on its own connection: (status, headers dict, body) or raises OSError."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Host": host, "Connection": "close"}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data
    finally:
        conn.close()


def raw_exchange(port, data, timeout=10.0, shut_write=False, pace=None):
    """Send bytes (optionally paced: [(bytes, delay_after)]), read to EOF; (bytes, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if pace:
            for piece, delay in pace:
                s.sendall(piece)
                time.sleep(delay)
        else:
            s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        data, _ = read_reply(s, timeout)
    finally:
        s.close()
    return data, time.monotonic() - t0


def statuses(data):
    """Status codes of every HTTP response in a raw byte stream."""
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]


class Load:
    """A bounded threaded load: `threads` clients, one request per connection, until stopped.

    Every request is recorded (start, end, status or error, pid that served it).  A request
    is `hung` when it gets no answer within `hang_after` seconds (the client then gives up)."""

    def __init__(self, port, paths, threads=4, hang_after=20.0, max_seconds=120, expect_body=None,
                 host="localhost"):
        self.port, self.paths, self.threads = port, list(paths), threads
        self.hang_after, self.max_seconds, self.expect_body = hang_after, max_seconds, expect_body
        self.host = host
        self.records = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []
        self.t0 = None

    def _run(self, k):
        i = k
        while not self._stop.is_set() and time.monotonic() - self.t0 < self.max_seconds:
            path = self.paths[i % len(self.paths)]
            i += 1
            start = time.monotonic()
            rec = {"path": path, "start": start}
            try:
                status, headers, body = request(self.port, path, timeout=self.hang_after, host=self.host)
                rec["status"] = status
                rec["pid"] = int(headers.get("x-pid", "0") or 0)
                if status == 200 and self.expect_body is not None and body != self.expect_body:
                    rec["status"] = "truncated"
            except socket.timeout:
                rec["status"] = "hung"
            except Exception as e:  # connection refused/reset, bad status line: a failed request
                rec["status"] = "error:%s" % type(e).__name__
            rec["end"] = time.monotonic()
            with self._lock:
                self.records.append(rec)
            if rec["status"] != 200:
                time.sleep(0.01)  # do not spin on a refusing server

    def start(self):
        self.t0 = time.monotonic()
        for k in range(self.threads):
            t = threading.Thread(target=self._run, args=(k,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._workers:
            t.join(self.hang_after + 5)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def ok_since(self, t, pid_not_in=()):
        with self._lock:
            return [r for r in self.records if r["start"] >= t and r["status"] == 200
                    and r.get("pid") not in pid_not_in]

    def summary(self, gaps=()):
        """Counts; failures split by whether they started inside one of the (start, end) gaps."""
        recs = list(self.records)
        failed = [r for r in recs if r["status"] != 200]
        in_gap = [r for r in failed if any(a <= r["end"] and r["start"] <= b for a, b in gaps)]
        durations = sorted(r["end"] - r["start"] for r in recs) or [0.0]
        return {
            "requests": len(recs),
            "ok": len(recs) - len(failed),
            "failed": len(failed),
            "hung": sum(1 for r in recs if r["status"] == "hung"),
            "failed_by_status": dict(Counter(str(r["status"]) for r in failed)),
            "failed_outside_gap": len(failed) - len(in_gap),
            "failed_outside_gap_by_status": dict(Counter(str(r["status"]) for r in failed
                                                         if r not in in_gap)),
            "max_request_s": round(durations[-1], 3),
            "p99_request_s": round(durations[int(len(durations) * 0.99) - 1 if len(durations) > 1 else 0], 3),
        }


def wait_serving(port, path, timeout, new_pid_not_in=(), host="localhost"):
    """Seconds until `path` answers 200 from a pid not in `new_pid_not_in`; None on timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            status, headers, _ = request(port, path, timeout=max(0.5, timeout - (time.monotonic() - t0)),
                                         host=host)
            pid = int(headers.get("x-pid", "0") or 0)
            if status == 200 and pid not in new_pid_not_in:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.02)
    return None


def kill9(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------- error log

# Start-up, shutdown and interpreter life-cycle lines at info/notice level: not about a request.
# Lines at warn level and above are never dropped.
NOISE = re.compile(r"AH00558|AH00094|AH00489|AH00163|AH00493|AH00492|AH00494|AH00169|AH00096|AH00491|"
                   r"Create interpreter|Attach interpreter|Adding '.*' to path|Starting process|"
                   r"Initializing Python|Python home|Reloading WSGI script|"
                   r"Loading Python script|Loading WSGI script|Imported '|Destroying interpreter|"
                   r"Cleanup interpreter|Terminating Python|Python has shutdown|"
                   r"Shutdown requested|Stopping process|Enable monitor|Enable deadlock|"
                   r"Starting \d+ threads|Destroy interpreter|ready \(\d+ threads?\)",
                   re.I)
LEVEL = re.compile(r"^\[[^\]]*\] \[[\w_]*:(\w+)\]")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \"|^\s{2,}\S|\]\s{2,}\S|"
                       r"\] File \"|\] \s*\^+\s*$")


def new_log_lines(srv, offset):
    """Error-log lines since `offset` that say something about a request (start-up noise dropped)."""
    out = []
    for l in srv.read_log(offset).splitlines():
        m = LEVEL.match(l)
        quiet = m and m.group(1) in ("info", "notice", "debug") or not m
        if l.strip() and not (quiet and NOISE.search(l)):
            out.append(l)
    return out


def headline_lines(lines):
    """Lines that are not traceback continuation lines: the 'clear log lines'."""
    out = []
    for l in lines:
        msg = re.sub(r"^(\[[^\]]*\] ?)+", "", l)
        msg = re.sub(r"^(\(\d+\)[^:]*: )?(\[(client|remote) [^\]]*\] ?)?", "", msg)
        msg = re.sub(r"^mod_\w+ \(pid=\d+[^)]*\): ?", "", msg)
        if re.match(r"^\s|Traceback \(most recent call last\)|File \"|\^+$", msg):
            continue
        out.append(l)
    return out
