"""The Flask example's tests, run under real Apache by the mod_gateway_pytest plugin:
`pytest` here runs them in both modes against mod_gateway; `--wsgi-target mod_wsgi` against
the real mod_wsgi; `python -m matrix run --tests examples/flask_app` across matrix cells."""

import json

import pytest


def test_home(wsgi_server):
    r = wsgi_server.get("/")
    assert r.status == 200
    assert r.text == "hello from Flask under Apache\n"
    assert r.header("Content-Type").startswith("text/html")


def test_served_by_the_right_process(wsgi_server):
    where = json.loads(wsgi_server.get("/where").body)
    assert where["pid"] in wsgi_server.pids()
    if wsgi_server.mode == "daemon":
        assert where["process_group"] == "app"
        assert where["pid"] in wsgi_server.daemon_pids()
    else:
        assert where["process_group"] == ""
        assert where["pid"] != wsgi_server.parent_pid
    assert where["script_name"] == ""


def test_post_and_read_back(wsgi_server):
    r = wsgi_server.post("/notes", body=json.dumps({"text": "first"}),
                         headers={"Content-Type": "application/json"})
    assert r.status == 201
    assert "first" in json.loads(wsgi_server.get("/notes").body)["notes"]
    assert wsgi_server.post("/notes", body=b"{}").status == 400


@pytest.mark.parametrize("n", [0, 7, 12])
def test_square(wsgi_server, n):
    assert json.loads(wsgi_server.get("/square/%d" % n).body) == {"n": n, "square": n * n}


def test_unknown_route_is_404(wsgi_server):
    assert wsgi_server.get("/nowhere").status == 404


@pytest.mark.wsgi_allow_errors("crashed on purpose", "Exception on /crash", "Traceback", r"^\S.*\] +(File|raise|\^|  )")
def test_crash_is_a_500_and_logged(wsgi_server):
    assert wsgi_server.get("/crash").status == 500
    assert wsgi_server.wait_for_log("RuntimeError: crashed on purpose")
