"""python -m matrix {list,run,merge,report,build-httpd,bench} (see matrix/__init__.py)."""

import argparse
import json
import sys
from collections import defaultdict

USAGE = __import__("matrix").__doc__


def ci_jobs(ids, limit):
    """Entries of a CI job matrix of at most `limit` jobs: {"name", "cells", "apache",
    "python"}.  One cell per job when they fit, else the cells grouped by the deepest ID
    prefix that fits; "cells" lists the exact IDs (space-separated, for `run --cells`) so
    a job runs what was selected and nothing else under its prefix; apache/python say
    what the job must provision ("" = all)."""
    for depth in (5, 4, 3, 2, 1):
        groups = {}
        for i in ids:
            groups.setdefault("/".join(i.split("/")[:depth]), []).append(i)
        if len(groups) <= limit:
            break
    out = []
    for prefix, members in sorted(groups.items()):
        seg = prefix.split("/") + ["", ""]
        out.append({"name": prefix if depth == 5 else prefix + "/*", "cells": " ".join(members),
                    "apache": seg[0][len("apache"):], "python": seg[1][len("py"):]})
    return out


def cmd_list(argv):
    from . import axes, store
    from .cells import select
    p = argparse.ArgumentParser(prog="python -m matrix list")
    p.add_argument("--json", action="store_true", help="axes and cells as JSON")
    p.add_argument("--cells", nargs="+", default=[], metavar="GLOB")
    p.add_argument("--python", action="append", default=[], help="also consider this server Python")
    p.add_argument("--apxs", action="append", default=[], help="also consider the Apache install of this apxs")
    p.add_argument("--ci-jobs", type=int, metavar="N",
                   help="print only a JSON list of at most N CI jobs ({name, cells, apache, python}) covering the runnable cells")
    p.add_argument("--assume-built", action="store_true",
                   help="count Apache builds that build-httpd can make as present (CI planning)")
    p.add_argument("--record-unavailable", metavar="DIR",
                   help="write the unavailable cells' records into DIR (for a CI merge)")
    a = p.parse_args(argv)
    found = axes.discover(a.python, a.assume_built, a.apxs)
    cells = select(found.cells, a.cells)
    runnable = [c.id for c in cells if not c.unavailable]
    if a.record_unavailable:
        for c in cells:
            if c.unavailable:
                store.write_record(a.record_unavailable, {"cell": c.as_dict(), "status": "unavailable",
                                                          "message": c.unavailable, "wall_s": 0.0, "build_s": 0.0})
    if a.ci_jobs:
        print(json.dumps(ci_jobs(runnable, a.ci_jobs), separators=(",", ":")))
        return 0
    if a.json:
        print(json.dumps({"schema": "mod_gateway.matrix-axes/1", "axes": found.as_dict(),
                          "runnable": runnable,
                          "cells": [dict(c.as_dict(), status="unavailable: " + c.unavailable
                                         if c.unavailable else "available") for c in cells]}, indent=1))
        return 0
    print("Apache builds:")
    for ap in found.apaches:
        where = ("; ".join("%s: %s" % (m, ap.mpm_apxs[m]) for m in ap.mpms) if len(ap.mpm_apxs) > 1
                 else "%s (MPMs %s)" % (ap.apxs, ", ".join(ap.mpms)))
        print("  %-8s %-8s %s" % (ap.version, ap.source, "unavailable: " + ap.unavailable if ap.unavailable
                                  else where))
    print("Server Pythons:")
    for py in found.pythons:
        print("  py%-6s %-8s %s" % (py.version, py.source, "unavailable: " + py.unavailable if py.unavailable
                                    else "%s (%s)%s" % (py.path, py.full_version,
                                                        " also: " + ", ".join(py.shadowed) if py.shadowed else "")))
    print("Cells (apache/python/mpm/mode/target): %d, %d runnable" % (len(cells), len(runnable)))
    for cid in runnable:
        print("  " + cid)
    why = defaultdict(list)
    for c in cells:
        if c.unavailable:
            why[c.unavailable].append(c.id)
    for reason, ids in sorted(why.items()):
        print("  unavailable: %s: %d cells, e.g. %s" % (reason, len(ids), ids[0]))
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command in ("list", "run"):
        from . import axes, run
        try:
            return cmd_list(rest) if command == "list" else run.main(rest)
        except axes.AxisError as e:      # a given Apache or Python that cannot be used
            print("matrix %s: %s" % (command, e), file=sys.stderr)
            return 2
    if command in ("merge", "report"):
        from . import publish
        return publish.main(rest, command)
    if command == "build-httpd":
        from . import httpd_builds
        return httpd_builds.main(rest)
    if command == "bench":
        from . import bench
        return bench.main(rest)
    print("unknown command %r\n%s" % (command, USAGE), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
