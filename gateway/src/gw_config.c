/*
 * gw_config.c - the one table of directives (WSGIDaemonProcess's options are
 * gw_daemon_config.c's).
 *
 * Each directive names its parser (an Apache command handler), where its
 * value lives, its default (in the create/merge functions) and the profiles
 * (WSGICompatibility) that accept it.  A directive outside its profiles is
 * refused at config time, as the mod_wsgi release being imitated would.
 */
#include "gw_config.h"
#include "gw_daemon_config.h"
#include "gw_profile.h"
#include "mod_gateway.h"

static gw_global_config gw_global_storage;
gw_global_config *gw_global = &gw_global_storage;

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
    gw_daemon_config_reset(pconf);
    gw_profile_reset();
}

gw_server_config *gw_server_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &gateway_module);
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
        return apr_psprintf(cmd->pool,
                            "Invalid command '%s': not part of mod_wsgi %s "
                            "behaviour (WSGICompatibility %s)",
                            cmd->cmd->name, gw_profile()->name, gw_profile()->name);
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
    (void)mconfig;
    (void)on;
    return check_spec(cmd);
}

static const char *set_ignored_list(cmd_parms *cmd, void *mconfig, const char *arg)
{
    (void)mconfig;
    (void)arg;
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
        return apr_psprintf(cmd->pool,
                            "WSGISwitchInterval must be a number of seconds above 0, "
                            "not '%s'.",
                            arg);
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
    return gw_profile_select(arg);
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

const char *gw_parse_script_options(cmd_parms *cmd, const char *args, gw_script_options *opts,
                                    int allow_groups, const char *what)
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
            return apr_psprintf(cmd->pool,
                                "Invalid option to %s definition. ('%s' is not "
                                "name=value.)",
                                what, word);
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
                return apr_psprintf(cmd->pool,
                                    "Invalid value for authorization flag. "
                                    "(pass-authorization=%s: On or Off.)",
                                    val);
        }
        else {
            return apr_psprintf(cmd->pool,
                                "Invalid option to %s definition. ('%s' is not one "
                                "of its options.)",
                                what, key);
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
    gw_server_config *sc = gw_server_conf(cmd->server);
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
    err = gw_parse_script_options(cmd, args, &a->opts,
                                  !is_match || gw_profile()->alias_match_group_options,
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
            return apr_psprintf(cmd->pool,
                                "Invalid option to WSGI import script definition. "
                                "('%s' is not name=value.)",
                                word);
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
            return apr_psprintf(cmd->pool,
                                "Invalid option to WSGI import script definition. "
                                "('%.*s' is not one of its options: process-group, "
                                "application-group.)",
                                (int)(eq - word), word);
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

/* ------------------------------------------------------------ command table */

#define GSPEC(field, prof)                                                                         \
    ((void *)&(const gw_directive_spec){ prof, 1, GW_SLOT_GLOBAL,                                  \
                                         offsetof(gw_global_config, field) })
#define DSPEC(field, prof)                                                                         \
    ((void *)&(const gw_directive_spec){ prof, 0, GW_SLOT_DIR, offsetof(gw_dir_config, field) })
#define XSPEC(prof, server_only)                                                                   \
    ((void *)&(const gw_directive_spec){ prof, server_only, GW_SLOT_NONE, 0 })

#define DIR_ANY  (OR_FILEINFO)
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
    AP_INIT_RAW_ARGS("WSGIDaemonProcess", gw_add_daemon_process, NULL, RSRC_CONF,
                     "Define a group of WSGI daemon processes."),
    AP_INIT_TAKE1("WSGIProcessGroup", set_string, DSPEC(process_group, GW_PROFILES_ALL), DIR_CONF,
                  "Daemon process group for requests (%{GLOBAL} = embedded)."),
    AP_INIT_ITERATE("WSGIRestrictProcess", set_restrict_process, XSPEC(GW_PROFILES_ALL, 0),
                    DIR_CONF, "Daemon process groups selectable here."),
    AP_INIT_TAKE1("WSGISocketPrefix", set_string, GSPEC(socket_prefix, GW_PROFILES_ALL), RSRC_CONF,
                  "Path prefix of daemon process sockets."),
    AP_INIT_TAKE1("WSGIAcceptMutex", set_string, GSPEC(accept_mutex, GW_PROFILES_ALL), RSRC_CONF,
                  "Accept mutex mechanism of daemon processes."),
    AP_INIT_FLAG("WSGISocketRotation", set_flag, GSPEC(socket_rotation, GW_PROFILES_4UP), RSRC_CONF,
                 "Rotate daemon socket names on restart."),
    AP_INIT_FLAG("WSGIRestrictEmbedded", set_flag, GSPEC(restrict_embedded, GW_PROFILES_ALL),
                 RSRC_CONF, "Refuse requests in embedded mode."),

    /* Interpreters. */
    AP_INIT_TAKE1("WSGIApplicationGroup", set_string, DSPEC(application_group, GW_PROFILES_ALL),
                  DIR_CONF, "Application group (sub-interpreter) of requests."),
    AP_INIT_TAKE1("WSGICallableObject", set_string, DSPEC(callable_object, GW_PROFILES_ALL),
                  DIR_ANY, "Name of the WSGI callable in the script (default application)."),
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
    AP_INIT_FLAG("WSGILazyInitialization", set_flag,
                 GSPEC(lazy_initialization, GW_PROFILE_34 | GW_PROFILE_5), RSRC_CONF,
                 "Initialise Python in children (On) or in the parent (Off)."),
    AP_INIT_FLAG("WSGIRestrictStdin", set_flag, GSPEC(restrict_stdin, GW_PROFILES_ALL), RSRC_CONF,
                 "Make sys.stdin raise on use."),
    AP_INIT_FLAG("WSGIRestrictStdout", set_flag, GSPEC(restrict_stdout, GW_PROFILES_ALL), RSRC_CONF,
                 "Make sys.stdout raise on use."),
    AP_INIT_FLAG("WSGIRestrictSignal", set_flag, GSPEC(restrict_signal, GW_PROFILES_ALL), RSRC_CONF,
                 "Ignore signal.signal() registrations from applications."),
    AP_INIT_FLAG("WSGICaseSensitivity", set_flag, GSPEC(case_sensitivity, GW_PROFILES_ALL),
                 RSRC_CONF, "Whether script paths are case sensitive."),
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
