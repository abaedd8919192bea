/*
 * gw_config.c - the one table of directives and daemon options.
 *
 * Each directive names its parser (an Apache command handler), where its
 * value lives, its default (in the create/merge functions) and the profiles
 * (WSGICompatibility) that accept it.  A directive outside its profiles is
 * refused at config time, as the mod_wsgi release being imitated would.
 */
#include "gw_config.h"

#include <pwd.h>
#include <grp.h>

/* ---------------------------------------------------------------- profiles */

static const gw_profile_info gw_profiles[] = {
    { .id = GW_PROFILE_34, .name = "3.4", .version = {3, 4, 0}, .version_len = 2,
      .timing_queue_start_is_request = 1, .script_start_key = "mod_wsgi.script_start",
      .case_sensitivity_inverted = 1, .lenient_py3_types = 1, .map_head_default = -1,
      .has_input_chunked_key = 1, .has_legacy_keys = 1, .has_cgi_legacy_vars = 1,
      .daemon_pre_header_death_status = 500,
      .daemon_cwd_user_home = 1, .daemon_refuses_chunked = 1,
      .daemon_missing_callable_500 = 1 },
    { .id = GW_PROFILE_5, .name = "5", .version = {5, 0, 2}, .version_len = 3,
      .script_start_key = "mod_wsgi.script_start", .has_ignore_activity_key = 1,
      .case_sensitivity_inverted = 1, .strict_status = 1, .strict_headers = 1, .map_head_default = 0,
      .has_legacy_keys = 1, .has_cgi_legacy_vars = 1, .has_apache_version_key = 1,
      .has_input_terminated = 1, .has_request_ids = 1, .has_script_name_keys = 1,
      .has_request_counters = 1, .errors_text_wrapper = 1,
      .daemon_pre_header_death_status = 500, .file_wrapper_class = 1,
      .locale_exports_lc_all = 1,
      .input_error_state = "Apache/mod_wsgi request data read error: Input is already in "
                           "error state.",
      .input_close_args_first = 1, .log_has_name = 1 },
    { .id = GW_PROFILE_6, .name = "6", .version = {6, 1, 1}, .version_len = 3,
      .timing_float = 1, .timing_all_keys = 1, .script_start_key = "mod_wsgi.application_start",
      .strict_status = 1, .status_code_alone_ok = 1, .strict_headers = 1, .map_head_default = -1,
      .has_server_pid_key = 1, .has_apache_version_key = 1,
      .has_input_terminated = 1, .has_request_ids = 1, .has_script_name_keys = 1,
      .errors_text_wrapper = 1, .log_names_script = 1, .utf8_locale_coercion = 1,
      .daemon_pre_header_death_status = 502, .file_wrapper_class = 1,
      .locale_exports_lc_all = 1, .input_expired_names_call = 1,
      .input_error_state = "mod_wsgi request data read error: input is already in error state",
      .input_close_args_first = 1, .errors_flush_expired_ok = 1, .log_has_name = 1,
      .log_type_module_in_dict = 1 },
};

static gw_global_config gw_global_storage;
gw_global_config *gw_global = &gw_global_storage;

const gw_profile_info *gw_profile(void)
{
    switch (gw_global->profile) {
    case GW_PROFILE_34: return &gw_profiles[0];
    case GW_PROFILE_6: return &gw_profiles[2];
    default: return &gw_profiles[1];
    }
}

void gw_config_reset(apr_pool_t *pconf)
{
    memset(gw_global, 0, sizeof(*gw_global));
    gw_global->python_optimize = 0;
    gw_global->switch_interval = -1.0;
    gw_global->restrict_stdin = 0;
    gw_global->restrict_stdout = 0;
    gw_global->restrict_signal = 1;
    gw_global->restrict_embedded = 0;
    gw_global->lazy_initialization = 1;
    gw_global->case_sensitivity = 1;
    gw_global->destroy_interpreter = 1;
    gw_global->socket_rotation = 1;
    gw_global->python_warnings = apr_array_make(pconf, 2, sizeof(const char *));
    gw_global->import_scripts = apr_array_make(pconf, 2, sizeof(gw_import_script));
    gw_global->daemon_groups = apr_array_make(pconf, 2, sizeof(gw_daemon_group *));
    gw_global->profile = GW_PROFILE_5;
}

/* ------------------------------------------------------- config structures */

void *gw_create_dir_config(apr_pool_t *p, char *dir)
{
    gw_dir_config *c = apr_pcalloc(p, sizeof(*c));
    (void)dir;
    c->pass_authorization = -1;
    c->script_reloading = -1;
    c->chunked_request = -1;
    c->map_head_to_get = -1;
    c->enable_sendfile = -1;
    c->error_override = -1;
    c->pass_apache_request = -1;
    return c;
}

#define MERGE_PTR(f) (add->f ? add->f : base->f)
#define MERGE_INT(f) (add->f != -1 ? add->f : base->f)

void *gw_merge_dir_config(apr_pool_t *p, void *basev, void *addv)
{
    gw_dir_config *base = basev, *add = addv;
    gw_dir_config *c = apr_pcalloc(p, sizeof(*c));
    c->process_group = MERGE_PTR(process_group);
    c->application_group = MERGE_PTR(application_group);
    c->callable_object = MERGE_PTR(callable_object);
    c->restrict_process = MERGE_PTR(restrict_process);
    c->pass_authorization = MERGE_INT(pass_authorization);
    c->script_reloading = MERGE_INT(script_reloading);
    c->chunked_request = MERGE_INT(chunked_request);
    c->map_head_to_get = MERGE_INT(map_head_to_get);
    c->enable_sendfile = MERGE_INT(enable_sendfile);
    c->error_override = MERGE_INT(error_override);
    c->pass_apache_request = MERGE_INT(pass_apache_request);
    return c;
}

void *gw_create_server_config(apr_pool_t *p, server_rec *s)
{
    gw_server_config *c = apr_pcalloc(p, sizeof(*c));
    (void)s;
    c->aliases = apr_array_make(p, 4, sizeof(gw_alias));
    return c;
}

void *gw_merge_server_config(apr_pool_t *p, void *basev, void *addv)
{
    gw_server_config *base = basev, *add = addv;
    gw_server_config *c = apr_pcalloc(p, sizeof(*c));
    /* A vhost's own aliases are tried first, then the main server's. */
    c->aliases = apr_array_append(p, add->aliases, base->aliases);
    return c;
}

/* ------------------------------------------------------------ the table */

typedef enum { GW_SLOT_NONE, GW_SLOT_GLOBAL, GW_SLOT_DIR } gw_slot_kind;

typedef struct {
    int profiles;            /* GW_PROFILE_* mask accepting the directive */
    int server_only;         /* GLOBAL_ONLY context check */
    gw_slot_kind kind;
    size_t offset;           /* of the field in gw_global_config / gw_dir_config */
} gw_directive_spec;

static const char *check_spec(cmd_parms *cmd)
{
    const gw_directive_spec *spec = cmd->info;
    const char *err;
    if (spec && !(spec->profiles & gw_profile()->id))
        return apr_psprintf(cmd->pool, "Invalid command '%s': not part of mod_wsgi %s "
                            "behaviour (WSGICompatibility %s)", cmd->cmd->name,
                            gw_profile()->name, gw_profile()->name);
    if (spec && spec->server_only && (err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) != NULL)
        return err;
    return NULL;
}

static void *slot(cmd_parms *cmd, void *mconfig)
{
    const gw_directive_spec *spec = cmd->info;
    if (spec->kind == GW_SLOT_GLOBAL)
        return (char *)gw_global + spec->offset;
    return (char *)mconfig + spec->offset;
}

static const char *set_flag(cmd_parms *cmd, void *mconfig, int on)
{
    const char *err = check_spec(cmd);
    if (err)
        return err;
    *(int *)slot(cmd, mconfig) = on ? 1 : 0;
    return NULL;
}

static const char *set_string(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_spec(cmd);
    if (err)
        return err;
    *(const char **)slot(cmd, mconfig) = arg;
    return NULL;
}

static const char *set_ignored_flag(cmd_parms *cmd, void *mconfig, int on)
{
    (void)mconfig; (void)on;
    return check_spec(cmd);
}

static const char *set_ignored_list(cmd_parms *cmd, void *mconfig, const char *arg)
{
    (void)mconfig; (void)arg;
    return check_spec(cmd);
}

static const char *set_optimize(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_spec(cmd);
    (void)mconfig;
    if (err)
        return err;
    if (strcmp(arg, "0") && strcmp(arg, "1") && strcmp(arg, "2"))
        return "WSGIPythonOptimize must be 0, 1 or 2.";
    gw_global->python_optimize = atoi(arg);
    return NULL;
}

static const char *set_switch_interval(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_spec(cmd);
    char *end;
    double v;
    (void)mconfig;
    if (err)
        return err;
    v = strtod(arg, &end);
    if (end == arg || *end || !(v > 0))
        return apr_psprintf(cmd->pool, "WSGISwitchInterval must be a number of seconds above 0, "
                            "not '%s'.", arg);
    gw_global->switch_interval = v;
    return NULL;
}

static const char *set_warnings(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_spec(cmd);
    (void)mconfig;
    if (err)
        return err;
    *(const char **)apr_array_push(gw_global->python_warnings) = arg;
    return NULL;
}

static const char *set_hash_seed(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_spec(cmd);
    char *end;
    (void)mconfig;
    if (err)
        return err;
    if (strcmp(arg, "random")) {
        apr_int64_t v = apr_strtoi64(arg, &end, 10);
        if (*end || v < 0 || v > 4294967295LL)
            return "WSGIPythonHashSeed must be 'random' or an integer 0..4294967295.";
    }
    gw_global->python_hash_seed = arg;
    return NULL;
}

static const char *set_map_head(cmd_parms *cmd, void *mconfig, const char *arg)
{
    gw_dir_config *dc = mconfig;
    const char *err = check_spec(cmd);
    if (err)
        return err;
    if (!strcasecmp(arg, "On"))
        dc->map_head_to_get = 1;
    else if (!strcasecmp(arg, "Off"))
        dc->map_head_to_get = 0;
    else if (!strcasecmp(arg, "Auto"))
        dc->map_head_to_get = 2;
    else
        return "WSGIMapHEADToGET must be one of: Off | On | Auto";
    return NULL;
}

static const char *set_compatibility(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)mconfig;
    if (err)
        return err;
    if (!strcmp(arg, "3.4") || !strcmp(arg, "3"))
        gw_global->profile = GW_PROFILE_34;
    else if (!strcmp(arg, "5") || !strcmp(arg, "4") || !strcmp(arg, "4.9"))
        gw_global->profile = GW_PROFILE_5;
    else if (!strcmp(arg, "6"))
        gw_global->profile = GW_PROFILE_6;
    else
        return "WSGICompatibility must be one of: 3.4 | 5 | 6";
    return NULL;
}

static const char *set_restrict_process(cmd_parms *cmd, void *mconfig, const char *arg)
{
    gw_dir_config *dc = mconfig;
    const char *err = check_spec(cmd);
    if (err)
        return err;
    if (!dc->restrict_process)
        dc->restrict_process = apr_array_make(cmd->pool, 2, sizeof(const char *));
    *(const char **)apr_array_push(dc->restrict_process) = arg;
    return NULL;
}

/* --------------------------------------------- script alias style options */

const char *gw_parse_script_options(cmd_parms *cmd, const char *args,
                                    gw_script_options *opts, int allow_groups,
                                    const char *what)
{
    opts->pass_authorization = -1;
    while (*args) {
        const char *word = ap_getword_conf(cmd->pool, &args);
        const char *val = strchr(word, '=');
        char *key;
        if (!*word)
            break;
        /* The releases' sentence first (what a site's tooling may match), then ours
         * naming the word at fault. */
        if (!val)
            return apr_psprintf(cmd->pool, "Invalid option to %s definition. ('%s' is not "
                                "name=value.)", what, word);
        key = apr_pstrmemdup(cmd->pool, word, val - word);
        val++;
        if (!strcmp(key, "process-group") && allow_groups) {
            opts->process_group = val;
        }
        else if (!strcmp(key, "application-group") && allow_groups) {
            opts->application_group = val;
        }
        else if (!strcmp(key, "callable-object")) {
            opts->callable_object = val;
        }
        else if (!strcmp(key, "pass-authorization")) {
            if (!strcasecmp(val, "On"))
                opts->pass_authorization = 1;
            else if (!strcasecmp(val, "Off"))
                opts->pass_authorization = 0;
            else    /* every release's text (3.4, 4.9.4, 5.0.2, 6.1.1), an empty value's too */
                return apr_psprintf(cmd->pool, "Invalid value for authorization flag. "
                                    "(pass-authorization=%s: On or Off.)", val);
        }
        else {
            return apr_psprintf(cmd->pool, "Invalid option to %s definition. ('%s' is not one "
                                "of its options.)", what, key);
        }
    }
    return NULL;
}

static const char *check_preload(cmd_parms *cmd, const char *target, gw_script_options *opts,
                                 int substitutions)
{
    /* Both groups given literally: the script is loaded at process start. */
    if (opts->process_group && opts->application_group && !substitutions &&
        !strstr(opts->process_group, "%{") && !strstr(opts->application_group, "%{")) {
        gw_import_script *is;
        if (strcmp(opts->process_group, "%{GLOBAL}") && !gw_find_daemon_group(opts->process_group))
            return "WSGI process group not yet configured.";
        is = apr_array_push(gw_global->import_scripts);
        is->script = target;
        is->opts = *opts;
        is->server = cmd->server;
    }
    return NULL;
}

static const char *add_script_alias(cmd_parms *cmd, void *mconfig, const char *args)
{
    gw_server_config *sc = ap_get_module_config(cmd->server->module_config, &gateway_module);
    const char *location, *target, *err;
    gw_alias *a;
    int is_match = cmd->info != NULL;
    const char *what = is_match ? "WSGIScriptAliasMatch" : "WSGIScriptAlias";
    (void)mconfig;

    location = ap_getword_conf(cmd->pool, &args);
    target = ap_getword_conf(cmd->pool, &args);
    if (!*location || !*target)
        return apr_psprintf(cmd->pool, "%s requires at least two arguments.", what);

    a = apr_array_push(sc->aliases);
    memset(a, 0, sizeof(*a));
    a->location = location;
    a->target = target;
    /* 3.4 took no group options on WSGIScriptAliasMatch (accepted from 4.6.0). */
    err = gw_parse_script_options(cmd, args, &a->opts,
                                  !is_match || gw_profile()->id != GW_PROFILE_34,
                                  "WSGI script alias");   /* the Match's too, in every release */
    if (err)
        return apr_psprintf(cmd->pool, "%s: %s", what, err);
    if (is_match) {
        a->regex = ap_pregcomp(cmd->pool, location, AP_REG_EXTENDED);
        if (!a->regex)
            return apr_psprintf(cmd->pool, "%s: regular expression '%s' could not be compiled.",
                                what, location);
    }
    err = check_preload(cmd, target, &a->opts, is_match && strchr(target, '$') != NULL);
    if (err)
        return apr_psprintf(cmd->pool, "%s: %s", what, err);
    return NULL;
}

/* WSGIImportScript takes the two groups and nothing else (every release: 3.4, 4.9.4, 5.0.2,
   6.1.1): any other option, one without '=' among them, is "Invalid option to WSGI import
   script definition." (the option not named); an empty group name is invalid; options are
   read before the groups are required.  The texts are the releases'. */
static const char *add_import_script(cmd_parms *cmd, void *mconfig, const char *args)
{
    gw_import_script *is;
    gw_script_options opts;
    const char *script, *err;
    (void)mconfig;
    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE)) != NULL)
        return err;
    memset(&opts, 0, sizeof(opts));
    opts.pass_authorization = -1;
    script = ap_getword_conf(cmd->pool, &args);
    if (!*script)
        return "Location of import script not supplied.";
    while (*args) {
        const char *word = ap_getword_conf(cmd->pool, &args);
        const char *eq = strchr(word, '=');
        if (!*word)
            break;
        if (!eq || eq == word)
            return apr_psprintf(cmd->pool, "Invalid option to WSGI import script definition. "
                                "('%s' is not name=value.)", word);
        if (!strncmp(word, "application-group=", eq - word + 1)) {
            if (!eq[1])
                return "Invalid name for WSGI application group.";
            opts.application_group = eq + 1;
        }
        else if (!strncmp(word, "process-group=", eq - word + 1)) {
            if (!eq[1])
                return "Invalid name for WSGI process group.";
            opts.process_group = eq + 1;
        }
        else    /* it takes the two groups only (every release) */
            return apr_psprintf(cmd->pool, "Invalid option to WSGI import script definition. "
                                "('%.*s' is not one of its options: process-group, "
                                "application-group.)", (int)(eq - word), word);
    }
    if (!opts.application_group)
        return "Name of WSGI application group required.";
    if (!opts.process_group)
        return "Name of WSGI process group required.";
    if (strcmp(opts.process_group, "%{GLOBAL}") && !gw_find_daemon_group(opts.process_group))
        return "WSGI process group not yet configured.";
    is = apr_array_push(gw_global->import_scripts);
    is->script = ap_server_root_relative(cmd->pool, script);
    is->opts = opts;
    is->server = cmd->server;
    return NULL;
}

/* ------------------------------------------------------ daemon processes */

typedef enum { OPT_STR, OPT_INT, OPT_LONG, OPT_OCTAL, OPT_DOUBLE, OPT_FLAG } gw_opt_kind;

/* The WSGIDaemonProcess options: name, kind, field, minimum, profiles. */
typedef struct {
    const char *name;
    gw_opt_kind kind;
    size_t offset;
    long minimum;
    int profiles;
} gw_daemon_option;

#define DOFF(f) offsetof(gw_daemon_group, f)
#define P34 GW_PROFILES_ALL
#define P4 GW_PROFILES_4UP
#define P5ONLY GW_PROFILE_5
#define P6 GW_PROFILE_6

static const gw_daemon_option gw_daemon_options[] = {
    { "user", OPT_STR, DOFF(user), 0, P34 },
    { "group", OPT_STR, DOFF(group), 0, P34 },
    { "supplementary-groups", OPT_STR, DOFF(supplementary_groups), 0, P34 },
    { "processes", OPT_INT, DOFF(processes), 1, P34 },
    { "threads", OPT_INT, DOFF(threads), 0, P34 },
    { "umask", OPT_OCTAL, DOFF(umask), 0, P34 },
    { "chroot", OPT_STR, DOFF(chroot), 0, P34 },
    { "home", OPT_STR, DOFF(home), 0, P34 },
    { "lang", OPT_STR, DOFF(lang), 0, P34 },
    { "locale", OPT_STR, DOFF(locale), 0, P34 },
    { "python-home", OPT_STR, DOFF(python_home), 0, P34 },
    { "python-path", OPT_STR, DOFF(python_path), 0, P34 },
    { "python-eggs", OPT_STR, DOFF(python_eggs), 0, P34 },
    { "stack-size", OPT_LONG, DOFF(stack_size), 0, P34 },
    { "maximum-requests", OPT_INT, DOFF(maximum_requests), 0, P34 },
    { "shutdown-timeout", OPT_INT, DOFF(shutdown_timeout), 0, P34 },
    { "deadlock-timeout", OPT_INT, DOFF(deadlock_timeout), 0, P34 },
    { "inactivity-timeout", OPT_INT, DOFF(inactivity_timeout), 0, P34 },
    { "display-name", OPT_STR, DOFF(display_name), 0, P34 },
    { "send-buffer-size", OPT_INT, DOFF(send_buffer_size), 0, P34 },
    { "receive-buffer-size", OPT_INT, DOFF(receive_buffer_size), 0, P34 },
    { "script-user", OPT_STR, DOFF(script_user), 0, P34 },
    { "script-group", OPT_STR, DOFF(script_group), 0, P34 },
    { "cpu-time-limit", OPT_INT, DOFF(cpu_time_limit), 0, P34 },
    { "cpu-priority", OPT_INT, DOFF(cpu_priority), -20, P34 },
    { "memory-limit", OPT_LONG, DOFF(memory_limit), 0, P34 },
    { "virtual-memory-limit", OPT_LONG, DOFF(virtual_memory_limit), 0, P34 },
    { "connect-timeout", OPT_INT, DOFF(connect_timeout), 0, P4 },
    { "socket-timeout", OPT_INT, DOFF(socket_timeout), 0, P4 },
    { "queue-timeout", OPT_INT, DOFF(queue_timeout), 0, P4 },
    { "request-timeout", OPT_INT, DOFF(request_timeout), 0, P4 },
    { "graceful-timeout", OPT_INT, DOFF(graceful_timeout), 0, P4 },
    { "eviction-timeout", OPT_INT, DOFF(eviction_timeout), 0, P4 },
    { "listen-backlog", OPT_INT, DOFF(listen_backlog), 0, P4 },
    { "header-buffer-size", OPT_INT, DOFF(header_buffer_size), 0, P4 },
    { "response-buffer-size", OPT_INT, DOFF(response_buffer_size), 0, P4 },
    { "proxy-buffer-size", OPT_INT, DOFF(proxy_buffer_size), 0, P5ONLY },
    { "socket-user", OPT_STR, DOFF(socket_user), 0, P4 },
    { "server-metrics", OPT_FLAG, DOFF(server_metrics), 0, P4 },
    { "startup-timeout", OPT_INT, DOFF(startup_timeout), 0, P4 },
    { "restart-interval", OPT_INT, DOFF(restart_interval), 0, P4 },
    { "response-socket-timeout", OPT_INT, DOFF(response_socket_timeout), 0, P4 },
    { "newrelic-config-file", OPT_STR, DOFF(newrelic_config_file), 0, P5ONLY },
    { "newrelic-environment", OPT_STR, DOFF(newrelic_environment), 0, P5ONLY },
    { "interrupt-timeout", OPT_INT, DOFF(interrupt_timeout), 0, P6 },
    { "switch-interval", OPT_DOUBLE, DOFF(switch_interval), 0, P6 },
    { "response-flush-delay", OPT_INT, DOFF(response_flush_delay), 0, P6 },
    { NULL, OPT_STR, 0, 0, 0 }
};

gw_daemon_group *gw_find_daemon_group(const char *name)
{
    int i;
    gw_daemon_group **groups;
    if (!gw_global->daemon_groups)
        return NULL;
    groups = (gw_daemon_group **)gw_global->daemon_groups->elts;
    for (i = 0; i < gw_global->daemon_groups->nelts; i++)
        if (!strcmp(groups[i]->name, name))
            return groups[i];
    return NULL;
}

static const char *daemon_error(cmd_parms *cmd, const char *msg)
{
    return apr_psprintf(cmd->pool, "WSGIDaemonProcess: %s", msg);
}

static const char *add_daemon_process(cmd_parms *cmd, void *mconfig, const char *args)
{
    gw_daemon_group *g;
    const char *name, *err;
    (void)mconfig;

    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE)) != NULL)
        return err;
    name = ap_getword_conf(cmd->pool, &args);
    if (!*name)
        return daemon_error(cmd, "Name of WSGI daemon process not supplied.");
    if (gw_find_daemon_group(name))
        return daemon_error(cmd, apr_psprintf(cmd->pool, "Name duplicates previous WSGI daemon "
                                              "definition ('%s').", name));

    g = apr_pcalloc(cmd->pool, sizeof(*g));
    g->name = name;
    g->server = cmd->server;
    g->server_name = cmd->server->is_virtual ? cmd->server->server_hostname : NULL;
    g->id = gw_global->daemon_groups->nelts + 1;
    g->uid = (uid_t)-1;
    g->gid = (gid_t)-1;
    g->processes = 1;
    g->threads = 15;
    g->umask = -1;
    g->stack_size = 0;
    g->shutdown_timeout = 5;
    g->deadlock_timeout = 300;
    g->connect_timeout = 15;
    g->graceful_timeout = gw_profile()->id == GW_PROFILE_34 ? 0 : 15;
    g->eviction_timeout = -1;
    g->listen_backlog = 100;
    g->header_buffer_size = 32768;
    g->response_buffer_size = 65536;
    g->proxy_buffer_size = 65536;
    g->response_socket_timeout = -1;
    g->switch_interval = -1.0;
    g->response_flush_delay = 5;

    while (*args) {
        const char *word = ap_getword_conf(cmd->pool, &args);
        const char *eq, *val;
        const gw_daemon_option *o;
        char *key, *end;
        if (!*word)
            break;
        eq = strchr(word, '=');
        if (!eq)
            return daemon_error(cmd, apr_psprintf(cmd->pool, "Invalid option to WSGI daemon "
                                                  "process definition: '%s'.", word));
        key = apr_pstrmemdup(cmd->pool, word, eq - word);
        val = eq + 1;
        for (o = gw_daemon_options; o->name; o++)
            if (!strcmp(o->name, key))
                break;
        if (!o->name || !(o->profiles & gw_profile()->id))
            return daemon_error(cmd, apr_psprintf(cmd->pool, "Invalid option to WSGI daemon "
                                                  "process definition: '%s'%s.", key,
                                                  o->name ? apr_psprintf(cmd->pool,
                                                  " (not in mod_wsgi %s)", gw_profile()->name)
                                                  : ""));
        switch (o->kind) {
        case OPT_STR:
            if (!*val)
                return daemon_error(cmd, apr_psprintf(cmd->pool, "Empty value for option '%s'.", key));
            *(const char **)((char *)g + o->offset) = val;
            break;
        case OPT_INT:
        case OPT_LONG:
        case OPT_OCTAL: {
            long v = strtol(val, &end, o->kind == OPT_OCTAL ? 8 : 10);
            if (!*val || *end || v < o->minimum)
                return daemon_error(cmd, apr_psprintf(cmd->pool, "Invalid value '%s' for option "
                                                      "'%s'%s.", val, key, o->minimum > 0 ?
                                                      apr_psprintf(cmd->pool, " (must be >= %ld)",
                                                                   o->minimum) : ""));
            if (o->kind == OPT_LONG)
                *(long *)((char *)g + o->offset) = v;
            else
                *(int *)((char *)g + o->offset) = (int)v;
            if (!strcmp(key, "processes"))
                g->processes_given = 1;
            break;
        }
        case OPT_DOUBLE: {
            double v = strtod(val, &end);
            if (!*val || *end || v <= 0)
                return daemon_error(cmd, apr_psprintf(cmd->pool, "Invalid value '%s' for option "
                                                      "'%s'.", val, key));
            *(double *)((char *)g + o->offset) = v;
            break;
        }
        case OPT_FLAG:
            if (!strcasecmp(val, "On"))
                *(int *)((char *)g + o->offset) = 1;
            else if (!strcasecmp(val, "Off"))
                *(int *)((char *)g + o->offset) = 0;
            else
                return daemon_error(cmd, apr_psprintf(cmd->pool, "Invalid value '%s' for option "
                                                      "'%s' (On or Off).", val, key));
            break;
        }
    }

    if (gw_profile()->id == GW_PROFILE_34 && g->threads < 1)
        return daemon_error(cmd, "Invalid value for option 'threads' (must be >= 1).");
    if ((g->send_buffer_size && g->send_buffer_size < 512) ||
        (g->receive_buffer_size && g->receive_buffer_size < 512))
        return daemon_error(cmd, "Send buffer size must be >= 512 bytes, or 0 for system default.");
    if (g->script_user && g->script_group)
        return daemon_error(cmd, "Only one of script-user and script-group allowed.");
    if (g->home && *g->home != '/')
        return daemon_error(cmd, "Home directory path must be an absolute path.");
    if (g->user) {
        if (*g->user == '#')
            g->uid = (uid_t)atol(g->user + 1);
        else {
            struct passwd *pw = getpwnam(g->user);
            if (!pw)
                return daemon_error(cmd, apr_psprintf(cmd->pool, "Unable to determine uid for "
                                                      "user '%s'.", g->user));
            g->uid = pw->pw_uid;
        }
        if (g->uid == 0)
            return daemon_error(cmd, "WSGI process blocked from running as root.");
    }
    if (g->group) {
        if (*g->group == '#')
            g->gid = (gid_t)atol(g->group + 1);
        else {
            struct group *gr = getgrnam(g->group);
            if (!gr)
                return daemon_error(cmd, apr_psprintf(cmd->pool, "Unable to determine gid for "
                                                      "group '%s'.", g->group));
            g->gid = gr->gr_gid;
        }
    }
    if (g->eviction_timeout < 0)
        g->eviction_timeout = g->graceful_timeout;
    *(gw_daemon_group **)apr_array_push(gw_global->daemon_groups) = g;
    return NULL;
}

/* ------------------------------------------------------------ command table */

#define GSPEC(field, prof) \
    ((void *)&(const gw_directive_spec){ prof, 1, GW_SLOT_GLOBAL, offsetof(gw_global_config, field) })
#define DSPEC(field, prof) \
    ((void *)&(const gw_directive_spec){ prof, 0, GW_SLOT_DIR, offsetof(gw_dir_config, field) })
#define XSPEC(prof, server_only) \
    ((void *)&(const gw_directive_spec){ prof, server_only, GW_SLOT_NONE, 0 })

#define DIR_ANY (OR_FILEINFO)
#define DIR_CONF (ACCESS_CONF | RSRC_CONF)

const command_rec gw_commands[] = {
    AP_INIT_TAKE1("WSGICompatibility", set_compatibility, NULL, RSRC_CONF,
                  "Which mod_wsgi release's behaviour to reproduce: 3.4 | 5 | 6 (default 5)."),

    /* Mapping URLs to scripts. */
    AP_INIT_RAW_ARGS("WSGIScriptAlias", add_script_alias, NULL, RSRC_CONF,
                     "Map a URL prefix to a WSGI script file or directory, with options."),
    AP_INIT_RAW_ARGS("WSGIScriptAliasMatch", add_script_alias, (void *)1, RSRC_CONF,
                     "Map a URL regex to a WSGI script, with options."),
    AP_INIT_RAW_ARGS("WSGIImportScript", add_import_script, NULL, RSRC_CONF,
                     "Load a script at process start (process-group= application-group=)."),

    /* Daemon mode (parsed and stored here; run by the daemon engine). */
    AP_INIT_RAW_ARGS("WSGIDaemonProcess", add_daemon_process, NULL, RSRC_CONF,
                     "Define a group of WSGI daemon processes."),
    AP_INIT_TAKE1("WSGIProcessGroup", set_string, DSPEC(process_group, GW_PROFILES_ALL), DIR_CONF,
                  "Daemon process group for requests (%{GLOBAL} = embedded)."),
    AP_INIT_ITERATE("WSGIRestrictProcess", set_restrict_process, XSPEC(GW_PROFILES_ALL, 0), DIR_CONF,
                    "Daemon process groups selectable here."),
    AP_INIT_TAKE1("WSGISocketPrefix", set_string, GSPEC(socket_prefix, GW_PROFILES_ALL), RSRC_CONF,
                  "Path prefix of daemon process sockets."),
    AP_INIT_TAKE1("WSGIAcceptMutex", set_string, GSPEC(accept_mutex, GW_PROFILES_ALL), RSRC_CONF,
                  "Accept mutex mechanism of daemon processes."),
    AP_INIT_FLAG("WSGISocketRotation", set_flag, GSPEC(socket_rotation, GW_PROFILES_4UP), RSRC_CONF,
                 "Rotate daemon socket names on restart."),
    AP_INIT_FLAG("WSGIRestrictEmbedded", set_flag, GSPEC(restrict_embedded, GW_PROFILES_ALL), RSRC_CONF,
                 "Refuse requests in embedded mode."),

    /* Interpreters. */
    AP_INIT_TAKE1("WSGIApplicationGroup", set_string, DSPEC(application_group, GW_PROFILES_ALL),
                  DIR_CONF, "Application group (sub-interpreter) of requests."),
    AP_INIT_TAKE1("WSGICallableObject", set_string, DSPEC(callable_object, GW_PROFILES_ALL), DIR_ANY,
                  "Name of the WSGI callable in the script (default application)."),
    AP_INIT_TAKE1("WSGIPythonHome", set_string, GSPEC(python_home, GW_PROFILES_ALL), RSRC_CONF,
                  "Python home (prefix) of embedded interpreters; a venv root works."),
    AP_INIT_TAKE1("WSGIPythonPath", set_string, GSPEC(python_path, GW_PROFILES_ALL), RSRC_CONF,
                  "Directories put at the front of sys.path (colon separated)."),
    AP_INIT_TAKE1("WSGIPythonEggs", set_string, GSPEC(python_eggs, GW_PROFILES_ALL), RSRC_CONF,
                  "PYTHON_EGG_CACHE for embedded interpreters."),
    AP_INIT_TAKE1("WSGIPythonOptimize", set_optimize, XSPEC(GW_PROFILES_ALL, 1), RSRC_CONF,
                  "Python optimisation level 0, 1 or 2."),
    AP_INIT_TAKE1("WSGIPythonWarnings", set_warnings, XSPEC(GW_PROFILES_ALL, 1), RSRC_CONF,
                  "A -W style warnings filter (repeatable)."),
    AP_INIT_TAKE1("WSGIPythonHashSeed", set_hash_seed, XSPEC(GW_PROFILES_4UP, 1), RSRC_CONF,
                  "PYTHONHASHSEED for embedded interpreters."),
    AP_INIT_FLAG("WSGIDontWriteBytecode", set_flag, GSPEC(dont_write_bytecode, GW_PROFILES_ALL),
                 RSRC_CONF, "Do not write .pyc files."),
    AP_INIT_FLAG("WSGILazyInitialization", set_flag, GSPEC(lazy_initialization,
                 GW_PROFILE_34 | GW_PROFILE_5), RSRC_CONF,
                 "Initialise Python in children (On) or in the parent (Off)."),
    AP_INIT_FLAG("WSGIRestrictStdin", set_flag, GSPEC(restrict_stdin, GW_PROFILES_ALL), RSRC_CONF,
                 "Make sys.stdin raise on use."),
    AP_INIT_FLAG("WSGIRestrictStdout", set_flag, GSPEC(restrict_stdout, GW_PROFILES_ALL), RSRC_CONF,
                 "Make sys.stdout raise on use."),
    AP_INIT_FLAG("WSGIRestrictSignal", set_flag, GSPEC(restrict_signal, GW_PROFILES_ALL), RSRC_CONF,
                 "Ignore signal.signal() registrations from applications."),
    AP_INIT_FLAG("WSGICaseSensitivity", set_flag, GSPEC(case_sensitivity, GW_PROFILES_ALL), RSRC_CONF,
                 "Whether script paths are case sensitive."),
    AP_INIT_FLAG("WSGIDestroyInterpreter", set_flag, GSPEC(destroy_interpreter, GW_PROFILES_4UP),
                 RSRC_CONF, "Finalise Python at process exit."),
    AP_INIT_FLAG("WSGIVerboseDebugging", set_flag, GSPEC(verbose_debugging, GW_PROFILES_ALL),
                 RSRC_CONF, "Extra debug logging."),
    AP_INIT_FLAG("WSGIServerMetrics", set_flag, GSPEC(server_metrics, GW_PROFILES_4UP), RSRC_CONF,
                 "Allow mod_wsgi.server_metrics()."),
#if !GW_PY3
    AP_INIT_FLAG("WSGIPy3kWarningFlag", set_ignored_flag, XSPEC(GW_PROFILE_34 | GW_PROFILE_5, 1),
                 RSRC_CONF, "Python 2 -3 warnings (accepted, no effect)."),
#endif

    /* Per request behaviour. */
    AP_INIT_FLAG("WSGIPassAuthorization", set_flag, DSPEC(pass_authorization, GW_PROFILES_ALL),
                 DIR_ANY, "Pass the Authorization header as HTTP_AUTHORIZATION."),
    AP_INIT_FLAG("WSGIScriptReloading", set_flag, DSPEC(script_reloading, GW_PROFILES_ALL), DIR_ANY,
                 "Reload a script whose modification time changed."),
    AP_INIT_FLAG("WSGIChunkedRequest", set_flag, DSPEC(chunked_request, GW_PROFILES_ALL), DIR_ANY,
                 "Accept chunked request bodies (Off: 411)."),
    AP_INIT_FLAG("WSGIEnableSendfile", set_flag, DSPEC(enable_sendfile, GW_PROFILES_ALL), DIR_ANY,
                 "Let wsgi.file_wrapper use sendfile()."),
    AP_INIT_FLAG("WSGIErrorOverride", set_flag, DSPEC(error_override, GW_PROFILES_ALL), DIR_ANY,
                 "Daemon mode: let Apache render error responses."),
    AP_INIT_FLAG("WSGIPassApacheRequest", set_flag, DSPEC(pass_apache_request, GW_PROFILES_ALL),
                 DIR_CONF, "Put apache.request_rec into environ (accepted, not provided)."),
    AP_INIT_TAKE1("WSGIMapHEADToGET", set_map_head, XSPEC(GW_PROFILES_4UP, 0), DIR_ANY,
                  "Show HEAD requests as GET to the application: Off | On | Auto."),
    AP_INIT_FLAG("WSGIIgnoreActivity", set_ignored_flag, XSPEC(GW_PROFILES_4UP, 0), DIR_ANY,
                 "Requests here do not count as daemon activity."),
    AP_INIT_ITERATE("WSGITrustedProxyHeaders", set_ignored_list, XSPEC(GW_PROFILES_4UP, 0), DIR_ANY,
                    "Proxy headers trusted from WSGITrustedProxies (accepted, not applied)."),
    AP_INIT_ITERATE("WSGITrustedProxies", set_ignored_list, XSPEC(GW_PROFILES_4UP, 0), DIR_ANY,
                    "Trusted proxy addresses (accepted, not applied)."),

    /* 6.x only server settings (accepted). */
    AP_INIT_TAKE1("WSGISwitchInterval", set_switch_interval, XSPEC(GW_PROFILE_6, 1), RSRC_CONF,
                  "sys.setswitchinterval() value."),
    AP_INIT_FLAG("WSGIPerInterpreterGIL", set_ignored_flag, XSPEC(GW_PROFILE_6, 1), RSRC_CONF,
                 "Per-interpreter GIL (accepted, no effect)."),
    AP_INIT_FLAG("WSGIFreeThreading", set_ignored_flag, XSPEC(GW_PROFILE_6, 1), RSRC_CONF,
                 "Free-threaded Python (accepted, no effect)."),
    { NULL }
};
