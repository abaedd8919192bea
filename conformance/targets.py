"""Targets: the mod_wsgi-compatible module under test.

A target is a .so plus what the suite must know about it: which symbol it
exports (LoadModule name), which version of mod_wsgi's behaviour it claims,
and which libpython it embeds (the server Python).  Names resolve to modules:

  gateway          mod_gateway built from this repo for the server Python
  mod_wsgi         the real mod_wsgi built from PyPI for the server Python, cached
  mod_wsgi-debian  Debian's libapache2-mod-wsgi-py3
  /path/to/x.so    any mod_wsgi-compatible module
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, asdict
from pathlib import Path

from gateway import host, httpd

DEBIAN_MODULE = "/usr/lib/apache2/modules/mod_wsgi.so"
MOD_WSGI_DEFAULT = "6.1.1"
MOD_WSGI_LEGACY = "4.9.4"  # the last release that builds for Python 2.7 and < 3.8
# The newest mod_wsgi each Python can build: (first Python it admits, release), from the
# sdists' Requires-Python (6.1.1: >=3.10, 5.0.2: >=3.8); older Pythons get the legacy one.
# An Apache older than 2.4.13 gets the newest release before 6.x (see mod_wsgi_version_for).
MOD_WSGI_RELEASES = (((3, 10), MOD_WSGI_DEFAULT), ((3, 8), "5.0.2"), ((0, 0), MOD_WSGI_LEGACY))


# 6.x reads core_dir_config fields (cgi_pass_auth, ...) that Apache added in 2.4.13.
MOD_WSGI_6_MIN_APACHE = (2, 4, 13)


def _version_tuple(v):
    return tuple(int(x) for x in v.split(".")) if isinstance(v, str) else tuple(v)


# Apache 2.2: 4.7.1 is the newest release that builds and loads there (4.9.x does not).
MOD_WSGI_APACHE_22 = "4.7.1"


def no_mod_wsgi_for(python_xy, apache_version):
    """Why no PyPI release of mod_wsgi can be the reference for this Python and Apache, or
    None (observed on this image: Apache 2.2.34, Python 3.2.6)."""
    xy = _version_tuple(python_xy)[:2]
    if (3, 0) <= xy < (3, 3):
        return ("no mod_wsgi release on PyPI loads with Python %d.%d (4.x calls 3.3's "
                "PyUnicode_AsUTF8; 3.x is not on PyPI)" % xy)
    if apache_version and _version_tuple(apache_version) < (2, 4) and xy >= (3, 10):
        return ("mod_wsgi %s, the newest release that builds for Apache 2.2, does not build for "
                "Python %d.%d (it includes node.h, gone from 3.10)" % ((MOD_WSGI_APACHE_22,) + xy))
    return None


def mod_wsgi_version_for(python_xy, apache_version=None):
    """The newest mod_wsgi release that builds for Python 'X.Y' and Apache 'X.Y.Z' (for
    one where none works, see no_mod_wsgi_for: the release whose profile applies)."""
    xy = _version_tuple(python_xy)[:2]
    if apache_version and _version_tuple(apache_version) < (2, 4):
        return MOD_WSGI_APACHE_22
    release = next(release for first, release in MOD_WSGI_RELEASES if xy >= first)
    if apache_version and release.startswith("6.") and _version_tuple(apache_version) < MOD_WSGI_6_MIN_APACHE:
        release = next(r for first, r in MOD_WSGI_RELEASES if not r.startswith("6.") and xy >= first)
    return release


class TargetError(Exception):
    """The target cannot be found or built; the message names what is missing."""


@dataclass
class Target:
    name: str
    kind: str            # gateway | mod_wsgi | mod_wsgi-debian | module
    module: str
    symbol: str          # e.g. wsgi_module, gateway_module
    version: tuple
    libpython: str
    build_s: float = 0.0
    # A libpython the module needs that the dynamic loader cannot find (a module built
    # without an rpath, as mod_wsgi's configure build is): loaded first with LoadFile.
    load_file: str = ""

    @property
    def default_profile(self):
        if self.kind == "gateway":
            return "5"
        if self.version[:2] == (3, 4) or self.version[0] < 4:
            return "3.4"
        return "6" if self.version[0] >= 6 else "5"

    def load_lines(self):
        """The config lines that load the module."""
        return ((['LoadFile "%s"' % self.load_file] if self.load_file else [])
                + ["LoadModule %s %s" % (self.symbol, self.module)])

    def as_dict(self):
        d = asdict(self)
        d["version"] = ".".join(str(v) for v in self.version)
        return d


# The cache root (host.cache_root), the Python finder and the Python probe are gateway.host's;
# here they raise TargetError, as everything of this module does.


def find_python(spec):
    """A server Python from a path, or a version ('3.11', 'py3.11', '2.7.18') found under
    pyenv's versions or on PATH."""
    try:
        return host.find_python(spec)
    except host.HostError as e:
        raise TargetError(str(e)) from None


def python_info(python):
    """gateway.host.python_info: version, prefix, executable, libdir, ldlibrary, shared..."""
    try:
        return host.python_info(python)
    except host.HostError as e:
        raise TargetError(str(e)) from None


def _ldd_libpython(module):
    """(soname, path or None when the loader cannot find it) of the libpython `module`
    links, or None for a module that links none."""
    out = subprocess.run(["ldd", module], stdout=subprocess.PIPE, universal_newlines=True)
    m = re.search(r"(libpython\S+)\s+=>\s+(not found|\S+)", out.stdout)
    return (m.group(1), None if m.group(2) == "not found" else m.group(2)) if m else None


def linked_libpython(module):
    found = _ldd_libpython(module)
    return (found[1] or "") if found else ""


def libpython_to_load(module, server_python):
    """The server Python's libpython when `module` names it but the loader cannot find it."""
    found = _ldd_libpython(module)
    if not found or found[1] or not server_python:
        return ""
    lib = Path(python_info(server_python)["libdir"], found[0])
    if not lib.exists():
        raise TargetError("%s links %s, which neither the loader nor %s has"
                          % (module, found[0], server_python))
    return str(lib)


def python_for_libpython(libpython):
    """The interpreter that goes with a libpython path (for modules given by path)."""
    if not libpython:
        return None
    m = re.search(r"libpython(\d+\.\d+)", libpython)
    lib = Path(libpython)
    candidates = [lib.parent.parent / "bin" / ("python" + m.group(1))] if m else []
    if m:
        candidates.append(Path("/usr/bin/python" + m.group(1)))
    for c in candidates:
        if c.exists():
            return str(c)
    return None


def module_facts(module):
    """(symbol, kind, version) read from the binary itself."""
    data = Path(module).read_bytes()
    if b"gateway_module" in data:
        m = re.search(rb"mod_gateway/(\d+)\.(\d+)\.(\d+)", data)
        ver = tuple(int(x) for x in m.groups()) if m else (0, 0, 0)
        return "gateway_module", "gateway", ver
    if b"wsgi_module" in data:
        # mod_wsgi embeds its version string next to the "mod_wsgi/%s" token format.
        # Python's own version strings (3.11.1) live there too: prefer 4.x-6.x, then 3.4/3.5.
        versions = [tuple(int(x) for x in v if x)
                    for v in re.findall(rb"\x00(\d+)\.(\d+)(?:\.(\d+))?\x00", data)]
        for v in versions:
            if 4 <= v[0] <= 6:
                return "wsgi_module", "mod_wsgi", v
        for v in versions:
            if v[:2] in ((3, 4), (3, 5)):
                return "wsgi_module", "mod_wsgi", v
        return "wsgi_module", "mod_wsgi", (0,)
    raise TargetError("%s exports neither wsgi_module nor gateway_module" % module)


def build_mod_wsgi(server_python, apxs, version=None, log=None):
    """The real mod_wsgi from PyPI, built for `server_python` against `apxs`, cached."""
    info = python_info(server_python)
    if version is None:
        version = mod_wsgi_version_for(info["version"], httpd.ApacheInstall.from_apxs(apxs).version)
    key = hashlib.sha256(("%s|%s|%s|%s" % (version, info["executable"], info["version"],
                                           os.path.realpath(apxs))).encode()).hexdigest()[:16]
    dest = host.cache_root() / "mod_wsgi" / ("%s-py%s-%s" % (version, info["version"], key))
    found = list(dest.glob("mod_wsgi/server/mod_wsgi*.so"))
    if found:
        return found[0]
    downloads = host.cache_root() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = _mod_wsgi_sdist(server_python, version, downloads)
    tmp = dest.with_name(dest.name + ".tmp")
    env = dict(os.environ, APXS=str(apxs), PIP_DISABLE_PIP_VERSION_CHECK="1")
    if not _has_pip(server_python):
        _configure_build(sdist, apxs, server_python, tmp / "mod_wsgi" / "server", version)
        return _install_build(tmp, dest, version)
    cmd = [server_python, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
           "--no-index", "--target", str(tmp), str(sdist)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, env=env)
    if out.returncode != 0:
        # Old pips/setuptools lack --no-build-isolation on some Pythons: retry plainly.
        cmd = [server_python, "-m", "pip", "install", "--no-deps", "--target", str(tmp), str(sdist)]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, env=env)
    if out.returncode != 0:
        raise TargetError("building mod_wsgi %s for %s failed:\n%s"
                          % (version, server_python, out.stdout[-4000:]))
    return _install_build(tmp, dest, version)


def _install_build(tmp, dest, version):
    if dest.exists():
        shutil.rmtree(str(dest))
    tmp.rename(dest)
    found = list(dest.glob("mod_wsgi/server/mod_wsgi*.so"))
    if not found:
        raise TargetError("mod_wsgi %s built but no module found under %s" % (version, dest))
    return found[0]


def _has_pip(python):
    return subprocess.run([python, "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def _configure_build(sdist, apxs, server_python, out_dir, version):
    """A Python without pip (3.2, 3.3, a minimal install): the sdist's own apxs build,
    ./configure --with-apxs --with-python and make, as its README gives it."""
    work = Path(tempfile.mkdtemp(prefix="mod_wsgi-configure-"))
    try:
        with tarfile.open(str(sdist)) as tar:
            tar.extractall(str(work), **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        src = next(work.iterdir())
        for cmd in (["./configure", "--with-apxs=%s" % apxs, "--with-python=%s" % server_python], ["make"]):
            out = subprocess.run(cmd, cwd=str(src), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True)
            if out.returncode != 0:
                raise TargetError("building mod_wsgi %s for %s failed (%s; it has no pip, so the "
                                  "sdist's configure build was used):\n%s"
                                  % (version, server_python, " ".join(cmd), out.stdout[-4000:]))
        out_dir.mkdir(parents=True)
        shutil.copy2(str(src / "src" / "server" / ".libs" / "mod_wsgi.so"), str(out_dir / "mod_wsgi.so"))
    finally:
        shutil.rmtree(str(work), ignore_errors=True)


def _mod_wsgi_sdist(server_python, version, downloads):
    existing = sorted(downloads.glob("mod_wsgi-%s.tar.gz" % version))
    if existing:
        return existing[0]
    # Download with the harness Python (a modern pip), the sdist is Python-agnostic.
    out = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                          "mod_wsgi==%s" % version, "-d", str(downloads)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    found = sorted(downloads.glob("mod_wsgi-%s.tar.gz" % version))
    if out.returncode != 0 or not found:
        raise TargetError("cannot download mod_wsgi %s (offline? put mod_wsgi-%s.tar.gz in %s):\n%s"
                          % (version, version, downloads, out.stdout[-2000:]))
    return found[0]


def resolve(name, server_python=None, apxs="apxs", mod_wsgi_version=None):
    """Target for a name or path; builds (cached) what needs building."""
    import time
    t0 = time.monotonic()
    if name == "gateway":
        if not server_python:
            raise TargetError("--target gateway needs --server-python")
        try:
            from gateway.build import build_module
        except ImportError as e:
            raise TargetError("the gateway build tool is not available: %s" % e)
        module = str(build_module(server_python, apxs=apxs))
        kind = "gateway"
    elif name == "mod_wsgi":
        if not server_python:
            raise TargetError("--target mod_wsgi needs --server-python")
        module = str(build_mod_wsgi(server_python, apxs, mod_wsgi_version))
        kind = "mod_wsgi"
    elif name == "mod_wsgi-debian":
        if not os.path.exists(DEBIAN_MODULE):
            raise TargetError("Debian's mod_wsgi is not installed (apt-get install libapache2-mod-wsgi-py3)")
        module = os.path.realpath(DEBIAN_MODULE)
        kind = "mod_wsgi-debian"
    else:
        if not os.path.exists(name):
            raise TargetError("no such target: %r (a .so path, or gateway, mod_wsgi, mod_wsgi-debian)" % name)
        module = os.path.abspath(name)
        kind = None
    symbol, detected_kind, version = module_facts(module)
    return Target(name=name, kind=kind or ("gateway" if detected_kind == "gateway" else "module"),
                  module=module, symbol=symbol, version=version,
                  libpython=linked_libpython(module) or libpython_to_load(module, server_python),
                  load_file=libpython_to_load(module, server_python),
                  build_s=round(time.monotonic() - t0, 3))
