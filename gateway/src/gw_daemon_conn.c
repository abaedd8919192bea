/*
 * gw_daemon_conn.c - one connection in a daemon process: the request frame read and
 * decoded into the environ table, gw_reqio over the socket (the body de-framed, the
 * response framed: headers, data, passed files, end or abort), then gw_execute.
 */
#include "gw_daemon_conn.h"
#include "gw_interp.h"
#include "gw_script.h"
#include "gw_wire.h"

#include <unistd.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

static gw_daemon_group *G;
static pid_t my_pid;
static int sock_timeout_s;
static volatile int loaded_ok, attempted;  /* startup-timeout: an app answered yet? */

void gw_daemon_conn_init(gw_daemon_group *g)
{
    G = g;
    my_pid = getpid();
    sock_timeout_s =
        G->socket_timeout > 0 ? G->socket_timeout : (int)apr_time_sec(G->server->timeout);
    if (sock_timeout_s <= 0)
        sock_timeout_s = 60;
}

int gw_daemon_conn_app_pending(void)
{
    return !loaded_ok && attempted;
}

typedef struct {
    gw_reqio io;
    int fd;
    server_rec *s;
    const char *remote;
    unsigned char *buf;             /* per-thread read buffer */
    size_t cap, start, end;
    uint32_t body_left;
    int body_eof;
    unsigned char *pending;         /* encoded 'H' frame not written yet */
    size_t pending_len;
    apr_off_t content_length;       /* declared by the app, -1 if none */
    apr_off_t sent;
    unsigned char *tail;            /* the last bytes of a Content-Length body, held */
    size_t tail_len;                /* (written with the end frame: one write) */
    int headers_written, aborted, gone;
} dreq;

static void set_timeouts(int fd, int secs)
{
    struct timeval tv;
    tv.tv_sec = secs;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Have at least `need` bytes buffered (need <= cap).  0, or -1 (EOF, error, timeout). */
static int fill(dreq *d, size_t need)
{
    if (d->end - d->start >= need)
        return 0;
    if (d->start > 0) {
        memmove(d->buf, d->buf + d->start, d->end - d->start);
        d->end -= d->start;
        d->start = 0;
    }
    while (d->end < need) {
        ssize_t n = recv(d->fd, d->buf + d->end, d->cap - d->end, 0);
        if (n > 0)
            d->end += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return -1;
    }
    return 0;
}

static int write_all(dreq *d, struct iovec *iov, int n)
{
    struct msghdr mh;
    while (n > 0) {
        ssize_t w;
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = n;
        w = sendmsg(d->fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            d->gone = 1;
            return -1;
        }
        gw_iov_advance(&iov, &n, (size_t)w);
    }
    return 0;
}

static apr_ssize_t d_read(gw_reqio *io, char *buf, apr_size_t len, const char **errmsg)
{
    dreq *d = (dreq *)io;
    apr_size_t n;
    if (d->body_eof)
        return 0;
    while (d->body_left == 0) {
        gw_wire_frame f;
        if (fill(d, GW_WIRE_HEADER_SIZE) < 0)
            goto failed;
        if (gw_wire_frame_header(d->buf + d->start, d->end - d->start, &f) != GW_WIRE_OK ||
            (f.type != GW_WIRE_BODY && f.type != GW_WIRE_BODY_END)) {
            *errmsg = "mod_gateway: malformed request body frame from the Apache child";
            d->body_eof = 1;
            return -1;
        }
        d->start += GW_WIRE_HEADER_SIZE;
        if (f.type == GW_WIRE_BODY_END) {
            d->body_eof = 1;
            return 0;
        }
        d->body_left = f.length;
    }
    n = len < d->body_left ? len : d->body_left;
    if (d->end > d->start) {
        if (n > d->end - d->start)
            n = d->end - d->start;
        memcpy(buf, d->buf + d->start, n);
        d->start += n;
    }
    else {
        ssize_t r;
        do {
            r = recv(d->fd, buf, n, 0);
        } while (r < 0 && errno == EINTR);
        if (r <= 0)
            goto failed;
        n = (apr_size_t)r;
    }
    d->body_left -= (uint32_t)n;
    return (apr_ssize_t)n;

failed:
    d->body_eof = 1;
    *errmsg = errno == EAGAIN || errno == EWOULDBLOCK
                  ? "mod_gateway: timeout reading the request body from the Apache child"
                  : "mod_gateway: the Apache child closed the connection before the request body "
                    "was complete (client disconnected?)";
    return -1;
}

static int d_send_headers(gw_reqio *io, int status, const char *status_line,
                          const apr_array_header_t *headers)
{
    dreq *d = (dreq *)io;
    const gw_header *h = (const gw_header *)headers->elts;
    gw_wire_pair *pairs = apr_palloc(io->pool, sizeof(*pairs) * (headers->nelts + 1));
    size_t size;
    int i;
    d->content_length = -1;
    for (i = 0; i < headers->nelts; i++) {
        if (!strcasecmp(h[i].name, "Content-Length"))
            d->content_length = apr_atoi64(h[i].value);
        pairs[i].key = h[i].name;
        pairs[i].key_len = (uint32_t)strlen(h[i].name);
        pairs[i].value = h[i].value;
        pairs[i].value_len = (uint32_t)strlen(h[i].value);
    }
    size = gw_wire_headers_size(status_line, pairs, headers->nelts);
    if (headers->nelts > GW_WIRE_MAX_PAIRS || size - GW_WIRE_HEADER_SIZE > GW_WIRE_MAX_META) {
        /* The child's decoder would refuse the frame: say why here, answer 500. */
        gw_io_logf(io, APLOG_ERR,
                   "mod_gateway (pid=%d): Response headers too large to pass "
                   "to the Apache child in daemon process group '%s' (%d headers, %lu bytes; "
                   "at most %u and %u); answering 500.",
                   (int)my_pid, G->name, headers->nelts, (unsigned long)size,
                   (unsigned)GW_WIRE_MAX_PAIRS, (unsigned)GW_WIRE_MAX_META);
        return -1;
    }
    d->pending = apr_palloc(io->pool, size);
    d->pending_len =
        gw_wire_encode_headers(d->pending, (uint32_t)status, status_line, pairs, headers->nelts);
    return 0;
}

/* Write the held 'H' frame, held tail and `data` as 'D' frames, plus `end` (or not). */
static int d_write(dreq *d, const char *data, apr_size_t len, const unsigned char *end,
                   size_t end_len)
{
    do {
        struct iovec iov[6];
        unsigned char hdr[GW_WIRE_HEADER_SIZE], thdr[GW_WIRE_HEADER_SIZE];
        size_t n = len < GW_WIRE_MAX_DATA ? len : GW_WIRE_MAX_DATA;
        int k = 0;
        if (d->pending) {
            iov[k].iov_base = d->pending;
            iov[k++].iov_len = d->pending_len;
            d->pending = NULL;
            d->headers_written = 1;
        }
        if (d->tail) {
            gw_wire_put_header(thdr, GW_WIRE_DATA, (uint32_t)d->tail_len);
            iov[k].iov_base = thdr;
            iov[k++].iov_len = sizeof(thdr);
            iov[k].iov_base = d->tail;
            iov[k++].iov_len = d->tail_len;
            d->tail = NULL;
        }
        if (n) {
            gw_wire_put_header(hdr, GW_WIRE_DATA, (uint32_t)n);
            iov[k].iov_base = hdr;
            iov[k++].iov_len = sizeof(hdr);
            iov[k].iov_base = (void *)data;
            iov[k++].iov_len = n;
        }
        data += n;
        len -= n;
        if (!len && end) {
            iov[k].iov_base = (void *)end;
            iov[k++].iov_len = end_len;
        }
        if (k && write_all(d, iov, k) < 0)
            return -1;
    } while (len > 0);
    return 0;
}

static int d_send_body(gw_reqio *io, const char *data, apr_size_t len)
{
    dreq *d = (dreq *)io;
    if (d->gone)
        return -1;
    d->sent += (apr_off_t)len;
    /*
     * The last bytes of a body with a declared length: the adapter stops right
     * after them, so hold a small one and write it with the end frame.
     */
    if (d->content_length >= 0 && d->sent == d->content_length && len <= 65536 && !d->tail) {
        d->tail = apr_pmemdup(io->pool, data, len ? len : 1);
        d->tail_len = len;
        return 0;
    }
    return d_write(d, data, len, NULL, 0);
}

static int d_flush(gw_reqio *io)
{
    dreq *d = (dreq *)io;
    if (d->gone)
        return -1;
    /* A held tail completes the declared length: the adapter stops right after it, and
     * the end frame carries it, so the child never relays a whole body whose end it has
     * not seen (a daemon killed in between would look like a truncation, DMN-001). */
    if (d->tail)
        return 0;
    return d->pending ? d_write(d, NULL, 0, NULL, 0) : 0;
}

static int d_send_file(gw_reqio *io, int fd, apr_off_t offset, apr_size_t len)
{
    dreq *d = (dreq *)io;
    unsigned char frame[GW_WIRE_HEADER_SIZE + 16], *o;
    struct iovec iov[2];
    struct msghdr mh;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct cmsghdr *cm;
    int k = 0;
    ssize_t w;
    size_t total;

    if (d->gone)
        return -1;
    if (d->tail && d_write(d, NULL, 0, NULL, 0) < 0)
        return -1;
    gw_wire_put_header(frame, GW_WIRE_FILE, 16);
    o = gw_wire_put_u64(frame + GW_WIRE_HEADER_SIZE, (uint64_t)offset);
    gw_wire_put_u64(o, (uint64_t)len);
    if (d->pending) {
        iov[k].iov_base = d->pending;
        iov[k++].iov_len = d->pending_len;
    }
    iov[k].iov_base = frame;
    iov[k++].iov_len = sizeof(frame);
    total = sizeof(frame) + (d->pending ? d->pending_len : 0);
    memset(&mh, 0, sizeof(mh));
    memset(&ctl, 0, sizeof(ctl));
    mh.msg_iov = iov;
    mh.msg_iovlen = k;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    do {
        w = sendmsg(d->fd, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        d->gone = 1;
        return -1;
    }
    d->pending = NULL;
    d->headers_written = 1;
    if ((size_t)w < total) {
        /* The descriptor went with the first byte; finish the rest plainly. */
        struct iovec rest[2];
        int m = 0, i;
        size_t skip = (size_t)w;
        for (i = 0; i < k; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            rest[m].iov_base = (char *)iov[i].iov_base + skip;
            rest[m++].iov_len = iov[i].iov_len - skip;
            skip = 0;
        }
        return write_all(d, rest, m);
    }
    return 0;
}

static void d_abort(gw_reqio *io)
{
    dreq *d = (dreq *)io;
    unsigned char hdr[GW_WIRE_HEADER_SIZE];
    if (d->aborted || d->gone)
        return;
    d->aborted = 1;
    gw_wire_put_header(hdr, GW_WIRE_ABORT, 0);
    d_write(d, NULL, 0, hdr, sizeof(hdr));
}

static void d_log(gw_reqio *io, int level, const char *msg)
{
    dreq *d = (dreq *)io;
    if (d->remote)
        ap_log_error(APLOG_MARK, level, 0, d->s, "[" GW_PEER_TAG " %s] %s", d->remote, msg);
    else
        ap_log_error(APLOG_MARK, level, 0, d->s, "%s", msg);
}

static void send_final(dreq *d, int status)
{
    unsigned char hdr[GW_WIRE_HEADER_SIZE + 4];
    struct iovec iov[1];
    if (d->gone || d->aborted)
        return;
    if (status != OK && !d->headers_written) {
        d->pending = NULL;
        d->tail = NULL;
        gw_wire_put_header(hdr, GW_WIRE_ERROR, 4);
        gw_wire_put_u32(hdr + GW_WIRE_HEADER_SIZE, (uint32_t)status);
        iov[0].iov_base = hdr;
        iov[0].iov_len = sizeof(hdr);
        write_all(d, iov, 1);
        return;
    }
    if (status != OK) {
        /* Headers already went out: the best we can say is "truncated". */
        d_abort(&d->io);
        return;
    }
    gw_wire_put_header(hdr, GW_WIRE_END, 0);
    d_write(d, NULL, 0, hdr, GW_WIRE_HEADER_SIZE);
}

void gw_daemon_connection(int fd, unsigned char *buf, apr_pool_t *pool)
{
    dreq d;
    gw_wire_frame f;
    gw_wire_request rq;
    gw_wire_pair *pairs;
    unsigned char *meta;
    size_t max_pairs;
    apr_table_t *env;
    gw_execute_args a;
    apr_time_t daemon_start = apr_time_now();
    const char *qs, *ra, *rp;
    char tbuf[32];
    unsigned int i;
    int status;

    memset(&d, 0, sizeof(d));
    d.fd = fd;
    d.s = G->server;
    d.buf = buf;
    d.cap = GW_DAEMON_READ_BUF;
    d.io.ctx = &d;
    d.io.pool = pool;
    d.io.read_body = d_read;
    d.io.send_headers = d_send_headers;
    d.io.send_body = d_send_body;
    d.io.flush = d_flush;
    d.io.abort = d_abort;
    d.io.log = d_log;
    set_timeouts(fd, sock_timeout_s);

    if (fill(&d, GW_WIRE_HEADER_SIZE) < 0)
        return;             /* the child went away before sending anything */
    if (gw_wire_frame_header(d.buf, d.end, &f) != GW_WIRE_OK || f.type != GW_WIRE_REQUEST) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, G->server,
                     "mod_gateway (pid=%d): malformed "
                     "request frame on the socket of daemon process group '%s'.",
                     (int)my_pid, G->name);
        return;
    }
    /* The environ goes to the pool (strings stay valid while the body streams). */
    meta = apr_palloc(pool, f.length ? f.length : 1);
    {
        size_t have = d.end - GW_WIRE_HEADER_SIZE, want = f.length;
        if (have > want)
            have = want;
        memcpy(meta, d.buf + GW_WIRE_HEADER_SIZE, have);
        d.start = GW_WIRE_HEADER_SIZE + have;
        while (have < want) {
            ssize_t n = recv(fd, meta + have, want - have, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                /* The child gave the request up before handing all of it over. */
                ap_log_error(APLOG_MARK, APLOG_ERR, n < 0 ? errno : 0, G->server,
                             "mod_gateway (pid=%d): Unable to read the request from the "
                             "Apache child (the connection ended after %lu of %lu bytes) in "
                             "daemon process group '%s'; it is dropped.",
                             (int)my_pid, (unsigned long)have, (unsigned long)want, G->name);
                return;
            }
            have += (size_t)n;
        }
    }
    max_pairs = f.length / 10 + 1;
    if (max_pairs > GW_WIRE_MAX_PAIRS)
        max_pairs = GW_WIRE_MAX_PAIRS;
    pairs = apr_palloc(pool, max_pairs * sizeof(*pairs));
    if (gw_wire_decode_request(meta, f.length, &rq, pairs, max_pairs) != GW_WIRE_OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, G->server,
                     "mod_gateway (pid=%d): malformed "
                     "request on the socket of daemon process group '%s'.",
                     (int)my_pid, G->name);
        return;
    }
    env = apr_table_make(pool, rq.npairs + 4);
    for (i = 0; i < rq.npairs; i++)
        apr_table_addn(env, pairs[i].key, pairs[i].value);
    apr_snprintf(tbuf, sizeof(tbuf), "%" APR_TIME_T_FMT, daemon_start);
    apr_table_setn(env, "mod_wsgi.daemon_start", apr_pstrdup(pool, tbuf));
    ra = apr_table_get(env, "REMOTE_ADDR");
    rp = apr_table_get(env, "REMOTE_PORT");
    if (ra)
        d.remote = rp && GW_PEER_HAS_PORT ? apr_pstrcat(pool, ra, ":", rp, NULL) : ra;
    if (rq.flags & GW_WIRE_Q_PASSFD)
        d.io.send_file = d_send_file;

    {
        const char *cl = apr_table_get(env, "CONTENT_LENGTH");
        d.io.body_hint = cl ? apr_atoi64(cl) : 0;
        if (d.io.body_hint < 0)
            d.io.body_hint = 0;
    }
    qs = apr_table_get(env, "mod_wsgi.queue_start");
    if (G->queue_timeout > 0 && qs &&
        daemon_start - (apr_time_t)apr_atoi64(qs) > apr_time_from_sec(G->queue_timeout)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, G->server,
                     "[" GW_PEER_TAG " %s] mod_gateway (pid=%d): "
                     "Queue timeout expired for WSGI daemon process '%s'.",
                     d.remote ? d.remote : "-", (int)my_pid, G->name);
        send_final(&d, HTTP_GATEWAY_TIME_OUT);
        return;
    }

    memset(&a, 0, sizeof(a));
    a.script = rq.script;
    a.application_group = rq.application_group;
    a.callable_object = rq.callable_object;
    a.script_reloading = (rq.flags & GW_WIRE_Q_RELOADING) != 0;
    a.resource = rq.resource;
    a.daemon = 1;
    a.multithread = gw_py.multithread;
    a.multiprocess = gw_py.multiprocess;
    a.enable_sendfile = (rq.flags & GW_WIRE_Q_SENDFILE) != 0;
    a.is_head = (rq.flags & GW_WIRE_Q_HEAD) != 0;
    attempted = 1;
    status = gw_execute(&d.io, G->server, env, &a);
    if (status == OK)
        loaded_ok = 1;
    send_final(&d, status);
}
