/*
 * gw_config.h - configuration of mod_gateway (gw_config.c): the directives' structs
 * and the one table of directives (gw_commands[]), each with its parser, field and the
 * profiles that accept it.  WSGIDaemonProcess's options are gw_daemon_config.h's,
 * the profiles gw_profile.h's.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include "gw_compat.h"

#define GW_VERSION_STRING "0.1.0"
#define GW_VERSION_MAJOR  0
#define GW_VERSION_MINOR  1
#define GW_VERSION_MICRO  0

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

extern gw_global_config *gw_global;
extern const command_rec gw_commands[];

void *gw_create_dir_config(apr_pool_t *p, char *dir);
void *gw_merge_dir_config(apr_pool_t *p, void *base, void *add);
void *gw_create_server_config(apr_pool_t *p, server_rec *s);
void *gw_merge_server_config(apr_pool_t *p, void *base, void *add);
void gw_config_reset(apr_pool_t *pconf);
/* The WSGIScriptAlias(Match) list of virtual host s. */
gw_server_config *gw_server_conf(server_rec *s);

const char *gw_parse_script_options(cmd_parms *cmd, const char *args, gw_script_options *opts,
                                    int allow_groups, const char *what);

#endif /* GW_CONFIG_H */
