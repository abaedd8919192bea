/*
 * gw_compat.h - every Python 2/3 and Apache 2.2/2.4 difference lives here.
 *
 * The rest of mod_gateway is written against the GW_* names below and never
 * tests PY_MAJOR_VERSION or AP_SERVER_MAJORVERSION_NUMBER itself.
 */
#ifndef GW_COMPAT_H
#define GW_COMPAT_H

/* Python.h must come first: its pyconfig.h sets feature macros the C library honours. */
#define PY_SSIZE_T_CLEAN 1
#include <pyconfig.h>
/* 3.2's configure found the PyArg_ParseTuple format attribute usable where GCC only
   warns that it does not know it (modsupport.h); no later Python declares it. */
#undef HAVE_ATTRIBUTE_FORMAT_PARSETUPLE
#include <Python.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"
#include "ap_mpm.h"
#include "ap_release.h"
#include <stddef.h>
#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_hash.h"
#include "apr_md5.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"
#include "apr_buckets.h"
#include "util_filter.h"

/* Python.h and httpd.h both define these; keep Apache's meaning quiet. */

/* ------------------------------------------------------------------ Python */

#if PY_MAJOR_VERSION >= 3
#define GW_PY3 1
#else
#define GW_PY3 0
#endif

#define GW_PY_AT_LEAST(maj, min)                                                                   \
    (PY_MAJOR_VERSION > (maj) || (PY_MAJOR_VERSION == (maj) && PY_MINOR_VERSION >= (min)))

#if GW_PY3
/* Native strings: str, decoded latin-1 (PEP 3333). */
#define GW_Native_FromStringAndSize(s, n) PyUnicode_DecodeLatin1((s), (n), NULL)
#define GW_Native_FromString(s)           PyUnicode_DecodeLatin1((s), (Py_ssize_t)strlen(s), NULL)
#define GW_Native_Check(o)                PyUnicode_Check(o)
#define GW_Native_InternFromString(s)     PyUnicode_InternFromString(s)
#define GW_Int_FromLong(v)                PyLong_FromLong(v)
#define GW_Int_Check(o)                   PyLong_Check(o)
#define GW_Int_AsLong(o)                  PyLong_AsLong(o)
#define GW_TEXT_TYPE_NAME                 "str"
#else
#define GW_Native_FromStringAndSize(s, n) PyString_FromStringAndSize((s), (n))
#define GW_Native_FromString(s)           PyString_FromString(s)
#define GW_Native_Check(o)                PyString_Check(o)
#define GW_Native_InternFromString(s)     PyString_InternFromString(s)
#define GW_Int_FromLong(v)                PyInt_FromLong(v)
#define GW_Int_Check(o)                   (PyInt_Check(o) || PyLong_Check(o))
#define GW_Int_AsLong(o)                  PyInt_AsLong(o)
#define GW_TEXT_TYPE_NAME                 "unicode"
#endif

/* Bytes: Python 2.7's bytesobject.h aliases PyBytes_* to PyString_*. */

/*
 * Latin-1 bytes of a native string (or, where allowed, bytes): returns a new
 * bytes reference or NULL with an exception set.  On Python 2 a str is already
 * bytes; unicode is rejected (mod_wsgi never accepted it).
 */
static inline PyObject *GW_Native_AsLatin1Bytes(PyObject *o, int accept_bytes)
{
#if GW_PY3
    if (PyUnicode_Check(o))
        return PyUnicode_AsLatin1String(o);
    if (accept_bytes && PyBytes_Check(o)) {
        Py_INCREF(o);
        return o;
    }
#else
    (void)accept_bytes;
    if (PyString_Check(o)) {
        Py_INCREF(o);
        return o;
    }
#endif
    PyErr_Format(PyExc_TypeError, "expected a native string, got %.200s", Py_TYPE(o)->tp_name);
    return NULL;
}

/* Module creation. */
#if GW_PY3
#define GW_MODULE_CREATE(def, name, methods) PyModule_Create(def)
#else
#define GW_MODULE_CREATE(def, name, methods) Py_InitModule((char *)(name), (methods))
#endif

/* Type-flag differences: Py_TPFLAGS_HAVE_ITER only exists (and matters) on 2.x. */
#if GW_PY3
#define GW_TPFLAGS_DEFAULT  Py_TPFLAGS_DEFAULT
#define GW_TP_ITERNEXT_NAME "__next__"
#else
#define GW_TPFLAGS_DEFAULT  (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_ITER)
#define GW_TP_ITERNEXT_NAME "next"
#endif

/* Threads: 3.7+ always has the GIL created; older ones need PyEval_InitThreads. */
#if GW_PY_AT_LEAST(3, 7)
#define GW_INIT_THREADS() ((void)0)
#else
#define GW_INIT_THREADS() PyEval_InitThreads()
#endif

/* After-fork hook for a Python initialised before fork. */
#if GW_PY_AT_LEAST(3, 7)
#define GW_AFTER_FORK_CHILD() PyOS_AfterFork_Child()
#else
#define GW_AFTER_FORK_CHILD() PyOS_AfterFork()
#endif

/* The interpreter of a thread state (the struct is opaque in new Pythons). */
#if GW_PY_AT_LEAST(3, 9)
#define GW_TSTATE_INTERP(ts) PyThreadState_GetInterpreter(ts)
#else
#define GW_TSTATE_INTERP(ts) ((ts)->interp)
#endif

/* PyConfig based initialisation exists from 3.8; legacy API below that. */
#if GW_PY_AT_LEAST(3, 8)
#define GW_HAVE_PYCONFIG 1
#else
#define GW_HAVE_PYCONFIG 0
#endif

/* A C string in the locale's encoding as a wide string for the Python 3 init API
 * (malloc'd; it must outlive the interpreter).  Py_DecodeLocale exists from 3.5. */
#if GW_PY_AT_LEAST(3, 5)
#define GW_DecodeLocale(s) Py_DecodeLocale((s), NULL)
#elif GW_PY3
wchar_t *gw_decode_locale(const char *s);
#define GW_DecodeLocale(s) gw_decode_locale(s)
#endif

/* Py_IsFinalizing / capsule. */
#if GW_PY3 || (PY_MINOR_VERSION >= 7)
#define GW_HAVE_CAPSULE 1
#endif

/* ------------------------------------------------------------------ Apache */

#if AP_SERVER_MAJORVERSION_NUMBER == 2 && AP_SERVER_MINORVERSION_NUMBER >= 4
#define GW_AP24 1
#else
#define GW_AP24 0
#endif

/* A daemon names the request's client in its log lines as the releases' daemons do: 2.4's
 * "[remote ip:port]"; 2.2's ap_log_rerror writes "[client ip]". */
#if GW_AP24
#define GW_PEER_TAG      "remote"
#define GW_PEER_HAS_PORT 1
#else
#define GW_PEER_TAG      "client"
#define GW_PEER_HAS_PORT 0
#endif

#if GW_AP24
#define GW_CLIENT_IP(r)      ((r)->useragent_ip)
#define GW_CONN_CLIENT_IP(c) ((c)->client_ip)
#define GW_LOG_ID(r)         ((r)->log_id)
#else
#define GW_CLIENT_IP(r)                      ((r)->connection->remote_ip)
#define GW_CONN_CLIENT_IP(c)                 ((c)->remote_ip)
#define GW_LOG_ID(r)                         ((const char *)NULL)
#define ap_get_server_banner()               ap_get_server_version()
/* RFC 6585 came after 2.2: it answers 431 with the status line of a 500. */
#define HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE 431
#endif

#if GW_AP24
#define GW_UNIXD_CONFIG                  ap_unixd_config      /* unixd.h */
#define GW_RUNTIME_DIR_RELATIVE(p, name) ap_runtime_dir_relative((p), (name))
#else
#define GW_UNIXD_CONFIG unixd_config
#define GW_RUNTIME_DIR_RELATIVE(p, name)                                                           \
    ap_server_root_relative((p), apr_pstrcat((p), DEFAULT_REL_RUNTIMEDIR "/", (name), NULL))
#endif

/* Where Apache is in its life cycle (gw_compat.c).  Each is asked from post_config or
 * from a pconf cleanup / other-child callback of the parent. */
/* This post_config pass only checks the config: the first of start-up, or a -t/-S
 * run.  Ask once per pass. */
int gw_ap_preflight(server_rec *s);
/* The MPM is serving (not starting, restarting or stopping). */
int gw_ap_running(void);
/* From post_config: lets gw_ap_exiting answer in this generation's pconf cleanups. */
void gw_ap_watch_exit(apr_pool_t *pconf, server_rec *s);
/* In a pconf cleanup: Apache is stopping, not restarting. */
int gw_ap_exiting(void);
/* ap_add_common_vars as 2.4 does it: no HTTP_* key from a header named with other than
 * letters, digits and '-'. */
void gw_add_common_vars(request_rec *r);
/* ap_add_cgi_vars; path_translated = 0: PATH_TRANSLATED is not wanted, so Apache need not
 * look PATH_INFO up (skipped from 2.4). */
void gw_add_cgi_vars(request_rec *r, int path_translated);

#if GW_AP24
APLOG_USE_MODULE(gateway);
#endif

#endif /* GW_COMPAT_H */
