# The benchmark app: one scenario per PATH_INFO; runs on Python 2.7 and 3.6+.
import os
import time

HELLO = b"Hello world!"          # 12 bytes
MIB = b"x" * (1 << 20)
CHUNK = b"y" * 64
FILE = os.path.join(os.path.dirname(__file__), "1mib.bin")


def application(environ, start_response):
    scenario = environ.get("PATH_INFO", "/").strip("/")
    if scenario == "hello":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
        return [HELLO]
    if scenario == "get1m":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(MIB)))])
        return [MIB]
    if scenario == "file1m":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(FILE, "rb"), 65536)
    if scenario == "echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if scenario == "discard":
        inp = environ["wsgi.input"]
        while inp.read(65536):
            pass
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    if scenario == "stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (CHUNK for _ in range(1000))
    if scenario == "sleep":
        time.sleep(0.05)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such scenario"]
