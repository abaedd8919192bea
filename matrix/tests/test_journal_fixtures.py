"""The fixture journals the matrix tests feed the runner and the report are journals as
the suite writes them: read strictly through conformance.journal (every key the writer
writes, no other, verdicts of the vocabulary, a summary that counts the cases) and written
back unchanged, so they cannot drift from the writer."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import journal
from conformance.journal import Journal

from .conftest import FAKE, FIXTURES, make_cell
from .synthetic import catalogue, journal as synthetic_journal

NAMES = sorted(p.name for p in FIXTURES.glob("journal_*.json"))


def test_there_are_fixture_journals():
    assert NAMES == ["journal_gateway_fail.json", "journal_mod_wsgi_pass.json"]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_reads_strictly_and_round_trips(name):
    raw = json.loads((FIXTURES / name).read_text())
    j = Journal.read(FIXTURES / name, strict=True)
    assert j.to_dict() == raw
    assert set(j.summary) == set(journal.VERDICTS)
    assert all(c.required == journal.is_required(c.verdict) for c in j.cases)
    assert j.target.module and j.target.symbol and j.apache.httpd and j.client.python


def test_a_failing_fixture_names_its_failing_case():
    j = Journal.read(FIXTURES / "journal_gateway_fail.json", strict=True)
    assert [c.label for c in j.failed_required()] == ["ENV-002[embedded]"]
    assert j.failed_required()[0].evidence.config.startswith("LoadModule")


def test_the_fake_sessions_journal_reads_strictly(tmp_path):
    out = tmp_path / "j.json"
    subprocess.run([sys.executable, str(FAKE), "--target", "gateway", "--mpm", "worker", "--mode", "daemon",
                    "--apxs", "/usr/bin/apxs", "--profile", "5", "--json", str(out),
                    "--junitxml", str(tmp_path / "j.xml")], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))  # as matrix.run does
    j = Journal.read(out, strict=True)
    assert j.mode == "daemon" and {c.mode for c in j.cases} == {"daemon"} and j.target.profile == "5"


def test_a_synthetic_journal_reads(tmp_path):
    """The synthetic matrix's journals (typed in for size) still read as journals."""
    j = Journal.from_dict(synthetic_journal(make_cell(), catalogue(20), random.Random(1)))
    assert j.summary == journal.summarize(j.cases)
