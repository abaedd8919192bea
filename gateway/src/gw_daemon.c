/*
 * gw_daemon.c - daemon process groups: sockets and processes forked from
 * Apache's parent (each configuration generation), replaced when they exit
 * (with back-off for a group that cannot start), graceful replacement and
 * stop, and the set-up of one daemon process (identity, environment, Python)
 * before it serves requests (gw_daemon_serve.c).  See gw_daemon.h.
 */
#include "gw_daemon.h"
#include "unixd.h"
#include "http_main.h"

#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <dirent.h>
#include <locale.h>
#include <pwd.h>
#include <grp.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/resource.h>

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

/* ------------------------------------------------------------- fd hygiene */

static int is_error_log(server_rec *s, int fd)
{
    for (; s; s = s->next) {
        apr_os_file_t f;
        if (s->error_log && apr_os_file_get(&f, s->error_log) == APR_SUCCESS && f == fd)
            return 1;
    }
    return 0;
}

/* Close every inherited descriptor but stdio, the error logs (every virtual host's)
 * and `extra`, however many there are: closing while listing may make the listing
 * skip entries, so list again until a pass finds nothing to close. */
static void close_inherited(server_rec *s, int extra)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int closed;
    if (!d)
        return;
    do {
        closed = 0;
        rewinddir(d);
        while ((de = readdir(d)) != NULL) {
            int fd = atoi(de->d_name);
            if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd <= 2 || fd == dirfd(d) ||
                fd == extra || is_error_log(s, fd))
                continue;
            if (close(fd) == 0)
                closed = 1;
        }
    } while (closed);
    closedir(d);
}

static void reset_signals(void)
{
    sigset_t none;
    int sig;
    for (sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        signal(sig, SIG_DFL);
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ------------------------------------------------------------ daemon set-up */

static gw_daemon_rt *my_rt;
static int my_slot;

/* Per process slot, after the shared record: ready flags, then exit codes. */
static volatile int *slot_ready(gw_daemon_rt *rt)
{
    return (volatile int *)(rt->shm + 1);
}

static volatile int *slot_exit(gw_daemon_rt *rt)
{
    return slot_ready(rt) + (rt->g->processes > 0 ? rt->g->processes : 1);
}

/* Is some other process of the group serving?  Then the group is not FAILED. */
static int others_ready(gw_daemon_rt *rt, int slot)
{
    int n = rt->g->processes > 0 ? rt->g->processes : 1, j;
    for (j = 0; j < n; j++)
        if (j != slot && slot_ready(rt)[j])
            return 1;
    return 0;
}

/* Called right before a daemon's _exit: 0 stopped on purpose, else GW_EXIT_*. */
void gw_daemon_exiting(gw_daemon_rt *rt, int code)
{
    slot_exit(rt)[my_slot] = code;
    if (code == 0)
        slot_ready(rt)[my_slot] = 0;
}

static void startup_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void startup_fail(const char *fmt, ...)
{
    va_list ap;
    char buf[sizeof(my_rt->shm->reason)];
    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    memcpy(my_rt->shm->reason, buf, sizeof(buf));
    /* The cause goes to the log once: by the first process that meets it. */
    if (!__sync_lock_test_and_set(&my_rt->shm->quiet, 1))
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, my_rt->g->server, "mod_gateway (pid=%d): Daemon "
                     "process group '%s' cannot start: %s. Its requests are answered 503 until "
                     "it starts; retrying with back-off.", (int)getpid(), my_rt->g->name, buf);
    __sync_synchronize();
    if (!others_ready(my_rt, my_slot))
        my_rt->shm->state = GW_GROUP_FAILED;
    gw_daemon_exiting(my_rt, GW_EXIT_STARTUP);
    _exit(GW_EXIT_STARTUP);
}

void gw_daemon_mark_ready(gw_daemon_rt *rt)
{
    slot_ready(rt)[my_slot] = 1;
    rt->shm->failures = 0;
    rt->shm->quiet = 0;
    rt->shm->reason[0] = 0;
    __sync_synchronize();
    rt->shm->state = GW_GROUP_READY;
}

static void set_display_name(server_rec *s, const char *name)
{
    process_rec *pr = s->process;
    char *start, *end;
    int i;
    size_t room, n;
    if (!pr || !pr->argv || pr->argc < 1 || !pr->argv[0])
        return;
    start = (char *)pr->argv[0];
    end = start + strlen(start) + 1;
    for (i = 1; i < pr->argc && pr->argv[i] == end; i++)
        end += strlen(end) + 1;
    room = (size_t)(end - start);
    n = strlen(name);
    if (n >= room)
        n = room - 1;
    memcpy(start, name, n);
    memset(start + n, 0, room - n);
}

static const char *display_name(gw_daemon_group *g, apr_pool_t *p)
{
    if (!g->display_name)
        return NULL;
    if (!strcmp(g->display_name, "%{GROUP}"))
        return apr_psprintf(p, "(wsgi:%s)", g->name);
    return g->display_name;
}

/* Is python-home usable by the Python this module is built for? NULL or why not. */
static const char *check_python_home(apr_pool_t *p, const char *home)
{
    struct stat st;
    char want[16];
    const char *cfg;
    FILE *f;
    apr_snprintf(want, sizeof(want), "%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    if (stat(home, &st) != 0)
        return apr_psprintf(p, "python-home '%s' cannot be used: %s", home, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return apr_psprintf(p, "python-home '%s' is not a directory", home);
    cfg = apr_pstrcat(p, home, "/pyvenv.cfg", NULL);
    f = fopen(cfg, "r");
    if (f) {
        char line[512];
        const char *found = NULL;
        while (fgets(line, sizeof(line), f)) {
            char *k = line, *v = strchr(line, '=');
            if (!v)
                continue;
            *v++ = 0;
            while (*k == ' ' || *k == '\t')
                k++;
            if (strncmp(k, "version", 7) || (k[7] && k[7] != ' ' && k[7] != '\t' &&
                                             strncmp(k + 7, "_info", 5)))
                continue;
            while (*v == ' ' || *v == '\t')
                v++;
            found = apr_pstrdup(p, v);
            break;
        }
        fclose(f);
        if (found) {
            size_t wl = strlen(want);
            if (strncmp(found, want, wl) || (found[wl] != '.' && found[wl] != 0 &&
                                             found[wl] != '\n' && found[wl] != '\r')) {
                char *nl = strpbrk((char *)found, "\r\n");
                if (nl)
                    *nl = 0;
                return apr_psprintf(p, "python-home '%s' is a virtual environment of Python %s, "
                                    "but this module runs Python %s", home, found, want);
            }
        }
        return NULL;
    }
    /* A plain installation prefix: its standard library must be there. */
    {
        const char *lib = apr_psprintf(p, "%s/lib/python%s", home, want);
        if (stat(lib, &st) != 0 || !S_ISDIR(st.st_mode))
            return apr_psprintf(p, "python-home '%s' has no lib/python%s (not an installation "
                                "of the Python %s this module runs)", home, want, want);
    }
    return NULL;
}

static void drop_privileges(gw_daemon_group *g, apr_pool_t *p, struct passwd **pwout)
{
    uid_t uid = g->uid != (uid_t)-1 ? g->uid : GW_UNIXD_CONFIG.user_id;
    gid_t gid;
    const char *uname = NULL;
    struct passwd *pw = getpwuid(uid);

    if (g->gid != (gid_t)-1)
        gid = g->gid;
    else if (g->user && pw)
        gid = pw->pw_gid;
    else
        gid = GW_UNIXD_CONFIG.group_id;
    if (g->user && *g->user != '#')
        uname = g->user;
    else if (!g->user && GW_UNIXD_CONFIG.user_name && *GW_UNIXD_CONFIG.user_name != '#')
        uname = GW_UNIXD_CONFIG.user_name;
    else if (pw)
        uname = apr_pstrdup(p, pw->pw_name);

    if (geteuid() == 0) {
        if (uid == 0)
            startup_fail("daemon process group '%s' would run as root (user %s): refused; "
                         "set user= or Apache's User", g->name, uname ? uname : "#0");
        if (setgid(gid) != 0)
            startup_fail("setgid(%ld) failed for daemon process group '%s': %s", (long)gid,
                         g->name, strerror(errno));
        if (g->supplementary_groups) {
            gid_t groups[NGROUPS_MAX > 1024 ? 1024 : NGROUPS_MAX];
            int n = 0, i;
            char *list = apr_pstrdup(p, g->supplementary_groups), *last = NULL, *tok;
            /* (one slot kept for the primary group) */
            for (tok = apr_strtok(list, ",", &last); tok && n < (int)(sizeof(groups) /
                 sizeof(groups[0])) - 1; tok = apr_strtok(NULL, ",", &last)) {
                struct group *gr;
                if (*tok == '#') {
                    groups[n++] = (gid_t)atol(tok + 1);
                    continue;
                }
                gr = getgrnam(tok);
                if (!gr)
                    startup_fail("unknown group '%s' in supplementary-groups of daemon process "
                                 "group '%s'", tok, g->name);
                groups[n++] = gr->gr_gid;
            }
            /* The primary group is listed too, as initgroups() lists it (and the releases). */
            for (i = 0; i < n && groups[i] != gid; i++)
                ;
            if (i == n)
                groups[n++] = gid;
            if (setgroups(n, groups) != 0)
                startup_fail("setgroups() failed for daemon process group '%s': %s", g->name,
                             strerror(errno));
        }
        else if (uname) {
            if (initgroups(uname, gid) != 0)
                startup_fail("initgroups(%s, %ld) failed for daemon process group '%s': %s",
                             uname, (long)gid, g->name, strerror(errno));
        }
        else if (setgroups(1, &gid) != 0) {
            startup_fail("setgroups() failed for daemon process group '%s': %s", g->name,
                         strerror(errno));
        }
        if (setuid(uid) != 0)
            startup_fail("setuid(%ld) failed for daemon process group '%s': %s", (long)uid,
                         g->name, strerror(errno));
    }
    if (geteuid() == 0 || getuid() == 0)
        startup_fail("daemon process group '%s' would run as root: refused", g->name);
    *pwout = getpwuid(geteuid());
}

static void silence_logs(server_rec *s, int *saved, int *fds, int *n)
{
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    apr_os_file_t fd;
    *n = 0;
    if (devnull < 0)
        return;
    fds[(*n)++] = 2;
    if (s->error_log && apr_os_file_get(&fd, s->error_log) == APR_SUCCESS && fd != 2)
        fds[(*n)++] = fd;
    {
        int i;
        for (i = 0; i < *n; i++) {
            saved[i] = dup(fds[i]);
            dup2(devnull, fds[i]);
        }
    }
    close(devnull);
}

static void restore_logs(int *saved, int *fds, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (saved[i] >= 0) {
            dup2(saved[i], fds[i]);
            close(saved[i]);
        }
    }
}

static void preload_one(gw_daemon_group *g, const char *script, const char *group)
{
    gw_interp *ip;
    PyObject *m;
    if (!strcmp(group, "%{GLOBAL}"))
        group = "";
    else if (strchr(group, '%'))
        return;     /* expanded per request: nothing to preload */
    ip = gw_interp_acquire(group, g->server);
    if (!ip)
        return;
    m = gw_script_module(ip, NULL, g->server, script, 0, "", "WSGI script");
    Py_XDECREF(m);
    gw_interp_release(ip);
}

/* WSGIScriptAlias with both process-group= and application-group= of this group:
 * mod_wsgi loads such a script when the daemon starts. */
static void preload_aliases(gw_daemon_group *g)
{
    server_rec *s;
    for (s = main_server; s; s = s->next) {
        gw_server_config *sc = ap_get_module_config(s->module_config, &gateway_module);
        int i;
        if (!sc || !sc->aliases)
            continue;
        for (i = 0; i < sc->aliases->nelts; i++) {
            gw_alias *a = &APR_ARRAY_IDX(sc->aliases, i, gw_alias);
            struct stat st;
            if (a->regex || !a->opts.process_group || !a->opts.application_group ||
                strcmp(a->opts.process_group, g->name) || stat(a->target, &st) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            preload_one(g, a->target, a->opts.application_group);
        }
    }
}

static void daemon_main(gw_daemon_rt *rt, int slot) __attribute__((noreturn));
static void daemon_main(gw_daemon_rt *rt, int slot)
{
    gw_daemon_group *g = rt->g;
    server_rec *s = g->server;
    apr_pool_t *p;
    struct passwd *pw = NULL;
    const char *name, *why;
    int quiet, saved[2] = { -1, -1 }, fds[2], nfds = 0;

    my_rt = rt;
    my_slot = slot;
    /* Our own process group: the MPM signals its own group (killpg) on restarts and
     * stops; daemons are stopped and replaced by gw_daemon.c instead. */
    setpgid(0, 0);
    reset_signals();
    close_inherited(s, rt->listen_fd);
    apr_pool_create(&p, NULL);
    quiet = rt->shm->quiet;
    if (rt->shm->failures > 0) {
        /* Replacing a process that could not start: back off first. */
        int f = rt->shm->failures;
        unsigned int secs = f < 6 ? 1u << (f - 1) : 30;
        while (secs > 0 && getppid() == parent_pid)
            secs = sleep(secs > 1 ? 1 : secs) + (secs > 1 ? secs - 1 : 0);
        if (getppid() != parent_pid) {
            gw_daemon_exiting(rt, 0);
            _exit(0);
        }
        rt->shm->reason[0] = 0;
    }
    if (quiet)
        silence_logs(s, saved, fds, &nfds);

    name = display_name(g, p);
    if (name)
        set_display_name(s, name);

    if (g->cpu_priority)
        setpriority(PRIO_PROCESS, 0, g->cpu_priority);
    if (g->cpu_time_limit > 0) {
        struct rlimit rl = { (rlim_t)g->cpu_time_limit, (rlim_t)g->cpu_time_limit };
        setrlimit(RLIMIT_CPU, &rl);
    }
    if (g->memory_limit > 0) {
        struct rlimit rl = { (rlim_t)g->memory_limit, (rlim_t)g->memory_limit };
        setrlimit(RLIMIT_DATA, &rl);
    }
    if (g->virtual_memory_limit > 0) {
        struct rlimit rl = { (rlim_t)g->virtual_memory_limit, (rlim_t)g->virtual_memory_limit };
        setrlimit(RLIMIT_AS, &rl);
    }
    if (g->umask >= 0)
        umask((mode_t)g->umask);
    if (g->chroot && geteuid() == 0) {
        if (chroot(g->chroot) != 0 || chdir("/") != 0)
            startup_fail("chroot(%s) failed for daemon process group '%s': %s", g->chroot,
                         g->name, strerror(errno));
    }

    /* Identity before anything else runs. */
    drop_privileges(g, p, &pw);

    /* HOME only: the releases leave USER and LOGNAME as Apache had them (DMN-010). */
    if (pw)
        setenv("HOME", pw->pw_dir, 1);
    /* Without home= the daemon stays in Apache's working directory (4.x+), or goes to its
       user's home directory (3.4). */
    if (g->home) {
        if (chdir(g->home) != 0)
            startup_fail("home '%s' of daemon process group '%s' cannot be entered: %s",
                         g->home, g->name, strerror(errno));
    }
    else if (gw_profile()->daemon_cwd_user_home && pw && chdir(pw->pw_dir) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, "mod_gateway (pid=%d): Unable to "
                     "change working directory to home directory '%s' of daemon process group "
                     "'%s'; it stays in Apache's.", (int)getpid(), pw->pw_dir, g->name);
    }

    if (g->lang)
        setenv("LANG", g->lang, 1);
    if (g->locale) {
        if (gw_profile()->locale_exports_lc_all)
            setenv("LC_ALL", g->locale, 1);
        if (!setlocale(LC_ALL, g->locale))
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "mod_gateway (pid=%d): Unsupported "
                         "locale setting '%s' specified for daemon process group '%s'. Consider "
                         "using 'C.UTF-8' as fallback setting.", (int)getpid(), g->locale,
                         g->name);
    }

    memset(&gw_py, 0, sizeof(gw_py));
    gw_py.process_group = g->name;
    gw_py.python_home = g->python_home ? g->python_home : gw_global->python_home;
    gw_py.python_path = g->python_path ? g->python_path : gw_global->python_path;
    gw_py.python_eggs = g->python_eggs ? g->python_eggs : gw_global->python_eggs;
    gw_py.optimize = gw_global->python_optimize;
    gw_py.restrict_stdin = gw_global->restrict_stdin;
    gw_py.restrict_stdout = gw_global->restrict_stdout;
    gw_py.restrict_signal = gw_global->restrict_signal;
    gw_py.dont_write_bytecode = gw_global->dont_write_bytecode;
    gw_py.hash_seed = gw_global->python_hash_seed;
    gw_py.warnings = gw_global->python_warnings;
    gw_py.multithread = g->threads > 1;
    gw_py.multiprocess = g->processes_given ? 1 : 0;

    if (gw_py.python_home && (why = check_python_home(p, gw_py.python_home)) != NULL)
        startup_fail("%s", why);
    if (gw_python_init(s, p) != 0)
        startup_fail("Python could not be initialised%s%s (see the log lines before this one)",
                     gw_py.python_home ? " from python-home " : "",
                     gw_py.python_home ? gw_py.python_home : "");
    /* Python's start-up set LC_CTYPE from the environment: locale= wins. */
    if (g->locale)
        setlocale(LC_ALL, g->locale);
    if (nfds)
        restore_logs(saved, fds, nfds);
#if GW_PY3
    if (g->switch_interval > 0 && !(gw_global->switch_interval > 0)) {
        gw_interp *ip = gw_interp_acquire("", s);
        if (ip) {
            char code[96];
            apr_snprintf(code, sizeof(code), "import sys; sys.setswitchinterval(%.6f)",
                         g->switch_interval);
            if (PyRun_SimpleString(code) != 0)
                PyErr_Clear();
            gw_interp_release(ip);
        }
    }
#endif
    gw_preload_import_scripts(g->server, g->name);
    preload_aliases(g);
    gw_daemon_serve(rt, p);
}

/* ------------------------------------------------------ parent: processes */

typedef struct {
    gw_daemon_rt *rt;
    int slot;
    apr_proc_t proc;
} daemon_slot;

static void start_daemon(gw_daemon_rt *rt, int slot, apr_pool_t *pconf);

/*
 * A daemon went.  How it ended comes from the shared record (what the process
 * wrote before _exit), not from `st`: the MPM reports an exit code or signal
 * number there, other APR paths a raw wait status.
 */
static void log_daemon_exit(gw_daemon_rt *rt, int slot, pid_t pid, apr_wait_t st)
{
    gw_daemon_group *g = rt->g;
    server_rec *s = g->server;
    int code = slot_exit(rt)[slot], was_ready = slot_ready(rt)[slot];
    slot_ready(rt)[slot] = 0;
    if (!was_ready && code != 0) {
        const char *home = g->python_home ? g->python_home : gw_global->python_home;
        rt->shm->failures++;
        if (code == GW_EXIT_STARTUP) {
            /* The daemon logged its cause itself (once). */
            free(rt->last_reason);
            rt->last_reason = strdup(rt->shm->reason);
        }
        else {
            apr_snprintf(rt->shm->reason, sizeof(rt->shm->reason), "its process died during "
                         "start-up (status %d)%s%s%s", (int)st,
                         home ? ", python-home '" : "", home ? home : "", home ? "'" : "");
            if (!rt->last_reason || strcmp(rt->last_reason, rt->shm->reason)) {
                free(rt->last_reason);
                rt->last_reason = strdup(rt->shm->reason);
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "mod_gateway (pid=%d): Daemon process "
                             "group '%s' cannot start: %s. Its requests are answered 503 until "
                             "it starts; retrying with back-off.", (int)getpid(), g->name,
                             rt->shm->reason);
            }
        }
        rt->shm->quiet = 1;
        __sync_synchronize();
        if (!others_ready(rt, slot))
            rt->shm->state = GW_GROUP_FAILED;
    }
    else if (code != 0) {
        rt->shm->restarts++;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "mod_gateway (pid=%d): Daemon process "
                     "'%s' (pid %d) died unexpectedly (status %d); restarting it.",
                     (int)getpid(), g->name, (int)pid, (int)st);
    }
    else {
        rt->shm->restarts++;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "mod_gateway (pid=%d): Daemon process '%s' "
                     "(pid %d) exited; starting a new one.", (int)getpid(), g->name, (int)pid);
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
    slot_ready(rt)[slot] = 0;
    slot_exit(rt)[slot] = -1;
    pid = fork();
    if (pid == 0)
        daemon_main(rt, slot);
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, rt->g->server, "mod_gateway: cannot fork a "
                     "daemon process of group '%s'.", rt->g->name);
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
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, g->server, "mod_gateway: socket path '%s' of "
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
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, g->server, "mod_gateway: cannot bind the "
                     "socket '%s' of daemon process group '%s' (WSGISocketPrefix).", tmp,
                     g->name);
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
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, g->server, "mod_gateway: cannot chown "
                     "socket '%s'.", tmp);
    if (rename(tmp, rt->socket_path) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, g->server, "mod_gateway: cannot rename "
                     "socket '%s'.", tmp);
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
        int n = rts[i].g->processes > 0 ? rts[i].g->processes : 1;
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
            int n = rt->g->processes > 0 ? rt->g->processes : 1;
            if (rt->listen_fd < 0 || rt->shm->state == GW_GROUP_FAILED)
                continue;
            for (j = 0; j < n; j++)
                if (rt->pids[j] > 0 && !slot_ready(rt)[j] && !exited(rt->pids[j]))
                    waiting++;
        }
        if (!waiting || apr_time_now() >= deadline)
            return;
        nanosleep(&ts, NULL);
    }
}

static int daemon_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s)
{
    apr_array_header_t *groups = gw_global->daemon_groups;
    const char *prefix;
    int i, j;
    (void)plog; (void)ptemp;

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
        size_t shm_size = sizeof(gw_group_shm) + 2 * sizeof(int) * (g->processes > 0 ? g->processes : 1);
        void *m;
        rt->g = g;
        rt->listen_fd = -1;
        rt->pconf = pconf;
        rt->pids = apr_pcalloc(pconf, sizeof(pid_t) * (g->processes > 0 ? g->processes : 1));
        rt->socket_path = apr_psprintf(pconf, "%s.%d.%d.sock", prefix, (int)parent_pid, g->id);
        g->socket_path = rt->socket_path;
        m = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s, "mod_gateway: cannot map shared "
                         "memory for daemon process group '%s'.", g->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        memset(m, 0, shm_size);
        rt->shm = m;
        rt->listen_fd = make_socket(rt, ptemp);
        if (rt->listen_fd < 0) {
            apr_snprintf(rt->shm->reason, sizeof(rt->shm->reason), "its socket '%s' could not "
                         "be created", rt->socket_path);
            rt->shm->state = GW_GROUP_FAILED;
            continue;
        }
        for (j = 0; j < (g->processes > 0 ? g->processes : 1); j++)
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
            apr_proc_other_child_register(proc, old_maintenance, (void *)(intptr_t)proc->pid,
                                          NULL, pconf);
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
