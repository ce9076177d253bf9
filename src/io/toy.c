/* Two-dimensional toy densities for energy-based models, following the generators used by FFJORD
 * (Grathwohl et al. 2019) and the EBM papers that reuse them: 8gaussians (eight Gaussians of sd 0.5/sqrt 2
 * on a circle of radius 4/sqrt 2), rings (four concentric circles of radius 0.75..3 with radial noise
 * 0.08), checkerboard (uniform on the dark squares of a 4 x 4 board over [-4, 4]^2), moons (scikit-learn's
 * two half circles with noise 0.1, centred and doubled), swissroll (scikit-learn's Swiss roll with noise 1,
 * divided by 5), pinwheel (five spiral arms, radial sd 0.3, tangential sd 0.1, rate 0.25, times 2).
 * Row r is drawn from the Philox stream (seed, r), so the data set depends only on its seed, and the
 * label of a row is its component (Gaussian, ring, moon, arm) where the density has components. */
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const toy_names[] = {"8gaussians", "rings", "checkerboard", "moons", "swissroll", "pinwheel"};
#define N_TOYS (sizeof toy_names / sizeof *toy_names)

const char *ebm_toy_names(void) { return "8gaussians, rings, checkerboard, moons, swissroll, pinwheel"; }

static void toy_row(int kind, uint64_t seed, uint64_t r, float *xy, int32_t *label) {
    float u[8];
    ebm_rng_fill_uniform(seed, r, 0, u, 8);
    float z[2];
    ebm_rng_fill_normal(seed, r, 8, z, 2);
    const double pi = 3.14159265358979323846;
    double x = 0, y = 0;
    int lab = 0;
    switch (kind) {
    case 0: { /* 8gaussians */
        lab = (int)(u[0] * 8) & 7;
        double a = 2 * pi * lab / 8.0, c = 4.0 / sqrt(2.0);
        x = c * cos(a) + 0.5 / sqrt(2.0) * z[0];
        y = c * sin(a) + 0.5 / sqrt(2.0) * z[1];
        break;
    }
    case 1: { /* rings */
        lab = (int)(u[0] * 4) & 3;
        double rad = 0.75 * (lab + 1) + 0.08 * z[0], a = 2 * pi * u[1];
        x = rad * cos(a);
        y = rad * sin(a);
        break;
    }
    case 2: { /* checkerboard */
        double x1 = u[0] * 4 - 2;
        double x2 = u[1] - (u[2] < 0.5f ? 0 : 2);
        x2 += (double)(((long)floor(x1) % 2 + 2) % 2);
        x = 2 * x1;
        y = 2 * x2;
        break;
    }
    case 3: { /* moons */
        lab = u[0] < 0.5f;
        double t = pi * u[1];
        if (lab == 0) {
            x = cos(t);
            y = sin(t);
        } else {
            x = 1 - cos(t);
            y = 0.5 - sin(t);
        }
        x = 2 * (x - 0.5 + 0.1 * z[0]);
        y = 2 * (y - 0.25 + 0.1 * z[1]);
        break;
    }
    case 4: { /* swissroll */
        double t = 1.5 * pi * (1 + 2 * u[0]);
        x = (t * cos(t) + z[0]) / 5.0;
        y = (t * sin(t) + z[1]) / 5.0;
        break;
    }
    default: { /* pinwheel */
        lab = (int)(u[0] * 5);
        if (lab > 4) lab = 4;
        double fr = 0.3 * z[0] + 1.0, ft = 0.1 * z[1];
        double a = 2 * pi * lab / 5.0 + 0.25 * exp(fr);
        x = 2 * (fr * cos(a) - ft * sin(a));
        y = 2 * (fr * sin(a) + ft * cos(a));
        break;
    }
    }
    xy[0] = (float)x;
    xy[1] = (float)y;
    *label = lab;
}

ebm_status ebm_toy_generate(const char *name, size_t n, uint64_t seed, ebm_dataset **out) {
    *out = NULL;
    int kind = -1;
    for (size_t k = 0; k < N_TOYS; k++)
        if (name && strcmp(name, toy_names[k]) == 0) kind = (int)k;
    if (kind < 0)
        return ebm_fail(EBM_EINVAL, "toy: unknown density '%s' (expected one of %s)", name ? name : "", ebm_toy_names());
    if (n == 0 || n > 100000000) return ebm_fail(EBM_EINVAL, "toy: %zu rows is out of 1..1e8", n);
    ebm_dataset *d = calloc(1, sizeof *d);
    ebm_status s = d ? ebm_mat_new(n, 2, &d->x) : EBM_ENOMEM;
    if (d && !s) {
        d->labels = malloc(n * sizeof(int32_t));
        if (!d->labels) s = EBM_ENOMEM;
    }
    if (s) {
        ebm_dataset_free(d);
        return ebm_fail(EBM_ENOMEM, "toy: out of memory for %zu rows", n);
    }
    snprintf(d->source, sizeof d->source, "toy:%s (%zu rows, seed %llu)", toy_names[kind], n, (unsigned long long)seed);
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t r = 0; r < n; r++) toy_row(kind, seed, r, d->x->data + 2 * r, d->labels + r);
    *out = d;
    return EBM_OK;
}
