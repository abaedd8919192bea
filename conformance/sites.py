"""Sites: the Apache configurations cases run against, one fragment builder per name.

A site is rendered per mode: in daemon mode the same mounts are delegated to a
daemon process group.  Cases that share a site (and mode) share one server.  The WSGI
directives are spelled by gateway.wsgi_config (as for serve, bench and the pytest plugin);
the lines a site writes only for itself (Location blocks, WSGIRestrict*, ...) stay here.
"""

import os
import shutil
from pathlib import Path

from gateway import httpd, wsgi_config as wc
from gateway.wsgi_config import GLOBAL, GROUP

from .venvs import make_venv, other_python

APPS = Path(__file__).parent / "apps"
SITES = {}


# Error-log lines a site produces by design whenever its server or a daemon of it
# starts, so whichever case runs at that moment may see them: site name -> patterns.
SITE_LOG = {}

# Variables a site's Apache is started with on top of httpd.SCRUBBED_ENV: site name -> dict.
SITE_ENV = {}


def site(name, log=(), env=None):
    def register(fn):
        if name in SITES:       # a second builder would silently take over the first's cases
            raise ValueError("site %r is defined twice (%s and %s)" % (name, SITES[name].__name__, fn.__name__))
        SITES[name] = fn
        if log:
            SITE_LOG[name] = tuple(log)
        if env:
            SITE_ENV[name] = dict(env)
        return fn
    return register


def site_env(name):
    """The extra environment the site's Apache starts with (empty for most sites)."""
    return dict(SITE_ENV.get(name, {}))


class SiteContext:
    """What a fragment builder needs to know: where things are and who is under test."""

    def __init__(self, root, env, mode):
        self.root = Path(root)
        self.env = env          # conformance plugin's Env: target, profile, server_python ...
        self.mode = mode
        self.apps = self.root / "apps"

    def copy_apps(self):
        shutil.copytree(str(APPS), str(self.apps))
        for p in [self.apps] + list(self.apps.iterdir()):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)

    @property
    def daemon(self):
        return self.mode == "daemon"

    @property
    def socket_path(self):
        return self.root / "run" / "wsgi"

    def socket_prefix(self):
        return wc.socket_prefix(self.socket_path)

    def common(self, python_home=True):
        """WSGICompatibility (mod_gateway only), the socket prefix, the server Python's home
        when it is outside /usr (python_home=False: the site sets its own) and the grant of
        the apps directory: gateway.wsgi_config.common."""
        return wc.common(self.env.target.kind, self.env.profile.name, self.socket_path, self.apps,
                         self.env.python_prefix if python_home else None, self.env.install.version)


def render_site(name, ctx):
    if name not in SITES:
        raise KeyError("no site %r" % name)
    return ctx.common(python_home=name not in OWN_PYTHON_HOME) + SITES[name](ctx)


OWN_PYTHON_HOME = {"home", "home-missing-embedded"}


def _daemon_group(ctx, name, *options):
    """In daemon mode, a daemon group (threads=4 unless options are given) and
    WSGIProcessGroup naming it, so the site's mounts run there; nothing in embedded mode."""
    if not ctx.daemon:
        return []
    return [wc.daemon_process(name, *(options or ("threads=4",))), wc.process_group(name)]


def _probe_daemon(ctx, group, options, **settings):
    """A daemon group of its own (WSGIDaemonProcess options and settings) serving /probe."""
    return [wc.daemon_process(group, options, **settings),
            wc.script_alias("/probe", "%s/probe.wsgi" % ctx.apps, process_group=group)]


def _in_location(path, *lines):
    return ["<Location %s>" % path] + ["    " + line for line in lines] + ["</Location>"]


@site("basic")
def basic(ctx):
    a = ctx.apps
    lines = _daemon_group(ctx, "main", "threads=4", ("display-name", GROUP))
    lines += [
        "SetEnv PROBE_SETENV from-setenv",
        "SetEnv PATH /probe-setenv-path",
        wc.script_alias("/probe", "%s/probe.wsgi" % a),
        wc.script_alias("/errs", "%s/errors.wsgi" % a),
        wc.script_alias("/nocall", "%s/no_callable.wsgi" % a),
        wc.script_alias("/imperr", "%s/import_error.wsgi" % a),
        wc.script_alias("/halfimp", "%s/half_import.wsgi" % a),
        wc.script_alias("/missing", "%s/does_not_exist.wsgi" % a),
        wc.script_alias("/dir/", "%s/" % a),
    ]
    groups = {"g-global": GLOBAL, "g-server": "%{SERVER}", "g-resource": "%{RESOURCE}",
              "g-env": "%{ENV:PROBE_GROUP}", "g-sharedA": "shared", "g-sharedB": "shared",
              "g-other": "other", "g-race1": "race1", "g-race2": "race2", "g-race3": "race3"}
    for mount, group in sorted(groups.items()):
        lines += [wc.script_alias("/" + mount, "%s/probe.wsgi" % a)]
        lines += _in_location("/" + mount, wc.application_group(group), "SetEnv PROBE_GROUP envgroup")
    return lines


@site("rootmount")
def rootmount(ctx):
    return _daemon_group(ctx, "root", "threads=2") + [wc.script_alias("/", "%s/probe.wsgi" % ctx.apps)]


def _processes(ctx):
    """processes=3 (MODE-012, MODE-013), at /procs."""
    return [wc.daemon_process("procs", "processes=3 threads=1"),
            wc.script_alias("/procs", "%s/probe.wsgi" % ctx.apps, process_group="procs")]


@site("onethread")
def onethread(ctx):
    # A threaded MPM cut to one thread per child: the embedded interpreter is not multithreaded.
    return ["<IfModule !mpm_prefork_module>", "    ThreadsPerChild 1",
            "    %s 2" % httpd.max_workers_directive(ctx.env.install.version),
            "    MinSpareThreads 1", "    MaxSpareThreads 2", "</IfModule>",
            wc.script_alias("/probe", "%s/probe.wsgi" % ctx.apps)]


def _routing(ctx):
    """Embedded, WSGIProcessGroup, process-group= and an undefined group (MODE-009..011): no
    process group for the server, so /emb runs embedded."""
    probe = "%s/probe.wsgi" % ctx.apps
    lines = [wc.daemon_process("g1", "threads=2"), wc.daemon_process("g2", "threads=2"),
             wc.script_alias("/emb", probe), wc.script_alias("/one", probe)]
    lines += _in_location("/one", wc.process_group("g1"))
    lines += [wc.script_alias("/two", probe, process_group="g2"), wc.script_alias("/unknown", probe)]
    return lines + _in_location("/unknown", wc.process_group("nosuchgroup"))


@site("restrict")
def restrict(ctx):
    probe = "%s/probe.wsgi" % ctx.apps
    return ["WSGIRestrictEmbedded On", wc.daemon_process("allowed", "threads=2"),
            wc.script_alias("/emb", probe),
            wc.script_alias("/dmn", probe, process_group="allowed")]


@site("queue")
def queue(ctx):
    return _probe_daemon(ctx, "q", "processes=1 threads=1")


@site("queue-timeout")
def queue_timeout(ctx):
    return _probe_daemon(ctx, "qt", "processes=1 threads=1 queue-timeout=1")


@site("dying")
def dying(ctx):
    return (_probe_daemon(ctx, "dyinggroup", "processes=1 threads=1")
            + [wc.script_alias("/errs", "%s/errors.wsgi" % ctx.apps, process_group="dyinggroup")])


def _traced(ctx):
    """ERR-035's own daemon process: one thread, one interpreter (the main one, as C extensions
    using PyGILState need).  tracemalloc takes PyGILState on every raw allocation, so a thread
    whose first thread state is another interpreter's, or another thread in another
    interpreter, would wait forever while it traces, under any module."""
    return [wc.daemon_process("traced", "processes=1 threads=1"),
            wc.script_alias("/errs", "%s/errors.wsgi" % ctx.apps, process_group="traced",
                            application_group=GLOBAL)]


# preload.wsgi writes one stderr line at import (MODE-016 checks its form).
PRELOAD_LINE = r"\] preload-import-line pid=\d+$"


@site("preload", log=(PRELOAD_LINE,))
def preload(ctx):
    a = ctx.apps
    if ctx.daemon:
        return [wc.daemon_process("pre", "threads=2"),
                wc.script_alias("/preload", "%s/preload.wsgi" % a, process_group="pre", application_group="preapp"),
                wc.script_alias("/other", "%s/probe.wsgi" % a, process_group="pre", application_group="preapp")]
    lines = [wc.import_script("%s/preload.wsgi" % a, process_group=GLOBAL, application_group=GLOBAL),
             wc.script_alias("/preload", "%s/preload.wsgi" % a)]
    return lines + _in_location("/preload", wc.application_group(GLOBAL))


# The loc-badlocale group names its unsupported locale at every (re)start (LOC-005); 4.x and
# 5.x log that at error level ("Unsupported locale setting xx_YY.UTF-8 specified for daemon
# process group loc-badlocale"; 6.1.1 and mod_gateway quote both names, at warn level).
@site("locale", log=(r"\] (?:WSGI0079: |mod_(?:wsgi|gateway) \(pid=\d+\): )Unsupported locale "
                     r"setting '?xx_YY\.UTF-8'? specified for daemon process group '?loc-badlocale'?[.;] ",))
def locale_site(ctx):
    probe = "%s/probe.wsgi" % ctx.apps
    if not ctx.daemon:
        return [wc.script_alias("/plain", probe)]
    groups = {"plain": "", "lang": "lang=en_US.UTF-8", "locale": "locale=de_DE.UTF-8",
              "both": "lang=de_DE.UTF-8 locale=de_DE.UTF-8", "badlocale": "locale=xx_YY.UTF-8"}
    lines = []
    for name, opts in sorted(groups.items()):
        lines += [wc.daemon_process("loc-" + name, "threads=1", opts),
                  wc.script_alias("/" + name, probe, process_group="loc-" + name)]
    return lines


@site("locale-env", env={"LC_ALL": "C"})
def locale_env_site(ctx):
    """Apache itself started with LC_ALL=C: what a daemon's locale= makes of it (LOC-006)."""
    probe = "%s/probe.wsgi" % ctx.apps
    return [wc.daemon_process("locenv-plain", "threads=1"),
            wc.script_alias("/plain", probe, process_group="locenv-plain"),
            wc.daemon_process("locenv-locale", "threads=1", locale="de_DE.UTF-8"),
            wc.script_alias("/locale", probe, process_group="locenv-locale")]


@site("home")
def home(ctx):
    venv, _ = make_venv(ctx.env.server_python, ctx.root / "venv")
    pathdir = ctx.root / "extra-path"
    pathdir.mkdir(exist_ok=True)
    (pathdir / "probe_pathmod.py").write_text("WHERE = 'python-path'\n")
    os.chmod(pathdir, 0o755)
    probe = "%s/probe.wsgi" % ctx.apps
    if ctx.daemon:
        return [wc.daemon_process("venv", "threads=2", python_home=venv, python_path=pathdir),
                wc.script_alias("/probe", probe, process_group="venv")]
    return [wc.python_home(venv), wc.python_path([pathdir]), wc.script_alias("/probe", probe)]


def _daemon_home(ctx, group, home):
    """A one-thread daemon group with python-home=`home` serving /probe.  A short Timeout
    bounds how long a module that hangs on a home that cannot work can hold the case."""
    return ["Timeout 8"] + _probe_daemon(ctx, group, "threads=1", python_home=home)


@site("home-missing")
def home_missing(ctx):
    return _daemon_home(ctx, "nohome", ctx.root / "no-such-venv")


# Python cannot start in the children: each logs why (the releases' crit lines or a
# fatal error, mod_gateway's crit line on 3.8+) and the 3.7-and-older and 4.x/5.x ones die.
@site("home-missing-embedded", log=(
    r"\[(?:wsgi|gateway):crit\] .*(?:Initializing Python failed|Python initialisation failed|WSGI0036: Python "
    r"interpreter configuration failed in embedded mode): (?:(?:init_fs_encoding: )?failed to get the Python codec "
    r"of the filesystem encoding|Failed to import encodings module)$",  # the latter: Python 3.13
    r"\[wsgi:crit\] .*WSGI0001: Python initialisation failed in Apache child process; Python based handlers "
    r"will not be available\.$",
    r"AH00052: child pid \d+ exit signal (?:Segmentation fault \(11\)|Abort(?:ed)? \(6\))"))
def home_missing_embedded(ctx):
    return ["Timeout 8", wc.python_home(ctx.root / "no-such-home"),
            wc.script_alias("/probe", "%s/probe.wsgi" % ctx.apps)]


@site("home-empty")
def home_empty(ctx):
    # A python-home that exists, can be read and has an (empty) lib/pythonX.Y: it passes
    # every check of the path and fails only when Python initialises.
    empty = ctx.root / "empty-home"
    lib = empty / "lib" / ("python%d.%d" % tuple(ctx.env.python_version[:2]))
    lib.mkdir(parents=True, exist_ok=True)
    for d in (empty, empty / "lib", lib):
        d.chmod(0o755)
    return _daemon_home(ctx, "emptyhome", empty)


@site("home-mismatch")
def home_mismatch(ctx):
    other = other_python(ctx.env.python_version)
    venv, _ = make_venv(other, ctx.root / "other-venv")
    return _daemon_home(ctx, "mismatch", venv)


@site("switch-interval")
def switch_interval(ctx):
    # 6.x: WSGISwitchInterval for every process; the group's own switch-interval= too.
    return (["WSGISwitchInterval 0.003"] + _daemon_group(ctx, "sw", "threads=2 switch-interval=0.004")
            + [wc.script_alias("/sw", "%s/probe.wsgi" % ctx.apps)])


@site("switch-group")
def switch_group(ctx):
    # its own server: profile 6's option, which the older releases refuse in any shared config
    return _daemon_group(ctx, "swg", "threads=2 switch-interval=0.004") + [wc.script_alias("/sw", "%s/probe.wsgi" % ctx.apps)]


@site("none")
def none_site(ctx):
    return []


@site("directives")
def directives(ctx):
    a = ctx.apps
    probe = "%s/probe.wsgi" % a
    for name in ("reload_on", "reload_off"):
        shutil.copy(str(a / "reload.wsgi"), str(a / (name + ".wsgi")))
    lines = _daemon_group(ctx, "dirs", "threads=4")
    lines += [wc.script_alias_match("^/match/([^/]+)", "%s/$1.wsgi" % a),
              wc.script_alias("/callable", probe)]
    lines += _in_location("/callable", wc.callable_object("alt_application"))
    lines += [wc.script_alias("/calloption", probe, callable_object="alt_application"),
              wc.script_alias("/reload-on", "%s/reload_on.wsgi" % a),
              wc.script_alias("/reload-off", "%s/reload_off.wsgi" % a),
              wc.script_alias("/reload-refs", "%s/reload_refs.wsgi" % a)]
    lines += _in_location("/reload-off", "WSGIScriptReloading Off")
    lines += [wc.script_alias("/auth-on", probe)] + _in_location("/auth-on", "WSGIPassAuthorization On")
    lines += [wc.script_alias("/auth-off", probe),
              wc.script_alias("/chunked-on", probe)] + _in_location("/chunked-on", "WSGIChunkedRequest On")
    lines += [wc.script_alias("/chunked-off", probe)]
    if not _profile_lacks_map_head(ctx):
        lines += [wc.script_alias("/head-get", probe)] + _in_location("/head-get", "WSGIMapHEADToGET On")
        lines += [wc.script_alias("/head-keep", probe)] + _in_location("/head-keep", "WSGIMapHEADToGET Off")
    return lines


def _profile_lacks_map_head(ctx):
    """Does the profile refuse WSGIMapHEADToGET (3.4 has no such directive)?  Case DIR-013's
    expectation says so."""
    try:
        return ctx.env.profile.data["expect"]["DIR-013"]["rejected"]
    except KeyError:
        raise KeyError("profile %s has no expect DIR-013.rejected: whether WSGIMapHEADToGET exists"
                       % ctx.env.profile.name)


@site("serverwide")
def serverwide(ctx):
    return ["WSGIRestrictStdout On", "WSGIRestrictStdin On", "WSGIPythonOptimize 1",
            wc.script_alias("/probe", "%s/probe.wsgi" % ctx.apps)]


@site("daemonopts")
def daemonopts(ctx):
    probe = "%s/probe.wsgi" % ctx.apps
    home = ctx.root / "daemon-home"
    home.mkdir(exist_ok=True)
    os.chmod(str(home), 0o755)
    groups = {"maxreq": ["processes=1 threads=1 maximum-requests=3"],
              "idle": ["processes=1 threads=1 inactivity-timeout=2"],
              "named": ["threads=1", ("display-name", GROUP)],
              "ident": ["threads=1 umask=0027", ("home", home)]}
    lines = []
    for name, opts in sorted(groups.items()):
        lines += [wc.daemon_process(name, *opts),
                  wc.script_alias("/" + name, probe, process_group=name)]
    return lines


@site("mounts")
def mounts(ctx):
    """Mounts whose cases ask only their own paths, in both modes (one daemon group for all in
    daemon mode): /probe with no body limit (DMN-007's 256 MiB bodies; no other case here sends
    a body), a Match alias whose regex also matches the '*' of "OPTIONS *" (DIR-023), and
    pass-authorization= of WSGIScriptAlias beside WSGIPassAuthorization (DIR-022)."""
    probe = "%s/probe.wsgi" % ctx.apps
    return _daemon_group(ctx, "mounts", "threads=2") + [
        "LimitRequestBody 0", wc.script_alias("/probe", probe),
        wc.script_alias_match("^(/star|\\*)", probe),
        wc.script_alias("/opt-on", probe, pass_authorization="On"),
        wc.script_alias("/opt-off", probe, pass_authorization="Off"),
        wc.script_alias("/opt-none", probe),
        wc.script_alias("/opt-off-dir-on", probe, pass_authorization="off"),
    ] + _in_location("/opt-off-dir-on", "WSGIPassAuthorization On") + [
        wc.script_alias("/opt-on-dir-off", probe, pass_authorization="on"),
    ] + _in_location("/opt-on-dir-off", "WSGIPassAuthorization Off")


# Daemon groups whose cases each ask only their own group's processes (or, MODE-009, an
# embedded mount's): one server for them all ("groups": the parts below and _processes,
# _routing and _traced above), every group and mount its own.  None of these cases restarts the server or a group,
# counts the server's processes or reads more of the error log than it marked, and none needs a
# server-wide directive: a case that does keeps a site of its own.

def _identity(ctx):
    """Daemon identity (DMN-010, DMN-011): user/group/supplementary-groups exactly as
    configured, and the defaults."""
    from gateway.httpd import child_user
    user, _ = child_user()
    probe = "%s/probe.wsgi" % ctx.apps
    return [wc.daemon_process("idexplicit", "threads=1", user=user, group="users",
                              supplementary_groups="adm,nogroup"),
            wc.script_alias("/explicit", probe, process_group="idexplicit"),
            wc.daemon_process("iddefault", "threads=1"),
            wc.script_alias("/default", probe, process_group="iddefault")]


def _sockets(ctx):
    """Daemon groups with and without send-/receive-buffer-size= (DMN-017)."""
    app = "%s/sockets.wsgi" % ctx.apps
    groups = {"plain": "", "sized": "send-buffer-size=40000 receive-buffer-size=50000"}
    lines = []
    for name, opts in sorted(groups.items()):
        lines += [wc.daemon_process("sk-" + name, "threads=1", opts),
                  wc.script_alias("/" + name, app, process_group="sk-" + name)]
    return lines


def _rproc(ctx):
    """WSGIRestrictProcess (DMN-028): /allowed is delegated to a group its list names, /refused
    to one its list leaves out."""
    probe = "%s/probe.wsgi" % ctx.apps
    return ([wc.daemon_process("ra", "threads=2"), wc.daemon_process("rb", "threads=2"),
             wc.script_alias("/allowed", probe), wc.script_alias("/refused", probe)]
            + _in_location("/allowed", "WSGIRestrictProcess rb ra", wc.process_group("ra"))
            + _in_location("/refused", "WSGIRestrictProcess ra", wc.process_group("rb")))


def _prio(ctx):
    """cpu-priority= (DMN-029) where no case restarts: after daemonopts' graceful restart
    (DMN-008) the releases answer its groups 503 for a while."""
    probe = "%s/probe.wsgi" % ctx.apps
    return [wc.daemon_process("nice", "threads=1 cpu-priority=5"), wc.daemon_process("unniced", "threads=1"),
            wc.script_alias("/nice", probe, process_group="nice"),
            wc.script_alias("/unniced", probe, process_group="unniced")]


@site("groups")
def groups_site(ctx):
    return [line for part in (_identity, _sockets, _rproc, _prio, _routing, _traced, _processes)
            for line in part(ctx)]


@site("socket-timeout")
def socket_timeout(ctx):
    """socket-timeout=2 under Apache's Timeout 12 (DMN-018, DMN-024): which of them ends a stalled
    read is plain, and Timeout bounds how long a module that waits for Apache's instead holds the
    case; the group's one thread is what DMN-024 keeps busy."""
    return ["Timeout 12", wc.daemon_process("sk-timeout", "threads=1 socket-timeout=2"),
            wc.script_alias("/timeout", "%s/sockets.wsgi" % ctx.apps, process_group="sk-timeout"),
            wc.script_alias("/probe", "%s/probe.wsgi" % ctx.apps, process_group="sk-timeout")]


@site("atexit")
def atexit_site(ctx):
    """Daemon groups (three processes in all) that preload an app registering an atexit
    callback (DMN-019); display-name tells their processes apart."""
    app = "%s/atexit.wsgi" % ctx.apps
    lines = []
    for name, opts in (("one", "processes=1"), ("two", "processes=2")):
        group = "ax-" + name
        lines += [wc.daemon_process(group, opts, "threads=1", ("display-name", GROUP)),
                  wc.import_script(app, process_group=group, application_group=GLOBAL),
                  wc.script_alias("/" + name, app, process_group=group, application_group=GLOBAL)]
    return lines


@site("onebad")
def onebad(ctx):
    """A two-process group of which one process serves and the other dies in every start-up
    (flock_exit.wsgi, preloaded): DMN-026."""
    app = "%s/flock_exit.wsgi" % ctx.apps
    return [wc.daemon_process("onebad", "processes=2 threads=2"),
            wc.import_script(app, process_group="onebad", application_group=GLOBAL),
            wc.script_alias("/onebad", app, process_group="onebad", application_group=GLOBAL)]


@site("rogue")
def rogue(ctx):
    """One single-threaded daemon whose app misbehaves on its own connection to the Apache
    child (DMN-020..022) or passes a large file (DMN-023); /probe tells whether it serves on."""
    return [wc.daemon_process("roguegroup", "processes=1 threads=1"),
            wc.script_alias("/rogue", "%s/rogue.wsgi" % ctx.apps, process_group="roguegroup"),
            wc.script_alias("/probe", "%s/probe.wsgi" % ctx.apps, process_group="roguegroup")]


# The preload-aliases site's scripts (copies of load_marker.wsgi), each of which records its
# import in run/: alias name -> (directive line format, whether the releases load it when its
# daemon starts).  Only a WSGIScriptAlias(Match) giving both process-group= and a literal
# application-group= (%{GLOBAL} included: the main interpreter), whose target has no $N
# substitution, is loaded at daemon start (observed: 6.1.1, 5.0.2, 4.9.4).
PRELOAD_ALIASES = (
    ("mk_none", "WSGIScriptAlias /mk_none {apps}/mk_none.wsgi", False),
    ("mk_pg", "WSGIScriptAlias /mk_pg {apps}/mk_pg.wsgi process-group=pa-one", False),
    ("mk_ag", "WSGIScriptAlias /mk_ag {apps}/mk_ag.wsgi application-group=pa-app", False),
    ("mk_global", "WSGIScriptAlias /mk_global {apps}/mk_global.wsgi process-group=pa-one "
                  "application-group=%{{GLOBAL}}", True),
    ("mk_subst", "WSGIScriptAliasMatch ^/m/(mk_subst) {apps}/$1.wsgi process-group=pa-one "
                 "application-group=pa-app", False),
    ("mk_two", "WSGIScriptAlias /mk_two {apps}/mk_two.wsgi process-group=pa-two application-group=pa-app",
     True),
    ("mk_fixed", "WSGIScriptAliasMatch ^/mk_fixed {apps}/mk_fixed.wsgi process-group=pa-one "
                 "application-group=pa-app", True),
    ("mk_both", "WSGIScriptAlias /mk_both {apps}/mk_both.wsgi process-group=pa-one application-group=pa-app",
     True),
)


def preload_aliases(profile):
    """PRELOAD_ALIASES but the WSGIScriptAliasMatch lines where the profile's WSGIScriptAliasMatch
    takes no group options (3.4; case DIR-021's expectation says so)."""
    try:
        groups = profile.data["expect"]["DIR-021"]["match_takes_groups"]
    except KeyError:
        raise KeyError("profile %s has no expect DIR-021.match_takes_groups" % profile.name)
    return [x for x in PRELOAD_ALIASES if groups or not x[1].startswith("WSGIScriptAliasMatch")]


@site("preload-aliases")
def preload_aliases_site(ctx):
    """Two daemon groups and the aliases of PRELOAD_ALIASES (DIR-021); those naming no
    process group are delegated to pa-one by WSGIProcessGroup."""
    a = ctx.apps
    lines = [wc.daemon_process("pa-one", "threads=2"), wc.daemon_process("pa-two", "threads=1"),
             wc.process_group("pa-one")]
    for name, line, _ in preload_aliases(ctx.env.profile):
        shutil.copy(str(a / "load_marker.wsgi"), str(a / (name + ".wsgi")))
        lines.append(line.format(apps=a))
    # A file named as the $1 target is spelled: a target with a substitution is never loaded
    # at start, whether or not a file of that literal name exists.
    shutil.copy(str(a / "load_marker.wsgi"), str(a / "$1.wsgi"))
    return lines
