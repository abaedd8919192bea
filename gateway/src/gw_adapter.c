/*
 * gw_adapter.c - PEP 3333 response side: start_response (its arguments checked by
 * gw_response.c), write(), iterating the result, close(), wsgi.file_wrapper and its
 * fast path.
 *
 * Runs over gw_reqio only (see gw_request.h), so it works unchanged in an
 * Apache child (embedded) and in a daemon process.
 */
#include "gw_adapter.h"
#include "gw_log.h"
#include "gw_profile.h"
#include "gw_response.h"

#include <errno.h>
#include <structmember.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD gw_call *call;
    gw_reqio *io;
    int expired;
    int status;                     /* 0 until start_response */
    const char *status_line;
    apr_array_header_t *headers;    /* gw_header */
    apr_off_t content_length;       /* -1 unknown */
    apr_off_t sent;
    int headers_sent;
    int client_gone;
} GwAdapter;

static const gw_profile_info *prof;

/* ---------------------------------------------------------------- output */

static int send_headers(GwAdapter *self)
{
    if (self->headers_sent)
        return 0;
    self->headers_sent = 1;
    if (self->io->send_headers(self->io, self->status, self->status_line, self->headers) < 0) {
        PyErr_SetString(PyExc_IOError, "response headers could not be sent");
        return -1;
    }
    return 0;
}

/* Writing the response failed: the client (or, in a daemon, the Apache child) is gone.
 * One line naming the request; the application's output stops here. */
static void client_left(GwAdapter *self, apr_off_t delivered)
{
    self->client_gone = 1;
    gw_io_logf(self->io, APLOG_INFO,
               "mod_gateway (pid=%d): Client closed the connection "
               "during the response (after %" APR_OFF_T_FMT " bytes); stopping the "
               "application's output: WSGI script '%s'.",
               (int)getpid(), delivered,
               self->call && self->call->script ? self->call->script : "");
}

/* 0 sent, 1 client gone, -1 error set. */
static int output(GwAdapter *self, const char *data, apr_size_t len, int flush)
{
    int rv = 0;
    if (!self->status) {
        PyErr_SetString(PyExc_RuntimeError, "response has not been started");
        return -1;
    }
    if (send_headers(self) < 0)
        return -1;
    if (self->client_gone)
        return 1;
    if (self->content_length >= 0) {
        apr_off_t left = self->content_length - self->sent;
        if ((apr_off_t)len > left)
            len = left > 0 ? (apr_size_t)left : 0;
    }
    if (len == 0 && !flush)
        return 0;
    Py_BEGIN_ALLOW_THREADS if (len) rv = self->io->send_body(self->io, data, len);
    if (rv == 0 && flush && self->io->flush)
        rv = self->io->flush(self->io);
    Py_END_ALLOW_THREADS self->sent += len;
    if (rv < 0) {
        client_left(self, self->sent - (apr_off_t)len);
        return 1;
    }
    return 0;
}

/* Body item as bytes: new reference or NULL. */
static PyObject *body_bytes(PyObject *item, const char *what)
{
    if (PyBytes_Check(item)) {
        Py_INCREF(item);
        return item;
    }
#if GW_PY3
    if (prof->lenient_py3_types && PyUnicode_Check(item)) {
        PyObject *b = PyUnicode_AsLatin1String(item);
        if (!b && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "response body contains non 'latin-1' characters");
        }
        return b;
    }
#endif
    PyErr_Format(PyExc_TypeError, "%s of byte string values expected, value of type %.200s found",
                 what, Py_TYPE(item)->tp_name);
    return NULL;
}

/* ------------------------------------------------------------ the object */

static int check_live(GwAdapter *self)
{
    if (self->expired) {
        PyErr_SetString(PyExc_RuntimeError, "request object has expired");
        return -1;
    }
    return 0;
}

static PyObject *adapter_write(GwAdapter *self, PyObject *data)
{
    PyObject *b;
    int rv;
    if (check_live(self) < 0)
        return NULL;
    b = body_bytes(data, "byte string value expected; write() argument:");
    if (!b) {
        if (PyErr_ExceptionMatches(PyExc_TypeError) && !PyBytes_Check(data)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "byte string value expected, value of type %.200s found",
                         Py_TYPE(data)->tp_name);
        }
        return NULL;
    }
    rv = output(self, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), 1);
    Py_DECREF(b);
    if (rv < 0)
        return NULL;
    if (rv > 0) {
        PyErr_SetString(PyExc_IOError, "client connection closed");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef write_def = { "write", (PyCFunction)adapter_write, METH_O, NULL };

static PyObject *adapter_start_response(GwAdapter *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "status", "response_headers", "exc_info", NULL };
    PyObject *status, *headers, *exc_info = Py_None;
    int code;
    const char *line;
    apr_array_header_t *arr;
    apr_off_t clen;

    if (check_live(self) < 0)
        return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:start_response", kwlist, &status, &headers,
                                     &exc_info))
        return NULL;
    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_RuntimeError, "exception info must be a tuple");
            return NULL;
        }
        if (self->headers_sent) {
            PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1),
                     *tb = PyTuple_GET_ITEM(exc_info, 2);
            Py_INCREF(t);
            Py_INCREF(v);
            if (tb == Py_None)
                tb = NULL;
            else
                Py_INCREF(tb);
            PyErr_Restore(t, v, tb);
            return NULL;
        }
    }
    else if (self->headers_sent) {
        PyErr_SetString(PyExc_RuntimeError, "headers have already been sent");
        return NULL;
    }
    if (gw_response_status(self->io->pool, status, &code, &line) < 0)
        return NULL;
    if (gw_response_headers(self->io->pool, headers, &arr, &clen) < 0)
        return NULL;
    self->status = code;
    self->status_line = line;
    self->headers = arr;
    self->content_length = clen;
    return PyCFunction_New(&write_def, (PyObject *)self);
}

static PyMethodDef start_response_def = { "start_response",
                                          (PyCFunction)(void (*)(void))adapter_start_response,
                                          METH_VARARGS | METH_KEYWORDS, NULL };

static void adapter_dealloc(GwAdapter *self)
{
    PyObject_Del(self);
}

PyTypeObject GwAdapter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0) "mod_wsgi.Adapter",
    sizeof(GwAdapter),
    0,
    (destructor)adapter_dealloc,
};

/* ------------------------------------------------------------ FileWrapper */

typedef struct {
    PyObject_HEAD PyObject *filelike;
    Py_ssize_t blksize;
} GwFileWrapper;

static PyObject *fw_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "filelike", "blksize", NULL };
    PyObject *filelike;
    Py_ssize_t blksize = 8192;
    GwFileWrapper *self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n:FileWrapper", kwlist, &filelike, &blksize))
        return NULL;
    self = (GwFileWrapper *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    Py_INCREF(filelike);
    self->filelike = filelike;
    self->blksize = blksize > 0 ? blksize : 8192;
    return (PyObject *)self;
}

static void fw_dealloc(GwFileWrapper *self)
{
    Py_XDECREF(self->filelike);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *fw_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *fw_next(GwFileWrapper *self)
{
    PyObject *data = PyObject_CallMethod(self->filelike, "read", "n", self->blksize);
    if (!data)
        return NULL;
    if (PyObject_IsTrue(data) != 1) {
        Py_DECREF(data);
        return NULL;
    }
    return data;
}

static PyObject *fw_close(GwFileWrapper *self, PyObject *unused)
{
    (void)unused;
    if (PyObject_HasAttrString(self->filelike, "close"))
        return PyObject_CallMethod(self->filelike, "close", NULL);
    Py_RETURN_NONE;
}

static PyMethodDef fw_methods[] = { { "close", (PyCFunction)fw_close, METH_NOARGS, NULL },
                                    { NULL, NULL, 0, NULL } };

static PyMemberDef fw_members[] = {
    { "filelike", T_OBJECT, offsetof(GwFileWrapper, filelike), READONLY, NULL },
    { "blksize", T_PYSSIZET, offsetof(GwFileWrapper, blksize), READONLY, NULL },
    { NULL, 0, 0, 0, NULL }
};

PyTypeObject GwFileWrapper_Type = {
    PyVarObject_HEAD_INIT(NULL, 0) "mod_wsgi.FileWrapper",
    sizeof(GwFileWrapper),
    0,
    (destructor)fw_dealloc,
};

PyObject *gw_file_wrapper_type(void)
{
    return (PyObject *)&GwFileWrapper_Type;
}

/* 3.4 hands the app wsgi.file_wrapper as a method of the request's adapter. */
static PyObject *adapter_file_wrapper(GwAdapter *self, PyObject *args, PyObject *kwds)
{
    if (check_live(self) < 0)
        return NULL;
    return PyObject_Call((PyObject *)&GwFileWrapper_Type, args, kwds);
}

static PyMethodDef file_wrapper_def = { "file_wrapper",
                                        (PyCFunction)(void (*)(void))adapter_file_wrapper,
                                        METH_VARARGS | METH_KEYWORDS, NULL };

/* 1 handled, 0 not applicable (iterate instead), -1 error set. */
static int file_fast_path(GwAdapter *self, GwFileWrapper *fw)
{
    PyObject *r;
    long fd;
    apr_off_t offset, length;
    struct stat st;
    int rv;

    if (!self->io->send_file || !self->status || self->headers_sent)
        return 0;
    r = PyObject_CallMethod(fw->filelike, "fileno", NULL);
    if (!r) {
        PyErr_Clear();
        return 0;
    }
    fd = PyLong_Check(r) ? PyLong_AsLong(r) : GW_Int_AsLong(r);
    Py_DECREF(r);
    if (fd < 0 || PyErr_Occurred() || fstat((int)fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        PyErr_Clear();
        return 0;
    }
    r = PyObject_CallMethod(fw->filelike, "tell", NULL);
    if (!r) {
        PyErr_Clear();
        return 0;
    }
    offset = (apr_off_t)PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (offset < 0 || PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    length = st.st_size > offset ? st.st_size - offset : 0;
    if (self->content_length >= 0) {
        if (length > self->content_length)
            length = self->content_length;
    }
    else {
        gw_header *h = apr_array_push(self->headers);
        h->name = "Content-Length";
        h->value = apr_off_t_toa(self->io->pool, length);
        self->content_length = length;
    }
    if (send_headers(self) < 0)
        return -1;
    if (length > 0) {
        Py_BEGIN_ALLOW_THREADS rv =
            self->io->send_file(self->io, (int)fd, offset, (apr_size_t)length);
        Py_END_ALLOW_THREADS if (rv < 0) client_left(self, 0);
        else self->sent = length;
    }
    return 1;
}

/* ------------------------------------------------------------------ run */

static void log_failure(gw_call *call, const char *what)
{
    char head[1024];
    apr_snprintf(head, sizeof(head), "mod_gateway (pid=%d): %s WSGI script '%s'.", (int)getpid(),
                 what, call->script);
    gw_log_exception(call->io, call->server, head);
}

static int call_close(gw_call *call, PyObject *result)
{
    PyObject *close, *r;
    if (!PyObject_HasAttrString(result, "close"))
        return 0;
    close = PyObject_GetAttrString(result, "close");
    if (!close) {
        log_failure(call, "Exception occurred processing");
        return -1;
    }
    r = PyObject_CallObject(close, NULL);
    Py_DECREF(close);
    if (!r) {
        log_failure(call, "Exception occurred processing");
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

int gw_adapter_run(gw_call *call)
{
    GwAdapter *self;
    PyObject *start_response = NULL, *result = NULL, *iter = NULL, *item;
    int failed = 0, status;

    prof = gw_profile();
    self = PyObject_New(GwAdapter, &GwAdapter_Type);
    if (!self) {
        log_failure(call, "Exception occurred processing");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    self->call = call;
    self->io = call->io;
    self->expired = 0;
    self->status = 0;
    self->status_line = NULL;
    self->headers = NULL;
    self->content_length = -1;
    self->sent = 0;
    self->headers_sent = 0;
    self->client_gone = 0;

    if (!prof->file_wrapper_class) {
        PyObject *fw = PyCFunction_New(&file_wrapper_def, (PyObject *)self);
        int rv = fw ? PyDict_SetItemString(call->environ, "wsgi.file_wrapper", fw) : -1;
        Py_XDECREF(fw);
        if (rv < 0) {
            failed = 1;
            goto done;
        }
    }
    start_response = PyCFunction_New(&start_response_def, (PyObject *)self);
    if (start_response)
        result =
            PyObject_CallFunctionObjArgs(call->application, call->environ, start_response, NULL);
    if (!result) {
        failed = 1;
        goto done;
    }

    if (Py_TYPE(result) == &GwFileWrapper_Type) {
        int rv = file_fast_path(self, (GwFileWrapper *)result);
        if (rv < 0)
            failed = 1;
        if (rv != 0)
            goto finish;
    }

    iter = PyObject_GetIter(result);
    if (!iter) {
        failed = 1;
        goto finish;
    }
    while (!self->client_gone && (item = PyIter_Next(iter)) != NULL) {
        PyObject *b = body_bytes(item, "sequence");
        Py_DECREF(item);
        if (!b) {
            failed = 1;
            break;
        }
        if (PyBytes_GET_SIZE(b) > 0) {
            /* Flushed: PEP 3333 lets no server delay a yielded block while the app makes
             * the next, and every release sends each one at once (ENV-052). */
            int rv = output(self, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), 1);
            if (rv < 0) {
                Py_DECREF(b);
                failed = 1;
                break;
            }
        }
        Py_DECREF(b);
        /* Everything declared was sent: stop asking for more. */
        if (self->content_length >= 0 && self->sent >= self->content_length)
            break;
    }
    if (!failed && PyErr_Occurred())
        failed = 1;
    if (!failed && !self->status) {
        PyErr_SetString(PyExc_RuntimeError, "response has not been started");
        failed = 1;
    }
    if (!failed && send_headers(self) < 0)
        failed = 1;

finish:
    if (failed)
        log_failure(call, "Exception occurred processing");
    Py_XDECREF(iter);
    if (call_close(call, result) < 0 && !self->headers_sent)
        failed = 1;

done:
    if (failed && !result)
        log_failure(call, "Exception occurred processing");
    if (PyErr_Occurred())
        PyErr_Clear();
    status = OK;
    if (failed) {
        /* Body bytes went out: make the truncation visible.  Else a clean 500. */
        if (self->headers_sent && self->sent > 0)
            self->io->abort(self->io);
        else if (!self->client_gone)
            status = HTTP_INTERNAL_SERVER_ERROR;
    }
    self->expired = 1;
    Py_XDECREF(result);
    Py_XDECREF(start_response);
    Py_DECREF(self);
    return status;
}

void gw_adapter_types_ready(void)
{
    GwAdapter_Type.tp_flags = GW_TPFLAGS_DEFAULT;
    GwFileWrapper_Type.tp_flags = GW_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE;
    GwFileWrapper_Type.tp_new = fw_new;
    GwFileWrapper_Type.tp_iter = fw_iter;
    GwFileWrapper_Type.tp_iternext = (iternextfunc)fw_next;
    GwFileWrapper_Type.tp_methods = fw_methods;
    GwFileWrapper_Type.tp_members = fw_members;
}
