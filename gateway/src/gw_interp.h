/*
 * gw_interp.h - the Python side of mod_gateway: interpreters, the objects a
 * WSGI application sees, script loading.  Shared by embedded and daemon mode.
 */
#ifndef GW_INTERP_H
#define GW_INTERP_H

#include "gw_config.h"
#include "gw_request.h"

#define GW_THREAD_LOCAL __thread

/* ------------------------------------------------------------- gw_interp.c */

typedef struct gw_interp {
    const char *name;               /* application group; "" = main interpreter */
    int index;                      /* slot in the per-thread thread-state cache */
    PyInterpreterState *interp;
    apr_thread_mutex_t *import_lock;/* serialises script (re)loading */
    PyObject *module;               /* this interpreter's mod_wsgi module (borrowed) */
} gw_interp;

/* Settings for the interpreters of this process (embedded or one daemon group). */
typedef struct {
    const char *process_group;      /* "" embedded */
    const char *python_home;
    const char *python_path;
    const char *python_eggs;
    int optimize;
    int restrict_stdin;
    int restrict_stdout;
    int restrict_signal;
    int dont_write_bytecode;
    const char *hash_seed;
    apr_array_header_t *warnings;
    int multithread;                /* wsgi.multithread */
    int multiprocess;               /* wsgi.multiprocess */
} gw_python_settings;

extern gw_python_settings gw_py;
extern int gw_python_ready;

/* Initialise Python in this process (after fork).  0 or -1 (logged). */
int gw_python_init(server_rec *s, apr_pool_t *p);

/* Take the GIL with the thread state of group `name` (created on first use). */
gw_interp *gw_interp_acquire(const char *name, server_rec *s);
void gw_interp_release(gw_interp *ip);
/* The process is stopping with no request running: run each interpreter's atexit callbacks
   (sub-interpreters first, the main one last), as the releases do when they tear Python down. */
void gw_interp_run_exit_callbacks(server_rec *s);

/* ---------------------------------------------------------------- gw_log.c */

extern PyTypeObject GwLog_Type;
extern PyTypeObject GwRestricted_Type;

/* The request whose thread is running (sys.stdout/stderr go to its log). */
extern GW_THREAD_LOCAL gw_reqio *gw_current_io;

PyObject *gw_log_new(gw_reqio *io, int level, const char *name);
/* What an app gets as wsgi.errors over `log` (a new reference; NULL with an exception). */
PyObject *gw_log_errors_stream(PyObject *log);
void gw_log_detach(PyObject *log);   /* flush and forget the request */
PyObject *gw_restricted_new(const char *stream);

/* Log the pending Python exception (with its full traceback) and clear it. */
void gw_log_exception(gw_reqio *io, server_rec *s, const char *headline);
/* Write one or more lines to the error log (io may be NULL). */
void gw_log_lines(gw_reqio *io, server_rec *s, int level, const char *text, apr_size_t len);

/* -------------------------------------------------------------- gw_input.c */

extern PyTypeObject GwInput_Type;
PyObject *gw_input_new(gw_reqio *io);
void gw_input_expire(PyObject *input);

/* ------------------------------------------------------------ gw_adapter.c */

extern PyTypeObject GwAdapter_Type;
extern PyTypeObject GwFileWrapper_Type;

typedef struct {
    gw_reqio *io;
    server_rec *server;             /* for log lines outside a request */
    PyObject *environ;              /* the dict handed to the app (owned by caller) */
    PyObject *application;          /* the callable */
    const char *script;             /* path, for log lines */
    int enable_sendfile;
    int is_head;
} gw_call;

/*
 * Run the WSGI application with the GIL held.  Returns OK when the response
 * was produced (possibly aborted after starting), or an HTTP status (500)
 * when nothing was sent and the caller must answer with that error.
 */
int gw_adapter_run(gw_call *call);
PyObject *gw_file_wrapper_type(void);

/* ------------------------------------------------------------ gw_environ.c */

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

/* ------------------------------------------------------------- gw_script.c */

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

/* The mod_wsgi module of an interpreter (version, groups, FileWrapper). */
PyObject *gw_module_create(const char *process_group, const char *application_group);

#endif /* GW_INTERP_H */
