"""One owner of "an Apache install and its servers".

`ApacheInstall` describes an httpd build found from its apxs (version, binary,
modules directory, MPMs).  `render_config` assembles an httpd.conf from small
pieces.  `Server` checks a config with `httpd -t`, starts httpd in the
foreground on a loopback port chosen at run time, waits until it answers,
stops it, confirms every process of it is gone and reads its error log.

The conformance suite, the matrix and the benchmarks all go through here, so
the rules about privileges, environment scrubbing and teardown live in one place.
So do the facts about processes read from /proc (session_pids, process_tree,
alive, kill_tree, cmdline, rss_kb, cpu_s) and the apxs query (apxs_query); the cache
root and the Python probe are gateway.host's.
"""

import os
import pwd
import grp
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway import wsgi_config as wc

# Debian's envvars sets LANG=C; we start Apache with that and nothing else from
# the caller's shell (LANG, PYTHONUNBUFFERED, ... would leak into the embedded Python).
SCRUBBED_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
                "LANG": "C"}

# Modules the base server needs when they are not compiled in (authz_core and unixd exist
# from 2.4 only: load_module_line skips what an install does not ship).
BASE_MODULES = ("authz_core", "authz_host", "unixd", "log_config", "mime", "alias",
                "env", "setenvif", "headers")

# 3.4 logs with an empty module tag: "[:error]".
LOG_FAILURE = re.compile(r"\[(?:[\w_]*:)?(?:error|crit|alert|emerg)\]|Segmentation fault|"
                         r"exit signal|AH00052|AH00051")


# One error-log line: 2.4 writes "[time] [module:level] [pid P:tid T] rest"; 2.2 writes
# "[time] [level] rest" (no module, no pid: it has no ErrorLogFormat).
_LOG_LINE_24 = re.compile(r"^\[[^\]]*\] \[(?P<tag>[^\]\s]+)\] \[pid (?P<pid>\d+)(?::tid \d+)?\] (?P<rest>.*)$")
_LOG_LINE_22 = re.compile(r"^\[[^\]]*\] \[(?P<tag>emerg|alert|crit|error|warn|notice|info|debug)\] "
                          r"(?P<rest>.*)$")
# In a pattern: its leading escaped "[module:level]" tag (the module may be an alternation)
# and a message code.
_MODULE_TAG = re.compile(r"^\\\[(?:\w*|\(\?:[\w|]*\)):(\w+)\\\]")
_MESSAGE_CODE = re.compile(r"AH\d{5}: ")


def parse_log_line(line, version):
    """(pid or None, "[tag]", rest) of an error-log line of Apache `version`, or None
    for a line of another shape (a traceback's continuation, a child's stderr)."""
    m = (_LOG_LINE_24 if version >= (2, 4) else _LOG_LINE_22).match(line)
    if not m:
        return None
    return m.groupdict().get("pid"), "[%s]" % m.group("tag"), m.group("rest")


def log_pattern(pattern, version):
    """A pattern written for 2.4's "[module:level] AHnnnnn: message" text, for Apache
    `version`: 2.2's lines carry the level alone and no message codes."""
    if version >= (2, 4):
        return pattern
    return _MESSAGE_CODE.sub("", _MODULE_TAG.sub(r"\\[\1\\]", pattern, 1))


class HttpdError(Exception):
    """An Apache install or server could not do what was asked; the message says why."""


class ConfigError(HttpdError):
    """`httpd -t` rejected a configuration."""

    def __init__(self, message, output, config_text):
        super().__init__(message)
        self.output = output
        self.config_text = config_text


def _run(cmd, env=None, timeout=60):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, timeout=timeout)


@dataclass
class ApacheInstall:
    apxs: str
    httpd: str
    version: tuple
    libexecdir: str
    static_modules: tuple
    mpms: tuple = field(default_factory=tuple)

    @classmethod
    def from_apxs(cls, apxs="apxs"):
        apxs_path = apxs if os.path.sep in apxs else _which(apxs)
        if not apxs_path or not os.access(apxs_path, os.X_OK):
            raise HttpdError("apxs not found: %r (install apache2-dev, or pass --apxs)" % apxs)
        q = apxs_query(apxs_path, "SBINDIR", "TARGET", "LIBEXECDIR", "PROGNAME")
        progname = q["PROGNAME"] or q["TARGET"] or "httpd"
        httpd = os.path.join(q["SBINDIR"], progname)
        if not os.access(httpd, os.X_OK):
            raise HttpdError("apxs %s names httpd %s, which is not executable" % (apxs_path, httpd))
        v = _run([httpd, "-v"], env=SCRUBBED_ENV)
        m = re.search(r"Apache/(\d+)\.(\d+)\.(\d+)", v.stdout)
        if not m:
            raise HttpdError("cannot read the version of %s: %s" % (httpd, v.stdout.strip()))
        static = tuple(re.findall(r"^\s+(\S+)\.c$", _run([httpd, "-l"], env=SCRUBBED_ENV).stdout, re.M))
        libexec = q["LIBEXECDIR"]
        mpms = sorted(p.name[len("mod_mpm_"):-3] for p in Path(libexec).glob("mod_mpm_*.so"))
        for s in static:
            if s in ("prefork", "worker", "event"):
                mpms.append(s)
        return cls(apxs=apxs_path, httpd=httpd, version=tuple(int(x) for x in m.groups()),
                   libexecdir=libexec, static_modules=static, mpms=tuple(sorted(set(mpms))))

    @property
    def version_string(self):
        return ".".join(str(x) for x in self.version)

    @property
    def static_mpm(self):
        for s in self.static_modules:
            if s in ("prefork", "worker", "event"):
                return s
        return None

    def load_module_line(self, name):
        """LoadModule line for a module shipped with this install, '' if compiled in."""
        if "mod_%s" % name in self.static_modules:
            return ""
        path = os.path.join(self.libexecdir, "mod_%s.so" % name)
        if not os.path.exists(path):
            return ""
        return "LoadModule %s_module %s" % (name, path)


def apxs_query(apxs, *names):
    """{name: value} of `apxs -q name` for each name ("" for one apxs does not know).

    One query per name: given several, apxs drops the unknown ones silently."""
    q = {}
    for name in names:
        out = _run([str(apxs), "-q", name])
        q[name] = out.stdout.strip() if out.returncode == 0 else ""
    return q


def _which(name):
    for d in SCRUBBED_ENV["PATH"].split(":") + os.environ.get("PATH", "").split(":"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def child_user():
    """The unprivileged user Apache children run as when we start Apache as root."""
    for name in ("www-data", "apache", "daemon", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name
        except KeyError:
            continue
    raise HttpdError("no unprivileged user (www-data, apache, daemon, nobody) to run Apache children")


def can_reach(user, path):
    """True when `user` can traverse every directory down to `path` (checked as root)."""
    pw = pwd.getpwnam(user)
    groups = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {pw.pw_gid}
    p = Path(path).resolve()
    for d in reversed(p.parents):
        try:
            st = d.stat()
        except OSError:
            return False
        if not _allowed(st, pw.pw_uid, groups, 0o1, d):
            return False
    return True


def _allowed(st, uid, gids, need, path):
    if st.st_uid == uid:
        return bool((st.st_mode >> 6) & need)
    if _acl_allows(path, uid, need):
        return True
    if st.st_gid in gids:
        return bool((st.st_mode >> 3) & need)
    return bool(st.st_mode & need)


def _acl_allows(path, uid, need):
    try:
        out = _run(["getfacl", "-cpn", str(path)]).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    m = re.search(r"^user:%d:([r-][w-][x-])" % uid, out, re.M)
    if not m:
        return False
    perms = m.group(1)
    return (need & 1 and perms[2] == "x") or (need & 4 and perms[0] == "r")


def render_config(install, root, port, mpm, module_lines=(), fragments=(), user=None,
                  extra_modules=(), log_level="info"):
    """An httpd.conf from pieces: base server, MPM, module LoadModule lines, case fragments."""
    root = Path(root)
    lines = ["# generated by gateway.httpd for Apache %s, MPM %s" % (install.version_string, mpm),
             'ServerRoot "%s"' % root,
             "Listen 127.0.0.1:%d" % port,
             "ServerName localhost:%d" % port,
             'PidFile "%s"' % (root / "httpd.pid"),
             'ErrorLog "%s"' % (root / "error.log"),
             "LogLevel %s" % log_level,
             # 2.2 has no DefaultRuntimeDir; its accept mutex file goes where 2.4's would.
             ('DefaultRuntimeDir "%s"' if install.version >= (2, 4) else 'LockFile "%s/accept.lock"')
             % (root / "run"),
             'DocumentRoot "%s"' % (root / "htdocs"),
             "Timeout 30",
             "KeepAlive On",
             "MaxKeepAliveRequests 1000"]
    if install.static_mpm is None:
        if mpm not in install.mpms:
            raise HttpdError("MPM %r is not available in Apache %s (has %s)"
                             % (mpm, install.httpd, ", ".join(install.mpms)))
        lines.append("LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (mpm, install.libexecdir, mpm))
    elif mpm != install.static_mpm:
        raise HttpdError("Apache %s has the %s MPM compiled in, not %s"
                         % (install.httpd, install.static_mpm, mpm))
    lines += [mpm_settings(mpm, install.version)]
    for name in BASE_MODULES + tuple(extra_modules):
        line = install.load_module_line(name)
        if line:
            lines.append(line)
    if user:
        lines += ["User %s" % user[0], "Group %s" % user[1]]
    lines += ['LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" timed',
              'CustomLog "%s" timed' % (root / "access.log"),
              "TypesConfig /dev/null"]
    lines += wc.directory("/", False, install.version, "AllowOverride None")
    lines += wc.directory(root, True, install.version)
    lines += list(module_lines)
    lines += list(fragments)
    return "\n".join(lines) + "\n"


# {max}: the MaxRequestWorkers directive, which 2.2 calls MaxClients.
MPM_SETTINGS = {
    "prefork": "<IfModule mpm_prefork_module>\n    StartServers 2\n    MinSpareServers 2\n"
               "    MaxSpareServers 4\n    {max} 32\n</IfModule>",
    "worker": "<IfModule mpm_worker_module>\n    StartServers 1\n    ServerLimit 2\n"
              "    ThreadsPerChild 16\n    {max} 32\n    MinSpareThreads 8\n"
              "    MaxSpareThreads 32\n</IfModule>",
    "event": "<IfModule mpm_event_module>\n    StartServers 1\n    ServerLimit 2\n"
             "    ThreadsPerChild 16\n    {max} 32\n    MinSpareThreads 8\n"
             "    MaxSpareThreads 32\n</IfModule>",
}


def max_workers_directive(version):
    return "MaxRequestWorkers" if version >= (2, 4) else "MaxClients"


def mpm_settings(mpm, version):
    """The MPM block for this install."""
    return MPM_SETTINGS[mpm].format(max=max_workers_directive(version))


def cmdline(pid):
    """A process's command line, arguments joined by spaces ("" once it is gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("latin-1").strip()
    except OSError:
        return ""


def rss_kb(pid):
    """A process's resident set in kB (0 once it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid):
    """CPU seconds (user + system) of `pid` and of every child it has reaped, which for a
    zombie not yet reaped is its whole tree's (0.0 once it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def session_pids(sid):
    """PIDs of the live (not zombie) processes of session `sid`, from /proc."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    return kids


def process_tree(pid):
    """`pid` and all its descendants, from /proc (parents before their children)."""
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def alive(pid):
    """True while `pid` exists and is neither a zombie nor dead."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def kill_tree(pid, grace=10.0):
    """SIGTERM `pid` and all its descendants (taken before anyone is orphaned), then SIGKILL
    what is left after `grace`; returns how many there were."""
    pids = process_tree(pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.1)
    return len(pids)


class Server:
    """One Apache instance in its own server root. Use as a context manager."""

    def __init__(self, install, root, mpm="event", module_lines=(), fragments=(),
                 extra_modules=(), log_level="info", start_timeout=20, extra_env=None):
        self.install = install
        # Apache's environment: SCRUBBED_ENV and, on top, what this server is asked to carry
        # (e.g. LC_ALL for a site that shows how a daemon's locale= meets it).
        self.env = dict(SCRUBBED_ENV, **dict(extra_env or {}))
        self.root = Path(root)
        self.mpm = mpm
        self.module_lines = list(module_lines)
        self.fragments = list(fragments)
        self.extra_modules = tuple(extra_modules)
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.user = child_user() if os.geteuid() == 0 else None
        self.port = None
        self.proc = None
        self.config_text = ""
        self.startup_output = ""
        self.forced = ""
        self.leftover = []

    # -- paths -------------------------------------------------------------
    @property
    def conf_path(self):
        return self.root / "httpd.conf"

    @property
    def error_log(self):
        return self.root / "error.log"

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def prepare(self):
        for d in ("run", "htdocs", "logs"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        # Children run as an unprivileged user: it must traverse our tree.
        os.chmod(self.root, 0o755)
        os.chmod(self.root / "run", 0o755)
        if self.user and os.geteuid() == 0:
            pw = pwd.getpwnam(self.user[0])
            os.chown(self.root / "run", pw.pw_uid, pw.pw_gid)

    def render(self):
        self.port = self.port or free_port()
        self.config_text = render_config(self.install, self.root, self.port, self.mpm,
                                         self.module_lines, self.fragments, self.user,
                                         self.extra_modules, self.log_level)
        self.conf_path.write_text(self.config_text)
        return self.config_text

    def check(self):
        """`httpd -t`; raises ConfigError naming the problem."""
        self.prepare()
        self.render()
        out = _run([self.install.httpd, "-t", "-f", str(self.conf_path)], env=self.env)
        if out.returncode != 0:
            raise ConfigError("httpd -t rejected %s:\n%s" % (self.conf_path, out.stdout.strip()),
                              out.stdout, self.config_text)
        return out.stdout

    def start(self):
        for attempt in range(3):
            self.check()
            self._log_offset_at_start = self.log_size()
            self.proc = subprocess.Popen(
                [self.install.httpd, "-f", str(self.conf_path), "-DFOREGROUND"],
                stdout=open(self.root / "startup.out", "wb"), stderr=subprocess.STDOUT,
                env=self.env, cwd=str(self.root), start_new_session=True, close_fds=True)
            try:
                self.wait_ready()
                return self
            except HttpdError:
                in_use = "Address already in use" in self.startup_text()
                self.stop()
                if in_use and attempt < 2:
                    self.port = None
                    continue
                raise

    def startup_text(self):
        p = self.root / "startup.out"
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HttpdError("Apache exited with status %s during start-up:\n%s\n%s"
                                 % (self.proc.returncode, self.startup_text(), self.read_log()[-3000:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    if (self.root / "httpd.pid").exists():
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise HttpdError("Apache did not accept connections on port %d within %ss"
                         % (self.port, self.start_timeout))

    def pids(self):
        """PIDs of every process in this server's session (parent, children, daemons)."""
        return session_pids(self.proc.pid) if self.proc else []

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def graceful(self):
        self.signal(signal.SIGUSR1)

    def stop(self, timeout=15):
        """Stop Apache and confirm that nothing of it is left running.  What the stop had to
        force stays on the server for the caller to report: `forced` (what was killed when
        the parent outlived `timeout` after SIGTERM, "" when it exited) and `leftover`
        (processes of its session still there once the parent was gone, killed by PID)."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.forced = "the parent (pid %d) did not exit within %ss of SIGTERM: killed" % (
                    self.proc.pid, timeout)
                self.proc.kill()
                self.proc.wait(5)
        deadline = time.monotonic() + 5
        left = self.pids()
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = self.pids()
        for pid in left:  # stragglers of our own session only, by PID
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.leftover = left
        self.proc = None

    @property
    def running(self):
        return bool(self.proc and self.proc.poll() is None)

    # -- error log ----------------------------------------------------------
    def log_size(self):
        try:
            return self.error_log.stat().st_size
        except OSError:
            return 0

    def read_log(self, since=0, until=None):
        try:
            with open(self.error_log, "rb") as f:
                f.seek(since)
                return f.read(-1 if until is None else max(0, until - since)).decode("utf-8", "replace")
        except OSError:
            return ""

    def log_failures(self, since=0, expected=()):
        """Error-log lines that signal a problem and match none of the `expected` patterns."""
        bad = []
        for line in self.read_log(since).splitlines():
            if LOG_FAILURE.search(line) and not any(re.search(p, line) for p in expected):
                bad.append(line)
        return bad

    def wait_for_log(self, pattern, since=0, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.read_log(since)
            if re.search(pattern, text):
                return text
            time.sleep(0.05)
        return None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
