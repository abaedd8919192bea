/*
 * gw_proxy.h - daemon mode in the Apache child (gw_proxy.c): a request handed to its
 * group's daemons and their response relayed.
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include "gw_config.h"
#include "gw_daemon_config.h"

/*
 * Serve request r, routed to group g, through one of its daemons; env is the
 * complete environ table (CGI variables + mod_wsgi.* carriers, see
 * gw_environ_carriers); returns an Apache handler status.
 */
int gw_daemon_handle(request_rec *r, gw_daemon_group *g, const gw_request_config *rc,
                     apr_table_t *env);

#endif /* GW_PROXY_H */
