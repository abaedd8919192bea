/*
 * gw_daemon.h - daemon mode internals shared by gw_daemon.c (process
 * management in Apache's parent, the per-group manager and daemon process
 * set-up), gw_daemon_serve.c (the daemon's accept loop and request I/O) and
 * gw_proxy.c (the Apache child's side), and daemon mode's two entry points,
 * which mod_gateway.c calls.
 *
 * Processes: Apache's parent creates each group's listening UNIX socket and
 * forks the group's daemon processes (each configuration generation), which
 * drop privileges and then start Python.  They are registered as APR "other
 * children": when one exits, the parent (the MPM reaps it) starts a new one.
 * A daemon that fails before it is ready marks the group FAILED (requests get
 * 503 at once); the parent logs the cause once and its replacement waits an
 * exponential back-off before it tries again.  On a graceful restart the new
 * generation's socket replaces the old one under the same path, then the old
 * daemons drain what they accepted and exit; on stop every daemon is stopped
 * and the socket files removed.
 */
#ifndef GW_DAEMON_H
#define GW_DAEMON_H

#include "gw_interp.h"
#include <sys/types.h>
#include <sys/uio.h>

#define GW_GROUP_STARTING 0
#define GW_GROUP_READY    1
#define GW_GROUP_FAILED   2

/* Exit status of a daemon that could not start (reason in the shared record). */
#define GW_EXIT_STARTUP   3

/* One group's state, in memory shared by parent, daemons and children. */
typedef struct {
    volatile int state;             /* GW_GROUP_* */
    volatile int failures;          /* consecutive start-up failures */
    volatile int quiet;             /* a retry: suppress repeated start-up noise */
    volatile unsigned int restarts;
    char reason[1024];              /* why it cannot start (FAILED) */
} gw_group_shm;

typedef struct {
    gw_daemon_group *g;
    const char *socket_path;
    int listen_fd;                  /* in the parent and daemons */
    gw_group_shm *shm;
    pid_t *pids;                    /* parent: the processes, by slot */
    apr_pool_t *pconf;              /* parent: the generation's pool */
    char *last_reason;              /* parent: the start-up failure last logged */
} gw_daemon_rt;

/*
 * Entry points, called from mod_gateway.c.
 *
 * gw_daemon.c: add daemon mode's hooks; called from mod_gateway's register_hooks.
 */
void gw_daemon_register_hooks(apr_pool_t *p);
/*
 * gw_proxy.c: serve request r, routed to group g, through one of its daemons;
 * env is the complete environ table (CGI variables + mod_wsgi.* carriers, see
 * gw_environ_carriers); returns an Apache handler status.
 */
int gw_daemon_handle(request_rec *r, gw_daemon_group *g, const gw_request_config *rc,
                     apr_table_t *env);

/* The runtime record of group g (NULL when daemons are not running). */
gw_daemon_rt *gw_daemon_runtime(const gw_daemon_group *g);

/* gw_daemon_serve.c: run the daemon's workers until it must stop; never returns. */
void gw_daemon_serve(gw_daemon_rt *rt, apr_pool_t *p) __attribute__((noreturn));

/* gw_daemon.c: set by gw_daemon_serve when the process is up. */
void gw_daemon_mark_ready(gw_daemon_rt *rt);
/* gw_daemon.c: record how this process ends, right before _exit (0 = on purpose). */
void gw_daemon_exiting(gw_daemon_rt *rt, int code);

/* After a short writev of `written` bytes: drop the iovecs it finished, trim the next. */
static inline void gw_iov_advance(struct iovec **iov, int *n, size_t written)
{
    while (*n > 0 && written >= (*iov)->iov_len) {
        written -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + written;
        (*iov)->iov_len -= written;
    }
}

#endif /* GW_DAEMON_H */
