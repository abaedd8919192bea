"""Sites: the Apache configurations cases run against, one fragment builder per name.

A site is rendered per mode: in daemon mode the same mounts are delegated to a
daemon process group.  Cases that share a site (and mode) share one server.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conformance import targets

APPS = Path(__file__).parent / "apps"
SITES = {}


# Error-log lines a site produces by design whenever its server or a daemon of it
# starts, so whichever case runs at that moment may see them: site name -> patterns.
SITE_LOG = {}

# Variables a site's Apache is started with on top of httpd.SCRUBBED_ENV: site name -> dict.
SITE_ENV = {}


def site(name, log=(), env=None):
    def register(fn):
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

    def socket_prefix(self):
        return 'WSGISocketPrefix "%s"' % (self.root / "run" / "wsgi")

    def common(self, python_home=True):
        lines = [self.socket_prefix()]
        # A module linked to a Python outside /usr finds its stdlib only through its home
        # (otherwise it takes /usr/bin/python3's): what every such deployment configures.
        if python_home and self.env.python_prefix and not self.env.python_prefix.startswith("/usr"):
            lines.append('WSGIPythonHome "%s"' % self.env.python_prefix)
        if self.env.target.kind == "gateway":
            lines.insert(0, "WSGICompatibility %s" % self.env.profile.name)
        lines += ['<Directory "%s">' % self.apps, "    Require all granted", "</Directory>"]
        return lines


def render_site(name, ctx):
    if name not in SITES:
        raise KeyError("no site %r" % name)
    return ctx.common(python_home=name not in OWN_PYTHON_HOME) + SITES[name](ctx)


OWN_PYTHON_HOME = {"home"}


def _daemon_group(ctx, name, options="threads=4"):
    return [("WSGIDaemonProcess %s %s" % (name, options)).rstrip(), "WSGIProcessGroup %s" % name]


@site("basic")
def basic(ctx):
    a = ctx.apps
    lines = _daemon_group(ctx, "main", "threads=4 display-name=%{GROUP}") if ctx.daemon else []
    lines += [
        "SetEnv PROBE_SETENV from-setenv",
        "SetEnv PATH /probe-setenv-path",
        "WSGIScriptAlias /probe %s/probe.wsgi" % a,
        "WSGIScriptAlias /errs %s/errors.wsgi" % a,
        "WSGIScriptAlias /nocall %s/no_callable.wsgi" % a,
        "WSGIScriptAlias /imperr %s/import_error.wsgi" % a,
        "WSGIScriptAlias /missing %s/does_not_exist.wsgi" % a,
        "WSGIScriptAlias /dir/ %s/" % a,
    ]
    groups = {"g-global": "%{GLOBAL}", "g-server": "%{SERVER}", "g-resource": "%{RESOURCE}",
              "g-env": "%{ENV:PROBE_GROUP}", "g-sharedA": "shared", "g-sharedB": "shared",
              "g-other": "other", "g-race1": "race1", "g-race2": "race2", "g-race3": "race3"}
    for mount, group in sorted(groups.items()):
        lines += ["WSGIScriptAlias /%s %s/probe.wsgi" % (mount, a),
                  "<Location /%s>" % mount, "    WSGIApplicationGroup %s" % group,
                  "    SetEnv PROBE_GROUP envgroup", "</Location>"]
    return lines


@site("rootmount")
def rootmount(ctx):
    lines = _daemon_group(ctx, "root", "threads=2") if ctx.daemon else []
    return lines + ["WSGIScriptAlias / %s/probe.wsgi" % ctx.apps]


@site("processes")
def processes(ctx):
    return ["WSGIDaemonProcess procs processes=3 threads=1",
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=procs" % ctx.apps]


@site("routing")
def routing(ctx):
    a = ctx.apps
    return ["WSGIDaemonProcess g1 threads=2", "WSGIDaemonProcess g2 threads=2",
            "WSGIScriptAlias /emb %s/probe.wsgi" % a,
            "WSGIScriptAlias /one %s/probe.wsgi" % a,
            "<Location /one>", "    WSGIProcessGroup g1", "</Location>",
            "WSGIScriptAlias /two %s/probe.wsgi process-group=g2" % a,
            "WSGIScriptAlias /unknown %s/probe.wsgi" % a,
            "<Location /unknown>", "    WSGIProcessGroup nosuchgroup", "</Location>"]


@site("restrict")
def restrict(ctx):
    return ["WSGIRestrictEmbedded On", "WSGIDaemonProcess allowed threads=2",
            "WSGIScriptAlias /emb %s/probe.wsgi" % ctx.apps,
            "WSGIScriptAlias /dmn %s/probe.wsgi process-group=allowed" % ctx.apps]


@site("queue")
def queue(ctx):
    return ["WSGIDaemonProcess q processes=1 threads=1",
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=q" % ctx.apps]


@site("queue-timeout")
def queue_timeout(ctx):
    return ["WSGIDaemonProcess qt processes=1 threads=1 queue-timeout=1",
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=qt" % ctx.apps]


@site("dying")
def dying(ctx):
    return ["WSGIDaemonProcess dyinggroup processes=1 threads=1",
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=dyinggroup" % ctx.apps,
            "WSGIScriptAlias /errs %s/errors.wsgi process-group=dyinggroup" % ctx.apps]


@site("identity")
def identity(ctx):
    """Daemon identity: user/group/supplementary-groups exactly as configured, and the defaults."""
    from gateway.httpd import child_user
    user, _ = child_user()
    return ["WSGIDaemonProcess idexplicit threads=1 user=%s group=users "
            "supplementary-groups=adm,nogroup" % user,
            "WSGIScriptAlias /explicit %s/probe.wsgi process-group=idexplicit" % ctx.apps,
            "WSGIDaemonProcess iddefault threads=1",
            "WSGIScriptAlias /default %s/probe.wsgi process-group=iddefault" % ctx.apps]


# preload.wsgi writes one stderr line at import (MODE-016 checks its form).
PRELOAD_LINE = r"\] preload-import-line pid=\d+$"


@site("preload", log=(PRELOAD_LINE,))
def preload(ctx):
    a = ctx.apps
    if ctx.daemon:
        return ["WSGIDaemonProcess pre threads=2",
                "WSGIScriptAlias /preload %s/preload.wsgi process-group=pre application-group=preapp" % a,
                "WSGIScriptAlias /other %s/probe.wsgi process-group=pre application-group=preapp" % a]
    return ["WSGIImportScript %s/preload.wsgi process-group=%%{GLOBAL} application-group=%%{GLOBAL}" % a,
            "WSGIScriptAlias /preload %s/preload.wsgi" % a,
            "<Location /preload>", "    WSGIApplicationGroup %{GLOBAL}", "</Location>"]


# The loc-badlocale group names its unsupported locale at every (re)start (LOC-005); 4.x and
# 5.x log that at error level ("Unsupported locale setting xx_YY.UTF-8 specified for daemon
# process group loc-badlocale"; 6.1.1 and mod_gateway quote both names, at warn level).
@site("locale", log=(r"\] (?:WSGI0079: |mod_(?:wsgi|gateway) \(pid=\d+\): )Unsupported locale "
                     r"setting '?xx_YY\.UTF-8'? specified for daemon process group '?loc-badlocale'?[.;] ",))
def locale_site(ctx):
    a = ctx.apps
    if not ctx.daemon:
        return ["WSGIScriptAlias /plain %s/probe.wsgi" % a]
    groups = {"plain": "", "lang": "lang=en_US.UTF-8", "locale": "locale=de_DE.UTF-8",
              "both": "lang=de_DE.UTF-8 locale=de_DE.UTF-8", "badlocale": "locale=xx_YY.UTF-8"}
    lines = []
    for name, opts in sorted(groups.items()):
        lines += ["WSGIDaemonProcess loc-%s threads=1 %s" % (name, opts),
                  "WSGIScriptAlias /%s %s/probe.wsgi process-group=loc-%s" % (name, a, name)]
    return [l.rstrip() for l in lines]


@site("locale-env", env={"LC_ALL": "C"})
def locale_env_site(ctx):
    """Apache itself started with LC_ALL=C: what a daemon's locale= makes of it (LOC-006)."""
    a = ctx.apps
    return ["WSGIDaemonProcess locenv-plain threads=1",
            "WSGIScriptAlias /plain %s/probe.wsgi process-group=locenv-plain" % a,
            "WSGIDaemonProcess locenv-locale threads=1 locale=de_DE.UTF-8",
            "WSGIScriptAlias /locale %s/probe.wsgi process-group=locenv-locale" % a]


LEGACY_VIRTUALENV = "20.21.1"  # the last virtualenv that still creates Python 2.7 environments


def _legacy_virtualenv():
    """A command running virtualenv 20.21 from its own directory in the cache.

    It is kept apart from the harness's site-packages because tox 4 needs a newer
    virtualenv there; PYTHONPATH puts this copy first only for this one command."""
    import fcntl
    home = targets.cache_dir() / "tools" / ("virtualenv-" + LEGACY_VIRTUALENV)
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(str(home) + ".lock", "w") as lock:   # xdist workers install it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        _install_legacy_virtualenv(home)
    return ["env", "PYTHONPATH=%s" % home, sys.executable, "-m", "virtualenv"]


def _install_legacy_virtualenv(home):
    if not (home / "virtualenv").is_dir():
        tmp = home.with_name(home.name + ".tmp")
        shutil.rmtree(str(tmp), ignore_errors=True)
        got = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "--target", str(tmp), "virtualenv==" + LEGACY_VIRTUALENV],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        if got.returncode != 0:
            raise RuntimeError("cannot install virtualenv %s (needed for Python 2.7 venvs): %s"
                               % (LEGACY_VIRTUALENV, got.stdout.strip()[-500:]))
        shutil.rmtree(str(home), ignore_errors=True)
        tmp.rename(home)


def make_venv(server_python, dest):
    """A virtual environment of the server Python with a marker package only it has.

    Returns (venv_root, site_packages) or raises RuntimeError naming what is missing."""
    dest = Path(dest)
    out = subprocess.run([server_python, "-c", "import sys; print(sys.version_info[0])"],
                         stdout=subprocess.PIPE, universal_newlines=True)
    if out.stdout.strip() == "2":
        # Python 2 has no venv module: virtualenv makes the env, from the harness's Python.
        cmd = _legacy_virtualenv() + ["-p", server_python, "--no-pip", "--no-setuptools",
                                      "--no-wheel", "--no-periodic-update", str(dest)]
    else:
        cmd = [server_python, "-m", "venv", "--without-pip", str(dest)]
    made = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if made.returncode != 0:
        raise RuntimeError("cannot make a virtual environment with %s: %s"
                           % (" ".join(cmd), made.stdout.strip()[-500:]))
    venv_python = dest / "bin" / "python"
    sp = subprocess.run([str(venv_python), "-c",
                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    Path(sp).mkdir(parents=True, exist_ok=True)
    (Path(sp) / "probe_marker.py").write_text("WHERE = 'venv'\n")
    for d, dirs, files in os.walk(str(dest)):
        os.chmod(d, 0o755)
    return dest, sp


@site("home")
def home(ctx):
    venv, _ = make_venv(ctx.env.server_python, ctx.root / "venv")
    pathdir = ctx.root / "extra-path"
    pathdir.mkdir(exist_ok=True)
    (pathdir / "probe_pathmod.py").write_text("WHERE = 'python-path'\n")
    os.chmod(pathdir, 0o755)
    a = ctx.apps
    if ctx.daemon:
        return ["WSGIDaemonProcess venv threads=2 python-home=%s python-path=%s" % (venv, pathdir),
                "WSGIScriptAlias /probe %s/probe.wsgi process-group=venv" % a]
    return ["WSGIPythonHome %s" % venv, "WSGIPythonPath %s" % pathdir,
            "WSGIScriptAlias /probe %s/probe.wsgi" % a]


@site("home-missing")
def home_missing(ctx):
    # A short Timeout bounds how long a module that hangs here can hold the case.
    return ["Timeout 8",
            "WSGIDaemonProcess nohome threads=1 python-home=%s" % (ctx.root / "no-such-venv"),
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=nohome" % ctx.apps]


@site("home-empty")
def home_empty(ctx):
    # A python-home that exists, can be read and has an (empty) lib/pythonX.Y: it passes
    # every check of the path and fails only when Python initialises.
    empty = ctx.root / "empty-home"
    lib = empty / "lib" / ("python%d.%d" % tuple(ctx.env.python_version[:2]))
    lib.mkdir(parents=True, exist_ok=True)
    for d in (empty, empty / "lib", lib):
        d.chmod(0o755)
    return ["Timeout 8",
            "WSGIDaemonProcess emptyhome threads=1 python-home=%s" % empty,
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=emptyhome" % ctx.apps]


@site("home-mismatch")
def home_mismatch(ctx):
    other = other_python(ctx.env.python_version)
    venv, _ = make_venv(other, ctx.root / "other-venv")
    return ["Timeout 8",
            "WSGIDaemonProcess mismatch threads=1 python-home=%s" % venv,
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=mismatch" % ctx.apps]


def other_python(version):
    """A Python of another X.Y than `version`, for a python-home that cannot work."""
    from .targets import find_python, TargetError
    for candidate in ("3.12", "3.11", "3.13", "3.10"):
        if candidate != "%d.%d" % tuple(version[:2]):
            try:
                return find_python(candidate)
            except TargetError:
                continue
    raise RuntimeError("no second Python version found to build a mismatched venv from")


@site("options-star")
def options_star(ctx):
    # A Match alias whose regex also matches the '*' of "OPTIONS *" (not a path).
    lines = _daemon_group(ctx, "star", "threads=2") if ctx.daemon else []
    return lines + ['WSGIScriptAliasMatch "^(/star|\\*)" %s/probe.wsgi' % ctx.apps]


@site("switch-interval")
def switch_interval(ctx):
    # 6.x: WSGISwitchInterval for every process; the group's own switch-interval= too.
    lines = ["WSGISwitchInterval 0.003"]
    if ctx.daemon:
        lines += _daemon_group(ctx, "sw", "threads=2 switch-interval=0.004")
    return lines + ["WSGIScriptAlias /sw %s/probe.wsgi" % ctx.apps]


@site("switch-group")
def switch_group(ctx):
    lines = _daemon_group(ctx, "swg", "threads=2 switch-interval=0.004") if ctx.daemon else []
    return lines + ["WSGIScriptAlias /sw %s/probe.wsgi" % ctx.apps]


@site("none")
def none_site(ctx):
    return []


@site("directives")
def directives(ctx):
    a = ctx.apps
    for name in ("reload_on", "reload_off"):
        shutil.copy(str(a / "reload.wsgi"), str(a / (name + ".wsgi")))
    lines = _daemon_group(ctx, "dirs", "threads=4") if ctx.daemon else []
    return lines + [
        "WSGIScriptAliasMatch ^/match/([^/]+) %s/$1.wsgi" % a,
        "WSGIScriptAlias /callable %s/probe.wsgi" % a,
        "<Location /callable>", "    WSGICallableObject alt_application", "</Location>",
        "WSGIScriptAlias /calloption %s/probe.wsgi callable-object=alt_application" % a,
        "WSGIScriptAlias /reload-on %s/reload_on.wsgi" % a,
        "WSGIScriptAlias /reload-off %s/reload_off.wsgi" % a,
        "WSGIScriptAlias /reload-refs %s/reload_refs.wsgi" % a,
        "<Location /reload-off>", "    WSGIScriptReloading Off", "</Location>",
        "WSGIScriptAlias /auth-on %s/probe.wsgi" % a,
        "<Location /auth-on>", "    WSGIPassAuthorization On", "</Location>",
        "WSGIScriptAlias /auth-off %s/probe.wsgi" % a,
        "WSGIScriptAlias /chunked-on %s/probe.wsgi" % a,
        "<Location /chunked-on>", "    WSGIChunkedRequest On", "</Location>",
        "WSGIScriptAlias /chunked-off %s/probe.wsgi" % a,
    ] + ([] if _profile_lacks_map_head(ctx) else [
        "WSGIScriptAlias /head-get %s/probe.wsgi" % a,
        "<Location /head-get>", "    WSGIMapHEADToGET On", "</Location>",
        "WSGIScriptAlias /head-keep %s/probe.wsgi" % a,
        "<Location /head-keep>", "    WSGIMapHEADToGET Off", "</Location>"])


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
            "WSGIScriptAlias /probe %s/probe.wsgi" % ctx.apps]


@site("daemonopts")
def daemonopts(ctx):
    a = ctx.apps
    home = ctx.root / "daemon-home"
    home.mkdir(exist_ok=True)
    os.chmod(str(home), 0o755)
    groups = {"maxreq": "processes=1 threads=1 maximum-requests=3",
              "idle": "processes=1 threads=1 inactivity-timeout=2",
              "named": "threads=1 display-name=%{GROUP}",
              "ident": "threads=1 umask=0027 home=%s" % home}
    lines = []
    for name, opts in sorted(groups.items()):
        lines += ["WSGIDaemonProcess %s %s" % (name, opts),
                  "WSGIScriptAlias /%s %s/probe.wsgi process-group=%s" % (name, a, name)]
    return lines


@site("bigbody")
def bigbody(ctx):
    lines = _daemon_group(ctx, "big", "threads=2") if ctx.daemon else []
    return lines + ["LimitRequestBody 0", "WSGIScriptAlias /probe %s/probe.wsgi" % ctx.apps]


@site("sockets")
def sockets(ctx):
    """Daemon groups with and without send-/receive-buffer-size= (DMN-017)."""
    a = ctx.apps
    groups = {"plain": "", "sized": "send-buffer-size=40000 receive-buffer-size=50000"}
    lines = []
    for name, opts in sorted(groups.items()):
        lines += [("WSGIDaemonProcess sk-%s threads=1 %s" % (name, opts)).rstrip(),
                  "WSGIScriptAlias /%s %s/sockets.wsgi process-group=sk-%s" % (name, a, name)]
    return lines


@site("socket-timeout")
def socket_timeout(ctx):
    """socket-timeout=2 under Apache's Timeout 12 (DMN-018, DMN-024): which of them ends a stalled
    read is plain, and Timeout bounds how long a module that waits for Apache's instead holds the
    case; the group's one thread is what DMN-024 keeps busy."""
    return ["Timeout 12", "WSGIDaemonProcess sk-timeout threads=1 socket-timeout=2",
            "WSGIScriptAlias /timeout %s/sockets.wsgi process-group=sk-timeout" % ctx.apps,
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=sk-timeout" % ctx.apps]


@site("atexit")
def atexit_site(ctx):
    """Daemon groups (three processes in all) that preload an app registering an atexit
    callback (DMN-019); display-name tells their processes apart."""
    a = ctx.apps
    lines = []
    for name, opts in (("one", "processes=1"), ("two", "processes=2")):
        lines += ["WSGIDaemonProcess ax-%s %s threads=1 display-name=%%{GROUP}" % (name, opts),
                  "WSGIImportScript %s/atexit.wsgi process-group=ax-%s application-group=%%{GLOBAL}" % (a, name),
                  "WSGIScriptAlias /%s %s/atexit.wsgi process-group=ax-%s application-group=%%{GLOBAL}"
                  % (name, a, name)]
    return lines


@site("onebad")
def onebad(ctx):
    """A two-process group of which one process serves and the other dies in every start-up
    (flock_exit.wsgi, preloaded): DMN-026."""
    a = ctx.apps
    return ["WSGIDaemonProcess onebad processes=2 threads=2",
            "WSGIImportScript %s/flock_exit.wsgi process-group=onebad application-group=%%{GLOBAL}" % a,
            "WSGIScriptAlias /onebad %s/flock_exit.wsgi process-group=onebad application-group=%%{GLOBAL}" % a]


@site("rogue")
def rogue(ctx):
    """One single-threaded daemon whose app misbehaves on its own connection to the Apache
    child (DMN-020..022) or passes a large file (DMN-023); /probe tells whether it serves on."""
    return ["WSGIDaemonProcess roguegroup processes=1 threads=1",
            "WSGIScriptAlias /rogue %s/rogue.wsgi process-group=roguegroup" % ctx.apps,
            "WSGIScriptAlias /probe %s/probe.wsgi process-group=roguegroup" % ctx.apps]


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
    lines = ["WSGIDaemonProcess pa-one threads=2", "WSGIDaemonProcess pa-two threads=1",
             "WSGIProcessGroup pa-one"]
    for name, line, _ in preload_aliases(ctx.env.profile):
        shutil.copy(str(a / "load_marker.wsgi"), str(a / (name + ".wsgi")))
        lines.append(line.format(apps=a))
    # A file named as the $1 target is spelled: a target with a substitution is never loaded
    # at start, whether or not a file of that literal name exists.
    shutil.copy(str(a / "load_marker.wsgi"), str(a / "$1.wsgi"))
    return lines


@site("passauth")
def passauth(ctx):
    """pass-authorization= of WSGIScriptAlias (DIR-022), beside WSGIPassAuthorization."""
    a = ctx.apps
    lines = _daemon_group(ctx, "pauth", "threads=2") if ctx.daemon else []
    return lines + [
        "WSGIScriptAlias /opt-on %s/probe.wsgi pass-authorization=On" % a,
        "WSGIScriptAlias /opt-off %s/probe.wsgi pass-authorization=Off" % a,
        "WSGIScriptAlias /opt-none %s/probe.wsgi" % a,
        "WSGIScriptAlias /opt-off-dir-on %s/probe.wsgi pass-authorization=off" % a,
        "<Location /opt-off-dir-on>", "    WSGIPassAuthorization On", "</Location>",
        "WSGIScriptAlias /opt-on-dir-off %s/probe.wsgi pass-authorization=on" % a,
        "<Location /opt-on-dir-off>", "    WSGIPassAuthorization Off", "</Location>",
    ]
