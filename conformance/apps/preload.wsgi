# Records when it was imported, to tell preloading from first-request loading.
import json
import os
import time

IMPORTED_AT = time.time()


def application(environ, start_response):
    body = json.dumps({"imported_at": IMPORTED_AT, "now": time.time(), "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
