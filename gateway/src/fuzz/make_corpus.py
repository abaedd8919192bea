"""Writes the seed corpus for fuzz_wire (corpus/seed-*), from an encoder written here from the
format in gw_wire.h (not from gw_wire.c), so the seeds also check that the two agree.

Input layout the target reads: the whole file is a stream of frames; its first byte also
selects a payload decoder for the rest ('Q'/'H'/... see fuzz_wire.c).  Seeds of both kinds.
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
    "q-basic": b"Q" + q_payload(),
    "q-empty-strings": b"Q" + q_payload(script="", group="", callable="", resource="", env=()),
    "q-many-pairs": b"Q" + q_payload(env=[("K%d" % i, "v" * (i % 7)) for i in range(40)]),
    "q-room-0": b"P" + q_payload(),              # 'P' & 3 == 0: the caller has room for 0 pairs
    "q-room-1": b"q" + q_payload(),              # 'q' & 3 == 1
    "q-missing-nul": b"Q" + u32(0) + u32(3) + b"abc",
    "q-nul-inside": b"Q" + u32(0) + u32(3) + b"a\0c\0",
    "q-huge-count": b"Q" + q_payload(env=())[:-4] + u32(0xffffffff),
    "q-trailing": b"Q" + q_payload() + b"\0",
    "q-string-len-overflow": b"Q" + u32(0) + u32(0xffffffff) + b"x\0",
    "h-basic": b"H" + h_payload(),
    "h-status-99": b"H" + h_payload(status=99),
    "h-status-1000": b"H" + h_payload(status=1000),
    "h-no-headers": b"H" + h_payload(headers=()),
    "h-utf8-value": b"H" + h_payload(headers=[("X-U", "caf\u00e9")]),
    "r-ok": b"R" + u32(500),
    "r-bad": b"R" + u32(42),
    "s-ok": b"S" + struct.pack(">QQ", 10, 20),
    "s-huge": b"S" + struct.pack(">QQ", 1 << 63, 1),
}


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        (out / ("seed-" + name)).write_bytes(data)
    print("%d seeds in %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main(sys.argv)
