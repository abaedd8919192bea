/*
 * gw_daemon_config.c - WSGIDaemonProcess: the one table of its options (name, kind,
 * field, minimum, the profiles that accept it), the parser that fills a gw_daemon_group
 * from it, and the groups' lookup by name.
 */
#include "gw_daemon_config.h"
#include "gw_profile.h"

#include <pwd.h>
#include <grp.h>

static apr_array_header_t *daemon_groups;    /* gw_daemon_group *, in definition order */

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

static const gw_daemon_option gw_daemon_options[] = {
    { "user", OPT_STR, DOFF(user), 0, GW_PROFILES_ALL },
    { "group", OPT_STR, DOFF(group), 0, GW_PROFILES_ALL },
    { "supplementary-groups", OPT_STR, DOFF(supplementary_groups), 0, GW_PROFILES_ALL },
    { "processes", OPT_INT, DOFF(processes), 1, GW_PROFILES_ALL },
    { "threads", OPT_INT, DOFF(threads), 0, GW_PROFILES_ALL },
    { "umask", OPT_OCTAL, DOFF(umask), 0, GW_PROFILES_ALL },
    { "chroot", OPT_STR, DOFF(chroot), 0, GW_PROFILES_ALL },
    { "home", OPT_STR, DOFF(home), 0, GW_PROFILES_ALL },
    { "lang", OPT_STR, DOFF(lang), 0, GW_PROFILES_ALL },
    { "locale", OPT_STR, DOFF(locale), 0, GW_PROFILES_ALL },
    { "python-home", OPT_STR, DOFF(python_home), 0, GW_PROFILES_ALL },
    { "python-path", OPT_STR, DOFF(python_path), 0, GW_PROFILES_ALL },
    { "python-eggs", OPT_STR, DOFF(python_eggs), 0, GW_PROFILES_ALL },
    { "stack-size", OPT_LONG, DOFF(stack_size), 0, GW_PROFILES_ALL },
    { "maximum-requests", OPT_INT, DOFF(maximum_requests), 0, GW_PROFILES_ALL },
    { "shutdown-timeout", OPT_INT, DOFF(shutdown_timeout), 0, GW_PROFILES_ALL },
    { "deadlock-timeout", OPT_INT, DOFF(deadlock_timeout), 0, GW_PROFILES_ALL },
    { "inactivity-timeout", OPT_INT, DOFF(inactivity_timeout), 0, GW_PROFILES_ALL },
    { "display-name", OPT_STR, DOFF(display_name), 0, GW_PROFILES_ALL },
    { "send-buffer-size", OPT_INT, DOFF(send_buffer_size), 0, GW_PROFILES_ALL },
    { "receive-buffer-size", OPT_INT, DOFF(receive_buffer_size), 0, GW_PROFILES_ALL },
    { "script-user", OPT_STR, DOFF(script_user), 0, GW_PROFILES_ALL },
    { "script-group", OPT_STR, DOFF(script_group), 0, GW_PROFILES_ALL },
    { "cpu-time-limit", OPT_INT, DOFF(cpu_time_limit), 0, GW_PROFILES_ALL },
    { "cpu-priority", OPT_INT, DOFF(cpu_priority), -20, GW_PROFILES_ALL },
    { "memory-limit", OPT_LONG, DOFF(memory_limit), 0, GW_PROFILES_ALL },
    { "virtual-memory-limit", OPT_LONG, DOFF(virtual_memory_limit), 0, GW_PROFILES_ALL },
    { "connect-timeout", OPT_INT, DOFF(connect_timeout), 0, GW_PROFILES_4UP },
    { "socket-timeout", OPT_INT, DOFF(socket_timeout), 0, GW_PROFILES_4UP },
    { "queue-timeout", OPT_INT, DOFF(queue_timeout), 0, GW_PROFILES_4UP },
    { "request-timeout", OPT_INT, DOFF(request_timeout), 0, GW_PROFILES_4UP },
    { "graceful-timeout", OPT_INT, DOFF(graceful_timeout), 0, GW_PROFILES_4UP },
    { "eviction-timeout", OPT_INT, DOFF(eviction_timeout), 0, GW_PROFILES_4UP },
    { "listen-backlog", OPT_INT, DOFF(listen_backlog), 0, GW_PROFILES_4UP },
    { "header-buffer-size", OPT_INT, DOFF(header_buffer_size), 0, GW_PROFILES_4UP },
    { "response-buffer-size", OPT_INT, DOFF(response_buffer_size), 0, GW_PROFILES_4UP },
    { "proxy-buffer-size", OPT_INT, DOFF(proxy_buffer_size), 0, GW_PROFILE_5 },
    { "socket-user", OPT_STR, DOFF(socket_user), 0, GW_PROFILES_4UP },
    { "server-metrics", OPT_FLAG, DOFF(server_metrics), 0, GW_PROFILES_4UP },
    { "startup-timeout", OPT_INT, DOFF(startup_timeout), 0, GW_PROFILES_4UP },
    { "restart-interval", OPT_INT, DOFF(restart_interval), 0, GW_PROFILES_4UP },
    { "response-socket-timeout", OPT_INT, DOFF(response_socket_timeout), 0, GW_PROFILES_4UP },
    { "newrelic-config-file", OPT_STR, DOFF(newrelic_config_file), 0, GW_PROFILE_5 },
    { "newrelic-environment", OPT_STR, DOFF(newrelic_environment), 0, GW_PROFILE_5 },
    { "interrupt-timeout", OPT_INT, DOFF(interrupt_timeout), 0, GW_PROFILE_6 },
    { "switch-interval", OPT_DOUBLE, DOFF(switch_interval), 0, GW_PROFILE_6 },
    { "response-flush-delay", OPT_INT, DOFF(response_flush_delay), 0, GW_PROFILE_6 },
    { NULL, OPT_STR, 0, 0, 0 }
};

void gw_daemon_config_reset(apr_pool_t *pconf)
{
    daemon_groups = apr_array_make(pconf, 2, sizeof(gw_daemon_group *));
}

apr_array_header_t *gw_daemon_groups(void)
{
    return daemon_groups;
}

gw_daemon_group *gw_find_daemon_group(const char *name)
{
    int i;
    gw_daemon_group **groups;
    if (!daemon_groups)
        return NULL;
    groups = (gw_daemon_group **)daemon_groups->elts;
    for (i = 0; i < daemon_groups->nelts; i++)
        if (!strcmp(groups[i]->name, name))
            return groups[i];
    return NULL;
}

static const char *daemon_error(cmd_parms *cmd, const char *msg)
{
    return apr_psprintf(cmd->pool, "WSGIDaemonProcess: %s", msg);
}

/* user= or group= (is_group): "#N", or a name the system knows.  NULL, or the error. */
static const char *resolve_id(cmd_parms *cmd, const char *name, int is_group, long *id)
{
    if (*name == '#') {
        *id = atol(name + 1);
        return NULL;
    }
    if (is_group) {
        struct group *gr = getgrnam(name);
        if (gr) {
            *id = (long)gr->gr_gid;
            return NULL;
        }
    }
    else {
        struct passwd *pw = getpwnam(name);
        if (pw) {
            *id = (long)pw->pw_uid;
            return NULL;
        }
    }
    return daemon_error(cmd,
                        apr_psprintf(cmd->pool, "Unable to determine %s for %s '%s'.",
                                     is_group ? "gid" : "uid", is_group ? "group" : "user", name));
}

const char *gw_add_daemon_process(cmd_parms *cmd, void *mconfig, const char *args)
{
    gw_daemon_group *g;
    const char *name, *err;
    long id;
    (void)mconfig;

    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE)) != NULL)
        return err;
    name = ap_getword_conf(cmd->pool, &args);
    if (!*name)
        return daemon_error(cmd, "Name of WSGI daemon process not supplied.");
    if (gw_find_daemon_group(name))
        return daemon_error(cmd, apr_psprintf(cmd->pool,
                                              "Name duplicates previous WSGI daemon "
                                              "definition ('%s').",
                                              name));

    g = apr_pcalloc(cmd->pool, sizeof(*g));
    g->name = name;
    g->server = cmd->server;
    g->server_name = cmd->server->is_virtual ? cmd->server->server_hostname : NULL;
    g->id = daemon_groups->nelts + 1;
    g->uid = (uid_t)-1;
    g->gid = (gid_t)-1;
    g->processes = 1;
    g->threads = 15;
    g->umask = -1;
    g->stack_size = 0;
    g->shutdown_timeout = 5;
    g->deadlock_timeout = 300;
    g->connect_timeout = 15;
    g->graceful_timeout = gw_profile()->daemon_graceful_timeout;
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
            return daemon_error(cmd, apr_psprintf(cmd->pool,
                                                  "Invalid option to WSGI daemon "
                                                  "process definition: '%s'.",
                                                  word));
        key = apr_pstrmemdup(cmd->pool, word, eq - word);
        val = eq + 1;
        for (o = gw_daemon_options; o->name; o++)
            if (!strcmp(o->name, key))
                break;
        if (!o->name || !(o->profiles & gw_profile()->id))
            return daemon_error(
                cmd, apr_psprintf(cmd->pool,
                                  "Invalid option to WSGI daemon "
                                  "process definition: '%s'%s.",
                                  key,
                                  o->name ? apr_psprintf(cmd->pool, " (not in mod_wsgi %s)",
                                                         gw_profile()->name)
                                          : ""));
        switch (o->kind) {
        case OPT_STR:
            if (!*val)
                return daemon_error(cmd,
                                    apr_psprintf(cmd->pool, "Empty value for option '%s'.", key));
            *(const char **)((char *)g + o->offset) = val;
            break;
        case OPT_INT:
        case OPT_LONG:
        case OPT_OCTAL: {
            long v = strtol(val, &end, o->kind == OPT_OCTAL ? 8 : 10);
            if (!*val || *end || v < o->minimum)
                return daemon_error(
                    cmd, apr_psprintf(cmd->pool,
                                      "Invalid value '%s' for option "
                                      "'%s'%s.",
                                      val, key,
                                      o->minimum > 0
                                          ? apr_psprintf(cmd->pool, " (must be >= %ld)", o->minimum)
                                          : ""));
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
                return daemon_error(cmd, apr_psprintf(cmd->pool,
                                                      "Invalid value '%s' for option "
                                                      "'%s'.",
                                                      val, key));
            *(double *)((char *)g + o->offset) = v;
            break;
        }
        case OPT_FLAG:
            if (!strcasecmp(val, "On"))
                *(int *)((char *)g + o->offset) = 1;
            else if (!strcasecmp(val, "Off"))
                *(int *)((char *)g + o->offset) = 0;
            else
                return daemon_error(cmd, apr_psprintf(cmd->pool,
                                                      "Invalid value '%s' for option "
                                                      "'%s' (On or Off).",
                                                      val, key));
            break;
        }
    }

    if (g->threads < gw_profile()->daemon_threads_minimum)
        return daemon_error(cmd, "Invalid value for option 'threads' (must be >= 1).");
    if ((g->send_buffer_size && g->send_buffer_size < 512) ||
        (g->receive_buffer_size && g->receive_buffer_size < 512))
        return daemon_error(cmd, "Send buffer size must be >= 512 bytes, or 0 for system default.");
    if (g->script_user && g->script_group)
        return daemon_error(cmd, "Only one of script-user and script-group allowed.");
    if (g->home && *g->home != '/')
        return daemon_error(cmd, "Home directory path must be an absolute path.");
    if (g->user && (err = resolve_id(cmd, g->user, 0, &id)) != NULL)
        return err;
    if (g->user)
        g->uid = (uid_t)id;
    if (g->uid == 0)        /* (uid_t)-1 without user=; "#0" or root by name */
        return daemon_error(cmd, "WSGI process blocked from running as root.");
    if (g->group && (err = resolve_id(cmd, g->group, 1, &id)) != NULL)
        return err;
    if (g->group)
        g->gid = (gid_t)id;
    if (g->eviction_timeout < 0)
        g->eviction_timeout = g->graceful_timeout;
    *(gw_daemon_group **)apr_array_push(daemon_groups) = g;
    return NULL;
}
