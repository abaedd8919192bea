"""python -m matrix.callgrind: instructions per request, and where they go, under callgrind.

Wall-clock benchmarks on a shared 2-core machine are noisy; instruction counts are not.
For one target and mode, Apache runs single-process (`httpd -X`) under
`valgrind --tool=callgrind --trace-children=yes` (daemon processes are profiled too),
once with a warm-up only and once with N more requests; the difference divided by N is
the cost of one request, whole server included (Apache, APR, libc, Python, module),
summed over every process and broken down by source file and function.

    python -m matrix.callgrind --target gateway --mode embedded --requests 1000
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from gateway import httpd
from conformance import targets as targets_mod
from matrix import bench


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m matrix.callgrind", description=__doc__.split("\n\n")[0])
    p.add_argument("--target", default="gateway")
    p.add_argument("--mode", default="embedded", choices=("embedded", "daemon"))
    p.add_argument("--scenario", default="hello", help="bench_app path: hello, get1m, file1m, stream")
    p.add_argument("--python", default="3.11")
    p.add_argument("--apxs", default="apxs")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--top", type=int, default=15)
    return p.parse_args(argv)


def profile_once(install, target, python_prefix, a, requests, workdir):
    """Callgrind outputs of one server run: warm-up plus `requests` requests."""
    workdir.mkdir()
    if os.geteuid() == 0:
        # The server runs as the child user from start to end (valgrind cannot follow a
        # setuid), so the module and everything it reads sit in a tree that user owns.
        so = workdir / Path(target.module).name
        shutil.copy(target.module, str(so))
        target = targets_mod.Target(**dict(target.__dict__, module=str(so)))
    bs = bench.BenchServer(install, "prefork", target, python_prefix, workdir / "server")
    server = bs.server
    server.prepare()
    server.render()
    out = workdir / "cg"
    out.mkdir()
    cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes",
           "--callgrind-out-file=%s/callgrind.out.%%p" % out,
           install.httpd, "-X", "-f", str(server.conf_path)]
    if os.geteuid() == 0:
        user = httpd.child_user()[0]
        subprocess.run(["chown", "-R", "%s:" % user, str(workdir)], check=True)
        cmd = ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups"] + cmd
    proc = subprocess.Popen(cmd, cwd=str(server.root), env=dict(httpd.SCRUBBED_ENV),
                            stdout=open(str(workdir / "valgrind.out"), "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = "%s/%s/%s" % (server.url, "e" if a.mode == "embedded" else "d", a.scenario)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=30).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("server under valgrind did not answer %s; see %s"
                                     % (url, workdir / "valgrind.out"))
                time.sleep(0.5)
        for _ in range(a.warmup + requests):
            urllib.request.urlopen(url, timeout=30).read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)   # our own session: httpd -X and its daemons
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # Daemons write their profiles as they exit, after httpd -X: wait for the whole session
    # (valgrind makes a loaded machine's exits slow), then insist every profile is complete.
    deadline = time.monotonic() + 120
    while httpd.session_pids(proc.pid):
        if time.monotonic() > deadline:
            raise SystemExit("processes of the server under valgrind still run 120 s after it was "
                             "stopped: %s" % httpd.session_pids(proc.pid))
        time.sleep(0.2)
    files = sorted(out.glob("callgrind.out.*"))
    partial = [f.name for f in files if "\ntotals:" not in f.read_text(errors="replace")]
    if not files or partial:
        raise SystemExit("incomplete callgrind profiles in %s: %s" % (out, partial or "none written"))
    return files


def functions(files):
    """{(object file, source file, function): instructions}, summed over processes."""
    totals = {}
    for f in files:
        text = subprocess.run(["callgrind_annotate", "--threshold=100", str(f)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True).stdout
        for line in text.splitlines():
            m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S+?):(\S+)\s+\[(\S+)\]", line)
            if m:
                key = (Path(m.group(4)).name, Path(m.group(2)).name, m.group(3))
                totals[key] = totals.get(key, 0) + int(m.group(1).replace(",", ""))
    return totals


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    install = httpd.ApacheInstall.from_apxs(a.apxs)
    python = targets_mod.find_python(a.python)
    prefix = targets_mod.python_info(python)["prefix"]
    target = targets_mod.resolve(a.target, python, install.apxs)
    tmp = Path(tempfile.mkdtemp(prefix="callgrind-"))
    os.chmod(str(tmp), 0o755)
    try:
        base = functions(profile_once(install, target, prefix, a, 0, tmp / "base"))
        full = functions(profile_once(install, target, prefix, a, a.requests, tmp / "full"))
    finally:
        shutil.rmtree(str(tmp), ignore_errors=True)
    per = {k: (full.get(k, 0) - base.get(k, 0)) / a.requests for k in set(base) | set(full)}
    total = sum(per.values())
    if total <= 0:      # the measured run cost less than the warm-up alone: not a measurement
        raise SystemExit("%.0f instructions per request: the run with requests cost no more than "
                         "the one without; run again on a quieter machine" % total)
    print("%s %s /%s, Apache %s prefork -X, Python %s: %.0f instructions per request"
          % (a.target, a.mode, a.scenario, install.version_string, a.python, total))
    for title, key in (("by object", lambda k: k[0]), ("by source file", lambda k: k[1])):
        groups = {}
        for k, v in per.items():
            groups[key(k)] = groups.get(key(k), 0) + v
        print(" %s:" % title)
        for name, v in sorted(groups.items(), key=lambda x: -x[1])[:a.top]:
            print("   %-40s %9.0f %5.1f%%" % (name[:40], v, 100.0 * v / total))
    print(" functions:")
    for k, v in sorted(per.items(), key=lambda x: -x[1])[:a.top]:
        print("   %-60s %9.0f %5.1f%%" % (("%s:%s" % (k[0], k[2]))[:60], v, 100.0 * v / total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
