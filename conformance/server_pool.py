"""One running Apache per worker at a time, keyed by (site, mode): cases sharing a site
and mode share a server; moving on stops the old one (by PID, through httpd.Server).

The old server stops in the background while the next one starts: its cases are done,
and a stop can take seconds that no case needs to wait for (Apache 2.4.12's worker
children sleep 5 s in their shutdown on glibc 2.34+, see `retire`).  Every stop is
still waited for (at the latest by `close`), and what it had to force is reported."""

import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .sites import SITE_LOG, SiteContext, render_site, site_env
from gateway import httpd

# Shutdown lines that no case owns: a crash, or a child Apache had to signal again.
STOP_PROBLEM = re.compile(r"Segmentation fault|exit signal|AH00045|AH00046")


class ServerPool:
    """One running server per worker at a time, keyed by (site, mode)."""

    def __init__(self, env):
        self.env = env
        self.current = None
        self.key = None
        self.base = Path(tempfile.mkdtemp(prefix="conformance-"))
        os.chmod(self.base, 0o755)
        self.starts = 0
        self.start_s = 0.0
        self.stops = 0
        self.stop_s = 0.0        # the stops' own durations, in the background or not
        self.stop_wait_s = 0.0   # what the session waited for stops
        self.stop_problems = []
        self._stopping = []      # threads stopping retired servers
        self._lock = threading.Lock()

    def get(self, site, mode):
        if self.key == (site, mode) and self.current and self.current.running:
            return self.current
        self.retire()
        self.starts += 1
        root = self.base / ("%s-%s-%d" % (site, mode, self.starts))
        root.mkdir(parents=True)
        ctx = SiteContext(root, self.env, mode)
        ctx.copy_apps()
        server = httpd.Server(self.env.install, root, mpm=self.env.mpm,
                              module_lines=self.env.target.load_lines(),
                              fragments=render_site(site, ctx), extra_env=site_env(site))
        server.ctx = ctx
        server.cases_served = 0
        # its start-up lines by design, in the log's spelling for this Apache
        server.site_log = tuple(httpd.log_pattern(p, self.env.install.version) for p in SITE_LOG.get(site, ()))
        t0 = time.monotonic()
        self.key = (site, mode)
        self.current = server
        server.start()
        self.start_s += time.monotonic() - t0
        return server

    def retire(self):
        """Stop the current server in the background.  Its own root, port and session keep
        it apart from the next one, and nothing of it is read after its stop but its
        shutdown lines.  Why not wait: Apache 2.4.12's worker child waits for its listener
        thread with pthread_kill(thread, 0), which glibc 2.34+ answers 0 for a thread that
        has exited, so every child sleeps its 10 x 0.5 s before exiting (AH00276 at debug
        level, AH00045 from the parent at 3 s)."""
        self._stopping = [t for t in self._stopping if t.is_alive()]
        if self.current:
            t = threading.Thread(target=self._stop, args=(self.current, self.key),
                                 name="stop-%s-%s" % self.key, daemon=True)
            t.start()
            self._stopping.append(t)
        self.current = None
        self.key = None

    def stop(self):
        """Stop the current server and every retired one, and wait for them."""
        self.retire()
        t0 = time.monotonic()
        for t in self._stopping:
            t.join()
        self._stopping = []
        self.stop_wait_s += time.monotonic() - t0

    def _stop(self, srv, key):
        t0 = time.monotonic()
        offset = srv.log_size()
        srv.stop()
        # Crashes and hangs at shutdown belong to no case: keep them for the journal.
        problems = [l for l in srv.read_log(offset).splitlines() if STOP_PROBLEM.search(l)]
        if srv.forced:
            problems.insert(0, srv.forced)
        with self._lock:
            self.stops += 1
            self.stop_s += time.monotonic() - t0
            if problems or srv.leftover:
                self.stop_problems.append({"site": key[0], "mode": key[1], "log": problems[:10],
                                           "leftover_pids": list(srv.leftover)})

    def timings(self):
        """Its starts and stops so far, as journal.Timings names them."""
        with self._lock:
            return {"server_starts": self.starts, "server_start_s": round(self.start_s, 3),
                    "server_stops": self.stops, "server_stop_s": round(self.stop_s, 3),
                    "server_stop_wait_s": round(self.stop_wait_s, 3)}

    def close(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
