"""`python -m gateway build` compiles cleanly for every server Python on this machine."""

import glob
import os
import subprocess
import sys

import pytest

from gateway import build

PYENV = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
PYTHONS = sorted(glob.glob(os.path.join(PYENV, "versions", "*", "bin", "python")))
if os.path.exists("/usr/bin/python3"):
    PYTHONS.append("/usr/bin/python3")   # Debian's python3, the one its mod_wsgi embeds


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: p.split("/versions/")[-1].split("/")[0]
                         if "/versions/" in p else p)
def test_builds_without_warnings(python):
    module = build.build_module(python)           # cached by source, Python and Apache
    log = (module.parent / "build.log").read_text()
    warnings = [l for l in log.splitlines() if "warning:" in l]
    assert not warnings, "compiler warnings at -Wall for %s:\n%s" % (python, "\n".join(warnings))
    out = subprocess.run([sys.executable, "-m", "gateway", "info", str(module)],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert "gateway" in out


def test_unrunnable_python_is_named(tmp_path):
    bogus = tmp_path / "python"
    bogus.write_text("#!/bin/sh\nexit 3\n")
    bogus.chmod(0o755)
    res = subprocess.run([sys.executable, "-m", "gateway", "build", "--python", str(bogus)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert res.returncode != 0
    assert str(bogus) in res.stderr
