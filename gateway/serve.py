"""python -m gateway serve APP.wsgi: host one WSGI app under Apache with mod_gateway.

Builds the module for the Python asked for (cached), writes a config for one app
(embedded, or a daemon group), starts Apache on 127.0.0.1 and checks that it really
serves: a first request to the app must be answered by it (not a 500 or 503) before
"serving ... at http://..." is printed.  While serving, the error log's new lines are
echoed on the terminal (stderr), as mod_wsgi-express --log-to-terminal does; Ctrl-C or
SIGTERM stops Apache and everything it started.

When Apache does not start or the first request fails, the error log's lines of this
start are printed with the likely fix, and the exit status is 1.  The commonest cause:
started as root, Apache's children and daemons run as an unprivileged user (www-data),
who cannot read a virtualenv or app under a private directory such as root's home --
put them in another location that user can read, or run the children as a user who
can (--user).
"""

import argparse
import json
import os
import pwd
import grp
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import httpd, wsgi_config
from .host import HostError, find_python, python_info

CHECK_TIMEOUT = 30.0        # seconds for the first request to be answered by the app


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m gateway serve", description=__doc__.split("\n\n")[0])
    p.add_argument("app", help="the WSGI script file (defines `application`)")
    p.add_argument("--python", default=sys.executable, help="the Python to embed (path or version)")
    p.add_argument("--apxs", default="apxs")
    p.add_argument("--mpm", default="event", choices=("prefork", "worker", "event"))
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--mount", default="/")
    p.add_argument("--mode", default="daemon", choices=("embedded", "daemon"))
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--threads", type=int, default=5)
    p.add_argument("--compatibility", default="5", choices=("3.4", "5", "6"))
    p.add_argument("--module", help="use this built module instead of building one")
    p.add_argument("--user", help="run Apache's children and daemons as USER[:GROUP] (when started as root; "
                                  "default www-data), e.g. a user who can read your virtualenv")
    p.add_argument("--log-level", default="info", help="Apache LogLevel (default %(default)s)")
    p.add_argument("--no-log-to-terminal", dest="log_to_terminal", action="store_false",
                   help="do not echo the error log's new lines on the terminal")
    p.add_argument("--check-path", help="path requested to check that the app answers (default: --mount)")
    p.add_argument("--check-timeout", type=float, default=CHECK_TIMEOUT,
                   help="seconds the first request may take (default %(default)s)")
    return p.parse_args(argv)


def app_fragments(app, mount, mode, processes, threads, compatibility, python_prefix, run_dir, apache=(2, 4)):
    """The WSGI lines for one app (mod_gateway: WSGICompatibility always), from gateway.wsgi_config;
    `apache`: the install's version."""
    app = Path(app).resolve()
    lines = wsgi_config.header(wsgi_config.GATEWAY_KIND, compatibility, Path(run_dir) / "wsgi", python_prefix)
    if mode == "daemon":
        lines += [wsgi_config.daemon_process("app", ("processes", processes), ("threads", threads),
                                             ("display-name", wsgi_config.GROUP)),
                  wsgi_config.script_alias(mount, app, process_group="app",
                                           application_group=wsgi_config.GLOBAL)]
    else:
        lines += [wsgi_config.script_alias(mount, app), wsgi_config.application_group(wsgi_config.GLOBAL)]
    return lines + wsgi_config.directory_grant(app.parent, apache)


def parse_user(spec):
    """USER[:GROUP] -> (user, group); the group defaults to the user's own."""
    name, _, group = spec.partition(":")
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise httpd.HttpdError("--user %s: no such user" % name)
    if group:
        try:
            grp.getgrnam(group)
        except KeyError:
            raise httpd.HttpdError("--user %s: no such group %s" % (spec, group))
    else:
        group = grp.getgrgid(pw.pw_gid).gr_name
    if pw.pw_uid == 0:
        raise httpd.HttpdError("--user root: Apache does not run its children as root; name an unprivileged "
                               "user who can read the app and the virtualenv")
    return name, group


# -- the error log, followed ---------------------------------------------------------------

class LogTail:
    """New complete lines of the server's error log since the last call."""

    def __init__(self, server, offset=0):
        self.server, self.offset, self.seen = server, offset, []

    def new_lines(self):
        try:
            with open(str(self.server.error_log), "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1             # whole lines only; the rest comes next time
        self.offset += end
        lines = data[:end].decode("utf-8", "replace").splitlines()
        self.seen += lines
        return lines

    def echo(self, stream=None):
        for line in self.new_lines():
            print(line, file=stream or sys.stderr, flush=True)


# -- the first request ------------------------------------------------------------------------

def request(url, timeout=10.0):
    """(status, reason) of a GET, or (None, why) when nothing answered."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.reason
    except urllib.error.HTTPError as e:
        return e.code, e.reason
    except (OSError, urllib.error.URLError) as e:
        return None, str(getattr(e, "reason", e))


def check_serving(server, url, tail, timeout=CHECK_TIMEOUT):
    """Wait until a request to `url` is answered by the app.  Returns None when it is, or
    what went wrong.  A 503 while the daemon starts is retried until `timeout`, a 500 or
    a failure in the error log ends the wait at once."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        if not server.running:
            return "Apache exited (status %s)" % (server.proc.returncode if server.proc else "?")
        status, body = request(url, timeout=max(1.0, min(15.0, deadline - time.monotonic())))
        if status is not None and status not in (500, 503):
            return None
        last = ("not answered: %s" % body) if status is None else "answered %d %s" % (status, body)
        time.sleep(0.3)                          # let the cause reach the log
        tail.new_lines()
        failed = [l for l in tail.seen if httpd.LOG_FAILURE.search(l)]
        if status == 500 or (status == 503 and failed) or time.monotonic() >= deadline:
            return "the first request to %s was %s" % (url, last)
        time.sleep(0.2)


# -- what is wrong, and the fix --------------------------------------------------------------

def unreadable(user, paths):
    """[(path, blocking directory or path, why)] of `paths` that `user` cannot read, checked
    in a child process that switches to that user (we are root)."""
    pw = pwd.getpwnam(user[0])
    gid = grp.getgrnam(user[1]).gr_gid
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                  # the child: become the user, look, report
        code = 0
        try:
            os.close(r)
            os.setgroups(os.getgrouplist(pw.pw_name, gid))
            os.setgid(gid)
            os.setuid(pw.pw_uid)
            out = []
            for path in paths:
                p = Path(path)
                try:
                    need = os.R_OK | (os.X_OK if p.is_dir() else 0)
                except OSError:
                    need = os.R_OK
                if os.access(str(p), need):
                    continue
                block = next((str(d) for d in list(reversed(p.parents)) if not os.access(str(d), os.X_OK)), None)
                out.append((str(p), block or str(p), "cannot enter %s" % block if block else "cannot read it"))
            os.write(w, json.dumps(out).encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    try:
        return [tuple(x) for x in json.loads(b"".join(chunks).decode() or "[]")]
    except ValueError:
        return []


def _describe(path):
    try:
        st = os.stat(path)
        owner = pwd.getpwuid(st.st_uid).pw_name
    except (OSError, KeyError):
        return path
    return "%s (mode %o, owner %s)" % (path, st.st_mode & 0o7777, owner)


def base_prefix(python):
    """Where the standard library of `python` lives (a virtualenv's base interpreter)."""
    try:
        return python_info(python)["base_prefix"] or None
    except HostError:
        return None


def fixes(log_lines, user, app, home, python, base=None):
    """The likely causes of a failed start, each with its fix, most specific first."""
    out = []
    text = "\n".join(log_lines)
    if user:
        names = {home: "python-home (the virtualenv or Python)", base: "the Python the virtualenv was made from"}
        paths = [p for p in (home, base if base != home else None, str(Path(app).resolve())) if p]
        for path, block, _why in unreadable(user, paths):
            what = names.get(path, "the app")
            out.append("Apache's children run as %s, who cannot read %s %s: %s blocks the way. Fix: put it in "
                       "another location %s can read (not under a private home such as /root), or run the "
                       "children as a user who can read it: --user NAME."
                       % (user[0], what, path, _describe(block), user[0]))
        if not out and "Permission denied" in text:
            out.append("Permission denied in the error log: Apache's children run as %s. Fix: make what the log "
                       "names readable by %s, move it to another location, or run the children as a user who "
                       "can read it: --user NAME." % (user[0], user[0]))
    if "ModuleNotFoundError" in text or "ImportError" in text:
        out.append("The app imports a module the server Python (%s) does not have. Fix: install it there, or "
                   "pass --python the python of the virtualenv that has it." % python)
    if "python-home" in text and not out:
        out.append("The daemon could not use the python-home %s. Fix: check it is a Python installation or "
                   "virtualenv made from %s, or pass --python another interpreter." % (home, python))
    if not out and "Traceback" in text:
        out.append("The app raised an exception (its traceback is above). Fix the app, or check it with "
                   "`python %s` first." % app)
    if not out:
        out.append("See the error-log lines above.")
    return out


def _report_failure(what, tail, server, user, app, home, python):
    tail.new_lines()
    print("gateway serve: %s" % what, file=sys.stderr)
    if tail.seen:
        print("gateway serve: the error log (%s) of this start:" % server.error_log, file=sys.stderr)
        for line in tail.seen:
            print("    " + line, file=sys.stderr)
    else:
        print("gateway serve: nothing in the error log %s" % server.error_log, file=sys.stderr)
    for fix in fixes(tail.seen, user, app, home, python, base_prefix(python)):
        print("gateway serve: " + fix, file=sys.stderr)
    sys.stderr.flush()


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    try:
        if not os.path.isfile(a.app):
            raise httpd.HttpdError("no WSGI script %s" % a.app)
        user = parse_user(a.user) if a.user else None
        if user and os.geteuid() != 0:
            raise httpd.HttpdError("--user needs root: started as another user, Apache's children run as you")
        python = find_python(a.python)
        install = httpd.ApacheInstall.from_apxs(a.apxs)
        if a.module:
            module = a.module
        else:
            from .build import build_module
            module = str(build_module(python, apxs=install.apxs))
        prefix = python_info(python)["prefix"]
    except Exception as e:                       # HttpdError, HostError, a failed build
        print("gateway serve: %s" % e, file=sys.stderr)
        return 1
    home = wsgi_config.python_home_for(prefix)
    root = Path(tempfile.mkdtemp(prefix="gateway-serve-"))
    server = httpd.Server(install, root, mpm=a.mpm, module_lines=["LoadModule gateway_module %s" % module],
                          fragments=app_fragments(a.app, a.mount, a.mode, a.processes, a.threads,
                                                  a.compatibility, prefix, root / "run", install.version),
                          log_level=a.log_level)
    if user:
        server.user = user
    server.port = a.port
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    tail = LogTail(server)
    serving = False
    try:
        try:
            server.start()
        except httpd.HttpdError as e:
            _report_failure("Apache did not start: %s" % str(e).rstrip().replace("\n", "\n    "), tail, server, server.user,
                            a.app, home, python)
            return 1
        url = server.url + (a.check_path or a.mount)
        problem = check_serving(server, url, tail, a.check_timeout)
        if problem:
            _report_failure(problem, tail, server, server.user, a.app, home, python)
            return 1
        serving = True
        if a.log_to_terminal:
            for line in tail.seen:
                print(line, file=sys.stderr)
        print("serving %s at %s%s (%s mode, Apache %s %s, children as %s, log %s)" % (
            a.app, server.url, a.mount, a.mode, install.version_string, a.mpm,
            server.user[0] if server.user else pwd.getpwuid(os.geteuid()).pw_name, server.error_log), flush=True)
        while not stop and server.running:
            if a.log_to_terminal:
                tail.echo()
            time.sleep(0.2)
        if a.log_to_terminal:
            tail.echo()
        if not stop:
            print("gateway serve: Apache exited (status %s)" % server.proc.returncode, file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if serving and a.log_to_terminal:
            tail.echo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
