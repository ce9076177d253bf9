/* Density pictures for 2-D energies: a res x res grid of energies over [x_lo, x_hi] x [y_lo, y_hi] is shown
 * as the normalised density exp(-(E - min E)) through a perceptually ordered colour map (black - purple -
 * orange - yellow, after matplotlib's "inferno"), with up to two point sets drawn on top: data as small
 * white dots, samples as cyan dots.  Row 0 of the grid is the top of the picture (largest y). */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

static void colour(double t, uint8_t *rgb) {
    static const double stops[6][3] = {{0, 0, 4}, {40, 11, 84}, {101, 21, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double x = t * 5;
    int k = (int)x;
    if (k > 4) k = 4;
    double f = x - k;
    for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)(stops[k][c] + f * (stops[k + 1][c] - stops[k][c]) + 0.5);
}

static void dots(uint8_t *img, size_t res, int zoom, const float *pts, size_t n, float x_lo, float x_hi, float y_lo,
                 float y_hi, const uint8_t rgb[3], int size) {
    size_t W = res * (size_t)zoom;
    for (size_t i = 0; i < n; i++) {
        double fx = (pts[2 * i] - x_lo) / (x_hi - x_lo), fy = (pts[2 * i + 1] - y_lo) / (y_hi - y_lo);
        if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) continue;
        long cx = (long)(fx * (double)W), cy = (long)((1 - fy) * (double)W);
        for (long dy = -size / 2; dy <= size / 2; dy++)
            for (long dx = -size / 2; dx <= size / 2; dx++) {
                long px = cx + dx, py = cy + dy;
                if (px < 0 || py < 0 || px >= (long)W || py >= (long)W) continue;
                memcpy(img + ((size_t)py * W + (size_t)px) * 3, rgb, 3);
            }
    }
}

ebm_status ebm_png_density(const char *path, const float *E, size_t res, float x_lo, float x_hi, float y_lo,
                           float y_hi, const float *data, size_t n_data, const float *samples, size_t n_samples) {
    if (res < 2 || res > 4096) return ebm_fail(EBM_EINVAL, "density picture: resolution %zu out of 2..4096", res);
    if (!(x_lo < x_hi && y_lo < y_hi)) return ebm_fail(EBM_EINVAL, "density picture: empty range");
    double mn = INFINITY;
    for (size_t i = 0; i < res * res; i++)
        if (isfinite(E[i]) && E[i] < mn) mn = E[i];
    if (!isfinite(mn)) return ebm_fail(EBM_ENAN, "density picture: no finite energy on the grid");
    int zoom = res >= 400 ? 1 : (int)(400 / res);
    size_t W = res * (size_t)zoom;
    uint8_t *img = malloc(W * W * 3);
    double *p = malloc(res * res * sizeof(double));
    if (!img || !p) {
        free(img);
        free(p);
        return ebm_fail(EBM_ENOMEM, "out of memory for a %zu x %zu picture", W, W);
    }
    double pmax = 0;
    for (size_t i = 0; i < res * res; i++) {
        p[i] = isfinite(E[i]) ? exp(-((double)E[i] - mn)) : 0;
        pmax = p[i] > pmax ? p[i] : pmax;
    }
    for (size_t r = 0; r < res; r++)
        for (size_t c = 0; c < res; c++) {
            uint8_t rgb[3];
            colour(p[r * res + c] / pmax, rgb);
            for (int a = 0; a < zoom; a++)
                for (int b = 0; b < zoom; b++) memcpy(img + ((r * (size_t)zoom + (size_t)a) * W + c * (size_t)zoom + (size_t)b) * 3, rgb, 3);
        }
    static const uint8_t white[3] = {255, 255, 255}, cyan[3] = {0, 230, 255};
    if (data) dots(img, res, zoom, data, n_data, x_lo, x_hi, y_lo, y_hi, white, 1);
    if (samples) dots(img, res, zoom, samples, n_samples, x_lo, x_hi, y_lo, y_hi, cyan, 3);
    ebm_status s = ebm_png_write(path, img, W, W, 3);
    free(img);
    free(p);
    return s;
}
