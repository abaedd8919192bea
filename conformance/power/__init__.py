"""Suite power: how many single-point mutations of gateway/src/*.c the conformance suite
notices.  `python -m conformance.power --help`; the mutation sites and sampling are in
mutants.py, building and judging each mutant in run.py."""

SCHEMA = "mod_gateway.power/1"
