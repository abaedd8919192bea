"""Expectations as data: one JSON file per behaviour profile (3.4, 5, 6).

Each file holds `expect` (case ID -> expectation, whatever shape that case reads),
`not_applicable` (case ID -> reason) and `known_deviations` (target version
prefixes like "mod_wsgi 4.9, mod_wsgi 5" -> {case ID or ID/mode -> reason}): places where a real
module departs from its own documented behaviour, recorded rather than loosened.
"""

import json
from pathlib import Path

HERE = Path(__file__).parent / "profiles"


class Profile:
    def __init__(self, name):
        path = HERE / ("%s.json" % name)
        if not path.exists():
            raise ValueError("unknown profile %r (have %s)" % (name, ", ".join(available())))
        self.name = name
        self.data = json.loads(path.read_text())

    def expect(self, case_id, default=None):
        return self.data.get("expect", {}).get(case_id, default)

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


def available():
    return sorted(p.stem for p in HERE.glob("*.json"))
