/* Thread counts for OpenMP and OpenBLAS, and what we know about the BLAS in use.  OpenBLAS 0.3.21
 * (Debian 12) does not recognise AMD Zen 4/5 and falls back to its AVX2 Haswell kernels although the CPU
 * runs the AVX-512 SkylakeX kernels about twice as fast; OpenBLAS reads OPENBLAS_CORETYPE only when it
 * loads, so all a library can do is say so (the ebm programs re-execute themselves with it set). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "internal.h"

#include <dirent.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* OpenBLAS extensions (declared in its cblas.h on Debian; repeated to stay independent of the path). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);

void ebm_set_threads(int n) {
    if (n < 1) n = 1;
    omp_set_dynamic(0); /* the loops expect the threads they ask for (OMP_DYNAMIC=true made training hang) */
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int ebm_get_threads(void) { return omp_get_max_threads(); }

void ebm_blas_info(char *buf, size_t cap) {
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    char policy[96];
    if (wait && spin) snprintf(policy, sizeof policy, "%s GOMP_SPINCOUNT %s", wait, spin);
    else if (wait) snprintf(policy, sizeof policy, "%s", wait);
    else if (spin) snprintf(policy, sizeof policy, "spin GOMP_SPINCOUNT %s, then sleep", spin);
    else snprintf(policy, sizeof policy, "default (spin, then sleep)");
    snprintf(buf, cap, "%s; core %s; %d BLAS threads, %d OpenMP threads, wait policy %s", openblas_get_config(),
             openblas_get_corename(), openblas_get_num_threads(), omp_get_max_threads(), policy);
}

const char *ebm_blas_better_coretype(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    const char *core = openblas_get_corename();
    if (!core || (strcasecmp(core, "haswell") != 0 && strcasecmp(core, "zen") != 0)) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
#endif
    return NULL;
}

/* Tasks running besides the caller per /proc/loadavg's fourth field ("running/total"), or of the file named by
 * EBM_LOADAVG_FILE (a test's stand-in), or -1. */
static int others_running(void) {
    const char *path = getenv("EBM_LOADAVG_FILE");
    if (!path || !*path) path = "/proc/loadavg";
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    double a, b, c;
    int running = -1, total;
    if (fscanf(f, "%lf %lf %lf %d/%d", &a, &b, &c, &running, &total) != 5) running = -1;
    fclose(f);
    return running >= 1 ? running - 1 : -1;
}

const char *ebm_omp_better_spincount(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) return NULL; /* nothing to wait for */
    for (int i = 0; i < 5; i++) {
        if (i) nanosleep(&(struct timespec){0, 2000000}, NULL);
        if (others_running() != 0) return NULL;
    }
    return "1000";
}

/* This process's tasks in the running state (/proc/self/task/TID/stat), or -1. */
static int own_running(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[64], buf[256];
        snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* a thread that has just ended */
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        const char *close = strrchr(buf, ')'); /* the name in brackets may hold anything */
        if (close && close[1] == ' ' && close[2] == 'R') n++;
    }
    closedir(d);
    return n;
}

int ebm_threads_fair(int want) {
    if (want < 1) want = 1;
    cpu_set_t set;
    if (want == 1 || sched_getaffinity(0, sizeof set, &set) != 0) return want;
    /* our own threads only stop running between two readings here (the caller is between parallel regions,
     * its workers going to sleep), so the larger of two counts is at least ours at the load reading */
    int own0 = own_running(), total = others_running(), own1 = own_running();
    if (own0 < 0 || own1 < 0 || total < 0) return want;
    int own = own0 > own1 ? own0 : own1, others = total + 1 - own; /* others_running counted the caller out */
    int fair = CPU_COUNT(&set) - (others > 0 ? others : 0);
    return fair < 1 ? 1 : fair > want ? want : fair;
}

void ebm_give_way_begin(ebm_give_way *g) {
    memset(g, 0, sizeof *g);
    g->want = g->cur = ebm_get_threads();
    g->interval = 1.0;
    g->next = ebm_now() + g->interval;
}

int ebm_give_way_check(ebm_give_way *g) {
    double now = ebm_now();
    if (g->want <= 1 || now < g->next) return g->cur;
    g->next = now + g->interval;
    g->hist[g->next_slot] = ebm_threads_fair(g->want);
    g->next_slot = (g->next_slot + 1) % 3;
    if (g->filled < 3 && ++g->filled < 3) return g->cur; /* a median of three: one reading taken while a
                                                            short job ran changes nothing */
    int a = g->hist[0], b = g->hist[1], c = g->hist[2];
    int med = a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
    if (med != g->cur) {
        ebm_set_threads(med);
        g->cur = med;
    }
    return g->cur;
}

void ebm_give_way_end(ebm_give_way *g) {
    if (g->want > 0 && g->cur != g->want) ebm_set_threads(g->want);
    g->cur = g->want;
}

double ebm_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
