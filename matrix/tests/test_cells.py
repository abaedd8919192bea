from matrix.cells import Cell, matches, select, slug
from matrix.__main__ import ci_jobs

from .conftest import make_cell

ID = "apache2.4.71/py3.11/event/embedded/gateway"


def test_id_order_is_apache_python_mpm_mode_target():
    assert make_cell().id == ID
    assert make_cell().group == "apache2.4.71/py3.11/event/embedded"


def test_segment_wise_globs():
    assert matches(ID, "*/py3.11/*")
    assert matches(ID, "*")
    assert matches(ID, "apache2.4.71")                  # padded with * on the right
    assert matches(ID, "*/py3.11/event/*/gateway")
    assert matches(ID, ID)
    assert not matches(ID, "*/py2.7/*")
    assert not matches(ID, "*/py3.1/*")                  # no prefix match inside a segment
    assert matches(ID, "*/py3.1?/*")
    assert not matches(ID, "apache2.4.71*gateway")       # a * never crosses a /
    assert not matches(ID, ID + "/extra")


def test_mod_wsgi_glob_takes_both_real_modules_but_not_gateway():
    cells = [make_cell(t) for t in ("gateway", "mod_wsgi", "mod_wsgi-debian")]
    chosen = select(cells, ["*/py3.11/event/*/mod_wsgi*"])
    assert [c.target for c in chosen] == ["mod_wsgi", "mod_wsgi-debian"]


def test_select_orders_by_version_numbers_and_keeps_all_without_patterns():
    cells = [make_cell(python="3.10"), make_cell(python="3.9"), make_cell(python="2.7", apache="2.4.12")]
    assert [c.python for c in select(cells, [])] == ["2.7", "3.9", "3.10"]
    assert [c.python for c in select(cells, ["apache2.4.71/*"])] == ["3.9", "3.10"]


def test_round_trip_and_slug():
    c = make_cell("mod_wsgi", unavailable="gone")
    assert Cell.from_dict(c.as_dict()) == c
    assert slug("apache2.4.71/py3.11/event/daemon/mod_wsgi-debian") == "apache2.4.71_py3.11_event_daemon_mod_wsgi-debian"


def test_ci_jobs_fits_the_limit_and_runs_only_the_selection():
    ids = [make_cell(t, m, p, python=py).id for t in ("gateway", "mod_wsgi") for m in ("embedded", "daemon")
           for p in ("event", "worker") for py in ("3.11", "3.12")]
    assert sorted(j["cells"] for j in ci_jobs(ids, 100)) == sorted(ids)
    shards = ci_jobs(ids, 2)
    assert [(j["name"], j["apache"], j["python"]) for j in shards] == [
        ("apache2.4.71/py3.11/*", "2.4.71", "3.11"), ("apache2.4.71/py3.12/*", "2.4.71", "3.12")]
    assert sorted(i for j in shards for i in j["cells"].split()) == sorted(ids)
    one = ci_jobs(ids[:3], 1)
    assert one[0]["python"] == "" and one[0]["cells"].split() == ids[:3]
