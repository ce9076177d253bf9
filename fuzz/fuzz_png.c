/* libFuzzer target for the PNG reader (libpng's simplified API behind ebm_io_png_parse): any input must
 * decode or fail with a status and message; never crash, leak or read out of bounds.  Decoded images
 * are capped at 16 MiB so that tiny files declaring huge images do not exhaust the fuzzer's memory.
 * libpng itself is not instrumented, so the fuzzer cannot steer towards keeping a valid tail; each
 * input is therefore also tried with the IEND chunk appended, which the reader requires at the end. */
#include "io/io_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    ebm_array *a = NULL;
    ebm_io_png_parse(data, size, "fuzz", (size_t)1 << 24, &a);
    ebm_array_free(a);
    uint8_t *with_end = malloc(size + sizeof iend);
    if (!with_end) return 0;
    if (size) memcpy(with_end, data, size);
    memcpy(with_end + size, iend, sizeof iend);
    a = NULL;
    ebm_io_png_parse(with_end, size + sizeof iend, "fuzz", (size_t)1 << 24, &a);
    ebm_array_free(a);
    free(with_end);
    return 0;
}
