/* CLI helpers shared by the subcommands: the progress bar (redrawn in place on a terminal, silent
 * otherwise so logs stay clean), Ctrl-C handling, loading data with the preprocessing options, checking
 * output paths before long work starts, and small formatting utilities. */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void cli_progress_init(cli_progress *p, bool quiet) {
    p->quiet = quiet;
    p->tty = !quiet && isatty(STDERR_FILENO);
    p->last_draw = 0;
}

void cli_format_duration(double s, char *buf, size_t cap) {
    if (!(s >= 0) || !isfinite(s)) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void cli_progress_bar(cli_progress *p, const char *label, double fraction, const char *detail) {
    if (!p->tty) return;
    double t = cli_now();
    if (t - p->last_draw < 0.1 && fraction < 1.0) return;
    p->last_draw = t;
    enum { WIDTH = 24 };
    if (fraction < 0) fraction = 0;
    if (fraction > 1) fraction = 1;
    int filled = (int)(fraction * WIDTH + 0.5);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %s", label, bar, 100 * fraction, detail ? detail : "");
    fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
    if (p->tty && !p->quiet) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

void cli_progress_line(cli_progress *p, const char *fmt, ...) {
    if (p->quiet) return;
    if (p->tty) fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* The one piece of mutable global state in the project: a signal handler can only talk through a global. */
static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig) {
    (void)sig;
    if (interrupted) _exit(130);
    interrupted = 1;
}

void cli_install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool cli_interrupted(void) { return interrupted != 0; }

void cli_data_args_from_model(cli_data_args *a, const ebm_meta *meta) {
    const char *v;
    if (!a->scale_seen && (v = ebm_meta_get(meta, "ebm.data.scale"))) a->scale = v;
    if (!a->binarize_seen && (v = ebm_meta_get(meta, "ebm.data.binarize"))) a->binarize = v;
    float t;
    if (!a->threshold_seen && ebm_meta_get_float(meta, "ebm.data.threshold", &t) == EBM_OK && t >= 0 && t <= 1)
        a->threshold = t;
}

bool cli_data_opts(const char *cmd, const cli_data_args *a, ebm_data_opts *o) {
    ebm_data_opts_default(o);
    if (ebm_scale_parse(a->scale, &o->scale))
        return cli_error(cmd, "--scale: '%s' is not one of auto|none|255|minmax|pm1", a->scale), false;
    if (ebm_binarize_parse(a->binarize, &o->binarize))
        return cli_error(cmd, "--binarize: '%s' is not one of none|threshold|stochastic", a->binarize), false;
    o->threshold = a->threshold;
    o->limit = a->limit;
    o->seed = a->seed;
    return true;
}

/* After a load that began at t0: d, with "loaded N x D from SOURCE (T s)" unless quiet; NULL after printing
 * the error s. */
static ebm_dataset *loaded(const char *cmd, ebm_status s, ebm_dataset *d, double t0, bool quiet) {
    if (s) return cli_lib_error(cmd, s), NULL;
    if (!quiet)
        fprintf(stderr, "loaded %zu x %zu from %s (%.1f s)\n", d->x->rows, d->x->cols, d->source, cli_now() - t0);
    return d;
}

ebm_dataset *cli_load_data(const char *cmd, const char *spec, const ebm_data_opts *o, bool quiet) {
    ebm_dataset *d = NULL;
    double t = cli_now();
    ebm_status s = ebm_dataset_load(spec, o, &d);
    return loaded(cmd, s, d, t, quiet);
}

ebm_model *cli_model_load(const char *cmd, const char *path) {
    ebm_model *m = NULL;
    ebm_status s = ebm_model_load(path, &m);
    return s ? (cli_lib_error(cmd, s), NULL) : m;
}

ebm_dataset *cli_model_rows(const char *cmd, const ebm_model *m, const char *spec, const cli_data_args *da, bool quiet) {
    ebm_data_opts o, given;
    ebm_model_data_opts(m, &o);
    if (da && !cli_data_opts(cmd, da, &given)) return NULL;
    if (da && da->scale_seen) o.scale = given.scale;
    if (da && da->binarize_seen) o.binarize = given.binarize;
    if (da && da->threshold_seen) o.threshold = given.threshold;
    if (da) o.limit = given.limit;
    if (da) o.seed = given.seed;
    ebm_dataset *d = NULL;
    double t = cli_now();
    ebm_status s = ebm_model_data(m, spec, &o, &d);
    return loaded(cmd, s, d, t, quiet);
}

bool cli_model_data(const char *cmd, const char **spec, const ebm_meta *meta, const char *need) {
    if (!*spec && meta) *spec = ebm_meta_get(meta, "ebm.data.spec");
    return *spec || (cli_error(cmd, "%s (the model does not record its training data)", need), false);
}

bool cli_is_binary(const ebm_mat *m) {
    size_t n = m->rows * m->cols;
    for (size_t i = 0; i < n; i++)
        if (m->data[i] != 0.0f && m->data[i] != 1.0f) return false;
    return true;
}

bool cli_check_writable(const char *cmd, const char *what, const char *path) {
    return ebm_check_writable(path) == EBM_OK || (cli_error(cmd, "%s %s", what, ebm_last_error()), false);
}

bool cli_image_shape(const char *cmd, size_t n_vis, size_t h0, size_t w0, const char *shape_arg, size_t *h,
                     size_t *w) {
    if (shape_arg) {
        unsigned long a, b;
        char x;
        if (sscanf(shape_arg, "%lu%c%lu", &a, &x, &b) != 3 || x != 'x' || a == 0 || b == 0)
            return cli_error(cmd, "--shape: '%s' is not HxW", shape_arg), false;
        if ((size_t)a * (size_t)b != n_vis)
            return cli_error(cmd, "--shape %s has %lu pixels but the model has %zu visible units", shape_arg, a * b,
                             n_vis),
                   false;
        *h = a;
        *w = b;
        return true;
    }
    if (h0 && w0 && h0 * w0 == n_vis) {
        *h = h0;
        *w = w0;
        return true;
    }
    size_t r = (size_t)(sqrt((double)n_vis) + 0.5);
    if (r * r == n_vis) {
        *h = *w = r;
        return true;
    }
    return cli_error(cmd, "the model's %zu visible units are not a known image shape; give --shape HxW", n_vis), false;
}

ebm_rbm *cli_load_rbm(const char *cmd, const char *path, const char *verb) {
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) {
        cli_lib_error(cmd, s);
        return NULL;
    }
    const char *kind = ebm_meta_get(ebm_tensors_meta_const(t), "ebm.model");
    ebm_rbm *m = NULL;
    if (kind && strcmp(kind, "checkpoint") == 0)
        cli_error(cmd, "%s is a training checkpoint, not a model: continue its run with 'ebm train KIND ... --resume %s'",
                  path, path);
    else if (kind && strcmp(kind, "rbm") != 0)
        cli_error(cmd, "%s: %s '%s' models is not supported yet", path, verb, kind);
    else if ((s = ebm_rbm_from_tensors(t, path, &m)))
        cli_lib_error(cmd, s);
    ebm_tensors_free(t);
    return m;
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

void cli_json_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}


/* The bounds of the command-line option each ebm.sample.* default stands in for (the option rows' lo, hi
 * and open ends): a model file is data, and its defaults may ask no more than the command line may. */
static const struct {
    const char *key, *option;
    double lo, hi;
    int lo_open, hi_open;
} meta_bounds[] = {
    {"ebm.sample.steps", "steps", 0, 1e9, 0, 0},
    {"ebm.sample.temperature", "temperature", 0, 1e6, 1, 0},
    {"ebm.sample.eta", "eta", 0, 100, 1, 0},
    {"ebm.sample.langevin_steps", "langevin-steps", 1, 100000, 0, 0},
    {"ebm.sample.leapfrog", "leapfrog", 1, 10000, 0, 0},
    {"ebm.sample.step_size", "step-size", 0, 1e6, 1, 0},
    {"ebm.sample.noise", "noise", 0, 1e6, 0, 0},
    {"ebm.sample.clip_lo", "clip-lo", -1e30, 1e30, 0, 0},
    {"ebm.sample.clip_hi", "clip-hi", -1e30, 1e30, 0, 0},
    {"ebm.sample.init_lo", "init-lo", -1e30, 1e30, 0, 0},
    {"ebm.sample.init_hi", "init-hi", -1e30, 1e30, 0, 0},
};

/* Whether v may stand in for its option; warns and answers false when not. */
static bool meta_in_bounds(const ebm_meta *m, const char *key, double v) {
    for (size_t i = 0; i < sizeof meta_bounds / sizeof meta_bounds[0]; i++) {
        if (strcmp(meta_bounds[i].key, key) != 0) continue;
        double lo = meta_bounds[i].lo, hi = meta_bounds[i].hi;
        bool ok = (meta_bounds[i].lo_open ? v > lo : v >= lo) && (meta_bounds[i].hi_open ? v < hi : v <= hi);
        if (!ok)
            fprintf(stderr, "ebm: warning: ignoring the model file's %s = %s: outside --%s's bounds %s%g, %g%s; "
                    "the default is used\n", key, ebm_meta_get(m, key), meta_bounds[i].option,
                    meta_bounds[i].lo_open ? "(" : "[", lo, hi, meta_bounds[i].hi_open ? ")" : "]");
        return ok;
    }
    return true;
}

bool cli_meta_float(const ebm_meta *m, const char *key, float *out) {
    float v;
    if (ebm_meta_get_float(m, key, &v) != EBM_OK || !meta_in_bounds(m, key, v)) return false;
    *out = v;
    return true;
}

bool cli_meta_size(const ebm_meta *m, const char *key, size_t *out) {
    size_t v;
    if (ebm_meta_get_size(m, key, &v) != EBM_OK || !meta_in_bounds(m, key, (double)v)) return false;
    *out = v;
    return true;
}

/* The library reads only the JSON header (ebm_model_kind), so that a large data file named on a command line
 * costs nothing; the loaders validate the whole file afterwards.  Only regular files are asked: a pipe among
 * the arguments must not be consumed by looking at it.  A well-formed file of a kind this version does not
 * know still gives its ebm.model, so that the caller can say so. */
void cli_sample_meta(const ebm_meta *m, size_t *steps, bool steps_seen, float *T, bool t_seen, int *init,
                     bool init_seen) {
    if (!steps_seen) cli_meta_size(m, "ebm.sample.steps", steps);
    if (!t_seen) cli_meta_float(m, "ebm.sample.temperature", T);
    if (!(*T > 0)) *T = 1.0f;
    const char *v = init && !init_seen ? ebm_meta_get(m, "ebm.sample.init") : NULL;
    if (v && strcmp(v, "data") == 0) *init = 1;
}

bool cli_model_kind(const char *path, char *kind, size_t cap) {
    struct stat st;
    ebm_kind k;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    ebm_status s = ebm_model_kind(path, &k);
    if (s == EBM_OK) {
        snprintf(kind, cap, "%s", ebm_kind_name(k));
        return true;
    }
    ebm_meta *meta = NULL;
    bool named = s == EBM_EFORMAT && ebm_safetensors_read_meta(path, &meta) == EBM_OK && ebm_meta_get(meta, "ebm.model");
    if (named) snprintf(kind, cap, "%s", ebm_meta_get(meta, "ebm.model"));
    ebm_meta_free(meta);
    return named;
}

/* "wrote PATH" unless quiet, or the error s; false after an error. */
static bool wrote(const char *cmd, bool quiet, const char *path, ebm_status s) {
    if (s) return cli_lib_error(cmd, s), false;
    if (!quiet) fprintf(stderr, "wrote %s\n", path);
    return true;
}

bool cli_write_samples(const char *cmd, bool quiet, const float *x, size_t n, size_t d, bool pm1, const char *png,
                       const char *npy, const char *csv, size_t h, size_t w, size_t cols, size_t zoom) {
    if (png) {
        float *img = malloc(n * d * sizeof(float));
        if (!img) return cli_error(cmd, "out of memory"), false;
        for (size_t i = 0; i < n * d; i++) img[i] = pm1 ? 0.5f * (x[i] + 1.0f) : x[i];
        ebm_grid_opts go;
        ebm_grid_opts_default(&go);
        go.cols = cols;
        go.zoom = zoom;
        ebm_status s = ebm_png_grid(png, img, n, h, w, &go);
        free(img);
        if (!wrote(cmd, quiet, png, s)) return false;
    }
    const ebm_array a = {EBM_F32, 2, {n, d}, (void *)x}; /* views of x for the writers */
    const ebm_mat m = {n, d, (float *)x};
    return (!npy || wrote(cmd, quiet, npy, ebm_npy_write(npy, &a))) &&
           (!csv || wrote(cmd, quiet, csv, ebm_csv_write(csv, &m)));
}

ebm_dataset *cli_load_like_model(const char *cmd, const char *spec, cli_data_args *da, const ebm_meta *meta,
                                 size_t n_vis, bool unit_range, bool quiet) {
    cli_data_args_from_model(da, meta);
    ebm_data_opts o;
    if (!cli_data_opts(cmd, da, &o)) return NULL;
    ebm_dataset *ds = cli_load_data(cmd, spec, &o, quiet);
    if (!ds) return NULL;
    if (ds->x->cols != n_vis) {
        cli_error(cmd, "%s has %zu columns but the model has %zu visible units", spec, ds->x->cols, n_vis);
    } else if (unit_range && ebm_mat_check_range(ds->x, 0.0f, 1.0f, spec)) {
        cli_error(cmd, "%s; the model needs values in [0, 1] (try --scale minmax)", ebm_last_error());
    } else {
        return ds;
    }
    ebm_dataset_free(ds);
    return NULL;
}

int32_t *cli_load_labels(const char *cmd, const char *path, size_t n, bool exact, size_t k) {
    int32_t *y;
    ebm_status s = ebm_labels_load(path, n, exact, k, &y);
    return s ? (cli_lib_error(cmd, s), NULL) : y;
}

int cli_sample_out_check(const char *cmd, const cli_sample_out *o, bool other) {
    if (!o->png && !o->npy && !o->csv && !other) return cli_error(cmd, "nothing to write: give --png, --npy and/or --csv");
    if ((o->png && !cli_check_writable(cmd, "--png", o->png)) || (o->npy && !cli_check_writable(cmd, "--npy", o->npy)) ||
        (o->csv && !cli_check_writable(cmd, "--csv", o->csv)))
        return 1;
    return -1;
}

size_t cli_chains(size_t n, size_t *first) {
    size_t hi;
    ebm_chain_range(n, ebm_comm_rank(cli_comm()), ebm_comm_size(cli_comm()), first, &hi);
    if (hi > *first) return hi - *first;
    *first = 0;
    return 1;
}

int cli_chains_gather(const char *cmd, const float **x, size_t n, size_t d, float **owned) {
    size_t ranks = ebm_comm_size(cli_comm()), rank = ebm_comm_rank(cli_comm()), lo, hi;
    if (ranks == 1) return -1;
    size_t *counts = malloc(ranks * sizeof *counts);
    *owned = rank == 0 ? malloc(n * d * sizeof **owned) : NULL;
    if (!counts || (rank == 0 && !*owned)) {
        free(counts);
        return cli_error(cmd, "out of memory for %zu samples", n);
    }
    for (size_t r = 0; r < ranks; r++) {
        ebm_chain_range(n, r, ranks, &lo, &hi);
        counts[r] = (hi - lo) * d;
    }
    ebm_status s = ebm_comm_gather_f32(cli_comm(), *x, counts[rank], counts, *owned);
    free(counts);
    if (s) return cli_lib_error(cmd, s);
    *x = *owned;
    return rank ? 0 : -1;
}

bool cli_sample_out_write(const char *cmd, bool quiet, const cli_sample_out *o, const float *x, size_t n, size_t d,
                          bool pm1, size_t h, size_t w) {
    return cli_write_samples(cmd, quiet, x, n, d, pm1, o->png, o->npy, o->csv, h, w, o->cols, o->zoom);
}

void cli_print_meta(const ebm_meta *m, bool json) {
    for (size_t i = 0; i < ebm_meta_count(m); i++) {
        const char *k, *v;
        ebm_meta_at(m, i, &k, &v);
        if (json) {
            if (i) printf(", ");
            cli_json_string(stdout, k);
            printf(": ");
            cli_json_string(stdout, v);
        } else {
            printf("  %-26s %s\n", k, v);
        }
    }
}

bool cli_fixed_threads(void) {
    const char *f = getenv("EBM_FIXED_THREADS");
    return f && *f && strcmp(f, "0") != 0;
}

void cli_give_way_begin(ebm_give_way *g) {
    if (cli_fixed_threads()) memset(g, 0, sizeof *g); /* want 0: check and end do nothing */
    else ebm_give_way_begin(g);
}

int cli_run_sweeps(const char *cmd, cli_progress *prog, size_t steps, ebm_status (*sweep)(void *ctx, size_t n),
                   void *ctx) {
    double t0 = cli_now();
    ebm_give_way gw; /* fewer threads while other programs compete for the CPUs (ebm.h) */
    cli_give_way_begin(&gw);
    int rc = -1;
    for (size_t done = 0; done < steps;) {
        size_t chunk = steps - done < 10 ? steps - done : 10;
        ebm_status s = sweep(ctx, chunk);
        if (s) {
            rc = cli_lib_error(cmd, s);
            break;
        }
        done += chunk;
        char detail[112];
        int nt = ebm_give_way_check(&gw);
        if (gw.want > nt) snprintf(detail, sizeof detail, "%zu/%zu sweeps, %d of %d threads", done, steps, nt, gw.want);
        else snprintf(detail, sizeof detail, "%zu/%zu sweeps", done, steps);
        cli_progress_bar(prog, "sampling", (double)done / (double)steps, detail);
        if (cli_interrupted()) {
            cli_progress_end(prog);
            cli_error(cmd, "interrupted after %zu sweeps; nothing written", done);
            rc = 130;
            break;
        }
    }
    ebm_give_way_end(&gw);
    if (rc < 0) cli_progress_line(prog, "%zu sweeps in %.2f s", steps, cli_now() - t0);
    return rc;
}

int cli_info_start(int argc, char **argv, const char *usage, const char *about, cli_info_args *a, const char **path) {
    *a = (cli_info_args){NULL, NULL, 100, 0, 2, false};
    const cli_opt opts[] = {
        {"json", OPT_FLAG, &a->json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        {"filters", OPT_STR, &a->filters, "PNG", "write the first hidden units' weights as a grid picture", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"n-filters", OPT_SIZE, &a->nf, "N", "how many hidden units to draw", 1, 1e6, 0, 0, NULL, NULL},
        {"cols", OPT_SIZE, &a->cols, "C", "tiles per row in the picture (0 = square)", 0, 1e4, 0, 0, NULL, NULL},
        {"zoom", OPT_SIZE, &a->zoom, "Z", "pixel magnification in the picture", 1, 32, 0, 0, NULL, NULL},
        {"shape", OPT_STR, &a->shape, "HxW", "image shape when the model does not record one", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    int rc = cli_start_model("info", argc, argv, opts, usage, about, path);
    if (rc < 0 && a->filters && !cli_check_writable("info", "--filters", a->filters)) rc = 1;
    return rc;
}

int cli_info_json_start(int argc, char **argv, const char *about, bool *json, const char **path) {
    const cli_opt opts[] = {CLI_JSON_OPTION(*json), OPT_END};
    return cli_start_model("info", argc, argv, opts, "ebm info MODEL [--json]", about, path);
}

bool cli_info_filters(const cli_info_args *a, bool quiet, const float *W, size_t n_vis, size_t n_hid, size_t height,
                      size_t width) {
    size_t h, w, nf = a->nf < n_hid ? a->nf : n_hid;
    if (!a->filters) return true;
    if (!cli_image_shape("info", n_vis, height, width, a->shape, &h, &w)) return false;
    float *tiles = malloc(nf * n_vis * sizeof *tiles);
    if (!tiles) return cli_error("info", "out of memory"), false;
    for (size_t j = 0; j < nf; j++)
        for (size_t i = 0; i < n_vis; i++) tiles[j * n_vis + i] = W[i * n_hid + j];
    ebm_grid_opts go;
    ebm_grid_opts_default(&go);
    go.cols = a->cols;
    go.zoom = a->zoom;
    go.norm = EBM_GRID_SYMMETRIC;
    ebm_status s = ebm_png_grid(a->filters, tiles, nf, h, w, &go);
    free(tiles);
    if (s) return cli_lib_error("info", s), false;
    if (!quiet) fprintf(stderr, "wrote %s (%zu hidden units)\n", a->filters, nf);
    return true;
}

void cli_json_numbers(FILE *f, const char *const *keys, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", keys[i]);
        cli_json_number(f, v[i]);
    }
}

void cli_stat_line(const char *name, int width, const float *x, size_t n, size_t skip, bool half_exp) {
    ebm_param_stats s;
    ebm_param_stats_of(x, n, skip, half_exp, &s);
    printf("  %-*s mean %+.4f  std %.4f  min %+.4f  max %+.4f\n", width, name, s.mean, s.std, s.min, s.max);
}

cli_report cli_report_begin(bool json, const char *key, const char *path) {
    if (json) {
        printf("{\"%s\": ", key);
        cli_json_string(stdout, path);
    }
    return (cli_report){json};
}

void cli_report_str(const cli_report *r, const char *key, const char *v) {
    if (!r->json) return;
    printf(", \"%s\": ", key);
    cli_json_string(stdout, v);
}

void cli_report_json(const cli_report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (r->json) vprintf(fmt, ap);
    va_end(ap);
}

void cli_report_text(const cli_report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!r->json) vprintf(fmt, ap);
    va_end(ap);
}

void cli_report_num(const cli_report *r, const char *key, double v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (r->json) {
        printf(", \"%s\": ", key);
        cli_json_number(stdout, v);
    } else if (fmt) {
        vprintf(fmt, ap);
    }
    va_end(ap);
}

void cli_report_meta_end(const cli_report *r, const ebm_meta *m) {
    fputs(r->json ? ", \"metadata\": {" : "metadata:\n", stdout);
    cli_print_meta(m, r->json);
    if (r->json) printf("}}\n");
}

void cli_report_end(const cli_report *r, double seconds) {
    if (r->json) printf(", \"seconds\": %.3f}\n", seconds);
}

long long cli_file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}
