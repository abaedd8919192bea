/*
 * gw_daemon.h - daemon mode in Apache's parent (gw_daemon.c): the hooks that start,
 * replace and stop each group's processes, and the runtime record of a group.
 */
#ifndef GW_DAEMON_H
#define GW_DAEMON_H

#include "gw_daemon_state.h"

/* Add daemon mode's hooks; called from mod_gateway's register_hooks. */
void gw_daemon_register_hooks(apr_pool_t *p);

/* The runtime record of group g (NULL when daemons are not running). */
gw_daemon_rt *gw_daemon_runtime(const gw_daemon_group *g);

#endif /* GW_DAEMON_H */
