"""Reviewed mutants no test can kill, in equivalent.json: an `equivalent` one changes nothing
observable, an `unreachable` one changes code that runs only when memory runs out or the
like.  A sampled mutant matching an entry is neither built nor run: it is listed with the
reviewer's reason and left out of the adjusted score (the raw score still counts it).

An entry names its site by content, so edits elsewhere do not move it: the file, the mutated
line's text stripped (`line_text`), the family, the original and the replacement (whitespace
runs compared as one space), and where that line recurs `before`, the stripped non-blank
lines just above it (nearest last); where the same change fits twice on the line (two `||`),
`occurrence`, which of them counted from the left (1 is the first).  Each entry must match exactly one site of the sources
judged: none means the code changed under it (stale: review it again), several that it needs
`before`; either stops the tool at start.
"""

import json
from pathlib import Path

from . import mutants as M

FILE = Path(__file__).with_name("equivalent.json")
KINDS = ("equivalent", "unreachable")
REQUIRED = ("file", "line_text", "family", "original", "replacement", "kind", "why")


class EntryError(ValueError):
    """An entry of equivalent.json that is malformed, stale or ambiguous."""


def _norm(s):
    return " ".join(s.split())


def matches(entry, site, lines):
    """Whether `entry` names `site`; `lines` is the site's file split at newlines."""
    if (site.file, site.family, _norm(site.original), _norm(site.replacement)) != (
            entry["file"], entry["family"], _norm(entry["original"]), _norm(entry["replacement"])):
        return False
    if lines[site.line - 1].strip() != entry["line_text"]:
        return False
    before = entry.get("before", [])
    above = [l.strip() for l in lines[:site.line - 1] if l.strip()][-len(before):] if before else []
    return above == before


def _occurrence(site, sites):
    """Which of the same change on the same line `site` is, counted from the left (1-based)."""
    return 1 + sum(1 for s in sites if (s.line, s.family, s.original, s.replacement) == (
        site.line, site.family, site.original, site.replacement) and s.column < site.column)


def load(src, path=FILE):
    """{Mutant: entry} of the entries in `path` against the C files in `src`; raises EntryError
    for a malformed, stale, ambiguous or repeated entry."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text())["mutants"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EntryError("%s: cannot read the entries: %s" % (path, e))
    files, found = {}, {}
    for n, e in enumerate(entries, 1):
        where = "%s entry %d" % (path.name, n)
        bad = [k for k in REQUIRED if not isinstance(e.get(k), str) or not e[k].strip()]
        occ = e.get("occurrence", 1)
        if (bad or e["kind"] not in KINDS or not isinstance(e.get("before", []), list)
                or not isinstance(occ, int) or isinstance(occ, bool) or occ < 1):
            raise EntryError("%s: needs %s, kind one of %s, `before` a list, `occurrence` a "
                             "number from 1" % (where, ", ".join(REQUIRED), "/".join(KINDS)))
        where += " (%s: `%s`, %s `%s` -> `%s`)" % (e["file"], e["line_text"], e["family"],
                                                   e["original"], e["replacement"])
        if e["file"] not in files:
            p = Path(src) / e["file"]
            text = p.read_text() if p.is_file() else ""
            files[e["file"]] = (text.split("\n"), M.sites(p.name, text) if text else [])
        lines, sites = files[e["file"]]
        hits = [s for s in sites if matches(e, s, lines)]
        if "occurrence" in e:
            hits = [s for s in hits if _occurrence(s, sites) == occ]
        if not hits:
            raise EntryError("%s: stale, no such mutation site in the current sources: review the "
                             "code again, then update or remove the entry" % where)
        if len(hits) > 1:
            raise EntryError("%s: ambiguous, matches %s: add `before` lines" % (
                where, " ".join(s.id for s in hits)))
        if hits[0] in found:
            raise EntryError("%s: the same site as an earlier entry" % where)
        found[hits[0]] = e
    return found
