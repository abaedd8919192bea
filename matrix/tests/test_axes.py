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


# -- installs by path (issue 15): --apxs / MATRIX_APACHES, --python / MATRIX_PYTHONS ------

def test_an_apache_given_by_path_is_used_and_says_where_it_came_from(bare_machine, monkeypatch):
    system = httpd.ApacheInstall.from_apxs("/usr/bin/apxs")
    found = {a.version: a for a in axes.discover_apaches(extra=axes.given(["/usr/bin/apxs"], "--apxs", axes.APACHES_ENV))}
    got = found[system.version_string]
    assert (got.source, got.apxs, got.unavailable) == ("--apxs", system.apxs, None)
    assert set(got.mpms) == set(system.mpms)
    monkeypatch.setenv(axes.APACHES_ENV, "/usr/bin/apxs")
    monkeypatch.setattr(axes, "debian_python", lambda: (None, "not looked for here"))
    found = [a for a in axes.discover().apaches if a.version == system.version_string]
    assert [(a.source, a.shadowed) for a in found] == [(axes.APACHES_ENV, [])]     # listed once
    monkeypatch.setenv(axes.PYTHONS_ENV, sys.executable)
    cells = [c for c in axes.discover().cells if c.apache == system.version_string]
    assert cells and [c for c in cells if not c.unavailable]            # it makes runnable cells


def test_a_python_listed_in_the_environment_is_probed(bare_machine, monkeypatch):
    monkeypatch.setenv(axes.PYTHONS_ENV, "%s:%s" % (sys.executable, sys.executable))
    me = "%d.%d" % sys.version_info[:2]
    found = {p.version: p for p in axes.discover().pythons}
    assert (found[me].source, found[me].path) == (axes.PYTHONS_ENV, sys.executable)


@pytest.mark.parametrize("env, argv, named", [
    (axes.APACHES_ENV, ["--apxs", "/no/such/apxs"], "--apxs /no/such/apxs"),
    (axes.APACHES_ENV, [], "MATRIX_APACHES /no/such/apxs"),
    (axes.PYTHONS_ENV, ["--python", "/no/such/python"], "--python /no/such/python: no such interpreter"),
    (axes.PYTHONS_ENV, [], "MATRIX_PYTHONS /no/such/python: no such interpreter"),
])
def test_a_given_install_that_cannot_be_used_is_an_error_naming_it(bare_machine, monkeypatch, capsys,
                                                                   env, argv, named):
    if not argv:
        monkeypatch.setenv(env, "/no/such/" + ("apxs" if env == axes.APACHES_ENV else "python"))
    assert matrix_main(["list"] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("matrix list: " + named), err


def _apache_22(mpm):
    root = "/opt/httpd-2.2.34-%s" % mpm
    return httpd.ApacheInstall(apxs=root + "/bin/apxs", httpd=root + "/bin/httpd", version=(2, 2, 34),
                               libexecdir=root + "/modules", static_modules=("core", mpm, "http_core"),
                               mpms=(mpm,))


def test_given_apache_22_builds_replace_the_declared_one_as_one_axis_value(bare_machine, monkeypatch):
    builds = {b.apxs: b for b in (_apache_22("prefork"), _apache_22("worker"))}
    monkeypatch.setattr(httpd.ApacheInstall, "from_apxs", classmethod(lambda cls, apxs: builds[apxs]))
    found = {a.version: a for a in axes.discover_apaches(extra=[(a, axes.APACHES_ENV) for a in builds])}
    assert "2.2" not in found
    got = found["2.2.34"]
    assert (got.unavailable, got.mpms, got.shadowed) == (None, ("prefork", "worker"), [])
    assert got.apxs_for("prefork") == "/opt/httpd-2.2.34-prefork/bin/apxs"
    assert got.apxs_for("worker") == "/opt/httpd-2.2.34-worker/bin/apxs"
    pythons = [axes.ServerPython(xy, "--python", path="/p%s/bin/python" % xy, full_version=xy + ".0",
                                 libpython="/p/lib/libpython.so") for xy in ("2.7", "3.2", "3.5", "3.11")]
    cells = {c.id: c for c in axes.make_cells([got], pythons)}
    c = cells["apache2.2.34/py3.5/worker/daemon/gateway"]
    assert (c.apxs, c.unavailable) == ("/opt/httpd-2.2.34-worker/bin/apxs", None)
    c = cells["apache2.2.34/py3.5/prefork/embedded/mod_wsgi"]
    assert (c.apxs, c.mod_wsgi_version, c.profile, c.unavailable) == (
        "/opt/httpd-2.2.34-prefork/bin/apxs", "4.7.1", "5", None)
    assert cells["apache2.2.34/py2.7/prefork/daemon/mod_wsgi"].mod_wsgi_version == "4.7.1"
    assert cells["apache2.2.34/py3.5/event/daemon/gateway"].unavailable == (
        "no build of Apache 2.2.34 with the event MPM compiled in was given (have: prefork, worker)")
    assert cells["apache2.2.34/py3.2/prefork/daemon/gateway"].unavailable is None
    assert cells["apache2.2.34/py3.2/prefork/daemon/mod_wsgi"].unavailable.startswith(
        "no mod_wsgi release on PyPI loads with Python 3.2")
    assert "does not build for Python 3.11" in cells["apache2.2.34/py3.11/prefork/daemon/mod_wsgi"].unavailable
    assert cells["apache2.2.34/py3.11/prefork/daemon/gateway"].unavailable is None


def test_two_builds_of_one_version_and_mpm_keep_the_first(bare_machine, monkeypatch):
    first, second = _apache_22("prefork"), _apache_22("prefork")
    second.apxs = "/elsewhere/bin/apxs"
    builds = {first.apxs: first, second.apxs: second}
    monkeypatch.setattr(httpd.ApacheInstall, "from_apxs", classmethod(lambda cls, apxs: builds[apxs]))
    found = {a.version: a for a in axes.discover_apaches(extra=[(a, "--apxs") for a in builds])}
    assert (found["2.2.34"].apxs, found["2.2.34"].shadowed) == (first.apxs, [second.apxs])
