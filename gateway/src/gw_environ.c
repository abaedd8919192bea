/*
 * gw_environ.c - the WSGI environ.
 *
 * Two halves, so daemon mode can ship the first one over its socket:
 *   gw_environ_table()/gw_environ_carriers()  Apache child: CGI variables and
 *       the mod_wsgi.* carrier strings, as an APR table of C strings.
 *   gw_environ_dict()  interpreter side: the table as a dict of native
 *       strings plus the wsgi.* objects and the profile's version/timing keys.
 */
#include "gw_environ.h"
#include "gw_adapter.h"
#include "gw_profile.h"

#include <unistd.h>

/* Collapse runs of '/' into one, in place. */
static void collapse_slashes(char *s)
{
    char *w = s;
    const char *r = s;
    while (*r) {
        *w++ = *r;
        if (*r == '/')
            while (r[1] == '/')
                r++;
        r++;
    }
    *w = '\0';
}

static int has_content_filter(request_rec *r)
{
    ap_filter_t *f;
    for (f = r->output_filters; f; f = f->next) {
        if (f->frec && f->frec->ftype < AP_FTYPE_PROTOCOL)
            return 1;
    }
    return 0;
}

apr_table_t *gw_environ_table(request_rec *r, const gw_request_config *rc)
{
    apr_table_t *t = r->subprocess_env;
    const char *v;

    gw_add_common_vars(r);
    gw_add_cgi_vars(r, gw_profile()->has_cgi_legacy_vars);

    if (rc->pass_authorization > 0) {
        v = apr_table_get(r->headers_in, "Authorization");
        if (v)
            apr_table_setn(t, "HTTP_AUTHORIZATION", v);
    }

    v = apr_table_get(t, "PATH_INFO");
    if (!v) {
        apr_table_setn(t, "PATH_INFO", "");
    }
    else if (strstr(v, "//")) {
        char *c = apr_pstrdup(r->pool, v);
        collapse_slashes(c);
        apr_table_setn(t, "PATH_INFO", c);
    }
    v = apr_table_get(t, "SCRIPT_NAME");
    if (v && strstr(v, "//")) {
        char *c = apr_pstrdup(r->pool, v);
        collapse_slashes(c);
        apr_table_setn(t, "SCRIPT_NAME", c);
        v = c;
    }
    /* A mount ending in '/' (the root mount: Apache gives "/" and "") hands its slash to
     * PATH_INFO, as every release does: SCRIPT_NAME never ends with '/'. */
    if (v && *v && v[strlen(v) - 1] == '/') {
        apr_size_t n = strlen(v);
        while (n > 0 && v[n - 1] == '/')
            n--;
        apr_table_setn(t, "PATH_INFO",
                       apr_pstrcat(r->pool, "/", apr_table_get(t, "PATH_INFO"), NULL));
        apr_table_setn(t, "SCRIPT_NAME", apr_pstrndup(r->pool, v, n));
    }

    if (r->method_number == M_GET && r->header_only) {
        int map = rc->map_head_to_get;
        if (map == 1 || (map == 2 && has_content_filter(r)))
            apr_table_setn(t, "REQUEST_METHOD", "GET");
    }

    if (!gw_profile()->has_cgi_legacy_vars) {
        apr_table_unset(t, "GATEWAY_INTERFACE");
        apr_table_unset(t, "SERVER_SIGNATURE");
        apr_table_unset(t, "PATH_TRANSLATED");
        apr_table_unset(t, "REMOTE_HOST");
        apr_table_unset(t, "REMOTE_IDENT");
    }
    return t;
}

void gw_environ_carriers(request_rec *r, const gw_request_config *rc, apr_table_t *t)
{
    const gw_profile_info *prof = gw_profile();
    conn_rec *c = r->connection;
    char buf[64];

    apr_table_setn(t, "mod_wsgi.process_group", rc->process_group);
    apr_table_setn(t, "mod_wsgi.application_group", rc->application_group);
    apr_table_setn(t, "mod_wsgi.callable_object", rc->callable_object);
    apr_table_setn(t, "mod_wsgi.request_handler", r->handler ? r->handler : "wsgi-script");
    apr_table_setn(t, "mod_wsgi.handler_script", "");
    if (prof->has_legacy_keys) {
        apr_table_setn(t, "mod_wsgi.script_reloading", rc->script_reloading ? "1" : "0");
        apr_table_setn(t, "mod_wsgi.enable_sendfile", rc->enable_sendfile > 0 ? "1" : "0");
    }
    if (prof->has_ignore_activity_key)
        apr_table_setn(t, "mod_wsgi.ignore_activity", "0");
    if (prof->has_input_chunked_key)
        apr_table_setn(t, "mod_wsgi.input_chunked", r->read_chunked ? "1" : "0");
    apr_table_setn(t, "mod_wsgi.listener_host", c->local_ip ? c->local_ip : "");
    apr_snprintf(buf, sizeof(buf), "%d", c->local_addr ? (int)c->local_addr->port : 0);
    apr_table_set(t, "mod_wsgi.listener_port", buf);
    apr_snprintf(buf, sizeof(buf), "%" APR_TIME_T_FMT, r->request_time);
    apr_table_set(t, "mod_wsgi.request_start", buf);
#if GW_AP24
    if (prof->has_request_ids) {
        if (!GW_LOG_ID(r))
            ap_run_generate_log_id(c, r, &r->log_id);
        apr_table_setn(t, "mod_wsgi.request_id", r->log_id ? r->log_id : "");
    }
#endif
    /* The pair as mapped here, under names a middleware that rewrites SCRIPT_NAME and
       PATH_INFO (a proxy's prefix) leaves alone. */
    if (prof->has_script_name_keys) {
        const char *sn = apr_table_get(t, "SCRIPT_NAME");
        apr_table_setn(t, "mod_wsgi.script_name", sn ? sn : "");
        apr_table_setn(t, "mod_wsgi.path_info", apr_table_get(t, "PATH_INFO"));
    }
    if (prof->has_server_pid_key) {
        apr_snprintf(buf, sizeof(buf), "%d", (int)getpid());
        apr_table_set(t, "mod_wsgi.server_pid", buf);
    }
}

/* ----------------------------------------------------------- dict side */

static __thread long gw_thread_id;
static long gw_thread_counter;
/* Requests this thread / this process finished (an app sees those before its own). */
static __thread long gw_thread_requests;
static long gw_total_requests;

void gw_environ_request_done(void)
{
    gw_thread_requests++;
    __sync_add_and_fetch(&gw_total_requests, 1);
}

static int set_item(PyObject *d, const char *key, PyObject *v)
{
    int rv;
    if (!v)
        return -1;
    rv = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rv;
}

static PyObject *int_tuple(const int *v, int n)
{
    PyObject *t = PyTuple_New(n);
    int i;
    if (!t)
        return NULL;
    for (i = 0; i < n; i++)
        PyTuple_SET_ITEM(t, i, GW_Int_FromLong(v[i]));
    return t;
}

static PyObject *time_value(const gw_profile_info *prof, apr_time_t us)
{
    char buf[32];
    if (prof->timing_float)
        return PyFloat_FromDouble((double)us / 1000000.0);
    apr_snprintf(buf, sizeof(buf), "%" APR_TIME_T_FMT, us);
    return GW_Native_FromString(buf);
}

static apr_time_t carrier_time(const char *s)
{
    return s ? (apr_time_t)apr_atoi64(s) : 0;
}

PyObject *gw_environ_dict(const apr_table_t *t, gw_environ_info *info, PyObject *input,
                          PyObject *errors)
{
    const gw_profile_info *prof = gw_profile();
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *https = NULL, *request_start = NULL, *queue_start = NULL, *daemon_start = NULL;
    PyObject *d = PyDict_New();
    int i;

    if (!d)
        return NULL;
    for (i = 0; i < arr->nelts; i++) {
        const char *k = e[i].key, *v = e[i].val;
        PyObject *key, *val;
        if (!k || !v)
            continue;
        if (k[0] == 'm' && !strncmp(k, "mod_wsgi.", 9)) {
            const char *n = k + 9;
            if (!strcmp(n, "request_start")) {
                request_start = v;
                continue;
            }
            if (!strcmp(n, "queue_start")) {
                queue_start = v;
                continue;
            }
            if (!strcmp(n, "daemon_start")) {
                daemon_start = v;
                continue;
            }
        }
        else if (k[0] == 'H' && !strcmp(k, "HTTPS")) {
            https = v;
            continue;
        }
        else if (k[0] == 'P' && !strcmp(k, "PATH")) {
            continue;   /* never in environ, even from SetEnv: the one place it is dropped */
        }
        key = GW_Native_FromString(k);
        val = GW_Native_FromString(v);
        if (!key || !val || PyDict_SetItem(d, key, val) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(val);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(val);
    }

    {
        static const int wsgi_version[2] = { 1, 0 };
        static const int gw_version[3] = { GW_VERSION_MAJOR, GW_VERSION_MINOR, GW_VERSION_MICRO };
        if (set_item(d, "wsgi.version", int_tuple(wsgi_version, 2)) < 0)
            goto fail;
        if (set_item(d, "wsgi.url_scheme",
                     GW_Native_FromString(https && (!strcasecmp(https, "on") || !strcmp(https, "1"))
                                              ? "https"
                                              : "http")) < 0)
            goto fail;
        if (PyDict_SetItemString(d, "wsgi.input", input) < 0 ||
            PyDict_SetItemString(d, "wsgi.errors", errors) < 0 ||
            PyDict_SetItemString(d, "wsgi.multithread", info->multithread ? Py_True : Py_False) <
                0 ||
            PyDict_SetItemString(d, "wsgi.multiprocess", info->multiprocess ? Py_True : Py_False) <
                0 ||
            PyDict_SetItemString(d, "wsgi.run_once", info->run_once ? Py_True : Py_False) < 0)
            goto fail;
        /* (3.4: the adapter puts in a method of its own) */
        if (prof->file_wrapper_class &&
            PyDict_SetItemString(d, "wsgi.file_wrapper", gw_file_wrapper_type()) < 0)
            goto fail;
        if (prof->has_input_terminated &&
            PyDict_SetItemString(d, "wsgi.input_terminated", Py_True) < 0)
            goto fail;
        if (set_item(d, "mod_wsgi.version", int_tuple(prof->version, prof->version_len)) < 0)
            goto fail;
        if (set_item(d, "mod_gateway.version", int_tuple(gw_version, 3)) < 0)
            goto fail;
        if (prof->has_apache_version_key) {
            static const int ap_version[3] = { AP_SERVER_MAJORVERSION_NUMBER,
                                               AP_SERVER_MINORVERSION_NUMBER,
                                               AP_SERVER_PATCHLEVEL_NUMBER };
            if (set_item(d, "apache.version", int_tuple(ap_version, 3)) < 0)
                goto fail;
        }
        if (prof->has_request_ids) {
            if (!gw_thread_id)
                gw_thread_id = __sync_add_and_fetch(&gw_thread_counter, 1);
            if (set_item(d, "mod_wsgi.thread_id", GW_Int_FromLong(gw_thread_id)) < 0)
                goto fail;
        }
        /* A Python long on 2.7 too, as the releases hand out. */
        if (prof->has_request_counters &&
            (set_item(d, "mod_wsgi.thread_requests", PyLong_FromLong(gw_thread_requests)) < 0 ||
             set_item(d, "mod_wsgi.total_requests",
                      PyLong_FromLong(__atomic_load_n(&gw_total_requests, __ATOMIC_RELAXED))) < 0))
            goto fail;
    }

    /* Timing keys, per profile. */
    {
        apr_time_t req = carrier_time(request_start);
        apr_time_t now = info->script_start ? info->script_start : apr_time_now();
        if (prof->timing_queue_start_is_request) {
            if (set_item(d, "mod_wsgi.queue_start", time_value(prof, req)) < 0)
                goto fail;
        }
        else {
            if (set_item(d, "mod_wsgi.request_start", time_value(prof, req)) < 0)
                goto fail;
            if (queue_start || prof->timing_all_keys) {
                if (set_item(d, "mod_wsgi.queue_start",
                             queue_start ? time_value(prof, carrier_time(queue_start))
                                         : PyFloat_FromDouble(0.0)) < 0)
                    goto fail;
            }
            if (daemon_start || prof->timing_all_keys) {
                if (set_item(d, "mod_wsgi.daemon_start",
                             daemon_start ? time_value(prof, carrier_time(daemon_start))
                                          : PyFloat_FromDouble(0.0)) < 0)
                    goto fail;
            }
            if (set_item(d, prof->script_start_key, time_value(prof, now)) < 0)
                goto fail;
        }
    }
    return d;

fail:
    Py_DECREF(d);
    return NULL;
}
