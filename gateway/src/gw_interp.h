/*
 * gw_interp.h - Python in this process (gw_interp.c): initialisation, one
 * interpreter per application group, the GIL, the mod_wsgi module.  Shared by
 * embedded and daemon mode.
 */
#ifndef GW_INTERP_H
#define GW_INTERP_H

#include "gw_compat.h"

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

/* Fill gw_py from the server-wide WSGIPython* directives for `process_group` ("" embedded);
   multithread and multiprocess are left 0 for the caller. */
void gw_python_settings_from_global(const char *process_group);

/* Initialise Python in this process (after fork).  0 or -1 (logged). */
int gw_python_init(server_rec *s, apr_pool_t *p);

/* Take the GIL with the thread state of group `name` (created on first use). */
gw_interp *gw_interp_acquire(const char *name, server_rec *s);
void gw_interp_release(gw_interp *ip);
/* The process is stopping with no request running: run each interpreter's atexit callbacks
   (sub-interpreters first, the main one last), as the releases do when they tear Python down. */
void gw_interp_run_exit_callbacks(server_rec *s);

/* The mod_wsgi module of an interpreter (version, groups, FileWrapper). */
PyObject *gw_module_create(const char *process_group, const char *application_group);

#endif /* GW_INTERP_H */
