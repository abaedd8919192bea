# wsgi.errors as an application sees it (ENV-036, ENV-037), and sys.stdout / sys.stderr /
# sys.stdin (ENV-046); the action is PATH_INFO.
# Runs on Python 2.7 and 3.6+.
import json
import os
import sys
import time

try:
    from urllib.parse import parse_qs
except ImportError:  # Python 2
    from urlparse import parse_qs

ATTRIBUTES = ("name", "encoding", "errors", "line_buffering")
kept = {}


def _class(v):
    t = type(v)
    return t.__name__ if t.__module__ in ("builtins", "__builtin__") else "%s.%s" % (t.__module__, t.__name__)


def outcome(fn):
    try:
        return {"returned": fn()}
    except Exception as e:
        return {"raised": type(e).__name__}


def outcome_message(fn):
    try:
        return {"returned": fn()}
    except Exception as e:
        return {"raised": type(e).__name__, "message": str(e)}


def stream_facts(stream):
    """The complete observable of a sys stream: class, its buffer's, and the text attributes."""
    facts = {"class": _class(stream), "buffer": _class(stream.buffer) if hasattr(stream, "buffer") else None}
    for a in ATTRIBUTES:
        try:
            facts[a] = getattr(stream, a) if hasattr(stream, a) else None
        except Exception as e:
            facts[a] = "raised %s" % type(e).__name__
    return facts


def write(errors, qs):
    """Write a line each way an app does, then a partial line; optionally hold the request."""
    tag = qs["tag"][0]
    line = "wsgi-errors-str %s\n" % tag
    facts = {"class": _class(errors), "buffer": _class(errors.buffer) if hasattr(errors, "buffer") else None,
             "attributes": dict((a, getattr(errors, a)) for a in ATTRIBUTES if hasattr(errors, a)),
             "str": outcome(lambda: errors.write(line)), "str_length": len(line),
             "bytes": outcome(lambda: errors.write(("wsgi-errors-bytes %s\n" % tag).encode("ascii"))),
             "writelines": outcome(lambda: errors.writelines(["wsgi-errors-wl-1 %s\n" % tag,
                                                              "wsgi-errors-wl-2 %s\n" % tag])),
             "pid": os.getpid()}
    errors.write("wsgi-errors-tail %s" % tag)    # no newline: it waits for the request's end
    if "started" in qs:
        with open(qs["started"][0], "w") as f:
            f.write("1")
        time.sleep(float(qs["s"][0]))
    return facts


def application(environ, start_response):
    errors = environ["wsgi.errors"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    action = environ.get("PATH_INFO", "").strip("/")
    if action == "write":
        data = write(errors, qs)
    elif action == "keep":
        kept["errors"] = errors
        data = {"pid": os.getpid()}
    elif action == "late":
        old = kept.pop("errors", None)
        data = {"pid": os.getpid(), "kept": old is not None,
                "write": outcome(lambda: old.write("wsgi-errors-late after its request\n"))}
        if old is not None and "all" in qs:
            data["calls"] = [
                ["write(line)", outcome_message(lambda: old.write("wsgi-errors-late line\n"))],
                ["write(partial)", outcome_message(lambda: old.write("wsgi-errors-late partial"))],
                ["writelines", outcome_message(lambda: old.writelines(["wsgi-errors-late wl\n"]))],
                ["flush", outcome_message(lambda: old.flush())]]
    elif action == "log-type":
        # The Log object itself (under a text wrapper: its buffer): what its type defines.
        log = errors.buffer if hasattr(errors, "buffer") else errors
        data = {"pid": os.getpid(), "class": _class(log), "defines": sorted(vars(type(log)))}
    elif action == "streams":
        data = {"pid": os.getpid(), "stdout": stream_facts(sys.stdout), "stderr": stream_facts(sys.stderr),
                "stdin": {"class": _class(sys.stdin)}}
    else:
        data = {"error": "unknown action %r" % action}
    body = json.dumps(data, sort_keys=True).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
