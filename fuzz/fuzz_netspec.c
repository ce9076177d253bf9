/* libFuzzer target for network specs as a model file's metadata gives them: the input is "INPUT\nSPEC"
 * (ebm.net.input, e.g. "1x28x28", and ebm.net.spec).  ebm_net_from_tensors on a file holding only that
 * metadata must fail with a status and message (a missing tensor, a malformed spec) or succeed for a spec
 * without weights, never allocating what the spec claims before checking it against the (absent) tensors;
 * and a spec that loads must have a canonical form that parses back to itself with the same output size.  Never crash, leak or read out of bounds. */
#include "ebm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 8192) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    const char *input = "1x8x8", *spec = text;
    if (nl) {
        *nl = '\0';
        input = text;
        spec = nl + 1;
    }
    ebm_tensors *t = NULL;
    int loaded = 0;
    if (ebm_tensors_new(&t) == EBM_OK && ebm_meta_set(ebm_tensors_meta(t), "ebm.model", "net") == EBM_OK &&
        ebm_meta_set(ebm_tensors_meta(t), "ebm.net.input", input) == EBM_OK &&
        ebm_meta_set(ebm_tensors_meta(t), "ebm.net.spec", spec) == EBM_OK) {
        ebm_net *net = NULL;
        ebm_status s = ebm_net_from_tensors(t, "fuzz", &net);
        if (s != EBM_OK && (net || !ebm_last_error()[0])) abort();
        loaded = s == EBM_OK;
        ebm_net_free(net);
    }
    ebm_tensors_free(t);
    unsigned long long c, h, w;
    char tail;
    /* only specs that loaded without tensors (no weighted layer): a spec given directly may ask for as many
     * weights as the spec limits allow, which is the caller's memory to spend, not the fuzzer's */
    if (loaded && sscanf(input, "%llux%llux%llu%c", &c, &h, &w, &tail) == 3) {
        ebm_net *a = NULL, *b = NULL;
        if (ebm_net_new(spec, (size_t)c, (size_t)h, (size_t)w, &a) == EBM_OK) {
            if (ebm_net_new(ebm_net_spec(a), (size_t)c, (size_t)h, (size_t)w, &b) != EBM_OK ||
                strcmp(ebm_net_spec(a), ebm_net_spec(b)) != 0 || ebm_net_output_size(a) != ebm_net_output_size(b))
                abort();
        }
        ebm_net_free(a);
        ebm_net_free(b);
    }
    free(text);
    return 0;
}
