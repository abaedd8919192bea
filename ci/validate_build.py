"""ci/validate-build: what a packager runs against the module they just built.

Detects the module's kind, version and embedded Python, runs the conformance suite
(both modes unless --mode says otherwise, each MPM asked for) against it with the
system or given Apache, and writes the journals, JUnit XML and verdict.json under
--out.  Exit 0 only when every required case passes, 1 when one fails, 2 when the
module or Apache cannot be used.  Needs nothing from the network: the suite, apps and profiles
ship in the sdist; pytest, pytest-xdist and requests must be importable."""

if __name__ == "__main__" and not __package__:
    # Run as a file (python ci/validate_build.py): run the module ci.validate_build of this
    # tree (an unpacked sdist: nothing installed), found through PYTHONPATH.
    import os as _os
    import sys as _sys
    _root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    _os.environ["PYTHONPATH"] = _os.pathsep.join(filter(None, [_root, _os.environ.get("PYTHONPATH")]))
    _os.execv(_sys.executable, [_sys.executable, "-m", "ci.validate_build"] + _sys.argv[1:])

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from conformance import targets
from conformance.journal import Journal, JournalError
from gateway import httpd

HERE = Path(__file__).resolve().parent


def parse(argv):
    p = argparse.ArgumentParser(prog="ci/validate-build", description=__doc__.split("\n\n")[0])
    p.add_argument("--module", required=True, help="the built module (.so) to validate")
    p.add_argument("--python", help="the Python it embeds (default: found from its libpython)")
    p.add_argument("--apxs", default="apxs", help="apxs of the Apache to run it in")
    p.add_argument("--profile", choices=("3.4", "5", "6"), help="default: from the module's version")
    p.add_argument("--mpm", action="append", help="MPM(s) to run (default: every MPM the Apache has)")
    p.add_argument("--mode", choices=("embedded", "daemon", "both"), default="both",
                   help="embedded, daemon or both (default)")
    p.add_argument("--out", default="reports/validate", help="where journals and JUnit go")
    p.add_argument("--dry-run", action="store_true", help="print the sessions, run nothing")
    return p.parse_args(argv)


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    try:
        install = httpd.ApacheInstall.from_apxs(a.apxs)
        target = targets.resolve(os.path.abspath(a.module), a.python, install.apxs)
        python = a.python or targets.python_for_libpython(target.libpython)
        if not python:
            raise targets.TargetError("cannot tell which Python %s embeds (libpython %r): pass --python"
                                      % (a.module, target.libpython))
    except (targets.TargetError, httpd.HttpdError) as e:
        print("validate-build: %s" % e, file=sys.stderr)
        return 2
    kind = targets.module_facts(target.module)[1]     # what the binary is: mod_wsgi or gateway
    profile = a.profile or target.default_profile
    mpms = a.mpm or list(install.mpms)
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print("validate-build: %s (%s %s, Python %s) on Apache %s, profile %s, MPMs %s, mode %s"
          % (a.module, kind, ".".join(map(str, target.version)), python,
             install.version_string, profile, ", ".join(mpms), a.mode))
    results = []
    for mpm in mpms:
        name = "%s-%s" % (Path(a.module).name, mpm)
        cmd = [sys.executable, "-m", "conformance", "--target", os.path.abspath(a.module),
               "--server-python", python, "--apxs", install.apxs, "--mpm", mpm, "--mode", a.mode,
               "--profile", profile,
               "--json", str(out / (name + ".json")), "--junitxml", str(out / (name + ".xml")), "-n", "2"]
        print("==> " + " ".join(cmd), flush=True)
        if a.dry_run:
            continue
        rc = subprocess.call(cmd, cwd=str(HERE.parent))
        try:
            journal = Journal.read(out / (name + ".json"))
        except JournalError as e:
            print("validate-build: %s" % e, file=sys.stderr)
            journal, rc = None, rc or 2
        results.append((mpm, rc, journal.summary if journal else {}))
    if a.dry_run:
        return 0
    print("\n%-8s %-7s %s" % ("mpm", "result", "cases"))
    for mpm, rc, summary in results:
        print("%-8s %-7s %s" % (mpm, "ok" if rc == 0 else "FAIL", json.dumps(summary, sort_keys=True)))
    failed = [r for r in results if r[1] != 0]
    (out / "verdict.json").write_text(json.dumps({
        "module": os.path.abspath(a.module), "kind": kind,
        "version": ".".join(map(str, target.version)), "python": python, "profile": profile,
        "apache": install.version_string, "mode": a.mode, "passed": not failed,
        "sessions": [{"mpm": m, "exit": rc, "summary": s} for m, rc, s in results]}, indent=1))
    print("%d passed, %d failed" % (len(results) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
