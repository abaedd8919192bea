"""ci/validate-build from an sdist of this project, unpacked in an empty directory, offline."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_MODULE = "/usr/lib/apache2/modules/mod_wsgi.so"


@pytest.fixture(scope="module")
def unpacked_sdist(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(dist)],
                   cwd=str(ROOT), check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sdist = next(dist.glob("*.tar.gz"))
    dest = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as t:
        t.extractall(dest)
    return next(p for p in dest.iterdir() if p.is_dir())


def test_sdist_ships_suite(unpacked_sdist):
    for rel in ("ci/validate-build", "ci/validate_build.py", "tox.ini", "conformance/apps/probe.wsgi",
                "conformance/profiles/5.json", "conformance/cases/test_env.py", "gateway/httpd.py"):
        assert (unpacked_sdist / rel).exists(), "sdist lacks %s" % rel


@pytest.mark.skipif(not os.path.exists(DEBIAN_MODULE), reason="Debian's libapache2-mod-wsgi-py3 not installed")
def test_validate_debian_module_offline(unpacked_sdist, tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PIP_NO_INDEX="1", PYTHON=sys.executable)  # offline: nothing may be fetched
    proc = subprocess.run(["bash", "ci/validate-build", "--module", DEBIAN_MODULE, "--mpm", "event",
                           "--out", str(out)], cwd=str(unpacked_sdist), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["passed"] and verdict["version"] == "4.9.4" and verdict["profile"] == "5"
    assert (out / "mod_wsgi.so-event.xml").read_text().startswith("<?xml")
    journal = json.loads((out / "mod_wsgi.so-event.json").read_text())
    assert journal["summary"]["pass"] > 60 and journal["summary"]["fail"] == 0


def test_validate_rejects_a_non_module(tmp_path):
    bogus = tmp_path / "not_a_module.so"
    bogus.write_bytes(b"\x7fELF nothing here")
    proc = subprocess.run([sys.executable, str(ROOT / "ci" / "validate_build.py"), "--module", str(bogus)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 2
    assert "exports neither wsgi_module nor gateway_module" in proc.stdout
