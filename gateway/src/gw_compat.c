/*
 * gw_compat.c - the differences of gw_compat.h that need code rather than a
 * name: where Apache is in its life cycle (2.4 says so, 2.2 must be watched)
 * and decoding a locale string before Python 3.5.
 */
#include "gw_compat.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ------------------------------------------------------------------ Apache */

#if GW_AP24

int gw_ap_preflight(server_rec *s)
{
    (void)s;
    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG ||
           ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL;
}

int gw_ap_running(void)
{
    int mpm_state = AP_MPMQ_STOPPING;
    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_MPM &&
           ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) == APR_SUCCESS &&
           mpm_state == AP_MPMQ_RUNNING;
}

void gw_ap_watch_exit(apr_pool_t *pconf, server_rec *s)
{
    (void)pconf;
    (void)s;
}

int gw_ap_exiting(void)
{
    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING;
}

#else /* Apache 2.2 */

#define PREFLIGHT_KEY "mod_gateway.preflight_done"

/* 2.2 runs post_config twice at start-up, before and after detaching, and never in
 * a config test (-t exits first): the first pass of the process is the preflight.
 * The mark lives in the process pool because the module is unloaded between passes. */
int gw_ap_preflight(server_rec *s)
{
    void *done = NULL;
    apr_pool_userdata_get(&done, PREFLIGHT_KEY, s->process->pool);
    if (done)
        return 0;
    apr_pool_userdata_set((const void *)1, PREFLIGHT_KEY, apr_pool_cleanup_null, s->process->pool);
    return 1;
}

int gw_ap_running(void)
{
    int mpm_state = AP_MPMQ_STOPPING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) == APR_SUCCESS &&
           mpm_state == AP_MPMQ_RUNNING;
}

/* Restart clears pconf; stop destroys the process pool, whose pre-cleanups run
 * before its sub-pool pconf is destroyed.  A pre-cleanup registered per generation
 * (and withdrawn when the generation ends, before this module can be unloaded)
 * therefore tells pconf's cleanups which of the two is happening. */
static int exiting;

static apr_status_t mark_exit(void *data)
{
    (void)data;
    exiting = 1;
    return APR_SUCCESS;
}

static apr_status_t unwatch(void *process_pool)
{
    apr_pool_cleanup_kill(process_pool, NULL, mark_exit);
    return APR_SUCCESS;
}

void gw_ap_watch_exit(apr_pool_t *pconf, server_rec *s)
{
    exiting = 0;
    apr_pool_pre_cleanup_register(s->process->pool, NULL, mark_exit);
    apr_pool_cleanup_register(pconf, s->process->pool, unwatch, apr_pool_cleanup_null);
}

int gw_ap_exiting(void)
{
    return exiting;
}

#endif

#if GW_AP24

void gw_add_common_vars(request_rec *r)
{
    ap_add_common_vars(r);
}

#else

static int cgi_safe_header(void *rec, const char *name, const char *value)
{
    const char *c;
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-')
            return 1;
    }
    apr_table_addn(rec, name, value);
    return 1;
}

/* 2.4 exports no header whose name has a character other than a letter, a digit or '-'
 * (an "X_Sneaky" must not pose as "X-Sneaky"); 2.2 exports them all, and the releases
 * leave those out themselves.  ap_add_common_vars reads the headers from r->headers_in. */
void gw_add_common_vars(request_rec *r)
{
    apr_table_t *all = r->headers_in;
    r->headers_in = apr_table_make(r->pool, apr_table_elts(all)->nelts);
    apr_table_do(cgi_safe_header, r->headers_in, all, NULL);
    ap_add_common_vars(r);
    r->headers_in = all;
}

#endif

/* ap_add_cgi_vars computes PATH_TRANSLATED by looking PATH_INFO up as a URI: a whole
 * sub-request (directory walk, access hooks, their log lines) for a key that a profile
 * without the CGI legacy keys drops at once.  From 2.4 we can skip it: the variables are
 * set with PATH_INFO hidden, then SCRIPT_NAME/PATH_INFO split where Apache would split
 * them (ap_find_path_info).  2.2 exports no such split, so it keeps the sub-request. */
void gw_add_cgi_vars(request_rec *r, int path_translated)
{
#if GW_AP24
    const char *pi = r->path_info;
    if (!path_translated && pi && *pi && strcmp(r->protocol, "INCLUDED") != 0) {
        r->path_info = NULL;
        ap_add_cgi_vars(r);
        r->path_info = (char *)pi;
        apr_table_setn(r->subprocess_env, "SCRIPT_NAME",
                       apr_pstrndup(r->pool, r->uri, ap_find_path_info(r->uri, pi)));
        apr_table_setn(r->subprocess_env, "PATH_INFO", pi);
        return;
    }
#endif
    (void)path_translated;
    ap_add_cgi_vars(r);
}

/* ------------------------------------------------------------------ Python */

#if GW_PY3 && !GW_PY_AT_LEAST(3, 5)
/* What Py_DecodeLocale does from 3.5: the current locale's multibyte decoding, a
 * byte it cannot decode kept as the lone surrogate U+DC80..U+DCFF (surrogateescape). */
wchar_t *gw_decode_locale(const char *s)
{
    size_t n = strlen(s), i = 0, o = 0;
    wchar_t *w = malloc((n + 1) * sizeof(wchar_t));
    mbstate_t st;
    if (!w)
        return NULL;
    memset(&st, 0, sizeof(st));
    while (i < n) {
        size_t k = mbrtowc(&w[o], s + i, n - i, &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            w[o] = 0xDC00 + (unsigned char)s[i];
            k = 1;
            memset(&st, 0, sizeof(st));
        }
        i += k;
        o++;
    }
    w[o] = 0;
    return w;
}
#endif
