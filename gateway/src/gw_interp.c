/*
 * gw_interp.c - Python initialisation (home, venv, path, flags), one
 * sub-interpreter per application group, and the GIL.
 *
 * Interpreters are found by name in a hash table (plus a per-thread
 * last-used cache); each thread keeps its own PyThreadState per interpreter
 * in a thread-local array indexed by the interpreter's slot, so taking the
 * GIL for a request is one array lookup and PyEval_RestoreThread().
 */
#include "gw_interp.h"
#include "gw_adapter.h"
#include "gw_config.h"
#include "gw_input.h"
#include "gw_log.h"
#include "gw_profile.h"

#include <unistd.h>
#include <sys/stat.h>
#include <locale.h>

gw_python_settings gw_py;
int gw_python_ready;

static apr_pool_t *interp_pool;
static apr_hash_t *interps;             /* name -> gw_interp* */
static apr_thread_mutex_t *interps_lock;
static apr_thread_mutex_t *create_lock;  /* one interpreter made at a time (gw_interp_acquire) */
static int interp_count;
static gw_interp *main_interp;

static __thread PyThreadState **tl_states;
static __thread int tl_nstates;
static __thread gw_interp *tl_last;


/* ------------------------------------------------------- mod_wsgi module */

/* mod_wsgi._log_warning(text): lines to the error log at warning level. */
static PyObject *module_log_warning(PyObject *self, PyObject *arg)
{
    PyObject *keep = NULL;
    const char *text = NULL;
    (void)self;
#if GW_PY3
    if (PyUnicode_Check(arg)) {
        keep = PyUnicode_AsEncodedString(arg, "utf-8", "backslashreplace");
        text = keep ? PyBytes_AS_STRING(keep) : NULL;
    }
#else
    if (PyString_Check(arg))
        text = PyString_AS_STRING(arg);
#endif
    if (!text) {
        Py_XDECREF(keep);
        PyErr_SetString(PyExc_TypeError, "text expected");
        return NULL;
    }
    gw_log_lines(gw_current_io, NULL, APLOG_WARNING, text, strlen(text));
    Py_XDECREF(keep);
    Py_RETURN_NONE;
}

static PyMethodDef module_log_warning_def = { "_log_warning", (PyCFunction)module_log_warning,
                                              METH_O, NULL };

PyObject *gw_module_create(const char *process_group, const char *application_group)
{
    const gw_profile_info *prof = gw_profile();
    PyObject *m = PyModule_New("mod_wsgi"), *v;
    int i;
    if (!m)
        return NULL;
    v = PyTuple_New(prof->version_len);
    for (i = 0; v && i < prof->version_len; i++)
        PyTuple_SET_ITEM(v, i, GW_Int_FromLong(prof->version[i]));
    if (v)
        PyModule_AddObject(m, "version", v);
    PyModule_AddObject(m, "process_group", GW_Native_FromString(process_group));
    PyModule_AddObject(m, "application_group", GW_Native_FromString(application_group));
    Py_INCREF(&GwFileWrapper_Type);
    PyModule_AddObject(m, "FileWrapper", (PyObject *)&GwFileWrapper_Type);
    PyModule_AddObject(m, "gateway_version", GW_Native_FromString(GW_VERSION_STRING));
    PyModule_AddObject(m, "_log_warning", PyCFunction_New(&module_log_warning_def, NULL));
    if (PyErr_Occurred()) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* sys.stdout / sys.stderr over a new Log: the stream wsgi.errors is over its Log (steals log). */
static PyObject *gw_log_wrapped(PyObject *log)
{
    PyObject *stream;
    if (!log)
        return NULL;
    stream = gw_log_errors_stream(log);
    Py_DECREF(log);
    if (!stream)
        PyErr_Clear();
    return stream;
}

static const char gw_bootstrap[] =
    "import sys\n"
    "def _gw_setup(path, eggs, restrict_signal, pid):\n"
    "    if path:\n"
    "        import site\n"
    "        before = list(sys.path)\n"
    "        for d in path.split(':'):\n"
    "            if d:\n"
    "                site.addsitedir(d)\n"
    "        added = [p for p in sys.path if p not in before]\n"
    "        sys.path[:] = added + [p for p in sys.path if p not in added]\n"
    "    if eggs:\n"
    "        import os\n"
    "        os.environ['PYTHON_EGG_CACHE'] = eggs\n"
    "    if restrict_signal:\n"
    "        import signal\n"
    "        import mod_wsgi\n"
    "        def signal_handler(signum, handler, _pid=pid, _log=mod_wsgi._log_warning):\n"
    "            import traceback\n"
    "            _log('mod_gateway (pid=%d): Callback registration for signal %d '\n"
    "                 'ignored.' % (_pid, signum))\n"
    "            _log(''.join(traceback.format_stack()[:-1]))\n"
    "            return handler\n"
    "        signal.signal = signal_handler\n";

/* Per-interpreter setup: mod_wsgi module, std streams, argv, path.  GIL held. */
static int setup_interpreter(gw_interp *ip, server_rec *s)
{
    PyObject *mod, *sysmod, *o, *ns = NULL, *fn, *r;
    PyObject *modules = PyImport_GetModuleDict();

    /* Fill the codec registry now, while no other thread can be in this interpreter:
     * Python 2 fills it on first use by importing encodings, and a thread that runs
     * during that import finds it empty ("no codec search functions registered", seen
     * with concurrent first requests, DIR-020 on 2.7). */
    o = PyCodec_Encoder("utf-8");
    if (!o)
        PyErr_Clear();
    Py_XDECREF(o);

    mod = gw_module_create(gw_py.process_group, ip->name);
    if (!mod)
        goto error;
    PyDict_SetItemString(modules, "mod_wsgi", mod);
    ip->module = mod;
    Py_DECREF(mod);

    sysmod = PyImport_ImportModule("sys");
    if (!sysmod)
        goto error;
    /* As wsgi.errors: 5 and 6 on Python 3 hand the app a line-buffered utf-8 TextIOWrapper
       over the Log (observed: 4.9.4, 5.0.2, 6.1.1); the Log itself on 2.7 and under 3.4. */
    o = gw_py.restrict_stdout ? gw_restricted_new("sys.stdout")
                              : gw_log_wrapped(gw_log_new(NULL, APLOG_ERR, "<stdout>"));
    if (o) {
        PyObject_SetAttrString(sysmod, "stdout", o);
        Py_DECREF(o);
    }
    o = gw_log_wrapped(gw_log_new(NULL, APLOG_ERR, "<stderr>"));
    if (o) {
        PyObject_SetAttrString(sysmod, "stderr", o);
        Py_DECREF(o);
    }
    if (gw_py.restrict_stdin) {
        o = gw_restricted_new("sys.stdin");
        if (o) {
            PyObject_SetAttrString(sysmod, "stdin", o);
            Py_DECREF(o);
        }
    }
    o = Py_BuildValue("[s]", "mod_wsgi");
    if (o) {
        PyObject_SetAttrString(sysmod, "argv", o);
        Py_DECREF(o);
    }
    Py_DECREF(sysmod);
    if (PyErr_Occurred())
        goto error;

    ns = PyDict_New();
    if (!ns)
        goto error;
    PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins());
    r = PyRun_String(gw_bootstrap, Py_file_input, ns, ns);
    if (!r)
        goto error;
    Py_DECREF(r);
    fn = PyDict_GetItemString(ns, "_gw_setup");
    r = fn ? PyObject_CallFunction(fn, "zzii", gw_py.python_path, gw_py.python_eggs,
                                   gw_py.restrict_signal, (int)getpid())
           : NULL;
    if (!r)
        goto error;
    Py_DECREF(r);
    Py_DECREF(ns);
    return 0;

error:
    Py_XDECREF(ns);
    {
        char head[512];
        apr_snprintf(head, sizeof(head),
                     "mod_gateway (pid=%d): Failed to set up Python "
                     "interpreter '%s'.",
                     (int)getpid(), ip->name);
        gw_log_exception(NULL, s, head);
    }
    return -1;
}

/* ------------------------------------------------------ initialisation */

void gw_python_settings_from_global(const char *process_group)
{
    gw_py = (gw_python_settings){
        .process_group = process_group,
        .python_home = gw_global->python_home,
        .python_path = gw_global->python_path,
        .python_eggs = gw_global->python_eggs,
        .optimize = gw_global->python_optimize,
        .restrict_stdin = gw_global->restrict_stdin,
        .restrict_stdout = gw_global->restrict_stdout,
        .restrict_signal = gw_global->restrict_signal,
        .dont_write_bytecode = gw_global->dont_write_bytecode,
        .hash_seed = gw_global->python_hash_seed,
        .warnings = gw_global->python_warnings,
    };
}

static int is_pyvenv(const char *home)
{
    struct stat st;
    char path[4096];
    apr_snprintf(path, sizeof(path), "%s/pyvenv.cfg", home);
    return stat(path, &st) == 0;
}

static void check_home(server_rec *s, const char *home)
{
    struct stat st;
    if (!gw_profile()->warns_unusable_home)
        return;
    if (stat(home, &st) != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "mod_gateway (pid=%d): Unable to stat "
                     "Python home %s. Python interpreter may not be able to be initialized "
                     "correctly. Verify the supplied path and access permissions for whole of "
                     "the path.",
                     (int)getpid(), home);
    else if (!S_ISDIR(st.st_mode))
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "mod_gateway (pid=%d): Python home %s is "
                     "not a directory.",
                     (int)getpid(), home);
}

#if GW_HAVE_PYCONFIG
static int init_python(server_rec *s)
{
    PyPreConfig pre;
    PyConfig cfg;
    PyStatus st;
    static char *argv[] = { "mod_wsgi", NULL };
    const char *home = gw_py.python_home;
    int i;

    PyPreConfig_InitPythonConfig(&pre);
    pre.parse_argv = 0;
    if (!gw_profile()->utf8_locale_coercion) {
        pre.coerce_c_locale = 0;
        pre.utf8_mode = 0;
    }
    st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st))
        goto failed;

    PyConfig_InitPythonConfig(&cfg);
    cfg.parse_argv = 0;
    cfg.install_signal_handlers = 0;
    cfg.optimization_level = gw_py.optimize;
    cfg.write_bytecode = !gw_py.dont_write_bytecode;
    st = PyConfig_SetBytesArgv(&cfg, 1, argv);
    if (PyStatus_Exception(st))
        goto failed_cfg;
    if (home) {
        check_home(s, home);
        if (is_pyvenv(home)) {
            const char *prog = apr_pstrcat(interp_pool, home, "/bin/python", NULL);
            st = PyConfig_SetBytesString(&cfg, &cfg.program_name, prog);
        }
        else {
            st = PyConfig_SetBytesString(&cfg, &cfg.home, home);
        }
        if (PyStatus_Exception(st))
            goto failed_cfg;
    }
    if (gw_py.hash_seed && strcmp(gw_py.hash_seed, "random")) {
        cfg.use_hash_seed = 1;
        cfg.hash_seed = (unsigned long)apr_atoi64(gw_py.hash_seed);
    }
    for (i = 0; gw_py.warnings && i < gw_py.warnings->nelts; i++) {
        wchar_t *w = Py_DecodeLocale(APR_ARRAY_IDX(gw_py.warnings, i, const char *), NULL);
        if (w) {
            PyWideStringList_Append(&cfg.warnoptions, w);
            PyMem_RawFree(w);
        }
    }
    st = Py_InitializeFromConfig(&cfg);
    PyConfig_Clear(&cfg);
    if (PyStatus_Exception(st))
        goto failed;
    return 0;

failed_cfg:
    PyConfig_Clear(&cfg);
failed:
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                 "mod_gateway (pid=%d): Python initialisation "
                 "failed: %s%s%s",
                 (int)getpid(), st.func ? st.func : "", st.func ? ": " : "",
                 st.err_msg ? st.err_msg : "unknown error");
    return -1;
}
#else
static int init_python(server_rec *s)
{
    const char *home = gw_py.python_home;
    /* The legacy API keeps the strings it is given: they live as long as the process. */
#if GW_PY3
    typedef wchar_t py_char;
#define PY_STRING(s) GW_DecodeLocale(s)
#else
    typedef char py_char;
#define PY_STRING(s) strdup(s)
#endif
    static py_char *argv[2];
    argv[0] = PY_STRING("mod_wsgi");
    if (home) {
        check_home(s, home);
        if (is_pyvenv(home))
            Py_SetProgramName(PY_STRING(apr_pstrcat(interp_pool, home, "/bin/python", NULL)));
        else
            Py_SetPythonHome(PY_STRING(home));
    }
#undef PY_STRING
    if (gw_py.hash_seed)
        setenv("PYTHONHASHSEED", gw_py.hash_seed, 1);
#if GW_PY3
    /* Profile 6 runs like a PEP 538/540 Python: a C locale is coerced to UTF-8. */
    if (gw_profile()->utf8_locale_coercion && !getenv("LC_ALL")) {
        const char *cur = setlocale(LC_CTYPE, "");
        if (!cur || !strcmp(cur, "C") || !strcmp(cur, "POSIX")) {
            if (setlocale(LC_CTYPE, "C.UTF-8"))
                setenv("LC_CTYPE", "C.UTF-8", 1);
        }
    }
#endif
    /* Python 3.7 turns UTF-8 mode on by itself under a C locale; mod_wsgi 4.x lets it
       (observed: 4.9.4 on 3.7 reports utf8_mode=1), so every profile leaves it alone. */
    Py_OptimizeFlag = gw_py.optimize;
    Py_DontWriteBytecodeFlag = gw_py.dont_write_bytecode;
    Py_InitializeEx(0);
    if (!Py_IsInitialized()) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_gateway (pid=%d): Python initialisation "
                     "failed.",
                     (int)getpid());
        return -1;
    }
    PySys_SetArgvEx(1, argv, 0);
    if (gw_py.warnings && gw_py.warnings->nelts) {
        int i;
        PyObject *sysmod = PyImport_ImportModule("sys");
        PyObject *wo = sysmod ? PyObject_GetAttrString(sysmod, "warnoptions") : NULL;
        for (i = 0; wo && i < gw_py.warnings->nelts; i++) {
            PyObject *w = GW_Native_FromString(APR_ARRAY_IDX(gw_py.warnings, i, const char *));
            if (w) {
                PyList_Append(wo, w);
                Py_DECREF(w);
            }
        }
        Py_XDECREF(wo);
        Py_XDECREF(sysmod);
        PyErr_Clear();
    }
    return 0;
}
#endif

static gw_interp *new_interp_record(const char *name, PyInterpreterState *interp)
{
    gw_interp *ip = apr_pcalloc(interp_pool, sizeof(*ip));
    ip->name = apr_pstrdup(interp_pool, name);
    ip->index = interp_count++;
    ip->interp = interp;
    apr_thread_mutex_create(&ip->import_lock, APR_THREAD_MUTEX_DEFAULT, interp_pool);
    return ip;
}

static PyThreadState **tl_slot(int index)
{
    if (index >= tl_nstates) {
        int n = index + 8;
        PyThreadState **a = realloc(tl_states, n * sizeof(*a));
        if (!a)
            return NULL;
        memset(a + tl_nstates, 0, (n - tl_nstates) * sizeof(*a));
        tl_states = a;
        tl_nstates = n;
    }
    return &tl_states[index];
}

int gw_python_init(server_rec *s, apr_pool_t *p)
{
    PyThreadState *ts;
    apr_allocator_t *alloc = NULL;
    gw_main_server = s;
    /* Our own pool and allocator: records are made from request threads. */
    if (apr_allocator_create(&alloc) != APR_SUCCESS ||
        apr_pool_create_ex(&interp_pool, p, NULL, alloc) != APR_SUCCESS)
        return -1;
    apr_allocator_owner_set(alloc, interp_pool);
    interps = apr_hash_make(p);
    apr_thread_mutex_create(&interps_lock, APR_THREAD_MUTEX_DEFAULT, p);
    apr_thread_mutex_create(&create_lock, APR_THREAD_MUTEX_DEFAULT, p);

    if (init_python(s) < 0)
        return -1;
    GW_INIT_THREADS();

    gw_log_types_ready();
    gw_input_types_ready();
    gw_adapter_types_ready();
    if (PyType_Ready(&GwLog_Type) < 0 || PyType_Ready(&GwRestricted_Type) < 0 ||
        PyType_Ready(&GwInput_Type) < 0 || PyType_Ready(&GwAdapter_Type) < 0 ||
        PyType_Ready(&GwFileWrapper_Type) < 0) {
        gw_log_exception(NULL, s, "mod_gateway: cannot initialise Python types.");
        PyEval_SaveThread();
        return -1;
    }
    gw_log_types_done();

    ts = PyThreadState_Get();
    main_interp = new_interp_record("", GW_TSTATE_INTERP(ts));
    apr_hash_set(interps, main_interp->name, APR_HASH_KEY_STRING, main_interp);
    *tl_slot(main_interp->index) = ts;
    setup_interpreter(main_interp, s);
#if GW_PY3
    /* WSGISwitchInterval, in embedded mode and in every daemon (where it wins over a
     * group's switch-interval=, as 6.1.1 does: DIR-024). */
    if (gw_global->switch_interval > 0) {
        char code[96];
        apr_snprintf(code, sizeof(code), "import sys; sys.setswitchinterval(%.6f)",
                     gw_global->switch_interval);
        if (PyRun_SimpleString(code) != 0)
            PyErr_Clear();
    }
#endif
    PyEval_SaveThread();
    gw_python_ready = 1;
    return 0;
}

/* ------------------------------------------------------ acquire / release */

gw_interp *gw_interp_acquire(const char *name, server_rec *s)
{
    gw_interp *ip = tl_last;
    PyThreadState **slot, *mts, *nts;
    int made_main;

    if (!gw_python_ready)
        return NULL;
    if (!ip || strcmp(ip->name, name)) {
        apr_thread_mutex_lock(interps_lock);
        ip = apr_hash_get(interps, name, APR_HASH_KEY_STRING);
        apr_thread_mutex_unlock(interps_lock);
    }
    if (ip) {
        slot = tl_slot(ip->index);
        if (!slot)
            return NULL;
        if (!*slot)
            *slot = PyThreadState_New(ip->interp);
        PyEval_RestoreThread(*slot);
        tl_last = ip;
        return ip;
    }

    /* First use of this group in the process: create it under the main GIL.  Making an
     * interpreter lets go of the GIL (its imports run Python), so a thread that only
     * rechecked under the GIL could find the group still missing and make a second one
     * (seen: one per thread of a burst).  create_lock serialises the making; it is taken
     * before the GIL, and no thread waits for it while holding the GIL. */
    apr_thread_mutex_lock(create_lock);
    apr_thread_mutex_lock(interps_lock);
    ip = apr_hash_get(interps, name, APR_HASH_KEY_STRING);
    apr_thread_mutex_unlock(interps_lock);
    if (ip) {
        /* Another thread made it while we waited. */
        apr_thread_mutex_unlock(create_lock);
        return gw_interp_acquire(name, s);
    }
    slot = tl_slot(main_interp->index);
    if (!slot) {
        apr_thread_mutex_unlock(create_lock);
        return NULL;
    }
    made_main = !*slot;
    if (made_main)
        *slot = PyThreadState_New(main_interp->interp);
    mts = *slot;
    PyEval_RestoreThread(mts);
    nts = Py_NewInterpreter();
    if (!nts) {
        PyThreadState_Swap(mts);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "mod_gateway (pid=%d): Cannot create "
                     "interpreter '%s'.",
                     (int)getpid(), name);
        PyEval_SaveThread();
        apr_thread_mutex_unlock(create_lock);
        return NULL;
    }
    if (made_main) {
        /* PyGILState_Ensure() takes a thread's first thread state for the thread's own, and
         * tracemalloc calls it on every raw allocation (C extensions from their callbacks):
         * had mts, made only to create this group, stayed first, an app of the group doing
         * so would wait on the GIL it holds.  The group's thread state comes first instead
         * (the releases' order: a thread's first Python is its first request's group). */
        PyThreadState *first;
        PyThreadState_Clear(mts);
        PyThreadState_Delete(mts);      /* also unbinds it from PyGILState */
        *slot = NULL;
        first = PyThreadState_New(GW_TSTATE_INTERP(nts));
        PyThreadState_Swap(first);
        PyThreadState_Clear(nts);
        PyThreadState_Delete(nts);
        nts = first;
    }
    apr_thread_mutex_lock(interps_lock);
    ip = new_interp_record(name, GW_TSTATE_INTERP(nts));
    apr_thread_mutex_unlock(interps_lock);
    slot = tl_slot(ip->index);
    *slot = nts;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "mod_gateway (pid=%d): Create interpreter '%s'.",
                 (int)getpid(), name);
    setup_interpreter(ip, s);
    apr_thread_mutex_lock(interps_lock);
    apr_hash_set(interps, ip->name, APR_HASH_KEY_STRING, ip);
    apr_thread_mutex_unlock(interps_lock);
    apr_thread_mutex_unlock(create_lock);
    tl_last = ip;
    return ip;
}

void gw_interp_release(gw_interp *ip)
{
    (void)ip;
    PyEval_SaveThread();
}

static void run_exit_callbacks_in(gw_interp *ip, server_rec *s)
{
    PyObject *mod, *res = NULL;
    gw_interp *got = gw_interp_acquire(ip->name, s);
    if (!got)
        return;
    mod = PyImport_ImportModule("atexit");
    if (mod) {
        res = PyObject_CallMethod(mod, "_run_exitfuncs", NULL);
        Py_DECREF(mod);
    }
    if (!res)
        PyErr_Clear();
    Py_XDECREF(res);
    gw_interp_release(got);
}

void gw_interp_run_exit_callbacks(server_rec *s)
{
    apr_hash_index_t *hi;
    gw_interp **all;
    int n = 0, i;
    if (!gw_python_ready)
        return;
    apr_thread_mutex_lock(interps_lock);
    all = calloc(apr_hash_count(interps) + 1, sizeof(*all));
    for (hi = all ? apr_hash_first(NULL, interps) : NULL; hi; hi = apr_hash_next(hi)) {
        void *v;
        apr_hash_this(hi, NULL, NULL, &v);
        if (v != main_interp)
            all[n++] = v;
    }
    apr_thread_mutex_unlock(interps_lock);
    if (!all)
        return;
    for (i = 0; i < n; i++)
        run_exit_callbacks_in(all[i], s);
    run_exit_callbacks_in(main_interp, s);
    free(all);
}
