/*
 * fuzz_wire.c - fuzz target over the child<->daemon frame decoder (gw_wire.c).
 *
 * Built two ways (see Makefile / run.sh):
 *   - with clang's libFuzzer (-fsanitize=fuzzer,address,undefined), LLVMFuzzerTestOneInput
 *     is the entry point;
 *   - without it, standalone.c supplies main(): corpus replay plus bounded random mutation,
 *     under gcc's -fsanitize=address,undefined.
 *
 * One input is used three ways:
 *   1. the whole input as a byte stream of frames (gw_wire_check_stream);
 *   2. input[0] selects a payload decoder for input[1..]: input[0] & 3 is the decoder
 *      (0 request, 1 headers, 2 error, 3 file) and (input[0] >> 2) & 3 how many pairs the
 *      caller has room for (0, 1, 16 or GW_WIRE_MAX_PAIRS);
 *   3. every successful 'Q'/'H' decode is re-encoded with the encoder and decoded again:
 *      the bytes must be identical (the format is canonical) and so must the fields;
 *   4. input[1..] cut at every 0xff byte is encoded as the pairs of an 'H' frame: the
 *      decoder must take it back unless it breaks a documented limit (GW_WIRE_ETOOBIG only
 *      for more than GW_WIRE_MAX_PAIRS pairs or GW_WIRE_MAX_META bytes).
 * Each buffer is a fresh exact-size heap copy, so any read past the end is an ASan report.
 * A broken invariant calls abort() after printing what broke.
 */
#include "../gw_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_wire: invariant broken: %s (%s:%d)\n", what, __FILE__,           \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const size_t ROOM[4] = { 0, 1, 16, GW_WIRE_MAX_PAIRS };

static void check_str(const char *s, uint32_t n, const unsigned char *p, size_t len,
                      const char *what)
{
    CHECK(s != NULL, what);
    CHECK((const unsigned char *)s >= p && (const unsigned char *)s + n < p + len, what);
    CHECK(s[n] == 0 && strlen(s) == n, what);
}

static void check_pairs(const gw_wire_pair *pairs, uint32_t n, size_t room, const unsigned char *p,
                        size_t len)
{
    uint32_t i;
    CHECK(n <= room, "more pairs decoded than the caller had room for");
    for (i = 0; i < n; i++) {
        check_str(pairs[i].key, pairs[i].key_len, p, len,
                  "pair key inside the payload, NUL-terminated");
        check_str(pairs[i].value, pairs[i].value_len, p, len,
                  "pair value inside the payload, NUL-terminated");
    }
}

static void same_pairs(const gw_wire_pair *a, const gw_wire_pair *b, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        CHECK(a[i].key_len == b[i].key_len && !memcmp(a[i].key, b[i].key, a[i].key_len),
              "round trip: same keys");
        CHECK(a[i].value_len == b[i].value_len && !memcmp(a[i].value, b[i].value, a[i].value_len),
              "round trip: same values");
    }
}

/* A decoded 'Q' (rq) or 'H' (h) payload p, re-encoded and decoded again: the same bytes
   (the format is canonical) and the same fields. */
static void roundtrip(const unsigned char *p, size_t len, const gw_wire_request *rq,
                      const gw_wire_headers *h, const gw_wire_pair *pairs)
{
    uint32_t npairs = h ? h->npairs : rq->npairs;
    size_t n = h ? gw_wire_headers_size(h->status_line, pairs, npairs)
                 : gw_wire_request_size(rq->script, rq->application_group, rq->callable_object,
                                        rq->resource, pairs, npairs);
    unsigned char *out = malloc(n);
    gw_wire_frame f;
    gw_wire_request rq2;
    gw_wire_headers h2;
    gw_wire_pair *pairs2 = malloc(sizeof(gw_wire_pair) * (npairs ? npairs : 1));
    CHECK(out && pairs2, "malloc");
    CHECK((h ? gw_wire_encode_headers(out, h->status, h->status_line, pairs, npairs)
             : gw_wire_encode_request(out, rq->flags, rq->script, rq->application_group,
                                      rq->callable_object, rq->resource, pairs, npairs)) == n,
          "encode writes size bytes");
    CHECK(gw_wire_frame_header(out, n, &f) == GW_WIRE_OK &&
              f.type == (h ? GW_WIRE_HEADERS : GW_WIRE_REQUEST) &&
              f.length == n - GW_WIRE_HEADER_SIZE,
          "the encoding has a valid frame header");
    CHECK(f.length == len && !memcmp(out + GW_WIRE_HEADER_SIZE, p, len),
          "re-encodes to the same bytes (canonical format)");
    if (h) {
        CHECK(gw_wire_decode_headers(out + GW_WIRE_HEADER_SIZE, f.length, &h2, pairs2, npairs) ==
                  GW_WIRE_OK,
              "re-encoded headers decode");
        CHECK(h2.status == h->status && h2.npairs == npairs &&
                  !strcmp(h2.status_line, h->status_line),
              "round trip: same status");
    }
    else {
        CHECK(gw_wire_decode_request(out + GW_WIRE_HEADER_SIZE, f.length, &rq2, pairs2, npairs) ==
                  GW_WIRE_OK,
              "re-encoded request decodes");
        CHECK(rq2.flags == rq->flags && rq2.npairs == npairs && !strcmp(rq2.script, rq->script) &&
                  !strcmp(rq2.application_group, rq->application_group) &&
                  !strcmp(rq2.callable_object, rq->callable_object) &&
                  !strcmp(rq2.resource, rq->resource),
              "round trip: same request fields");
    }
    same_pairs(pairs, pairs2, npairs);
    free(out);
    free(pairs2);
}

static void payload(unsigned char sel, const unsigned char *data, size_t size)
{
    /* exact-size copy: reading one byte past the payload is an ASan report */
    unsigned char *p = malloc(size ? size : 1);
    size_t room = ROOM[(sel >> 2) & 3];
    unsigned decoder = sel & 3u;
    gw_wire_pair *pairs = malloc(sizeof(gw_wire_pair) * (room ? room : 1));
    int rv;
    CHECK(p && pairs, "malloc");
    if (size)
        memcpy(p, data, size);
    if (decoder == 0) {
        gw_wire_request rq;
        rv = gw_wire_decode_request(p, size, &rq, pairs, room);
        CHECK(rv == GW_WIRE_OK || rv == GW_WIRE_EMALFORMED || rv == GW_WIRE_ETOOBIG,
              "request result code");
        if (rv == GW_WIRE_OK) {
            check_str(rq.script, (uint32_t)strlen(rq.script), p, size, "script inside the payload");
            check_str(rq.application_group, (uint32_t)strlen(rq.application_group), p, size,
                      "application_group");
            check_str(rq.callable_object, (uint32_t)strlen(rq.callable_object), p, size,
                      "callable_object");
            check_str(rq.resource, (uint32_t)strlen(rq.resource), p, size, "resource");
            check_pairs(pairs, rq.npairs, room, p, size);
            roundtrip(p, size, &rq, NULL, pairs);
        }
    }
    else if (decoder == 1) {
        gw_wire_headers h;
        rv = gw_wire_decode_headers(p, size, &h, pairs, room);
        CHECK(rv == GW_WIRE_OK || rv == GW_WIRE_EMALFORMED || rv == GW_WIRE_ETOOBIG,
              "headers result code");
        if (rv == GW_WIRE_OK) {
            CHECK(h.status >= 100 && h.status <= 999, "status in 100..999");
            check_str(h.status_line, (uint32_t)strlen(h.status_line), p, size, "status line");
            check_pairs(pairs, h.npairs, room, p, size);
            roundtrip(p, size, NULL, &h, pairs);
        }
    }
    else if (decoder == 2) {
        uint32_t st;
        rv = gw_wire_decode_error(p, size, &st);
        CHECK(rv != GW_WIRE_OK || (size == 4 && st >= 100 && st <= 999), "error frame");
    }
    else {
        uint64_t o, l;
        rv = gw_wire_decode_file(p, size, &o, &l);
        CHECK(rv != GW_WIRE_OK || size == 16, "file frame");
    }
    free(pairs);
    free(p);
}

/* Pairs cut from data at 0xff bytes (key, value, key, value ...), encoded, decoded back. */
static void encode_decode(const unsigned char *data, size_t size)
{
    size_t cap = size / 2 + 2, n = 0, i, start = 0, total;
    gw_wire_pair *pairs = malloc(sizeof(gw_wire_pair) * cap), *back;
    char *text = malloc(size + 1);
    unsigned char *out;
    gw_wire_headers h;
    int rv;
    CHECK(pairs && text, "malloc");
    /* strings may not contain NUL: map 0 to '0'; 0xff ends a string */
    for (i = 0; i <= size; i++) {
        if (i == size || data[i] == 0xff) {
            text[i] = 0;
            if (n < cap * 2) {
                if (n % 2 == 0) {
                    pairs[n / 2].key = text + start;
                    pairs[n / 2].key_len = (uint32_t)(i - start);
                }
                else {
                    pairs[n / 2].value = text + start;
                    pairs[n / 2].value_len = (uint32_t)(i - start);
                }
                n++;
            }
            start = i + 1;
        }
        else {
            text[i] = data[i] ? (char)data[i] : '0';
        }
    }
    n /= 2;                                 /* complete pairs only */
    total = gw_wire_headers_size("200 OK", pairs, n);
    out = malloc(total);
    back = malloc(sizeof(gw_wire_pair) * (n ? n : 1));
    CHECK(out && back, "malloc");
    CHECK(gw_wire_encode_headers(out, 200, "200 OK", pairs, n) == total, "encode_headers size");
    rv =
        gw_wire_decode_headers(out + GW_WIRE_HEADER_SIZE, total - GW_WIRE_HEADER_SIZE, &h, back, n);
    if (n > GW_WIRE_MAX_PAIRS || total - GW_WIRE_HEADER_SIZE > GW_WIRE_MAX_META)
        CHECK(rv == GW_WIRE_ETOOBIG, "an encoding over the limits is refused as too big");
    else
        CHECK(rv == GW_WIRE_OK && h.npairs == n,
              "what the encoder writes within the limits decodes");
    if (rv == GW_WIRE_OK)
        same_pairs(pairs, back, (uint32_t)n);
    free(out);
    free(back);
    free(pairs);
    free(text);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    long frames;
    gw_wire_frame f;
    int rv;
    CHECK(copy != NULL, "malloc");
    if (size)
        memcpy(copy, data, size);
    frames = gw_wire_check_stream(copy, size);
    CHECK(frames >= 0 || frames == GW_WIRE_EMALFORMED || frames == GW_WIRE_ETOOBIG,
          "stream result code");
    CHECK(frames <= (long)(size / GW_WIRE_HEADER_SIZE), "no more frames than 8-byte headers fit");
    rv = gw_wire_frame_header(copy, size, &f);
    CHECK(rv == GW_WIRE_OK || rv == GW_WIRE_NEED_MORE || rv == GW_WIRE_EMALFORMED ||
              rv == GW_WIRE_ETOOBIG,
          "frame header result code");
    CHECK(rv != GW_WIRE_NEED_MORE || size < GW_WIRE_HEADER_SIZE, "NEED_MORE only below 8 bytes");
    free(copy);
    if (size >= 1) {
        payload(data[0], data + 1, size - 1);
        encode_decode(data + 1, size - 1);
    }
    return 0;
}
