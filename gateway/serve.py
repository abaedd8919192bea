"""python -m gateway serve APP.wsgi: host one WSGI app under Apache with mod_gateway.

Builds the module for the Python asked for (cached), writes a config for one app
(embedded, or a daemon group), starts Apache on 127.0.0.1 and serves until Ctrl-C
or SIGTERM, then stops it and everything it started."""

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import httpd


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
    return p.parse_args(argv)


def app_fragments(app, mount, mode, processes, threads, compatibility, python_prefix, run_dir):
    app = Path(app).resolve()
    lines = ["WSGICompatibility %s" % compatibility, 'WSGISocketPrefix "%s/wsgi"' % run_dir]
    if python_prefix and not python_prefix.startswith("/usr"):
        lines.append('WSGIPythonHome "%s"' % python_prefix)
    if mode == "daemon":
        lines += ["WSGIDaemonProcess app processes=%d threads=%d display-name=%%{GROUP}" % (processes, threads),
                  "WSGIScriptAlias %s %s process-group=app application-group=%%{GLOBAL}" % (mount, app)]
    else:
        lines += ["WSGIScriptAlias %s %s" % (mount, app),
                  "WSGIApplicationGroup %{GLOBAL}"]
    lines += ['<Directory "%s">' % app.parent, "    Require all granted", "</Directory>"]
    return lines


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    from conformance.targets import find_python, python_info
    python = find_python(a.python)
    install = httpd.ApacheInstall.from_apxs(a.apxs)
    if a.module:
        module = a.module
    else:
        from .build import build_module
        module = str(build_module(python, apxs=install.apxs))
    root = Path(tempfile.mkdtemp(prefix="gateway-serve-"))
    server = httpd.Server(install, root, mpm=a.mpm, module_lines=["LoadModule gateway_module %s" % module],
                          fragments=app_fragments(a.app, a.mount, a.mode, a.processes, a.threads,
                                                  a.compatibility, python_info(python)["prefix"],
                                                  root / "run"))
    server.port = a.port
    try:
        server.start()
    except httpd.HttpdError as e:
        print("gateway serve: %s" % e, file=sys.stderr)
        return 1
    print("serving %s at %s%s (%s mode, Apache %s %s, log %s)" % (
        a.app, server.url, a.mount, a.mode, install.version_string, a.mpm, server.error_log), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop and server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
