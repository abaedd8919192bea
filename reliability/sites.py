"""The reliability suite's sites, registered in conformance.sites under names starting "rel-".

Every daemon group carries display-name=%{GROUP} so its processes can be told apart
('(wsgi:NAME)' in /proc/PID/cmdline) and killed or measured by PID.
"""

from conformance.sites import site
from gateway import wsgi_config as wc
from gateway.httpd import child_user
from gateway.wsgi_config import GLOBAL, GROUP

# Groups the privilege tests create (and remove when they created them).
PRIV_GROUP = "gwrel-main"
PRIV_SUPPLEMENTARY = ("gwrel-sup1", "gwrel-sup2")
MEMORY_LIMIT = 256 * 1024 * 1024


def _app(ctx):
    return "%s/rel.wsgi" % ctx.apps


def _group(name, options):
    return wc.daemon_process(name, ("display-name", GROUP), options)


@site("rel-kill")
def rel_kill(ctx):
    # socket-timeout bounds what a child waits for a dead daemon; shutdown-timeout the restarts.
    return [_group("flt", "processes=2 threads=4 socket-timeout=10 shutdown-timeout=3"),
            wc.script_alias("/flt", _app(ctx), process_group="flt", application_group=GLOBAL)]


@site("rel-deadlock")
def rel_deadlock(ctx):
    return [_group("dl", "processes=1 threads=4 deadlock-timeout=3 socket-timeout=10 shutdown-timeout=3"),
            wc.script_alias("/dl", _app(ctx), process_group="dl", application_group=GLOBAL)]


@site("rel-memory")
def rel_memory(ctx):
    return [_group("mem", "processes=1 threads=2 memory-limit=%d socket-timeout=10 shutdown-timeout=3"
                   % MEMORY_LIMIT),
            wc.script_alias("/mem", _app(ctx), process_group="mem", application_group=GLOBAL)]


@site("rel-restart")
def rel_restart(ctx):
    return [_group("rs", "processes=2 threads=4 socket-timeout=10 shutdown-timeout=3"),
            wc.script_alias("/emb", _app(ctx), application_group=GLOBAL),
            wc.script_alias("/dmn", _app(ctx), process_group="rs", application_group=GLOBAL)]


@site("rel-hostile")
def rel_hostile(ctx):
    # A short Timeout bounds what a truncated body or a stalled client can hold.
    # LimitRequestFields 10000 lets a request with 9000 headers reach the module (more environ
    # pairs than the child<->daemon framing's 8192); 12000 are still refused by Apache.
    lines = ["Timeout 5", "LimitRequestBody 0", "LimitRequestFields 10000"]
    if ctx.daemon:
        lines += [_group("hz", "processes=1 threads=4 socket-timeout=10"), wc.process_group("hz")]
    lines += [wc.script_alias("/app", _app(ctx), application_group=GLOBAL),
              "<Location /app>", "    WSGIChunkedRequest On", "</Location>"]
    return lines


@site("rel-priv")
def rel_priv(ctx):
    user = child_user()[0]
    return [_group("ident", "threads=1 user=%s group=%s supplementary-groups=%s"
                   % (user, PRIV_GROUP, ",".join(PRIV_SUPPLEMENTARY))),
            _group("plain", "threads=1 user=%s" % user),
            _group("default", "threads=1"),
            wc.script_alias("/ident", _app(ctx), process_group="ident"),
            wc.script_alias("/plain", _app(ctx), process_group="plain"),
            wc.script_alias("/default", _app(ctx), process_group="default")]


@site("rel-restrict")
def rel_restrict(ctx):
    a = _app(ctx)
    return ["<VirtualHost *:*>", "    ServerName a.test",
            "    " + _group("ga", "threads=1"), "    " + _group("ga2", "threads=1"),
            "    " + wc.script_alias("/own", a, process_group="ga"),
            "    " + wc.script_alias("/allowed", a),
            "    <Location /allowed>", "        WSGIRestrictProcess ga", "        " + wc.process_group("ga"),
            "    </Location>",
            "    " + wc.script_alias("/restricted", a),
            "    <Location /restricted>", "        WSGIRestrictProcess ga",
            "        " + wc.process_group("ga2"), "    </Location>",
            "</VirtualHost>",
            "<VirtualHost *:*>", "    ServerName b.test",
            "    " + wc.script_alias("/steal", a),
            "    <Location /steal>", "        SetEnv REL_GROUP ga",
            "        " + wc.process_group("%{ENV:REL_GROUP}"), "    </Location>",
            "</VirtualHost>"]


@site("rel-steal-static")
def rel_steal_static(ctx):
    """Another virtual host names a group of a.test statically: must be rejected at config time."""
    a = _app(ctx)
    return ["<VirtualHost *:*>", "    ServerName a.test", "    " + _group("ga", "threads=1"),
            "    " + wc.script_alias("/own", a, process_group="ga"), "</VirtualHost>",
            "<VirtualHost *:*>", "    ServerName b.test",
            "    " + wc.script_alias("/steal", a, process_group="ga"), "</VirtualHost>"]


@site("rel-root")
def rel_root(ctx):
    return [_group("asroot", "threads=1 user=root"),
            wc.script_alias("/root", _app(ctx), process_group="asroot")]


@site("rel-root-uid")
def rel_root_uid(ctx):
    return [_group("asroot", "threads=1 user=#0"),
            wc.script_alias("/root", _app(ctx), process_group="asroot")]


@site("rel-soak")
def rel_soak(ctx):
    a = _app(ctx)
    probe = "%s/probe.wsgi" % ctx.apps
    return [_group("soak", "processes=2 threads=8 socket-timeout=10"),
            wc.script_alias("/e", a, application_group=GLOBAL),
            wc.script_alias("/d", a, process_group="soak", application_group=GLOBAL),
            wc.script_alias("/pe", probe),
            wc.script_alias("/pd", probe, process_group="soak")]
