# DIR-020: a script whose import takes a second.  A holder module outside the script counts
# this process's loads of it; each request reports the load it was served by, how many
# loads this process has made so far, and the references to a sentinel every load takes
# one of (flat while earlier loads' modules are freed).  Python 2.7 and 3.6+.
import gc
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
    _holder.sentinel = object()
    sys.modules[_name] = _holder
_holder.loads += 1
LOAD = _holder.loads
SENTINEL = _holder.sentinel
time.sleep(1.0)


def application(environ, start_response):
    gc.collect()
    body = json.dumps({"pid": os.getpid(), "load": LOAD, "loads": _holder.loads,
                       "sentinel_refs": sys.getrefcount(SENTINEL)}).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
