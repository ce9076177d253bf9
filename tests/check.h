/* A tiny test harness: CHECK* macros record failures with file:line and keep going; main() returns
 * check_summary().  Every test program is one ctest test. */
#ifndef EBM_CHECK_H
#define EBM_CHECK_H

#include "ebm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures_ = 0;
static int check_count_ = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        check_count_++;                                                               \
        if (!(cond)) {                                                                \
            check_failures_++;                                                        \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                       \
    do {                                                                           \
        check_count_++;                                                            \
        if (!(cond)) {                                                             \
            check_failures_++;                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                                       \
    do {                                                                                            \
        double ca_ = (double)(a), cb_ = (double)(b), ct_ = (double)(tol);                           \
        check_count_++;                                                                             \
        if (!(fabs(ca_ - cb_) <= ct_)) {                                                            \
            check_failures_++;                                                                      \
            fprintf(stderr, "%s:%d: %s = %.9g vs %s = %.9g, |diff| %.3g > %.3g\n", __FILE__, __LINE__, \
                    #a, ca_, #b, cb_, fabs(ca_ - cb_), ct_);                                        \
        }                                                                                           \
    } while (0)

/* The call returns the expected status; on failure print ebm_last_error(). */
#define CHECK_STATUS(call, expected)                                                            \
    do {                                                                                        \
        ebm_status cs_ = (call);                                                                \
        check_count_++;                                                                         \
        if (cs_ != (expected)) {                                                                \
            check_failures_++;                                                                  \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__, __LINE__, #call, \
                    ebm_status_name(cs_), ebm_status_name(expected), ebm_last_error());         \
        }                                                                                       \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, EBM_OK)

/* The call fails with the expected status and leaves a non-empty message. */
#define CHECK_FAILS(call, expected)                                                          \
    do {                                                                                     \
        CHECK_STATUS(call, expected);                                                        \
        CHECK_MSG(ebm_last_error()[0] != '\0', "no error message after %s", #call);          \
    } while (0)

/* A fatal precondition: stop this test program. */
#define REQUIRE(cond)                                                                       \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: REQUIRE(%s) failed: %s\n", __FILE__, __LINE__, #cond,    \
                    ebm_last_error());                                                      \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

static inline int check_summary(const char *name) {
    if (check_failures_)
        fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures_, check_count_);
    else
        printf("%s: all %d checks passed\n", name, check_count_);
    return check_failures_ ? 1 : 0;
}

/* A scratch directory unique to this test program: $TMPDIR or /tmp + name + pid, removed at exit. */
static char check_tmpdir_path_[512];

static void check_tmpdir_remove_(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", check_tmpdir_path_);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", check_tmpdir_path_);
}

static inline const char *check_tmpdir(const char *name) {
    if (check_tmpdir_path_[0]) return check_tmpdir_path_;
    const char *base = getenv("TMPDIR");
    snprintf(check_tmpdir_path_, sizeof check_tmpdir_path_, "%s/ebm-test-%s-%ld", base && *base ? base : "/tmp",
             name, (long)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", check_tmpdir_path_);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create %s\n", check_tmpdir_path_);
        exit(1);
    }
    atexit(check_tmpdir_remove_);
    return check_tmpdir_path_;
}

/* Writes len bytes to path (test fixtures). */
static inline void check_write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write fixture %s\n", path);
        exit(1);
    }
    fclose(f);
}

#endif
