# Each load of this script takes a reference to one sentinel object that outlives every
# load (it sits in a module of its own in sys.modules).  If the modules of earlier loads
# are freed on reload, the sentinel's reference count stays flat however often the
# script is reloaded; a leaked module keeps its reference.
import gc
import json
import os
import sys
import types

_holder = sys.modules.get("probe_reload_holder")
if _holder is None:
    _holder = types.ModuleType("probe_reload_holder")
    _holder.sentinel = object()
    _holder.loads = 0
    sys.modules["probe_reload_holder"] = _holder
_holder.loads += 1
SENTINEL = _holder.sentinel
LOAD = _holder.loads


def application(environ, start_response):
    gc.collect()
    body = json.dumps({"pid": os.getpid(), "load": LOAD,
                       "sentinel_refs": sys.getrefcount(SENTINEL),
                       "gc_objects": len(gc.get_objects()),
                       "modules": len(sys.modules),
                       "fds": len(os.listdir("/proc/self/fd")),
                       "has_totalrefcount": hasattr(sys, "gettotalrefcount")}).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
