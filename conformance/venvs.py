"""Python environments for the python-home sites: a virtual environment of the server Python
(for 2.7 made by a legacy virtualenv kept in the cache), and another Python's for a home
that cannot work.  A server Python that cannot have one raises Unsupported."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from gateway import host

from .targets import TargetError, find_python


LEGACY_VIRTUALENV = "20.21.1"  # the last virtualenv that still creates Python 2.7 environments


def _legacy_virtualenv():
    """A command running virtualenv 20.21 from its own directory in the cache.

    It is kept apart from the harness's site-packages because tox 4 needs a newer
    virtualenv there; PYTHONPATH puts this copy first only for this one command."""
    import fcntl
    home = host.cache_root() / "tools" / ("virtualenv-" + LEGACY_VIRTUALENV)
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


class Unsupported(Exception):
    """The server Python cannot have this site at all (the message names what it lacks)."""


def make_venv(server_python, dest):
    """A virtual environment of the server Python with a marker package only it has.

    Returns (venv_root, site_packages) or raises RuntimeError naming what is missing."""
    dest = Path(dest)
    out = subprocess.run([server_python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         stdout=subprocess.PIPE, universal_newlines=True)
    version = tuple(int(x) for x in out.stdout.strip().split("."))
    if version < (3,):
        # Python 2 has no venv module: virtualenv makes the env, from the harness's Python.
        cmd = _legacy_virtualenv() + ["-p", server_python, "--no-pip", "--no-setuptools",
                                      "--no-wheel", "--no-periodic-update", str(dest)]
    elif version < (3, 3):
        raise Unsupported("Python %d.%d has no venv module (3.3 added it) and no virtualenv on the "
                     "registries makes one for it" % version)
    else:   # 3.3's venv installs no pip and has no --without-pip
        cmd = [server_python, "-m", "venv"] + (["--without-pip"] if version >= (3, 4) else []) + [str(dest)]
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


def other_python(version):
    """A Python of another X.Y than `version`, for a python-home that cannot work."""
    for candidate in ("3.12", "3.11", "3.13", "3.10"):
        if candidate != "%d.%d" % tuple(version[:2]):
            try:
                return find_python(candidate)
            except TargetError:
                continue
    raise RuntimeError("no second Python version found to build a mismatched venv from")
