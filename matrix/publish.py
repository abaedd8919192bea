"""Writing the matrix report: report.json, report.md, report.html and junit/<cell>.xml
into an output directory (run, ci/gate), and the commands that redraw or merge one.

    python -m matrix report [--out reports/matrix]        redraw from what is in --out
    python -m matrix merge DIR... --out reports/matrix    journals made on many machines -> one report
"""

import argparse
import shutil
import sys
from pathlib import Path

from . import html, markdown, store
from .report import build, junit_for


def write_report(out, expected=(), records=None, runs=None, axes=None):
    """Write report.json/.md/.html and junit/ into `out`; returns their paths."""
    out = Path(out)
    records = store.load_records(out) if records is None else records
    runs = store.read_json(out / "runs.json", []) if runs is None else runs
    axes = store.read_json(out / "axes.json", {}) if axes is None else axes
    doc = build(records, expected, runs, axes)
    junit = out / "junit"
    if junit.exists():
        shutil.rmtree(junit)
    junit.mkdir(parents=True)
    for cell in doc["cells"]:
        src = store.cell_dir(out, cell["id"]) / "junit.xml"
        (out / cell["junit"]).write_text(junit_for(cell, src))
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    store.write_json(paths["json"], doc, compact=True)
    paths["md"].write_text(markdown.render(doc))
    paths["html"].write_text(html.render(doc))
    return paths


def merge_axes(docs):
    """Union of several axes.json by label; an available entry beats an unavailable one."""
    merged = {}
    for doc in docs:
        for name, values in (doc or {}).items():
            slot = merged.setdefault(name, {})
            for v in values:
                key = v.get("version") if isinstance(v, dict) else v
                if key not in slot or (isinstance(v, dict) and slot[key].get("unavailable") and not v.get("unavailable")):
                    slot[key] = v
    return {name: list(slot.values()) for name, slot in merged.items()}


def merge(dirs, out):
    """Copy every cell of `dirs` into `out` (the later finish wins a duplicate) and report."""
    out = Path(out)
    chosen = {}
    for d in dirs:
        for cell_id, rec in store.load_records(d).items():
            old = chosen.get(cell_id)
            if old is None or (rec.get("finished") or "") >= (old.get("finished") or ""):
                chosen[cell_id] = rec
    for rec in chosen.values():
        store.copy_cell(rec, out)
    runs = [r for d in dirs for r in store.read_json(Path(d) / "runs.json", [])]
    axes = merge_axes(store.read_json(Path(d) / "axes.json", {}) for d in dirs)
    store.write_json(out / "runs.json", runs)
    store.write_json(out / "axes.json", axes)
    return write_report(out)


def main(argv, command):
    p = argparse.ArgumentParser(prog="python -m matrix " + command)
    if command == "merge":
        p.add_argument("dirs", nargs="+", help="output directories of `run` (e.g. CI artifacts)")
    p.add_argument("--out", default="reports/matrix")
    a = p.parse_args(argv)
    if command == "merge":
        missing = [d for d in a.dirs if not (Path(d) / "cells").is_dir()]
        if missing:
            print("no cells/ under: %s" % " ".join(missing), file=sys.stderr)
            return 2
        paths = merge(a.dirs, a.out)
    else:
        paths = write_report(a.out)
    doc = store.read_json(paths["json"])
    print("%d cells %s; report: %s" % (doc["summary"]["cells"], doc["summary"]["status"], paths["html"]))
    return 0
