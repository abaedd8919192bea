/*
 * gw_request.h - the request-I/O interface the WSGI adapter runs over.
 *
 * The adapter (gw_adapter.c), wsgi.input (gw_input.c) and wsgi.errors
 * (gw_log.c) never touch a request_rec.  Embedded mode implements this
 * interface over Apache's request_rec (gw_embedded_io in mod_gateway.c);
 * daemon mode implements it over the UNIX socket to the Apache child.
 *
 * Threading contract: read_body, send_body, send_file and flush are called
 * WITHOUT the GIL (the adapter releases it around them); send_headers, abort
 * and log may be called with or without it and must not call Python.
 */
#ifndef GW_REQUEST_H
#define GW_REQUEST_H

#include "gw_compat.h"

typedef struct {
    const char *name;
    const char *value;
} gw_header;

typedef struct gw_reqio gw_reqio;

struct gw_reqio {
    void *ctx;                      /* implementation data (request_rec *, socket ...) */
    apr_pool_t *pool;               /* lives as long as the request */
    apr_off_t body_hint;            /* expected body bytes (Content-Length); 0 = unknown */
    const char *log_prefix;         /* set by gw_execute: starts the app's own log lines */

    /*
     * Read up to len bytes of the request body (already de-chunked).
     * Returns the byte count, 0 at end of body, -1 on error with *errmsg set.
     * Must never block once the end of the body was seen.
     */
    apr_ssize_t (*read_body)(gw_reqio *io, char *buf, apr_size_t len, const char **errmsg);

    /*
     * Response status and headers, called once before the first body byte
     * (or at the end for an empty body).  status_line is "200 OK";
     * headers is an array of gw_header, already validated (no CR/LF) and
     * including any Content-Length the adapter decided on.
     * Returns 0, or -1 if the response cannot be started.
     */
    int (*send_headers)(gw_reqio *io, int status, const char *status_line,
                        const apr_array_header_t *headers);

    /* Body bytes.  Returns 0, or -1 when the client has gone. */
    int (*send_body)(gw_reqio *io, const char *data, apr_size_t len);

    /*
     * Optional (NULL = not supported): send len bytes of open regular file fd
     * from offset, completely, before returning (the caller closes fd after).
     */
    int (*send_file)(gw_reqio *io, int fd, apr_off_t offset, apr_size_t len);

    /* Push buffered output to the client (write() semantics).  0 or -1. */
    int (*flush)(gw_reqio *io);

    /*
     * The application failed after the body started: end the response so
     * the client can see it is truncated (no final chunk; close connection).
     */
    void (*abort)(gw_reqio *io);

    /* One error-log line about this request (level = APLOG_*). */
    void (*log)(gw_reqio *io, int level, const char *msg);
};

/* Log through io->log with printf formatting. */
void gw_io_logf(gw_reqio *io, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* GW_REQUEST_H */
