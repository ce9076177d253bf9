/* The communicator for data-parallel runs (src/dist/mpi.c) in one process: a run not started by a launcher is
 * rank 0 of 1 and never calls MPI_Init; the collectives are then exact identities (sum over one process, the
 * gather a copy), and ebm_comm_run_opts leaves a one-process run as it was.  A launch as several processes by a
 * build without MPI is refused with EBM_ENOTSUP naming the count.  Several processes: tests/test_mpi.sh. */
#include "check.h"

static void unset_launcher(void) {
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_SIZE");
    unsetenv("PMIX_RANK");
}

static ebm_status fake_reduce(float *buf, size_t n, void *user) {
    (void)buf;
    (void)n;
    (void)user;
    return EBM_OK;
}

static void test_one_process(void) {
    unset_launcher();
    ebm_comm *c = NULL;
    int argc = 1;
    char name[] = "test_comm", *args[] = {name, NULL}, **argv = args;
    CHECK(ebm_comm_init(&argc, &argv, &c) == EBM_OK && c != NULL);
    CHECK(argc == 1 && argv == args);
    CHECK(ebm_comm_rank(c) == 0 && ebm_comm_size(c) == 1);
    CHECK(ebm_comm_rank(NULL) == 0 && ebm_comm_size(NULL) == 1);
    float f[3] = {1.5f, -2.0f, 3.25f};
    CHECK(ebm_comm_allreduce(f, 3, c) == EBM_OK);
    CHECK(f[0] == 1.5f && f[1] == -2.0f && f[2] == 3.25f);
    double d[4] = {0.5, 7, -1, 1e300};
    CHECK(ebm_comm_allreduce_f64(c, d, 4) == EBM_OK);
    CHECK(d[0] == 0.5 && d[1] == 7 && d[2] == -1 && d[3] == 1e300);
    double all[4] = {0, 0, 0, 0};
    size_t counts[1] = {4};
    CHECK(ebm_comm_gather_f64(c, d, 4, counts, all) == EBM_OK);
    CHECK(memcmp(all, d, sizeof d) == 0);
    CHECK(ebm_comm_gather_f64(c, all, 4, counts, all) == EBM_OK); /* in place */
    CHECK(memcmp(all, d, sizeof d) == 0);
    ebm_run_opts ro;
    ebm_run_opts_default(&ro);
    ro.allreduce = fake_reduce;
    ebm_comm_run_opts(c, &ro);
    CHECK(ro.rank == 0 && ro.ranks <= 1 && ro.allreduce == fake_reduce && ro.allreduce_user == NULL);
    ebm_comm_abort(c, 1); /* one process: returns */
    ebm_comm_free(c);
    ebm_comm_free(NULL);
}

static void test_launch_without_mpi(void) {
    if (ebm_comm_has_mpi()) return; /* with MPI this would call MPI_Init outside a launcher: test_mpi.sh */
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    ebm_comm *c = (ebm_comm *)&c;
    int argc = 0;
    char **argv = NULL;
    CHECK(ebm_comm_init(&argc, &argv, &c) == EBM_ENOTSUP);
    CHECK(c == NULL);
    CHECK_MSG(strstr(ebm_last_error(), "launched as 3 processes") != NULL, "got '%s'", ebm_last_error());
    unset_launcher();
    setenv("PMIX_RANK", "0", 1); /* PMIx without a size: one process, MPI_Comm_size would say */
    CHECK(ebm_comm_init(&argc, &argv, &c) == EBM_OK && ebm_comm_size(c) == 1);
    ebm_comm_free(c);
    unset_launcher();
}

int main(void) {
    test_one_process();
    test_launch_without_mpi();
    return check_summary("test_comm");
}
