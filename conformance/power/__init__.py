"""Suite power: how many single-point mutations of gateway/src/*.c the conformance suite
notices.  `python -m conformance.power --help`; the mutation sites and sampling are in
mutants.py, building and judging each mutant in run.py, the unit tests a mutant meets first in
unit.py, the reviewed equivalent and unreachable mutants in equivalent.py (equivalent.json)."""

SCHEMA = "mod_gateway.power/2"     # 2: the equivalent class, raw_score, unit-test kills
