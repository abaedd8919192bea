# Records when it was imported, to tell preloading from first-request loading.
import json
import os
import sys
import time

IMPORTED_AT = time.time()
# Output outside any request (MODE-016): where and how does it reach the error log?
sys.stderr.write("preload-import-line pid=%d\n" % os.getpid())
sys.stderr.flush()


def arrived(environ):
    """When Apache began reading this request, in seconds: request_start (4.x+: string
    microseconds, 6.x: float seconds) or, under 3.4, queue_start (string microseconds)."""
    for key in ("mod_wsgi.request_start", "mod_wsgi.queue_start"):
        value = environ.get(key)
        if value is not None:
            return float(value) / 1e6 if isinstance(value, str) else float(value)
    return None


def application(environ, start_response):
    body = json.dumps({"imported_at": IMPORTED_AT, "arrived": arrived(environ), "now": time.time(),
                       "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
