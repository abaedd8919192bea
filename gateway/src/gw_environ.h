/*
 * gw_environ.h - the WSGI environ (gw_environ.c): a table of strings built in the Apache
 * child, turned into the environ dict where the application runs.
 */
#ifndef GW_ENVIRON_H
#define GW_ENVIRON_H

#include "gw_config.h"

/* Values only Apache's child knows, carried with the environ table. */
typedef struct {
    const char *process_group;
    const char *application_group;
    const char *callable_object;
    const char *script;
    int daemon;                     /* 1 when run in a daemon process */
    int multithread, multiprocess, run_once;
    apr_time_t script_start;        /* set by the caller right before the call */
} gw_environ_info;

/* Build environ as an APR table of strings in the Apache child (request side). */
apr_table_t *gw_environ_table(request_rec *r, const gw_request_config *rc);
/* Add the mod_wsgi.* carrier strings (groups, request_start, ids ...) to t. */
void gw_environ_carriers(request_rec *r, const gw_request_config *rc, apr_table_t *t);

/* Turn the table into the WSGI environ dict (interpreter side, GIL held). */
PyObject *gw_environ_dict(const apr_table_t *t, gw_environ_info *info, PyObject *input,
                          PyObject *errors);
/* Count a finished request (mod_wsgi.thread_requests / total_requests). */
void gw_environ_request_done(void);

#endif /* GW_ENVIRON_H */
