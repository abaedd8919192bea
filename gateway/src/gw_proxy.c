/*
 * gw_proxy.c - the Apache child's side of daemon mode (gw_daemon_handle):
 * connect to the group's socket, send the request ('Q' + body frames) and
 * relay the response (gw_proxy_relay.c) to the client as it is produced, with
 * bounded memory; then the outcome: truncation and the profile's errors.
 *
 * One thread, one non-blocking socket: while the request body is still being
 * sent, response bytes that arrive are relayed at once (an app may answer
 * before it has read everything), so neither side can deadlock on full
 * buffers.  Response data is passed down the filter chain per read and
 * flushed whenever the daemon has nothing more for the moment, so each chunk
 * the application produces reaches the client without waiting for the next.
 */
#include "gw_proxy.h"
#include "gw_daemon.h"
#include "gw_profile.h"
#include "gw_proxy_relay.h"
#include "gw_wire.h"

#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

/*
 * The request-body buffer (here) and the response read buffer (GW_PX_RBUF_SIZE) come from
 * r->pool, so after the request they stay with the connection's recycled pool (up to
 * MaxMemFree each), filled as far as a read reached: one pair per connection in flight.
 * At 256 and 128 KiB a child in daemon mode peaked 4-5 MiB above mod_wsgi 6.1.1's under
 * 16 connections of 1 MiB bodies, at 64 KiB still ~1 MiB above; at 32 KiB it is no
 * larger, at the same req/s (16 KiB reads cost 1 MiB GETs a third of theirs).
 */
#define BODY_CHUNK (32 * 1024)

/* ---------------------------------------------------------------- request */

/* Write all of iov (non-blocking socket), relaying response bytes meanwhile.
 * 0 done, 1 stop sending (response finished or daemon closed), -1 relay failed. */
static int send_iov(gw_px *x, struct iovec *iov, int n, int *timed_out)
{
    while (n > 0) {
        ssize_t w = writev(x->fd, iov, n);
        if (w < 0) {
            struct pollfd pf;
            int pr;
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return 1;   /* EPIPE/ECONNRESET: read what the daemon said */
            pf.fd = x->fd;
            pf.events = POLLOUT | POLLIN;
            pr = poll(&pf, 1, GW_PX_TICK_MS);
            if (pr > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
                if (gw_px_pump(x, 0, timed_out) < 0)
                    return x->client_gone ? -1 : 1;
                if (x->finished)
                    return 1;
            }
            else if (pr == 0) {
                if (x->rt->shm->state == GW_GROUP_FAILED && !x->headers_done)
                    return 1;
                if (apr_time_now() - x->last_io > x->timeout) {
                    *timed_out = 1;
                    return 1;
                }
            }
            continue;
        }
        x->last_io = apr_time_now();
        gw_iov_advance(&iov, &n, (size_t)w);
    }
    return 0;
}

/* connect_group's outcome. */
typedef enum {
    CONNECTED,                      /* x->fd is the connection */
    CONNECT_FAILED, /* no socket, or none within connect-timeout; errno says why */
    CONNECT_GROUP_FAILED /* the group failed meanwhile: waiting on is pointless */
} connect_result;

static connect_result connect_group(gw_px *x)
{
    struct sockaddr_un sa;
    apr_time_t deadline =
        apr_time_now() + apr_time_from_sec(x->g->connect_timeout > 0 ? x->g->connect_timeout : 15);
    long delay_us = 5000;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    apr_cpystrn(sa.sun_path, x->rt->socket_path, sizeof(sa.sun_path));
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e;
        struct timespec ts;
        if (fd < 0)
            return CONNECT_FAILED;
        x->connects++;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            x->fd = fd;
            return CONNECTED;
        }
        e = errno;
        close(fd);
        if (x->rt->shm->state == GW_GROUP_FAILED)
            return CONNECT_GROUP_FAILED;
        if (e != EAGAIN && e != ECONNREFUSED && e != ENOENT && e != EINTR) {
            errno = e;
            return CONNECT_FAILED;
        }
        if (apr_time_now() >= deadline) {
            errno = e;
            return CONNECT_FAILED;
        }
        ts.tv_sec = 0;
        ts.tv_nsec = delay_us * 1000;
        nanosleep(&ts, NULL);
        if (delay_us < 100000)
            delay_us *= 2;
    }
}

static void abort_client(gw_px *x)
{
    request_rec *r = x->r;
    conn_rec *c = r->connection;
    if (x->client_gone)
        return;
    c->keepalive = AP_CONN_CLOSE;
    APR_BRIGADE_INSERT_TAIL(
        x->bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool, c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(x->bb, apr_bucket_flush_create(c->bucket_alloc));
    ap_pass_brigade(r->output_filters, x->bb);
    apr_brigade_cleanup(x->bb);
    c->aborted = 1;
}

/* ---------------------------------------------------------------- handler */

/* gw_daemon_handle's phases up to the relaying (start, open_connection,
 * encode_request, send_request) return OK to go on, or the status to answer with,
 * having logged why. */

/* The group failed to start (found before, while or after connecting): 503.  The
 * cause itself is logged once, when the group failed (gw_daemon.c). */
static int answer_unavailable(gw_px *x)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r,
                  "mod_gateway (pid=%d): Daemon process group "
                  "'%s' is not available (it cannot start; the cause was logged when it "
                  "failed); answering 503: %s",
                  (int)getpid(), x->g->name, x->r->filename);
    return HTTP_SERVICE_UNAVAILABLE;
}

/* Set x up for r, unless the group cannot take it at all. */
static int start(gw_px *x, request_rec *r, gw_daemon_group *g, const gw_request_config *rc)
{
    memset(x, 0, sizeof(*x));
    x->r = r;
    x->g = g;
    x->rt = gw_daemon_runtime(g);
    x->fd = -1;
    if (!x->rt) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Daemon process group "
                      "'%s' is not running: %s",
                      (int)getpid(), g->name, r->filename);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (x->rt->shm->state == GW_GROUP_FAILED)
        return answer_unavailable(x);
    if (r->read_chunked && gw_profile()->daemon_refuses_chunked) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): A chunked request body "
                      "cannot be passed to daemon process group '%s' (mod_wsgi 3.4 behaviour); "
                      "answering 500: %s",
                      (int)getpid(), g->name, r->filename);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    x->timeout = g->socket_timeout > 0 ? apr_time_from_sec(g->socket_timeout) : r->server->timeout;
    if (x->timeout <= 0)
        x->timeout = apr_time_from_sec(60);
    x->sendfile = rc->enable_sendfile > 0;
    return OK;
}

/* Connect to the group's socket and set up the relaying: OK or 503. */
static int open_connection(gw_px *x, apr_table_t *env)
{
    request_rec *r = x->r;
    /* mod_wsgi.queue_start: the moment the request is handed to the daemon (before
       connecting: a waiting daemon thread takes the connection at once). */
    if (!gw_profile()->timing_queue_start_is_request) {
        char buf[32];
        apr_snprintf(buf, sizeof(buf), "%" APR_TIME_T_FMT, apr_time_now());
        apr_table_set(env, "mod_wsgi.queue_start", buf);
    }
    switch (connect_group(x)) {
    case CONNECT_GROUP_FAILED: return answer_unavailable(x);
    case CONNECT_FAILED:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r,
                      "mod_gateway (pid=%d): Unable to "
                      "connect to WSGI daemon process '%s' on '%s' within connect-timeout; "
                      "answering 503: %s",
                      (int)getpid(), x->g->name, x->rt->socket_path, r->filename);
        return HTTP_SERVICE_UNAVAILABLE;
    case CONNECTED: break;
    }
    apr_pool_cleanup_register(r->pool, (void *)(intptr_t)x->fd, gw_px_close_fd,
                              apr_pool_cleanup_null);
    x->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    x->rbuf = apr_palloc(r->pool, GW_PX_RBUF_SIZE);
    x->rcap = GW_PX_RBUF_SIZE;
    x->last_io = apr_time_now();
    return OK;
}

/* The 'Q' frame, into *q: OK, or 431 when it is over the wire's limits. */
static int encode_request(gw_px *x, const gw_request_config *rc, apr_table_t *env, struct iovec *q)
{
    request_rec *r = x->r;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    gw_wire_pair *pairs;
    size_t npairs = 0, qsize;
    uint32_t flags = GW_WIRE_Q_PASSFD;
    int i;

    if (gw_profile()->has_request_counters) {
        /* A daemon being replaced finishes what it accepted, so no request is ever resent
           to its successor: no restarts to count. */
        apr_table_set(env, "mod_wsgi.daemon_connects", apr_itoa(r->pool, x->connects));
        apr_table_setn(env, "mod_wsgi.daemon_restarts", "0");
    }
    if (rc->script_reloading)
        flags |= GW_WIRE_Q_RELOADING;
    if (x->sendfile)
        flags |= GW_WIRE_Q_SENDFILE;
    if (r->header_only)
        flags |= GW_WIRE_Q_HEAD;

    arr = apr_table_elts(env);
    e = (const apr_table_entry_t *)arr->elts;
    pairs = apr_palloc(r->pool, sizeof(*pairs) * (arr->nelts + 1));
    for (i = 0; i < arr->nelts; i++) {
        if (!e[i].key || !e[i].val)
            continue;
        pairs[npairs].key = e[i].key;
        pairs[npairs].key_len = (uint32_t)strlen(e[i].key);
        pairs[npairs].value = e[i].val;
        pairs[npairs].value_len = (uint32_t)strlen(e[i].val);
        npairs++;
    }
    qsize = gw_wire_request_size(r->filename, rc->application_group, rc->callable_object, r->uri,
                                 pairs, npairs);
    if (qsize - GW_WIRE_HEADER_SIZE > GW_WIRE_MAX_META || npairs > GW_WIRE_MAX_PAIRS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Request headers too "
                      "large for daemon process group '%s' (%lu variables, %lu bytes; at most "
                      "%u and %u); answering 431: %s",
                      (int)getpid(), x->g->name, (unsigned long)npairs, (unsigned long)qsize,
                      (unsigned)GW_WIRE_MAX_PAIRS, (unsigned)GW_WIRE_MAX_META, r->filename);
        return HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    q->iov_base = apr_palloc(r->pool, qsize);
    q->iov_len = qsize;
    gw_wire_encode_request(q->iov_base, flags, r->filename, rc->application_group,
                           rc->callable_object, r->uri, pairs, npairs);
    return OK;
}

/*
 * The request: 'Q', then the body as it comes from the client, then 'Z'.  'Q' goes
 * out before any of the body is read, as the releases send the environ first: the
 * daemon runs the app even when the client's body then fails (a client that declares
 * more than it sends and leaves: Apache's first read of it can already report the
 * end, and the app must still see its read fail, ENV-043).  OK also when sending
 * stopped early (the response finished, the daemon closed or the relay failed): the
 * outcome tells; 500 when the daemon does not take the request within socket-timeout
 * or reading the client's body fails.
 */
static int send_request(gw_px *x, struct iovec q, int *timed_out)
{
    request_rec *r = x->r;
    unsigned char bhdr[GW_WIRE_HEADER_SIZE], zhdr[GW_WIRE_HEADER_SIZE];
    struct iovec iov[3];
    char *cbuf = NULL;
    apr_off_t expected = -1, got = 0;
    int k = 0, body_done, rv;

    gw_wire_put_header(zhdr, GW_WIRE_BODY_END, 0);
    body_done = !ap_should_client_block(r);
    if (!body_done) {
        cbuf = apr_palloc(r->pool, BODY_CHUNK);
        if (!r->read_chunked)
            expected = r->remaining;
    }
    iov[k++] = q;
    if (body_done) {
        iov[k].iov_base = zhdr;
        iov[k++].iov_len = sizeof(zhdr);
    }
    rv = send_iov(x, iov, k, timed_out);
    if (*timed_out && !x->headers_done) {
        /* The daemon took none or only part of the request within socket-timeout
         * (its threads busy, the request larger than the socket buffers): 500, as the
         * releases answer; closing hands the daemon an end it drops the request at. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_TIMEUP, r,
                      "mod_gateway (pid=%d): Unable "
                      "to send request details to WSGI daemon process '%s' on '%s' within "
                      "socket-timeout; answering 500: %s",
                      (int)getpid(), x->g->name, x->rt->socket_path, r->filename);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    while (rv == 0 && !body_done) {
        long n = ap_get_client_block(r, cbuf, BODY_CHUNK);
        k = 0;
        if (n < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "mod_gateway (pid=%d): reading "
                          "the request body failed (client disconnected or timed out): "
                          "%s",
                          (int)getpid(), r->filename);
            /* 500 as every release answers, client gone or not.  The daemon must
             * still run the app and see its read fail: end the body with a
             * half-close and wait for the daemon to finish.  Closing at once would
             * reset a connection the daemon has not accepted yet (AF_UNIX resets an
             * embryonic peer), and the app would never run. */
            shutdown(x->fd, SHUT_WR);
            gw_px_drain(x);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (n > 0) {
            got += n;
            gw_wire_put_header(bhdr, GW_WIRE_BODY, (uint32_t)n);
            iov[k].iov_base = bhdr;
            iov[k++].iov_len = sizeof(bhdr);
            iov[k].iov_base = cbuf;
            iov[k++].iov_len = (size_t)n;
        }
        if (n == 0 || (expected >= 0 && got >= expected)) {
            body_done = 1;
            iov[k].iov_base = zhdr;
            iov[k++].iov_len = sizeof(zhdr);
        }
        rv = send_iov(x, iov, k, timed_out);
    }
    return OK;
}

/* Relaying ended with no response headers: why, and what the client gets. */
static int no_headers(gw_px *x, int timed_out)
{
    request_rec *r = x->r;
    if (x->rt->shm->state == GW_GROUP_FAILED)
        return answer_unavailable(x);
    if (timed_out) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Timeout when "
                      "reading response headers from daemon process '%s': %s",
                      (int)getpid(), x->g->name, r->filename);
        return HTTP_GATEWAY_TIME_OUT;
    }
    if (x->protocol_error) {
        /* Bytes that are no response frame (an app writing onto the daemon's socket):
         * every release answers 500 for a malformed response start (its "Malformed
         * header ... from daemon process"), 6.x too, and closes the connection. */
        r->connection->keepalive = AP_CONN_CLOSE;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Malformed "
                      "response from daemon process group '%s' before the response "
                      "headers (not a response frame); answering 500: %s",
                      (int)getpid(), x->g->name, r->filename);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "mod_gateway (pid=%d): Connection closed "
                  "from daemon process group '%s' before the response headers (the "
                  "daemon process died or was restarted): %s",
                  (int)getpid(), x->g->name, r->filename);
    return gw_profile()->daemon_pre_header_death_status;
}

/* The handler's status once the relaying is over. */
static int outcome(gw_px *x, int timed_out)
{
    request_rec *r = x->r;
    if (x->client_gone) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "mod_gateway (pid=%d): Client closed the "
                      "connection during the response; the request in daemon process group "
                      "'%s' is stopped: %s",
                      (int)getpid(), x->g->name, r->filename);
        return OK;
    }
    if (x->finished == GW_WIRE_END) {
        gw_px_pass(x, 0);
        return OK;
    }
    if (x->finished == GW_WIRE_ERROR && !x->body_started) {
        if (x->headers_done) {
            apr_table_clear(r->headers_out);
            r->status = HTTP_OK;
            r->status_line = NULL;
        }
        return x->err_status;
    }
    /* (The daemon sends an error only before the response headers; one after the body
     * started can only be forged by the app, and is a truncation like an abort.) */
    if (x->finished == GW_WIRE_ERROR || x->finished == GW_WIRE_ABORT) {
        abort_client(x);
        return OK;
    }
    if (!x->headers_done)
        return no_headers(x, timed_out);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "mod_gateway (pid=%d): %s from daemon process "
                  "group '%s' before the response was complete; the client sees it truncated: "
                  "%s",
                  (int)getpid(),
                  timed_out           ? "Timeout"
                  : x->protocol_error ? "Malformed response"
                                      : "Connection closed",
                  x->g->name, r->filename);
    abort_client(x);
    return OK;
}

int gw_daemon_handle(request_rec *r, gw_daemon_group *g, const gw_request_config *rc,
                     apr_table_t *env)
{
    gw_px x;
    struct iovec q;
    int timed_out = 0, status;

    if ((status = start(&x, r, g, rc)) != OK || (status = open_connection(&x, env)) != OK ||
        (status = encode_request(&x, rc, env, &q)) != OK ||
        (status = send_request(&x, q, &timed_out)) != OK)
        return status;
    if (!x.client_gone && !timed_out)
        gw_px_pump(&x, 1, &timed_out);
    return outcome(&x, timed_out);
}
