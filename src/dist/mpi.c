/* Data-parallel training across processes: a communicator for ebm_run_opts (ebm_comm_*), the only file of
 * libebm that knows MPI (compiled with it only when the build finds MPI; docs/distributed.md).
 * `mpirun -np N prog` or `srun prog` starts N copies; each finds the launcher in its environment (Open MPI's
 * OMPI_COMM_WORLD_SIZE, PMI's PMI_SIZE, PMIx's PMIX_RANK) and only then calls MPI_Init, so a program run
 * plainly never pays for it.  Gradients are summed by one MPI_Allreduce (MPI_SUM over floats, in place) per
 * call; MPI_Allreduce gives every rank the same sum, and for a fixed number of ranks Open MPI picks the same
 * algorithm and order every time, so a run repeats bit for bit.  Built without MPI (no EBM_HAVE_MPI), a
 * communicator is one process, and a launch by mpirun with more than one process is refused rather than run
 * as N independent copies writing the same files.
 *
 * No global state: the world's rank and size live in the ebm_comm the caller holds; MPI_Init/MPI_Finalize
 * are once per process, so a program makes one communicator. */
#include "core/internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef EBM_HAVE_MPI
#include <mpi.h>
#endif

struct ebm_comm {
    int rank, size;
    bool on; /* MPI_Init was called */
};

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
static ebm_status mpi_failed(const ebm_comm *c, const char *what) {
    return ebm_fail(EBM_EIO, "rank %d: %s failed", c ? c->rank : 0, what);
}
#endif

int ebm_comm_has_mpi(void) {
#ifdef EBM_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

ebm_status ebm_comm_init(int *argc, char ***argv, ebm_comm **out) {
    *out = NULL;
    ebm_comm *c = calloc(1, sizeof *c);
    if (!c) return ebm_fail(EBM_ENOMEM, "out of memory");
    c->size = 1;
    long n = launched_size();
#ifdef EBM_HAVE_MPI
    int provided;
    if (n > 0 && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        free(c);
        return ebm_fail(EBM_EIO, "MPI_Init failed");
    }
    if (n > 0) {
        c->on = true;
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    }
#else
    (void)argc;
    (void)argv;
    if (n > 1) {
        free(c);
        return ebm_fail(EBM_ENOTSUP, "launched as %ld processes, but this ebm was built without MPI (install "
                        "libopenmpi-dev and configure again); refusing to run %ld independent copies", n, n);
    }
#endif
    *out = c;
    return EBM_OK;
}

void ebm_comm_free(ebm_comm *c) {
#ifdef EBM_HAVE_MPI
    if (c && c->on) MPI_Finalize();
#endif
    free(c);
}

size_t ebm_comm_rank(const ebm_comm *c) { return c ? (size_t)c->rank : 0; }
size_t ebm_comm_size(const ebm_comm *c) { return c ? (size_t)c->size : 1; }

ebm_status ebm_comm_allreduce(float *buf, size_t n, void *comm) {
    const ebm_comm *c = comm;
    if (ebm_comm_size(c) == 1) return EBM_OK;
#ifdef EBM_HAVE_MPI
    while (n > 0) { /* MPI counts are int */
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, buf, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return mpi_failed(c, "MPI_Allreduce");
        buf += k;
        n -= (size_t)k;
    }
    return EBM_OK;
#else
    (void)buf;
    (void)n;
    return ebm_fail(EBM_ENOTSUP, "an all-reduce over %d processes needs a build with MPI", c->size);
#endif
}

ebm_status ebm_comm_allreduce_f64(const ebm_comm *c, double *buf, size_t n) {
#ifdef EBM_HAVE_MPI
    while (ebm_comm_size(c) > 1 && n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, buf, k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return mpi_failed(c, "MPI_Allreduce");
        buf += k;
        n -= (size_t)k;
    }
#else
    (void)c;
    (void)buf;
    (void)n;
#endif
    return EBM_OK;
}

#ifdef EBM_HAVE_MPI
/* all <- counts[r] values of type t (size elem) from each rank r, in rank order: on every rank (root < 0,
 * MPI_Allgatherv) or on root only (MPI_Gatherv); mine may lie in all at its rank's place. */
static ebm_status gather(const ebm_comm *c, const void *mine, size_t n, const size_t *counts, void *all,
                         MPI_Datatype t, size_t elem, int root) {
    size_t total = 0;
    for (int r = 0; r < c->size; r++) total += counts[r];
    if (total > (size_t)INT_MAX) /* MPI's counts and displacements are int */
        return ebm_fail(EBM_EINVAL, "rank %d: cannot gather %zu values (at most %d)", c->rank, total, INT_MAX);
    int *rc = malloc((size_t)c->size * sizeof *rc), *off = malloc((size_t)c->size * sizeof *off);
    if (!rc || !off) {
        free(rc);
        free(off);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (int r = 0, o = 0; r < c->size; o += rc[r], r++) {
        rc[r] = (int)counts[r];
        off[r] = o;
    }
    bool here = all && (root < 0 || root == c->rank) && mine == (const char *)all + (size_t)off[c->rank] * elem;
    const void *send = here ? MPI_IN_PLACE : mine;
    int ok = root < 0 ? MPI_Allgatherv(send, (int)n, t, all, rc, off, t, MPI_COMM_WORLD)
                      : MPI_Gatherv(send, (int)n, t, all, rc, off, t, root, MPI_COMM_WORLD);
    free(rc);
    free(off);
    return ok == MPI_SUCCESS ? EBM_OK : mpi_failed(c, root < 0 ? "MPI_Allgatherv" : "MPI_Gatherv");
}
#endif

ebm_status ebm_comm_gather_f64(const ebm_comm *c, const double *mine, size_t n, const size_t *counts, double *all) {
#ifdef EBM_HAVE_MPI
    if (ebm_comm_size(c) > 1) return gather(c, mine, n, counts, all, MPI_DOUBLE, sizeof *all, -1);
#else
    (void)c;
    (void)counts;
#endif
    if (all != mine) memcpy(all, mine, n * sizeof *all);
    return EBM_OK;
}

ebm_status ebm_comm_gather_f32(const ebm_comm *c, const float *mine, size_t n, const size_t *counts, float *all) {
#ifdef EBM_HAVE_MPI
    if (ebm_comm_size(c) > 1) return gather(c, mine, n, counts, all, MPI_FLOAT, sizeof *all, 0);
#else
    (void)c;
    (void)counts;
#endif
    if (all != mine && n) memcpy(all, mine, n * sizeof *all);
    return EBM_OK;
}

void ebm_comm_abort(const ebm_comm *c, int code) {
#ifdef EBM_HAVE_MPI
    if (c && c->on && c->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    (void)c;
    (void)code;
}

void ebm_comm_run_opts(ebm_comm *c, ebm_run_opts *o) {
    if (ebm_comm_size(c) < 2) return;
    o->rank = ebm_comm_rank(c);
    o->ranks = ebm_comm_size(c);
    o->allreduce = ebm_comm_allreduce;
    o->allreduce_user = c;
}
