# Reports its own VERSION; cases rewrite the file to see whether it is reloaded.
import os

VERSION = 1


def application(environ, start_response):
    body = ("%d %d" % (VERSION, os.getpid())).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
