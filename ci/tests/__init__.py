"""Tests of ci/: the gate, the packaging examples, validate-build.  A package, so pytest puts
the repository root on sys.path and the tests import ci, conformance and matrix from it."""
