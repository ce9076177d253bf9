/* Status and error messages (src/core/status.c): ebm_fail and ebm_fail_prefix given the current message as
 * an argument (the usual way to add context) keep it whole, for short and for buffer-filling messages. */
#include "check.h"
#include "core/internal.h"

static void test_fail_reads_own_message(void) {
    ebm_fail(EBM_EIO, "ebm.net.spec: layer 2 'bogus' is not a layer type or too large");
    CHECK(ebm_fail(EBM_EFORMAT, "%s: %s", "dir/m.safetensors", ebm_last_error()) == EBM_EFORMAT);
    CHECK_MSG(strcmp(ebm_last_error(),
                     "dir/m.safetensors: ebm.net.spec: layer 2 'bogus' is not a layer type or too large") == 0,
              "got '%s'", ebm_last_error());
    /* the message after the name, twice: both copies intact */
    ebm_fail(EBM_EIO, "abcdefghij");
    ebm_fail(EBM_EIO, "%s|%s|%s", ebm_last_error(), "x", ebm_last_error());
    CHECK_MSG(strcmp(ebm_last_error(), "abcdefghij|x|abcdefghij") == 0, "got '%s'", ebm_last_error());
    /* ebm_fail_prefix, with the message also among its own arguments */
    ebm_fail(EBM_EIO, "inner");
    CHECK(ebm_fail_prefix(EBM_ENAN, "outer (%s)", ebm_last_error()) == EBM_ENAN);
    CHECK_MSG(strcmp(ebm_last_error(), "outer (inner): inner") == 0, "got '%s'", ebm_last_error());
}

static void test_long_messages(void) {
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ebm_fail(EBM_EIO, "%s", big);
    size_t n = strlen(ebm_last_error());
    CHECK(n == 1023);
    /* prepending to a full buffer: truncated at the end, the prefix whole */
    ebm_fail(EBM_EIO, "%s: %s", "name", ebm_last_error());
    CHECK(strlen(ebm_last_error()) == 1023);
    CHECK(strncmp(ebm_last_error(), "name: aaaa", 10) == 0);
    CHECK(ebm_last_error()[1022] == 'a');
    ebm_clear_error();
    CHECK(ebm_last_error()[0] == '\0');
}

int main(void) {
    test_fail_reads_own_message();
    test_long_messages();
    return check_summary("test_status");
}
