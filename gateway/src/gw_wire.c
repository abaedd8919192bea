/*
 * gw_wire.c - encoder/decoder of the child<->daemon framing (see gw_wire.h).
 * Pure functions over byte buffers; no I/O, no allocation.
 */
#include "gw_wire.h"

#include <string.h>

static uint32_t get_u32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_u64(const unsigned char *p)
{
    return ((uint64_t)get_u32(p) << 32) | get_u32(p + 4);
}

int gw_wire_frame_header(const unsigned char *buf, size_t len, gw_wire_frame *f)
{
    uint32_t n;
    if (len < GW_WIRE_HEADER_SIZE)
        return GW_WIRE_NEED_MORE;
    if (buf[2] || buf[3])
        return GW_WIRE_EMALFORMED;
    n = get_u32(buf + 4);
    f->type = buf[0];
    f->flags = buf[1];
    f->length = n;
    switch (buf[0]) {
    case GW_WIRE_REQUEST:
    case GW_WIRE_HEADERS: return n > GW_WIRE_MAX_META ? GW_WIRE_ETOOBIG : GW_WIRE_OK;
    case GW_WIRE_BODY:
    case GW_WIRE_DATA: return n > GW_WIRE_MAX_DATA ? GW_WIRE_ETOOBIG : GW_WIRE_OK;
    case GW_WIRE_BODY_END:
    case GW_WIRE_END:
    case GW_WIRE_ABORT: return n ? GW_WIRE_EMALFORMED : GW_WIRE_OK;
    case GW_WIRE_ERROR: return n != 4 ? GW_WIRE_EMALFORMED : GW_WIRE_OK;
    case GW_WIRE_FILE: return n != 16 ? GW_WIRE_EMALFORMED : GW_WIRE_OK;
    default: return GW_WIRE_EMALFORMED;
    }
}

/* A cursor over a payload; every read is bounds-checked. */
typedef struct {
    const unsigned char *p, *end;
} cursor;

/* A cursor over a 'Q' or 'H' payload of len bytes, and its decoded form `out` zeroed,
   unless the payload is over the limit. */
static int cur_open(cursor *c, const unsigned char *p, size_t len, void *out, size_t out_size)
{
    if (len > GW_WIRE_MAX_META)
        return GW_WIRE_ETOOBIG;
    c->p = p;
    c->end = p + len;
    memset(out, 0, out_size);
    return GW_WIRE_OK;
}

static int cur_u32(cursor *c, uint32_t *v)
{
    if ((size_t)(c->end - c->p) < 4)
        return GW_WIRE_EMALFORMED;
    *v = get_u32(c->p);
    c->p += 4;
    return GW_WIRE_OK;
}

static int cur_str(cursor *c, const char **s, uint32_t *len)
{
    uint32_t n;
    if (cur_u32(c, &n) < 0)
        return GW_WIRE_EMALFORMED;
    /* n bytes + terminator must fit: compare without overflow. */
    if ((size_t)(c->end - c->p) < (size_t)n + 1)
        return GW_WIRE_EMALFORMED;
    if (c->p[n] != 0 || memchr(c->p, 0, n) != NULL)
        return GW_WIRE_EMALFORMED;
    *s = (const char *)c->p;
    if (len)
        *len = n;
    c->p += (size_t)n + 1;
    return GW_WIRE_OK;
}

/* The pairs that end a 'Q' or 'H' payload: nothing may follow them. */
static int cur_pairs(cursor *c, gw_wire_pair *pairs, size_t max_pairs, uint32_t *count)
{
    uint32_t n, i;
    if (cur_u32(c, &n) < 0)
        return GW_WIRE_EMALFORMED;
    if (n > GW_WIRE_MAX_PAIRS || n > max_pairs)
        return GW_WIRE_ETOOBIG;
    /* Each pair takes at least 10 bytes: reject impossible counts early. */
    if ((size_t)(c->end - c->p) / 10 < n)
        return GW_WIRE_EMALFORMED;
    for (i = 0; i < n; i++) {
        if (cur_str(c, &pairs[i].key, &pairs[i].key_len) < 0 ||
            cur_str(c, &pairs[i].value, &pairs[i].value_len) < 0)
            return GW_WIRE_EMALFORMED;
    }
    *count = n;
    return c->p == c->end ? GW_WIRE_OK : GW_WIRE_EMALFORMED;
}

int gw_wire_decode_request(const unsigned char *p, size_t len, gw_wire_request *rq,
                           gw_wire_pair *pairs, size_t max_pairs)
{
    cursor c;
    if (cur_open(&c, p, len, rq, sizeof(*rq)) < 0)
        return GW_WIRE_ETOOBIG;
    if (cur_u32(&c, &rq->flags) < 0 || cur_str(&c, &rq->script, NULL) < 0 ||
        cur_str(&c, &rq->application_group, NULL) < 0 ||
        cur_str(&c, &rq->callable_object, NULL) < 0 || cur_str(&c, &rq->resource, NULL) < 0)
        return GW_WIRE_EMALFORMED;
    return cur_pairs(&c, pairs, max_pairs, &rq->npairs);
}

int gw_wire_decode_headers(const unsigned char *p, size_t len, gw_wire_headers *h,
                           gw_wire_pair *pairs, size_t max_pairs)
{
    cursor c;
    if (cur_open(&c, p, len, h, sizeof(*h)) < 0)
        return GW_WIRE_ETOOBIG;
    if (cur_u32(&c, &h->status) < 0 || h->status < 100 || h->status > 999 ||
        cur_str(&c, &h->status_line, NULL) < 0)
        return GW_WIRE_EMALFORMED;
    return cur_pairs(&c, pairs, max_pairs, &h->npairs);
}

int gw_wire_decode_error(const unsigned char *p, size_t len, uint32_t *status)
{
    if (len != 4)
        return GW_WIRE_EMALFORMED;
    *status = get_u32(p);
    return *status >= 100 && *status <= 999 ? GW_WIRE_OK : GW_WIRE_EMALFORMED;
}

int gw_wire_decode_file(const unsigned char *p, size_t len, uint64_t *offset, uint64_t *length)
{
    if (len != 16)
        return GW_WIRE_EMALFORMED;
    *offset = get_u64(p);
    *length = get_u64(p + 8);
    if (*offset > (UINT64_C(1) << 62) || *length > (UINT64_C(1) << 62))
        return GW_WIRE_EMALFORMED;
    return GW_WIRE_OK;
}

long gw_wire_check_stream(const unsigned char *buf, size_t len)
{
    gw_wire_pair pairs[64];
    size_t pos = 0;
    long frames = 0;
    for (;;) {
        gw_wire_frame f;
        const unsigned char *payload;
        int rv = gw_wire_frame_header(buf + pos, len - pos, &f);
        if (rv == GW_WIRE_NEED_MORE)
            return frames;
        if (rv < 0)
            return rv;
        if (len - pos - GW_WIRE_HEADER_SIZE < f.length)
            return frames;
        payload = buf + pos + GW_WIRE_HEADER_SIZE;
        switch (f.type) {
        case GW_WIRE_REQUEST: {
            gw_wire_request rq;
            rv = gw_wire_decode_request(payload, f.length, &rq, pairs, 64);
            break;
        }
        case GW_WIRE_HEADERS: {
            gw_wire_headers h;
            rv = gw_wire_decode_headers(payload, f.length, &h, pairs, 64);
            break;
        }
        case GW_WIRE_ERROR: {
            uint32_t st;
            rv = gw_wire_decode_error(payload, f.length, &st);
            break;
        }
        case GW_WIRE_FILE: {
            uint64_t o, l;
            rv = gw_wire_decode_file(payload, f.length, &o, &l);
            break;
        }
        default: rv = GW_WIRE_OK;
        }
        if (rv < 0)
            return rv;
        pos += GW_WIRE_HEADER_SIZE + (size_t)f.length;
        frames++;
    }
}

/* ------------------------------------------------------------- encoder */

void gw_wire_put_header(unsigned char *out, unsigned char type, uint32_t length)
{
    out[0] = type;
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
    gw_wire_put_u32(out + 4, length);
}

unsigned char *gw_wire_put_u32(unsigned char *out, uint32_t v)
{
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
    return out + 4;
}

unsigned char *gw_wire_put_u64(unsigned char *out, uint64_t v)
{
    gw_wire_put_u32(out, (uint32_t)(v >> 32));
    return gw_wire_put_u32(out + 4, (uint32_t)v);
}

unsigned char *gw_wire_put_str(unsigned char *out, const char *s, size_t n)
{
    out = gw_wire_put_u32(out, (uint32_t)n);
    if (n)
        memcpy(out, s, n);
    out[n] = 0;
    return out + n + 1;
}

static size_t pairs_size(const gw_wire_pair *pairs, size_t npairs)
{
    size_t n = 4, i;
    for (i = 0; i < npairs; i++)
        n += GW_WIRE_STR_SIZE(pairs[i].key_len) + GW_WIRE_STR_SIZE(pairs[i].value_len);
    return n;
}

static unsigned char *put_pairs(unsigned char *o, const gw_wire_pair *pairs, size_t npairs)
{
    size_t i;
    o = gw_wire_put_u32(o, (uint32_t)npairs);
    for (i = 0; i < npairs; i++) {
        o = gw_wire_put_str(o, pairs[i].key, pairs[i].key_len);
        o = gw_wire_put_str(o, pairs[i].value, pairs[i].value_len);
    }
    return o;
}

size_t gw_wire_request_size(const char *script, const char *application_group,
                            const char *callable_object, const char *resource,
                            const gw_wire_pair *pairs, size_t npairs)
{
    return GW_WIRE_HEADER_SIZE + 4 + GW_WIRE_STR_SIZE(strlen(script)) +
           GW_WIRE_STR_SIZE(strlen(application_group)) + GW_WIRE_STR_SIZE(strlen(callable_object)) +
           GW_WIRE_STR_SIZE(strlen(resource)) + pairs_size(pairs, npairs);
}

size_t gw_wire_encode_request(unsigned char *out, uint32_t flags, const char *script,
                              const char *application_group, const char *callable_object,
                              const char *resource, const gw_wire_pair *pairs, size_t npairs)
{
    unsigned char *o = out + GW_WIRE_HEADER_SIZE;
    o = gw_wire_put_u32(o, flags);
    o = gw_wire_put_str(o, script, strlen(script));
    o = gw_wire_put_str(o, application_group, strlen(application_group));
    o = gw_wire_put_str(o, callable_object, strlen(callable_object));
    o = gw_wire_put_str(o, resource, strlen(resource));
    o = put_pairs(o, pairs, npairs);
    gw_wire_put_header(out, GW_WIRE_REQUEST, (uint32_t)(o - out - GW_WIRE_HEADER_SIZE));
    return (size_t)(o - out);
}

size_t gw_wire_headers_size(const char *status_line, const gw_wire_pair *pairs, size_t npairs)
{
    return GW_WIRE_HEADER_SIZE + 4 + GW_WIRE_STR_SIZE(strlen(status_line)) +
           pairs_size(pairs, npairs);
}

size_t gw_wire_encode_headers(unsigned char *out, uint32_t status, const char *status_line,
                              const gw_wire_pair *pairs, size_t npairs)
{
    unsigned char *o = out + GW_WIRE_HEADER_SIZE;
    o = gw_wire_put_u32(o, status);
    o = gw_wire_put_str(o, status_line, strlen(status_line));
    o = put_pairs(o, pairs, npairs);
    gw_wire_put_header(out, GW_WIRE_HEADERS, (uint32_t)(o - out - GW_WIRE_HEADER_SIZE));
    return (size_t)(o - out);
}
