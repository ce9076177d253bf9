/* libFuzzer target for the dataset layer (ebm_dataset_load, ebm_labels_load): the first byte picks what the
 * rest is, the second line-free part up to '\n' is a spec suffix, the remainder file contents:
 *   0: "toy:" + suffix, a toy spec, with a small row limit
 *   1: a CSV file loaded with the suffix as a "#LIST" class filter (the spec is FILE + suffix)
 *   2: an NPY file, likewise
 *   3: an IDX file (raw or gzip), likewise, with a row limit (the streamed reader)
 *   4: a labels file (CSV) for ebm_labels_load with n and k from the suffix
 * Every call must load a dataset that holds what it says, or fail with a status and message; never
 * crash, leak or read out of bounds.  Files go to one temporary path per process. */
#include "ebm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const ebm_dataset *d) {
    if (!d || !d->x || d->x->rows == 0 || d->x->cols == 0) abort();
    volatile float sum = 0;
    for (size_t i = 0; i < d->x->rows * d->x->cols; i++) sum += d->x->data[i];
    if (d->labels)
        for (size_t i = 0; i < d->x->rows; i++) sum += (float)d->labels[i];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 65536) return 0;
    int mode = data[0] % 5;
    const uint8_t *p = data + 1, *end = data + size;
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t slen = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (slen > 200) return 0;
    char suffix[256];
    memcpy(suffix, p, slen);
    suffix[slen] = '\0';
    if (strlen(suffix) != slen) return 0; /* no NUL inside the spec */
    const uint8_t *body = nl ? nl + 1 : end;
    size_t blen = (size_t)(end - body);
    char path[128], spec[512];
    static const char *const ext[5] = {"", ".csv", ".npy", ".idx", ".csv"};
    snprintf(path, sizeof path, "/tmp/ebm-fuzz-dataset-%ld%s", (long)getpid(), ext[mode]);
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    ebm_dataset *d = NULL;
    ebm_status s;
    if (mode == 0) {
        snprintf(spec, sizeof spec, "toy:%s", suffix);
        o.limit = 1 + blen % 64;
        s = ebm_dataset_load(spec, &o, &d);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) return 0;
        size_t wrote = blen ? fwrite(body, 1, blen, f) : 0;
        if (fclose(f) != 0 || wrote != blen) return 0;
        if (mode == 4) {
            unsigned long n = 0, k = 0;
            if (sscanf(suffix, "%lu %lu", &n, &k) != 2 || n > 4096 || k < 1 || k > 4096) n = 3, k = 10;
            int32_t *y = NULL;
            s = ebm_labels_load(path, n, (int)(k & 1), k, &y);
            if (s == EBM_OK) {
                for (size_t i = 0; i < n; i++)
                    if (y[i] < 0 || (size_t)y[i] >= k) abort();
            } else if (y || !ebm_last_error()[0]) {
                abort();
            }
            free(y);
            unlink(path);
            return 0;
        }
        snprintf(spec, sizeof spec, "%s%s", path, suffix);
        if (mode == 3) o.limit = 1 + slen % 8;
        s = ebm_dataset_load(spec, &o, &d);
        unlink(path);
    }
    if (s == EBM_OK) check_set(d);
    else if (d || !ebm_last_error()[0]) abort();
    ebm_dataset_free(d);
    return 0;
}
