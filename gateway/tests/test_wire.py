"""gw_wire (the child<->daemon framing): round trips, boundaries and hostile input, compiled with
the C compiler.  One harness, one test per section, so a failure (or a mutant killed by the
suite-power tool, which points GW_SRC at its copy) names the contract that broke."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# GW_SRC: the folder with gw_wire.[ch] to test; the suite-power tool points it at a mutant's copy.
SRC = Path(os.environ.get("GW_SRC") or Path(__file__).resolve().parent.parent / "src")

HARNESS = r"""
#include "gw_wire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); return 1; } } while (0)

static const gw_wire_pair P[3] = {{"A", 1, "b", 1}, {"REQUEST_METHOD", 14, "GET", 3}, {"E", 1, "", 0}};
static const uint32_t FLAGS = 0xA1B2C3D4u;      /* four distinct bytes: each must land in its place */

static int same_pairs(const gw_wire_pair *a, const gw_wire_pair *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (a[i].key_len != b[i].key_len || strcmp(a[i].key, b[i].key) ||
            a[i].value_len != b[i].value_len || strcmp(a[i].value, b[i].value))
            return 0;
    return 1;
}

/* A 'Q' or 'H' payload decoded with room for `room` pairs: the result, and how many pairs. */
static int decode_q(const unsigned char *p, size_t n, size_t room, uint32_t *npairs)
{
    gw_wire_request rq;
    gw_wire_pair out[8];
    int rv = gw_wire_decode_request(p, n, &rq, out, room);
    *npairs = rv == GW_WIRE_OK ? rq.npairs : 0;
    return rv;
}

static int decode_h(const unsigned char *p, size_t n, size_t room, uint32_t *npairs)
{
    gw_wire_headers h;
    gw_wire_pair out[8];
    int rv = gw_wire_decode_headers(p, n, &h, out, room);
    *npairs = rv == GW_WIRE_OK ? h.npairs : 0;
    return rv;
}

/* The frame of w bytes in buf carries P's 3 pairs: room for exactly those is enough, one
   less is too big; every truncation of the payload is malformed (not too big, never a
   crash), so is a byte more. */
static int payload_limits(int (*decode)(const unsigned char *, size_t, size_t, uint32_t *),
                          unsigned char *buf, size_t w)
{
    uint32_t n;
    size_t k;
    CHECK(decode(buf + 8, w - 8, 3, &n) == GW_WIRE_OK && n == 3);
    CHECK(decode(buf + 8, w - 8, 2, &n) == GW_WIRE_ETOOBIG);
    for (k = 0; k < w - 8; k++)
        CHECK(decode(buf + 8, k, 8, &n) == GW_WIRE_EMALFORMED);
    buf[w] = 0;
    CHECK(decode(buf + 8, w - 7, 8, &n) == GW_WIRE_EMALFORMED);
    return 0;
}

/* The header's 8 bytes, and each type's length rule at its boundaries. */
static int t_frame(void)
{
    static const struct { unsigned char type; uint32_t length; int rv; } cases[] = {
        {'Q', 0, GW_WIRE_OK}, {'Q', GW_WIRE_MAX_META, GW_WIRE_OK}, {'Q', GW_WIRE_MAX_META + 1, GW_WIRE_ETOOBIG},
        {'H', GW_WIRE_MAX_META, GW_WIRE_OK}, {'H', GW_WIRE_MAX_META + 1, GW_WIRE_ETOOBIG},
        {'B', 0, GW_WIRE_OK}, {'B', GW_WIRE_MAX_DATA, GW_WIRE_OK}, {'B', GW_WIRE_MAX_DATA + 1, GW_WIRE_ETOOBIG},
        {'D', GW_WIRE_MAX_DATA, GW_WIRE_OK}, {'D', GW_WIRE_MAX_DATA + 1, GW_WIRE_ETOOBIG},
        {'Z', 0, GW_WIRE_OK}, {'Z', 1, GW_WIRE_EMALFORMED}, {'E', 0, GW_WIRE_OK}, {'E', 1, GW_WIRE_EMALFORMED},
        {'A', 0, GW_WIRE_OK}, {'A', 1, GW_WIRE_EMALFORMED},
        {'R', 4, GW_WIRE_OK}, {'R', 3, GW_WIRE_EMALFORMED}, {'R', 5, GW_WIRE_EMALFORMED},
        {'S', 16, GW_WIRE_OK}, {'S', 15, GW_WIRE_EMALFORMED}, {'S', 17, GW_WIRE_EMALFORMED},
        {'X', 0, GW_WIRE_EMALFORMED}, {0, 0, GW_WIRE_EMALFORMED}};
    static const unsigned char want[8] = {'D', 0, 0, 0, 0x00, 0x01, 0x23, 0x45};
    unsigned char b[8];
    gw_wire_frame f;
    size_t k;

    gw_wire_put_header(b, GW_WIRE_DATA, 0x12345);
    CHECK(!memcmp(b, want, 8));
    CHECK(gw_wire_frame_header(b, 8, &f) == GW_WIRE_OK && f.type == 'D' && f.flags == 0 && f.length == 0x12345);
    b[1] = 0x5A;                                    /* the flags byte is reported as sent */
    CHECK(gw_wire_frame_header(b, 8, &f) == GW_WIRE_OK && f.flags == 0x5A && f.type == 'D');
    b[1] = 0;
    b[2] = 1;                                       /* each reserved byte must be zero on its own */
    CHECK(gw_wire_frame_header(b, 8, &f) == GW_WIRE_EMALFORMED);
    b[2] = 0;
    b[3] = 1;
    CHECK(gw_wire_frame_header(b, 8, &f) == GW_WIRE_EMALFORMED);
    b[3] = 0;
    for (k = 0; k < 8; k++)
        CHECK(gw_wire_frame_header(b, k, &f) == GW_WIRE_NEED_MORE);
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        gw_wire_put_header(b, cases[k].type, cases[k].length);
        if (gw_wire_frame_header(b, 8, &f) != cases[k].rv ||
            (cases[k].rv == GW_WIRE_OK && (f.type != cases[k].type || f.length != cases[k].length))) {
            printf("FAIL frame '%c' length %lu: want %d\n", cases[k].type, (unsigned long)cases[k].length,
                   cases[k].rv);
            return 1;
        }
    }
    return 0;
}

/* A 'Q' payload of exactly `len` bytes, the resource string making up the size. */
static size_t big_request(unsigned char *out, char *res, size_t len)
{
    size_t fixed = gw_wire_request_size("/s", "", "", "", NULL, 0) - GW_WIRE_HEADER_SIZE;
    memset(res, 'r', len - fixed);
    res[len - fixed] = 0;
    return gw_wire_encode_request(out, 0, "/s", "", "", res, NULL, 0);
}

static int t_request(void)
{
    static const gw_wire_pair empty[4] = {{"", 0, "", 0}, {"", 0, "", 0}, {"", 0, "", 0}, {"", 0, "", 0}};
    gw_wire_pair out[8], *many, *dec;
    gw_wire_request rq;
    gw_wire_frame f;
    unsigned char buf[4096], *mb;
    char *res;
    size_t n = gw_wire_request_size("/s.wsgi", "g", "application", "/x", P, 3), w, k;

    w = gw_wire_encode_request(buf, FLAGS, "/s.wsgi", "g", "application", "/x", P, 3);
    CHECK(w == n);
    CHECK(gw_wire_frame_header(buf, w, &f) == GW_WIRE_OK && f.type == 'Q' && f.length == w - 8);
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 8) == GW_WIRE_OK);
    CHECK(rq.flags == FLAGS && !strcmp(rq.script, "/s.wsgi") && !strcmp(rq.application_group, "g"));
    CHECK(!strcmp(rq.callable_object, "application") && !strcmp(rq.resource, "/x"));
    CHECK(rq.npairs == 3 && same_pairs(out, P, 3));
    CHECK(payload_limits(decode_q, buf, w) == 0);
    /* strings: a NUL inside or a missing terminator is malformed (the script is at payload offset 8) */
    buf[8 + 8 + 2] = 0;
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 8) == GW_WIRE_EMALFORMED);
    buf[8 + 8 + 2] = '.';
    buf[8 + 8 + 7] = 'x';
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 8) == GW_WIRE_EMALFORMED);
    /* no pairs and empty strings: the payload ends on the pair count */
    w = gw_wire_encode_request(buf, 0, "", "", "", "", NULL, 0);
    CHECK(w == gw_wire_request_size("", "", "", "", NULL, 0));
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 8) == GW_WIRE_OK && rq.npairs == 0);
    CHECK(!*rq.script && !*rq.application_group && !*rq.callable_object && !*rq.resource);
    /* ... and a resource of three NULs in its place (its 4 bytes read as a pair count of 0) is
       rejected, not skipped */
    gw_wire_put_u32(buf + w - 9, 3);
    CHECK(gw_wire_decode_request(buf + 8, w - 9, &rq, out, 8) == GW_WIRE_EMALFORMED);
    /* the smallest pairs (10 bytes each) are not taken for an impossible count */
    w = gw_wire_encode_request(buf, 0, "/s", "", "", "", empty, 4);
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 8) == GW_WIRE_OK && rq.npairs == 4);
    w = gw_wire_encode_request(buf, 0, "/s", "", "", "", empty, 1);
    CHECK(gw_wire_decode_request(buf + 8, w - 8, &rq, out, 8) == GW_WIRE_OK && rq.npairs == 1);
    /* a payload of GW_WIRE_MAX_META bytes decodes, one byte more is too big */
    mb = malloc(GW_WIRE_MAX_META + 64);
    res = malloc(GW_WIRE_MAX_META + 1);
    CHECK(mb && res);
    w = big_request(mb, res, GW_WIRE_MAX_META);
    CHECK(w - 8 == GW_WIRE_MAX_META && gw_wire_frame_header(mb, 8, &f) == GW_WIRE_OK);
    CHECK(gw_wire_decode_request(mb + 8, w - 8, &rq, out, 8) == GW_WIRE_OK && !strcmp(rq.resource, res));
    w = big_request(mb, res, GW_WIRE_MAX_META + 1);
    CHECK(gw_wire_decode_request(mb + 8, w - 8, &rq, out, 8) == GW_WIRE_ETOOBIG);
    free(mb);
    free(res);
    /* GW_WIRE_MAX_PAIRS pairs decode (given room), one more is too big whatever the room */
    many = calloc(GW_WIRE_MAX_PAIRS + 1, sizeof(*many));
    dec = calloc(GW_WIRE_MAX_PAIRS + 1, sizeof(*dec));
    CHECK(many && dec);
    for (k = 0; k <= GW_WIRE_MAX_PAIRS; k++)
        many[k].key = many[k].value = "";
    mb = malloc(gw_wire_request_size("/s", "", "", "", many, GW_WIRE_MAX_PAIRS + 1));
    CHECK(mb);
    w = gw_wire_encode_request(mb, 0, "/s", "", "", "", many, GW_WIRE_MAX_PAIRS);
    CHECK(gw_wire_decode_request(mb + 8, w - 8, &rq, dec, GW_WIRE_MAX_PAIRS + 1) == GW_WIRE_OK);
    CHECK(rq.npairs == GW_WIRE_MAX_PAIRS);
    w = gw_wire_encode_request(mb, 0, "/s", "", "", "", many, GW_WIRE_MAX_PAIRS + 1);
    CHECK(gw_wire_decode_request(mb + 8, w - 8, &rq, dec, GW_WIRE_MAX_PAIRS + 1) == GW_WIRE_ETOOBIG);
    free(mb);
    free(many);
    free(dec);
    return 0;
}

static int t_headers(void)
{
    static const uint32_t status[] = {99, 100, 200, 999, 1000, 0x10000c8u};
    gw_wire_pair out[8];
    gw_wire_headers h;
    gw_wire_frame f;
    unsigned char buf[4096], *mb;
    char *line;
    size_t w, k, fixed;

    w = gw_wire_encode_headers(buf, 200, "200 OK", P, 3);
    CHECK(w == gw_wire_headers_size("200 OK", P, 3));
    CHECK(gw_wire_frame_header(buf, w, &f) == GW_WIRE_OK && f.type == 'H' && f.length == w - 8);
    CHECK(gw_wire_decode_headers(buf + 8, w - 8, &h, out, 8) == GW_WIRE_OK);
    CHECK(h.status == 200 && !strcmp(h.status_line, "200 OK") && h.npairs == 3 && same_pairs(out, P, 3));
    CHECK(payload_limits(decode_h, buf, w) == 0);
    /* the status is 100..999 */
    for (k = 0; k < sizeof(status) / sizeof(status[0]); k++) {
        w = gw_wire_encode_headers(buf, status[k], "x", NULL, 0);
        CHECK(gw_wire_decode_headers(buf + 8, w - 8, &h, out, 8) ==
              (status[k] >= 100 && status[k] <= 999 ? GW_WIRE_OK : GW_WIRE_EMALFORMED));
        CHECK(status[k] < 100 || status[k] > 999 || (h.status == status[k] && h.npairs == 0));
    }
    /* a payload of GW_WIRE_MAX_META bytes decodes, one byte more is too big */
    mb = malloc(GW_WIRE_MAX_META + 64);
    line = malloc(GW_WIRE_MAX_META + 1);
    CHECK(mb && line);
    fixed = gw_wire_headers_size("", NULL, 0) - GW_WIRE_HEADER_SIZE;
    memset(line, 'h', GW_WIRE_MAX_META + 1 - fixed);
    line[GW_WIRE_MAX_META - fixed] = 0;
    w = gw_wire_encode_headers(mb, 200, line, NULL, 0);
    CHECK(w - 8 == GW_WIRE_MAX_META && gw_wire_decode_headers(mb + 8, w - 8, &h, out, 8) == GW_WIRE_OK);
    line[GW_WIRE_MAX_META - fixed] = 'h';
    line[GW_WIRE_MAX_META + 1 - fixed] = 0;
    w = gw_wire_encode_headers(mb, 200, line, NULL, 0);
    CHECK(w - 8 == GW_WIRE_MAX_META + 1 && gw_wire_decode_headers(mb + 8, w - 8, &h, out, 8) == GW_WIRE_ETOOBIG);
    free(mb);
    free(line);
    return 0;
}

static int t_error(void)
{
    static const uint32_t status[] = {0, 99, 100, 504, 999, 1000, 0x10001f8u};
    unsigned char b[8];
    uint32_t st, k;

    for (k = 0; k < sizeof(status) / sizeof(status[0]); k++) {
        int ok = status[k] >= 100 && status[k] <= 999;
        CHECK(gw_wire_put_u32(b, status[k]) == b + 4);
        st = 7;
        CHECK(gw_wire_decode_error(b, 4, &st) == (ok ? GW_WIRE_OK : GW_WIRE_EMALFORMED));
        CHECK(!ok || st == status[k]);
    }
    gw_wire_put_u32(b, 504);
    CHECK(gw_wire_decode_error(b, 3, &st) == GW_WIRE_EMALFORMED);
    CHECK(gw_wire_decode_error(b, 5, &st) == GW_WIRE_EMALFORMED);
    return 0;
}

/* 'S': two u64, each at most 2^62 (checked one field at a time). */
static int t_file(void)
{
    static const uint64_t lim = (uint64_t)1 << 62;
    static const struct { uint64_t offset, length; int rv; } cases[] = {
        {0, 0, GW_WIRE_OK}, {lim, 0, GW_WIRE_OK}, {0, lim, GW_WIRE_OK}, {lim, lim, GW_WIRE_OK},
        {lim + 1, 0, GW_WIRE_EMALFORMED}, {0, lim + 1, GW_WIRE_EMALFORMED},
        {lim + 1, 5, GW_WIRE_EMALFORMED}, {5, lim + 1, GW_WIRE_EMALFORMED},
        {UINT64_MAX, 0, GW_WIRE_EMALFORMED}, {0, UINT64_MAX, GW_WIRE_EMALFORMED}};
    unsigned char b[24], *e;
    uint64_t o, l;
    size_t k;

    memset(b, 0xEE, sizeof(b));
    e = gw_wire_put_u64(b, 0x0123456789ABCDEFull);
    CHECK(e == b + 8);
    CHECK(gw_wire_put_u64(e, 0x00FEDCBA98765432ull) == b + 16);
    CHECK(gw_wire_decode_file(b, 16, &o, &l) == GW_WIRE_OK);
    CHECK(o == 0x0123456789ABCDEFull && l == 0x00FEDCBA98765432ull);
    CHECK(gw_wire_decode_file(b, 15, &o, &l) == GW_WIRE_EMALFORMED);
    CHECK(gw_wire_decode_file(b, 17, &o, &l) == GW_WIRE_EMALFORMED);
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        gw_wire_put_u64(gw_wire_put_u64(b, cases[k].offset), cases[k].length);
        if (gw_wire_decode_file(b, 16, &o, &l) != cases[k].rv ||
            (cases[k].rv == GW_WIRE_OK && (o != cases[k].offset || l != cases[k].length))) {
            printf("FAIL file case %lu: want %d\n", (unsigned long)k, cases[k].rv);
            return 1;
        }
    }
    return 0;
}

/* gw_wire_check_stream: counts complete frames, returns the first bad frame's error. */
static int t_stream(void)
{
    gw_wire_pair many[65];
    unsigned char s[4096];
    size_t ends[8], nf = 0, w, q, k, cut;
    long r;

    w = q = gw_wire_encode_request(s, 1, "/s.wsgi", "g", "application", "/x", P, 3);
    ends[nf++] = w;
    gw_wire_put_header(s + w, GW_WIRE_BODY, 3);
    memcpy(s + w + 8, "abc", 3);
    ends[nf++] = w += 11;
    gw_wire_put_header(s + w, GW_WIRE_BODY_END, 0);
    ends[nf++] = w += 8;
    w += gw_wire_encode_headers(s + w, 200, "200 OK", P, 2);
    ends[nf++] = w;
    gw_wire_put_header(s + w, GW_WIRE_FILE, 16);
    gw_wire_put_u64(gw_wire_put_u64(s + w + 8, 0), 10);
    ends[nf++] = w += 24;
    gw_wire_put_header(s + w, GW_WIRE_ERROR, 4);
    gw_wire_put_u32(s + w + 8, 504);
    ends[nf++] = w += 12;
    gw_wire_put_header(s + w, GW_WIRE_END, 0);
    ends[nf++] = w += 8;
    CHECK(gw_wire_check_stream(s, w) == (long)nf);
    /* a stream cut anywhere counts the frames complete before the cut: a partial one is no error */
    for (cut = 0; cut <= w; cut++) {
        long want = 0;
        for (k = 0; k < nf; k++)
            want += ends[k] <= cut;
        if (gw_wire_check_stream(s, cut) != want) {
            printf("FAIL stream cut at %lu: want %ld frames\n", (unsigned long)cut, want);
            return 1;
        }
    }
    /* after a good frame: a bad header, an oversized one, a bad payload each end it with their error */
    s[q] = 'X';
    CHECK(gw_wire_check_stream(s, w) == GW_WIRE_EMALFORMED);
    gw_wire_put_header(s + q, GW_WIRE_DATA, GW_WIRE_MAX_DATA + 1);
    CHECK(gw_wire_check_stream(s, w) == GW_WIRE_ETOOBIG);
    gw_wire_put_header(s + q, GW_WIRE_ERROR, 4);
    gw_wire_put_u32(s + q + 8, 42);
    CHECK(gw_wire_check_stream(s, q + 12) == GW_WIRE_EMALFORMED);
    w = gw_wire_encode_headers(s + q, 7, "7", NULL, 0);
    CHECK(gw_wire_check_stream(s, q + w) == GW_WIRE_EMALFORMED);
    /* more pairs than the checker holds: an error or a count, never a write past its array */
    for (k = 0; k < 65; k++) {
        many[k].key = many[k].value = "k";
        many[k].key_len = many[k].value_len = 1;
    }
    w = gw_wire_encode_request(s, 0, "/s", "", "", "", many, 65);
    r = gw_wire_check_stream(s, w);
    CHECK(r == 1 || r < 0);
    w = gw_wire_encode_headers(s, 200, "200 OK", many, 65);
    r = gw_wire_check_stream(s, w);
    CHECK(r == 1 || r < 0);
    return 0;
}

/* Random mutations of a valid stream: must never crash (run under sanitizers when available). */
static int t_fuzz(void)
{
    unsigned char buf[4096];
    size_t w = gw_wire_encode_request(buf, 1, "/s.wsgi", "g", "application", "/x", P, 3);
    unsigned long it;
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
    return 0;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int (*fn)(void); } sections[] = {
        {"frame", t_frame}, {"request", t_request}, {"headers", t_headers}, {"error", t_error},
        {"file", t_file}, {"stream", t_stream}, {"fuzz", t_fuzz}};
    size_t k;
    for (k = 0; argc == 2 && k < sizeof(sections) / sizeof(sections[0]); k++)
        if (!strcmp(argv[1], sections[k].name)) {
            if (sections[k].fn())
                return 1;
            printf("OK\n");
            return 0;
        }
    printf("usage: %s SECTION\n", argv[0]);
    return 2;
}
"""

SECTIONS = ("frame", "request", "headers", "error", "file", "stream", "fuzz")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("wire")
    (d / "t.c").write_text(HARNESS)
    exe = d / "t"
    # Uninitialised locals read as zero, so a decoder that uses a field it never read behaves the
    # same on every run.  Warnings fail the repository's own gw_wire.c, not a mutant's copy: the
    # module build (-Wall, no -Werror) decides whether a mutant is viable, the tests how it behaves.
    flags = ["-O1", "-g", "-Wall"] + ([] if os.environ.get("GW_SRC") else ["-Werror"])
    opt = ["-ftrivial-auto-var-init=zero"]
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    cmd = [cc] + flags + ["-I", str(SRC), str(d / "t.c"), str(SRC / "gw_wire.c"), "-o", str(exe)]
    for extra in (san + opt, san, opt, []):       # the options this compiler has
        out = subprocess.run(cmd + extra, capture_output=True, text=True)
        if out.returncode == 0:
            return exe
    pytest.fail("the harness does not compile:\n" + out.stderr[-3000:])


@pytest.mark.parametrize("section", SECTIONS)
def test_wire(harness, section):
    out = subprocess.run([str(harness), section], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert out.returncode == 0 and out.stdout.strip().endswith("OK"), out.stdout + out.stderr
