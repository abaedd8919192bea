"""Writes the seed corpus for fuzz_wire (corpus/seed-*), from an encoder written here from the
format in gw_wire.h (not from gw_wire.c), so the seeds also check that the two agree.

Input layout the target reads: the whole file is a stream of frames; its first byte also
selects a payload decoder for the rest (see sel() and fuzz_wire.c); the rest cut at 0xff bytes
is also encoded as header pairs and decoded back.  Seeds of every kind.
Run: python3 make_corpus.py [DIR]   (default: corpus/ beside this file)."""

import struct
import sys
from pathlib import Path


def u32(v):
    return struct.pack(">I", v)


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return u32(len(b)) + b + b"\0"


def pairs(items):
    return u32(len(items)) + b"".join(s(k) + s(v) for k, v in items)


def frame(t, payload, flags=0):
    return t.encode() + bytes([flags, 0, 0]) + u32(len(payload)) + payload


def sel(decoder, room):
    """Selector byte: decoder 0 request, 1 headers, 2 error, 3 file; room index 0..3 for
    0, 1, 16 or GW_WIRE_MAX_PAIRS pairs (see fuzz_wire.c)."""
    return bytes([0x40 | (room << 2) | decoder])


def q_payload(flags=0x9, script="/srv/app.wsgi", group="localhost|/app", callable="application",
              resource="/app/x?y=1", env=(("REQUEST_METHOD", "GET"), ("PATH_INFO", "/x"))):
    return u32(flags) + s(script) + s(group) + s(callable) + s(resource) + pairs(list(env))


def h_payload(status=200, line="200 OK", headers=(("Content-Type", "text/plain"), ("X-A", "b"))):
    return u32(status) + s(line) + pairs(list(headers))


SEEDS = {
    # whole streams, as the child and the daemon write them
    "stream-request": frame("Q", q_payload()) + frame("B", b"hello body") + frame("Z", b""),
    "stream-response": frame("H", h_payload()) + frame("D", b"data" * 8) + frame("E", b""),
    "stream-aborted": frame("H", h_payload()) + frame("D", b"part") + frame("A", b""),
    "stream-error": frame("R", u32(503)),
    "stream-file": frame("H", h_payload()) + frame("S", struct.pack(">QQ", 0, 4096)) + frame("E", b""),
    "stream-empty-body": frame("Q", q_payload(env=())) + frame("B", b"") + frame("Z", b""),
    "stream-truncated": (frame("Q", q_payload()) + frame("B", b"abc"))[:-2],
    "stream-bad-reserved": b"Q\0\1\0" + u32(0),
    "stream-too-big-meta": b"Q\0\0\0" + u32((4 << 20) + 1),
    "stream-too-big-data": b"D\0\0\0" + u32((1 << 20) + 1),
    "stream-end-with-length": b"E\0\0\0" + u32(1) + b"x",
    "stream-unknown-type": frame("X", b"??"),
    # payloads for one decoder: selector byte + payload
    "q-basic": sel(0, 3) + q_payload(),
    "q-empty-strings": sel(0, 3) + q_payload(script="", group="", callable="", resource="", env=()),
    "q-many-pairs": sel(0, 3) + q_payload(env=[("K%d" % i, "v" * (i % 7)) for i in range(40)]),
    "q-room-0": sel(0, 0) + q_payload(),              # the caller has room for 0 pairs
    "q-room-1": sel(0, 1) + q_payload(),
    "q-room-16": sel(0, 2) + q_payload(env=[("K%d" % i, "v") for i in range(17)]),
    "h-8192-pairs": sel(1, 3) + h_payload(headers=[("X", "")] * 8192),
    "h-8193-pairs": sel(1, 3) + h_payload(headers=[("X", "")] * 8193),
    "encode-pairs": b"@" + b"\xff".join([b"Content-Type", b"text/plain", b"X-A", b"b\x00c"]),
    "q-missing-nul": sel(0, 3) + u32(0) + u32(3) + b"abc",
    "q-nul-inside": sel(0, 3) + u32(0) + u32(3) + b"a\0c\0",
    "q-huge-count": sel(0, 3) + q_payload(env=())[:-4] + u32(0xffffffff),
    "q-trailing": sel(0, 3) + q_payload() + b"\0",
    "q-string-len-overflow": sel(0, 3) + u32(0) + u32(0xffffffff) + b"x\0",
    "h-basic": sel(1, 3) + h_payload(),
    "h-status-99": sel(1, 3) + h_payload(status=99),
    "h-status-1000": sel(1, 3) + h_payload(status=1000),
    "h-no-headers": sel(1, 3) + h_payload(headers=()),
    "h-utf8-value": sel(1, 3) + h_payload(headers=[("X-U", "caf\u00e9")]),
    "r-ok": sel(2, 0) + u32(500),
    "r-bad": sel(2, 0) + u32(42),
    "s-ok": sel(3, 0) + struct.pack(">QQ", 10, 20),
    "s-huge": sel(3, 0) + struct.pack(">QQ", 1 << 63, 1),
}


# Findings (see the reliability report): frames the gateway's own callers encode but the
# decoder refuses (GW_WIRE_ETOOBIG, more than GW_WIRE_MAX_PAIRS pairs).  gw_proxy.c encodes a
# request environ of 9000+ headers (allowed by LimitRequestFields 10000) and the daemon logs
# "malformed request" (500); gw_daemon_serve.c encodes 10000 app headers and the child logs
# "Malformed response ... the daemon process died or was restarted" (500).  mod_wsgi 6.1.1 and
# 4.9.4 answer 200 to both.  Fixed: GW_WIRE_MAX_PAIRS is 65536 (both now decode and answer 200),
# and both senders check the pair count and byte size and log why (431 / 500) past them.
FINDINGS = {
    "finding-request-9000-headers": frame("Q", q_payload(env=[("HTTP_X_H%d" % i, "v") for i in range(9000)]))
    + frame("Z", b""),
    "finding-response-10000-headers": frame("H", h_payload(headers=[("X-M%d" % i, "v") for i in range(10000)]))
    + frame("E", b""),
}


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        (out / ("seed-" + name)).write_bytes(data)
    for name, data in sorted(FINDINGS.items()):
        (out / name).write_bytes(data)
    print("%d seeds and %d findings in %s" % (len(SEEDS), len(FINDINGS), out))


if __name__ == "__main__":
    main(sys.argv)
