"""Matrix harness: Apache build x server Python x MPM x mode x target, one conformance
session (`python -m conformance`) per cell, merged into one report.

    python -m matrix list [--json]          what exists here, and what cannot run and why
    python -m matrix run [--cells GLOB...]  run cells in parallel, resumable; writes the report
    python -m matrix run --cell ID --out D  exactly one cell (fan-out on CI machines)
    python -m matrix merge DIR... --out D   one report from journals made on many machines
    python -m matrix report [--out D]       redraw the report from the journals in D
    python -m matrix build-httpd VERSION    build Apache 2.4.12 / 2.4.69 into the cache
    python -m matrix bench ...              benchmarks (matrix/bench.py)

A cell ID is `apache<version>/py<X.Y>/<mpm>/<mode>/<target>`, e.g.
`apache2.4.71/py3.11/event/embedded/gateway`; see matrix/cells.py for globbing.
"""

REPORT_SCHEMA = "mod_gateway.matrix-report/1"
