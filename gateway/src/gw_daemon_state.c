/*
 * gw_daemon_state.c - a daemon process group's shared record: what the parent, the
 * group's processes and Apache's children know of it.  See gw_daemon_state.h.
 */
#include "gw_daemon_state.h"

#include <unistd.h>
#include <sys/mman.h>

static gw_daemon_rt *my_rt;         /* in a daemon: its group */
static int my_slot;                 /* ... and its slot there */

int gw_daemon_slots(const gw_daemon_group *g)
{
    return g->processes > 0 ? g->processes : 1;
}

int gw_daemon_state_map(gw_daemon_rt *rt)
{
    size_t shm_size = sizeof(gw_group_shm) + 2 * sizeof(int) * gw_daemon_slots(rt->g);
    void *m = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    memset(m, 0, shm_size);
    rt->shm = m;
    return 0;
}

volatile int *gw_slot_ready(gw_daemon_rt *rt)
{
    return (volatile int *)(rt->shm + 1);
}

volatile int *gw_slot_exit(gw_daemon_rt *rt)
{
    return gw_slot_ready(rt) + gw_daemon_slots(rt->g);
}

int gw_others_ready(gw_daemon_rt *rt, int slot)
{
    int n = gw_daemon_slots(rt->g), j;
    for (j = 0; j < n; j++)
        if (j != slot && gw_slot_ready(rt)[j])
            return 1;
    return 0;
}

int gw_others_alive(gw_daemon_rt *rt, int slot)
{
    int n = gw_daemon_slots(rt->g), j;
    for (j = 0; j < n; j++)
        if (j != slot && rt->pids[j] > 0)
            return 1;
    return 0;
}

void gw_daemon_state_enter(gw_daemon_rt *rt, int slot)
{
    my_rt = rt;
    my_slot = slot;
}

void gw_daemon_exiting(gw_daemon_rt *rt, int code)
{
    gw_slot_exit(rt)[my_slot] = code;
    if (code == 0)
        gw_slot_ready(rt)[my_slot] = 0;
}

void gw_daemon_startup_fail(const char *fmt, ...)
{
    va_list ap;
    char buf[sizeof(my_rt->shm->reason)];
    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    memcpy(my_rt->shm->reason, buf, sizeof(buf));
    /* The cause goes to the log once: by the first process that meets it. */
    if (!__sync_lock_test_and_set(&my_rt->shm->quiet, 1))
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, my_rt->g->server,
                     "mod_gateway (pid=%d): Daemon "
                     "process group '%s' cannot start: %s. Its requests are answered 503 until "
                     "it starts; retrying with back-off.",
                     (int)getpid(), my_rt->g->name, buf);
    __sync_synchronize();
    if (!gw_others_ready(my_rt, my_slot))
        my_rt->shm->state = GW_GROUP_FAILED;
    gw_daemon_exiting(my_rt, GW_EXIT_STARTUP);
    _exit(GW_EXIT_STARTUP);
}

void gw_daemon_mark_ready(gw_daemon_rt *rt)
{
    gw_slot_ready(rt)[my_slot] = 1;
    rt->shm->failures = 0;
    rt->shm->quiet = 0;
    rt->shm->reason[0] = 0;
    __sync_synchronize();
    rt->shm->state = GW_GROUP_READY;
}
