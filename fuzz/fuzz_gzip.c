/* libFuzzer target for whole-file reads with transparent gzip (ebm_read_file with gunzip on): the input
 * is put in an anonymous in-memory file (memfd, Linux) and read back through /proc/self/fd, so the real
 * read and inflate paths run: concatenated members, truncation, corruption and the output cap. */
#define _GNU_SOURCE
#include "io/io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return 0;
    if (ebm_io_write_all(fd, data, size) == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        uint8_t *buf = NULL;
        size_t len = 0;
        ebm_read_file(path, 1, (size_t)1 << 22, &buf, &len);
        free(buf);
    }
    close(fd);
    return 0;
}
