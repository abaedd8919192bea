"""CI and packager tooling: provisioning, the test run, the gate."""
