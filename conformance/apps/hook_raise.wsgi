# DIR-017: a script whose module-level reload_required hook is: raise.  Reports its pid, how
# often this process loaded it and the arguments the hook got.  Python 2.7 and 3.6+.
import json
import os
import sys
import types

_name = "probe_hook_holder_raise"
_holder = sys.modules.get(_name)
if _holder is None:
    _holder = types.ModuleType(_name)
    _holder.loads = 0
    _holder.args = []
    sys.modules[_name] = _holder
_holder.loads += 1
LOAD = _holder.loads


def reload_required(resource):
    _holder.args.append(resource)
    raise ValueError("hook-raised-in-reload-required")


def application(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "load": LOAD, "args": list(_holder.args),
                       "script": environ["SCRIPT_FILENAME"]}).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
