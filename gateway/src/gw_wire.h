/*
 * gw_wire.h - the framing between an Apache child and a daemon process.
 *
 * The ONE encoder/decoder of the child<->daemon protocol.  Pure C over byte
 * buffers: no sockets, no APR, no Python, so a fuzz target can link gw_wire.c
 * alone (see gateway/src/fuzz/).
 *
 * A connection carries one request.  Everything is a frame:
 *
 *     +------+-------+----------+----------------------+
 *     | type | flags | reserved |  length (u32, BE)    |  payload (length bytes)
 *     | u8   | u8    | u16 = 0  |                      |
 *     +------+-------+----------+----------------------+
 *
 * child -> daemon:  'Q' request (once, first), then 'B' body data* and 'Z' end of body.
 * daemon -> child:  'H' status + headers, 'D' body data*, 'S' file (fd passed with
 *                   SCM_RIGHTS on the frame's first byte), then exactly one of
 *                   'E' (complete), 'A' (aborted after the body started: the client
 *                   must see a truncated response) or, instead of 'H', 'R' (an HTTP
 *                   error status for Apache to answer with, nothing sent yet).
 *
 * Payloads (all integers big-endian; strings are counted AND NUL-terminated:
 * u32 n, n bytes, one 0 byte; the decoder checks the terminator so decoded
 * pointers can be used as C strings; strings containing NUL are rejected):
 *
 *   'Q'  u32 flags (GW_WIRE_Q_*), str script, str application_group,
 *        str callable_object, str resource, u32 npairs, npairs x (str key, str value)
 *   'H'  u32 status (100..999), str status_line, u32 npairs, npairs x (str name, str value)
 *   'R'  u32 status
 *   'S'  u64 offset, u64 length
 *   'B' 'D'  raw bytes (length 0 is allowed and means nothing)
 *   'Z' 'E' 'A'  empty
 *
 * Limits: a 'Q' or 'H' payload is at most GW_WIRE_MAX_META bytes and carries at
 * most GW_WIRE_MAX_PAIRS pairs; 'B'/'D' payloads at most GW_WIRE_MAX_DATA (the
 * encoder splits larger writes).  Anything else is malformed.  The encoders do not
 * check the limits: their callers (gw_proxy.c, gw_daemon_serve.c) do, with
 * gw_wire_request_size()/gw_wire_headers_size() and the pair count, and log why.
 * GW_WIRE_MAX_PAIRS is far above what Apache lets through in practice (request
 * headers: LimitRequestFields, default 100; the real mod_wsgi passes 9000 request
 * and 10000 response headers): decoders size their pair arrays by the payload
 * (length / 10 + 1, at most this), so a large limit costs nothing for small frames.
 */
#ifndef GW_WIRE_H
#define GW_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define GW_WIRE_HEADER_SIZE 8
#define GW_WIRE_MAX_META    (4u << 20)    /* request environ / response headers */
#define GW_WIRE_MAX_DATA    (1u << 20)    /* one body frame */
#define GW_WIRE_MAX_PAIRS   65536        /* pairs in one 'Q' / 'H' payload */

/* Frame types. */
#define GW_WIRE_REQUEST  'Q'
#define GW_WIRE_BODY     'B'
#define GW_WIRE_BODY_END 'Z'
#define GW_WIRE_HEADERS  'H'
#define GW_WIRE_DATA     'D'
#define GW_WIRE_FILE     'S'
#define GW_WIRE_END      'E'
#define GW_WIRE_ABORT    'A'
#define GW_WIRE_ERROR    'R'

/* 'Q' flags. */
#define GW_WIRE_Q_RELOADING 0x1u      /* script reloading on */
#define GW_WIRE_Q_SENDFILE  0x2u      /* WSGIEnableSendfile */
#define GW_WIRE_Q_HEAD      0x4u      /* HEAD request (after any HEAD->GET mapping) */
#define GW_WIRE_Q_PASSFD    0x8u      /* the child accepts 'S' frames */

/* Results of the decoders. */
#define GW_WIRE_OK         0
#define GW_WIRE_NEED_MORE  1         /* gw_wire_frame_header: fewer than 8 bytes */
#define GW_WIRE_EMALFORMED (-1)
#define GW_WIRE_ETOOBIG    (-2)

typedef struct {
    unsigned char type;
    unsigned char flags;
    uint32_t length;                  /* payload bytes following the header */
} gw_wire_frame;

typedef struct {
    const char *key;                  /* NUL-terminated, points into the buffer */
    uint32_t key_len;
    const char *value;
    uint32_t value_len;
} gw_wire_pair;

typedef struct {
    uint32_t flags;
    const char *script;
    const char *application_group;
    const char *callable_object;
    const char *resource;
    uint32_t npairs;                  /* pairs decoded into the caller's array */
} gw_wire_request;

typedef struct {
    uint32_t status;
    const char *status_line;
    uint32_t npairs;
} gw_wire_headers;

/*
 * Decode a frame header from buf[0..len).  Returns GW_WIRE_OK (f filled),
 * GW_WIRE_NEED_MORE when len < GW_WIRE_HEADER_SIZE, GW_WIRE_EMALFORMED for an
 * unknown type or non-zero reserved bits, GW_WIRE_ETOOBIG when the length is
 * over the type's limit.
 */
int gw_wire_frame_header(const unsigned char *buf, size_t len, gw_wire_frame *f);

/*
 * Decode a complete 'Q' payload p[0..len) (the bytes after the frame header).
 * Pairs go to pairs[0..max_pairs); more pairs than max_pairs is GW_WIRE_ETOOBIG.
 * Returned pointers point into p.  Never reads outside p[0..len).
 */
int gw_wire_decode_request(const unsigned char *p, size_t len, gw_wire_request *rq,
                           gw_wire_pair *pairs, size_t max_pairs);

/* Decode a complete 'H' payload, like gw_wire_decode_request. */
int gw_wire_decode_headers(const unsigned char *p, size_t len, gw_wire_headers *h,
                           gw_wire_pair *pairs, size_t max_pairs);

/* 'R' payload (4 bytes) -> status 100..999. */
int gw_wire_decode_error(const unsigned char *p, size_t len, uint32_t *status);

/* 'S' payload (16 bytes). */
int gw_wire_decode_file(const unsigned char *p, size_t len, uint64_t *offset, uint64_t *length);

/*
 * Validate a whole byte stream of frames (both directions' types accepted),
 * decoding every 'Q', 'H', 'R' and 'S' payload.  Returns the number of complete
 * frames, or a negative GW_WIRE_E* at the first bad one.  A truncated last
 * frame is not an error (it is simply not counted).  For fuzzing and tests.
 */
long gw_wire_check_stream(const unsigned char *buf, size_t len);

/* ------------------------------------------------------------- encoder */

/* Write a frame header (8 bytes) into out. */
void gw_wire_put_header(unsigned char *out, unsigned char type, uint32_t length);

/* Bytes a counted string of n bytes takes (4 + n + 1). */
#define GW_WIRE_STR_SIZE(n) ((size_t)4 + (size_t)(n) + 1)

/* Append helpers: each writes at out and returns the position after it. */
unsigned char *gw_wire_put_u32(unsigned char *out, uint32_t v);
unsigned char *gw_wire_put_u64(unsigned char *out, uint64_t v);
unsigned char *gw_wire_put_str(unsigned char *out, const char *s, size_t n);

/*
 * Encode a whole 'Q' or 'H' frame (header included) into out, which must hold
 * gw_wire_request_size()/gw_wire_headers_size() bytes.  Returns bytes written.
 */
size_t gw_wire_request_size(const char *script, const char *application_group,
                            const char *callable_object, const char *resource,
                            const gw_wire_pair *pairs, size_t npairs);
size_t gw_wire_encode_request(unsigned char *out, uint32_t flags, const char *script,
                              const char *application_group, const char *callable_object,
                              const char *resource, const gw_wire_pair *pairs, size_t npairs);
size_t gw_wire_headers_size(const char *status_line, const gw_wire_pair *pairs, size_t npairs);
size_t gw_wire_encode_headers(unsigned char *out, uint32_t status, const char *status_line,
                              const gw_wire_pair *pairs, size_t npairs);

/* Frames go out with writev: after a short write of `written` bytes, drop the iovecs it
   finished and trim the next. */
static inline void gw_iov_advance(struct iovec **iov, int *n, size_t written)
{
    while (*n > 0 && written >= (*iov)->iov_len) {
        written -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + written;
        (*iov)->iov_len -= written;
    }
}

#endif /* GW_WIRE_H */
