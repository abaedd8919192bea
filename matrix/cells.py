"""A matrix cell: one Apache build x server Python x MPM x mode x target, and its ID.

The ID is `apache<version>/py<X.Y>/<mpm>/<mode>/<target>`, so a glob picks cells
segment by segment with fnmatch (a `*` never crosses a `/`), and a pattern with fewer
segments than an ID is padded with `*` on the right:

    */py2.7/*                       every Python 2.7 cell
    */py3.11/event/*/mod_wsgi*      mod_wsgi and mod_wsgi-debian, py3.11, event MPM
    apache2.4.71                    every cell on Apache 2.4.71
"""

import re
from dataclasses import dataclass, asdict, fields
from fnmatch import fnmatchcase
from typing import Optional

SEGMENTS = ("apache", "python", "mpm", "mode", "target")


@dataclass
class Cell:
    apache: str                         # "2.4.71"
    python: str                         # "3.11"
    mpm: str
    mode: str                           # embedded | daemon
    target: str                         # gateway | mod_wsgi | mod_wsgi-debian
    apxs: Optional[str] = None
    python_path: Optional[str] = None
    python_version: Optional[str] = None  # full version of python_path, e.g. 3.11.7
    mod_wsgi_version: Optional[str] = None
    profile: Optional[str] = None
    unavailable: Optional[str] = None   # what is missing; None when the cell can run

    @property
    def id(self):
        return "apache%s/py%s/%s/%s/%s" % (self.apache, self.python, self.mpm, self.mode, self.target)

    @property
    def group(self):
        """The cell without its target: where gateway and mod_wsgi are compared."""
        return self.id.rsplit("/", 1)[0]

    @property
    def sort_key(self):
        return (_version_key(self.apache), _version_key(self.python), self.mpm, self.mode, self.target)

    def as_dict(self):
        return dict(asdict(self), id=self.id)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def same_definition(self, other):
        """True when a journal made for `other` is still valid for this cell."""
        return self.as_dict() == other.as_dict()


def _version_key(text):
    return tuple(int(x) for x in re.findall(r"\d+", text))


def split_id(cell_id):
    return cell_id.strip("/").split("/")


def matches(cell_id, pattern):
    parts, pats = split_id(cell_id), split_id(pattern)
    if len(pats) > len(parts):
        return False
    pats += ["*"] * (len(parts) - len(pats))
    return all(fnmatchcase(p, q) for p, q in zip(parts, pats))


def select(cells, patterns):
    """Cells whose ID matches any pattern (all cells when there is none), in matrix order."""
    patterns = [p for p in (patterns or []) if p]
    chosen = [c for c in cells if not patterns or any(matches(c.id, p) for p in patterns)]
    return sorted(chosen, key=lambda c: c.sort_key)


def slug(cell_id):
    """A cell ID as an HTML anchor / file name fragment."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", cell_id)
