# -*- coding: utf-8 -*-
"""DMN-019: an atexit callback registered at import writes run/atexit-PID when the process's
interpreter is finalised (at a graceful restart or a stop), not when it is killed."""

import atexit
import json
import os

RUN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run")


def _at_exit():
    with open(os.path.join(RUN, "atexit-%d" % os.getpid()), "w") as f:
        f.write("ran\n")


atexit.register(_at_exit)


def application(environ, start_response):
    body = json.dumps({"pid": os.getpid()}).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
