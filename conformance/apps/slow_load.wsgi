# DIR-020: a script whose import takes a second.  A holder module outside the script counts
# this process's loads of it; each request reports the load it was served by and how many
# loads this process has made so far.  Python 2.7 and 3.6+.
import json
import os
import sys
import time
import types

_name = "probe_slow_load_holder"
_holder = sys.modules.get(_name)
if _holder is None:
    _holder = types.ModuleType(_name)
    _holder.loads = 0
    sys.modules[_name] = _holder
_holder.loads += 1
LOAD = _holder.loads
time.sleep(1.0)


def application(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "load": LOAD, "loads": _holder.loads}).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
