/*
 * gw_script.h - WSGI scripts loaded and reloaded as modules, and gw_execute, the one
 * per-request entry point of embedded and daemon mode (gw_script.c).
 */
#ifndef GW_SCRIPT_H
#define GW_SCRIPT_H

#include "gw_interp.h"
#include "gw_request.h"

/*
 * The module of `script` in interpreter `ip`, loaded or reloaded as needed.
 * Returns a new reference, or NULL after logging (Python error cleared).
 */
PyObject *gw_script_module(gw_interp *ip, gw_reqio *io, server_rec *s, const char *script,
                           int reloading, const char *resource, const char *kind);
void gw_preload_import_scripts(server_rec *s, const char *process_group);

/* What gw_execute needs besides the environ table. */
typedef struct {
    const char *script;             /* file to load */
    const char *application_group;  /* expanded interpreter name ("" = main) */
    const char *callable_object;
    int script_reloading;
    const char *resource;           /* passed to reload_required() */
    int daemon;                     /* running in a daemon process */
    int multithread, multiprocess, run_once;
    int enable_sendfile;
    int is_head;
} gw_execute_args;

/*
 * Run one WSGI request end to end: take the interpreter of the group, load
 * (or reload) the script, find the callable (404 if missing), build environ
 * from `env` (CGI variables + mod_wsgi.* carriers), call the application
 * through the adapter, release the interpreter.  Called WITHOUT the GIL.
 * Returns OK when a response was produced, else an HTTP status to send.
 * This is the single entry point for both embedded and daemon mode.
 */
int gw_execute(gw_reqio *io, server_rec *s, const apr_table_t *env, const gw_execute_args *a);

#endif /* GW_SCRIPT_H */
