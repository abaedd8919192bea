"""gateway.wsgi_config: the exact lines it renders, its two rules (WSGICompatibility only for
mod_gateway; the server-wide WSGIPythonHome only for a Python outside /usr), and that the
places writing WSGI configs (sites, serve, bench, the pytest plugin) go through it."""

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway import wsgi_config as wc

PYENV = "/root/.pyenv/versions/3.11.7"


# -- arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, written", [
    ("/srv/app.wsgi", "/srv/app.wsgi"),
    ("%{GLOBAL}", "%{GLOBAL}"),
    ("/srv/my app.wsgi", '"/srv/my app.wsgi"'),
    ("", '""'),
    ('"lead', '"\\"lead"'),
    ("'lead", "\"'lead\""),
    ("^(/star|\\*)", '"^(/star|\\*)"'),          # a lone backslash stays as it is
    ("a\\\\b", '"a\\\\\\b"'),                     # a backslash pair: the first escaped
    ("ends\\", '"ends\\\\"'),                      # before the closing quote: escaped
    (Path("/tmp/x"), "/tmp/x"),
])
def test_argument(value, written):
    assert wc.argument(value) == written


def _apache_reads(word):
    """One word as Apache's ap_getword_conf/substring_conf read it (server/util.c)."""
    quote = word[0] if word[:1] in ("'", '"') else None
    if quote:
        end = 1
        while end < len(word) and word[end] != quote:
            end += 2 if word[end] == "\\" and word[end + 1:end + 2] in (quote, "\\") else 1
        assert end == len(word) - 1, "the word does not end at its closing quote: %r" % word
        body = word[1:end]
    else:
        assert not any(c.isspace() for c in word)
        body = word
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and body[i + 1:i + 2] in ("\\",) + ((quote,) if quote else ()):
            i += 1
        out.append(body[i])
        i += 1
    return "".join(out)


@pytest.mark.parametrize("value", ["/plain", "a b", '"', 'x"y', "\\", "\\\\", "a\\", 'a\\"b', "\\*",
                                   "'q'", "tab\there", 'end"', "%{ENV:X}", "a\\\\\\b"])
def test_apache_reads_back_what_is_written(value):
    assert _apache_reads(wc.argument(value)) == value
    assert _apache_reads(wc.quoted(value)) == value


def test_quoted_always_quotes():
    assert wc.quoted("/tmp/run/wsgi") == '"/tmp/run/wsgi"'
    assert wc.quoted('say "hi"') == '"say \\"hi\\""'


def test_line_breaks_are_refused():
    with pytest.raises(ValueError):
        wc.argument("/a\nInclude /etc/passwd")


def test_directive_leaves_out_none():
    assert wc.directive("WSGIPythonPath", "/a", None, "/b c") == 'WSGIPythonPath /a "/b c"'


# -- the two rules -----------------------------------------------------------------------------

@pytest.mark.parametrize("prefix, home", [
    (PYENV, PYENV),
    ("/opt/python3.12", "/opt/python3.12"),
    ("/usrlocal", "/usrlocal"),
    ("/usr", None),
    ("/usr/local", None),
    ("/usr/lib/python3", None),
    ("", None),
    (None, None),
])
def test_python_home_only_outside_usr(prefix, home):
    assert wc.python_home_for(prefix) == home


@pytest.mark.parametrize("kind, lines", [
    ("gateway", ["WSGICompatibility 5"]),
    ("mod_wsgi", []),
    ("mod_wsgi-debian", []),
    ("module", []),
])
def test_compatibility_only_for_the_gateway(kind, lines):
    assert wc.compatibility(kind, "5") == lines


def test_header_gateway_outside_usr():
    assert wc.header("gateway", "3.4", "/r/run/wsgi", PYENV) == [
        "WSGICompatibility 3.4",
        'WSGISocketPrefix "/r/run/wsgi"',
        'WSGIPythonHome "%s"' % PYENV]


def test_header_mod_wsgi_system_python():
    assert wc.header("mod_wsgi", "6", "/r/run/wsgi", "/usr") == ['WSGISocketPrefix "/r/run/wsgi"']


def test_common_is_header_and_grant():
    assert wc.common("gateway", "6", Path("/r/run/wsgi"), Path("/r/apps"), PYENV) == [
        "WSGICompatibility 6",
        'WSGISocketPrefix "/r/run/wsgi"',
        'WSGIPythonHome "%s"' % PYENV,
        '<Directory "/r/apps">',
        "    Require all granted",
        "</Directory>"]
    assert wc.common("mod_wsgi", "6", "/r/run/wsgi", "/r/apps", None)[0] == 'WSGISocketPrefix "/r/run/wsgi"'


# -- groups and mounts -------------------------------------------------------------------------

def test_daemon_process_order_and_quoting():
    assert wc.daemon_process("main") == "WSGIDaemonProcess main"
    assert wc.daemon_process("main", "threads=4", ("display-name", wc.GROUP)) == \
        "WSGIDaemonProcess main threads=4 display-name=%{GROUP}"
    assert wc.daemon_process("app", ("processes", 2), ("threads", 5), "", python_home="/venv",
                             python_path="/a b:/c", locale=None) == \
        'WSGIDaemonProcess app processes=2 threads=5 python-home=/venv "python-path=/a b:/c"'
    assert wc.daemon_process("g", "threads=1", supplementary_groups="adm,nogroup") == \
        "WSGIDaemonProcess g threads=1 supplementary-groups=adm,nogroup"


def test_group_lines():
    assert wc.process_group("g1") == "WSGIProcessGroup g1"
    assert wc.application_group(wc.GLOBAL) == "WSGIApplicationGroup %{GLOBAL}"
    assert wc.callable_object("alt_application") == "WSGICallableObject alt_application"
    assert wc.python_home("/venv") == "WSGIPythonHome /venv"
    assert wc.python_home("/venv", always_quote=True) == 'WSGIPythonHome "/venv"'
    assert wc.python_path([Path("/a"), "/b"]) == "WSGIPythonPath /a:/b"


def test_script_alias_options_in_order():
    assert wc.script_alias("/", "/srv/a.wsgi") == "WSGIScriptAlias / /srv/a.wsgi"
    assert wc.script_alias("/d", Path("/srv/a.wsgi"), application_group=wc.GLOBAL, process_group="bench") == \
        "WSGIScriptAlias /d /srv/a.wsgi process-group=bench application-group=%{GLOBAL}"
    assert wc.script_alias("/c", "/srv/a.wsgi", callable_object="app2", pass_authorization="On") == \
        "WSGIScriptAlias /c /srv/a.wsgi callable-object=app2 pass-authorization=On"
    assert wc.script_alias("/my app", "/srv/my app.wsgi") == 'WSGIScriptAlias "/my app" "/srv/my app.wsgi"'
    assert wc.script_alias_match("^/m/([^/]+)", "/srv/$1.wsgi", process_group="g") == \
        "WSGIScriptAliasMatch ^/m/([^/]+) /srv/$1.wsgi process-group=g"
    assert wc.import_script("/srv/p.wsgi", process_group=wc.GLOBAL, application_group=wc.GLOBAL) == \
        "WSGIImportScript /srv/p.wsgi process-group=%{GLOBAL} application-group=%{GLOBAL}"


def test_module_imports_nothing_of_the_project():
    """gateway is the bottom layer: wsgi_config must not import conformance, matrix, ..."""
    tree = ast.parse(Path(wc.__file__).read_text())
    imported = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imported == []


# -- the places that write configs use it -----------------------------------------------------

def _env(kind, prefix, profile="5"):
    return SimpleNamespace(target=SimpleNamespace(kind=kind), profile=SimpleNamespace(name=profile),
                           python_prefix=prefix, install=SimpleNamespace(version=(2, 4, 71)))


@pytest.mark.parametrize("kind, prefix, first", [
    ("gateway", PYENV, ["WSGICompatibility 6", 'WSGISocketPrefix "/r/run/wsgi"', 'WSGIPythonHome "%s"' % PYENV]),
    ("gateway", "/usr", ["WSGICompatibility 6", 'WSGISocketPrefix "/r/run/wsgi"', '<Directory "/r/apps">']),
    ("mod_wsgi", PYENV, ['WSGISocketPrefix "/r/run/wsgi"', 'WSGIPythonHome "%s"' % PYENV, '<Directory "/r/apps">']),
])
def test_site_context_common(kind, prefix, first):
    from conformance.sites import SiteContext
    ctx = SiteContext("/r", _env(kind, prefix, "6"), "daemon")
    assert ctx.common()[:3] == first
    assert not any(l.startswith("WSGIPythonHome") for l in ctx.common(python_home=False))


def test_serve_fragments():
    from gateway import serve
    assert serve.app_fragments("/srv/a.wsgi", "/", "daemon", 2, 5, "6", PYENV, Path("/r/run")) == [
        "WSGICompatibility 6",
        'WSGISocketPrefix "/r/run/wsgi"',
        'WSGIPythonHome "%s"' % PYENV,
        "WSGIDaemonProcess app processes=2 threads=5 display-name=%{GROUP}",
        "WSGIScriptAlias / /srv/a.wsgi process-group=app application-group=%{GLOBAL}",
        '<Directory "/srv">', "    Require all granted", "</Directory>"]
    assert serve.app_fragments("/srv/a.wsgi", "/x", "embedded", 1, 5, "5", "/usr", Path("/r/run")) == [
        "WSGICompatibility 5",
        'WSGISocketPrefix "/r/run/wsgi"',
        "WSGIScriptAlias /x /srv/a.wsgi",
        "WSGIApplicationGroup %{GLOBAL}",
        '<Directory "/srv">', "    Require all granted", "</Directory>"]


def test_pytest_plugin_render_app():
    from conformance.sites import SiteContext
    from mod_gateway_pytest.app import AppSpec, render_app
    spec = AppSpec(app="/srv/a.wsgi", python_home="/venv", python_path=("/p1", "/p2"),
                   application_group=wc.GLOBAL)
    daemon = render_app(SiteContext("/r", _env("gateway", PYENV), "daemon"), spec, "/srv/a.wsgi")
    assert daemon[3:] == [
        '<Directory "/srv">', "    Require all granted", "</Directory>",
        "WSGIDaemonProcess app processes=1 threads=4 display-name=%{GROUP} python-home=/venv "
        "python-path=/p1:/p2",
        "WSGIProcessGroup app",
        "WSGIApplicationGroup %{GLOBAL}",
        "WSGIScriptAlias / /srv/a.wsgi"]
    embedded = render_app(SiteContext("/r", _env("mod_wsgi", PYENV), "embedded"), spec, "/srv/a.wsgi")
    assert embedded == [
        'WSGISocketPrefix "/r/run/wsgi"',      # no WSGICompatibility; the app's home, not the server's
        '<Directory "/srv">', "    Require all granted", "</Directory>",
        "WSGIPythonHome /venv",
        "WSGIPythonPath /p1:/p2",
        "WSGIApplicationGroup %{GLOBAL}",
        "WSGIScriptAlias / /srv/a.wsgi"]


@pytest.mark.parametrize("kind, compat", [("gateway", ["WSGICompatibility 5"]), ("mod_wsgi", [])])
def test_bench_sets_compatibility_for_the_gateway_only(tmp_path, monkeypatch, kind, compat):
    from conformance.targets import Target
    from gateway import httpd
    from matrix import bench
    seen = {}

    class FakeServer:
        def __init__(self, install, root, fragments=(), **kw):
            seen["fragments"] = list(fragments)
    monkeypatch.setattr(httpd, "Server", FakeServer)
    target = Target(name=kind, kind=kind, module="/m.so", symbol="x", version=(0, 1, 0) if kind == "gateway"
                    else (6, 1, 1), libpython="")
    bench.BenchServer(SimpleNamespace(version=(2, 4, 71)), "event", target, PYENV, tmp_path / "b")
    app = tmp_path / "b" / "app"
    assert seen["fragments"] == compat + [
        'WSGISocketPrefix "%s"' % (tmp_path / "b" / "run" / "wsgi"),
        'WSGIPythonHome "%s"' % PYENV,
        "WSGIDaemonProcess bench %s" % bench.DAEMON_OPTIONS,
        "WSGIScriptAlias /e %s/bench.wsgi" % app,
        "WSGIScriptAlias /d %s/bench.wsgi process-group=bench" % app,
        "<Location /e>", "    WSGIApplicationGroup %{GLOBAL}", "</Location>",
        "<Location /d>", "    WSGIApplicationGroup %{GLOBAL}", "</Location>",
        '<Directory "%s">' % app, "    Require all granted", "</Directory>"]
