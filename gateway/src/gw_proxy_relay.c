/*
 * gw_proxy_relay.c - the Apache child's side of daemon mode, the response: the
 * daemon's frames read from the non-blocking socket (with the file descriptors that
 * ride on 'S' frames) and relayed as they come, headers into the request_rec, data
 * and passed files as buckets down the filter chain, flushed whenever the daemon has
 * nothing more for the moment; the end, an abort or an error status recorded in the
 * gw_px for gw_proxy.c to answer with.
 */
#include "gw_proxy_relay.h"
#include "gw_profile.h"
#include "gw_wire.h"

#include <unistd.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

apr_status_t gw_px_close_fd(void *data)
{
    close((int)(intptr_t)data);
    return APR_SUCCESS;
}

static void set_headers(gw_px *x, const gw_wire_headers *h, const gw_wire_pair *pairs)
{
    request_rec *r = x->r;
    uint32_t i;
    r->status = (int)h->status;
    r->status_line = apr_pstrdup(r->pool, h->status_line);
    for (i = 0; i < h->npairs; i++) {
        const char *name = pairs[i].key, *value = apr_pstrdup(r->pool, pairs[i].value);
        if (!strcasecmp(name, "Content-Type")) {
            ap_set_content_type(r, value);
        }
        else if (!strcasecmp(name, "Content-Length")) {
            apr_off_t v;
            char *end;
            if (apr_strtoff(&v, value, &end, 10) == APR_SUCCESS)
                ap_set_content_length(r, v);
        }
        else if (!strcasecmp(name, "WWW-Authenticate")) {
            apr_table_add(r->err_headers_out, name, value);
        }
        else {
            apr_table_add(r->headers_out, name, value);
        }
    }
}

int gw_px_pass(gw_px *x, int flush)
{
    conn_rec *c = x->r->connection;
    apr_status_t rv;
    if (x->client_gone) {
        apr_brigade_cleanup(x->bb);
        return -1;
    }
    if (flush)
        APR_BRIGADE_INSERT_TAIL(x->bb, apr_bucket_flush_create(c->bucket_alloc));
    if (APR_BRIGADE_EMPTY(x->bb))
        return 0;
    rv = ap_pass_brigade(x->r->output_filters, x->bb);
    apr_brigade_cleanup(x->bb);
    x->unflushed = !flush;
    if (rv != APR_SUCCESS || c->aborted) {
        x->client_gone = 1;
        return -1;
    }
    return 0;
}

/* Turn the buffered bytes into headers and buckets.  0, or -1 on a protocol error. */
static int process(gw_px *x)
{
    request_rec *r = x->r;
    conn_rec *c = r->connection;
    while (!x->finished) {
        size_t avail = x->rend - x->rstart;
        gw_wire_frame f;
        const unsigned char *payload;
        if (x->in_data) {
            size_t take = avail < x->data_left ? avail : x->data_left;
            if (!take)
                break;
            APR_BRIGADE_INSERT_TAIL(x->bb,
                                    apr_bucket_transient_create((const char *)x->rbuf + x->rstart,
                                                                take, c->bucket_alloc));
            x->rstart += take;
            x->data_left -= (uint32_t)take;
            x->body_started = 1;
            if (!x->data_left)
                x->in_data = 0;
            continue;
        }
        if (gw_wire_frame_header(x->rbuf + x->rstart, avail, &f) == GW_WIRE_NEED_MORE)
            break;
        if (gw_wire_frame_header(x->rbuf + x->rstart, avail, &f) != GW_WIRE_OK)
            return -1;
        if (f.type == GW_WIRE_DATA) {
            if (!x->headers_done)
                return -1;
            x->rstart += GW_WIRE_HEADER_SIZE;
            x->data_left = f.length;
            x->in_data = f.length > 0;
            continue;
        }
        if (avail < GW_WIRE_HEADER_SIZE + (size_t)f.length) {
            size_t need = GW_WIRE_HEADER_SIZE + (size_t)f.length;
            if (need > x->rcap) {
                unsigned char *nb;
                /* Buckets may still point at the old buffer: it lives in r->pool. */
                nb = apr_palloc(r->pool, need);
                memcpy(nb, x->rbuf + x->rstart, avail);
                x->rbuf = nb;
                x->rcap = need;
                x->rstart = 0;
                x->rend = avail;
            }
            break;
        }
        payload = x->rbuf + x->rstart + GW_WIRE_HEADER_SIZE;
        switch (f.type) {
        case GW_WIRE_HEADERS: {
            gw_wire_headers h;
            size_t maxp = f.length / 10 + 1;
            gw_wire_pair *pairs;
            if (x->headers_done)
                return -1;
            if (maxp > GW_WIRE_MAX_PAIRS)
                maxp = GW_WIRE_MAX_PAIRS;
            pairs = apr_palloc(r->pool, maxp * sizeof(*pairs));
            if (gw_wire_decode_headers(payload, f.length, &h, pairs, maxp) != GW_WIRE_OK)
                return -1;
            set_headers(x, &h, pairs);
            x->headers_done = 1;
            break;
        }
        case GW_WIRE_FILE: {
            uint64_t off, len;
            apr_file_t *file = NULL;
            apr_os_file_t ofd;
            int i;
            if (!x->headers_done || x->nfds == 0 ||
                gw_wire_decode_file(payload, f.length, &off, &len) != GW_WIRE_OK)
                return -1;
            ofd = x->fds[0];
            for (i = 1; i < x->nfds; i++)
                x->fds[i - 1] = x->fds[i];
            x->nfds--;
            apr_pool_cleanup_register(r->pool, (void *)(intptr_t)ofd, gw_px_close_fd,
                                      apr_pool_cleanup_null);
            if (apr_os_file_put(&file, &ofd,
                                APR_FOPEN_READ | (x->sendfile ? APR_FOPEN_SENDFILE_ENABLED : 0),
                                r->pool) != APR_SUCCESS)
                return -1;
            if (len)
                apr_brigade_insert_file(x->bb, file, (apr_off_t)off, (apr_off_t)len, r->pool);
            x->body_started = 1;
            break;
        }
        case GW_WIRE_ERROR: {
            uint32_t st;
            if (gw_wire_decode_error(payload, f.length, &st) != GW_WIRE_OK)
                return -1;
            x->err_status = (int)st;
            x->finished = GW_WIRE_ERROR;
            break;
        }
        case GW_WIRE_END:
            if (!x->headers_done)
                return -1;
            x->finished = GW_WIRE_END;
            break;
        case GW_WIRE_ABORT: x->finished = GW_WIRE_ABORT; break;
        default: return -1;
        }
        x->rstart += GW_WIRE_HEADER_SIZE + (size_t)f.length;
    }
    return 0;
}

/* One read from the daemon: >0 bytes, 0 EOF, -1 error, -2 nothing now. */
static ssize_t read_some(gw_px *x)
{
    struct msghdr mh;
    struct iovec iov;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 8)];
    } ctl;
    ssize_t n;
    if (x->rstart == x->rend)
        x->rstart = x->rend = 0;
    else if (x->rcap - x->rend < 4096 || x->rcap - x->rstart < GW_WIRE_HEADER_SIZE + 64) {
        memmove(x->rbuf, x->rbuf + x->rstart, x->rend - x->rstart);
        x->rend -= x->rstart;
        x->rstart = 0;
    }
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = x->rbuf + x->rend;
    iov.iov_len = x->rcap - x->rend;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    do {
        n = recvmsg(x->fd, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    if (mh.msg_controllen > 0) {
        struct cmsghdr *cm;
        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                int k, cnt = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                for (k = 0; k < cnt; k++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
                    if (x->nfds < 8)
                        x->fds[x->nfds++] = fd;
                    else
                        close(fd);
                }
            }
        }
    }
    if (n > 0) {
        x->rend += (size_t)n;
        x->last_io = apr_time_now();
    }
    return n;
}

/* Nothing arrived for a tick: stop when the group failed or the daemon timed out. */
static int idle_check(gw_px *x, int *timed_out)
{
    if (!x->headers_done && x->rend == x->rstart && x->rt->shm->state == GW_GROUP_FAILED)
        return -1;
    if (apr_time_now() - x->last_io > x->timeout) {
        *timed_out = 1;
        return -1;
    }
    return 0;
}

static int wait_readable(gw_px *x)
{
    struct pollfd pf;
    pf.fd = x->fd;
    pf.events = POLLIN;
    return poll(&pf, 1, GW_PX_TICK_MS);
}

void gw_px_drain(gw_px *x)
{
    char sink[8192];
    for (;;) {
        ssize_t n;
        if (wait_readable(x) == 0) {
            if (apr_time_now() - x->last_io > x->timeout)
                return;
            continue;
        }
        n = recv(x->fd, sink, sizeof(sink), 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return;
        if (n > 0)
            x->last_io = apr_time_now();
    }
}

int gw_px_pump(gw_px *x, int blocking, int *timed_out)
{
    /* Right after the request went out: wait for the answer before reading. */
    if (blocking && !x->finished) {
        while (wait_readable(x) == 0)
            if (idle_check(x, timed_out) < 0)
                return -1;
    }
    for (;;) {
        ssize_t n;
        if (x->finished)
            return 0;
        n = read_some(x);
        if (n > 0) {
            if (process(x) < 0) {
                x->protocol_error = 1;
                return -1;
            }
            if (gw_px_pass(x, 0) < 0)
                return -1;
            continue;
        }
        if (n == 0 || n == -1) {
            x->daemon_closed = 1;
            return -1;
        }
        /* Nothing more for now: what was passed goes to the client. */
        if (x->unflushed && gw_px_pass(x, 1) < 0)
            return -1;
        if (!blocking)
            return 0;
        while (wait_readable(x) == 0)
            if (idle_check(x, timed_out) < 0)
                return -1;
    }
}
