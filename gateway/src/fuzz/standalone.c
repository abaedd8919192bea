/*
 * standalone.c - a main() for fuzz_wire.c where libFuzzer is not available (gcc).
 *
 *   fuzz_wire_standalone [-max_total_time=SECONDS] [-seed=N] [-runs=N] [-artifact_prefix=DIR/]
 *                        CORPUS_DIR_OR_FILE...
 *
 * Replays every file given (or found in a directory), then mutates random corpus entries
 * (bit flips, byte sets, interesting integers in 32-bit fields, inserts, deletes, splices)
 * until the time or run budget is spent.  Before each input runs it is remembered, and on
 * a sanitizer report or abort() it is written to ARTIFACT_PREFIX/crash-<hash> so the
 * finding can be replayed: fuzz_wire_standalone crash-<hash>.
 * Options mirror libFuzzer's so run.sh can drive either binary the same way.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
void __sanitizer_set_death_callback(void (*callback)(void));

#define FUZZ_MAX_INPUT 65536
#define MAX_CORPUS     4096

static unsigned char *corpus[MAX_CORPUS];
static size_t corpus_len[MAX_CORPUS];
static size_t ncorpus;
static const unsigned char *current;
static size_t current_len;
static const char *artifact_prefix = "./";
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void save_current(void)
{
    char path[4096];
    FILE *f;
    if (!current)
        return;
    snprintf(path, sizeof(path), "%scrash-%016llx", artifact_prefix,
             (unsigned long long)fnv(current, current_len));
    f = fopen(path, "wb");
    if (f) {
        fwrite(current, 1, current_len, f);
        fclose(f);
        fprintf(stderr, "fuzz_wire_standalone: input written to %s (%zu bytes)\n", path,
                current_len);
    }
    current = NULL;
}

static void on_signal(int sig)
{
    save_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const unsigned char *p, size_t n)
{
    current = p;
    current_len = n;
    LLVMFuzzerTestOneInput(p, n);
    current = NULL;
}

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n;
    if (!f)
        return;
    buf = malloc(FUZZ_MAX_INPUT);
    n = fread(buf, 1, FUZZ_MAX_INPUT, f);
    fclose(f);
    run_one(buf, n);
    if (ncorpus < MAX_CORPUS) {
        corpus[ncorpus] = buf;
        corpus_len[ncorpus++] = n;
    }
    else {
        free(buf);
    }
}

static void add_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char child[4096];
    if (stat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    d = opendir(path);
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        add_path(child);
    }
    closedir(d);
}

static size_t mutate(unsigned char *buf, size_t n)
{
    static const uint32_t interesting[] = { 0,           1,
                                            4,           5,
                                            9,           10,
                                            99,          100,
                                            999,         1000,
                                            0x7f,        0xff,
                                            0x7fff,      0xffff,
                                            8192,        8193,
                                            65536,       65537,
                                            1u << 20,    (1u << 20) + 1,
                                            4u << 20,    (4u << 20) + 1,
                                            0x7fffffff,  0x80000000u,
                                            0xfffffffeu, 0xffffffffu };
    int k, steps = 1 + (int)(rnd() % 6);
    for (k = 0; k < steps; k++) {
        size_t pos = n ? (size_t)(rnd() % n) : 0;
        switch (rnd() % 8) {
        case 0:
            if (n)
                buf[pos] ^= (unsigned char)(1u << (rnd() % 8));
            break;
        case 1:
            if (n)
                buf[pos] = (unsigned char)rnd();
            break;
        case 2:
            if (n >= 4) {
                uint32_t v = interesting[rnd() % (sizeof(interesting) / sizeof(interesting[0]))];
                pos = (size_t)(rnd() % (n - 3));
                buf[pos] = (unsigned char)(v >> 24);
                buf[pos + 1] = (unsigned char)(v >> 16);
                buf[pos + 2] = (unsigned char)(v >> 8);
                buf[pos + 3] = (unsigned char)v;
            }
            break;
        case 3:                                     /* insert bytes */
            if (n < FUZZ_MAX_INPUT - 16) {
                size_t m = 1 + (size_t)(rnd() % 8), q;
                memmove(buf + pos + m, buf + pos, n - pos);
                for (q = 0; q < m; q++)
                    buf[pos + q] = (rnd() & 1) ? 0 : (unsigned char)rnd();
                n += m;
            }
            break;
        case 4:                                     /* delete bytes */
            if (n) {
                size_t m = 1 + (size_t)(rnd() % 8);
                if (m > n - pos)
                    m = n - pos;
                memmove(buf + pos, buf + pos + m, n - pos - m);
                n -= m;
            }
            break;
        case 5: /* truncate */ n = n ? (size_t)(rnd() % n) : 0; break;
        case 6:                                     /* splice another corpus entry's tail */
            if (ncorpus) {
                size_t j = (size_t)(rnd() % ncorpus),
                       from = corpus_len[j] ? (size_t)(rnd() % corpus_len[j]) : 0;
                size_t m = corpus_len[j] - from;
                if (pos + m > FUZZ_MAX_INPUT)
                    m = FUZZ_MAX_INPUT - pos;
                memcpy(buf + pos, corpus[j] + from, m);
                n = pos + m;
            }
            break;
        default:                                    /* change the selector byte */
            if (n) {
                static const unsigned char sel[] = "QHRSBDZEA@ADGKO";
                buf[0] =
                    (rnd() & 1) ? sel[rnd() % (sizeof(sel) - 1)] : (unsigned char)(rnd() & 0x0f);
            }
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    long max_time = 0, runs = -1, seed = (long)time(NULL), i, done = 0;
    time_t start;
    unsigned char *buf = malloc(FUZZ_MAX_INPUT);
    for (i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "-max_total_time=", 16))
            max_time = atol(argv[i] + 16);
        else if (!strncmp(argv[i], "-runs=", 6))
            runs = atol(argv[i] + 6);
        else if (!strncmp(argv[i], "-seed=", 6))
            seed = atol(argv[i] + 6);
        else if (!strncmp(argv[i], "-artifact_prefix=", 17))
            artifact_prefix = argv[i] + 17;
        else if (argv[i][0] == '-')
            ; /* other libFuzzer flags: ignored */
    }
    __sanitizer_set_death_callback(save_current);
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    for (i = 1; i < argc; i++)
        if (argv[i][0] != '-')
            add_path(argv[i]);
    fprintf(stderr, "fuzz_wire_standalone: replayed %zu corpus inputs; seed %ld\n", ncorpus, seed);
    rng_state ^= (uint64_t)seed * 0x9E3779B97F4A7C15ULL;
    if (!rng_state)
        rng_state = 1;
    start = time(NULL);
    if (ncorpus == 0) {
        corpus[0] = calloc(1, 1);
        corpus_len[0] = 0;
        ncorpus = 1;
    }
    while ((max_time > 0 || runs >= 0) && (runs < 0 || done < runs) &&
           (max_time <= 0 || time(NULL) - start < max_time)) {
        size_t j = (size_t)(rnd() % ncorpus), n = corpus_len[j];
        memcpy(buf, corpus[j], n);
        n = mutate(buf, n);
        run_one(buf, n);
        done++;
    }
    fprintf(stderr, "fuzz_wire_standalone: Done %ld runs in %ld second(s)\n", done,
            (long)(time(NULL) - start));
    free(buf);
    return 0;
}
