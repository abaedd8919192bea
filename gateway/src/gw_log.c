/*
 * gw_log.c - wsgi.errors, sys.stdout/sys.stderr into Apache's error log,
 * tracebacks, and the restricted stdin/stdout objects.
 */
#include "gw_log.h"
#include "gw_buf.h"
#include "gw_profile.h"
#include <structmember.h>

#include <unistd.h>

__thread gw_reqio *gw_current_io;
server_rec *gw_main_server;


void gw_io_logf(gw_reqio *io, int level, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (io && io->log)
        io->log(io, level, buf);
    else
        ap_log_error(APLOG_MARK, level, 0, gw_main_server, "%s", buf);
}

void gw_log_lines(gw_reqio *io, server_rec *s, int level, const char *text, apr_size_t len)
{
    const char *end = text + len;
    char buf[8192];
    if (!s)
        s = gw_main_server;
    while (text < end) {
        const char *nl = memchr(text, '\n', end - text);
        apr_size_t n = (nl ? nl : end) - text;
        if (n >= sizeof(buf))
            n = sizeof(buf) - 1;
        memcpy(buf, text, n);
        buf[n] = '\0';
        if (io && io->log)
            io->log(io, level, buf);
        else
            ap_log_error(APLOG_MARK, level, 0, s, "%s", buf);
        text = nl ? nl + 1 : end;
    }
}

/* Log text line by line, each line prefixed (so every line names its origin). */
static void log_prefixed(gw_reqio *io, server_rec *s, int level, const char *prefix,
                         const char *text, apr_size_t len)
{
    const char *end = text + len;
    char buf[8192];
    while (text < end) {
        const char *nl = memchr(text, '\n', end - text);
        apr_size_t n = (nl ? nl : end) - text;
        apr_snprintf(buf, sizeof(buf), "%s%.*s", prefix, (int)n, text);
        gw_log_lines(io, s, level, buf, strlen(buf));
        text = nl ? nl + 1 : end;
    }
}

/* ---------------------------------------------------------------- Log type */

typedef struct {
    PyObject_HEAD gw_reqio *io;           /* bound request (wsgi.errors), else NULL */
    int bound;              /* 1 for wsgi.errors; 0 for sys.stdout/stderr */
    int expired;
    int finalizing;         /* a text wrapper over it is being destroyed (log_getattro) */
    int level;
    char *buf;
    apr_size_t len, cap;
    const char *name;
#if !GW_PY3
    int softspace;          /* the print statement's file attribute, as the releases keep */
#endif
} GwLog;

static gw_reqio *log_target(GwLog *self)
{
    return self->bound ? self->io : gw_current_io;
}

static void log_emit(GwLog *self, const char *data, apr_size_t n)
{
    gw_reqio *io = log_target(self);
    if (io && io->log_prefix)
        log_prefixed(io, NULL, self->level, io->log_prefix, data, n);
    else
        gw_log_lines(io, NULL, self->level, data, n);
}

static void log_flush_buffer(GwLog *self)
{
    if (self->len) {
        log_emit(self, self->buf, self->len);
        self->len = 0;
    }
}

static int log_append(GwLog *self, const char *data, apr_size_t n)
{
    const char *p = data, *end = data + n, *nl;
    /* Complete lines go out at once; the tail waits for its newline. */
    while ((nl = memchr(p, '\n', end - p)) != NULL) {
        if (self->len) {
            apr_size_t part = nl - p;
            if (self->len + part > self->cap &&
                gw_buf_grow(&self->buf, &self->cap, (self->len + part) * 2) < 0)
                return -1;
            memcpy(self->buf + self->len, p, part);
            self->len += part;
            log_emit(self, self->buf, self->len);
            self->len = 0;
        }
        else {
            log_emit(self, p, nl - p);
        }
        p = nl + 1;
    }
    if (p < end) {
        apr_size_t part = end - p;
        if (self->len + part > self->cap &&
            gw_buf_grow(&self->buf, &self->cap, (self->len + part) * 2 + 64) < 0)
            return -1;
        memcpy(self->buf + self->len, p, part);
        self->len += part;
        if (self->len > 8000)
            log_flush_buffer(self);
    }
    return 0;
}

PyObject *gw_log_new(gw_reqio *io, int level, const char *name)
{
    GwLog *self = PyObject_New(GwLog, &GwLog_Type);
    if (!self)
        return NULL;
    self->io = io;
    self->bound = io != NULL;
    self->expired = 0;
    self->finalizing = 0;
    self->level = level;
    self->buf = NULL;
    self->len = self->cap = 0;
    self->name = name;
#if !GW_PY3
    self->softspace = 0;
#endif
    return (PyObject *)self;
}

PyObject *gw_log_errors_stream(PyObject *log)
{
#if GW_PY3
    /* 5.x and 6.x hand Python 3 apps a text stream over the log object: str only, each
       line on to the log at once. */
    if (gw_profile()->errors_text_wrapper) {
        PyObject *io = PyImport_ImportModule("io"), *stream = NULL;
        if (io)
            stream = PyObject_CallMethod(io, "TextIOWrapper", "OssOOO", log, "utf-8", "replace",
                                         Py_None, Py_True, Py_True);
        Py_XDECREF(io);
        return stream;
    }
#endif
    Py_INCREF(log);
    return log;
}

void gw_log_detach(PyObject *obj)
{
    GwLog *self = (GwLog *)obj;
    log_flush_buffer(self);
    self->io = NULL;
    self->expired = 1;
}

static void log_dealloc(GwLog *self)
{
    if (self->len && !self->expired)
        log_flush_buffer(self);
    PyMem_Free(self->buf);
    PyObject_Del(self);
}

/* A wsgi.errors kept past its request refuses writes: 3.4 and 4.x/5 say the log object has
   expired, 6 names the call ("write() called on wsgi.errors after request completed"). */
static int log_check_expired(GwLog *self, const char *call)
{
    if (!self->expired)
        return 0;
    if (gw_profile()->input_expired_names_call)
        PyErr_Format(PyExc_RuntimeError, "%s() called on wsgi.errors after request completed",
                     call);
    else
        PyErr_SetString(PyExc_RuntimeError, "log object has expired");
    return -1;
}

static PyObject *log_write(GwLog *self, PyObject *arg)
{
    PyObject *bytes = NULL;
    if (log_check_expired(self, "write") < 0)
        return NULL;
    if (PyBytes_Check(arg)) {
        Py_INCREF(arg);
        bytes = arg;
    }
    else if (PyUnicode_Check(arg)) {
        bytes = PyUnicode_AsUTF8String(arg);
        if (!bytes)
            return NULL;
    }
    else {
        PyErr_Format(PyExc_TypeError, "argument must be a string, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (log_append(self, PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)) < 0) {
        Py_DECREF(bytes);
        return NULL;
    }
    Py_DECREF(bytes);
    Py_RETURN_NONE;     /* as the releases' Log (a text wrapper over it counts for itself) */
}

static PyObject *log_writelines(GwLog *self, PyObject *seq)
{
    PyObject *it, *item;
    if (log_check_expired(self, "writelines") < 0)
        return NULL;
    it = PyObject_GetIter(seq);
    if (!it)
        return NULL;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *r = log_write(self, item);
        Py_DECREF(item);
        if (!r) {
            Py_DECREF(it);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* An expired wsgi.errors: 3.4 and 4.x refuse flush() as they refuse writes; 6 (and 5.0.2)
   only while a partial line is pending, which detaching has already written out. */
static PyObject *log_flush(GwLog *self, PyObject *unused)
{
    (void)unused;
    if (self->expired) {
        if (self->finalizing)
            Py_RETURN_NONE;     /* the wrapper's last flush, with no app left to tell */
        if (!gw_profile()->errors_flush_expired_ok || self->len) {
            log_check_expired(self, "flush");
            return NULL;
        }
        Py_RETURN_NONE;
    }
    log_flush_buffer(self);
    Py_RETURN_NONE;
}

/* wsgi.errors ends with close() as with its request: later writes raise. */
static PyObject *log_close(GwLog *self, PyObject *unused)
{
    (void)unused;
    if (self->bound)
        gw_log_detach((PyObject *)self);
    else
        log_flush_buffer(self);
    Py_RETURN_NONE;
}

static PyObject *log_false(GwLog *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_FALSE;
}

#if GW_PY3
/* The buffer side of io on Python 3 (a TextIOWrapper over the log asks for it); the 2.7
   releases' Log has none of it. */
static PyObject *log_true(GwLog *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_TRUE;
}

static PyObject *log_fileno(GwLog *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyErr_SetString(PyExc_OSError, "Apache/mod_wsgi log object is not associated with a file "
                                   "descriptor.");
    return NULL;
}

static PyObject *log_encoding(GwLog *self, void *unused)
{
    (void)self;
    (void)unused;
    return GW_Native_FromString("utf-8");
}

static PyObject *log_errors(GwLog *self, void *unused)
{
    (void)self;
    (void)unused;
    return GW_Native_FromString("replace");
}
#endif

/* False even once expired, as the releases say: so a text wrapper over the log passes
   a late write on, and it raises the RuntimeError an app sees there. */
static PyObject *log_closed(GwLog *self, void *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_FALSE;
}

static PyObject *log_name(GwLog *self, void *unused)
{
    (void)unused;
    return GW_Native_FromString(self->name ? self->name : "<wsgi.errors>");
}

#if PY_VERSION_HEX >= 0x030D0000
/* io.TextIOWrapper looks up _dealloc_warn on its buffer as it is destroyed, just before its
 * last flush(): wsgi.errors' wrapper goes after its request, and from 3.13 Python logs what
 * that flush raises (under profiles 3.4 and 5: two error lines for every request).  Answered
 * here, not in the type's dict, which holds exactly the release's attributes (ENV-048). */
static PyObject *log_dealloc_warn(PyObject *self, PyObject *source)
{
    (void)source;
    ((GwLog *)self)->finalizing = 1;
    Py_RETURN_NONE;
}

static PyMethodDef log_dealloc_warn_def = { "_dealloc_warn", log_dealloc_warn, METH_O, NULL };

static PyObject *log_getattro(PyObject *self, PyObject *name)
{
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "_dealloc_warn") == 0)
        return PyCFunction_New(&log_dealloc_warn_def, self);
    return PyObject_GenericGetAttr(self, name);
}
#endif

static PyMethodDef log_methods[] = { { "write", (PyCFunction)log_write, METH_O, NULL },
                                     { "writelines", (PyCFunction)log_writelines, METH_O, NULL },
                                     { "flush", (PyCFunction)log_flush, METH_NOARGS, NULL },
                                     { "close", (PyCFunction)log_close, METH_NOARGS, NULL },
                                     { "isatty", (PyCFunction)log_false, METH_NOARGS, NULL },
#if GW_PY3
                                     { "fileno", (PyCFunction)log_fileno, METH_NOARGS, NULL },
                                     { "readable", (PyCFunction)log_false, METH_NOARGS, NULL },
                                     { "seekable", (PyCFunction)log_false, METH_NOARGS, NULL },
                                     { "writable", (PyCFunction)log_true, METH_NOARGS, NULL },
#endif
                                     { NULL, NULL, 0, NULL } };

static PyGetSetDef log_getset[] = { { "closed", (getter)log_closed, NULL, NULL, NULL },
#if GW_PY3
                                    { "encoding", (getter)log_encoding, NULL, NULL, NULL },
                                    { "errors", (getter)log_errors, NULL, NULL, NULL },
#endif
                                    { "name", (getter)log_name, NULL, NULL,
                                      NULL },    /* last: a profile may drop it */
                                    { NULL, NULL, NULL, NULL, NULL } };

#if !GW_PY3
static PyMemberDef log_members[] = { { "softspace", T_INT, offsetof(GwLog, softspace), 0, NULL },
                                     { NULL, 0, 0, 0, NULL } };
#endif

PyTypeObject GwLog_Type = {
    PyVarObject_HEAD_INIT(NULL, 0) "mod_wsgi.Log",
    sizeof(GwLog),
    0,
    (destructor)log_dealloc,
};

/* ------------------------------------------------------ Restricted streams */

typedef struct {
    PyObject_HEAD const char *stream;
} GwRestricted;

PyObject *gw_restricted_new(const char *stream)
{
    GwRestricted *self = PyObject_New(GwRestricted, &GwRestricted_Type);
    if (self)
        self->stream = stream;
    return (PyObject *)self;
}

static void restricted_dealloc(GwRestricted *self)
{
    PyObject_Del(self);
}

static PyObject *restricted_getattro(GwRestricted *self, PyObject *name)
{
    (void)name;
    PyErr_Format(PyExc_IOError, "%s access restricted by mod_wsgi", self->stream);
    return NULL;
}

PyTypeObject GwRestricted_Type = {
    PyVarObject_HEAD_INIT(NULL, 0) "mod_wsgi.Restricted",
    sizeof(GwRestricted),
    0,
    (destructor)restricted_dealloc,
};

/* --------------------------------------------------------------- tracebacks */

static const char *utf8_of(PyObject *o, PyObject **keep)
{
    *keep = NULL;
    if (!o)
        return NULL;
#if GW_PY3
    if (PyUnicode_Check(o)) {
        *keep = PyUnicode_AsEncodedString(o, "utf-8", "backslashreplace");
        return *keep ? PyBytes_AS_STRING(*keep) : NULL;
    }
#endif
    if (PyBytes_Check(o))
        return PyBytes_AS_STRING(o);
    return NULL;
}

void gw_log_exception(gw_reqio *io, server_rec *s, const char *headline)
{
    PyObject *type, *value, *tb, *mod = NULL, *fn = NULL, *lines = NULL, *text = NULL;
    PyObject *sep = NULL, *keep = NULL, *cause = NULL, *cause_keep = NULL;
    const char *ctext, *ttext;
    char prefix[64];

    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return;
    PyErr_NormalizeException(&type, &value, &tb);
    apr_snprintf(prefix, sizeof(prefix), "mod_gateway (pid=%d): ", (int)getpid());

    mod = PyImport_ImportModule("traceback");
    if (mod) {
        /* The cause on one line: "ValueError: message". */
        fn = PyObject_GetAttrString(mod, "format_exception_only");
        if (fn) {
            PyObject *only = PyObject_CallFunctionObjArgs(fn, type, value ? value : Py_None, NULL);
            if (only) {
                PyObject *empty = GW_Native_FromString("");
                if (empty)
                    cause = PyObject_CallMethod(empty, "join", "O", only);
                Py_XDECREF(empty);
                Py_DECREF(only);
            }
            Py_DECREF(fn);
            fn = NULL;
        }
        PyErr_Clear();
        fn = PyObject_GetAttrString(mod, "format_exception");
    }
    ctext = utf8_of(cause, &cause_keep);
    if (headline) {
        char *line;
        apr_size_t hl = strlen(headline), cl = ctext ? strcspn(ctext, "\n") : 0;
        line = malloc(hl + cl + 16);
        if (line) {
            memcpy(line, headline, hl);
            if (cl) {
                /* "... script '/x.wsgi'. Cause: ValueError: message" */
                memcpy(line + hl, " Cause: ", 8);
                memcpy(line + hl + 8, ctext, cl);
                line[hl + 8 + cl] = '\0';
            }
            else {
                line[hl] = '\0';
            }
            gw_log_lines(io, s, APLOG_ERR, line, strlen(line));
            free(line);
        }
    }
    if (fn)
        lines = PyObject_CallFunctionObjArgs(fn, type, value ? value : Py_None, tb ? tb : Py_None,
                                             NULL);
    if (lines) {
        sep = GW_Native_FromString("");
        if (sep)
            text = PyObject_CallMethod(sep, "join", "O", lines);
    }
    ttext = utf8_of(text, &keep);
    if (ttext)
        log_prefixed(io, s, APLOG_ERR, prefix, ttext, strlen(ttext));
    else if (ctext)
        log_prefixed(io, s, APLOG_ERR, prefix, ctext, strlen(ctext));
    else
        gw_io_logf(io, APLOG_ERR, "%s%s", prefix,
                   PyExceptionClass_Check(type) ? ((PyExceptionClass_Name(type))) : "exception");
    PyErr_Clear();
    Py_XDECREF(keep);
    Py_XDECREF(cause_keep);
    Py_XDECREF(cause);
    Py_XDECREF(text);
    Py_XDECREF(sep);
    Py_XDECREF(lines);
    Py_XDECREF(fn);
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* Fill the slots C89-style initialisers above cannot name portably. */
void gw_log_types_ready(void)
{
    GwLog_Type.tp_flags = GW_TPFLAGS_DEFAULT;
    GwLog_Type.tp_methods = log_methods;
    GwLog_Type.tp_getset = log_getset;
#if PY_VERSION_HEX >= 0x030D0000
    GwLog_Type.tp_getattro = log_getattro;
#endif
#if !GW_PY3
    GwLog_Type.tp_members = log_members;
#endif
    if (!gw_profile()->log_has_name)        /* drop the last entry, "name" */
        memset(&log_getset[sizeof(log_getset) / sizeof(log_getset[0]) - 2], 0,
               sizeof(log_getset[0]));
    GwLog_Type.tp_doc = "Writes lines to Apache's error log.";
    GwRestricted_Type.tp_flags = GW_TPFLAGS_DEFAULT;
    GwRestricted_Type.tp_getattro = (getattrofunc)restricted_getattro;
}

/* After PyType_Ready: what the profile's release has in the type's own dict. */
void gw_log_types_done(void)
{
    if (gw_profile()->log_type_module_in_dict) {     /* 6.x defines Log as a heap type */
        PyObject *m = GW_Native_FromString("mod_wsgi");
        if (m) {
            PyDict_SetItemString(GwLog_Type.tp_dict, "__module__", m);
            Py_DECREF(m);
            PyType_Modified(&GwLog_Type);
        }
        PyErr_Clear();
    }
#if PY_VERSION_HEX >= 0x030D0000
    /* The slot wrapper PyType_Ready made for log_getattro: no release's Log has one. */
    if (PyDict_DelItemString(GwLog_Type.tp_dict, "__getattribute__") == 0)
        PyType_Modified(&GwLog_Type);
    PyErr_Clear();
#endif
}
