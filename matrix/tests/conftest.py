"""Helpers for the matrix tests: synthetic cells and cell directories from the fixture journals."""

import sys
from pathlib import Path

import pytest

from conformance.journal import Journal
from matrix import store
from matrix.cells import Cell

FIXTURES = Path(__file__).parent / "fixtures"
FAKE = Path(__file__).parent / "fake_conformance.py"


def make_cell(target="gateway", mode="embedded", mpm="event", apache="2.4.71", python="3.11", unavailable=None):
    return Cell(apache, python, mpm, mode, target, apxs="/usr/bin/apxs", python_path="/usr/bin/python" + python,
                python_version=python + ".2", mod_wsgi_version="6.1.1" if target == "mod_wsgi" else None,
                profile="6", unavailable=unavailable)


def write_cell(out, cell, status, fixture=None, finished="2026-01-01T00:00:10+00:00", host="host-a"):
    """A cell directory as `run` leaves it, with a fixture journal (mode set to the cell's)."""
    d = store.cell_dir(out, cell.id)
    d.mkdir(parents=True, exist_ok=True)
    if fixture:
        journal = Journal.read(FIXTURES / fixture, strict=True)
        journal.mode = cell.mode
        for c in journal.cases:
            c.mode = cell.mode
        journal.write(d / "journal.json")
        (d / "junit.xml").write_text('<?xml version="1.0"?><testsuites><testsuite name="%s"/></testsuites>' % cell.id)
    store.write_record(out, {"cell": cell.as_dict(), "status": status, "message": "", "wall_s": 4.5,
                             "build_s": 1.0, "finished": finished, "host": host, "exit_code": 0})
    return d


@pytest.fixture
def fake_conformance(monkeypatch, tmp_path):
    """Point the runner at the fake session; returns the file listing its calls."""
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("MATRIX_CONFORMANCE_CMD", "%s %s" % (sys.executable, FAKE))
    monkeypatch.setenv("FAKE_CALLS", str(calls))
    return calls
