# DIR-021: copied under several names by the preload-aliases site.  Its import creates
# run/loaded-<name>-<pid> (the site root's run directory), so which scripts a daemon loaded
# before any request is plain; a request reports its pid and the marker's name.
import json
import os

NAME = os.path.splitext(os.path.basename(__file__))[0]
RUN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run")
with open(os.path.join(RUN, "loaded-%s-%d" % (NAME, os.getpid())), "w") as _f:
    _f.write("loaded\n")


def application(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "name": NAME}).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
