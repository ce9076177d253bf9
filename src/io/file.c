/* Whole-file reads with transparent gzip (RFC 1952 members, possibly concatenated, inflated by zlib)
 * and atomic writes, so that a reader never sees a half-written file and a failed write leaves the old one:
 * an unnamed file in the target's directory (Linux O_TMPFILE), fsync, linkat to a name, rename(2) over the
 * old file, fsync of the directory; where O_TMPFILE is missing, a named temporary file carrying its host
 * and pid, which a later write of the same file removes once that process is dead.  Also the append-only
 * logs (a fresh one replaces the old atomically at its first line) and advisory locks on outputs.
 * Every size read from a file is untrusted: decompression stops at the caller's byte limit. */
#include "io/io_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
/* glibc defines O_TMPFILE only under _GNU_SOURCE (which would also change strerror_r); its value is there */
#if !defined(O_TMPFILE) && defined(__O_TMPFILE)
#define O_TMPFILE __O_TMPFILE
#endif

const char *ebm_io_strerror(int err, char *buf, size_t cap) {
    if (strerror_r(err, buf, cap) != 0) snprintf(buf, cap, "error %d", err);
    return buf;
}

int ebm_io_write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t w = write(fd, b, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int ebm_io_write_ordered(int fd, const void *data, size_t n, size_t esize, int big_endian) {
    if (esize <= 1 || (big_endian != 0) != ebm_io_host_le()) return ebm_io_write_all(fd, data, n * esize);
    uint8_t tmp[1 << 16];
    size_t per = sizeof tmp / esize;
    const uint8_t *p = data;
    while (n > 0) {
        size_t k = n < per ? n : per;
        memcpy(tmp, p, k * esize);
        ebm_io_swap(tmp, k, esize);
        int e = ebm_io_write_all(fd, tmp, k * esize);
        if (e) return e;
        p += k * esize;
        n -= k;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Reading
 * --------------------------------------------------------------------------------------------- */

/* Reads fd to its end.  The size from fstat is only a hint: the file may change while we read. */
static ebm_status read_fd(int fd, const char *path, size_t max_bytes, uint8_t **buf, size_t *len) {
    char eb[128];
    struct stat st;
    if (fstat(fd, &st) != 0) return ebm_fail(EBM_EIO, "%s: %s", path, ebm_io_strerror(errno, eb, sizeof eb));
    if (S_ISDIR(st.st_mode)) return ebm_fail(EBM_EIO, "%s: is a directory", path);
    size_t cap = 1 << 16;
    if (S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > (uint64_t)max_bytes)
            return ebm_fail(EBM_EFORMAT, "%s: file of %lld bytes exceeds the limit of %zu bytes", path,
                            (long long)st.st_size, max_bytes);
        cap = (size_t)st.st_size + 1; /* +1 so that reaching EOF needs no reallocation */
    }
    uint8_t *b = malloc(cap);
    if (!b) return ebm_fail(EBM_ENOMEM, "%s: out of memory reading %zu bytes", path, cap);
    size_t n = 0;
    for (;;) {
        if (n > max_bytes) break;
        if (n == cap) {
            /* one byte past the limit is enough to know the file is too large */
            size_t limit = max_bytes < SIZE_MAX ? max_bytes + 1 : SIZE_MAX;
            size_t ncap = cap > limit / 2 ? limit : cap * 2;
            uint8_t *nb = ncap > cap ? realloc(b, ncap) : NULL;
            if (!nb) {
                free(b);
                return ebm_fail(EBM_ENOMEM, "%s: out of memory reading %zu bytes", path, ncap);
            }
            b = nb;
            cap = ncap;
        }
        size_t want = cap - n > ((size_t)1 << 30) ? ((size_t)1 << 30) : cap - n;
        ssize_t r = read(fd, b + n, want);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(b);
            return ebm_fail(EBM_EIO, "%s: read failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (n > max_bytes) {
        free(b);
        return ebm_fail(EBM_EFORMAT, "%s: file exceeds the limit of %zu bytes", path, max_bytes);
    }
    *buf = b;
    *len = n;
    return EBM_OK;
}

/* The first guess at the inflated size: the ISIZE trailer (size mod 2^32 of the last member) is exact
 * for the usual single-member file; deflate cannot expand more than 1032:1, so a lying trailer cannot
 * make us allocate much more than that. */
static size_t inflate_hint(const uint8_t *in, size_t n, size_t hard_cap) {
    size_t hint = 1 << 16;
    if (n >= 18) {
        size_t isize = ebm_io_get_le32(in + n - 4);
        size_t bound = n > SIZE_MAX / 1032 ? SIZE_MAX : n * 1032;
        hint = isize < bound ? isize : bound;
        if (hint < 64) hint = 64;
    }
    return hint < hard_cap ? hint : hard_cap;
}

typedef struct inflate_out {
    uint8_t *data;
    size_t len, cap, hard_cap;
} inflate_out;

static bool inflate_grow(inflate_out *o) {
    if (o->cap >= o->hard_cap) return false;
    size_t ncap = o->cap > o->hard_cap / 2 ? o->hard_cap : o->cap * 2;
    uint8_t *nd = realloc(o->data, ncap);
    if (!nd) return false;
    o->data = nd;
    o->cap = ncap;
    return true;
}

/* Inflates every gzip member of in[0..n) into o; messages name path. */
static ebm_status inflate_members(z_stream *z, const uint8_t *in, size_t n, const char *path, size_t max_bytes,
                                  inflate_out *o) {
    size_t pos = 0;
    for (;;) {
        if (o->len == o->cap && !inflate_grow(o)) {
            if (o->len > max_bytes || o->cap >= o->hard_cap)
                return ebm_fail(EBM_EFORMAT, "%s: decompresses to more than %zu bytes", path, max_bytes);
            return ebm_fail(EBM_ENOMEM, "%s: out of memory decompressing", path);
        }
        size_t in_chunk = n - pos > UINT_MAX ? UINT_MAX : n - pos;
        size_t out_chunk = o->cap - o->len > UINT_MAX ? UINT_MAX : o->cap - o->len;
        z->next_in = (Bytef *)(uintptr_t)(in + pos);
        z->avail_in = (uInt)in_chunk;
        z->next_out = o->data + o->len;
        z->avail_out = (uInt)out_chunk;
        int r = inflate(z, Z_NO_FLUSH);
        pos += in_chunk - z->avail_in;
        o->len += out_chunk - z->avail_out;
        if (o->len > max_bytes)
            return ebm_fail(EBM_EFORMAT, "%s: decompresses to more than %zu bytes", path, max_bytes);
        if (r == Z_STREAM_END) {
            if (pos == n) return EBM_OK;
            if (n - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b)
                return ebm_fail(EBM_EFORMAT, "%s: %zu bytes of garbage after the gzip data", path, n - pos);
            if (inflateReset(z) != Z_OK) return ebm_fail(EBM_EFORMAT, "%s: cannot restart inflate", path);
            continue;
        }
        if (r == Z_OK) continue;
        if (r == Z_BUF_ERROR) {
            if (o->len == o->cap) continue; /* needs room: grow above */
            if (pos == n) return ebm_fail(EBM_EFORMAT, "%s: truncated gzip data", path);
            continue;
        }
        if (r == Z_MEM_ERROR) return ebm_fail(EBM_ENOMEM, "%s: out of memory decompressing", path);
        return ebm_fail(EBM_EFORMAT, "%s: corrupt gzip data (%s)", path, z->msg ? z->msg : "bad stream");
    }
}

static ebm_status gunzip_buf(const uint8_t *in, size_t n, const char *path, size_t max_bytes, uint8_t **out,
                             size_t *out_len) {
    inflate_out o = {0};
    o.hard_cap = max_bytes < SIZE_MAX ? max_bytes + 1 : SIZE_MAX;
    o.cap = inflate_hint(in, n, o.hard_cap);
    if (o.cap == 0) o.cap = 1;
    o.data = malloc(o.cap);
    if (!o.data) return ebm_fail(EBM_ENOMEM, "%s: out of memory decompressing", path);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) {
        free(o.data);
        return ebm_fail(EBM_ENOMEM, "%s: cannot initialise zlib", path);
    }
    ebm_status s = inflate_members(&z, in, n, path, max_bytes, &o);
    inflateEnd(&z);
    if (s != EBM_OK) {
        free(o.data);
        return s;
    }
    *out = o.data;
    *out_len = o.len;
    return EBM_OK;
}

ebm_status ebm_read_file(const char *path, int gunzip, size_t max_bytes, uint8_t **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    if (!path || !*path) return ebm_fail(EBM_EINVAL, "read: empty path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char eb[128];
        return ebm_fail(EBM_EIO, "%s: %s", path, ebm_io_strerror(errno, eb, sizeof eb));
    }
    /* A gzip stream can be slightly larger than what it holds (stored blocks, headers), so the
     * compressed file gets some slack; the limit proper applies to the inflated bytes. */
    size_t raw_max = max_bytes;
    if (gunzip && __builtin_add_overflow(max_bytes, max_bytes / 64 + 4096, &raw_max)) raw_max = SIZE_MAX;
    uint8_t *raw = NULL;
    size_t n = 0;
    ebm_status s = read_fd(fd, path, raw_max, &raw, &n);
    close(fd);
    if (s != EBM_OK) return s;
    if (!gunzip || n < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        if (n > max_bytes) {
            free(raw);
            return ebm_fail(EBM_EFORMAT, "%s: file of %zu bytes exceeds the limit of %zu bytes", path, n, max_bytes);
        }
        *buf = raw;
        *len = n;
        return EBM_OK;
    }
    s = gunzip_buf(raw, n, path, max_bytes, buf, len);
    free(raw);
    return s;
}

ebm_status ebm_io_gzip(const void *in, size_t n, int level, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 15 + 16: gzip wrapper; without deflateSetHeader the header has mtime 0, so output is reproducible */
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ebm_fail(EBM_ENOMEM, "gzip: cannot initialise zlib");
    uLong bound = deflateBound(&z, (uLong)n);
    if ((uint64_t)bound > (uint64_t)SIZE_MAX || (uLong)n != n) {
        deflateEnd(&z);
        return ebm_fail(EBM_ENOMEM, "gzip: %zu bytes is too large to compress", n);
    }
    uint8_t *o = malloc(bound ? (size_t)bound : 1);
    if (!o) {
        deflateEnd(&z);
        return ebm_fail(EBM_ENOMEM, "gzip: out of memory for %lu bytes", (unsigned long)bound);
    }
    const uint8_t *p = in;
    size_t pos = 0, done = 0;
    int r;
    do {
        size_t in_chunk = n - pos > UINT_MAX ? UINT_MAX : n - pos;
        size_t out_chunk = (size_t)bound - done > UINT_MAX ? UINT_MAX : (size_t)bound - done;
        z.next_in = (Bytef *)(uintptr_t)(p + pos);
        z.avail_in = (uInt)in_chunk;
        z.next_out = o + done;
        z.avail_out = (uInt)out_chunk;
        r = deflate(&z, pos + in_chunk == n ? Z_FINISH : Z_NO_FLUSH);
        pos += in_chunk - z.avail_in;
        done += out_chunk - z.avail_out;
    } while (r == Z_OK || (r == Z_BUF_ERROR && done < (size_t)bound));
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(o);
        return ebm_fail(EBM_ENOMEM, "gzip: deflate failed (%d)", r);
    }
    *out = o;
    *out_len = done;
    return EBM_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Atomic writes
 * --------------------------------------------------------------------------------------------- */

/* The directory part of path ("." when there is none) into dir. */
static void dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

ebm_status ebm_check_writable(const char *path) {
    struct stat st;
    if (!path) return ebm_fail(EBM_EINVAL, "check_writable: path is NULL");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return ebm_fail(EBM_EIO, "'%s' is a directory", path);
    char *copy = strdup(path);
    if (!copy) return ebm_fail(EBM_ENOMEM, "out of memory");
    const char *dir = dirname(copy);
    ebm_status s = EBM_OK;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        s = ebm_fail(EBM_EIO, "'%s': directory '%s' does not exist", path, dir);
    else if (access(dir, W_OK) != 0)
        s = ebm_fail(EBM_EIO, "'%s': directory '%s' is not writable (%s)", path, dir, strerror(errno));
    free(copy);
    return s;
}

/* The host name as it appears in temporary names: letters, digits and '-' only, at most 32 characters, so
 * that a name's host and pid parts can be told apart again. */
static void host_tag(char *buf, size_t cap) {
    char h[256] = "";
    if (gethostname(h, sizeof h - 1) != 0 || !h[0]) snprintf(h, sizeof h, "host");
    h[sizeof h - 1] = '\0';
    size_t n = 0;
    for (const char *p = h; *p && n + 1 < cap && n < 32; p++)
        buf[n++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) ? *p : '-';
    buf[n] = '\0';
}

/* Removes the temporary files ".BASE.tmp.HOST.PID.XXXXXX" that processes of this host, now dead, left
 * beside path (SIGKILL or a power cut during a write).  Only names of exactly that form, only this host's,
 * only when kill(pid, 0) says no such process: a live writer's file, another host's (a shared file system)
 * or anything else is never touched. */
static void remove_stale_temps(const char *path) {
    char dir[4096], host[40], prefix[4200];
    dir_of(path, dir, sizeof dir);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    host_tag(host, sizeof host);
    int w = snprintf(prefix, sizeof prefix, ".%s.tmp.%s.", base, host);
    if (w < 0 || (size_t)w >= sizeof prefix) return;
    DIR *d = opendir(dir);
    if (!d) return;
    int dfd = dirfd(d);
    pid_t self = getpid();
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, (size_t)w) != 0) continue;
        const char *p = e->d_name + w;
        char *endp;
        errno = 0;
        long pid = strtol(p, &endp, 10);
        if (errno || endp == p || *endp != '.' || pid <= 0 || strlen(endp + 1) != 6) continue;
        if ((pid_t)pid == self) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        unlinkat(dfd, e->d_name, 0);
    }
    closedir(d);
}

/* A named temporary file beside path: ".BASE.tmp.HOST.PID.XXXXXX" (mkstemp). */
static int named_temp(const char *path, char *tmp, size_t cap) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char host[40];
    host_tag(host, sizeof host);
    int w = snprintf(tmp, cap, "%.*s.%s.tmp.%s.%ld.XXXXXX", (int)(base - path), path, base, host, (long)getpid());
    if (w < 0 || (size_t)w >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkstemp(tmp);
}

ebm_status ebm_atomic_open_how(ebm_atomic_file *f, const char *path, int named) {
    f->fd = -1;
    f->anon = false;
    f->tmp[0] = f->path[0] = '\0';
    if (!path || !*path) return ebm_fail(EBM_EINVAL, "write: empty path");
    size_t n = strlen(path);
    if (n + 64 >= sizeof f->path) return ebm_fail(EBM_EINVAL, "%.64s...: path too long", path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return ebm_fail(EBM_EINVAL, "%s: names a directory, not a file", path);
    memcpy(f->path, path, n + 1);
    remove_stale_temps(path);
    char eb[128], dir[4096];
    dir_of(path, dir, sizeof dir);
#ifdef O_TMPFILE
    /* An unnamed file in the target's directory: a process killed while writing leaves nothing behind.
     * It gets its name by linkat through /proc/self/fd at commit, so /proc must be there. */
    if (!named) {
        int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) {
            char proc[64];
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            if (access(proc, F_OK) == 0 && fchmod(fd, 0644) == 0) {
                f->fd = fd;
                f->anon = true;
                return EBM_OK;
            }
            close(fd);
        }
    }
#else
    (void)named;
#endif
    int fd = named_temp(path, f->tmp, sizeof f->tmp);
    if (fd < 0) {
        int e = errno;
        f->tmp[0] = '\0';
        return ebm_fail(EBM_EIO, "%s: cannot create a temporary file in directory %s: %s", path, dir,
                        ebm_io_strerror(e, eb, sizeof eb));
    }
    f->fd = fd;
    /* mkstemp creates 0600; a saved model or picture should be as readable as any other output */
    if (fchmod(fd, 0644) != 0) {
        int e = errno;
        ebm_atomic_abort(f);
        return ebm_fail(EBM_EIO, "%s: fchmod: %s", path, ebm_io_strerror(e, eb, sizeof eb));
    }
    return EBM_OK;
}

ebm_status ebm_atomic_open(ebm_atomic_file *f, const char *path) { return ebm_atomic_open_how(f, path, 0); }

void ebm_atomic_abort(ebm_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    if (f->tmp[0]) unlink(f->tmp);
    f->fd = -1;
    f->tmp[0] = '\0';
}

/* Makes the rename durable.  Some file systems cannot fsync a directory (EINVAL): that is no error. */
static ebm_status fsync_dir(const char *path) {
    char dir[4096], eb[128];
    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return EBM_OK;
    int r = fsync(fd), e = errno;
    close(fd);
    if (r != 0 && e != EINVAL && e != ENOTSUP && e != EROFS)
        return ebm_fail(EBM_EIO, "%s: fsync of directory %s: %s", path, dir, ebm_io_strerror(e, eb, sizeof eb));
    return EBM_OK;
}

#ifdef O_TMPFILE
/* Gives the unnamed file f->fd the name f->path: directly when the name is free (nothing can be left
 * behind), else under a named temporary name (f->tmp, removed on failure) renamed over the old file. */
static int link_anon(ebm_atomic_file *f) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, f->path, AT_SYMLINK_FOLLOW) == 0) return 0;
    if (errno != EEXIST) return errno;
    for (int tries = 0; tries < 100; tries++) {
        /* a fresh name from mkstemp, freed again for linkat (which does not replace) */
        int t = named_temp(f->path, f->tmp, sizeof f->tmp);
        if (t < 0) {
            f->tmp[0] = '\0';
            return errno;
        }
        close(t);
        unlink(f->tmp);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, f->tmp, AT_SYMLINK_FOLLOW) == 0) {
            if (rename(f->tmp, f->path) == 0) {
                f->tmp[0] = '\0';
                return 0;
            }
            int e = errno;
            unlink(f->tmp);
            f->tmp[0] = '\0';
            return e;
        }
        if (errno != EEXIST) {
            f->tmp[0] = '\0';
            return errno;
        }
    }
    f->tmp[0] = '\0';
    return EEXIST;
}
#endif

static ebm_status commit(ebm_atomic_file *f, int *keep_fd) {
    char eb[128];
    if (keep_fd) *keep_fd = -1;
    if (f->fd < 0) return ebm_fail(EBM_EINVAL, "%s: atomic file is not open", f->path);
    if (fsync(f->fd) != 0) {
        int e = errno;
        ebm_atomic_abort(f);
        return ebm_fail(EBM_EIO, "%s: fsync: %s", f->path, ebm_io_strerror(e, eb, sizeof eb));
    }
    int fd = f->fd;
#ifdef O_TMPFILE
    if (f->anon) {
        int e = link_anon(f);
        if (e) {
            ebm_atomic_abort(f);
            return ebm_fail(EBM_EIO, "%s: cannot give the written file its name: %s", f->path,
                            ebm_io_strerror(e, eb, sizeof eb));
        }
        f->fd = -1;
        if (keep_fd) {
            *keep_fd = fd;
        } else if (close(fd) != 0) {
            e = errno;
            return ebm_fail(EBM_EIO, "%s: close: %s", f->path, ebm_io_strerror(e, eb, sizeof eb));
        }
        return fsync_dir(f->path);
    }
#endif
    if (!keep_fd) {
        f->fd = -1;
        if (close(fd) != 0) {
            int e = errno;
            ebm_atomic_abort(f);
            return ebm_fail(EBM_EIO, "%s: close: %s", f->path, ebm_io_strerror(e, eb, sizeof eb));
        }
    }
    if (rename(f->tmp, f->path) != 0) {
        int e = errno;
        ebm_atomic_abort(f);
        return ebm_fail(EBM_EIO, "%s: rename: %s", f->path, ebm_io_strerror(e, eb, sizeof eb));
    }
    f->tmp[0] = '\0';
    f->fd = -1;
    if (keep_fd) *keep_fd = fd;
    return fsync_dir(f->path);
}

ebm_status ebm_atomic_commit(ebm_atomic_file *f) { return commit(f, NULL); }

ebm_status ebm_write_file_atomic(const char *path, const void *data, size_t len) {
    ebm_atomic_file f;
    ebm_status s = ebm_atomic_open(&f, path);
    if (s != EBM_OK) return s;
    int e = ebm_io_write_all(f.fd, data, len);
    if (e != 0) {
        char eb[128];
        ebm_atomic_abort(&f);
        return ebm_fail(EBM_EIO, "%s: write failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
    }
    return ebm_atomic_commit(&f);
}

/* ------------------------------------------------------------------------------------------------
 * Logs and locks
 * --------------------------------------------------------------------------------------------- */

ebm_status ebm_log_open(const char *path, const char *header, int append, int *out_fd) {
    char eb[128];
    if (!out_fd) return ebm_fail(EBM_EINVAL, "ebm_log_open: out_fd is NULL");
    *out_fd = -1;
    if (!path || !*path) return ebm_fail(EBM_EINVAL, "log: empty path");
    size_t hl = header ? strlen(header) : 0;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a terminal, a pipe (--log /dev/stdout): nothing to replace or resume, just the lines */
        if (S_ISDIR(st.st_mode)) return ebm_fail(EBM_EIO, "%s: is a directory", path);
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        int e = fd < 0 ? errno : 0;
        if (!e && hl) e = ebm_io_write_all(fd, header, hl);
        if (!e && hl) e = ebm_io_write_all(fd, "\n", 1);
        if (e) {
            if (fd >= 0) close(fd);
            return ebm_fail(EBM_EIO, "%s: %s", path, ebm_io_strerror(e, eb, sizeof eb));
        }
        *out_fd = fd;
        return EBM_OK;
    }
    if (!append) {
        /* a fresh log replaces the old one in one step, once its first line is safely written */
        ebm_atomic_file f;
        ebm_status s = ebm_atomic_open(&f, path);
        if (s) return s;
        int e = hl ? ebm_io_write_all(f.fd, header, hl) : 0;
        if (!e && hl) e = ebm_io_write_all(f.fd, "\n", 1);
        if (e) {
            ebm_atomic_abort(&f);
            return ebm_fail(EBM_EIO, "%s: write failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
        }
        int fd;
        s = commit(&f, &fd);
        if (s) return s;
        if (fcntl(fd, F_SETFL, O_APPEND) != 0) {
            e = errno;
            close(fd);
            return ebm_fail(EBM_EIO, "%s: cannot switch to appending: %s", path, ebm_io_strerror(e, eb, sizeof eb));
        }
        *out_fd = fd;
        return EBM_OK;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        return ebm_fail(EBM_EIO, "%s: cannot open for appending: %s", path, ebm_io_strerror(e, eb, sizeof eb));
    }
    int e = 0;
    if (fstat(fd, &st) != 0) e = errno;
    else if (!S_ISREG(st.st_mode)) e = EINVAL;
    else if (st.st_size == 0 && hl) {
        e = ebm_io_write_all(fd, header, hl);
        if (!e) e = ebm_io_write_all(fd, "\n", 1);
    } else if (st.st_size > 0) {
        /* a line cut short by a killed writer is ended, so that the next line starts on its own */
        char last;
        ssize_t r = pread(fd, &last, 1, st.st_size - 1);
        if (r < 0) e = errno;
        else if (r == 1 && last != '\n') e = ebm_io_write_all(fd, "\n", 1);
    }
    if (!e && fsync(fd) != 0 && errno != EINVAL && errno != EROFS) e = errno;
    if (e) {
        close(fd);
        if (e == EINVAL) return ebm_fail(EBM_EIO, "%s: not a regular file", path);
        return ebm_fail(EBM_EIO, "%s: write failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
    }
    *out_fd = fd;
    return EBM_OK;
}

struct ebm_lock {
    int fd;
    char path[4096]; /* the lock file */
};

ebm_status ebm_lock_output(const char *path, ebm_lock **out) {
    char eb[128];
    if (!out) return ebm_fail(EBM_EINVAL, "ebm_lock_output: out is NULL");
    *out = NULL;
    if (!path || !*path) return ebm_fail(EBM_EINVAL, "lock: empty path");
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) return ebm_fail(EBM_EINVAL, "%s: names a directory, not a file", path);
    ebm_lock *l = calloc(1, sizeof *l);
    if (!l) return ebm_fail(EBM_ENOMEM, "out of memory");
    int w = snprintf(l->path, sizeof l->path, "%.*s.%s.lock", (int)(base - path), path, base);
    if (w < 0 || (size_t)w >= sizeof l->path) {
        free(l);
        return ebm_fail(EBM_EINVAL, "%.64s...: path too long", path);
    }
    /* The holder unlinks the lock file before it lets go; a process that locked a file that is no longer
     * (or no longer this) lock file's name tries again. */
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            int e = errno;
            ebm_status s = ebm_fail(EBM_EIO, "%s: cannot create the lock file %s: %s", path, l->path,
                                    ebm_io_strerror(e, eb, sizeof eb));
            free(l);
            return s;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char who[32] = "";
            ssize_t r = pread(fd, who, sizeof who - 1, 0);
            close(fd);
            ebm_status s;
            if (e == EWOULDBLOCK) {
                long pid = r > 0 ? strtol(who, NULL, 10) : 0;
                char by[48] = "";
                if (pid > 0) snprintf(by, sizeof by, " (pid %ld)", pid);
                s = ebm_fail(EBM_EIO, "%s is being written by another process%s; wait for it to finish or choose "
                                      "another output (lock file %s)", path, by, l->path);
            } else {
                s = ebm_fail(EBM_EIO, "%s: cannot lock %s: %s", path, l->path, ebm_io_strerror(e, eb, sizeof eb));
            }
            free(l);
            return s;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
                /* the lock holds all the same; only the message of a refused process lacks the pid */
            }
            l->fd = fd;
            *out = l;
            return EBM_OK;
        }
        close(fd);
    }
    free(l);
    return ebm_fail(EBM_EIO, "%s: cannot lock %s: it keeps changing", path, path);
}

void ebm_lock_release(ebm_lock *l) {
    if (!l) return;
    unlink(l->path);
    close(l->fd);
    free(l);
}

ebm_status ebm_io_read_parse(const char *path, int gunzip, size_t max_bytes, ebm_io_parse_fn parse, void *out) {
    uint8_t *buf = NULL;
    size_t len = 0;
    ebm_status s = ebm_read_file(path, gunzip, max_bytes, &buf, &len);
    if (s != EBM_OK) return s;
    s = parse(buf, len, path, out);
    free(buf);
    return s;
}
