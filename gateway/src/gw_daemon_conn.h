/*
 * gw_daemon_conn.h - one connection (one request) in a daemon process
 * (gw_daemon_conn.c).
 */
#ifndef GW_DAEMON_CONN_H
#define GW_DAEMON_CONN_H

#include "gw_daemon_config.h"

/* The read buffer each worker thread hands to gw_daemon_connection. */
#define GW_DAEMON_READ_BUF (64 * 1024)

/* Once per daemon process, before its workers start: group g's settings. */
void gw_daemon_conn_init(gw_daemon_group *g);
/* Serve the request on connection fd (the caller closes it). */
void gw_daemon_connection(int fd, unsigned char *buf, apr_pool_t *pool);
/* startup-timeout's question: an application has been called, and none answered OK yet? */
int gw_daemon_conn_app_pending(void);

#endif /* GW_DAEMON_CONN_H */
