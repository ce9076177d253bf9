/* Re-executes the running program once, before any work, with the environment that the libraries read only
 * when they load:
 *  - OPENBLAS_CORETYPE when OpenBLAS picked slower kernels than the CPU supports (OpenBLAS 0.3.21 maps AMD
 *    Zen 4/5 to its AVX2 "Haswell" kernels; its AVX-512 "SkylakeX" kernels measure about 2x faster there);
 *  - how libgomp's threads wait at barriers (ebm_omp_better_spincount): by default they spin for a long
 *    time, and beside one busy process on a 2-core machine a spinning thread loses its time slices: `ebm
 *    train ebm --data toy:pinwheel --iters 300` took 101 s with spinning threads and 4.6 s with passive ones.
 *    So OMP_WAIT_POLICY=PASSIVE when anything else runs at start, and a brief spin (GOMP_SPINCOUNT=1000,
 *    which gets back most of what sleeping costs on a quiet machine) when nothing does (docs/benchmarks.md).
 * A user's own OPENBLAS_CORETYPE, OMP_WAIT_POLICY or GOMP_SPINCOUNT wins; EBM_NO_REEXEC turns this off.
 * Shared by the ebm tool and the benchmark programs. */
#include "reexec.h"

#include "ebm.h"

#include <stdlib.h>
#include <unistd.h>

void cli_reexec_for_blas(char **argv) {
    if (getenv("EBM_NO_REEXEC")) return;
    int again = 0;
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : ebm_blas_better_coretype();
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        again = 1;
    }
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        const char *spin = ebm_omp_better_spincount();
        if (spin) setenv("GOMP_SPINCOUNT", spin, 1);
        else setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        again = 1;
    }
    if (!again) return;
    setenv("EBM_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on as we are */
}
