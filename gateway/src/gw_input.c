/*
 * gw_input.c - wsgi.input over gw_reqio.read_body.
 *
 * read([size]), readline([size]), readlines([hint]), iteration, close().
 * Reads past the end return b'' and never block (wsgi.input_terminated).
 */
#include "gw_input.h"
#include "gw_buf.h"
#include "gw_profile.h"

typedef struct {
    PyObject_HEAD gw_reqio *io;
    int expired;
    int eof;
    int failed;             /* a read of the body failed: the input is in error state */
    char *buf;
    apr_size_t start, end, cap;
} GwInput;

#define GW_INPUT_CHUNK 8192

PyObject *gw_input_new(gw_reqio *io)
{
    GwInput *self = PyObject_New(GwInput, &GwInput_Type);
    if (!self)
        return NULL;
    self->io = io;
    self->expired = 0;
    self->eof = 0;
    self->failed = 0;
    self->buf = NULL;
    self->start = self->end = self->cap = 0;
    return (PyObject *)self;
}

void gw_input_expire(PyObject *obj)
{
    GwInput *self = (GwInput *)obj;
    self->expired = 1;
    self->io = NULL;
}

static void input_dealloc(GwInput *self)
{
    PyMem_Free(self->buf);
    PyObject_Del(self);
}

/* An input kept past its request refuses every use: 3.4 and 5 say the request object has
   expired, 6 names the call ("read() called on wsgi.input after request completed"). */
static int input_check_call(GwInput *self, const char *what)
{
    if (self->expired) {
        if (gw_profile()->input_expired_names_call)
            PyErr_SetString(PyExc_RuntimeError, what);
        else
            PyErr_SetString(PyExc_RuntimeError, "request object has expired");
        return -1;
    }
    return 0;
}

#define GW_EXPIRED(call)  call "() called on wsgi.input after request completed"
#define GW_EXPIRED_ITER   "iteration of wsgi.input attempted after request completed"
#define input_check(self) input_check_call((self), GW_EXPIRED("read"))

/* After a failed read: 5 and 6 refuse every later read of that input, before anything else
   (read(0) and buffered bytes too); 3.4 keeps no such state, reads again and fails again. */
static int input_check_failed(GwInput *self)
{
    if (self->failed && gw_profile()->input_error_state) {
        PyErr_SetString(PyExc_IOError, gw_profile()->input_error_state);
        return -1;
    }
    return 0;
}

/* Read straight from the request into dst; GIL released.  n, 0 EOF, -1 error set. */
static apr_ssize_t input_raw(GwInput *self, char *dst, apr_size_t len)
{
    apr_ssize_t n;
    const char *err = NULL;
    if (self->eof)
        return 0;
    if (self->failed) {
        /* Every entry point has called input_check_failed already (5 and 6 leave there).
         * 3.4: the request is as broken as it was; its message carries no detail. */
        PyErr_SetString(PyExc_IOError, "request data read error");
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS n = self->io->read_body(self->io, dst, len, &err);
    Py_END_ALLOW_THREADS if (n < 0)
    {
        self->failed = 1;
        PyErr_Format(PyExc_IOError, "request data read error: %s", err ? err : "unknown");
        return -1;
    }
    if (n == 0)
        self->eof = 1;
    return n;
}

/* Append at least one read to the buffer.  Bytes added, 0 at EOF, -1 error. */
static apr_ssize_t input_fill(GwInput *self)
{
    apr_ssize_t n;
    if (self->start == self->end)
        self->start = self->end = 0;
    if (self->cap - self->end < GW_INPUT_CHUNK) {
        if (self->start > 0) {
            memmove(self->buf, self->buf + self->start, self->end - self->start);
            self->end -= self->start;
            self->start = 0;
        }
        if (self->cap - self->end < GW_INPUT_CHUNK &&
            gw_buf_grow(&self->buf, &self->cap, self->cap ? self->cap * 2 : GW_INPUT_CHUNK * 2) < 0)
            return -1;
    }
    n = input_raw(self, self->buf + self->end, self->cap - self->end);
    if (n > 0)
        self->end += n;
    return n;
}

static PyObject *input_take(GwInput *self, apr_size_t n)
{
    PyObject *r = PyBytes_FromStringAndSize(self->buf + self->start, n);
    if (r)
        self->start += n;
    return r;
}

static PyObject *input_read_impl(GwInput *self, Py_ssize_t size)
{
    PyObject *result;
    apr_size_t have = self->end - self->start, cap, got;
    int all = size < 0;
    char *dst;

    if (input_check(self) < 0 || input_check_failed(self) < 0)
        return NULL;
    if (!all && (apr_size_t)size <= have)
        return input_take(self, size);
    if (all) {
        /*
         * Everything that is left: sized by the declared length when there is one, so
         * that the bytes object is exactly the body and never resized.  Shrinking a
         * large one on every request kept glibc's mmap threshold just below the next
         * request's allocation: each 1 MiB read() then mapped fresh memory (~256 page
         * faults a request), where the same size allocated again reuses the heap.
         */
        cap = have + GW_INPUT_CHUNK * 8;
        if (self->io->body_hint > 0 && (apr_size_t)self->io->body_hint > have &&
            self->io->body_hint <= ((apr_off_t)16 << 20))   /* never trust it for more */
            cap = (apr_size_t)self->io->body_hint;
    }
    else {
        cap = (apr_size_t)size;
    }
    result = PyBytes_FromStringAndSize(NULL, cap);
    if (!result)
        return NULL;
    dst = PyBytes_AS_STRING(result);
    memcpy(dst, self->buf + self->start, have);
    self->start = self->end = 0;
    got = have;
    while (all || got < cap) {
        apr_ssize_t n;
        if (all && got == cap) {
            /* Full: only grow for data that is really there (a declared length is exact). */
            char probe[GW_INPUT_CHUNK];
            n = input_raw(self, probe, sizeof(probe));
            if (n <= 0) {
                if (n < 0) {
                    Py_DECREF(result);
                    return NULL;
                }
                break;
            }
            cap = cap * 2 + GW_INPUT_CHUNK;
            if (_PyBytes_Resize(&result, cap) < 0)
                return NULL;
            dst = PyBytes_AS_STRING(result);
            memcpy(dst + got, probe, n);
            got += n;
            continue;
        }
        n = input_raw(self, dst + got, cap - got);
        if (n < 0) {
            Py_DECREF(result);
            return NULL;
        }
        if (n == 0)
            break;
        got += n;
    }
    if (got != cap && _PyBytes_Resize(&result, got) < 0)
        return NULL;
    return result;
}

/* Sizes are integers only: None is a TypeError in every release (-1 means "all"). */
#define GW_SIZE_ARG(args, name, size) PyArg_ParseTuple(args, "|n:" name, size)

/* Every release checks that the input has not expired before it parses the arguments: a
   kept input's read("x") is the expiry RuntimeError, not a TypeError. */
static PyObject *input_read(GwInput *self, PyObject *args)
{
    Py_ssize_t size = -1;
    if (input_check(self) < 0)
        return NULL;
    if (!GW_SIZE_ARG(args, "read", &size))
        return NULL;
    return input_read_impl(self, size);
}

static PyObject *input_readline_impl(GwInput *self, Py_ssize_t size, const char *what)
{
    apr_size_t scanned = 0;
    if (input_check_call(self, what) < 0 || input_check_failed(self) < 0)
        return NULL;
    if (size == 0)
        return PyBytes_FromStringAndSize("", 0);
    for (;;) {
        apr_size_t have = self->end - self->start;
        char *nl = memchr(self->buf + self->start + scanned, '\n', have - scanned);
        apr_ssize_t n;
        if (nl) {
            apr_size_t linelen = nl - (self->buf + self->start) + 1;
            if (size > 0 && linelen > (apr_size_t)size)
                linelen = size;
            return input_take(self, linelen);
        }
        if (size > 0 && have >= (apr_size_t)size)
            return input_take(self, size);
        scanned = have;
        n = input_fill(self);
        if (n < 0)
            return NULL;
        if (n == 0)
            return input_take(self, self->end - self->start);
    }
}

static PyObject *input_readline(GwInput *self, PyObject *args)
{
    Py_ssize_t size = -1;
    if (input_check_call(self, GW_EXPIRED("readline")) < 0)
        return NULL;
    if (!GW_SIZE_ARG(args, "readline", &size))
        return NULL;
    return input_readline_impl(self, size, GW_EXPIRED("readline"));
}

static PyObject *input_readlines(GwInput *self, PyObject *args)
{
    Py_ssize_t hint = -1, total = 0;
    PyObject *list;
    if (input_check_call(self, GW_EXPIRED("readlines")) < 0)
        return NULL;
    if (!GW_SIZE_ARG(args, "readlines", &hint))
        return NULL;
    list = PyList_New(0);
    if (!list)
        return NULL;
    for (;;) {
        PyObject *line = input_readline_impl(self, -1, GW_EXPIRED("readlines"));
        if (!line) {
            Py_DECREF(list);
            return NULL;
        }
        if (PyBytes_GET_SIZE(line) == 0) {
            Py_DECREF(line);
            break;
        }
        total += PyBytes_GET_SIZE(line);
        if (PyList_Append(list, line) < 0) {
            Py_DECREF(line);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(line);
        if (hint > 0 && total >= hint)
            break;
    }
    return list;
}

/* 4.x on: close() takes no arguments, a TypeError before anything else; 3.4's close checks
   expiry first, then that it got none. */
static PyObject *input_close(GwInput *self, PyObject *args)
{
    if (gw_profile()->input_close_args_first && !PyArg_ParseTuple(args, ":close"))
        return NULL;
    if (input_check_call(self, GW_EXPIRED("close")) < 0)   /* as every release does */
        return NULL;
    if (!PyArg_ParseTuple(args, ":close"))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *input_iter(PyObject *self)
{
    if (input_check_call((GwInput *)self, GW_EXPIRED_ITER) < 0)
        return NULL;
    Py_INCREF(self);
    return self;
}

static PyObject *input_next(GwInput *self)
{
    PyObject *line = input_readline_impl(self, -1, GW_EXPIRED_ITER);
    if (line && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL;    /* StopIteration */
    }
    return line;
}

static PyMethodDef input_methods[] = {
    { "read", (PyCFunction)input_read, METH_VARARGS, NULL },
    { "readline", (PyCFunction)input_readline, METH_VARARGS, NULL },
    { "readlines", (PyCFunction)input_readlines, METH_VARARGS, NULL },
    { "close", (PyCFunction)input_close, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

PyTypeObject GwInput_Type = {
    PyVarObject_HEAD_INIT(NULL, 0) "mod_wsgi.Input",
    sizeof(GwInput),
    0,
    (destructor)input_dealloc,
};

void gw_input_types_ready(void)
{
    GwInput_Type.tp_flags = GW_TPFLAGS_DEFAULT;
    GwInput_Type.tp_methods = input_methods;
    GwInput_Type.tp_iter = input_iter;
    GwInput_Type.tp_iternext = (iternextfunc)input_next;
}
