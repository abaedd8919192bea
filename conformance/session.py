"""The session's fixed facts: which target, Apache install, profile and server Python.

`resolve_setup` does the slow part once (it may build a module) and returns a `Setup`,
whose dict travels to xdist workers (`to_dict`/`from_dict`) and whose facts go into the
journal; `Env.from_setup` turns it back into objects wherever a server is to be started
(plugin, observe, reliability).
"""

from dataclasses import asdict, dataclass
from typing import Optional

from . import journal
from . import targets as targets_mod
from .profiles import Profile
from gateway import httpd


@dataclass
class Setup:
    """What resolving a target found: the module (Target.as_dict()), the Apache's apxs,
    the server Python (path, X.Y.Z, prefix) and the profile to run under."""
    target: dict
    apxs: str
    server_python: str
    python_version: str
    profile: str
    python_prefix: Optional[str] = None

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**d) if not isinstance(d, cls) else d

    @classmethod
    def of(cls, target, apxs, server_python, profile=None):
        """The setup of a resolved target run with `server_python` (asks that Python)."""
        info = targets_mod.python_info(server_python)
        return cls(target=target.as_dict(), apxs=apxs, server_python=server_python,
                   python_version=info["version"], python_prefix=info["prefix"],
                   profile=profile or target.default_profile)

    def journal_target(self):
        return journal.Target.from_setup(self.target, profile=self.profile)

    def journal_python(self):
        return journal.ServerPython(path=self.server_python, version=self.python_version)


class Env:
    """target, Apache install, profile, server Python, MPM and mode of one session."""

    def __init__(self, target, install, profile, server_python, python_version, mpm, mode,
                 python_prefix=None):
        self.target = target
        self.python_prefix = python_prefix
        self.install = install
        self.profile = profile
        self.server_python = server_python
        self.python_version = tuple(int(x) for x in python_version.split("."))
        self.mpm = mpm
        self.mode = mode

    @classmethod
    def from_setup(cls, setup, mpm="event", mode="both"):
        """From a Setup (or its dict, as xdist workers receive it)."""
        setup = Setup.from_dict(setup)
        t = setup.target
        # every field Target.as_dict() wrote, the version back to a tuple
        target = targets_mod.Target(**dict(t, version=tuple(int(x) for x in t["version"].split("."))))
        return cls(target, httpd.ApacheInstall.from_apxs(setup.apxs), Profile(setup.profile),
                   setup.server_python, setup.python_version, mpm, mode, setup.python_prefix)

    @property
    def label(self):
        """'mod_wsgi 6.1.1' / 'gateway 0.1.0': how known deviations name a target."""
        name = "gateway" if self.target.kind == "gateway" else "mod_wsgi"
        return "%s %s" % (name, ".".join(str(v) for v in self.target.version))

    @property
    def py3(self):
        return self.python_version[0] >= 3


def resolve_setup(target_name, server_python=None, apxs="apxs", mod_wsgi_version=None,
                  profile=None):
    """Resolve (and build, cached) the target: a Setup; raise TargetError/HttpdError naming
    the problem."""
    if not target_name:
        raise targets_mod.TargetError("--target is required")
    install = httpd.ApacheInstall.from_apxs(apxs)
    server_python = targets_mod.find_python(server_python)
    target = targets_mod.resolve(target_name, server_python, install.apxs, mod_wsgi_version)
    server_python = server_python or targets_mod.python_for_libpython(target.libpython)
    if not server_python:
        raise targets_mod.TargetError("cannot tell which Python %s embeds; pass --server-python"
                                      % target.module)
    return Setup.of(target, install.apxs, server_python, profile)
