/*
 * gw_script.c - loading WSGI scripts as modules and reloading them.
 *
 * A script is imported as module _mod_wsgi_<md5 of its path> in the
 * interpreter of its application group, cached in sys.modules, and
 * re-imported when its mtime differs from the recorded __mtime__ (or its
 * reload_required(path) says so) while WSGIScriptReloading is On.
 */
#include "gw_script.h"
#include "gw_adapter.h"
#include "gw_config.h"
#include "gw_environ.h"
#include "gw_input.h"
#include "gw_log.h"
#include "gw_profile.h"

#include <unistd.h>
#include <sys/stat.h>

/* _mod_wsgi_<md5> into buf (at least 43 bytes), without allocating. */
static void module_name_into(char *buf, const char *script)
{
    unsigned char digest[APR_MD5_DIGESTSIZE];
    apr_md5_ctx_t ctx;
    int i, lower;
    lower = gw_profile()->case_sensitivity_inverted ? gw_global->case_sensitivity
                                                    : !gw_global->case_sensitivity;
    apr_md5_init(&ctx);
    if (lower) {
        char chunk[256];
        const char *c = script;
        while (*c) {
            apr_size_t n = 0;
            while (*c && n < sizeof(chunk))
                chunk[n++] = apr_tolower(*c++);
            apr_md5_update(&ctx, chunk, n);
        }
    }
    else {
        apr_md5_update(&ctx, script, strlen(script));
    }
    apr_md5_final(digest, &ctx);
    memcpy(buf, "_mod_wsgi_", 10);
    for (i = 0; i < APR_MD5_DIGESTSIZE; i++) {
        static const char hex[] = "0123456789abcdef";
        buf[10 + 2 * i] = hex[digest[i] >> 4];
        buf[11 + 2 * i] = hex[digest[i] & 15];
    }
    buf[10 + 2 * APR_MD5_DIGESTSIZE] = '\0';
}

static apr_time_t script_mtime(const char *script)
{
    struct stat st;
    if (stat(script, &st) != 0)
        return 0;
    return apr_time_from_sec(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1000;
}

/* 1 reload needed, 0 not.  An unchanged script's module-level reload_required(path) decides
   (the path is the script's, as every release passes r->filename, in both modes).  Every
   release calls whatever object is there: a non-callable value or an exception is logged
   and keeps the module. */
static int needs_reload(gw_reqio *io, server_rec *s, PyObject *module, apr_time_t mtime,
                        const char *script)
{
    PyObject *d = PyModule_GetDict(module), *o;
    int reload = 1;
    o = PyDict_GetItemString(d, "__mtime__");
    if (o) {
        PY_LONG_LONG v = PyLong_Check(o) ? PyLong_AsLongLong(o) : (PY_LONG_LONG)GW_Int_AsLong(o);
        if (PyErr_Occurred())
            PyErr_Clear();
        else
            reload = (apr_time_t)v != mtime;
    }
    if (!reload) {
        o = PyDict_GetItemString(d, "reload_required");
        if (o) {
#if GW_PY3
            PyObject *arg = PyUnicode_DecodeFSDefault(script), *r = NULL;
#else
            PyObject *arg = PyString_FromString(script), *r = NULL;
#endif
            Py_INCREF(o);
            if (arg)
                r = PyObject_CallFunctionObjArgs(o, arg, NULL);
            Py_XDECREF(arg);
            Py_DECREF(o);
            if (r) {
                reload = PyObject_IsTrue(r) == 1;
                Py_DECREF(r);
            }
            if (PyErr_Occurred()) {
                char head[1024];
                apr_snprintf(head, sizeof(head),
                             "mod_gateway (pid=%d): Exception occurred "
                             "processing WSGI script '%s'.",
                             (int)getpid(), script);
                gw_log_exception(io, s, head);
            }
            PyErr_Clear();
        }
    }
    return reload;
}

static PyObject *load(gw_interp *ip, gw_reqio *io, server_rec *s, const char *script,
                      const char *name, apr_time_t mtime, int reloading, const char *kind)
{
    FILE *fp;
    char *src = NULL;
    long size;
    PyObject *code = NULL, *module = NULL, *t;
    char head[1024];
    (void)ip;

    gw_io_logf(io, APLOG_INFO,
               "mod_gateway (pid=%d, process='%s', application='%s'): %s %s "
               "'%s'.",
               (int)getpid(), gw_py.process_group, ip->name, reloading ? "Reloading" : "Loading",
               kind, script);

    fp = fopen(script, "rb");
    if (!fp) {
        gw_io_logf(io, APLOG_ERR, "mod_gateway (pid=%d): Call to fopen() failed for '%s'.",
                   (int)getpid(), script);
        return NULL;
    }
    if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        src = PyMem_Malloc(size + 1);
        if (src && fread(src, 1, size, fp) == (size_t)size)
            src[size] = '\0';
        else {
            PyMem_Free(src);
            src = NULL;
        }
    }
    fclose(fp);
    if (!src) {
        gw_io_logf(io, APLOG_ERR, "mod_gateway (pid=%d): Could not read '%s'.", (int)getpid(),
                   script);
        return NULL;
    }

    code = Py_CompileStringFlags(src, script, Py_file_input, NULL);
    PyMem_Free(src);
    if (code)
        module = PyImport_ExecCodeModuleEx((char *)name, code, (char *)script);
    Py_XDECREF(code);
    if (!module) {
        apr_snprintf(head, sizeof(head),
                     "mod_gateway (pid=%d): Target WSGI script '%s' cannot "
                     "be loaded as Python module.",
                     (int)getpid(), script);
        gw_io_logf(io, APLOG_ERR, "%s", head);
        apr_snprintf(head, sizeof(head),
                     "mod_gateway (pid=%d): Exception occurred processing "
                     "WSGI script '%s'.",
                     (int)getpid(), script);
        gw_log_exception(io, s, head);
        /* No half-run module is kept (ERR-031): PyImport_ExecCodeModuleEx takes a module
         * whose code failed out of sys.modules itself, so the next request imports again. */
        PyErr_Clear();
        return NULL;
    }
    t = PyLong_FromLongLong((PY_LONG_LONG)mtime);
    if (t) {
        PyObject_SetAttrString(module, "__mtime__", t);
        Py_DECREF(t);
    }
    PyErr_Clear();
    return module;
}

PyObject *gw_script_module(gw_interp *ip, gw_reqio *io, server_rec *s, const char *script,
                           int reloading, const char *resource, const char *kind)
{
    char name[64];
    PyObject *modules = PyImport_GetModuleDict(), *m, *stale = NULL;
    apr_time_t mtime = 0;
    int reload = 0;
    (void)resource;

    module_name_into(name, script);

    m = PyDict_GetItemString(modules, name);
    if (m) {
        if (!reloading) {
            Py_INCREF(m);
            return m;
        }
        mtime = script_mtime(script);
        if (!needs_reload(io, s, m, mtime, script)) {
            Py_INCREF(m);
            return m;
        }
        /* A module without __mtime__ is one another thread is still executing (load() sets
         * it after): not stale, it is decided under the lock once that load is done. */
        if (PyDict_GetItemString(PyModule_GetDict(m), "__mtime__")) {
            stale = m;  /* compared only: the hook runs once a request, as in every release */
            Py_INCREF(stale);   /* held: once freed, the new module could get its address */
        }
    }

    /* Serialise loading within the interpreter; wait without the GIL. */
    Py_BEGIN_ALLOW_THREADS apr_thread_mutex_lock(ip->import_lock);
    Py_END_ALLOW_THREADS

        m = PyDict_GetItemString(modules, name);
    if (m) {
        if (!mtime)
            mtime = script_mtime(script);
        if (!reloading || (m != stale && !needs_reload(io, s, m, mtime, script))) {
            Py_INCREF(m);
            apr_thread_mutex_unlock(ip->import_lock);
            Py_XDECREF(stale);
            return m;
        }
        reload = 1;
        PyDict_DelItemString(modules, name);
        PyErr_Clear();
    }
    if (!mtime)
        mtime = script_mtime(script);
    m = load(ip, io, s, script, name, mtime, reload, kind);
    apr_thread_mutex_unlock(ip->import_lock);
    Py_XDECREF(stale);
    return m;
}

/* ------------------------------------------------------------- execute */

int gw_execute(gw_reqio *io, server_rec *s, const apr_table_t *env, const gw_execute_args *a)
{
    gw_interp *ip;
    PyObject *module, *app = NULL, *input = NULL, *errors = NULL, *stream = NULL;
    PyObject *environ = NULL;
    gw_environ_info info;
    gw_call call;
    gw_reqio *saved_io;
    int status;

    ip = gw_interp_acquire(a->application_group, s);
    if (!ip) {
        gw_io_logf(io, APLOG_ERR,
                   "mod_gateway (pid=%d): Python is not available in this "
                   "process, cannot run '%s'.",
                   (int)getpid(), a->script);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    saved_io = gw_current_io;
    gw_current_io = io;

    module =
        gw_script_module(ip, io, s, a->script, a->script_reloading, a->resource, "WSGI script");
    if (!module) {
        status = HTTP_INTERNAL_SERVER_ERROR;
        goto out;
    }
    app = PyObject_GetAttrString(module, a->callable_object);
    Py_DECREF(module);
    if (!app) {
        PyErr_Clear();
        gw_io_logf(io, APLOG_ERR,
                   "mod_gateway (pid=%d): Target WSGI script '%s' does not "
                   "contain WSGI application '%s'.",
                   (int)getpid(), a->script, a->callable_object);
        status = a->daemon && gw_profile()->daemon_missing_callable_500 ? HTTP_INTERNAL_SERVER_ERROR
                                                                        : HTTP_NOT_FOUND;
        goto out;
    }

    memset(&info, 0, sizeof(info));
    info.process_group = gw_py.process_group;
    info.application_group = a->application_group;
    info.callable_object = a->callable_object;
    info.script = a->script;
    info.daemon = a->daemon;
    info.multithread = a->multithread;
    info.multiprocess = a->multiprocess;
    info.run_once = a->run_once;
    /* 6.x names the script on the app's own lines; not on those printed while importing it. */
    if (gw_profile()->log_names_script)
        io->log_prefix = apr_psprintf(io->pool, "[script %s] ", a->script);
    input = gw_input_new(io);
    errors = gw_log_new(io, APLOG_ERR, "<wsgi.errors>");
    stream = errors ? gw_log_errors_stream(errors) : NULL;
    info.script_start = apr_time_now();
    if (input && stream)
        environ = gw_environ_dict(env, &info, input, stream);
    if (!environ) {
        gw_log_exception(io, s, "mod_gateway: cannot build the WSGI environ.");
        status = HTTP_INTERNAL_SERVER_ERROR;
        goto out;
    }

    memset(&call, 0, sizeof(call));
    call.io = io;
    call.server = s;
    call.environ = environ;
    call.application = app;
    call.script = a->script;
    call.enable_sendfile = a->enable_sendfile;
    call.is_head = a->is_head;
    status = gw_adapter_run(&call);

out:
    gw_environ_request_done();
    if (input)
        gw_input_expire(input);
    if (errors)
        gw_log_detach(errors);
    Py_XDECREF(app);
    Py_XDECREF(environ);
    Py_XDECREF(input);
    Py_XDECREF(stream);
    Py_XDECREF(errors);
    if (PyErr_Occurred())
        PyErr_Clear();
    gw_current_io = saved_io;
    gw_interp_release(ip);
    return status;
}

/* WSGIImportScript: load the scripts that belong to `process_group` (a daemon group's
   name), or with NULL those of Apache's children (no group, "" or %{GLOBAL}). */
void gw_preload_import_scripts(server_rec *s, const char *process_group)
{
    gw_import_script *is = (gw_import_script *)gw_global->import_scripts->elts;
    int i;
    for (i = 0; i < gw_global->import_scripts->nelts; i++) {
        const char *owner = is[i].opts.process_group;
        const char *group = is[i].opts.application_group;
        int embedded = !owner || !*owner || !strcmp(owner, "%{GLOBAL}");
        gw_interp *ip;
        PyObject *m;
        if (process_group ? embedded || strcmp(owner, process_group) : !embedded)
            continue;
        if (!group || !strcmp(group, "%{GLOBAL}"))
            group = "";
        ip = gw_interp_acquire(group, s);
        if (!ip)
            continue;
        m = gw_script_module(ip, NULL, s, is[i].script, 0, "", "WSGI import script");
        Py_XDECREF(m);
        gw_interp_release(ip);
    }
}
