/*
 * gw_config.h - configuration of mod_gateway: directives, daemon groups,
 * behaviour profiles.
 *
 * All knobs are declared in one table in gw_config.c (gw_directives[] for
 * directives, gw_daemon_options[] for WSGIDaemonProcess options), each with
 * its parser, default and the profiles that accept it.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include "gw_compat.h"

#define GW_VERSION_STRING "0.1.0"
#define GW_VERSION_MAJOR 0
#define GW_VERSION_MINOR 1
#define GW_VERSION_MICRO 0

/* ---------------------------------------------------------------- profiles */

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
    int has_request_counters;       /* 5: thread_requests/total_requests, daemon_connects/restarts */
    int errors_text_wrapper;        /* 5, 6 on Python 3: wsgi.errors is a TextIOWrapper over the Log */
    int log_names_script;           /* 6: the app's own log lines start "[script PATH] " */
    int utf8_locale_coercion;       /* 6: C locale -> UTF-8 mode like 6.x */
    int daemon_pre_header_death_status; /* 500 (3.4/5) or 502 (6) */
    int file_wrapper_class;         /* 4.x+: the mod_wsgi.FileWrapper type (3.4: adapter method) */
    int locale_exports_lc_all;      /* 4.x+: daemon locale= also sets LC_ALL in environ */
    int daemon_cwd_user_home;       /* 3.4: a daemon without home= starts in its user's home */
    int daemon_refuses_chunked;     /* 3.4: a chunked request body in daemon mode gets 500 */
    int daemon_missing_callable_500; /* 3.4: a script without the callable is 500 in daemon
                                      * mode (404 in embedded mode and in every other profile) */
    int input_expired_names_call;   /* 6: an expired wsgi.input's RuntimeError names the call
                                      * ("read() called on wsgi.input after request completed") */
    const char *input_error_state;  /* 5, 6: after a failed read every later read on that input
                                      * raises IOError with this text, read(0) too; NULL (3.4):
                                      * a later read fails again, "request data read error" */
    int input_close_args_first;     /* 4.x+: close() takes no arguments (a TypeError before the
                                      * expiry check); 3.4 checks expiry first */
    int errors_flush_expired_ok;    /* 6: flush() of an expired wsgi.errors with nothing pending
                                      * returns None; 3.4 and 4.x raise "log object has expired" */
    int log_has_name;               /* 4.x+: mod_wsgi.Log has a name attribute (3.4's has none) */
    int log_type_module_in_dict;    /* 6: vars(mod_wsgi.Log) holds __module__ (a heap type) */
} gw_profile_info;

const gw_profile_info *gw_profile(void);

/* ---------------------------------------------------------- daemon groups */

/*
 * One WSGIDaemonProcess definition, parsed and stored for the daemon-mode
 * engine.  Unset integers are -1, unset strings NULL.
 */
typedef struct gw_daemon_group {
    const char *name;
    server_rec *server;             /* where it was defined (vhost scoping) */
    const char *server_name;        /* ServerName of that vhost (NULL = main) */
    int id;                         /* 1.. in definition order */
    const char *user;
    uid_t uid;
    const char *group;
    gid_t gid;
    const char *supplementary_groups;
    int processes;                  /* default 1 */
    int processes_given;            /* "processes=" present: multiprocess True */
    int threads;                    /* default 15 */
    int umask;                      /* -1 = inherited */
    const char *chroot;
    const char *home;
    const char *lang;
    const char *locale;
    const char *python_home;
    const char *python_path;
    const char *python_eggs;
    long stack_size;
    int maximum_requests;
    int shutdown_timeout;           /* 5 */
    int deadlock_timeout;           /* 300 */
    int inactivity_timeout;
    const char *display_name;
    int send_buffer_size;
    int receive_buffer_size;
    const char *script_user;
    const char *script_group;
    int cpu_time_limit;
    int cpu_priority;
    long memory_limit;
    long virtual_memory_limit;
    int connect_timeout;            /* 15 */
    int socket_timeout;             /* 0 = Apache Timeout */
    int queue_timeout;
    int request_timeout;
    int graceful_timeout;           /* 15 (0 under 3.4) */
    int eviction_timeout;
    int listen_backlog;             /* 100 */
    int header_buffer_size;         /* 32768 */
    int response_buffer_size;       /* 65536 */
    int proxy_buffer_size;
    const char *socket_user;
    int server_metrics;
    int startup_timeout;
    int restart_interval;
    int response_socket_timeout;
    int interrupt_timeout;
    double switch_interval;
    int response_flush_delay;
    const char *newrelic_config_file;
    const char *newrelic_environment;
    const char *socket_path;        /* filled in by the daemon engine */
} gw_daemon_group;

/* --------------------------------------------------------- script aliases */

/* Options shared by WSGIScriptAlias(Match), WSGIImportScript. */
typedef struct {
    const char *process_group;      /* NULL = not given */
    const char *application_group;
    const char *callable_object;
    int pass_authorization;         /* -1 = not given */
} gw_script_options;

typedef struct {
    const char *location;           /* URL prefix, or regex source */
    const char *target;             /* file or directory (may contain $N) */
    ap_regex_t *regex;              /* WSGIScriptAliasMatch */
    gw_script_options opts;
} gw_alias;

typedef struct {
    const char *script;
    gw_script_options opts;
    server_rec *server;
} gw_import_script;

/* ----------------------------------------------------------------- configs */

/* Server-wide settings (main server only; vhosts hold aliases). */
typedef struct {
    const char *python_home;
    const char *python_path;
    const char *python_eggs;
    int python_optimize;
    double switch_interval;         /* WSGISwitchInterval (6): seconds, <= 0 unset */
    int restrict_stdin;             /* default Off */
    int restrict_stdout;            /* default Off */
    int restrict_signal;            /* default On */
    int restrict_embedded;          /* default Off */
    int lazy_initialization;        /* default On */
    int case_sensitivity;
    int dont_write_bytecode;
    const char *python_hash_seed;
    int destroy_interpreter;
    int verbose_debugging;
    const char *socket_prefix;
    const char *accept_mutex;
    int socket_rotation;
    int server_metrics;
    apr_array_header_t *python_warnings;   /* const char * */
    apr_array_header_t *import_scripts;    /* gw_import_script */
    apr_array_header_t *daemon_groups;     /* gw_daemon_group * */
    gw_profile_t profile;
} gw_global_config;

/* Per virtual host. */
typedef struct {
    apr_array_header_t *aliases;    /* gw_alias, in config order */
} gw_server_config;

/* Per directory (merged). -1 / NULL = unset. */
typedef struct {
    const char *process_group;
    const char *application_group;
    const char *callable_object;
    int pass_authorization;
    int script_reloading;
    int chunked_request;
    int map_head_to_get;            /* -1 unset, 0 off, 1 on, 2 auto */
    int enable_sendfile;
    int error_override;
    int pass_apache_request;
    apr_array_header_t *restrict_process;
} gw_dir_config;

/* What the handler resolved for one request (alias options win over dir). */
typedef struct {
    const char *process_group;      /* expanded; "" = embedded */
    const char *application_group;  /* expanded name */
    const char *callable_object;
    int pass_authorization;
    int script_reloading;
    int chunked_request;
    int map_head_to_get;
    int enable_sendfile;
} gw_request_config;

extern module AP_MODULE_DECLARE_DATA gateway_module;
extern gw_global_config *gw_global;
extern const command_rec gw_commands[];

void *gw_create_dir_config(apr_pool_t *p, char *dir);
void *gw_merge_dir_config(apr_pool_t *p, void *base, void *add);
void *gw_create_server_config(apr_pool_t *p, server_rec *s);
void *gw_merge_server_config(apr_pool_t *p, void *base, void *add);
void gw_config_reset(apr_pool_t *pconf);

gw_daemon_group *gw_find_daemon_group(const char *name);
const char *gw_parse_script_options(cmd_parms *cmd, const char *args,
                                    gw_script_options *opts, int allow_groups,
                                    const char *what);

#endif /* GW_CONFIG_H */
