/* MPI glue of the command-line tool, the only file that knows MPI (the library stays MPI-free: it sees one
 * all-reduce function through ebm_run_opts).  `mpirun -np N ebm ...` or `srun ebm ...` starts N copies;
 * each finds the launcher in its environment (Open MPI's OMPI_COMM_WORLD_SIZE, PMI's PMI_SIZE, PMIx's
 * PMIX_RANK) and only then calls MPI_Init, so a plain `ebm` never pays for it.  Gradients are summed by one
 * MPI_Allreduce (MPI_SUM over floats, in place) per call; MPI_Allreduce gives every rank the same sum, and
 * for a fixed number of ranks Open MPI picks the same algorithm and order every time, so a run repeats bit
 * for bit.  Built without MPI (no EBM_HAVE_MPI), the functions report one process, and a launch by mpirun
 * with more than one process is refused rather than run as N independent copies writing the same files.
 *
 * The world (rank, size) is set once by cli_mpi_init before any command runs and only read afterwards. */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef EBM_HAVE_MPI
#include <mpi.h>
#endif

static struct {
    int rank, size;
    bool on; /* MPI_Init was called */
} world = {0, 1, false};

/* The number of processes the launcher started, or 0 when not launched by one. */
static long launched_size(void) {
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (!v) v = getenv("PMI_SIZE");
    if (!v) v = getenv("PMIX_SIZE");
    if (v) return strtol(v, NULL, 10);
    return getenv("PMIX_RANK") ? 1 : 0; /* PMIx without a size: MPI_Comm_size will say */
}

#ifdef EBM_HAVE_MPI
/* MPI's default handler aborts the job on an error; this is for a communicator set to return instead. */
static ebm_status mpi_failed(const char *what) {
    fprintf(stderr, "ebm: rank %d: %s failed\n", world.rank, what);
    return EBM_EIO;
}
#endif

int cli_mpi_init(int *argc, char ***argv) {
    long n = launched_size();
    if (n == 0) return 0;
#ifdef EBM_HAVE_MPI
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "ebm: MPI_Init failed\n");
        return 1;
    }
    world.on = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    return 0;
#else
    (void)argc;
    (void)argv;
    if (n > 1) {
        fprintf(stderr, "ebm: launched as %ld processes, but this ebm was built without MPI (install libopenmpi-dev "
                        "and configure again); refusing to run %ld independent copies\n", n, n);
        return 1;
    }
    return 0;
#endif
}

void cli_mpi_finalize(void) {
#ifdef EBM_HAVE_MPI
    if (world.on) MPI_Finalize();
    world.on = false;
#endif
}

int cli_mpi_rank(void) { return world.rank; }
int cli_mpi_size(void) { return world.size; }

ebm_status cli_mpi_allreduce(float *buf, size_t n, void *user) {
    (void)user;
#ifdef EBM_HAVE_MPI
    while (n > 0) { /* MPI counts are int */
        int c = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, buf, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return mpi_failed("MPI_Allreduce");
        buf += c;
        n -= (size_t)c;
    }
    return EBM_OK;
#else
    (void)buf;
    (void)n;
    return world.size > 1 ? EBM_ENOTSUP : EBM_OK;
#endif
}

ebm_status cli_mpi_allreduce_f64(double *buf, size_t n) {
#ifdef EBM_HAVE_MPI
    if (world.size > 1 && n > 0 && MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return mpi_failed("MPI_Allreduce");
#else
    (void)buf;
    (void)n;
#endif
    return EBM_OK;
}

ebm_status cli_mpi_gather_f64(const double *mine, size_t n, const size_t *counts, double *all) {
#ifdef EBM_HAVE_MPI
    if (world.size > 1) {
        int *rc = malloc((size_t)world.size * sizeof *rc), *off = malloc((size_t)world.size * sizeof *off);
        if (!rc || !off) {
            free(rc);
            free(off);
            return EBM_ENOMEM;
        }
        int o = 0;
        for (int r = 0; r < world.size; r++) {
            rc[r] = (int)counts[r];
            off[r] = o;
            o += rc[r];
        }
        const void *send = mine == all + off[world.rank] ? MPI_IN_PLACE : (const void *)mine;
        int ok = MPI_Allgatherv(send, (int)n, MPI_DOUBLE, all, rc, off, MPI_DOUBLE, MPI_COMM_WORLD);
        free(rc);
        free(off);
        return ok == MPI_SUCCESS ? EBM_OK : mpi_failed("MPI_Allgatherv");
    }
#else
    (void)counts;
#endif
    if (all != mine) memcpy(all, mine, n * sizeof *all);
    return EBM_OK;
}

void cli_mpi_abort(int code) {
#ifdef EBM_HAVE_MPI
    if (world.on && world.size > 1) {
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
#endif
    (void)code;
}

bool cli_mpi_built(void) {
#ifdef EBM_HAVE_MPI
    return true;
#else
    return false;
#endif
}
