/* The io module's foundations: whole-file reads with gzip (single and concatenated members, truncated,
 * corrupt and oversized streams), atomic writes (replacement, failure in a missing directory, no
 * temporary file left behind), dtypes and arrays (half and bfloat16 conversion), the range check,
 * metadata and the strict JSON reader and string writer. */
#include "check.h"
#include "io/io_internal.h"
#include "io/json.h"

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[512];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

/* Number of entries of d whose name contains ".tmp." */
static int count_temps(const char *d) {
    DIR *dp = opendir(d);
    if (!dp) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(dp);
    return n;
}

static void gzip_bytes(const void *in, size_t n, uint8_t **out, size_t *out_len) {
    REQUIRE(ebm_io_gzip(in, n, 6, out, out_len) == EBM_OK);
}

static void test_read_raw_and_gzip(void) {
    char p[600], q[600];
    uint8_t data[3000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + i / 13);
    path_in(p, sizeof p, "raw.bin");
    check_write_bytes(p, data, sizeof data);
    uint8_t *buf;
    size_t len;
    CHECK_OK(ebm_read_file(p, 1, 1 << 20, &buf, &len));
    CHECK(len == sizeof data && memcmp(buf, data, len) == 0);
    free(buf);

    uint8_t *gz;
    size_t gz_len;
    gzip_bytes(data, sizeof data, &gz, &gz_len);
    CHECK(gz[0] == 0x1f && gz[1] == 0x8b);
    path_in(q, sizeof q, "data.gz");
    check_write_bytes(q, gz, gz_len);
    CHECK_OK(ebm_read_file(q, 1, 1 << 20, &buf, &len));
    CHECK(len == sizeof data && memcmp(buf, data, len) == 0);
    free(buf);
    /* without gunzip the bytes come back as stored */
    CHECK_OK(ebm_read_file(q, 0, 1 << 20, &buf, &len));
    CHECK(len == gz_len && memcmp(buf, gz, len) == 0);
    free(buf);

    /* exactly at the limit is fine, one byte below is not */
    CHECK_OK(ebm_read_file(q, 1, sizeof data, &buf, &len));
    free(buf);
    CHECK_FAILS(ebm_read_file(q, 1, sizeof data - 1, &buf, &len), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "decompresses to more than 2999 bytes") != NULL);
    CHECK(buf == NULL);
    CHECK_FAILS(ebm_read_file(p, 0, 100, &buf, &len), EBM_EFORMAT);
    CHECK_FAILS(ebm_read_file(p, 1, 100, &buf, &len), EBM_EFORMAT); /* not gzip: the limit is the size */
    CHECK(strstr(ebm_last_error(), "exceeds the limit of 100 bytes") != NULL);

    /* two members, as `cat a.gz b.gz` makes */
    uint8_t *two = malloc(2 * gz_len);
    memcpy(two, gz, gz_len);
    memcpy(two + gz_len, gz, gz_len);
    check_write_bytes(q, two, 2 * gz_len);
    CHECK_OK(ebm_read_file(q, 1, 1 << 20, &buf, &len));
    CHECK(len == 2 * sizeof data && memcmp(buf, data, sizeof data) == 0 &&
          memcmp(buf + sizeof data, data, sizeof data) == 0);
    free(buf);
    free(two);

    /* truncated, corrupt, and followed by garbage */
    for (size_t cut = 2; cut < gz_len; cut += gz_len / 7 + 1) {
        check_write_bytes(q, gz, cut);
        CHECK_FAILS(ebm_read_file(q, 1, 1 << 20, &buf, &len), EBM_EFORMAT);
        CHECK(strstr(ebm_last_error(), q) != NULL);
    }
    uint8_t *bad = malloc(gz_len + 5);
    memcpy(bad, gz, gz_len);
    bad[gz_len / 2] ^= 0x55;
    bad[gz_len / 2 + 1] ^= 0xff;
    check_write_bytes(q, bad, gz_len);
    CHECK_FAILS(ebm_read_file(q, 1, 1 << 20, &buf, &len), EBM_EFORMAT);
    memcpy(bad, gz, gz_len);
    memcpy(bad + gz_len, "junk!", 5);
    check_write_bytes(q, bad, gz_len + 5);
    CHECK_FAILS(ebm_read_file(q, 1, 1 << 20, &buf, &len), EBM_EFORMAT);
    free(bad);
    free(gz);

    /* an empty file and an empty gzip member */
    path_in(p, sizeof p, "empty");
    check_write_bytes(p, "", 0);
    CHECK_OK(ebm_read_file(p, 1, 10, &buf, &len));
    CHECK(len == 0 && buf != NULL);
    free(buf);
    gzip_bytes("", 0, &gz, &gz_len);
    check_write_bytes(q, gz, gz_len);
    CHECK_OK(ebm_read_file(q, 1, 10, &buf, &len));
    CHECK(len == 0);
    free(buf);
    free(gz);
}

static void test_read_errors(void) {
    char p[600];
    uint8_t *buf = (uint8_t *)1;
    size_t len = 99;
    path_in(p, sizeof p, "does-not-exist");
    CHECK_FAILS(ebm_read_file(p, 1, 100, &buf, &len), EBM_EIO);
    CHECK(strstr(ebm_last_error(), p) && strstr(ebm_last_error(), "No such file"));
    CHECK(buf == NULL && len == 0);
    CHECK_FAILS(ebm_read_file(dir, 1, 100, &buf, &len), EBM_EIO);
    CHECK(strstr(ebm_last_error(), "directory") != NULL);
}

static void test_atomic(void) {
    char p[600];
    path_in(p, sizeof p, "atomic.txt");
    CHECK_OK(ebm_write_file_atomic(p, "first version", 13));
    CHECK_OK(ebm_write_file_atomic(p, "second", 6));
    uint8_t *buf;
    size_t len;
    CHECK_OK(ebm_read_file(p, 0, 100, &buf, &len));
    CHECK(len == 6 && memcmp(buf, "second", 6) == 0);
    free(buf);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
    CHECK(count_temps(dir) == 0);

    /* a missing directory: EBM_EIO naming it, and nothing created */
    char missing[600], target[700];
    path_in(missing, sizeof missing, "no/such/dir");
    snprintf(target, sizeof target, "%s/out.bin", missing);
    CHECK_FAILS(ebm_write_file_atomic(target, "x", 1), EBM_EIO);
    CHECK(strstr(ebm_last_error(), missing) != NULL);
    CHECK(count_temps(dir) == 0);

    /* abort removes the temporary file and keeps the old contents (a named temporary file, as where the
     * file system has no O_TMPFILE) */
    ebm_atomic_file f;
    CHECK_OK(ebm_atomic_open_how(&f, p, 1));
    CHECK(!f.anon && count_temps(dir) == 1);
    CHECK(ebm_io_write_all(f.fd, "partial", 7) == 0);
    ebm_atomic_abort(&f);
    CHECK(count_temps(dir) == 0);
    CHECK_OK(ebm_read_file(p, 0, 100, &buf, &len));
    CHECK(len == 6 && memcmp(buf, "second", 6) == 0);
    free(buf);

    /* a relative path (temp beside it in the current directory) and a path naming a directory */
    char cwd[600];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(chdir(dir) == 0);
    CHECK_OK(ebm_write_file_atomic("relative.bin", "abc", 3));
    CHECK_OK(ebm_read_file("relative.bin", 0, 100, &buf, &len));
    CHECK(len == 3 && memcmp(buf, "abc", 3) == 0);
    free(buf);
    REQUIRE(chdir(cwd) == 0);
    char slash[700];
    snprintf(slash, sizeof slash, "%s/", dir);
    CHECK_FAILS(ebm_write_file_atomic(slash, "x", 1), EBM_EINVAL);
    CHECK_FAILS(ebm_write_file_atomic("", "x", 1), EBM_EINVAL);
    CHECK(count_temps(dir) == 0);
}

/* The entry of d (other than skip) whose name contains ".tmp." into out; false when there is none. */
static bool temp_name(const char *d, char *out, size_t cap) {
    DIR *dp = opendir(d);
    if (!dp) return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(dp));)
        if (strstr(e->d_name, ".tmp.")) {
            snprintf(out, cap, "%s", e->d_name);
            found = true;
        }
    closedir(dp);
    return found;
}

static void test_atomic_tmpfile_and_stale(void) {
    char p[600];
    path_in(p, sizeof p, "stale.txt");
    CHECK_OK(ebm_write_file_atomic(p, "old", 3));
    /* the default: an unnamed file, invisible until committed (this is Linux with /proc) */
    ebm_atomic_file f;
    CHECK_OK(ebm_atomic_open(&f, p));
    CHECK(f.anon && f.tmp[0] == '\0');
    CHECK(count_temps(dir) == 0);
    CHECK(ebm_io_write_all(f.fd, "new contents", 12) == 0);
    CHECK_OK(ebm_atomic_commit(&f));
    CHECK(count_temps(dir) == 0);
    uint8_t *buf;
    size_t len;
    CHECK_OK(ebm_read_file(p, 0, 100, &buf, &len));
    CHECK(len == 12 && memcmp(buf, "new contents", 12) == 0);
    free(buf);

    /* a process killed while writing a named temporary file: ".stale.txt.tmp.HOST.PID.XXXXXX" stays
     * until the next write of stale.txt sees that PID is dead */
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ebm_atomic_file g;
        if (ebm_atomic_open_how(&g, p, 1) != EBM_OK) _exit(1);
        if (ebm_io_write_all(g.fd, "half", 4) != 0) _exit(1);
        _exit(0); /* no commit, no abort: as if killed */
    }
    int st;
    REQUIRE(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char name[300], want[64];
    CHECK(count_temps(dir) == 1);
    CHECK(temp_name(dir, name, sizeof name));
    snprintf(want, sizeof want, ".%ld.", (long)child);
    CHECK_MSG(strncmp(name, ".stale.txt.tmp.", 15) == 0 && strstr(name, want) != NULL, "temp name %s", name);

    /* a live process's temporary file is kept: one that waits on a pipe while holding it */
    int to_child[2], from_child[2];
    REQUIRE(pipe(to_child) == 0 && pipe(from_child) == 0);
    pid_t live = fork();
    REQUIRE(live >= 0);
    if (live == 0) {
        ebm_atomic_file g;
        char c = ebm_atomic_open_how(&g, p, 1) == EBM_OK ? 'y' : 'n';
        if (write(from_child[1], &c, 1) != 1) _exit(1);
        if (read(to_child[0], &c, 1) != 1) _exit(1);
        ebm_atomic_abort(&g);
        _exit(0);
    }
    char c = 0;
    REQUIRE(read(from_child[0], &c, 1) == 1 && c == 'y');
    /* the live child's open removed the dead one's file */
    CHECK(count_temps(dir) == 1);
    CHECK(temp_name(dir, name, sizeof name));
    snprintf(want, sizeof want, ".%ld.", (long)live);
    CHECK_MSG(strstr(name, want) != NULL, "left %s", name);
    CHECK_OK(ebm_write_file_atomic(p, "third", 5)); /* keeps the live one's */
    CHECK(count_temps(dir) == 1);
    CHECK(temp_name(dir, name, sizeof name));
    CHECK_MSG(strstr(name, want) != NULL, "kept %s", name);
    REQUIRE(write(to_child[1], "x", 1) == 1);
    REQUIRE(waitpid(live, &st, 0) == live && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(count_temps(dir) == 0);
    /* a temporary-looking name of another form is never touched */
    char other[700];
    snprintf(other, sizeof other, "%s/.stale.txt.tmp.abcdef", dir);
    check_write_bytes(other, "x", 1);
    CHECK_OK(ebm_write_file_atomic(p, "fourth", 6));
    CHECK(count_temps(dir) == 1);
    unlink(other);
    close(to_child[0]), close(to_child[1]), close(from_child[0]), close(from_child[1]);
}

/* A file-size limit (RLIMIT_FSIZE, `ulimit -f`) stands in for a full disk: the write fails with a message
 * naming the file and the reason, the old file is as it was, nothing is left behind, on both paths. */
static void test_atomic_write_error(void) {
    char p[600];
    path_in(p, sizeof p, "full.bin");
    CHECK_OK(ebm_write_file_atomic(p, "the old file", 12));
    static uint8_t big[200000];
    memset(big, 7, sizeof big);
    struct rlimit old, lim;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 65536;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    CHECK_FAILS(ebm_write_file_atomic(p, big, sizeof big), EBM_EIO);
    CHECK_MSG(strstr(ebm_last_error(), p) && strstr(ebm_last_error(), "write failed: File too large"), "%s",
              ebm_last_error());
    ebm_atomic_file f;
    CHECK_OK(ebm_atomic_open_how(&f, p, 1));
    int e = ebm_io_write_all(f.fd, big, sizeof big);
    CHECK(e == EFBIG);
    ebm_atomic_abort(&f);
    /* the log: a fresh one whose first line cannot be written leaves the old log */
    char log[600];
    path_in(log, sizeof log, "full.log");
    check_write_bytes(log, "a,b\n1,2\n", 8);
    char header[70000];
    memset(header, 'h', sizeof header - 1);
    header[sizeof header - 1] = '\0';
    int fd = -1;
    CHECK_FAILS(ebm_log_open(log, header, 0, &fd), EBM_EIO);
    CHECK(fd == -1 && strstr(ebm_last_error(), log) != NULL);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
    uint8_t *buf;
    size_t len;
    CHECK_OK(ebm_read_file(p, 0, 100, &buf, &len));
    CHECK(len == 12 && memcmp(buf, "the old file", 12) == 0);
    free(buf);
    CHECK_OK(ebm_read_file(log, 0, 100, &buf, &len));
    CHECK(len == 8 && memcmp(buf, "a,b\n1,2\n", 8) == 0);
    free(buf);
    CHECK(count_temps(dir) == 0);
}

static void test_log(void) {
    char p[600];
    path_in(p, sizeof p, "run.log");
    uint8_t *buf;
    size_t len;
    /* fresh: the header; appending: after the old lines, no second header; a cut line is ended first */
    int fd;
    CHECK_OK(ebm_log_open(p, "epoch,loss", 0, &fd));
    CHECK(write(fd, "1,0.5\n2,0.4", 11) == 11);
    close(fd);
    CHECK_OK(ebm_log_open(p, "epoch,loss", 1, &fd));
    CHECK(write(fd, "3,0.3\n", 6) == 6);
    close(fd);
    CHECK_OK(ebm_read_file(p, 0, 1000, &buf, &len));
    CHECK_MSG(len == 29 && memcmp(buf, "epoch,loss\n1,0.5\n2,0.4\n3,0.3\n", 29) == 0, "%.*s", (int)len, (char *)buf);
    free(buf);
    /* a fresh run replaces it */
    CHECK_OK(ebm_log_open(p, "epoch,loss", 0, &fd));
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 11);
    /* the descriptor appends whatever its offset says */
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK(write(fd, "9,0.1\n", 6) == 6);
    close(fd);
    CHECK_OK(ebm_read_file(p, 0, 1000, &buf, &len));
    CHECK(len == 17 && memcmp(buf, "epoch,loss\n9,0.1\n", 17) == 0);
    free(buf);
    /* appending to a new file writes the header; a missing directory is EBM_EIO naming the path */
    char q[600];
    path_in(q, sizeof q, "new.log");
    CHECK_OK(ebm_log_open(q, "h", 1, &fd));
    close(fd);
    CHECK_OK(ebm_read_file(q, 0, 100, &buf, &len));
    CHECK(len == 2 && memcmp(buf, "h\n", 2) == 0);
    free(buf);
    path_in(q, sizeof q, "no/such/dir/x.log");
    CHECK_FAILS(ebm_log_open(q, "h", 1, &fd), EBM_EIO);
    CHECK(strstr(ebm_last_error(), q) != NULL);
    CHECK_FAILS(ebm_log_open(q, "h", 0, &fd), EBM_EIO);
    CHECK(count_temps(dir) == 0);
    /* a device or pipe (--log /dev/stdout) is written to, never replaced; a directory is refused */
    CHECK_OK(ebm_log_open("/dev/null", "h", 0, &fd));
    CHECK(fd >= 0 && write(fd, "1\n", 2) == 2);
    close(fd);
    struct stat dn;
    CHECK(stat("/dev/null", &dn) == 0 && S_ISCHR(dn.st_mode));
    CHECK_FAILS(ebm_log_open(dir, "h", 0, &fd), EBM_EIO);
    CHECK(strstr(ebm_last_error(), "is a directory") != NULL);
}

static void test_lock(void) {
    char p[600], lockfile[700];
    path_in(p, sizeof p, "model.safetensors");
    snprintf(lockfile, sizeof lockfile, "%s/.model.safetensors.lock", dir);
    ebm_lock *a = NULL, *b = (ebm_lock *)1;
    CHECK_OK(ebm_lock_output(p, &a));
    CHECK(a != NULL && access(lockfile, F_OK) == 0);
    /* flock locks belong to the open file: a second open in this process is refused like another process */
    CHECK_FAILS(ebm_lock_output(p, &b), EBM_EIO);
    CHECK(b == NULL);
    char want[80];
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    CHECK_MSG(strstr(ebm_last_error(), p) && strstr(ebm_last_error(), "is being written by another process") &&
                  strstr(ebm_last_error(), want),
              "%s", ebm_last_error());
    ebm_lock_release(a);
    CHECK(access(lockfile, F_OK) != 0);
    /* a lock file a killed holder left (unlocked) is taken over */
    check_write_bytes(lockfile, "99999999\n", 9);
    CHECK_OK(ebm_lock_output(p, &a));
    ebm_lock_release(a);
    CHECK(access(lockfile, F_OK) != 0);
    char missing[700];
    path_in(missing, sizeof missing, "no/such/m.safetensors");
    CHECK_FAILS(ebm_lock_output(missing, &b), EBM_EIO);
}

static void test_dtypes_and_arrays(void) {
    static const size_t sizes[] = {1, 1, 2, 4, 8, 2, 2, 4, 8};
    static const char *const names[] = {"u8", "i8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64"};
    for (int t = 0; t <= EBM_F64; t++) {
        CHECK(ebm_dtype_size((ebm_dtype)t) == sizes[t]);
        CHECK(strcmp(ebm_dtype_name((ebm_dtype)t), names[t]) == 0);
    }
    CHECK(ebm_dtype_size((ebm_dtype)99) == 0);
    CHECK(strcmp(ebm_dtype_name((ebm_dtype)99), "?") == 0);

    ebm_array *a;
    size_t shape[3] = {2, 3, 4};
    int32_t v[24];
    for (int i = 0; i < 24; i++) v[i] = i * i - 50;
    CHECK_OK(ebm_array_new(EBM_I32, 3, shape, v, &a));
    CHECK(a->ndim == 3 && ebm_array_numel(a) == 24 && memcmp(a->data, v, sizeof v) == 0);
    CHECK(((uintptr_t)a->data & 63) == 0);
    ebm_mat *m;
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->rows == 2 && m->cols == 12 && m->data[13] == 13 * 13 - 50);
    ebm_mat_free(m);
    ebm_array_free(a);

    CHECK_OK(ebm_array_new(EBM_F64, 0, NULL, NULL, &a));
    CHECK(ebm_array_numel(a) == 1 && ((double *)a->data)[0] == 0.0);
    ((double *)a->data)[0] = -2.5;
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->rows == 1 && m->cols == 1 && m->data[0] == -2.5f);
    ebm_mat_free(m);
    ebm_array_free(a);

    size_t five = 5;
    int64_t big[5] = {0, -1, 1LL << 40, INT64_MIN, 7};
    CHECK_OK(ebm_array_new(EBM_I64, 1, &five, big, &a));
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->rows == 5 && m->cols == 1 && m->data[2] == 1099511627776.0f && m->data[3] == -9223372036854775808.0f);
    ebm_mat_free(m);
    ebm_array_free(a);

    /* IEEE half: 1, -2, largest, smallest subnormal, smallest normal, inf, NaN, -0 */
    uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0x7e00, 0x8000};
    size_t eight = 8;
    CHECK_OK(ebm_array_new(EBM_F16, 1, &eight, h, &a));
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->data[0] == 1.0f && m->data[1] == -2.0f && m->data[2] == 65504.0f);
    CHECK(m->data[3] == ldexpf(1, -24) && m->data[4] == ldexpf(1, -14));
    CHECK(isinf(m->data[5]) && m->data[5] > 0 && isnan(m->data[6]) && m->data[7] == 0 && signbit(m->data[7]));
    ebm_mat_free(m);
    ebm_array_free(a);
    uint16_t b[4] = {0x3f80, 0xc0a0, 0x7f80, 0x0001}; /* 1, -5, inf, smallest bf16 subnormal */
    size_t four = 4;
    CHECK_OK(ebm_array_new(EBM_BF16, 1, &four, b, &a));
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->data[0] == 1.0f && m->data[1] == -5.0f && isinf(m->data[2]) && m->data[3] == ldexpf(1, -133));
    ebm_mat_free(m);
    ebm_array_free(a);

    /* u8, i8, i16, f32 */
    uint8_t u[3] = {0, 128, 255};
    size_t three = 3;
    CHECK_OK(ebm_array_new(EBM_U8, 1, &three, u, &a));
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->data[1] == 128.0f && m->data[2] == 255.0f);
    ebm_mat_free(m);
    ebm_array_free(a);
    int8_t i8[3] = {-128, 0, 127};
    CHECK_OK(ebm_array_new(EBM_I8, 1, &three, i8, &a));
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->data[0] == -128.0f && m->data[2] == 127.0f);
    ebm_mat_free(m);
    ebm_array_free(a);
    int16_t i16[3] = {-32768, 1, 32767};
    CHECK_OK(ebm_array_new(EBM_I16, 1, &three, i16, &a));
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->data[0] == -32768.0f && m->data[2] == 32767.0f);
    ebm_mat_free(m);
    ebm_array_free(a);

    /* empty arrays and bad arguments */
    size_t empty[2] = {0, 7};
    CHECK_OK(ebm_array_new(EBM_F32, 2, empty, NULL, &a));
    CHECK(ebm_array_numel(a) == 0);
    CHECK_OK(ebm_array_to_mat(a, &m));
    CHECK(m->rows == 0 && m->cols == 7);
    ebm_mat_free(m);
    ebm_array_free(a);
    size_t huge[2] = {SIZE_MAX / 2, 3};
    CHECK_FAILS(ebm_array_new(EBM_U8, 2, huge, NULL, &a), EBM_ENOMEM);
    CHECK(a == NULL);
    size_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_FAILS(ebm_array_new(EBM_U8, 9, nine, NULL, &a), EBM_EINVAL);
    CHECK_FAILS(ebm_array_new(EBM_U8, -1, nine, NULL, &a), EBM_EINVAL);
    CHECK_FAILS(ebm_array_new((ebm_dtype)42, 1, nine, NULL, &a), EBM_EINVAL);
    CHECK_FAILS(ebm_array_new(EBM_U8, 2, NULL, NULL, &a), EBM_EINVAL);
    ebm_array_free(NULL);
    CHECK(ebm_array_numel(NULL) == 0);

    char s[64];
    ebm_io_shape_str(1, shape, s, sizeof s);
    CHECK(strcmp(s, "(2,)") == 0);
    ebm_io_shape_str(3, shape, s, sizeof s);
    CHECK(strcmp(s, "(2, 3, 4)") == 0);
    ebm_io_shape_str(0, shape, s, sizeof s);
    CHECK(strcmp(s, "()") == 0);
}

static void test_check_range(void) {
    ebm_mat *m;
    REQUIRE(ebm_mat_new(4, 13, &m) == EBM_OK);
    for (size_t i = 0; i < 52; i++) m->data[i] = (float)i / 52;
    CHECK_OK(ebm_mat_check_range(m, 0, 1, "data"));
    m->data[3 * 13 + 12] = 1.7f;
    CHECK_FAILS(ebm_mat_check_range(m, 0, 1, "data"), EBM_EINVAL);
    CHECK_MSG(strcmp(ebm_last_error(), "data: value 1.7 at row 3, column 12 is outside [0, 1]") == 0, "%s",
              ebm_last_error());
    m->data[13 + 2] = NAN;
    CHECK_FAILS(ebm_mat_check_range(m, 0, 1, "x"), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "row 1, column 2 is not finite") != NULL);
    m->data[13 + 2] = -INFINITY;
    CHECK_FAILS(ebm_mat_check_range(m, -1e30f, 1e30f, "x"), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "not finite") != NULL);
    ebm_mat_free(m);
}

static void test_meta(void) {
    ebm_meta *m;
    CHECK_OK(ebm_meta_new(&m));
    CHECK(ebm_meta_count(m) == 0 && ebm_meta_get(m, "a") == NULL);
    CHECK_OK(ebm_meta_set(m, "ebm.model", "rbm"));
    CHECK_OK(ebm_meta_set(m, "ebm.version", "0.1.0"));
    CHECK_OK(ebm_meta_setf(m, "lr", "%.3f/%d", 0.05, 7));
    CHECK_OK(ebm_meta_set(m, "ebm.model", "grbm")); /* replaces in place */
    CHECK_OK(ebm_meta_set(m, "ключ ✓", "значение \"quoted\"\n"));
    CHECK(ebm_meta_count(m) == 4);
    const char *k, *v;
    ebm_meta_at(m, 0, &k, &v);
    CHECK(strcmp(k, "ebm.model") == 0 && strcmp(v, "grbm") == 0);
    ebm_meta_at(m, 2, &k, &v);
    CHECK(strcmp(k, "lr") == 0 && strcmp(v, "0.050/7") == 0);
    ebm_meta_at(m, 4, &k, &v);
    CHECK(k == NULL && v == NULL);
    CHECK(strcmp(ebm_meta_get(m, "ключ ✓"), "значение \"quoted\"\n") == 0);
    char long_value[1000];
    memset(long_value, 'z', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    CHECK_OK(ebm_meta_setf(m, "long", "%s", long_value));
    CHECK(strlen(ebm_meta_get(m, "long")) == 999);

    ebm_meta *c;
    CHECK_OK(ebm_meta_new(&c));
    CHECK_OK(ebm_meta_set(c, "lr", "old"));
    CHECK_OK(ebm_meta_set(c, "own", "kept"));
    CHECK_OK(ebm_meta_copy(c, m));
    CHECK(ebm_meta_count(c) == 6 && strcmp(ebm_meta_get(c, "lr"), "0.050/7") == 0);
    CHECK(strcmp(ebm_meta_get(c, "own"), "kept") == 0);
    ebm_meta_at(c, 0, &k, &v);
    CHECK(strcmp(k, "lr") == 0);
    CHECK_OK(ebm_meta_copy(c, c));
    CHECK(ebm_meta_count(c) == 6);

    CHECK_FAILS(ebm_meta_set(m, NULL, "x"), EBM_EINVAL);
    CHECK_FAILS(ebm_meta_set(m, "x", NULL), EBM_EINVAL);
    CHECK_FAILS(ebm_meta_set(NULL, "x", "y"), EBM_EINVAL);
    CHECK_FAILS(ebm_meta_set(m, "bad\xff", "y"), EBM_EINVAL);
    CHECK_FAILS(ebm_meta_set(m, "x", "\xc0\x80"), EBM_EINVAL);
    CHECK_FAILS(ebm_meta_copy(NULL, m), EBM_EINVAL);
    CHECK(ebm_meta_count(m) == 5);
    ebm_meta_free(c);
    ebm_meta_free(m);
    ebm_meta_free(NULL);
}

static ebm_json *parse_ok(const char *text) {
    ebm_json *v = NULL;
    ebm_status s = ebm_json_parse(text, strlen(text), EBM_JSON_MAX_DEPTH, &v);
    CHECK_MSG(s == EBM_OK, "%s: %s", text, ebm_last_error());
    return v;
}

static void json_fails(const char *text, size_t len) {
    ebm_json *v = (ebm_json *)1;
    CHECK_FAILS(ebm_json_parse(text, len, EBM_JSON_MAX_DEPTH, &v), EBM_EFORMAT);
    CHECK(v == NULL);
}

static void test_json(void) {
    ebm_json *v = parse_ok(" {\"a\": [1, -2, 3.5e2, true, false, null, \"s\"], \"b\": {}, \"c\": []}\r\n");
    REQUIRE(v && v->type == EBM_JSON_OBJECT && v->n == 3);
    const ebm_json *a = ebm_json_get(v, "a");
    REQUIRE(a && a->type == EBM_JSON_ARRAY && a->n == 7);
    CHECK(a->items[0].is_int && a->items[0].integer == 1);
    CHECK(a->items[1].is_int && a->items[1].integer == -2);
    CHECK(!a->items[2].is_int && a->items[2].number == 350.0);
    CHECK(a->items[3].type == EBM_JSON_BOOL && a->items[3].boolean && !a->items[4].boolean);
    CHECK(a->items[5].type == EBM_JSON_NULL && strcmp(a->items[6].str, "s") == 0);
    CHECK(ebm_json_get(v, "b")->type == EBM_JSON_OBJECT && ebm_json_get(v, "c")->n == 0);
    CHECK(ebm_json_get(v, "zz") == NULL && ebm_json_find_duplicate(v) == -1);
    ebm_json_free(v);

    /* integers stay exact beyond 2^53; int64 limits; overflow falls back to double */
    v = parse_ok("[9007199254740993, 9223372036854775807, -9223372036854775808, 9223372036854775808, -0, 0.5]");
    CHECK(v->items[0].integer == 9007199254740993LL && v->items[1].integer == INT64_MAX);
    CHECK(v->items[2].is_int && v->items[2].integer == INT64_MIN);
    CHECK(!v->items[3].is_int && v->items[3].number == 9223372036854775808.0);
    CHECK(v->items[4].is_int && v->items[4].integer == 0 && v->items[5].number == 0.5);
    ebm_json_free(v);

    /* escapes, surrogate pairs and raw UTF-8 */
    v = parse_ok("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\u20AC \\ud83d\\ude00 \xc3\xa9 \\u0000end\"");
    static const char want[] = "q\" b\\ s/ \b\f\n\r\t \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9 \0end";
    CHECK(v && v->len == sizeof want - 1 && memcmp(v->str, want, v->len) == 0);
    ebm_json_free(v);

    /* duplicates are kept and reported */
    v = parse_ok("{\"x\": 1, \"y\": 2, \"x\": 3, \"y\": 4}");
    CHECK(v->n == 4 && ebm_json_find_duplicate(v) == 2 && ebm_json_get(v, "x")->integer == 1);
    ebm_json_free(v);

    /* nesting: 64 levels pass, 65 fail */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    ebm_json_free(parse_ok(deep));
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    json_fails(deep, 130);
    CHECK(strstr(ebm_last_error(), "nesting") != NULL);

    static const char *const bad[] = {
        "", "   ", "{", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "{1:2}", "01", "1.", ".5", "-",
        "1e", "+1", "0x10", "NaN", "Infinity", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
        "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"tab\there\"", "[1] x", "{} {}", "'single'", "[1,,2]",
        "\xef\xbb\xbf{}", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) json_fails(bad[i], strlen(bad[i]));
    json_fails("[1]\0", 4);
    CHECK(strstr(ebm_last_error(), "JSON at byte 3") != NULL);

    /* the writer escapes what it must and the reader restores it */
    static const char raw[] = "a\"b\\c\n\t\x01\x1f \xe2\x82\xac/";
    ebm_buf b = {0};
    CHECK(ebm_json_put_string(&b, raw, sizeof raw - 1));
    CHECK(b.len == strlen("\"a\\\"b\\\\c\\n\\t\\u0001\\u001f \xe2\x82\xac/\"") &&
          memcmp(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f \xe2\x82\xac/\"", b.len) == 0);
    CHECK_OK(ebm_json_parse(b.data, b.len, 4, &v));
    CHECK(v->len == sizeof raw - 1 && memcmp(v->str, raw, v->len) == 0);
    ebm_json_free(v);
    ebm_buf_free(&b);

    /* numbers do not depend on the caller's locale */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        v = parse_ok("[2.5]");
        CHECK(v->items[0].number == 2.5);
        ebm_json_free(v);
        setlocale(LC_NUMERIC, "C");
    }
}

static void test_utf8(void) {
    CHECK(ebm_io_utf8_valid("", 0));
    CHECK(ebm_io_utf8_valid("plain", 5));
    CHECK(ebm_io_utf8_valid("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 18));
    CHECK(!ebm_io_utf8_valid("\xc1\xbf", 2));         /* overlong */
    CHECK(!ebm_io_utf8_valid("\xe0\x9f\xbf", 3));     /* overlong */
    CHECK(!ebm_io_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!ebm_io_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!ebm_io_utf8_valid("\xe2\x82", 2));         /* truncated */
    CHECK(!ebm_io_utf8_valid("\x80", 1));
}

/* The numbers a model's metadata holds (ebm.sample.steps, ebm.data.threshold, ...): whole strings only. */
static void test_meta_numbers(void) {
    ebm_meta *m;
    CHECK_OK(ebm_meta_new(&m));
    CHECK_OK(ebm_meta_set(m, "t", "0.25"));
    CHECK_OK(ebm_meta_set(m, "e", "-1e3"));
    CHECK_OK(ebm_meta_set(m, "n", "1000"));
    const char *bad_float[] = {"", "0.5x", "nan", "inf", "1e39", "x"};
    const char *bad_size[] = {"", "-1", "+3", " 7", "7 ", "1.5", "99999999999999999999"};
    float f = 7;
    size_t n = 7;
    CHECK_OK(ebm_meta_get_float(m, "t", &f));
    CHECK(f == 0.25f);
    CHECK_OK(ebm_meta_get_float(m, "e", &f));
    CHECK(f == -1000.0f);
    CHECK_OK(ebm_meta_get_float(m, "n", &f));
    CHECK(f == 1000.0f);
    CHECK_OK(ebm_meta_get_size(m, "n", &n));
    CHECK(n == 1000);
    CHECK_FAILS(ebm_meta_get_size(m, "t", &n), EBM_EFORMAT);
    CHECK_FAILS(ebm_meta_get_float(m, "absent", &f), EBM_EINVAL);
    CHECK_FAILS(ebm_meta_get_size(m, "absent", &n), EBM_EINVAL);
    for (size_t i = 0; i < sizeof bad_float / sizeof *bad_float; i++) {
        CHECK_OK(ebm_meta_set(m, "v", bad_float[i]));
        CHECK_FAILS(ebm_meta_get_float(m, "v", &f), EBM_EFORMAT);
    }
    for (size_t i = 0; i < sizeof bad_size / sizeof *bad_size; i++) {
        CHECK_OK(ebm_meta_set(m, "v", bad_size[i]));
        CHECK_FAILS(ebm_meta_get_size(m, "v", &n), EBM_EFORMAT);
    }
    CHECK(f == 1000.0f && n == 1000); /* unchanged by the failures */
    CHECK(strstr(ebm_last_error(), "metadata v '99999999999999999999'") != NULL);
    ebm_meta_free(m);
}

/* The check before long work that an output path can be written. */
static void test_check_writable(void) {
    char p[600];
    path_in(p, sizeof p, "new.out");
    CHECK_OK(ebm_check_writable(p));
    CHECK_FAILS(ebm_check_writable(dir), EBM_EIO);
    CHECK(strstr(ebm_last_error(), "is a directory") != NULL);
    path_in(p, sizeof p, "no-such-dir/x.out");
    CHECK_FAILS(ebm_check_writable(p), EBM_EIO);
    CHECK(strstr(ebm_last_error(), "no-such-dir' does not exist") != NULL);
    CHECK_OK(ebm_check_writable("relative-name.out")); /* the current directory */
    CHECK_FAILS(ebm_check_writable(NULL), EBM_EINVAL);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir("io_misc"));
    test_read_raw_and_gzip();
    test_read_errors();
    test_atomic();
    test_atomic_tmpfile_and_stale();
    test_atomic_write_error();
    test_log();
    test_lock();
    test_dtypes_and_arrays();
    test_check_range();
    test_meta();
    test_meta_numbers();
    test_check_writable();
    test_json();
    test_utf8();
    return check_summary("test_io_misc");
}
