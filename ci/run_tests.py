"""`tox -e tests`: unit tests, then conformance sessions against the real mod_wsgi and
mod_gateway as listed in ci/suites.json; prints a summary and exits non-zero when a
required run fails.  Journals and JUnit go to reports/tests/."""

import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "tests"


def command(run):
    slug = run["name"].replace("/", "_")
    if "pytest" in run:
        paths = [p for p in run["pytest"] if (ROOT / p).exists()]
        if not paths:
            return None
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--junitxml", str(OUT / (slug + ".xml"))] + paths
    cmd = [sys.executable, "-m", "conformance", "--target", run["target"], "--mpm", run.get("mpm", "event"),
           "--json", str(OUT / (slug + ".json")), "--junitxml", str(OUT / (slug + ".xml")), "-n", "2"]
    if run.get("python"):
        cmd += ["--server-python", run["python"]]
    if run.get("mode"):
        cmd += ["--mode", run["mode"]]
    if run.get("profile"):
        cmd += ["--profile", run["profile"]]
    return cmd


def expired(run):
    return run.get("expires") and datetime.date.fromisoformat(run["expires"]) < datetime.date.today()


def main(argv):
    OUT.mkdir(parents=True, exist_ok=True)
    runs = json.loads((ROOT / "ci" / "suites.json").read_text())["runs"]
    only = [a for a in argv if not a.startswith("-")]
    results = []
    for run in runs:
        if only and not any(o in run["name"] for o in only):
            continue
        required = run["required"] or expired(run)
        print("==> %s%s" % (run["name"], "" if required else "  (allowed to fail: %s)" % run.get("reason")),
              flush=True)
        t0 = time.monotonic()
        cmd = command(run)
        if cmd is None:
            print("    nothing to run yet")
            continue
        rc = subprocess.call(cmd, cwd=str(ROOT))
        results.append((run["name"], rc, required, time.monotonic() - t0))
    print("\n%-45s %-8s %-9s %s" % ("run", "result", "required", "time"))
    for name, rc, required, took in results:
        print("%-45s %-8s %-9s %.0fs" % (name, "ok" if rc == 0 else "FAIL(%d)" % rc,
                                        "yes" if required else "no", took))
    failed = [r for r in results if r[1] != 0 and r[2]]
    passed = [r for r in results if r[1] == 0]
    print("%d passed, %d failed" % (len(passed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
