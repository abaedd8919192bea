"""Expectations as data: one JSON file per behaviour profile (3.4, 5, 6).

Each file holds `environ` (which observations under profiles/observed/ the environ contract
is read from, see environ_contract), `expect` (case ID -> expectation, whatever shape that case reads),
`not_applicable` (case ID -> reason) and `known_deviations` (target version
prefixes like "mod_wsgi 4.9, mod_wsgi 5" -> {case ID or ID/mode -> reason}): places where a real
module departs from its own documented behaviour, recorded rather than loosened.
"""

import json
from pathlib import Path

HERE = Path(__file__).parent / "profiles"
OBSERVED = HERE / "observed"
# Keys a module other than the real mod_wsgi may add beside the contract: its own namespace.
OWN_NAMESPACE = "mod_gateway."


class ProfileError(Exception):
    """A profile's data is missing or malformed; the message names the file and entry."""


class Profile:
    def __init__(self, name):
        path = HERE / ("%s.json" % name)
        if not path.exists():
            raise ValueError("unknown profile %r (have %s)" % (name, ", ".join(available())))
        self.name = name
        self.data = json.loads(path.read_text())

    def expect(self, case_id, default=None):
        return self.data.get("expect", {}).get(case_id, default)

    def environ_contract(self, mode, py3=True):
        """{key: class} of the environ a real release of this profile hands an app in `mode`.

        `environ.py3` / `environ.py2` list observations (python -m conformance observe) that
        must agree key for key; or {"from": "py3"|"py2", "classes_as": [obs_a, obs_b], "why"}:
        the other Python's contract with each class that differs between obs_a and obs_b
        (one release seen on both Pythons) replaced as it is there."""
        spec = self.data.get("environ")
        if not spec:
            raise ProfileError("profile %s has no 'environ' entry" % self.name)
        return self._contract(spec, "py3" if py3 else "py2", mode)

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

    def deviation(self, target_label, case_id, mode):
        """(reason, strict) where the target is known to deviate here, or None.

        A deviation is a plain reason (it must fail: strict) or {"reason", "strict": false}
        for one that shows only intermittently."""
        for prefixes, cases in self.data.get("known_deviations", {}).items():
            if any(target_label.startswith(p.strip()) for p in prefixes.split(",")):
                d = cases.get("%s/%s" % (case_id, mode)) or cases.get(case_id)
                if isinstance(d, dict):
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
