/*
 * mod_gateway.c - module record and Apache hooks: script aliases
 * (translate_name), the wsgi-script handler, Python start in children, and
 * the embedded-mode implementation of gw_reqio over a request_rec.
 */
#include "mod_gateway.h"
#include "gw_config.h"
#include "gw_daemon.h"
#include "gw_daemon_config.h"
#include "gw_environ.h"
#include "gw_interp.h"
#include "gw_profile.h"
#include "gw_proxy.h"
#include "gw_script.h"

#include <unistd.h>

/* --------------------------------------------------- embedded request I/O */

typedef struct {
    gw_reqio io;
    request_rec *r;
    apr_bucket_brigade *bb;
    int started;        /* ap_should_client_block done */
    int eof;
} gw_embedded;

static apr_ssize_t emb_read(gw_reqio *io, char *buf, apr_size_t len, const char **errmsg)
{
    gw_embedded *e = (gw_embedded *)io;
    long n;
    if (e->eof)
        return 0;
    if (!e->started) {
        e->started = 1;
        if (!ap_should_client_block(e->r)) {
            e->eof = 1;
            return 0;
        }
    }
    /*
     * At most 64 KiB a call: Apache's input filters gather what the socket has, up
     * to the size asked, as 8 KB buckets before copying it to buf, and those buckets'
     * memory then stays with the connection (up to MaxMemFree).  read() of a 1 MiB
     * body asked for all of it at once: children grew by ~1 MiB per connection and
     * under 16 connections of 1 MiB POSTs peaked 5-10 MiB above mod_wsgi 6.1.1's
     * (now 10+ below it), at the same req/s.  Callers loop over short reads.
     */
    n = ap_get_client_block(e->r, buf, len < 65536 ? len : 65536);
    if (n < 0) {
        *errmsg = "Apache/mod_gateway failed reading the request body "
                  "(client disconnected or timed out)";
        e->eof = 1;
        return -1;
    }
    if (n == 0)
        e->eof = 1;
    return n;
}

static int emb_send_headers(gw_reqio *io, int status, const char *status_line,
                            const apr_array_header_t *headers)
{
    gw_embedded *e = (gw_embedded *)io;
    request_rec *r = e->r;
    const gw_header *h = (const gw_header *)headers->elts;
    int i;
    r->status = status;
    r->status_line = status_line;
    for (i = 0; i < headers->nelts; i++) {
        if (!strcasecmp(h[i].name, "Content-Type")) {
            ap_set_content_type(r, h[i].value);
        }
        else if (!strcasecmp(h[i].name, "Content-Length")) {
            apr_off_t v;
            char *end;
            if (apr_strtoff(&v, h[i].value, &end, 10) == APR_SUCCESS)
                ap_set_content_length(r, v);
        }
        else if (!strcasecmp(h[i].name, "WWW-Authenticate")) {
            apr_table_addn(r->err_headers_out, h[i].name, h[i].value);
        }
        else {
            apr_table_addn(r->headers_out, h[i].name, h[i].value);
        }
    }
    return 0;
}

static int emb_pass(gw_embedded *e)
{
    apr_status_t rv = ap_pass_brigade(e->r->output_filters, e->bb);
    apr_brigade_cleanup(e->bb);
    if (rv != APR_SUCCESS || e->r->connection->aborted)
        return -1;
    return 0;
}

static int emb_send_body(gw_reqio *io, const char *data, apr_size_t len)
{
    gw_embedded *e = (gw_embedded *)io;
    apr_bucket *b = apr_bucket_transient_create(data, len, e->r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(e->bb, b);
    return emb_pass(e);
}

static int emb_flush(gw_reqio *io)
{
    gw_embedded *e = (gw_embedded *)io;
    APR_BRIGADE_INSERT_TAIL(e->bb, apr_bucket_flush_create(e->r->connection->bucket_alloc));
    return emb_pass(e);
}

static int emb_send_file(gw_reqio *io, int fd, apr_off_t offset, apr_size_t len)
{
    gw_embedded *e = (gw_embedded *)io;
    apr_file_t *f = NULL;
    apr_os_file_t ofd = fd;
    if (apr_os_file_put(&f, &ofd, APR_FOPEN_READ, e->r->pool) != APR_SUCCESS)
        return -1;
    apr_brigade_insert_file(e->bb, f, offset, len, e->r->pool);
    /* The caller closes the file after we return: make sure it was sent. */
    APR_BRIGADE_INSERT_TAIL(e->bb, apr_bucket_flush_create(e->r->connection->bucket_alloc));
    return emb_pass(e);
}

static void emb_abort(gw_reqio *io)
{
    gw_embedded *e = (gw_embedded *)io;
    conn_rec *c = e->r->connection;
    /* An error bucket makes the chunk filter skip the last-chunk marker. */
    c->keepalive = AP_CONN_CLOSE;
    APR_BRIGADE_INSERT_TAIL(
        e->bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, e->r->pool, c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(e->bb, apr_bucket_flush_create(c->bucket_alloc));
    emb_pass(e);
    c->aborted = 1;
}

static void emb_log(gw_reqio *io, int level, const char *msg)
{
    gw_embedded *e = (gw_embedded *)io;
    ap_log_rerror(APLOG_MARK, level, 0, e->r, "%s", msg);
}

static void emb_init(gw_embedded *e, request_rec *r)
{
    memset(e, 0, sizeof(*e));
    e->r = r;
    e->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    e->io.ctx = r;
    e->io.pool = r->pool;
    e->io.body_hint = r->read_chunked ? 0 : r->remaining;
    e->io.read_body = emb_read;
    e->io.send_headers = emb_send_headers;
    e->io.send_body = emb_send_body;
    e->io.send_file = emb_send_file;
    e->io.flush = emb_flush;
    e->io.abort = emb_abort;
    e->io.log = emb_log;
}

/* ------------------------------------------------------- script aliases */

/* Prefix match like mod_alias: runs of '/' match one another. Returns length or 0. */
static int alias_matches(const char *uri, const char *alias)
{
    const char *a = alias, *u = uri;
    while (*a) {
        if (*a == '/') {
            if (*u != '/')
                return 0;
            do {
                ++a;
            } while (*a == '/');
            do {
                ++u;
            } while (*u == '/');
        }
        else if (*u++ != *a++) {
            return 0;
        }
    }
    if (a[-1] != '/' && *u != '\0' && *u != '/')
        return 0;
    return (int)(u - uri);
}

static int gw_translate_name(request_rec *r)
{
    gw_server_config *sc = gw_server_conf(r->server);
    gw_alias *aliases;
    int i;

    if (!sc || !sc->aliases || r->uri[0] != '/')
        return DECLINED;
    aliases = (gw_alias *)sc->aliases->elts;
    for (i = 0; i < sc->aliases->nelts; i++) {
        gw_alias *a = &aliases[i];
        const char *target = NULL, *rest = NULL;
        if (a->regex) {
            ap_regmatch_t m[AP_MAX_REG_MATCH];
            if (ap_regexec(a->regex, r->uri, AP_MAX_REG_MATCH, m, 0) == 0) {
                target = ap_pregsub(r->pool, a->target, r->uri, AP_MAX_REG_MATCH, m);
                rest = r->uri + m[0].rm_eo;
            }
        }
        else {
            int l = alias_matches(r->uri, a->location);
            if (l > 0) {
                target = a->target;
                rest = r->uri + l;
            }
        }
        if (!target)
            continue;
        if (*rest && *rest != '/' && target[strlen(target) - 1] != '/')
            r->filename = apr_pstrcat(r->pool, target, "/", rest, NULL);
        else
            r->filename = apr_pstrcat(r->pool, target, rest, NULL);
        r->handler = "wsgi-script";
        apr_table_setn(r->notes, "alias-forced-type", r->handler);
        ap_set_module_config(r->request_config, &gateway_module, a);
        return OK;
    }
    return DECLINED;
}

/* ------------------------------------------------------- group names */

static const char *lookup_env(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->notes, name);
    if (!v)
        v = apr_table_get(r->subprocess_env, name);
    if (!v)
        v = getenv(name);
    return v;
}

static const char *server_group_name(request_rec *r)
{
    const char *host = r->server->server_hostname ? r->server->server_hostname : "";
    apr_port_t port = ap_get_server_port(r);
    if (port == 80 || port == 443)
        return host;
    return apr_psprintf(r->pool, "%s:%u", host, (unsigned)port);
}

static const char *expand_group(request_rec *r, const char *spec, int application)
{
    int depth;
    for (depth = 0; depth < 4 && spec && spec[0] == '%'; depth++) {
        if (!strcmp(spec, "%{GLOBAL}"))
            return "";
        if (application && !strcmp(spec, "%{SERVER}"))
            return server_group_name(r);
        if (application && !strcmp(spec, "%{RESOURCE}")) {
            const char *sn = apr_table_get(r->subprocess_env, "SCRIPT_NAME");
            return apr_pstrcat(r->pool, server_group_name(r), "|", sn ? sn : "", NULL);
        }
        if (!strncmp(spec, "%{ENV:", 6) && spec[strlen(spec) - 1] == '}') {
            const char *name = apr_pstrmemdup(r->pool, spec + 6, strlen(spec) - 7);
            const char *v = lookup_env(r, name);
            if (!v)
                return spec;
            if (!strncmp(v, "%{ENV:", 6))
                return v;
            spec = v;
            continue;
        }
        break;
    }
    return spec;
}

/* -------------------------------------------------------------- handler */

static int run_embedded(request_rec *r, gw_request_config *rc, apr_table_t *env)
{
    gw_embedded e;
    gw_execute_args a;

    emb_init(&e, r);
    memset(&a, 0, sizeof(a));
    a.script = r->filename;
    a.application_group = rc->application_group;
    a.callable_object = rc->callable_object;
    a.script_reloading = rc->script_reloading;
    a.resource = r->uri;
    a.daemon = 0;
    a.multithread = gw_py.multithread;
    a.multiprocess = gw_py.multiprocess;
    a.enable_sendfile = rc->enable_sendfile > 0;
    a.is_head = r->header_only;
    return gw_execute(&e.io, r->server, env, &a);
}

static int gw_handler(request_rec *r)
{
    gw_dir_config *dc;
    gw_alias *alias;
    gw_request_config rc;
    apr_table_t *env;
    const char *te;
    int rv;

    if (!r->handler ||
        (strcmp(r->handler, "wsgi-script") && strcmp(r->handler, "application/x-httpd-wsgi")))
        return DECLINED;

    dc = ap_get_module_config(r->per_dir_config, &gateway_module);
    alias = ap_get_module_config(r->request_config, &gateway_module);

    if (r->finfo.filetype == APR_NOFILE) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Target WSGI script not "
                      "found or unable to stat: %s",
                      (int)getpid(), r->filename);
        return HTTP_NOT_FOUND;
    }
    if (r->finfo.filetype == APR_DIR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Attempt to invoke "
                      "directory as WSGI application: %s",
                      (int)getpid(), r->filename);
        return HTTP_FORBIDDEN;
    }
    if (r->used_path_info == AP_REQ_REJECT_PATH_INFO && r->path_info && *r->path_info)
        return HTTP_NOT_FOUND;

    memset(&rc, 0, sizeof(rc));
    rc.process_group =
        alias && alias->opts.process_group ? alias->opts.process_group : dc->process_group;
    rc.application_group = alias && alias->opts.application_group ? alias->opts.application_group
                                                                  : dc->application_group;
    rc.callable_object = alias && alias->opts.callable_object ? alias->opts.callable_object
                         : dc->callable_object                ? dc->callable_object
                                                              : "application";
    rc.pass_authorization = alias && alias->opts.pass_authorization >= 0
                                ? alias->opts.pass_authorization
                                : dc->pass_authorization > 0;
    rc.script_reloading = dc->script_reloading != 0;
    rc.chunked_request = dc->chunked_request > 0;
    rc.map_head_to_get = dc->map_head_to_get;
    if (rc.map_head_to_get < 0)
        rc.map_head_to_get =
            gw_profile()->map_head_default < 0 ? 2 : gw_profile()->map_head_default;
    rc.enable_sendfile = dc->enable_sendfile > 0;

    te = apr_table_get(r->headers_in, "Transfer-Encoding");
    if (te && !rc.chunked_request) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Received request "
                      "requiring chunked transfer encoding, but optional support for chunked "
                      "transfer encoding has not been enabled.",
                      (int)getpid());
        return HTTP_LENGTH_REQUIRED;
    }
    rv = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (rv != OK)
        return rv;

    env = gw_environ_table(r, &rc);
    rc.process_group = expand_group(r, rc.process_group ? rc.process_group : "", 0);
    rc.application_group =
        expand_group(r, rc.application_group ? rc.application_group : "%{RESOURCE}", 1);
    gw_environ_carriers(r, &rc, env);

    if (*rc.process_group) {
        gw_daemon_group *g = gw_find_daemon_group(rc.process_group);
        if (!g) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_gateway (pid=%d): No WSGI daemon "
                          "process called '%s' has been configured: %s",
                          (int)getpid(), rc.process_group, r->filename);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (g->server_name && r->server->server_hostname &&
            strcmp(g->server_name, r->server->server_hostname)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "mod_gateway (pid=%d): Daemon process "
                          "called '%s' cannot be accessed by this WSGI application: %s",
                          (int)getpid(), rc.process_group, r->filename);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (dc->restrict_process) {
            int i, ok = 0;
            for (i = 0; i < dc->restrict_process->nelts; i++)
                if (!strcmp(APR_ARRAY_IDX(dc->restrict_process, i, const char *), rc.process_group))
                    ok = 1;
            if (!ok) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              "mod_gateway (pid=%d): Daemon "
                              "process called '%s' cannot be accessed by this WSGI "
                              "application: %s",
                              (int)getpid(), rc.process_group, r->filename);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        return gw_daemon_handle(r, g, &rc, env);
    }

    if (gw_global->restrict_embedded) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_gateway (pid=%d): Embedded mode of "
                      "mod_wsgi disabled by runtime configuration: %s",
                      (int)getpid(), r->filename);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return run_embedded(r, &rc, env);
}

/* ------------------------------------------------------- process hooks */

static int gw_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    gw_config_reset(pconf);
    return OK;
}

static int gw_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int threaded = 0, forked = 0, max_threads = 0, max_daemons = 0;
    (void)pconf;
    (void)plog;
    (void)ptemp;
    (void)s;

    gw_python_settings_from_global("");

    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    if (threaded != AP_MPMQ_NOT_SUPPORTED) {
        ap_mpm_query(AP_MPMQ_MAX_THREADS, &max_threads);
        gw_py.multithread = max_threads != 1;
    }
    ap_mpm_query(AP_MPMQ_IS_FORKED, &forked);
    if (forked != AP_MPMQ_NOT_SUPPORTED) {
        ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_daemons);
        gw_py.multiprocess = max_daemons != 1;
    }
    ap_add_version_component(pconf, "mod_gateway/" GW_VERSION_STRING);
    return OK;
}

static void gw_child_init(apr_pool_t *p, server_rec *s)
{
    if (gw_global->restrict_embedded)
        return;
    if (gw_python_init(s, p) == 0)
        gw_preload_import_scripts(s, NULL);
}

static void gw_register_hooks(apr_pool_t *p)
{
    static const char *const after_alias[] = { "mod_alias.c", NULL };
    ap_hook_pre_config(gw_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(gw_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(gw_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(gw_translate_name, NULL, after_alias, APR_HOOK_MIDDLE);
    ap_hook_handler(gw_handler, NULL, NULL, APR_HOOK_MIDDLE);
    gw_daemon_register_hooks(p);
}

/*
 * The module calls itself mod_wsgi.c: <IfModule mod_wsgi.c> sections of an
 * existing site keep working after the LoadModule swap, and error-log lines
 * carry the [wsgi:...] tag that log watchers of mod_wsgi sites look for.
 */
#line 1 "mod_wsgi.c"
module AP_MODULE_DECLARE_DATA gateway_module = { STANDARD20_MODULE_STUFF, gw_create_dir_config,
                                                 gw_merge_dir_config,     gw_create_server_config,
                                                 gw_merge_server_config,  gw_commands,
                                                 gw_register_hooks };
