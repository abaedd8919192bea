# Defines its callable, then fails at import (ERR-031): a module that did not finish
# importing must not be kept, so every request fails the same way until the file changes.
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"a half-imported module was served"]


raise ImportError("probe failure after the callable")
