"""Facts about this machine that every layer asks for, answered in one place.

`cache_root` is where builds and downloads are kept; `pyenv_roots` where pyenv keeps its
Pythons; `find_python` finds a server Python by version; `python_info` asks a Python (2.7 or
3.x) about itself.  Apache installs (the
apxs probe) and processes (the /proc walker) are gateway.httpd's.  This module imports
nothing of the project: everything else may import it.
"""

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path


class HostError(Exception):
    """A fact about the host could not be established; the message says why."""


def cache_root():
    """$MOD_GATEWAY_CACHE, or ~/.cache/mod_gateway when it is unset or empty."""
    return Path(os.environ.get("MOD_GATEWAY_CACHE") or Path.home() / ".cache" / "mod_gateway")


def pyenv_roots():
    """Where pyenv keeps its versions: $PYENV_ROOT when it is set; else what `pyenv root`
    says, ~/.pyenv and root's (a child user reads that one through ci/provision's ACL)."""
    if os.environ.get("PYENV_ROOT"):
        return [os.environ["PYENV_ROOT"]]
    roots = []
    if shutil.which("pyenv"):
        try:
            roots.append(subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        universal_newlines=True, timeout=20).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    roots += [str(Path.home() / ".pyenv"), "/root/.pyenv"]
    out = []
    for r in roots:
        if r and r not in out:
            out.append(r)
    return out


def find_python(spec):
    """A server Python from a path, or a version ('3.11', 'py3.11', '2.7.18') found under
    pyenv's versions or on PATH."""
    if not spec or os.path.sep in spec:
        return spec
    version = spec[2:] if spec.startswith("py") else spec
    for root in pyenv_roots():
        hits = sorted(glob.glob(os.path.join(root, "versions", version + "*", "bin", "python")))
        exact = [h for h in hits if re.search(r"/%s(\.\d+)?/bin" % re.escape(version), h)]
        if exact:
            return exact[-1]
    found = shutil.which("python" + version)
    if found:
        return found
    raise HostError("no Python %s found (looked under pyenv versions and PATH)" % spec)


# Runs on every server Python (2.7 and 3.x; distutils only where sysconfig is missing).
_PY_INFO = r"""
import sys, json
try:
    import sysconfig
    cv = sysconfig.get_config_var
    inc = sysconfig.get_paths().get('include') or cv('INCLUDEPY')
except ImportError:
    from distutils import sysconfig
    cv = sysconfig.get_config_var
    inc = sysconfig.get_python_inc()
import os
ver = '%d.%d' % sys.version_info[:2]
abiflags = getattr(sys, 'abiflags', '') or ''
sonames = [n for n in (cv('INSTSONAME'), cv('LDLIBRARY')) if n and '.so' in n]
libdirs = [d for d in (cv('LIBDIR'), os.path.join(cv('LIBDIR') or '', cv('MULTIARCH') or '')) if d]
found = [os.path.join(d, n) for d in libdirs for n in sonames if os.path.exists(os.path.join(d, n))]
print(json.dumps({
    'executable': sys.executable,
    'version': '%d.%d.%d' % sys.version_info[:3],
    'short': ver,
    'prefix': sys.prefix,
    'base_prefix': getattr(sys, 'real_prefix', getattr(sys, 'base_prefix', sys.prefix)),
    'include': inc,
    'includepy': cv('INCLUDEPY'),
    'libdir': cv('LIBDIR'),
    'ldlibrary': cv('LDLIBRARY'),
    'ldversion': cv('LDVERSION') or (ver + abiflags),
    'libs': (cv('LIBS') or '') + ' ' + (cv('SYSLIBS') or ''),
    'shared': bool(cv('Py_ENABLE_SHARED')),
    'libpython': found[0] if found else '',
}))
"""


def python_info(python):
    """What `python` says about itself: executable, version ('X.Y.Z'), short ('X.Y'),
    prefix, base_prefix (a virtualenv's base interpreter), include, includepy, libdir,
    ldlibrary, ldversion, libs, shared, libpython (the shared library's path, '' if none)."""
    try:
        out = subprocess.run([str(python), "-c", _PY_INFO], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise HostError("cannot run Python %s: %s" % (python, e))
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise HostError("cannot query Python %s:\n%s" % (python, (out.stderr + out.stdout).strip()))
    return json.loads(lines[-1])
