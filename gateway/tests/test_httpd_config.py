"""The base httpd.conf for both Apache generations: the rendered text, line by line."""

from pathlib import Path

import pytest

from gateway import httpd, wsgi_config as wc


def install(tmp_path, version, static=(), shipped=()):
    libexec = tmp_path / ("modules-%s" % ".".join(map(str, version)))
    libexec.mkdir()
    for name in shipped:
        (libexec / ("mod_%s.so" % name)).write_text("")
    mpms = tuple(n[len("mpm_"):] for n in shipped if n.startswith("mpm_"))
    return httpd.ApacheInstall(apxs="/a/bin/apxs", httpd="/a/bin/httpd", version=version,
                               libexecdir=str(libexec), static_modules=tuple(static), mpms=mpms)


SHIPPED_24 = ("mpm_event", "mpm_worker", "authz_core", "authz_host", "unixd", "log_config", "mime",
              "alias", "env", "setenvif", "headers")
SHIPPED_22 = ("authz_host", "log_config", "mime", "alias", "env", "setenvif", "headers")


def test_apache_24_config(tmp_path):
    inst = install(tmp_path, (2, 4, 71), shipped=SHIPPED_24)
    text = httpd.render_config(inst, Path("/srv/r"), 8080, "event", fragments=["# site"])
    lines = text.splitlines()
    assert 'DefaultRuntimeDir "/srv/r/run"' in lines and not [l for l in lines if l.startswith("LockFile")]
    assert "LoadModule mpm_event_module %s/mod_mpm_event.so" % inst.libexecdir in lines
    for name in ("authz_core", "unixd"):
        assert "LoadModule %s_module %s/mod_%s.so" % (name, inst.libexecdir, name) in lines
    assert "    MaxRequestWorkers 32" in text and "MaxClients" not in text
    assert lines[lines.index('<Directory "/">') + 2] == "    Require all denied"
    assert lines[lines.index('<Directory "/srv/r">') + 1:lines.index('<Directory "/srv/r">') + 3] == [
        "    Require all granted", "</Directory>"]
    assert "Order" not in text and lines[-1] == "# site"


def test_apache_22_config(tmp_path):
    inst = install(tmp_path, (2, 2, 34), static=("core", "worker", "http_core", "mod_so"), shipped=SHIPPED_22)
    text = httpd.render_config(inst, Path("/srv/r"), 8080, "worker", user=("www-data", "www-data"))
    lines = text.splitlines()
    assert 'LockFile "/srv/r/run/accept.lock"' in lines and "DefaultRuntimeDir" not in text
    assert not [l for l in lines if l.startswith("LoadModule mpm_")]          # the one MPM is compiled in
    assert not [l for l in lines if "authz_core" in l or "unixd" in l]
    assert "LoadModule authz_host_module %s/mod_authz_host.so" % inst.libexecdir in lines
    assert "    MaxClients 32" in text and "MaxRequestWorkers" not in text
    assert ["User www-data", "Group www-data"] == [l for l in lines if l.startswith(("User ", "Group "))]
    i = lines.index('<Directory "/">')
    assert lines[i + 1:i + 5] == ["    AllowOverride None", "    Order deny,allow", "    Deny from all", "</Directory>"]
    i = lines.index('<Directory "/srv/r">')
    assert lines[i + 1:i + 4] == ["    Order allow,deny", "    Allow from all", "</Directory>"]
    assert "Require" not in text


def test_apache_22_build_has_only_its_compiled_in_mpm(tmp_path):
    inst = install(tmp_path, (2, 2, 34), static=("core", "prefork"), shipped=SHIPPED_22)
    with pytest.raises(httpd.HttpdError, match="has the prefork MPM compiled in, not event"):
        httpd.render_config(inst, Path("/srv/r"), 8080, "event")


@pytest.mark.parametrize("version, granted, denied", [
    ((2, 4, 12), ["Require all granted"], ["Require all denied"]),
    ((2, 2, 34), ["Order allow,deny", "Allow from all"], ["Order deny,allow", "Deny from all"]),
])
def test_access_and_the_scripts_grant_follow_the_generation(version, granted, denied):
    assert (wc.access(True, version), wc.access(False, version)) == (granted, denied)
    assert wc.directory_grant("/srv/apps", version) == (
        ['<Directory "/srv/apps">'] + ["    " + l for l in granted] + ["</Directory>"])
    assert wc.common("mod_wsgi", "5", "/r/run/wsgi", "/srv/apps", None, version)[-len(granted) - 2:] == \
        wc.directory_grant("/srv/apps", version)


# Lines as each generation writes them (2.2.34 and 2.4.71 on this machine).
LINE_22 = "[Fri Dec 04 03:19:24 2026] [error] [client 127.0.0.1] mod_gateway (pid=12975): Target WSGI script"
LINE_24 = ("[Fri Dec 04 03:21:00.509302 2026] [gateway:warn] [pid 15258:tid 15259] mod_gateway "
           "(pid=15258): Daemon process 'g' died")


def test_error_log_lines_of_both_generations_parse():
    assert httpd.parse_log_line(LINE_22, (2, 2, 34)) == (
        None, "[error]", "[client 127.0.0.1] mod_gateway (pid=12975): Target WSGI script")
    assert httpd.parse_log_line(LINE_24, (2, 4, 71)) == (
        "15258", "[gateway:warn]", "mod_gateway (pid=15258): Daemon process 'g' died")
    # Each generation's parser refuses the other's shape and a traceback's continuation.
    assert httpd.parse_log_line(LINE_24, (2, 2, 34)) is None
    assert httpd.parse_log_line(LINE_22, (2, 4, 71)) is None
    assert httpd.parse_log_line('  File "/x.wsgi", line 3, in app', (2, 2, 34)) is None


def test_a_log_pattern_drops_the_module_tag_on_22_only():
    assert httpd.log_pattern(r"\[wsgi:error\] Target \[x:y\]", (2, 2, 34)) == r"\[error\] Target \[x:y\]"
    assert httpd.log_pattern(r"\[:error\] x", (2, 2, 34)) == r"\[error\] x"
    assert httpd.log_pattern(r"\[wsgi:error\] x", (2, 4, 12)) == r"\[wsgi:error\] x"
    assert httpd.log_pattern(r"Target \[wsgi:error\]", (2, 2, 34)) == r"Target \[wsgi:error\]"


def test_a_log_pattern_on_22_loses_message_codes_and_keeps_a_module_alternation_s_level():
    assert httpd.log_pattern(r"\[core:notice\] AH00052: child pid \d+", (2, 2, 34)) == r"\[notice\] child pid \d+"
    assert httpd.log_pattern(r"\[(?:wsgi|gateway):crit\] x", (2, 2, 34)) == r"\[crit\] x"
    assert httpd.log_pattern(r"AH00052: child", (2, 4, 71)) == r"AH00052: child"
