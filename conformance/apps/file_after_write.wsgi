# ENV-049: an app that writes bytes with the write() callable, then returns
# wsgi.file_wrapper over this file (from ?offset=N on; ?length=1 declares the whole
# Content-Length in start_response).  Python 2.7 and 3.6+.
import os

HEAD = b"written-by-write()\n"


def application(environ, start_response):
    query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    offset = int(query.get("offset", "0"))
    headers = [("Content-Type", "application/octet-stream")]
    if query.get("length") == "1":
        headers.append(("Content-Length", str(len(HEAD) + os.path.getsize(__file__) - offset)))
    write = start_response("200 OK", headers)
    write(HEAD)
    f = open(__file__, "rb")
    f.seek(offset)
    return environ["wsgi.file_wrapper"](f)
