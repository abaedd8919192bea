"""Discovery: which Apache builds, MPMs, server Pythons and targets exist here, and the
cells they make.  What is declared but missing stays in the matrix as an unavailable
cell naming what is missing; nothing is dropped silently.

Apache builds: the system one (apxs on PATH), the installs the user gives (--apxs, then
MATRIX_APACHES), the ones `python -m matrix build-httpd` put in the cache
(matrix.httpd_builds), 2.4.12/2.4.69 when not built yet, and 2.2 (first one wins per version,
in that order).  Pythons: every interpreter with a shared libpython given with --python or
in MATRIX_PYTHONS, under pyenv's versions, or on PATH (first one wins per X.Y, in that
order); 2.7 and 3.2-3.13 are declared.  Each axis value's `source` says where it came from.
MATRIX_APACHES holds apxs paths and MATRIX_PYTHONS interpreters, separated by spaces or
colons; a given one that cannot be used is an error naming it, never skipped.
Targets: mod_gateway and the newest real mod_wsgi from PyPI that builds for each Python
(6.1.1 for 3.10+, 5.0.2 for 3.8/3.9, 4.9.4 before); Debian's packaged
mod_wsgi only with its own Python and the Debian Apache.
"""

import glob
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, asdict
from pathlib import Path
from typing import Optional

from conformance import MODES
from conformance import targets as targets_mod
from gateway import host, httpd

from . import httpd_builds
from .cells import Cell

MPMS = ("prefork", "worker", "event")
DECLARED_PYTHONS = ("2.7",) + tuple("3.%d" % m for m in range(2, 14))
# Declared Apache builds nobody can obtain on this machine, and why.
UNOBTAINABLE_APACHES = {"2.2": "Apache 2.2 is not obtainable here"}
DEBIAN_APXS = "/usr/bin/apxs"
APACHES_ENV, PYTHONS_ENV = "MATRIX_APACHES", "MATRIX_PYTHONS"


class AxisError(Exception):
    """An Apache install or Python the user gave cannot be used; the message names it."""


def given(values, option, env_name):
    """(path, source) for each value of `option`, then each path listed in `env_name`."""
    listed = [v for v in re.split(r"[\s%s]+" % re.escape(os.pathsep), os.environ.get(env_name, "")) if v]
    return [(v, option) for v in values] + [(v, env_name) for v in listed]


@dataclass
class ApacheBuild:
    version: str
    source: str                      # system | --apxs | MATRIX_APACHES | built | to-build | declared
    apxs: Optional[str] = None
    httpd: Optional[str] = None
    mpms: tuple = ()
    unavailable: Optional[str] = None
    shadowed: list = field(default_factory=list)   # other installs of the same version
    # 2.2 compiles one MPM into each build: {mpm: apxs} of the builds of this version
    # (empty where one install loads every MPM, as 2.4's do).
    mpm_apxs: dict = field(default_factory=dict)

    def apxs_for(self, mpm):
        return self.mpm_apxs.get(mpm, self.apxs)

    @property
    def is_debian(self):
        return self.apxs is not None and os.path.realpath(self.apxs) == os.path.realpath(DEBIAN_APXS)


@dataclass
class ServerPython:
    version: str                     # X.Y
    source: str                      # --python | MATRIX_PYTHONS | pyenv | PATH | debian | declared
    path: Optional[str] = None
    full_version: Optional[str] = None
    libpython: Optional[str] = None
    unavailable: Optional[str] = None
    shadowed: list = field(default_factory=list)   # other interpreters of the same X.Y


@dataclass
class Axes:
    apaches: list
    pythons: list
    cells: list

    def as_dict(self):
        return {"apache": [asdict(a) for a in self.apaches],
                "python": [asdict(p) for p in self.pythons],
                "mpm": list(MPMS), "mode": list(MODES),
                "target": sorted({c.target for c in self.cells})}


# -- Apache ---------------------------------------------------------------------------

def _build(inst, source, unavailable=None):
    return ApacheBuild(inst.version_string, source, apxs=inst.apxs, httpd=inst.httpd,
                       mpms=tuple(inst.mpms), unavailable=unavailable,
                       mpm_apxs={inst.static_mpm: inst.apxs} if inst.static_mpm else {})


def _install(apxs, version, source):
    try:
        return _build(httpd.ApacheInstall.from_apxs(str(apxs)), source)
    except httpd.HttpdError as e:
        return ApacheBuild(version, source, apxs=str(apxs), unavailable=str(e))


def _given_install(apxs, source):
    """An install the user gave: one that cannot be used is an error, not an unavailable axis value."""
    try:
        inst = httpd.ApacheInstall.from_apxs(str(apxs))
    except httpd.HttpdError as e:
        raise AxisError("%s %s: %s" % (source, apxs, e))
    return _build(inst, source)


def _add_first(found, build):
    """Keep `build` unless an install of its version is there already (it is shadowed);
    builds of one version with different compiled-in MPMs (2.2) make one axis value."""
    for have in found:
        if have.version == build.version and have.mpm_apxs and build.mpm_apxs and not (
                set(have.mpm_apxs) & set(build.mpm_apxs)) and not (have.unavailable or build.unavailable):
            have.mpm_apxs.update(build.mpm_apxs)
            have.mpms = tuple(m for m in MPMS if m in have.mpm_apxs)
            return
        if have.version == build.version:
            if build.apxs and os.path.realpath(build.apxs) != os.path.realpath(have.apxs or ""):
                have.shadowed.append(build.apxs)
            return
    found.append(build)


def discover_apaches(assume_built=False, extra=()):
    """Apache builds; `extra`, (apxs, source) pairs the user gave (see given()); `assume_built`
    counts the buildable ones not built yet as present (a CI list job plans cells that the
    jobs themselves build Apache for)."""
    found = []
    system = httpd._which("apxs") or httpd._which("apxs2")
    if system:
        found.append(_install(system, "system", "system"))
    for apxs, source in extra:
        _add_first(found, _given_install(apxs, source))
    built = httpd_builds.cached_builds()
    for version, prefix in sorted(built.items()):
        _add_first(found, _install(prefix / "bin" / "apxs", version, "built"))
    have = {a.version for a in found}
    for version in sorted(httpd_builds.KNOWN):
        if version in have:
            continue
        if assume_built:
            prefix = httpd_builds.prefix_for(version)
            found.append(ApacheBuild(version, "to-build", apxs=str(prefix / "bin" / "apxs"),
                                     httpd=str(prefix / "bin" / "httpd"), mpms=MPMS))
        else:
            found.append(ApacheBuild(version, "declared", unavailable=(
                "not built (run python -m matrix build-httpd %s)" % version)))
    for version, why in sorted(UNOBTAINABLE_APACHES.items()):
        if not any(h == version or h.startswith(version + ".") for h in have):
            found.append(ApacheBuild(version, "declared", unavailable=why))
    return found


# -- Python ---------------------------------------------------------------------------

def candidate_pythons(extra=()):
    """(path, source) in order of preference, `extra` (path, source) pairs first; pyenv shims
    are skipped (they only redirect)."""
    out = list(extra)
    out += [(p, "pyenv") for root in host.pyenv_roots()
            for p in sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python")))]
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or "shims" in Path(d).parts:
            continue
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        out += [(os.path.join(d, n), "PATH") for n in names if re.match(r"^python\d(\.\d+)?$", n)]
    seen, unique = set(), []
    for path, source in out:
        real = os.path.realpath(path)
        if real not in seen and os.access(path, os.X_OK):
            seen.add(real)
            unique.append((path, source))
    return unique


def probe_python(path):
    """host.python_info of `path`, or None for an interpreter that cannot say."""
    try:
        return host.python_info(path)
    except host.HostError:
        return None


def discover_pythons(extra=()):
    """Server Pythons; `extra`: paths given with --python, or (path, source) pairs (given())."""
    extra = [e if isinstance(e, tuple) else (e, "--python") for e in extra]
    for path, source in extra:
        if not os.access(path, os.X_OK):
            raise AxisError("%s %s: no such interpreter (not an executable file)" % (source, path))
    candidates = candidate_pythons(extra)
    with ThreadPoolExecutor(8) as pool:
        infos = list(pool.map(probe_python, [p for p, _ in candidates]))
    by_version = {}
    for (path, source), info in zip(candidates, infos):
        if not info:
            if (path, source) in extra:
                raise AxisError("%s %s: cannot tell its version (it does not run as a Python)" % (source, path))
            continue
        xy = ".".join(info["version"].split(".")[:2])
        if xy in by_version:
            by_version[xy].shadowed.append(path)
            continue
        missing = None if info["shared"] and info["libpython"] else (
            "Python %s at %s has no shared libpython (build it with --enable-shared)" % (xy, path))
        by_version[xy] = ServerPython(xy, source, path=path, full_version=info["version"],
                                      libpython=info["libpython"], unavailable=missing)
    for xy in DECLARED_PYTHONS:
        if xy not in by_version:
            by_version[xy] = ServerPython(xy, "declared", unavailable=(
                "Python %s not found (looked on PATH, under %s; add one with --python)"
                % (xy, ", ".join(os.path.join(r, "versions") for r in host.pyenv_roots()))))
    return sorted(by_version.values(), key=lambda p: tuple(int(x) for x in p.version.split(".")))


# -- targets and cells ----------------------------------------------------------------

mod_wsgi_version_for = targets_mod.mod_wsgi_version_for


def profile_for_mod_wsgi(version):
    """The behaviour profile the conformance suite gives this mod_wsgi release."""
    return targets_mod.Target("mod_wsgi", "mod_wsgi", "", "", tuple(int(x) for x in version.split(".")),
                              "").default_profile


def _why(*things):
    return "; ".join(t for t in things if t) or None


def _cells_for(apache, python, targets):
    out = []
    for mpm in MPMS:
        no_mpm = None if apache.unavailable or mpm in apache.mpms else (
            "Apache %s has no mod_mpm_%s" % (apache.version, mpm) if not apache.mpm_apxs else
            "no build of Apache %s with the %s MPM compiled in was given (have: %s)"
            % (apache.version, mpm, ", ".join(apache.mpms)))
        for mode in MODES:
            for target, mod_wsgi_version, profile, missing in targets:
                out.append(Cell(apache.version, python.version, mpm, mode, target,
                                apxs=apache.apxs_for(mpm), python_path=python.path,
                                python_version=python.full_version,
                                mod_wsgi_version=mod_wsgi_version, profile=profile,
                                unavailable=_why(apache.unavailable, no_mpm, python.unavailable, missing)))
    return out


def debian_python():
    """Debian's mod_wsgi and the Python it embeds, or (None, why-not)."""
    module = targets_mod.DEBIAN_MODULE
    if not os.path.exists(module):
        return None, "Debian's mod_wsgi is not installed (apt-get install libapache2-mod-wsgi-py3)"
    path = targets_mod.python_for_libpython(targets_mod.linked_libpython(module))
    info = probe_python(path) if path else None
    if not info:
        return None, "cannot find the Python that %s embeds" % module
    version = ".".join(str(v) for v in targets_mod.module_facts(module)[2])
    xy = ".".join(info["version"].split(".")[:2])
    return ServerPython(xy, "debian", path=path, full_version=info["version"],
                        libpython=info["libpython"]), version


def make_cells(apaches, pythons):
    cells = []
    for apache in apaches:
        for python in pythons:
            mw = mod_wsgi_version_for(python.version, apache.version)
            profile = profile_for_mod_wsgi(mw)
            # gateway runs under the profile of the mod_wsgi it is compared with.
            cells += _cells_for(apache, python, [
                ("gateway", None, profile, None),
                ("mod_wsgi", mw, profile, targets_mod.no_mod_wsgi_for(python.version, apache.version))])
        if apache.is_debian:
            py, version = debian_python()
            if py is None:
                any_py = ServerPython("3", "declared")
                cells += _cells_for(apache, any_py, [("mod_wsgi-debian", None, None, version)])
            else:
                cells += _cells_for(apache, py, [("mod_wsgi-debian", version,
                                                  profile_for_mod_wsgi(version), None)])
    return sorted(cells, key=lambda c: c.sort_key)


def discover(extra_pythons=(), assume_built=False, extra_apxs=()):
    """The axes and cells: `extra_pythons` / `extra_apxs` are what --python / --apxs gave;
    MATRIX_PYTHONS and MATRIX_APACHES add theirs after them."""
    apaches = discover_apaches(assume_built, given(extra_apxs, "--apxs", APACHES_ENV))
    pythons = discover_pythons(given(extra_pythons, "--python", PYTHONS_ENV))
    return Axes(apaches, pythons, make_cells(apaches, pythons))
