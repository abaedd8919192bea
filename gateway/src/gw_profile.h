/*
 * gw_profile.h - the behaviour profiles (gw_profile.c): which mod_wsgi release's behaviour
 * to reproduce (WSGICompatibility), every difference between them a field of one struct.
 */
#ifndef GW_PROFILE_H
#define GW_PROFILE_H

/* Which mod_wsgi release's behaviour to reproduce (WSGICompatibility). */
typedef enum {
    GW_PROFILE_34 = 1,   /* mod_wsgi 3.4 */
    GW_PROFILE_5 = 2,    /* mod_wsgi 4.1 - 5.0.x */
    GW_PROFILE_6 = 4     /* mod_wsgi 6.x */
} gw_profile_t;

#define GW_PROFILES_ALL (GW_PROFILE_34 | GW_PROFILE_5 | GW_PROFILE_6)
#define GW_PROFILES_4UP (GW_PROFILE_5 | GW_PROFILE_6)

/*
 * Everything that differs between profiles, in one struct.  gw_profile()
 * returns the active one (server-wide).
 */
typedef struct {
    gw_profile_t id;
    const char *name;               /* "3.4", "5", "6" */
    int version[3];                 /* mod_wsgi.version reported */
    int version_len;                /* 2 for (3, 4), else 3 */
    int timing_float;               /* 6: float seconds; else str of int us */
    int timing_queue_start_is_request; /* 3.4: only queue_start = request_time */
    int timing_all_keys;            /* 6: all four keys always (0.0 in embedded) */
    const char *script_start_key;   /* mod_wsgi.script_start (3.4, 5) / .application_start (6) */
    int has_ignore_activity_key;    /* 5: mod_wsgi.ignore_activity */
    int case_sensitivity_inverted;  /* 3.4, 5: WSGICaseSensitivity On lower-cases the module
                                     * name (the test was inverted before 6.0) */
    int lenient_py3_types;          /* 3.4: str body / bytes headers accepted on Py3 */
    int strict_status;              /* 4.x+: "NNN reason", no control chars */
    int status_code_alone_ok;       /* 6: "NNN" without a reason phrase is accepted (Apache
                                     * sends the code's own phrase) */
    int strict_headers;             /* 4.x+: no CR/LF/control in names/values */
    int map_head_default;           /* -1 auto, 0 off, 1 on (directive absent) */
    int has_input_chunked_key;      /* 3.4: mod_wsgi.input_chunked */
    int has_legacy_keys;            /* script_reloading/enable_sendfile (3.4, 5) */
    int has_server_pid_key;         /* 6 */
    int has_cgi_legacy_vars;        /* GATEWAY_INTERFACE, SERVER_SIGNATURE, ... (3.4, 5) */
    int has_apache_version_key;     /* 5, 6 */
    int has_input_terminated;       /* 5, 6 */
    int has_request_ids;            /* 5, 6: request_id/thread_id */
    int has_script_name_keys;       /* 5, 6: mod_wsgi.script_name/path_info */
    int has_request_counters; /* 5: thread_requests/total_requests, daemon_connects/restarts */
    int errors_text_wrapper; /* 5, 6 on Python 3: wsgi.errors is a TextIOWrapper over the Log */
    int log_names_script; /* 6: the app's own log lines start "[script PATH] " */
    int utf8_locale_coercion; /* 6: C locale -> UTF-8 mode like 6.x */
    int daemon_pre_header_death_status; /* 500 (3.4/5) or 502 (6) */
    int file_wrapper_class; /* 4.x+: the mod_wsgi.FileWrapper type (3.4: adapter method) */
    int locale_exports_lc_all; /* 4.x+: daemon locale= also sets LC_ALL in environ */
    int daemon_cwd_user_home; /* 3.4: a daemon without home= starts in its user's home */
    int daemon_refuses_chunked; /* 3.4: a chunked request body in daemon mode gets 500 */
    int daemon_missing_callable_500; /* 3.4: a script without the callable is 500 in daemon
                                      * mode (404 in embedded mode and in every other profile) */
    int input_expired_names_call; /* 6: an expired wsgi.input's RuntimeError names the call
                                      * ("read() called on wsgi.input after request completed") */
    const char *input_error_state; /* 5, 6: after a failed read every later read on that input
                                      * raises IOError with this text, read(0) too; NULL (3.4):
                                      * a later read fails again, "request data read error" */
    int input_close_args_first; /* 4.x+: close() takes no arguments (a TypeError before the
                                      * expiry check); 3.4 checks expiry first */
    int errors_flush_expired_ok; /* 6: flush() of an expired wsgi.errors with nothing pending
                                      * returns None; 3.4 and 4.x raise "log object has expired" */
    int log_has_name; /* 4.x+: mod_wsgi.Log has a name attribute (3.4's has none) */
    int log_type_module_in_dict; /* 6: vars(mod_wsgi.Log) holds __module__ (a heap type) */
    int daemon_graceful_timeout; /* graceful-timeout= absent: 0 (3.4), 15 (4.x+) */
    int daemon_threads_minimum; /* threads= at least 1 (3.4); 4.x+ takes 0 too */
    int alias_match_group_options; /* 4.x+: WSGIScriptAliasMatch takes process-group= and
                                     * application-group= (3.4 took none; 4.6.0 added them) */
    int warns_unusable_home; /* 4.x+: a python-home that cannot be stat'ed or is no directory
                                     * gets a warning before Python starts (4.3.2 added it) */
} gw_profile_info;

const gw_profile_info *gw_profile(void);
/* A configuration pass starts: the default profile, 5. */
void gw_profile_reset(void);
/* WSGICompatibility's argument: select that profile; NULL, or why it is not one. */
const char *gw_profile_select(const char *arg);

#endif /* GW_PROFILE_H */
