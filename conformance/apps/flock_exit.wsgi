# -*- coding: utf-8 -*-
"""DMN-026: imported as each daemon process of its group starts (WSGIImportScript).  The
first process to lock run/flock-owner keeps the lock for life and serves; every other
process exits while it starts, over and over.  Runs on Python 2.7 and 3.6+."""

import fcntl
import os

_owner = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run", "flock-owner"), "a")
try:
    fcntl.flock(_owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
except (IOError, OSError):
    os._exit(1)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [('{"pid": %d}' % os.getpid()).encode("ascii")]
