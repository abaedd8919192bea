/*
 * gw_log.h - wsgi.errors, sys.stdout/stderr into the error log, tracebacks and the
 * restricted streams (gw_log.c).
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include "gw_request.h"

extern PyTypeObject GwLog_Type;
extern PyTypeObject GwRestricted_Type;

/* The request whose thread is running (sys.stdout/stderr go to its log). */
extern __thread gw_reqio *gw_current_io;
/* The server whose error log takes Python's lines outside a request (set by gw_python_init). */
extern server_rec *gw_main_server;

PyObject *gw_log_new(gw_reqio *io, int level, const char *name);
/* What an app gets as wsgi.errors over `log` (a new reference; NULL with an exception). */
PyObject *gw_log_errors_stream(PyObject *log);
void gw_log_detach(PyObject *log);   /* flush and forget the request */
PyObject *gw_restricted_new(const char *stream);

/* Log the pending Python exception (with its full traceback) and clear it. */
void gw_log_exception(gw_reqio *io, server_rec *s, const char *headline);
/* Write one or more lines to the error log (io may be NULL). */
void gw_log_lines(gw_reqio *io, server_rec *s, int level, const char *text, apr_size_t len);

/* Ready the types once Python runs (gw_python_init); done: before Python is torn down. */
void gw_log_types_ready(void);
void gw_log_types_done(void);

#endif /* GW_LOG_H */
