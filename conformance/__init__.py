"""Conformance suite: what a mod_wsgi-compatible Apache module must do, checked over HTTP
against real Apache servers. Run with `python -m conformance --target ...`."""

JOURNAL_SCHEMA = "mod_gateway.conformance-journal/2"
PROFILES = ("3.4", "5", "6")
MODES = ("embedded", "daemon")
