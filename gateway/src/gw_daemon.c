/*
 * gw_daemon.c - daemon process groups in Apache's parent: per group its socket and
 * shared record, its processes forked (each configuration generation) and replaced
 * when they exit (with back-off for a group that cannot start: gw_daemon_process.c
 * logs why), graceful replacement of an earlier generation's daemons, and stop.
 *
 * Apache's parent creates each group's listening UNIX socket and forks the group's
 * daemon processes, which drop privileges and then start Python.  They are
 * registered as APR "other children": when one exits, the parent (the MPM reaps it)
 * starts a new one.  A daemon that fails before it is ready marks the group FAILED
 * (requests get 503 at once); the parent logs the cause once and its replacement
 * waits an exponential back-off before it tries again.  On a graceful restart the
 * new generation's socket replaces the old one under the same path, then the old
 * daemons drain what they accepted and exit; on stop every daemon is stopped and
 * the socket files removed.
 */
#include "gw_daemon.h"
#include "gw_config.h"
#include "gw_daemon_config.h"
#include "gw_daemon_process.h"
#include "gw_daemon_state.h"
#include "unixd.h"
#include "http_main.h"

#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <pwd.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ------------------------------------------------------------ parent state */

static gw_daemon_rt *rts;           /* this generation's groups (parent, children) */
static int nrts;
static pid_t parent_pid;
static server_rec *main_server;    /* this generation's, for the daemons' preload */

/*
 * Daemons of earlier generations still finishing, and the socket paths made.
 * Apache unloads and reloads this DSO with every configuration generation, so
 * this lives in malloc'd memory found through the process pool's user data.
 */
typedef struct {
    pid_t pid;
    /* held in the entry (no allocation to lose across generations); "" once unlinked */
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} old_daemon;
typedef struct {
    old_daemon *olds;
    int nolds, capolds;
    int generations;                /* configuration generations started */
} gw_persist;
static gw_persist *ps;
#define PERSIST_KEY "mod_gateway.daemon.persist"

gw_daemon_rt *gw_daemon_runtime(const gw_daemon_group *g)
{
    if (!rts || g->id < 1 || g->id > nrts || rts[g->id - 1].g != g)
        return NULL;
    return &rts[g->id - 1];
}

static void add_old(pid_t pid, const char *path)
{
    int i;
    if (path)
        for (i = 0; i < ps->nolds; i++)
            if (!strcmp(ps->olds[i].socket_path, path))
                return;
    if (ps->nolds == ps->capolds) {
        int n = ps->capolds ? ps->capolds * 2 : 8;
        old_daemon *a = realloc(ps->olds, n * sizeof(*a));
        if (!a)
            return;
        ps->olds = a;
        ps->capolds = n;
    }
    ps->olds[ps->nolds].pid = pid;
    apr_cpystrn(ps->olds[ps->nolds].socket_path, path ? path : "",
                sizeof(ps->olds[ps->nolds].socket_path));
    ps->nolds++;
}


/* ------------------------------------------------------ parent: processes */

typedef struct {
    gw_daemon_rt *rt;
    int slot;
    apr_proc_t proc;
} daemon_slot;

static void start_daemon(gw_daemon_rt *rt, int slot, apr_pool_t *pconf);

/* Another process of the group runs (starting or serving); `slot`'s pid is already cleared. */
/*
 * A daemon went.  How it ended comes from the shared record (what the process
 * wrote before _exit), not from `st`: the MPM reports an exit code or signal
 * number there, other APR paths a raw wait status.
 */
static void log_daemon_exit(gw_daemon_rt *rt, int slot, pid_t pid, apr_wait_t st)
{
    gw_daemon_group *g = rt->g;
    server_rec *s = g->server;
    int code = gw_slot_exit(rt)[slot], was_ready = gw_slot_ready(rt)[slot];
    gw_slot_ready(rt)[slot] = 0;
    if (!was_ready && code != 0) {
        const char *home = g->python_home ? g->python_home : gw_global->python_home;
        int others_serve = gw_others_ready(rt, slot);
        rt->shm->failures++;
        /*
         * One process of a group that serves, or the group's first start-up death while
         * another of its processes is still starting, says nothing yet of the group: the
         * releases write no error there (DMN-026).  The group cannot start only once a
         * second death comes with none ready; the restart backs off either way.
         */
        if (code != GW_EXIT_STARTUP &&
            (others_serve || (rt->shm->failures == 1 && gw_others_alive(rt, slot)))) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         "mod_gateway (pid=%d): Daemon process '%s' (pid %d) died during start-up "
                         "(status %d) while the group's other processes %s; restarting it.",
                         (int)getpid(), g->name, (int)pid, (int)st,
                         others_serve ? "serve" : "start");
            rt->shm->quiet = 1;
            __sync_synchronize();
            return;
        }
        if (code == GW_EXIT_STARTUP) {
            /* The daemon logged its cause itself (once). */
            free(rt->last_reason);
            rt->last_reason = strdup(rt->shm->reason);
        }
        else {
            apr_snprintf(rt->shm->reason, sizeof(rt->shm->reason),
                         "its process died during "
                         "start-up (status %d)%s%s%s",
                         (int)st, home ? ", python-home '" : "", home ? home : "", home ? "'" : "");
            if (!rt->last_reason || strcmp(rt->last_reason, rt->shm->reason)) {
                free(rt->last_reason);
                rt->last_reason = strdup(rt->shm->reason);
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                             "mod_gateway (pid=%d): Daemon process "
                             "group '%s' cannot start: %s. Its requests are answered 503 until "
                             "it starts; retrying with back-off.",
                             (int)getpid(), g->name, rt->shm->reason);
            }
        }
        rt->shm->quiet = 1;
        __sync_synchronize();
        if (!gw_others_ready(rt, slot))
            rt->shm->state = GW_GROUP_FAILED;
    }
    else if (code != 0) {
        rt->shm->restarts++;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "mod_gateway (pid=%d): Daemon process "
                     "'%s' (pid %d) died unexpectedly (status %d); restarting it.",
                     (int)getpid(), g->name, (int)pid, (int)st);
    }
    else {
        rt->shm->restarts++;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "mod_gateway (pid=%d): Daemon process '%s' "
                     "(pid %d) exited; starting a new one.",
                     (int)getpid(), g->name, (int)pid);
    }
}

static void daemon_maintenance(int reason, void *data, apr_wait_t status)
{
    daemon_slot *ds = data;
    gw_daemon_rt *rt = ds->rt;
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST)
        return;
    if (getpid() != parent_pid || !rts || rt < rts || rt >= rts + nrts)
        return;
    apr_proc_other_child_unregister(ds);
    rt->pids[ds->slot] = 0;
    if (reason == APR_OC_REASON_DEATH)
        log_daemon_exit(rt, ds->slot, ds->proc.pid, status);
    if (!gw_ap_running())
        return;
    start_daemon(rt, ds->slot, rt->pconf);
}

static void start_daemon(gw_daemon_rt *rt, int slot, apr_pool_t *pconf)
{
    daemon_slot *ds;
    pid_t pid;
    gw_slot_ready(rt)[slot] = 0;
    gw_slot_exit(rt)[slot] = -1;
    pid = fork();
    if (pid == 0)
        gw_daemon_main(rt, slot, parent_pid, main_server);
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, rt->g->server,
                     "mod_gateway: cannot fork a "
                     "daemon process of group '%s'.",
                     rt->g->name);
        return;
    }
    rt->pids[slot] = pid;
    ds = apr_pcalloc(pconf, sizeof(*ds));
    ds->rt = rt;
    ds->slot = slot;
    ds->proc.pid = pid;
    apr_proc_other_child_register(&ds->proc, daemon_maintenance, ds, NULL, pconf);
}

static void old_maintenance(int reason, void *data, apr_wait_t status)
{
    pid_t pid = (pid_t)(intptr_t)data;
    int i;
    (void)status;
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST)
        return;
    apr_proc_other_child_unregister(data);
    for (i = 0; i < ps->nolds; i++)
        if (ps->olds[i].pid == pid)
            ps->olds[i].pid = 0;
}

static int make_socket(gw_daemon_rt *rt, apr_pool_t *p)
{
    gw_daemon_group *g = rt->g;
    struct sockaddr_un sa;
    const char *tmp = apr_pstrcat(p, rt->socket_path, ".new", NULL);
    int fd;
    uid_t owner = (uid_t)-1;

    if (strlen(tmp) >= sizeof(sa.sun_path)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, g->server,
                     "mod_gateway: socket path '%s' of "
                     "daemon process group '%s' is too long (WSGISocketPrefix).",
                     rt->socket_path, g->name);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* send-/receive-buffer-size= size the listening socket, as the releases do (the
       connections accepted on it keep the system defaults: DMN-017).  Linux clamps a size
       it does not like rather than failing. */
    if (g->send_buffer_size > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &g->send_buffer_size, sizeof(int));
    if (g->receive_buffer_size > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &g->receive_buffer_size, sizeof(int));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, tmp);
    unlink(tmp);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, g->server,
                     "mod_gateway: cannot bind the "
                     "socket '%s' of daemon process group '%s' (WSGISocketPrefix).",
                     tmp, g->name);
        close(fd);
        return -1;
    }
    if (listen(fd, g->listen_backlog > 0 ? g->listen_backlog : 100) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    /* Only Apache's child user (or socket-user) may connect. */
    chmod(tmp, 0600);
    if (g->socket_user) {
        struct passwd *pw = *g->socket_user == '#' ? getpwuid((uid_t)atol(g->socket_user + 1))
                                                   : getpwnam(g->socket_user);
        if (pw)
            owner = pw->pw_uid;
    }
    else if (geteuid() == 0) {
        owner = GW_UNIXD_CONFIG.user_id;
    }
    if (owner != (uid_t)-1 && geteuid() == 0 && chown(tmp, owner, (gid_t)-1) != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, g->server,
                     "mod_gateway: cannot chown "
                     "socket '%s'.",
                     tmp);
    if (rename(tmp, rt->socket_path) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, g->server,
                     "mod_gateway: cannot rename "
                     "socket '%s'.",
                     tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

/* Apache is exiting: stop every daemon, remove the sockets. */
static void stop_everything(void)
{
    int i, left, waited = 0;
    for (i = 0; i < ps->nolds; i++)
        if (ps->olds[i].pid > 0)
            kill(ps->olds[i].pid, SIGTERM);
    do {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        for (left = 0, i = 0; i < ps->nolds; i++) {
            if (ps->olds[i].pid <= 0)
                continue;
            if (waitpid(ps->olds[i].pid, NULL, WNOHANG) != 0)
                ps->olds[i].pid = 0;
            else
                left++;
        }
        if (left)
            nanosleep(&ts, NULL);
        waited += 20;
    } while (left && waited < 8000);
    for (i = 0; i < ps->nolds; i++) {
        if (ps->olds[i].pid > 0) {
            kill(ps->olds[i].pid, SIGKILL);
            waitpid(ps->olds[i].pid, NULL, 0);
        }
        if (ps->olds[i].socket_path[0])
            unlink(ps->olds[i].socket_path);
    }
    ps->nolds = 0;
}

/*
 * The generation's pool goes: on a restart its daemons become "old" (the next
 * generation lets them drain once its sockets are in place); when Apache exits
 * (this pool is destroyed with the process pool) everything is stopped here,
 * while this DSO is still loaded.
 */
static apr_status_t generation_cleanup(void *data)
{
    int i, j;
    (void)data;
    if (getpid() != parent_pid || !ps)
        return APR_SUCCESS;
    for (i = 0; i < nrts; i++) {
        int n = gw_daemon_slots(rts[i].g);
        for (j = 0; j < n; j++)
            if (rts[i].pids && rts[i].pids[j] > 0)
                add_old(rts[i].pids[j], NULL);
        if (rts[i].socket_path)
            add_old(0, rts[i].socket_path);
        if (rts[i].listen_fd >= 0)
            close(rts[i].listen_fd);
        free(rts[i].last_reason);
    }
    rts = NULL;
    nrts = 0;
    if (gw_ap_exiting())
        stop_everything();
    return APR_SUCCESS;
}

static int exited(pid_t pid)
{
    char path[64], buf[256], *p;
    FILE *f;
    int zombie = 1;
    apr_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL && p[1] == ' ')
        zombie = p[2] == 'Z' || p[2] == 'X';
    fclose(f);
    return zombie;
}

/*
 * At Apache's start, let the daemons come up (Python started, preloaded
 * scripts loaded) before the MPM starts its children, so the first requests
 * do not queue behind cold daemons; bounded, and a group that fails is not
 * waited for.
 */
static void wait_until_ready(void)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(5);
    struct timespec ts = { 0, 5 * 1000 * 1000 };
    for (;;) {
        int i, j, waiting = 0;
        for (i = 0; i < nrts; i++) {
            gw_daemon_rt *rt = &rts[i];
            int n = gw_daemon_slots(rt->g);
            if (rt->listen_fd < 0 || rt->shm->state == GW_GROUP_FAILED)
                continue;
            for (j = 0; j < n; j++)
                if (rt->pids[j] > 0 && !gw_slot_ready(rt)[j] && !exited(rt->pids[j]))
                    waiting++;
        }
        if (!waiting || apr_time_now() >= deadline)
            return;
        nanosleep(&ts, NULL);
    }
}

static int daemon_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *groups = gw_daemon_groups();
    const char *prefix;
    int i, j;
    (void)plog;
    (void)ptemp;

    if (gw_ap_preflight(s))
        return OK;
    parent_pid = getpid();
    main_server = s;
    {
        void *d = NULL;
        apr_pool_userdata_get(&d, PERSIST_KEY, s->process->pool);
        if (!d) {
            d = calloc(1, sizeof(gw_persist));
            apr_pool_userdata_set(d, PERSIST_KEY, apr_pool_cleanup_null, s->process->pool);
        }
        ps = d;
    }
    apr_pool_cleanup_register(pconf, NULL, generation_cleanup, apr_pool_cleanup_null);
    gw_ap_watch_exit(pconf, s);

    nrts = groups->nelts;
    rts = nrts ? apr_pcalloc(pconf, nrts * sizeof(*rts)) : NULL;
    prefix = gw_global->socket_prefix ? ap_server_root_relative(pconf, gw_global->socket_prefix)
                                      : GW_RUNTIME_DIR_RELATIVE(pconf, "wsgi");
    for (i = 0; i < nrts; i++) {
        gw_daemon_rt *rt = &rts[i];
        gw_daemon_group *g = APR_ARRAY_IDX(groups, i, gw_daemon_group *);
        rt->g = g;
        rt->listen_fd = -1;
        rt->pconf = pconf;
        rt->pids = apr_pcalloc(pconf, sizeof(pid_t) * gw_daemon_slots(g));
        rt->socket_path = apr_psprintf(pconf, "%s.%d.%d.sock", prefix, (int)parent_pid, g->id);
        g->socket_path = rt->socket_path;
        if (gw_daemon_state_map(rt) != 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                         "mod_gateway: cannot map shared "
                         "memory for daemon process group '%s'.",
                         g->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rt->listen_fd = make_socket(rt, ptemp);
        if (rt->listen_fd < 0) {
            apr_snprintf(rt->shm->reason, sizeof(rt->shm->reason),
                         "its socket '%s' could not "
                         "be created",
                         rt->socket_path);
            rt->shm->state = GW_GROUP_FAILED;
            continue;
        }
        for (j = 0; j < gw_daemon_slots(g); j++)
            start_daemon(rt, j, pconf);
    }

    if (ps->generations++ == 0)
        wait_until_ready();

    /* The earlier generation's daemons: the new sockets are in place, let them go. */
    for (i = 0; i < ps->nolds; i++) {
        int reused = 0;
        old_daemon *o = &ps->olds[i];
        if (o->pid > 0) {
            apr_proc_t *proc = apr_pcalloc(pconf, sizeof(*proc));
            proc->pid = o->pid;
            kill(o->pid, SIGUSR1);
            apr_proc_other_child_register(proc, old_maintenance, (void *)(intptr_t)proc->pid, NULL,
                                          pconf);
        }
        for (j = 0; j < nrts && o->socket_path[0]; j++)
            if (!strcmp(o->socket_path, rts[j].socket_path))
                reused = 1;
        if (o->socket_path[0] && !reused) {
            unlink(o->socket_path);
            o->socket_path[0] = '\0';
        }
    }
    /* Forget entries with nothing left to track. */
    for (i = j = 0; i < ps->nolds; i++)
        if (ps->olds[i].pid > 0 || ps->olds[i].socket_path[0])
            ps->olds[j++] = ps->olds[i];
    ps->nolds = j;
    return OK;
}

void gw_daemon_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(daemon_post_config, NULL, NULL, APR_HOOK_REALLY_LAST);
}
