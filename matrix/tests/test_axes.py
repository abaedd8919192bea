import json
import sys

import pytest

from matrix import axes, httpd_builds
from matrix.__main__ import main as matrix_main
from gateway import httpd


@pytest.fixture
def bare_machine(monkeypatch, tmp_path):
    """No Apache, no cached builds, no Python on PATH or under pyenv."""
    monkeypatch.setattr(httpd, "_which", lambda name: None)
    monkeypatch.setattr(httpd_builds, "cached_builds", lambda: {})
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))


def test_declared_apaches_are_reported_unavailable(bare_machine):
    found = {a.version: a for a in axes.discover_apaches()}
    assert found["2.2"].unavailable == "Apache 2.2 is not obtainable here"
    assert found["2.4.12"].unavailable == "not built (run python -m matrix build-httpd 2.4.12)"
    assert found["2.4.69"].unavailable == "not built (run python -m matrix build-httpd 2.4.69)"


def test_assume_built_plans_buildable_apaches(bare_machine):
    found = {a.version: a for a in axes.discover_apaches(assume_built=True)}
    assert found["2.4.69"].unavailable is None and found["2.4.69"].mpms == axes.MPMS
    assert found["2.4.69"].apxs == str(httpd_builds.prefix_for("2.4.69") / "bin" / "apxs")
    assert found["2.2"].unavailable


def test_declared_pythons_are_reported_unavailable(bare_machine):
    found = {p.version: p for p in axes.discover_pythons()}
    for xy in ("2.7", "3.2", "3.3", "3.4", "3.5", "3.13"):
        assert found[xy].unavailable.startswith("Python %s not found" % xy)


def test_a_python_given_with_option_is_probed(bare_machine):
    found = {p.version: p for p in axes.discover_pythons([sys.executable])}
    me = "%d.%d" % sys.version_info[:2]
    assert found[me].source == "--python" and found[me].full_version.startswith(me)


def test_unavailable_cells_are_kept_with_what_is_missing(bare_machine):
    found = axes.discover()
    ids = {c.id: c for c in found.cells}
    assert not [c for c in found.cells if not c.unavailable]           # nothing runs here ...
    c = ids["apache2.2/py3.4/prefork/daemon/gateway"]                   # ... and nothing is dropped
    assert c.unavailable.startswith("Apache 2.2 is not obtainable here; Python 3.4 not found (looked on PATH")
    assert ids["apache2.4.69/py3.2/event/embedded/mod_wsgi"].unavailable.startswith("not built")


def test_targets_profiles_mpms_and_debian_only_with_its_python(monkeypatch):
    debian = axes.ApacheBuild("2.4.71", "system", apxs=axes.DEBIAN_APXS, mpms=("event", "prefork"))
    built = axes.ApacheBuild("2.4.69", "built", apxs="/cache/2.4.69/bin/apxs", mpms=("event", "prefork", "worker"))
    pythons = [axes.ServerPython("2.7", "pyenv", path="/py27", full_version="2.7.18"),
               axes.ServerPython("3.9", "pyenv", path="/py39", full_version="3.9.18"),
               axes.ServerPython("3.11", "pyenv", path="/py311", full_version="3.11.7")]
    monkeypatch.setattr(axes, "debian_python", lambda: (
        axes.ServerPython("3.11", "debian", path="/usr/bin/python3.11", full_version="3.11.2"), "4.9.4"))
    cells = {c.id: c for c in axes.make_cells([debian, built], pythons)}
    mw27 = cells["apache2.4.69/py2.7/event/daemon/mod_wsgi"]
    assert (mw27.mod_wsgi_version, mw27.profile) == ("4.9.4", "5")
    assert cells["apache2.4.69/py3.11/event/daemon/mod_wsgi"].mod_wsgi_version == "6.1.1"
    mw39 = cells["apache2.4.69/py3.9/event/daemon/mod_wsgi"]               # 6.x needs 3.10+
    assert (mw39.mod_wsgi_version, mw39.profile) == ("5.0.2", "5")
    assert cells["apache2.4.69/py3.9/event/daemon/gateway"].profile == "5"
    assert cells["apache2.4.69/py3.11/event/daemon/gateway"].profile == "6"
    assert cells["apache2.4.71/py3.11/worker/embedded/gateway"].unavailable == "Apache 2.4.71 has no mod_mpm_worker"
    deb = [c for c in cells.values() if c.target == "mod_wsgi-debian"]
    assert {c.apache for c in deb} == {"2.4.71"} and {c.python_path for c in deb} == {"/usr/bin/python3.11"}
    assert len(deb) == 6 and deb[0].profile == "5"
    assert not [c for c in cells.values() if c.python == "3.9" and c.target == "mod_wsgi-debian"]


def test_list_json_names_unavailable_cells(bare_machine, capsys):
    assert matrix_main(["list", "--json", "--cells", "apache2.2/py3.5/*"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["runnable"] == [] and len(doc["cells"]) == 12
    assert all(c["status"].startswith("unavailable: Apache 2.2 is not obtainable here") for c in doc["cells"])
