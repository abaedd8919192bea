"""One running Apache per worker at a time, keyed by (site, mode): cases sharing a site
and mode share a server; moving on stops the old one (by PID, through httpd.Server)."""

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from .sites import SiteContext, render_site, site_env
from gateway import httpd


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
        self.stop_problems = []

    def get(self, site, mode):
        if self.key == (site, mode) and self.current and self.current.running:
            return self.current
        self.stop()
        self.starts += 1
        root = self.base / ("%s-%s-%d" % (site, mode, self.starts))
        root.mkdir(parents=True)
        ctx = SiteContext(root, self.env, mode)
        ctx.copy_apps()
        server = httpd.Server(self.env.install, root, mpm=self.env.mpm,
                              module_lines=self.env.target.load_lines(),
                              fragments=render_site(site, ctx), extra_env=site_env(site))
        server.ctx = ctx
        t0 = time.monotonic()
        self.key = (site, mode)
        self.current = server
        server.start()
        self.start_s += time.monotonic() - t0
        return server

    def stop(self):
        if self.current:
            srv = self.current
            offset = srv.log_size()
            srv.stop()
            # Crashes and hangs at shutdown belong to no case: keep them for the journal.
            problems = [l for l in srv.read_log(offset).splitlines()
                        if re.search(r"Segmentation fault|exit signal|AH00045|AH00046", l)]
            if problems or getattr(srv, "leftover", None):
                self.stop_problems.append({"site": self.key[0], "mode": self.key[1],
                                           "log": problems[:10],
                                           "leftover_pids": getattr(srv, "leftover", [])})
        self.current = None
        self.key = None

    def close(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

