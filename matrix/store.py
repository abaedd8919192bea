"""The on-disk layout of a matrix output directory (default reports/matrix/):

    cells/<cell id>/cell.json     the runner's record: cell definition, status, timings
    cells/<cell id>/journal.json  the conformance session's journal (when it wrote one)
    cells/<cell id>/junit.xml     the session's JUnit XML
    cells/<cell id>/output.log    the session's stdout and stderr
    axes.json                     what discovery found (Apache builds, Pythons, ...)
    runs.json                     one entry per `run` into this directory (wall time, jobs)
    report.json/.md/.html, junit/ written by matrix.report

Journals from several machines merge by copying cell directories side by side.
"""

import json
import os
import shutil
from pathlib import Path

from conformance.journal import Journal, JournalError

CELL_SCHEMA = "mod_gateway.matrix-cell/1"
FAILED = ("fail", "timeout", "error", "setup-error")     # what --rerun-failed reruns
STATUSES = ("pass",) + FAILED + ("unavailable", "not-run")


def cell_dir(out, cell_id):
    return Path(out) / "cells" / cell_id


def read_json(path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def write_json(path, data, compact=False):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp%d" % os.getpid())
    tmp.write_text(json.dumps(data, sort_keys=True, **({"separators": (",", ":")} if compact else {"indent": 1})))
    os.replace(tmp, path)


def read_journal(path):
    """The conformance.journal.Journal at `path`, or None when there is none;
    JournalError when the file is not a journal of this schema."""
    return Journal.read(path)


def journal_path(out, cell_id):
    return cell_dir(out, cell_id) / "journal.json"


def read_record(out, cell_id):
    return read_json(cell_dir(out, cell_id) / "cell.json")


def write_record(out, record):
    record = dict(record, schema=CELL_SCHEMA)
    write_json(cell_dir(out, record["cell"]["id"]) / "cell.json", record)


def clear_cell(out, cell_id):
    d = cell_dir(out, cell_id)
    for name in ("cell.json", "journal.json", "junit.xml", "output.log"):
        try:
            (d / name).unlink()
        except FileNotFoundError:
            pass


def load_records(out):
    """{cell id: record} of every cell directory under `out`, each with its journal attached
    (rec["journal"]: a conformance.journal.Journal or None; why it is None when the file is
    there but unreadable: rec["journal_error"])."""
    found = {}
    root = Path(out) / "cells"
    for path in sorted(root.rglob("cell.json")) if root.is_dir() else []:
        rec = read_json(path)
        if not rec or rec.get("schema") != CELL_SCHEMA:
            continue
        try:
            rec["journal"] = read_journal(path.parent / "journal.json")
        except JournalError as e:
            rec["journal"], rec["journal_error"] = None, str(e)
        rec["dir"] = str(path.parent)
        found[rec["cell"]["id"]] = rec
    return found


def copy_cell(record, out):
    """Copy one cell's directory into `out` (merge), replacing an older copy."""
    dest = cell_dir(out, record["cell"]["id"])
    if Path(record["dir"]).resolve() == dest.resolve():
        return
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(record["dir"], dest)
