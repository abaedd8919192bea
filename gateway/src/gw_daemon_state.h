/*
 * gw_daemon_state.h - one daemon process group's runtime record and the state its
 * processes share with Apache's parent and children (gw_daemon_state.c): anonymous
 * shared memory holding the group's state (READY/FAILED), its start-up failures and
 * their cause, and per process slot a ready flag and how the process ended.
 */
#ifndef GW_DAEMON_STATE_H
#define GW_DAEMON_STATE_H

#include "gw_daemon_config.h"
#include <sys/types.h>

#define GW_GROUP_STARTING 0
#define GW_GROUP_READY    1
#define GW_GROUP_FAILED   2

/* Exit status of a daemon that could not start (reason in the shared record). */
#define GW_EXIT_STARTUP 3

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

/* How many processes (slots) group g runs: processes=, at least 1. */
int gw_daemon_slots(const gw_daemon_group *g);
/* Map rt's shared record, zeroed (state STARTING); 0, or -1 with errno. */
int gw_daemon_state_map(gw_daemon_rt *rt);

/* Per process slot, after the shared record: ready flags, then exit codes. */
volatile int *gw_slot_ready(gw_daemon_rt *rt);
volatile int *gw_slot_exit(gw_daemon_rt *rt);
/* Is some process of the group other than `slot` serving?  Then the group is not FAILED. */
int gw_others_ready(gw_daemon_rt *rt, int slot);
/* Parent only: has the group a process other than `slot`, serving or still starting? */
int gw_others_alive(gw_daemon_rt *rt, int slot);

/* In a daemon, right after fork: the group and slot this process is. */
void gw_daemon_state_enter(gw_daemon_rt *rt, int slot);
/* This process is up (gw_daemon_serve): the group is READY. */
void gw_daemon_mark_ready(gw_daemon_rt *rt);
/* Record how this process ends, right before _exit (0 on purpose, else GW_EXIT_*). */
void gw_daemon_exiting(gw_daemon_rt *rt, int code);
/* This process cannot start: record why (logged by the first process that meets it), mark
   the group FAILED unless another process serves, and _exit(GW_EXIT_STARTUP). */
void gw_daemon_startup_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif /* GW_DAEMON_STATE_H */
