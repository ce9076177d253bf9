/* MPI_Allreduce (MPI_SUM over floats, in place) of the gradient sizes `ebm train` all-reduces once per step:
 * the 784x512 RBM (402,704 floats), the default JEM CNN and a few sizes around them.  Run under mpirun:
 *   mpirun -np 2 build/bench/bench_allreduce [N ...]
 * Prints, per size, the median and the minimum over 50 calls (after 5 warm-up calls) of rank 0's time. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long sizes[16] = {15, 1024, 65536, 402704, 1000000, 4000000};
    int n = 6;
    if (argc > 1) {
        n = 0;
        for (int i = 1; i < argc && n < 16; i++) sizes[n++] = atol(argv[i]);
    }
    if (rank == 0) printf("MPI_Allreduce, %d processes: floats, MB, median ms, min ms, GB/s (bus, 2(P-1)/P S / t)\n", size);
    for (int k = 0; k < n; k++) {
        float *buf = malloc((size_t)sizes[k] * sizeof(float));
        double t[50];
        for (long i = 0; i < sizes[k]; i++) buf[i] = 1e-3f * (float)(i % 97);
        for (int it = 0; it < 55; it++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, (int)sizes[k], MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            if (it >= 5) t[it - 5] = MPI_Wtime() - t0;
        }
        qsort(t, 50, sizeof t[0], cmp_double);
        double mb = (double)sizes[k] * 4 / 1e6, bus = 2.0 * (size - 1) / size * mb / 1e3 / t[25];
        if (rank == 0) printf("%10ld %8.3f %9.4f %9.4f %8.2f\n", sizes[k], mb, t[25] * 1e3, t[0] * 1e3, bus);
        free(buf);
    }
    MPI_Finalize();
    return 0;
}
