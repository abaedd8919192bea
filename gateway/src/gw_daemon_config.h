/*
 * gw_daemon_config.h - WSGIDaemonProcess (gw_daemon_config.c): one group's options,
 * parsed, for the daemon engine.
 */
#ifndef GW_DAEMON_CONFIG_H
#define GW_DAEMON_CONFIG_H

#include "gw_compat.h"

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

/* A configuration pass starts: no groups. */
void gw_daemon_config_reset(apr_pool_t *pconf);
/* The groups defined (gw_daemon_group *), in definition order. */
apr_array_header_t *gw_daemon_groups(void);
/* The WSGIDaemonProcess directive's handler (gw_config.c's command table). */
const char *gw_add_daemon_process(cmd_parms *cmd, void *mconfig, const char *args);
/* The group defined under `name`, or NULL. */
gw_daemon_group *gw_find_daemon_group(const char *name);

#endif /* GW_DAEMON_CONFIG_H */
