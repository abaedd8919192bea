/*
 * gw_daemon_process.c - one daemon process from fork to serving: inherited descriptors
 * and signals, display-name, back-off after failed starts, limits, umask, chroot,
 * identity (setgid, supplementary groups, setuid; never root), HOME and home, lang and
 * locale, the python-home check, Python's start, the preloaded scripts; then
 * gw_daemon_serve.  Every failure before that is gw_daemon_startup_fail.
 */
#include "gw_daemon_process.h"
#include "gw_config.h"
#include "gw_daemon_serve.h"
#include "gw_interp.h"
#include "gw_profile.h"
#include "gw_script.h"
#include "unixd.h"

#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <dirent.h>
#include <locale.h>
#include <pwd.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/resource.h>

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

/* ------------------------------------------------------------------ set-up */

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
            if (strncmp(k, "version", 7) ||
                (k[7] && k[7] != ' ' && k[7] != '\t' && strncmp(k + 7, "_info", 5)))
                continue;
            while (*v == ' ' || *v == '\t')
                v++;
            found = apr_pstrdup(p, v);
            break;
        }
        fclose(f);
        if (found) {
            size_t wl = strlen(want);
            if (strncmp(found, want, wl) ||
                (found[wl] != '.' && found[wl] != 0 && found[wl] != '\n' && found[wl] != '\r')) {
                char *nl = strpbrk((char *)found, "\r\n");
                if (nl)
                    *nl = 0;
                return apr_psprintf(p,
                                    "python-home '%s' is a virtual environment of Python %s, "
                                    "but this module runs Python %s",
                                    home, found, want);
            }
        }
        return NULL;
    }
    /* A plain installation prefix: its standard library must be there. */
    {
        const char *lib = apr_psprintf(p, "%s/lib/python%s", home, want);
        if (stat(lib, &st) != 0 || !S_ISDIR(st.st_mode))
            return apr_psprintf(p,
                                "python-home '%s' has no lib/python%s (not an installation "
                                "of the Python %s this module runs)",
                                home, want, want);
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
            gw_daemon_startup_fail(
                "daemon process group '%s' would run as root (user %s): refused; "
                "set user= or Apache's User",
                g->name, uname ? uname : "#0");
        if (setgid(gid) != 0)
            gw_daemon_startup_fail("setgid(%ld) failed for daemon process group '%s': %s",
                                   (long)gid, g->name, strerror(errno));
        if (g->supplementary_groups) {
            gid_t groups[NGROUPS_MAX > 1024 ? 1024 : NGROUPS_MAX];
            int n = 0, i;
            char *list = apr_pstrdup(p, g->supplementary_groups), *last = NULL, *tok;
            /* (one slot kept for the primary group) */
            for (tok = apr_strtok(list, ",", &last);
                 tok && n < (int)(sizeof(groups) / sizeof(groups[0])) - 1;
                 tok = apr_strtok(NULL, ",", &last)) {
                struct group *gr;
                if (*tok == '#') {
                    groups[n++] = (gid_t)atol(tok + 1);
                    continue;
                }
                gr = getgrnam(tok);
                if (!gr)
                    gw_daemon_startup_fail(
                        "unknown group '%s' in supplementary-groups of daemon process "
                        "group '%s'",
                        tok, g->name);
                groups[n++] = gr->gr_gid;
            }
            /* The primary group is listed too, as initgroups() lists it (and the releases). */
            for (i = 0; i < n && groups[i] != gid; i++)
                ;
            if (i == n)
                groups[n++] = gid;
            if (setgroups(n, groups) != 0)
                gw_daemon_startup_fail("setgroups() failed for daemon process group '%s': %s",
                                       g->name, strerror(errno));
        }
        else if (uname) {
            if (initgroups(uname, gid) != 0)
                gw_daemon_startup_fail(
                    "initgroups(%s, %ld) failed for daemon process group '%s': %s", uname,
                    (long)gid, g->name, strerror(errno));
        }
        else if (setgroups(1, &gid) != 0) {
            gw_daemon_startup_fail("setgroups() failed for daemon process group '%s': %s", g->name,
                                   strerror(errno));
        }
        if (setuid(uid) != 0)
            gw_daemon_startup_fail("setuid(%ld) failed for daemon process group '%s': %s",
                                   (long)uid, g->name, strerror(errno));
    }
    if (geteuid() == 0 || getuid() == 0)
        gw_daemon_startup_fail("daemon process group '%s' would run as root: refused", g->name);
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
static void preload_aliases(gw_daemon_group *g, server_rec *main_server)
{
    server_rec *s;
    for (s = main_server; s; s = s->next) {
        gw_server_config *sc = gw_server_conf(s);
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

void gw_daemon_main(gw_daemon_rt *rt, int slot, pid_t parent_pid, server_rec *main_server)
{
    gw_daemon_group *g = rt->g;
    server_rec *s = g->server;
    apr_pool_t *p;
    struct passwd *pw = NULL;
    const char *name, *why;
    int quiet, saved[2] = { -1, -1 }, fds[2], nfds = 0;

    gw_daemon_state_enter(rt, slot);
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
            gw_daemon_startup_fail("chroot(%s) failed for daemon process group '%s': %s", g->chroot,
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
            gw_daemon_startup_fail("home '%s' of daemon process group '%s' cannot be entered: %s",
                                   g->home, g->name, strerror(errno));
    }
    else if (gw_profile()->daemon_cwd_user_home && pw && chdir(pw->pw_dir) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "mod_gateway (pid=%d): Unable to "
                     "change working directory to home directory '%s' of daemon process group "
                     "'%s'; it stays in Apache's.",
                     (int)getpid(), pw->pw_dir, g->name);
    }

    if (g->lang)
        setenv("LANG", g->lang, 1);
    if (g->locale) {
        if (gw_profile()->locale_exports_lc_all)
            setenv("LC_ALL", g->locale, 1);
        if (!setlocale(LC_ALL, g->locale))
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "mod_gateway (pid=%d): Unsupported "
                         "locale setting '%s' specified for daemon process group '%s'. Consider "
                         "using 'C.UTF-8' as fallback setting.",
                         (int)getpid(), g->locale, g->name);
    }

    gw_python_settings_from_global(g->name);
    if (g->python_home)
        gw_py.python_home = g->python_home;
    if (g->python_path)
        gw_py.python_path = g->python_path;
    if (g->python_eggs)
        gw_py.python_eggs = g->python_eggs;
    gw_py.multithread = g->threads > 1;
    gw_py.multiprocess = g->processes_given ? 1 : 0;

    if (gw_py.python_home && (why = check_python_home(p, gw_py.python_home)) != NULL)
        gw_daemon_startup_fail("%s", why);
    if (gw_python_init(s, p) != 0)
        gw_daemon_startup_fail(
            "Python could not be initialised%s%s (see the log lines before this one)",
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
    preload_aliases(g, main_server);
    gw_daemon_serve(rt, p);
}
