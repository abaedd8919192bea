"""gw_wire (the child<->daemon framing): round trips and hostile input, compiled with the C compiler."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

HARNESS = r"""
#include "gw_wire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); return 1; } } while (0)

int main(void)
{
    gw_wire_pair p[3] = {{"A", 1, "b", 1}, {"REQUEST_METHOD", 14, "GET", 3}, {"E", 1, "", 0}};
    gw_wire_pair out[8];
    gw_wire_request rq;
    gw_wire_headers h;
    gw_wire_frame f;
    unsigned char buf[4096], *o;
    size_t n = gw_wire_request_size("/s.wsgi", "g", "application", "/x", p, 3), w, hw;
    unsigned long it;
    uint32_t st;

    /* request round trip */
    w = gw_wire_encode_request(buf, 5, "/s.wsgi", "g", "application", "/x", p, 3);
    CHECK(w == n);
    CHECK(gw_wire_frame_header(buf, w, &f) == GW_WIRE_OK && f.type == 'Q' && f.length == w - 8);
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 8) == GW_WIRE_OK);
    CHECK(rq.flags == 5 && !strcmp(rq.script, "/s.wsgi") && !strcmp(rq.resource, "/x"));
    CHECK(rq.npairs == 3 && !strcmp(out[1].key, "REQUEST_METHOD") && !strcmp(out[1].value, "GET"));
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 2) == GW_WIRE_ETOOBIG);
    /* every truncation of the payload is malformed, never a crash */
    for (n = 0; n < w - 8; n++)
        CHECK(gw_wire_decode_request(buf + 8, n, &rq, out, 8) < 0);
    /* headers, error, file, end */
    gw_wire_put_header(buf + w, GW_WIRE_BODY_END, 0);
    hw = gw_wire_encode_headers(buf + w + 8, 200, "200 OK", p, 2);
    CHECK(gw_wire_decode_headers(buf + w + 16, hw - 8, &h, out, 8) == GW_WIRE_OK);
    CHECK(h.status == 200 && !strcmp(h.status_line, "200 OK") && h.npairs == 2);
    o = buf + w + 8 + hw;
    gw_wire_put_header(o, GW_WIRE_ERROR, 4);
    gw_wire_put_u32(o + 8, 504);
    CHECK(gw_wire_decode_error(o + 8, 4, &st) == GW_WIRE_OK && st == 504);
    gw_wire_put_header(o + 12, GW_WIRE_END, 0);
    CHECK(gw_wire_check_stream(buf, (size_t)(o + 20 - buf)) == 5);
    /* limits and bad headers */
    gw_wire_put_header(buf, GW_WIRE_DATA, GW_WIRE_MAX_DATA + 1);
    CHECK(gw_wire_frame_header(buf, 8, &f) == GW_WIRE_ETOOBIG);
    gw_wire_put_header(buf, GW_WIRE_REQUEST, GW_WIRE_MAX_META + 1);
    CHECK(gw_wire_frame_header(buf, 8, &f) == GW_WIRE_ETOOBIG);
    buf[0] = 'X';
    CHECK(gw_wire_frame_header(buf, 8, &f) == GW_WIRE_EMALFORMED);
    CHECK(gw_wire_frame_header(buf, 7, &f) == GW_WIRE_NEED_MORE);
    /* random mutations of a valid stream: must never crash (run under sanitizers when available) */
    w = gw_wire_encode_request(buf, 1, "/s.wsgi", "g", "application", "/x", p, 3);
    gw_wire_put_header(buf + w, GW_WIRE_BODY_END, 0);
    srand(7);
    for (it = 0; it < 300000; it++) {
        unsigned char m[256];
        size_t l = w + 8, cut;
        int k = rand() % 4 + 1;
        memcpy(m, buf, l);
        while (k--)
            m[rand() % l] = (unsigned char)rand();
        cut = (size_t)rand() % (l + 1);
        gw_wire_check_stream(m, cut);
    }
    printf("OK\n");
    return 0;
}
"""


def test_wire_round_trip_and_hostile_input(tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    (tmp_path / "t.c").write_text(HARNESS)
    exe = tmp_path / "t"
    flags = ["-O1", "-g", "-Wall", "-Werror"]
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    cmd = [cc] + flags + ["-I", str(SRC), str(tmp_path / "t.c"), str(SRC / "gw_wire.c"), "-o", str(exe)]
    if subprocess.run(cmd + san, capture_output=True).returncode != 0:
        subprocess.run(cmd, check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert out.returncode == 0 and out.stdout.strip().endswith("OK"), out.stdout + out.stderr
