"""The packaging examples in ci/: each parses, and the command it calls dry-runs here."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"
DEBIAN_MODULE = "/usr/lib/apache2/modules/mod_wsgi.so"

from ci import gate

yaml = pytest.importorskip("yaml")


def run(cmd, **kw):
    env = dict(os.environ, PYTHON=sys.executable)
    env.update(kw.pop("env", {}))
    return subprocess.run(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


def deb822(text):
    """Paragraphs of a deb822 file as dicts (comments dropped, continuation lines joined)."""
    paras, cur, last = [], {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                paras.append(cur)
            cur, last = {}, None
        elif line[0] in " \t":
            assert last, "continuation line without a field: %r" % line
            cur[last] += " " + line.strip()
        else:
            name, sep, value = line.partition(":")
            assert sep and name.strip() and " " not in name, "not a field: %r" % line
            last = name.strip()
            assert last not in cur, "field %s twice in a paragraph" % last
            cur[last] = value.strip()
    if cur:
        paras.append(cur)
    return paras


def gate_dry_run(line):
    """Run a CI job's `ci/gate ...` line with --dry-run added (env assignments dropped)."""
    words = shlex.split(line)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)
    assert words[0] == "ci/gate", line
    proc = run([str(CI / "gate")] + words[1:] + ["--dry-run"])
    assert proc.returncode == 0, proc.stdout
    listed = [l.split()[0] for l in proc.stdout.splitlines() if l.startswith("  ")]
    assert len(listed) == len(gate.load_slice()), proc.stdout
    return proc.stdout


# -- Debian autopkgtest ------------------------------------------------------------------

def test_autopkgtest_control_parses():
    (stanza,) = deb822((CI / "debian" / "tests" / "control").read_text())
    assert set(stanza) <= {"Tests", "Test-Command", "Depends", "Restrictions", "Features", "Classes"}
    script = CI / "debian" / "tests" / stanza["Tests"]
    assert script.is_file() and os.access(str(script), os.X_OK)
    depends = {d.strip().split()[0] for d in stanza["Depends"].split(",")}
    assert {"apache2", "apache2-dev", "libapache2-mod-wsgi-py3", "python3-pytest", "python3-pytest-xdist",
            "python3-requests"} <= depends
    restrictions = set(stanza.get("Restrictions", "").replace(",", " ").split())
    assert not restrictions & {"needs-root", "needs-internet"}, "runs as a normal user, offline"


@pytest.mark.skipif(not os.path.exists(DEBIAN_MODULE), reason="Debian's libapache2-mod-wsgi-py3 not installed")
def test_autopkgtest_script_dry_runs(tmp_path):
    (stanza,) = deb822((CI / "debian" / "tests" / "control").read_text())
    proc = run([str(CI / "debian" / "tests" / stanza["Tests"]), "--dry-run"],
               env={"AUTOPKGTEST_ARTIFACTS": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout
    assert "validate-build: %s (mod_wsgi 4.9.4" % DEBIAN_MODULE in proc.stdout
    sessions = [l for l in proc.stdout.splitlines() if l.startswith("==> ")]
    assert sessions and all("--target %s" % DEBIAN_MODULE in s and "--mode both" in s for s in sessions)
    assert all(str(tmp_path / "validate-build") in s for s in sessions)


# -- GitHub Actions and GitLab CI ----------------------------------------------------------

def test_github_job_parses_and_dry_runs():
    doc = yaml.safe_load((CI / "github-gate.yml").read_text())
    assert doc["name"] == "gate" and doc[True] is not None          # `on:` is YAML 1.1's True
    job = doc["jobs"]["gate"]
    assert job["timeout-minutes"] <= 90
    runs = [s["run"] for s in job["steps"] if "ci/gate" in s.get("run", "")]
    assert len(runs) == 1
    gate_dry_run(runs[0])
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)


def test_gitlab_job_parses_and_dry_runs():
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    job = doc["gate"]
    lines = [l for l in job["script"] if "ci/gate" in l]
    assert len(lines) == 1
    gate_dry_run(lines[0])
    assert job["artifacts"]["reports"]["junit"].startswith("reports/gate/")
    assert int(job["timeout"].rstrip("m")) <= 90


def test_matrix_workflow_parses():
    doc = yaml.safe_load((CI / "matrix-workflow.yml").read_text())
    assert set(doc["jobs"]) == {"list", "cells", "merge"}
