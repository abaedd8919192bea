/*
 * gw_daemon_serve.h - a daemon process serving (gw_daemon_serve.c): its worker threads
 * and its lifecycle.
 */
#ifndef GW_DAEMON_SERVE_H
#define GW_DAEMON_SERVE_H

#include "gw_daemon_state.h"

/* Run the daemon's workers until it must stop; never returns. */
void gw_daemon_serve(gw_daemon_rt *rt, apr_pool_t *p) __attribute__((noreturn));

#endif /* GW_DAEMON_SERVE_H */
