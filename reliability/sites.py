"""The reliability suite's sites, registered in conformance.sites under names starting "rel-".

Every daemon group carries display-name=%{GROUP} so its processes can be told apart
('(wsgi:NAME)' in /proc/PID/cmdline) and killed or measured by PID.
"""

from conformance.sites import site
from gateway.httpd import child_user

# Groups the privilege tests create (and remove when they created them).
PRIV_GROUP = "gwrel-main"
PRIV_SUPPLEMENTARY = ("gwrel-sup1", "gwrel-sup2")
MEMORY_LIMIT = 256 * 1024 * 1024


def _app(ctx):
    return "%s/rel.wsgi" % ctx.apps


def _group(name, options):
    return "WSGIDaemonProcess %s display-name=%%{GROUP} %s" % (name, options)


@site("rel-kill")
def rel_kill(ctx):
    # socket-timeout bounds what a child waits for a dead daemon; shutdown-timeout the restarts.
    return [_group("flt", "processes=2 threads=4 socket-timeout=10 shutdown-timeout=3"),
            "WSGIScriptAlias /flt %s process-group=flt application-group=%%{GLOBAL}" % _app(ctx)]


@site("rel-deadlock")
def rel_deadlock(ctx):
    return [_group("dl", "processes=1 threads=4 deadlock-timeout=3 socket-timeout=10 shutdown-timeout=3"),
            "WSGIScriptAlias /dl %s process-group=dl application-group=%%{GLOBAL}" % _app(ctx)]


@site("rel-memory")
def rel_memory(ctx):
    return [_group("mem", "processes=1 threads=2 memory-limit=%d socket-timeout=10 shutdown-timeout=3"
                   % MEMORY_LIMIT),
            "WSGIScriptAlias /mem %s process-group=mem application-group=%%{GLOBAL}" % _app(ctx)]


@site("rel-restart")
def rel_restart(ctx):
    return [_group("rs", "processes=2 threads=4 socket-timeout=10 shutdown-timeout=3"),
            "WSGIScriptAlias /emb %s application-group=%%{GLOBAL}" % _app(ctx),
            "WSGIScriptAlias /dmn %s process-group=rs application-group=%%{GLOBAL}" % _app(ctx)]


@site("rel-hostile")
def rel_hostile(ctx):
    # A short Timeout bounds what a truncated body or a stalled client can hold.
    # LimitRequestFields 10000 lets a request with 9000 headers reach the module (more environ
    # pairs than the child<->daemon framing's 8192); 12000 are still refused by Apache.
    lines = ["Timeout 5", "LimitRequestBody 0", "LimitRequestFields 10000"]
    if ctx.daemon:
        lines += [_group("hz", "processes=1 threads=4 socket-timeout=10"), "WSGIProcessGroup hz"]
    lines += ["WSGIScriptAlias /app %s application-group=%%{GLOBAL}" % _app(ctx),
              "<Location /app>", "    WSGIChunkedRequest On", "</Location>"]
    return lines


@site("rel-priv")
def rel_priv(ctx):
    user = child_user()[0]
    return [_group("ident", "threads=1 user=%s group=%s supplementary-groups=%s"
                   % (user, PRIV_GROUP, ",".join(PRIV_SUPPLEMENTARY))),
            _group("plain", "threads=1 user=%s" % user),
            _group("default", "threads=1"),
            "WSGIScriptAlias /ident %s process-group=ident" % _app(ctx),
            "WSGIScriptAlias /plain %s process-group=plain" % _app(ctx),
            "WSGIScriptAlias /default %s process-group=default" % _app(ctx)]


@site("rel-restrict")
def rel_restrict(ctx):
    a = _app(ctx)
    return ["<VirtualHost *:*>", "    ServerName a.test",
            "    " + _group("ga", "threads=1"), "    " + _group("ga2", "threads=1"),
            "    WSGIScriptAlias /own %s process-group=ga" % a,
            "    WSGIScriptAlias /allowed %s" % a,
            "    <Location /allowed>", "        WSGIRestrictProcess ga", "        WSGIProcessGroup ga",
            "    </Location>",
            "    WSGIScriptAlias /restricted %s" % a,
            "    <Location /restricted>", "        WSGIRestrictProcess ga",
            "        WSGIProcessGroup ga2", "    </Location>",
            "</VirtualHost>",
            "<VirtualHost *:*>", "    ServerName b.test",
            "    WSGIScriptAlias /steal %s" % a,
            "    <Location /steal>", "        SetEnv REL_GROUP ga",
            "        WSGIProcessGroup %{ENV:REL_GROUP}", "    </Location>",
            "</VirtualHost>"]


@site("rel-steal-static")
def rel_steal_static(ctx):
    """Another virtual host names a group of a.test statically: must be rejected at config time."""
    a = _app(ctx)
    return ["<VirtualHost *:*>", "    ServerName a.test", "    " + _group("ga", "threads=1"),
            "    WSGIScriptAlias /own %s process-group=ga" % a, "</VirtualHost>",
            "<VirtualHost *:*>", "    ServerName b.test",
            "    WSGIScriptAlias /steal %s process-group=ga" % a, "</VirtualHost>"]


@site("rel-root")
def rel_root(ctx):
    return [_group("asroot", "threads=1 user=root"),
            "WSGIScriptAlias /root %s process-group=asroot" % _app(ctx)]


@site("rel-root-uid")
def rel_root_uid(ctx):
    return [_group("asroot", "threads=1 user=#0"),
            "WSGIScriptAlias /root %s process-group=asroot" % _app(ctx)]


@site("rel-soak")
def rel_soak(ctx):
    a = _app(ctx)
    probe = "%s/probe.wsgi" % ctx.apps
    return [_group("soak", "processes=2 threads=8 socket-timeout=10"),
            "WSGIScriptAlias /e %s application-group=%%{GLOBAL}" % a,
            "WSGIScriptAlias /d %s process-group=soak application-group=%%{GLOBAL}" % a,
            "WSGIScriptAlias /pe %s" % probe,
            "WSGIScriptAlias /pd %s process-group=soak" % probe]
