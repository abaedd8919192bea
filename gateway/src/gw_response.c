/*
 * gw_response.c - start_response's arguments checked as the profile's release checks
 * them: the status line (its code, the reason phrase, control characters) and the
 * header list (pairs of native strings, or bytes where 3.4 took them; no CR/LF, no
 * control characters under 4.x+; Content-Length a whole number).
 */
#include "gw_response.h"
#include "gw_profile.h"

#include <errno.h>

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

#define BYTES_EXPECTED "expected byte string object for %s, value of type %.200s found"

/* A native string (or bytes where the profile allows) as latin-1 C text in pool. */
static const char *text_arg(apr_pool_t *pool, PyObject *o, const char *what, apr_size_t *lenp)
{
    PyObject *b;
    const char *s;
#if GW_PY3
    const gw_profile_info *prof = gw_profile();
    if (!PyUnicode_Check(o) && !(prof->lenient_py3_types && PyBytes_Check(o))) {
        /* The lenient profile (3.4) takes bytes too, and its refusal names only bytes. */
        if (prof->lenient_py3_types)
            PyErr_Format(PyExc_TypeError, BYTES_EXPECTED, what, Py_TYPE(o)->tp_name);
        else
            PyErr_Format(PyExc_TypeError,
                         "expected unicode object, value of type %.200s found "
                         "for %s",
                         Py_TYPE(o)->tp_name, what);
        return NULL;
    }
    b = GW_Native_AsLatin1Bytes(o, 1);
    if (!b) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s contains non 'latin-1' characters", what);
        }
        return NULL;
    }
#else
    if (!PyString_Check(o)) {
        PyErr_Format(PyExc_TypeError, BYTES_EXPECTED, what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    Py_INCREF(o);
    b = o;
#endif
    if (memchr(PyBytes_AS_STRING(b), '\0', PyBytes_GET_SIZE(b))) {
        Py_DECREF(b);
        PyErr_Format(PyExc_ValueError, "embedded null character in %s", what);
        return NULL;
    }
    s = apr_pstrmemdup(pool, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    if (lenp)
        *lenp = PyBytes_GET_SIZE(b);
    Py_DECREF(b);
    return s;
}

int gw_response_status(apr_pool_t *pool, PyObject *o, int *code, const char **line)
{
    const gw_profile_info *prof = gw_profile();
    apr_size_t len, i;
    const char *s = text_arg(pool, o, "status", &len);
    const char *sp;
    if (!s)
        return -1;
    for (i = 0; i < len; i++) {
        if (s[i] == '\r' || s[i] == '\n' || (prof->strict_status && is_ctl((unsigned char)s[i]))) {
            PyErr_SetString(PyExc_ValueError, "control character present in status line");
            return -1;
        }
    }
    if (prof->strict_status) {
        if (len < 3 || !apr_isdigit(s[0]) || !apr_isdigit(s[1]) || !apr_isdigit(s[2]) ||
            (len > 3 && apr_isdigit(s[3]))) {
            PyErr_SetString(PyExc_ValueError, "status code is not a 3 digit integer");
            return -1;
        }
        if (len == 3 ? !prof->status_code_alone_ok : s[3] != ' ') {
            PyErr_SetString(PyExc_ValueError, "no space following status code");
            return -1;
        }
        *code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        if (*code < 100) {
            PyErr_SetString(PyExc_ValueError, "status code is out of range");
            return -1;
        }
    }
    else {
        /* 3.4's order: the first word must be a whole integer before a message is asked for
         * ("OK" is a TypeError, "200" a ValueError). */
        char *end;
        long v;
        sp = strchr(s, ' ');
        errno = 0;
        v = strtol(s, &end, 10);
        if (end == s || end != (sp ? sp : s + len) || errno == ERANGE) {
            PyErr_SetString(PyExc_TypeError, "status value is not an integer");
            return -1;
        }
        if (!sp) {
            PyErr_SetString(PyExc_ValueError, "status message was not supplied");
            return -1;
        }
        if (v < 100 || v > 999) {
            PyErr_SetString(PyExc_ValueError, "status code is out of range");
            return -1;
        }
        *code = (int)v;
    }
    *line = s;
    return 0;
}

int gw_response_headers(apr_pool_t *pool, PyObject *headers, apr_array_header_t **out,
                        apr_off_t *clen)
{
    const gw_profile_info *prof = gw_profile();
    Py_ssize_t i, n;
    apr_array_header_t *arr;
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "response headers must be a list, not %.200s",
                     Py_TYPE(headers)->tp_name);
        return -1;
    }
    n = PyList_GET_SIZE(headers);
    arr = apr_array_make(pool, (int)n + 2, sizeof(gw_header));
    *clen = -1;
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);
        gw_header *h;
        apr_size_t nlen, vlen, j;
        const char *name, *value;
        if (!PyTuple_Check(item)) {
            PyErr_Format(PyExc_TypeError,
                         "list of tuple values expected, value of type %.200s "
                         "found",
                         Py_TYPE(item)->tp_name);
            return -1;
        }
        if (PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_ValueError, "tuple of length 2 expected, length is %d",
                         (int)PyTuple_GET_SIZE(item));
            return -1;
        }
        name = text_arg(pool, PyTuple_GET_ITEM(item, 0), "header name", &nlen);
        if (!name)
            return -1;
        value = text_arg(pool, PyTuple_GET_ITEM(item, 1), "header value", &vlen);
        if (!value)
            return -1;
        if (prof->strict_headers && nlen == 0) {
            PyErr_SetString(PyExc_ValueError, "header name is empty");
            return -1;
        }
        for (j = 0; j < nlen; j++) {
            unsigned char c = (unsigned char)name[j];
            if (c == '\n' || c == '\r' ||
                (prof->strict_headers && (is_ctl(c) || c == ' ' || c == ':'))) {
                PyErr_Format(PyExc_ValueError,
                             "invalid character in response header name "
                             "'%s'",
                             ap_escape_logitem(pool, name));
                return -1;
            }
        }
        for (j = 0; j < vlen; j++) {
            unsigned char c = (unsigned char)value[j];
            if (c == '\n' || c == '\r') {
                /* Escaped: the message reaches the error log, where a raw CR/LF would
                 * start a forged line. */
                PyErr_Format(PyExc_ValueError,
                             "embedded newline in response header with "
                             "name '%s' and value '%s'",
                             name, ap_escape_logitem(pool, value));
                return -1;
            }
        }
        if (!strcasecmp(name, "Content-Length")) {
            char *end;
            apr_off_t v;
            if (apr_strtoff(&v, value, &end, 10) != APR_SUCCESS || *end || v < 0 || !*value) {
                PyErr_Format(PyExc_ValueError, "invalid content length '%s'", value);
                return -1;
            }
            *clen = v;
        }
        h = apr_array_push(arr);
        h->name = name;
        h->value = value;
    }
    *out = arr;
    return 0;
}
