"""The WSGI layer of an Apache config: the one place its directives are spelled.

Every config this project writes for a WSGI module (the conformance and reliability
sites, `python -m gateway serve`, the benchmark, the pytest plugin's apps) renders
its WSGI lines here: the server-wide header (`header`, `common`), daemon groups
(`daemon_process`, `process_group`), mounts (`script_alias`) and the per-request
groups (`application_group`, `callable_object`).  Each function returns one line (a
str) or, where a block is rendered, a list of lines; none writes a file.

Two rules live only here:

* `WSGICompatibility` is mod_gateway's directive: it is written for a target of kind
  "gateway" only (the real mod_wsgi rejects it) -- `compatibility`.
* A Python whose prefix is outside /usr finds its standard library only through its
  home, so the server-wide `WSGIPythonHome` is set for such a prefix and for no other
  -- `python_home_for`.

Arguments are written as they are, or double-quoted when Apache would otherwise read
them differently (`argument`): whitespace, a leading quote, a backslash, or nothing.
The server-wide paths (socket prefix, the header's python home, the <Directory> grant)
are always quoted.  This module imports nothing of this project: every other package
may use it.
"""

GLOBAL = "%{GLOBAL}"        # the application group of the main interpreter
GROUP = "%{GROUP}"          # display-name=: the daemon group's own name
GATEWAY_KIND = "gateway"    # the target kind (conformance.targets.Target.kind) of mod_gateway


# -- arguments ---------------------------------------------------------------------------

def quoted(value):
    """`value` double-quoted as Apache's config reader (ap_getword_conf) undoes it: a
    double quote, and a backslash before a backslash, a quote or the closing quote, are
    escaped; any other backslash stays as it is."""
    s = _text(value)
    out = []
    for i, c in enumerate(s):
        if c == '"':
            out.append('\\"')
        elif c == "\\" and (i + 1 == len(s) or s[i + 1] in '\\"'):
            out.append("\\\\")
        else:
            out.append(c)
    return '"%s"' % "".join(out)


def argument(value):
    """`value` as one directive argument: as it is, or quoted where Apache would split it
    (whitespace), strip it (a leading quote), unescape it (a backslash) or drop it (empty)."""
    s = _text(value)
    if not s or s[0] in "\"'" or "\\" in s or any(c.isspace() for c in s):
        return quoted(s)
    return s


def _text(value):
    s = str(value)
    if "\n" in s or "\r" in s:
        raise ValueError("a config argument cannot hold a line break: %r" % s)
    return s


def directive(name, *args):
    """NAME ARG...: each argument through `argument`; None arguments are left out."""
    return " ".join([name] + [argument(a) for a in args if a is not None])


def _options(items):
    """Option words from `items`: a str is options already spelled (one or several, written
    as they are; empty ones dropped); a (key, value) pair is key=value, quoted as one word
    where needed, and left out when the value is None or empty."""
    words = []
    for item in items:
        if isinstance(item, str):
            if item.strip():
                words.append(item.strip())
            continue
        key, value = item
        if value is None or value == "":
            continue
        words.append(argument("%s=%s" % (key, value)))
    return words


def path_list(paths):
    """A python-path value: directories joined by ':' (a str is taken as it is)."""
    if isinstance(paths, str):
        return paths
    return ":".join(str(p) for p in paths)


# -- the server-wide header ----------------------------------------------------------------

def python_home_for(prefix):
    """The server-wide python home for a Python of this sys.prefix: the prefix itself when it
    is outside /usr (a pyenv or /opt build finds its stdlib only through its home; a module
    without one takes /usr/bin/python3's), else None (a system Python needs none)."""
    if not prefix:
        return None
    prefix = str(prefix)
    return None if prefix == "/usr" or prefix.startswith("/usr/") else prefix


def compatibility(target_kind, profile):
    """[WSGICompatibility PROFILE] for mod_gateway, [] for any other target (the real
    mod_wsgi has no such directive)."""
    if target_kind != GATEWAY_KIND or profile is None:
        return []
    return [directive("WSGICompatibility", profile)]


def socket_prefix(path):
    return "WSGISocketPrefix %s" % quoted(path)


def python_home(path, always_quote=False):
    return "WSGIPythonHome %s" % (quoted(path) if always_quote else argument(path))


def python_path(paths):
    return directive("WSGIPythonPath", path_list(paths))


def access(granted, apache=(2, 4)):
    """Apache's access lines for everyone (granted) or no one: `Require all ...` from 2.4,
    Order/Allow/Deny (mod_authz_host) on 2.2, which has no mod_authz_core."""
    if tuple(apache[:2]) >= (2, 4):
        return ["Require all %s" % ("granted" if granted else "denied")]
    return ["Order allow,deny", "Allow from all"] if granted else ["Order deny,allow", "Deny from all"]


def directory(path, granted, apache=(2, 4), *lines):
    """A <Directory> block: `lines`, then access for everyone (granted) or no one."""
    body = list(lines) + access(granted, apache)
    return ["<Directory %s>" % quoted(path)] + ["    " + l for l in body] + ["</Directory>"]


def directory_grant(path, apache=(2, 4)):
    """The <Directory> block that lets Apache serve the scripts under `path` (`apache`: the
    install's version, which decides how access is spelled)."""
    return directory(path, True, apache)


def header(target_kind, profile, socket_path, python_prefix=None):
    """The server-wide lines: WSGICompatibility (mod_gateway only), WSGISocketPrefix and,
    for a Python prefix outside /usr, WSGIPythonHome (pass python_prefix=None where the
    config sets its own home)."""
    lines = compatibility(target_kind, profile) + [socket_prefix(socket_path)]
    home = python_home_for(python_prefix)
    if home:
        lines.append(python_home(home, always_quote=True))
    return lines


def common(target_kind, profile, socket_path, app_dir, python_prefix=None, apache=(2, 4)):
    """`header` then the <Directory> grant of `app_dir`: what every site starts with."""
    return header(target_kind, profile, socket_path, python_prefix) + directory_grant(app_dir, apache)


# -- daemon groups, mounts and groups --------------------------------------------------------

def daemon_process(name, *options, **named):
    """WSGIDaemonProcess NAME OPTION...  in the order given: positional options are strs
    already spelled ("processes=2 threads=4") or (key, value) pairs; keyword ones follow,
    '_' read as '-' (python_home="/venv" -> python-home=/venv).  None or empty values are
    left out."""
    items = list(options) + [(k.replace("_", "-"), v) for k, v in named.items()]
    return " ".join(["WSGIDaemonProcess", argument(name)] + _options(items))


def process_group(name):
    return directive("WSGIProcessGroup", name)


def application_group(name):
    return directive("WSGIApplicationGroup", name)


def callable_object(name):
    return directive("WSGICallableObject", name)


def _group_options(process_group, application_group, callable_object, pass_authorization):
    return _options([("process-group", process_group), ("application-group", application_group),
                     ("callable-object", callable_object), ("pass-authorization", pass_authorization)])


def script_alias(url, script, process_group=None, application_group=None, callable_object=None,
                 pass_authorization=None):
    """WSGIScriptAlias URL SCRIPT [process-group=] [application-group=] [callable-object=]
    [pass-authorization=], the options in that order and only those given."""
    return " ".join(["WSGIScriptAlias", argument(url), argument(script)]
                    + _group_options(process_group, application_group, callable_object, pass_authorization))


def script_alias_match(regex, script, process_group=None, application_group=None, callable_object=None,
                       pass_authorization=None):
    """WSGIScriptAliasMatch REGEX SCRIPT [options as script_alias]."""
    return " ".join(["WSGIScriptAliasMatch", argument(regex), argument(script)]
                    + _group_options(process_group, application_group, callable_object, pass_authorization))


def import_script(script, process_group=None, application_group=None):
    """WSGIImportScript SCRIPT [process-group=] [application-group=]."""
    return " ".join(["WSGIImportScript", argument(script)]
                    + _group_options(process_group, application_group, None, None))
