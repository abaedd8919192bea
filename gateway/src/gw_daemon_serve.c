/*
 * gw_daemon_serve.c - a daemon process serving: worker threads that each block in
 * accept() on the group's socket and serve what they get (gw_daemon_conn.c), and the
 * main thread's watch over the process lifecycle (maximum-requests, inactivity,
 * request, startup and deadlock timeouts, restart-interval, graceful and immediate
 * stops, Apache's parent gone).
 */
#include "gw_daemon_serve.h"
#include "gw_daemon_conn.h"
#include "gw_interp.h"

#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/socket.h>

static gw_daemon_rt *RT;
static gw_daemon_group *G;
static volatile int stopping, draining;
static volatile int active, alive;
static volatile long completed;
static volatile apr_time_t last_activity;
static apr_time_t started;
static volatile apr_time_t gil_heartbeat;   /* deadlock-timeout: last time the GIL was free */
static int gil_wedged;                      /* deadlock-timeout fired: Python cannot be entered */
static pid_t my_pid, apache_parent;

typedef struct {
    pthread_t thread;
    int index;
    volatile apr_time_t busy_since;  /* 0 when idle */
    volatile int in_accept;
} worker;

static worker *workers;

/* ----------------------------------------------------------------- workers */

/*
 * Every idle worker blocks in accept() on the group's (blocking) socket: the
 * kernel hands each connection to exactly one waiter, across threads and the
 * group's processes, with no poll, lock or hand-off per request.  To stop, the
 * main thread interrupts the workers waiting in accept() with SIGUSR2 (a no-op
 * handler installed without SA_RESTART) until they have all left.
 */
static void on_wake(int sig)
{
    (void)sig;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    unsigned char *buf = malloc(GW_DAEMON_READ_BUF);
    apr_allocator_t *alloc = NULL;
    apr_pool_t *pool = NULL;

    apr_allocator_create(&alloc);
    apr_allocator_max_free_set(alloc, 4 << 20);
    apr_pool_create_ex(&pool, NULL, NULL, alloc);
    apr_allocator_owner_set(alloc, pool);

    for (;;) {
        int fd;
        if (stopping) {
            /* Draining (graceful restart): only connections already queued. */
            struct pollfd pf;
            if (!draining)
                break;
            pf.fd = RT->listen_fd;
            pf.events = POLLIN;
            if (poll(&pf, 1, 0) <= 0)
                break;
        }
        w->in_accept = 1;
        __sync_synchronize();
        if (stopping && !draining) {
            w->in_accept = 0;
            break;
        }
        fd = accept4(RT->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        w->in_accept = 0;
        if (fd < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
            continue;
        }
        __sync_add_and_fetch(&active, 1);
        w->busy_since = apr_time_now();
        gw_daemon_connection(fd, buf, pool);
        close(fd);
        apr_pool_clear(pool);
        w->busy_since = 0;
        last_activity = apr_time_now();
        __sync_sub_and_fetch(&active, 1);
        if (G->maximum_requests > 0 && __sync_add_and_fetch(&completed, 1) >= G->maximum_requests &&
            !stopping) {
            stopping = 1;
            kill(my_pid, SIGALRM);      /* tell the main thread */
        }
    }
    __sync_sub_and_fetch(&alive, 1);
    apr_pool_destroy(pool);
    free(buf);
    return NULL;
}

/* Takes the GIL once a second: if it cannot, some thread holds it for good. */
static void *gil_watch(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = { 1, 0 };
        gw_interp *ip = gw_interp_acquire("", G->server);
        if (ip)
            gw_interp_release(ip);
        gil_heartbeat = apr_time_now();
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void finish(int wait_s, const char *why) __attribute__((noreturn));
static void finish(int wait_s, const char *why)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(wait_s);
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    int n = G->threads > 0 ? G->threads : 1, i;
    stopping = 1;
    __sync_synchronize();
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, G->server,
                 "mod_gateway (pid=%d): Daemon process "
                 "'%s' stopping (%s).",
                 (int)my_pid, G->name, why);
    while (alive > 0 && apr_time_now() < deadline) {
        for (i = 0; i < n; i++)
            if (workers[i].in_accept)
                pthread_kill(workers[i].thread, SIGUSR2);
        nanosleep(&ts, NULL);
    }
    /* Every request done: Python's atexit callbacks run before the process goes (DMN-019);
       with a request still running, or the GIL held for good, they cannot safely. */
    if (alive == 0 && !gil_wedged)
        gw_interp_run_exit_callbacks(G->server);
    gw_daemon_exiting(RT, 0);
    _exit(0);
}

void gw_daemon_serve(gw_daemon_rt *rt, apr_pool_t *p)
{
    int n = rt->g->threads > 0 ? rt->g->threads : 1, i;
    sigset_t set;
    pthread_attr_t attr;
    (void)p;

    RT = rt;
    G = rt->g;
    my_pid = getpid();
    apache_parent = getppid();
    gw_daemon_conn_init(G);
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_wake;        /* no SA_RESTART: interrupts accept() */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR2, &sa, NULL);
    }
    /* The listening socket blocks (accept() waits in the kernel). */
    fcntl(RT->listen_fd, F_SETFL, fcntl(RT->listen_fd, F_GETFL) & ~O_NONBLOCK);

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    last_activity = started = apr_time_now();
    workers = calloc(n, sizeof(*workers));
    pthread_attr_init(&attr);
    if (G->stack_size > 0)
        pthread_attr_setstacksize(&attr, (size_t)G->stack_size);
    for (i = 0; i < n; i++) {
        workers[i].index = i;
        __sync_add_and_fetch(&alive, 1);
        if (pthread_create(&workers[i].thread, &attr, worker_main, &workers[i]) != 0) {
            __sync_sub_and_fetch(&alive, 1);
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, G->server,
                         "mod_gateway (pid=%d): "
                         "cannot create worker thread %d of daemon process '%s'.",
                         (int)my_pid, i, G->name);
        }
    }
    gil_heartbeat = apr_time_now();
    if (G->deadlock_timeout > 0) {
        pthread_t t;
        pthread_attr_t da;
        pthread_attr_init(&da);
        pthread_attr_setdetachstate(&da, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &da, gil_watch, NULL);
        pthread_attr_destroy(&da);
    }
    gw_daemon_mark_ready(rt);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, G->server,
                 "mod_gateway (pid=%d): Daemon process "
                 "'%s' ready (%d threads).",
                 (int)my_pid, G->name, n);

    for (;;) {
        struct timespec tick = { 0, 250 * 1000 * 1000 };
        int sig = sigtimedwait(&set, NULL, &tick);
        apr_time_t now = apr_time_now();
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            finish(G->shutdown_timeout, "shutdown");
        if (sig == SIGUSR1) {
            draining = 1;
            finish(G->graceful_timeout > G->shutdown_timeout ? G->graceful_timeout
                                                             : G->shutdown_timeout,
                   "graceful restart");
        }
        if (stopping)
            finish(G->graceful_timeout > G->shutdown_timeout ? G->graceful_timeout
                                                             : G->shutdown_timeout,
                   "maximum requests reached");
        if (G->deadlock_timeout > 0 &&
            now - gil_heartbeat >= apr_time_from_sec(G->deadlock_timeout)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, G->server,
                         "mod_gateway (pid=%d): Daemon "
                         "process '%s': the Python GIL has been held for %d s (deadlock-timeout); "
                         "restarting the process.",
                         (int)my_pid, G->name, G->deadlock_timeout);
            gil_wedged = 1;
            finish(0, "deadlock timeout");
        }
        if (G->startup_timeout > 0 && gw_daemon_conn_app_pending() &&
            now - started >= apr_time_from_sec(G->startup_timeout)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, G->server,
                         "mod_gateway (pid=%d): Daemon "
                         "process '%s': no WSGI application could be run within startup-timeout "
                         "(%d s); restarting the process.",
                         (int)my_pid, G->name, G->startup_timeout);
            finish(G->shutdown_timeout, "startup timeout");
        }
        if (G->restart_interval > 0 && now - started >= apr_time_from_sec(G->restart_interval)) {
            draining = 0;
            finish(G->graceful_timeout > G->shutdown_timeout ? G->graceful_timeout
                                                             : G->shutdown_timeout,
                   "restart interval");
        }
        if (getppid() != apache_parent)
            finish(0, "Apache parent gone");
        if (G->inactivity_timeout > 0 && active == 0 &&
            now - last_activity >= apr_time_from_sec(G->inactivity_timeout))
            finish(G->shutdown_timeout, "inactivity timeout");
        if (G->request_timeout > 0) {
            for (i = 0; i < n; i++) {
                apr_time_t b = workers[i].busy_since;
                if (b && now - b >= apr_time_from_sec(G->request_timeout)) {
                    ap_log_error(APLOG_MARK, APLOG_ERR, 0, G->server,
                                 "mod_gateway (pid=%d): "
                                 "Daemon process '%s': a request exceeded request-timeout "
                                 "(%d s); restarting the process.",
                                 (int)my_pid, G->name, G->request_timeout);
                    finish(G->shutdown_timeout, "request timeout");
                }
            }
        }
    }
}
