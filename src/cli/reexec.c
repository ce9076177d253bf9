/* Re-executes the running program once with OPENBLAS_CORETYPE set when OpenBLAS picked slower kernels
 * than the CPU supports (OpenBLAS 0.3.21 maps AMD Zen 4/5 to its AVX2 "Haswell" kernels; its AVX-512
 * "SkylakeX" kernels measure about 2x faster there).  OpenBLAS reads the variable only when it loads, so
 * the only way to apply it is a fresh exec.  A user's own OPENBLAS_CORETYPE, or EBM_NO_REEXEC, wins.
 * Shared by the ebm tool and the benchmark programs. */
#include "reexec.h"

#include "ebm.h"

#include <stdlib.h>
#include <unistd.h>

void cli_reexec_for_blas(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("EBM_NO_REEXEC")) return;
    const char *core = ebm_blas_better_coretype();
    if (!core) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    setenv("EBM_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the kernels we have */
}
