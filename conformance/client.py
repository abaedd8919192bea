"""HTTP from the client side: requests for ordinary exchanges (recorded as case evidence),
a raw socket where the bytes on the wire are the point (truncation, chunk terminators)."""

import json
import socket
import threading
import time

import requests

SESSION = requests.Session()


def http(server, path, method="GET", timeout=30, **kw):
    kw.setdefault("allow_redirects", False)
    resp = SESSION.request(method, server.url + path, timeout=timeout, **kw)
    body = resp.content[:2000].decode("utf-8", "replace")
    server.exchanges.append({
        "request": "%s %s\n%s" % (method, path, "\n".join("%s: %s" % kv for kv in (kw.get("headers") or {}).items())),
        "response": "%s %s\n%s\n\n%s" % (resp.status_code, resp.reason,
                                         "\n".join("%s: %s" % kv for kv in resp.headers.items()), body)})
    return resp


def fetch_json(server, path, **kw):
    resp = http(server, path, **kw)
    assert resp.status_code == 200, "GET %s gave %s: %s" % (path, resp.status_code, resp.text[:500])
    return resp.json()


def environ(server, path="/probe/env", **kw):
    """The app's environ as {key: {"type": ..., "value": ...}} plus the app's clock."""
    data = fetch_json(server, path, **kw)
    return data["environ"], data.get("app_time")


def burst(server, path, n=4):
    """`n` requests at once, each on its own connection (they wait at a barrier): their JSON
    bodies, in order; any request's failure fails the caller."""
    start, out, errors = threading.Barrier(n), [None] * n, []

    def one(i):
        try:
            start.wait(10)
            r = requests.get(server.url + path, timeout=60)
            assert r.status_code == 200, "status %d: %s" % (r.status_code, r.text[:300])
            out[i] = r.json()
        except Exception as e:   # reported below, from the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    return out


def read_reply(sock, timeout, done=None):
    """Read what the server sends on `sock` until it closes the connection (EOF or reset),
    `timeout` seconds pass or done(data so far) says the reply is complete.  Returns
    (data, closed): closed when the server ended the connection."""
    data, deadline = bytearray(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk
        if done is not None and done(bytes(data)):
            break
    return bytes(data), False


def raw(server, request_bytes, timeout=10.0, pause=0.4):
    """Send bytes (a list: each part after a pause, as a slow client does), read until the
    server closes (or timeout); returns the bytes received."""
    parts = request_bytes if isinstance(request_bytes, list) else [request_bytes]
    request_bytes = b"".join(parts)
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    for i, part in enumerate(parts):
        if i:
            time.sleep(pause)
        s.sendall(part)
    try:
        data, _ = read_reply(s, timeout)
    finally:
        s.close()
    server.exchanges.append({"request": request_bytes.decode("latin-1")[:2000],
                             "response": data[:2000].decode("latin-1")})
    return data


# The one request an environ contract is observed with: only Host and Connection headers,
# so every key in the environ comes from the module and the config, not from the client.
CONTRACT_PATH = "/probe/contract/observed?q=1"


def contract(server):
    """The environ of the contract request: {key: {"class": ..., "value": ...}}."""
    data = raw(server, get_request(CONTRACT_PATH))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), "contract request: %r" % data[:300]
    return json.loads(body.decode("utf-8"))["environ"]


def get_request(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n" % (path, extra)).encode()


def dechunk(body):
    """Decode a chunked body; returns (payload, complete) where complete means the 0-chunk came."""
    out, i = [], 0
    while True:
        j = body.find(b"\r\n", i)
        if j < 0:
            return b"".join(out), False
        size = int(body[i:j].split(b";")[0] or b"0", 16)
        if size == 0:
            return b"".join(out), True
        out.append(body[j + 2:j + 2 + size])
        if len(body) < j + 2 + size + 2:
            return b"".join(out), False
        i = j + 2 + size + 2


def _body_complete(data):
    """Has the response in `data` ended: its terminating chunk (chunked) or its
    Content-Length bytes?"""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        return dechunk(body)[1]
    if b"content-length:" in lower:
        return len(body) >= int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
    return False


def keepalive_exchange(server, path, timeout=10.0):
    """GET `path` on a keep-alive connection, read until the server closes it, the body
    ends (chunked: its terminating chunk; else its Content-Length) or `timeout`; then try a
    second request on it.  Returns (head, body as sent, closed, what the second request got)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        s.sendall(b"GET " + path.encode("ascii") + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data, closed = read_reply(s, timeout, _body_complete)
        again = b""
        try:
            s.sendall(b"GET /probe/sys HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            s.settimeout(5)
            again = s.recv(65536)
        except OSError:
            pass
        head, _, body = data.partition(b"\r\n\r\n")
        return head, body, closed, again
    finally:
        s.close()
