/*
 * gw_proxy_relay.h - the response side of the Apache child's proxy to a daemon
 * (gw_proxy_relay.c), and the state of one proxied request, shared with gw_proxy.c.
 */
#ifndef GW_PROXY_RELAY_H
#define GW_PROXY_RELAY_H

#include "gw_daemon_state.h"

#define GW_PX_RBUF_SIZE (32 * 1024)   /* the response read buffer */
#define GW_PX_TICK_MS   100              /* poll interval: timeouts and group failure checks */

/* One request proxied to a daemon. */
typedef struct {
    request_rec *r;
    gw_daemon_group *g;
    gw_daemon_rt *rt;
    int fd;
    apr_bucket_brigade *bb;
    unsigned char *rbuf;
    size_t rcap, rstart, rend;
    uint32_t data_left;
    int in_data;
    int headers_done, body_started, unflushed;
    int finished;                   /* 0, or GW_WIRE_END / _ABORT / _ERROR */
    int err_status;
    int protocol_error, client_gone, daemon_closed;
    int fds[8], nfds;
    int sendfile;                   /* WSGIEnableSendfile: passed files go out with sendfile() */
    int connects;                   /* connect() attempts it took (mod_wsgi.daemon_connects) */
    apr_time_t last_io;
    apr_interval_time_t timeout;
} gw_px;

/* Pool cleanup closing a descriptor (the connection, a passed file). */
apr_status_t gw_px_close_fd(void *data);
/* Pass what is buffered for the client down the filter chain (flush: and flush it).
   0, or -1 when the client is gone. */
int gw_px_pass(gw_px *x, int flush);
/*
 * Read and relay whatever the daemon has: when blocking, until the response is
 * finished; else only what is there now.  0, or -1 when relaying must stop
 * (EOF, error, client gone, group failed, timeout).
 */
int gw_px_pump(gw_px *x, int blocking, int *timed_out);
/* Discard the daemon's answer to a request the child gives up on, until the daemon
 * closes (or goes quiet for the socket timeout). */
void gw_px_drain(gw_px *x);

#endif /* GW_PROXY_RELAY_H */
