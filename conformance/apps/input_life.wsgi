# wsgi.input beyond its request (ENV-042, ENV-044), reads that fail mid-body (ENV-043) and
# the reads after one failed (ENV-045); the action is PATH_INFO.  Runs on Python 2.7 and 3.6+.
import json
import os

kept = {}
aborted = {"reads": 0, "raised": [], "returned": []}
retried = {}


def _status():
    """This process's memory from /proc/self/status, in kB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmData", "VmSize"):
                out[key] = int(line.split()[1])
    return out


def _outcome(fn):
    try:
        got = fn()
        return {"returned": repr(list(got) if isinstance(got, list) else got)}
    except Exception as e:
        return {"raised": type(e).__name__, "message": str(e)}


def _late(inp):
    """Every way an app reads a wsgi.input, on one kept past its request."""
    calls = (("read()", lambda: inp.read()), ("read(5)", lambda: inp.read(5)),
             ("readline()", lambda: inp.readline()), ("readline(5)", lambda: inp.readline(5)),
             ("readlines()", lambda: inp.readlines()), ("iter()", lambda: iter(inp)),
             ("next()", lambda: next(inp)), ("close()", lambda: inp.close()))
    return dict((name, _outcome(fn)) for name, fn in calls)


def _late_args(inp):
    """Wrong-typed arguments on a kept input: which check comes first."""
    calls = (("read('x')", lambda: inp.read("x")), ("read(1, 2)", lambda: inp.read(1, 2)),
             ("read(None)", lambda: inp.read(None)), ("readline('x')", lambda: inp.readline("x")),
             ("readlines('x')", lambda: inp.readlines("x")), ("close(1)", lambda: inp.close(1)))
    return dict((name, _outcome(fn)) for name, fn in calls)


def _again(inp):
    """Every read tried again on an input whose read already failed, in this order."""
    calls = (("read(5)", lambda: inp.read(5)), ("read()", lambda: inp.read()),
             ("read(0)", lambda: inp.read(0)), ("readline()", lambda: inp.readline()),
             ("readlines()", lambda: inp.readlines()), ("next()", lambda: next(inp)),
             ("read(5) again", lambda: inp.read(5)))
    return [[name, _outcome(fn)] for name, fn in calls]


def application(environ, start_response):
    action = environ.get("PATH_INFO", "").strip("/")
    inp = environ["wsgi.input"]
    if action == "keep":
        # Read part of the body: the rest stays buffered (or unread) with the request.
        first = inp.read(4)
        kept["input"] = inp
        data = {"pid": os.getpid(), "first": first.decode("latin-1")}
    elif action == "late":
        old = kept.pop("input", None)
        data = {"pid": os.getpid(), "kept": old is not None, "calls": _late(old) if old is not None else None}
    elif action == "late-args":
        old = kept.pop("input", None)
        data = {"pid": os.getpid(), "kept": old is not None,
                "calls": _late_args(old) if old is not None else None}
    elif action == "abort-retry":
        # As abort, then the app catches the failure and reads on: the same input, one request.
        first = _outcome(lambda: inp.read(int(environ.get("CONTENT_LENGTH") or 0)))
        # What the first failure says depends on how the client went (reported, not compared).
        message = first.pop("message", None)
        retried.clear()
        retried.update(first=first, first_message=message, again=_again(inp), pid=os.getpid())
        data = {"pid": os.getpid()}
    elif action == "retried":
        data = dict(retried, pid=os.getpid(), seen=bool(retried))
    elif action == "abort":
        # The client declared more than it sends and goes away: read(n) of it all fails.
        n = int(environ.get("CONTENT_LENGTH") or 0)
        aborted["reads"] += 1
        try:
            got = inp.read(n)
            aborted["returned"].append(len(got))
        except Exception as e:
            name = type(e).__name__
            if name not in aborted["raised"]:
                aborted["raised"].append(name)
        data = {"pid": os.getpid()}
    elif action == "memory":
        data = dict(_status(), pid=os.getpid(), reads=aborted["reads"], raised=aborted["raised"],
                    returned=aborted["returned"])
    else:
        data = {"error": "unknown action %r" % action}
    body = json.dumps(data, sort_keys=True).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
