"""Expectations as data: one JSON file per behaviour profile (3.4, 5, 6).

Each file holds `environ` (which observations under profiles/observed/ the environ contract
is read from, see environ_contract), `timing` (the timing keys, TIMING_SHAPE), `expect`
(case ID -> expectation, of the shape the case declares with @case(expects=...)),
`not_applicable` (case ID -> reason) and `known_deviations` (target version
prefixes like "mod_wsgi 4.9, mod_wsgi 5" -> {case ID or ID/mode -> reason}): places where a real
module departs from its own documented behaviour, recorded rather than loosened.

`problems()` checks all of it against the catalogue; the plugin refuses to run a session
on a profile with problems, so a missing or mistyped entry fails loudly instead of
letting a case assert less.
"""

import json
from pathlib import Path

HERE = Path(__file__).parent / "profiles"
OBSERVED = HERE / "observed"
# Keys a module other than the real mod_wsgi may add beside the contract: its own namespace.
OWN_NAMESPACE = "mod_gateway."


# A known deviation other than a plain reason (Profile.deviation).
DEVIATION_SHAPE = {"reason": str, "strict?": bool, "apache?": [str], "python?": [str]}


class ProfileError(Exception):
    """A profile's data is missing or malformed; the message names the file and entry."""


def shape_problems(value, shape, where):
    """What is wrong with `value` against `shape`: a type; a tuple of alternatives; [shape],
    a list of such items; {key: shape}, exactly these keys ('key?' marks an optional one)."""
    if isinstance(shape, tuple):
        if any(not shape_problems(value, alt, where) for alt in shape):
            return []
        return ["%s: %r is none of %s" % (where, value, ", ".join(_shape_name(a) for a in shape))]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return ["%s: %r is not a list" % (where, value)]
        return [p for i, v in enumerate(value) for p in shape_problems(v, shape[0], "%s[%d]" % (where, i))]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return ["%s: %r is not an object" % (where, value)]
        keys = dict((k.rstrip("?"), k.endswith("?")) for k in shape)
        out = ["%s: unknown key %r" % (where, k) for k in value if k not in keys]
        out += ["%s: missing key %r" % (where, k) for k, optional in keys.items()
                if not optional and k not in value]
        for k, sub in shape.items():
            if k.rstrip("?") in value:
                out += shape_problems(value[k.rstrip("?")], sub, "%s.%s" % (where, k.rstrip("?")))
        return out
    if shape is type(None):
        return [] if value is None else ["%s: %r is not null" % (where, value)]
    # bool is an int to Python, not to a profile: 1 is no answer to "rejected?".
    if isinstance(value, shape) and (shape is bool or not isinstance(value, bool)):
        return []
    return ["%s: %r is not %s" % (where, value, _shape_name(shape))]


def _shape_name(shape):
    return getattr(shape, "__name__", None) or json.dumps(shape, default=_shape_name)


_MODE_KEYS = {"embedded?": [str], "daemon?": [str]}
TIMING_SHAPE = {"format": str, "keys": {"embedded": [str], "daemon": [str]}, "zero?": _MODE_KEYS,
                "absent": _MODE_KEYS, "order": [str], "queue_key": {"daemon": str}}
TIMING_FORMATS = ("str_us", "float_s")


class Profile:
    def __init__(self, name):
        path = HERE / ("%s.json" % name)
        if not path.exists():
            raise ValueError("unknown profile %r (have %s)" % (name, ", ".join(available())))
        self.name = name
        self.data = json.loads(path.read_text())

    def expectation(self, case):
        """The expectation of catalogue case `case` under this profile; ProfileError when the
        case declares none (expects=) or the profile has none of that shape."""
        if case.expects is None:
            raise ProfileError("case %s reads an expectation but declares no expects= shape" % case.id)
        if case.id not in self.data.get("expect", {}):
            raise ProfileError("profile %s has no expect entry for %s" % (self.name, case.id))
        value = self.data["expect"][case.id]
        bad = shape_problems(value, case.expects, "profile %s expect %s" % (self.name, case.id))
        if bad:
            raise ProfileError("; ".join(bad))
        return value

    @property
    def timing(self):
        return self.data["timing"]

    def problems(self, cases):
        """Everything wrong with this profile's data against the catalogue `cases` ({id: Case})."""
        out = []
        for case in cases.values():
            runs = self.name in case.profiles and not all(self.not_applicable(case.id, m) for m in case.modes)
            if case.expects is not None and runs:
                try:
                    self.expectation(case)
                except ProfileError as e:
                    out.append(str(e))
        for cid in self.data.get("expect", {}):
            if cid not in cases:
                out.append("profile %s: expect entry for unknown case %s" % (self.name, cid))
            elif cases[cid].expects is None:
                out.append("profile %s: expect entry for %s, which declares no expects= shape"
                           % (self.name, cid))
        named = list(self.data.get("not_applicable", {}))
        named += [k for dev in self.data.get("known_deviations", {}).values() for k in dev]
        for prefixes, dev in self.data.get("known_deviations", {}).items():
            for key, d in dev.items():
                out += shape_problems(d, (str, DEVIATION_SHAPE),
                                      "profile %s known_deviations[%s][%s]" % (self.name, prefixes, key))
        for key in named:
            cid, _, mode = key.partition("/")
            if cid not in cases or (mode and mode not in cases[cid].modes):
                out.append("profile %s: %s names no case (mode) in the catalogue" % (self.name, key))
        out += shape_problems(self.data.get("timing"), TIMING_SHAPE, "profile %s timing" % self.name)
        if self.data.get("timing", {}).get("format") not in TIMING_FORMATS:
            out.append("profile %s timing.format is none of %s" % (self.name, ", ".join(TIMING_FORMATS)))
        for py3 in (True, False):
            for mode in ("embedded", "daemon"):
                for apache in ((2, 4), (2, 2)):
                    try:
                        self.environ_contract(mode, py3, apache)
                    except (ProfileError, KeyError, ValueError) as e:
                        out.append("profile %s environ (%s, %s, Apache %d.%d): %s" % (
                            self.name, "py3" if py3 else "py2", mode, apache[0], apache[1], e))
        return out

    def environ_contract(self, mode, py3=True, apache=(2, 4)):
        """{key: class} of the environ a real release of this profile hands an app in `mode`.

        `environ.py3` / `environ.py2` list observations (python -m conformance observe) that
        must agree key for key; or {"from": "py3"|"py2", "classes_as": [obs_a, obs_b], "why"}:
        the other Python's contract with each class that differs between obs_a and obs_b
        (one release seen on both Pythons) replaced as it is there.  On an Apache before 2.4,
        `environ.apache2.2` = {"py3"|"py2": [obs_24, obs_22], "why"}: one release seen on both
        Apaches; the keys it hands on one only are what Apache's generation adds or lacks."""
        spec = self.data.get("environ")
        if not spec:
            raise ProfileError("profile %s has no 'environ' entry" % self.name)
        python = "py3" if py3 else "py2"
        base = self._contract(spec, python, mode)
        if tuple(apache[:2]) >= (2, 4):
            return base
        older = spec.get("apache2.2") or {}
        if not (older.get("why") and isinstance(older.get(python), list) and len(older[python]) == 2):
            raise ProfileError("profile %s: no environ.apache2.2.%s observations ([on 2.4, on 2.2]) "
                               "to tell what Apache 2.2 hands" % (self.name, python))
        on24, on22 = (_observed_classes(n, mode) for n in older[python])
        out = dict((k, c) for k, c in base.items() if not (k in on24 and k not in on22))
        out.update((k, c) for k, c in on22.items() if k not in on24)
        return out

    def _contract(self, spec, python, mode):
        entry = spec.get(python)
        if isinstance(entry, list) and entry:
            contracts = [(name, _observed_classes(name, mode)) for name in entry]
            first_name, first = contracts[0]
            for name, other in contracts[1:]:
                if other != first:
                    raise ProfileError("profile %s: observations %s and %s disagree in %s mode on %s" % (
                        self.name, first_name, name, mode,
                        sorted(k for k in set(first) | set(other) if first.get(k) != other.get(k))))
            return first
        if isinstance(entry, dict) and entry.get("from") in ("py2", "py3") and entry.get("why"):
            base = self._contract(spec, entry["from"], mode)
            a, b = (_observed_classes(n, mode) for n in entry["classes_as"]) if entry["classes_as"] else ({}, {})
            return dict((k, b[k] if k in a and k in b and a[k] == c else c) for k, c in base.items())
        raise ProfileError("profile %s: environ.%s must list observations or derive {from, classes_as, why}"
                           % (self.name, python))

    def not_applicable(self, case_id, mode):
        na = self.data.get("not_applicable", {})
        return na.get("%s/%s" % (case_id, mode)) or na.get(case_id)

    def deviation(self, target_label, case_id, mode, apache=None, python=None):
        """(reason, strict) where the target is known to deviate here, or None.

        A deviation is a plain reason (it must fail: strict) or {"reason", "strict?", "apache?",
        "python?"}: strict false for one that shows only intermittently; apache, the Apache
        versions it was observed on -- under any other Apache (`apache`, "2.4.12") the case is
        judged as written, so a version nobody has looked at is not excused in advance; python,
        likewise the server Pythons ("3" or "3.3": `python` "3.3.7" is either)."""
        for prefixes, cases in self.data.get("known_deviations", {}).items():
            if any(target_label.startswith(p.strip()) for p in prefixes.split(",")):
                d = cases.get("%s/%s" % (case_id, mode)) or cases.get(case_id)
                if isinstance(d, dict):
                    if "apache" in d and apache not in d["apache"]:
                        continue
                    if "python" in d and not any(python == v or (python or "").startswith(v + ".")
                                                 for v in d["python"]):
                        continue
                    return d["reason"], d.get("strict", True)
                if d:
                    return d, True
        return None


def _observed_classes(name, mode):
    path = OBSERVED / ("%s.json" % name)
    if not path.exists():
        raise ProfileError("no observation %s (python -m conformance observe writes it)" % path)
    return dict((k, v["class"]) for k, v in json.loads(path.read_text())["modes"][mode].items())


def available():
    return sorted(p.stem for p in HERE.glob("*.json"))

