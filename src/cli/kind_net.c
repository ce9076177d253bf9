/* The command line of neural-network energies (ebm.model = "net"), JEM classifiers ("jem") and, for
 * sampling, composed models: `ebm train ebm` (Langevin contrastive divergence with a replay
 * buffer, short-run or persistent chains), `ebm train jem`, `ebm sample` and `ebm info`, and
 * what the application commands on these models share (app_*.c): loading a model, its sampler settings
 * (those not given on the command line come from the model's ebm.sample.*, written at training time, so a
 * model samples the way it was trained), running the sampler, noise starts and density pictures.  Images
 * are scaled to [-1, 1] by default ("pm1") and pictures map them back. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sampler settings ---- */

/* The settings a does not have from the command line taken from the model's ebm.sample.* (m may be NULL), then
 * the sampler options o; false after printing an error. */
static bool samp_opts(const char *cmd, cli_samp_args *a, const ebm_meta *m, ebm_mcmc_opts *o) {
    const char *s = m ? ebm_meta_get(m, "ebm.sample.sampler") : NULL;
    size_t z;
    float v;
    if (!a->sampler_seen && s) a->sampler = s;
    if (m && !a->steps_seen && cli_meta_size(m, "ebm.sample.steps", &z) && z >= 1) a->steps = z;
    if (m && !a->leapfrog_seen && cli_meta_size(m, "ebm.sample.leapfrog", &z) && z >= 1) a->leapfrog = z;
    if (m && !a->step_seen && cli_meta_float(m, "ebm.sample.step_size", &v) && v > 0) a->step_size = v;
    if (m && !a->noise_seen && cli_meta_float(m, "ebm.sample.noise", &v) && v >= 0) a->noise = v;
    if (m && !a->clip_lo_seen) cli_meta_float(m, "ebm.sample.clip_lo", &a->clip_lo);
    if (m && !a->clip_hi_seen) cli_meta_float(m, "ebm.sample.clip_hi", &a->clip_hi);
    if (m && !a->lo_seen) cli_meta_float(m, "ebm.sample.init_lo", &a->init_lo);
    if (m && !a->hi_seen) cli_meta_float(m, "ebm.sample.init_hi", &a->init_hi);
    ebm_mcmc_opts_default(o);
    if (ebm_mcmc_parse(a->sampler, &o->kind)) return cli_error(cmd, "--sampler: %s", ebm_last_error()), false;
    o->steps = a->steps;
    o->step_size = a->step_size;
    o->noise = a->noise;
    o->leapfrog = a->leapfrog;
    o->temperature = a->temperature;
    o->seed = a->seed;
    bool mh = o->kind != EBM_MCMC_ULA && o->kind != EBM_MCMC_SGLD;
    if (m && !mh && !a->sampler_seen) cli_meta_float(m, "ebm.sample.prox", &o->prox); /* trained with proximal steps */
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

void cli_net_model_free(cli_net_model *nm) {
    ebm_energy_free(nm->e);
    ebm_model_free(nm->model);
    memset(nm, 0, sizeof *nm);
}

/* The library loads any kind (a composed model with its parts) and makes its energy; the commands here
 * take the energies of networks, classifiers and composed models. */
static bool net_model_load(const char *cmd, const char *path, cli_net_model *nm) {
    memset(nm, 0, sizeof *nm);
    if (!(nm->model = cli_model_load(cmd, path))) return false;
    ebm_kind k = ebm_model_kind_of(nm->model);
    ebm_status s = EBM_OK;
    if (k != EBM_KIND_NET && k != EBM_KIND_JEM && k != EBM_KIND_COMPOSE)
        cli_error(cmd, "%s: not an energy network or a composed model; this is a '%s' model", path, ebm_kind_name(k));
    else if ((s = ebm_model_energy(nm->model, &nm->e)))
        cli_lib_error(cmd, s);
    if (!nm->e) {
        cli_net_model_free(nm);
        return false;
    }
    nm->net = ebm_model_net(nm->model);
    nm->comp = ebm_model_composed(nm->model);
    nm->meta = ebm_model_meta(nm->model);
    nm->dim = ebm_model_input_size(nm->model);
    nm->classes = ebm_model_classes(nm->model);
    ebm_net_input_shape(nm->meta, nm->dim, &nm->c, &nm->h, &nm->w);
    bool grey = nm->c == 1 && nm->h > 1 && nm->w > 1;
    nm->ih = grey ? nm->h : 0;
    nm->iw = grey ? nm->w : 0;
    const char *sc = ebm_meta_get(nm->meta, "ebm.data.scale");
    nm->pm1 = sc && strcmp(sc, "pm1") == 0;
    return true;
}

int cli_net_open(int rc, const char *cmd, const char *path, const char *needs, cli_net_model *nm,
                 cli_samp_args *sa) {
    char kind[32];
    if (rc >= 0) return rc;
    if (needs && !cli_model_kind(path, kind, sizeof kind)) return cli_error(cmd, "%s: not a model file", path);
    if (needs && strcmp(kind, "net") != 0 && strcmp(kind, "jem") != 0 && strcmp(kind, "compose") != 0)
        return cli_error(cmd, "%s: %s; this is a '%s' model", path, needs, kind);
    if (!net_model_load(cmd, path, nm)) return 1;
    if (sa && !samp_opts(cmd, sa, nm->meta, &nm->mc)) {
        cli_net_model_free(nm);
        return 2;
    }
    return -1;
}

/* ---- sampling ---- */

int cli_parse_classes(const char *cmd, const char *arg, const ebm_meta *meta, size_t k, int32_t *out, size_t cap) {
    size_t n;
    if (k == 0)
        return cli_error(cmd, "--class needs a classifier model (ebm train jem); this one is a plain energy"), -1;
    if (ebm_classes_parse(arg, meta, k, out, cap, &n)) return cli_error(cmd, "--class: %s", ebm_last_error()), -1;
    return (int)n;
}

typedef struct {
    cli_progress prog;
    const char *label;
    ebm_give_way gw;
} mc_progress;

/* Called between sampler steps (outside their parallel regions): the progress, and giving way. */
static int on_mc(double fraction, void *user) {
    mc_progress *p = user;
    char detail[48] = "";
    int nt = ebm_give_way_check(&p->gw);
    if (p->gw.want > nt) snprintf(detail, sizeof detail, "%d of %d threads", nt, p->gw.want);
    cli_progress_bar(&p->prog, p->label, fraction, detail);
    return cli_interrupted() ? 1 : 0;
}

bool cli_net_run_sampler(const char *cmd, ebm_energy *e, float *x, size_t n, ebm_mcmc_opts *o, bool quiet,
                         const char *label) {
    mc_progress p;
    cli_progress_init(&p.prog, quiet);
    p.label = label;
    o->progress = on_mc;
    o->user = &p;
    cli_install_sigint();
    ebm_mcmc_stats st;
    size_t first, count = cli_chains(n, &first); /* over several processes (ebm sample), this one's chains */
    cli_give_way_begin(&p.gw);
    ebm_status s = ebm_mcmc_run_slice(e, x + first * e->dim, first, count, o, &st);
    ebm_give_way_end(&p.gw);
    if (s) {
        cli_progress_end(&p.prog);
        if (s == EBM_ECANCELED) cli_error(cmd, "interrupted (%s); nothing written", ebm_last_error());
        else cli_lib_error(cmd, s);
        return false;
    }
    char acc[64] = "";
    if (o->kind != EBM_MCMC_ULA && o->kind != EBM_MCMC_SGLD)
        snprintf(acc, sizeof acc, ", acceptance %.3f", st.accept_rate);
    cli_progress_line(&p.prog, "%s: %zu %s steps on %zu chains in %.1f s%s", label, o->steps, ebm_mcmc_name(o->kind), n,
                      st.seconds, acc);
    return true;
}

void cli_net_noise_start(float *x, size_t n, size_t dim, const cli_samp_args *sa) {
    ebm_noise z;
    ebm_noise_default(&z);
    z.lo = sa->init_lo;
    z.hi = sa->init_hi;
    ebm_rng r;
    ebm_rng_seed(&r, sa->seed, 0x6e6f697365ull);
    ebm_noise_fill(&z, ebm_rng_u64(&r), x, n, dim);
}

ebm_status cli_gauss_draws(const ebm_dataset *d, const int32_t *cls, uint64_t seed, float *x, size_t n,
                           size_t *classes) {
    float lo, hi;
    ebm_lcd_data_range(d->x, &lo, &hi);
    ebm_gauss_start *g = NULL;
    ebm_status s = ebm_gauss_start_fit(d->x, d->labels, lo, hi, &g);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0x6761757373ull); /* "gauss" */
    uint64_t key = ebm_rng_u64(&r);
    if (!s) s = cls ? ebm_gauss_start_fill_classes(g, key, 0, x, n, cls) : ebm_gauss_start_fill(g, key, 0, x, n, NULL);
    if (!s && classes) *classes = ebm_gauss_start_classes(g);
    ebm_gauss_start_free(g);
    return s;
}

void *cli_net_alloc(const char *cmd, size_t bytes) {
    void *p = malloc(bytes);
    if (!p) cli_error(cmd, "out of memory");
    return p;
}

/* ---- data preprocessed as in training ---- */

ebm_dataset *cli_net_load_rows(const char *cmd, const char *spec, const cli_net_model *nm, size_t limit, bool quiet) {
    cli_data_args da = CLI_DATA_ARGS("auto", "none", limit);
    return cli_model_rows(cmd, nm->model, spec, &da, quiet);
}

ebm_dataset *cli_net_load_slice(const char *cmd, const char *spec, const cli_net_model *nm, size_t offset, size_t *n,
                                bool quiet) {
    if (!cli_model_data(cmd, &spec, nm->meta, "--data is required")) return NULL;
    ebm_dataset *d = cli_net_load_rows(cmd, spec, nm, 0, quiet);
    if (d && offset >= d->x->rows) {
        cli_error(cmd, "--offset %zu is past the %zu rows of %s", offset, d->x->rows, spec);
        ebm_dataset_free(d);
        return NULL;
    }
    if (d && *n > d->x->rows - offset) *n = d->x->rows - offset;
    return d;
}

/* ---- ebm train ebm / ebm train jem ---- */

static const char *const train_about =
    "Train a neural-network energy E(x) by Langevin contrastive divergence: each iteration draws a data\n"
    "batch and as many negatives from the sampler, then lowers E on the data and raises it on the\n"
    "negatives, L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2) (Du & Mordatch 2019).\n"
    "Negatives start from a replay buffer with 5% noise restarts (--negatives buffer), from noise every\n"
    "time (short-run, Nijkamp et al. 2019) or from persistent chains.  Images are scaled to [-1, 1], and\n"
    "their defaults are --negatives short-run --steps 40 --step-size 10 --prox 0.3 --noise 0.005\n"
    "--data-noise 0.005, chains clipped to [-1, 1] (proximal SGLD: no pixel moves more than 0.3 per step).\n"
    "toy:NAME gives 2-D densities, for which (any data of at most 16 values per row that is not an image)\n"
    "the defaults are --sampler ula --step-size 0.01 --steps 40 --lr 3e-3 with chains clipped to the data's\n"
    "box; other data get a replay buffer and SGLD of step 1, noise 0.01, 20 steps.  A diverging or\n"
    "interrupted run keeps the last good parameters in NAME.partial.safetensors and never touches --out.\n"
    "See docs/train.md.";

static const char *const jem_about =
    "Train a classifier network as a joint energy-based model (JEM, Grathwohl et al. 2020): its logits f(x)\n"
    "give p(y | x) = softmax(f(x)) and E(x) = -log sum_y exp f(x)[y]; each iteration adds the batch's\n"
    "cross-entropy to --gen-weight times the Langevin contrastive divergence of E.  Images' defaults:\n"
    "--gen-weight 0.05 --lr 1e-3, class negatives (--class-negatives) from a Gaussian per class\n"
    "(--init-chains gaussian), short-run proximal SGLD as train ebm's (40 steps of size 10, noise 0.005, prox\n"
    "0.3, data noise 0.005, clipped to the data's range); measured against the classifier in docs/results.md.\n"
    "Other data: the paper's replay buffer with SGLD of step 1 and noise 0.01, 20 steps, gen-weight 1.\n"
    "--objective clf trains the same network on the cross-entropy alone (no sampling), the discriminative\n"
    "baseline, at the same learning rate.  The data must carry labels (fashion-mnist, toy:NAME).  See\n"
    "docs/jem.md.";

/* Everything `train ebm` and `train jem` set up before the run. */
typedef struct {
    const char *cmd, *spec, *samples;
    int objective, negatives, optimizer; /* jem|clf, buffer|short-run|persistent, adam|sgd */
    int init_chains;                     /* noise|gaussian */
    int precision;                       /* --precision: an ebm_precision */
    float prox;                          /* --prox: proximal sampler radius (0 = off) */
    ebm_trainer *t;                      /* the trainer, for --ema's average at save time */
    bool jem, quiet, lr_seen, negatives_seen, prox_seen, data_noise_seen, class_negatives;
    bool no_class_negatives, init_seen, gen_weight_seen; /* a JEM of images: its defaults where none was given */
    bool rotations;                      /* --rotations: 4 x classes outputs, data turned 4 ways, trimmed at save */
    size_t rows0;                        /* --rotations: the data's rows before they were turned */
    cli_train_args ta;
    cli_data_args da;
    cli_samp_args sa;
    ebm_lcd_opts o;
    size_t every, checkpoint, classes;
    ebm_dataset *d;
    ebm_net *net;
} net_job;

static double or0(double v) { return isnan(v) ? 0 : v; }

/* With --ema the moving average is what is saved: swapped into the network for the write, then back. */
static ebm_status net_save(cli_run *r, const char *path) {
    net_job *j = r->user;
    bool ema = j->o.ema > 0 && j->t;
    ebm_status s = ema ? ebm_lcd_trainer_swap_ema(j->t) : EBM_OK;
    if (s) return s;
    if (j->rotations) { /* the upright classes' outputs alone: a plain classifier of the data's classes */
        ebm_net *kept = NULL;
        s = ebm_net_trim_outputs(j->net, j->classes, &kept);
        if (!s) s = ebm_meta_setf(r->meta, "ebm.data.rows", "%zu", j->rows0); /* the rows before turning */
        if (!s) s = ebm_meta_setf(r->meta, "ebm.jem.classes", "%zu", j->classes); /* the outputs kept */
        if (!s) s = ebm_meta_set(r->meta, "ebm.jem.rotations", "4");
        if (!s) s = ebm_net_save(kept, r->meta, path);
        ebm_net_free(kept);
    } else {
        s = ebm_net_save(j->net, r->meta, path);
    }
    if (ema) ebm_lcd_trainer_swap_ema(j->t);
    return s;
}

static void net_detail(cli_run *r, const ebm_run_progress *p, char *buf, size_t cap) {
    (void)r;
    snprintf(buf, cap, "E+ %.3f  E- %.3f  loss %.4f", or0(p->last.e_pos), or0(p->last.e_neg), p->last.loss);
}

static void net_log_row(cli_run *r, const ebm_run_progress *p) {
    const ebm_figures *f = &p->last;
    if (r->log)
        fprintf(r->log, "%zu,%.3f,%.6g,%.6g,%.6g,%.6g,%.4f\n", p->step, p->total_seconds, f->loss, or0(f->e_pos),
                or0(f->e_neg), f->grad_norm, or0(f->accept));
}

static int class_negatives_buffer(const char *cmd) {
    return cli_error(cmd, "--class-negatives needs --negatives short-run or persistent (a replay buffer's chains "
                          "would change class between draws)"), 2;
}

/* The checks of option combinations; -1 to go on, else the exit status. */
static int net_settle(net_job *j) {
    const char *cmd = j->cmd;
    ebm_lcd_opts *o = &j->o;
    if (!j->jem && (j->objective != 0 || o->gen_weight != 1.0f))
        return cli_error(cmd, "--objective and --gen-weight go with 'ebm train jem'"), 2;
    if (j->objective == 1) o->gen_weight = 0;
    if (j->rotations && !j->jem) return cli_error(cmd, "--rotations goes with 'ebm train jem'"), 2;
    if ((j->class_negatives || j->no_class_negatives) && !j->jem)
        return cli_error(cmd, "--%sclass-negatives goes with 'ebm train jem'", j->class_negatives ? "" : "no-"), 2;
    if (j->class_negatives && j->no_class_negatives)
        return cli_error(cmd, "--class-negatives and --no-class-negatives contradict each other"), 2;
    o->class_negatives = j->class_negatives;
    o->mode = (ebm_neg_mode)j->negatives;
    if (j->class_negatives && j->negatives_seen && o->mode == EBM_NEG_BUFFER)
        return class_negatives_buffer(cmd);
    o->optim.kind = j->optimizer == 0 ? EBM_OPTIM_ADAM : EBM_OPTIM_SGD;
    if (o->mode == EBM_NEG_BUFFER && o->buffer < o->batch)
        return cli_error(cmd, "--buffer %zu must hold at least one --batch (%zu)", o->buffer, o->batch), 2;
    o->init = j->init_chains == 1 ? EBM_INIT_GAUSSIAN : EBM_INIT_NOISE;
    int rc = cli_train_check(cmd, &j->ta);
    if (rc >= 0) return rc;
    if (!cli_precision_check(cmd, j->precision)) return 2;
    if (j->samples && !cli_check_writable(cmd, "--samples", j->samples)) return 1;
    return -1;
}

/* The data (labels and classes for a JEM), the network initialised and the chains' start range; -1 to go on. */
static int net_prepare(net_job *j) {
    const char *cmd = j->cmd;
    if (!j->da.scale_seen) j->da.scale = strncmp(j->ta.data, "toy:", 4) == 0 ? "none" : "pm1";
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &j->da, &dopts)) return 2;
    j->da.binarize = NULL; /* no binarisation: none recorded */
    dopts.seed = j->sa.seed;
    if (!(j->d = cli_load_data(cmd, j->ta.data, &dopts, j->quiet))) return 1;
    const ebm_mat *x = j->d->x;
    size_t dim = x->cols;
    bool image = j->d->height > 1 && j->d->width > 1 && j->d->height * j->d->width == dim;
    if (j->jem && !j->d->labels)
        return cli_error(cmd, "%s has no labels (a JEM needs labelled data: fashion-mnist, toy:NAME, or IDX images with "
                              "their labels file)", j->ta.data);
    ebm_status s = j->jem ? ebm_structured_classes(j->d->labels, x->rows, &j->classes) : EBM_OK;
    if (s) return cli_lib_error(cmd, s);
    if (j->rotations && !(image && j->d->height == j->d->width))
        return cli_error(cmd, "--rotations turns square images; %s has %zu values per row%s", j->ta.data, dim,
                         image ? " in a non-square image" : " and no image shape"), 2;
    size_t outs = j->rotations ? 4 * j->classes : j->classes; /* joint (class, turn) labels y + classes x turn */
    if (ebm_net_new_for_data(j->spec, dim, j->d->height, j->d->width, j->jem ? outs : 1, &j->net))
        return cli_error(cmd, "--net: %s", ebm_last_error()), 2;
    size_t k = ebm_net_output_size(j->net);
    if (j->jem && k != outs)
        return cli_error(cmd, "--net has %zu outputs but the data has %zu classes%s", k, j->classes,
                         j->rotations ? " and --rotations needs 4 outputs a class" : "");
    if (j->rotations) {
        ebm_net *kept = NULL; /* the model saved at the end: refused now (an SN last layer), not after training */
        if (ebm_net_trim_outputs(j->net, j->classes, &kept)) return cli_error(cmd, "--rotations: %s", ebm_last_error()), 2;
        ebm_net_free(kept);
        ebm_mat *xr = NULL;
        int32_t *yr = malloc(4 * x->rows * sizeof *yr);
        if (!yr || (s = ebm_mat_new(4 * x->rows, dim, &xr)) ||
            (s = ebm_rotations(x->data, j->d->labels, x->rows, j->d->width, j->classes, xr->data, yr))) {
            free(yr);
            ebm_mat_free(xr);
            if (!s) return cli_error(cmd, "--rotations: out of memory for %zu rows", 4 * x->rows);
            return cli_lib_error(cmd, s);
        }
        j->rows0 = x->rows;
        ebm_mat_free(j->d->x);
        free(j->d->labels);
        j->d->x = xr;
        j->d->labels = yr;
        x = xr;
    }
    if (!j->jem && k != 1)
        return cli_error(cmd, "--net must end in a layer of width 1 (an energy), e.g. ...,linear:1; this one has %zu "
                              "outputs", k);
    ebm_rng init;
    ebm_rng_seed(&init, j->sa.seed, 100);
    if ((s = ebm_net_init(j->net, &init)) || (s = ebm_net_set_precision(j->net, (ebm_precision)j->precision)))
        return cli_lib_error(cmd, s);
    /* chains start uniform over the data's range unless told otherwise */
    float lo, hi;
    ebm_lcd_data_range(x, &lo, &hi);
    if (!j->sa.lo_seen) j->sa.init_lo = lo;
    if (!j->sa.hi_seen) j->sa.init_hi = hi;
    /* low-dimensional data: the library's settings for it where the command line gave none */
    ebm_lcd_opts low = j->o;
    low.noise.lo = j->sa.init_lo;
    low.noise.hi = j->sa.init_hi;
    ebm_lcd_opts_for_data(&low, dim, image);
    /* images: short-run proximal SGLD; a JEM's chains also sample each class from its Gaussian */
    if (image && j->jem) ebm_lcd_opts_for_image_jem(&low);
    else if (image) ebm_lcd_opts_for_image_energy(&low);
    if (!j->sa.sampler_seen) j->sa.sampler = ebm_mcmc_name(low.mcmc.kind);
    if (!j->sa.step_seen) j->sa.step_size = low.mcmc.step_size;
    if (!j->sa.steps_seen) j->sa.steps = low.mcmc.steps;
    if (!j->sa.noise_seen) j->sa.noise = low.mcmc.noise;
    if (!j->lr_seen) j->o.optim.lr = low.optim.lr;
    if (!j->negatives_seen) j->negatives = (int)(j->o.mode = low.mode);
    bool clf = j->jem && j->objective == 1; /* the plain classifier takes the image JEM's learning rate alone */
    if (!j->data_noise_seen && !clf) j->o.data_noise = low.data_noise;
    if (image && j->jem && !clf) { /* ebm_lcd_opts_for_image_jem's, where the command line gave none */
        if (!j->init_seen) j->o.init = low.init;
        if (!j->gen_weight_seen) j->o.gen_weight = low.gen_weight;
        if (!j->class_negatives && !j->no_class_negatives) /* not with a replay buffer given */
            j->o.class_negatives = low.class_negatives && j->o.mode != EBM_NEG_BUFFER;
    }
    if (j->o.class_negatives && j->o.mode == EBM_NEG_BUFFER) return class_negatives_buffer(cmd);
    bool langevin = strcmp(j->sa.sampler, "ula") == 0 || (image && strcmp(j->sa.sampler, "sgld") == 0);
    if (!j->prox_seen && langevin) j->prox = low.mcmc.prox;
    if (!j->sa.clip_lo_seen && !j->sa.clip_hi_seen && langevin) {
        j->sa.clip_lo = low.mcmc.clip_lo;
        j->sa.clip_hi = low.mcmc.clip_hi;
    }
    if (!samp_opts(cmd, &j->sa, NULL, &j->o.mcmc)) return 2;
    if (j->prox > 0 && j->o.mcmc.kind != EBM_MCMC_ULA && j->o.mcmc.kind != EBM_MCMC_SGLD)
        return cli_error(cmd, "--prox goes with --sampler ula or sgld (it would break %s's Metropolis correction)",
                         ebm_mcmc_name(j->o.mcmc.kind)), 2;
    j->o.mcmc.prox = j->prox;
    j->o.noise.lo = j->sa.init_lo;
    j->o.noise.hi = j->sa.init_hi;
    j->o.seed = j->sa.seed;
    j->o.sn_net = j->net;
    return -1;
}

/* --samples: the last negatives (a density picture with the data for 2-D data); false after an error. */
static bool net_samples_png(net_job *j, ebm_trainer *t, ebm_energy *e) {
    size_t n, dim = j->d->x->cols;
    const float *neg = ebm_lcd_trainer_negatives(t, &n);
    if (j->jem) {
        if (!j->quiet) fprintf(stderr, "--samples: not written for a JEM (sample it with 'ebm sample')\n");
    } else if (dim == 2) {
        size_t nd = j->d->x->rows < 2000 ? j->d->x->rows : 2000;
        ebm_status s = ebm_energy_density_png(e, j->samples, j->sa.init_lo, j->sa.init_hi, j->d->x->data, nd, neg, n);
        if (s) return cli_lib_error(j->cmd, s), false;
        if (!j->quiet) fprintf(stderr, "wrote %s\n", j->samples);
    } else if (j->d->height > 1 && j->d->width > 1 && j->d->height * j->d->width == dim) {
        return cli_write_samples(j->cmd, j->quiet, neg, n < 64 ? n : 64, dim, strcmp(j->da.scale, "pm1") == 0,
                                 j->samples, NULL, NULL, j->d->height, j->d->width, 0, 2);
    } else if (!j->quiet) {
        fprintf(stderr, "--samples: no picture for %zu-dimensional data without an image shape\n", dim);
    }
    return true;
}

static const char *const neg_names[] = {"buffer", "short-run", "persistent"};

/* The run through the shared runner; checkpoints carry the provenance known before it. */
static int net_run(net_job *j, int argc, char **argv) {
    ebm_trainer *t = NULL;
    ebm_energy *e = NULL;
    ebm_meta *meta = NULL;
    ebm_run_opts ro;
    ebm_lcd_run_opts(&j->o, &ro);
    ebm_status s = ebm_meta_new(&meta);
    if (!s) s = j->jem ? ebm_jem_trainer_new(j->net, &j->o, &t) : ebm_net_energy(j->net, EBM_NET_HEAD_SCALAR, &e);
    if (!s && !j->jem) s = ebm_lcd_trainer_new(e, &j->o, &t);
    j->t = t;
    cli_run r = {.cmd = j->cmd, .kind = j->jem ? "jem" : "ebm", .ta = &j->ta, .d = j->d, .da = &j->da,
                 .quiet = j->quiet, .argc = argc, .argv = argv, .meta = meta,
                 .log_header = "iter,seconds,loss,e_pos,e_neg,grad_norm,accept", .save = net_save,
                 .detail = net_detail, .on_iter = net_log_row, .user = j};
    r.every = j->checkpoint && j->checkpoint < j->every ? j->checkpoint : j->every;
    r.checkpoint_every = j->checkpoint;
    if (!s) s = ebm_meta_set(meta, "ebm.model", j->jem ? "jem" : "net");
    if (!s) s = ebm_meta_set(meta, "ebm.net.head", j->jem ? "logsumexp" : "scalar");
    if (!s) s = cli_data_meta(meta, j->ta.data, j->d, &j->da);
    if (!s) s = ebm_run_describe(t, &ro, &r.res, meta);
    int rc = s ? cli_lib_error(j->cmd, s) : 0;
    size_t np;
    ebm_net_params(j->net, &np);
    if (!rc && !j->quiet)
        fprintf(stderr, "training energy net (%zu parameters) on %zu x %zu by LCD (%s, %s %zu steps, step %g): %zu "
                        "iterations, batch %zu%s\n", np, j->d->x->rows, j->d->x->cols, neg_names[j->negatives],
                ebm_mcmc_name(j->o.mcmc.kind), j->o.mcmc.steps, (double)j->o.mcmc.step_size, j->o.iters, j->o.batch,
                cli_precision_note(j->precision).s);
    if (!rc && !j->quiet && j->rotations)
        fprintf(stderr, "--rotations: %zu images x 4 turns, %zu classes x 4 outputs; the model saved keeps the %zu "
                        "upright classes' outputs\n", j->rows0, j->classes, j->classes);
    if (!rc) rc = cli_train_run(&r, t, j->d->x, j->d->labels, &ro);
    if (!rc && j->samples && ebm_comm_rank(cli_comm()) == 0 && !net_samples_png(j, t, e)) rc = 1;
    j->t = NULL;
    ebm_trainer_free(t);
    ebm_energy_free(e);
    ebm_meta_free(meta);
    return rc;
}

static int train_net(int argc, char **argv, bool quiet, bool jem) {
    net_job j = {.cmd = jem ? "train jem" : "train ebm", .jem = jem, .quiet = quiet, .every = 100,
                 .da = {"auto", "none", 0.5f, 0, 1, false, false, false}, .sa = CLI_SAMP_ARGS_INIT};
    ebm_lcd_opts_default(&j.o);
    const cli_opt opts[] = {
        CLI_TRAIN_OPTIONS(j.ta),
        {"net", OPT_STR, &j.spec, "SPEC", "network (docs/net.md; default: a small CNN for images, an MLP otherwise)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        CLI_SAMPLER_OPTIONS(j.sa),
        {"negatives", OPT_CHOICE, &j.negatives, NULL, "where the negative chains start (train ebm on images: short-run)", 0, 0, 0, 0, "buffer|short-run|persistent", &j.negatives_seen},
        {"buffer", OPT_SIZE, &j.o.buffer, "N", "replay buffer capacity", 1, 1e8, 0, 0, NULL, NULL},
        {"reinit", OPT_FLOAT, &j.o.reinit, "P", "fraction of buffer draws restarted from noise", 0, 1, 0, 0, NULL, NULL},
        {"init-chains", OPT_CHOICE, &j.init_chains, NULL, "where chains start: uniform noise, or a Gaussian per class fitted to the data (JEM++; train jem on images: gaussian)", 0, 0, 0, 0, "noise|gaussian", &j.init_seen},
        {"prox", OPT_FLOAT, &j.prox, "DELTA", "proximal ula/sgld (JEM++): no coordinate moves more than DELTA per step (0 = off; train ebm on images: 0.3)", 0, 1e6, 0, 0, NULL, &j.prox_seen},
        {"ema", OPT_FLOAT, &j.o.ema, "DECAY", "keep a moving average of the weights (e.g. 0.999) and save it as the model (0 = off)", 0, 1, 0, 1, NULL, NULL},
        {"alpha", OPT_FLOAT, &j.o.alpha, "A", "weight of the energy L2 regulariser", 0, 1e6, 0, 0, NULL, NULL},
        {"data-noise", OPT_FLOAT, &j.o.data_noise, "SD", "Gaussian noise added to data batches (train ebm on images: 0.005)", 0, 1e6, 0, 0, NULL, &j.data_noise_seen},
        {"optimizer", OPT_CHOICE, &j.optimizer, NULL, "optimiser", 0, 0, 0, 0, "adam|sgd", NULL},
        {"lr", OPT_FLOAT, &j.o.optim.lr, "RATE", "learning rate (low-dimensional data: 3e-3; train jem on images: 1e-3)", 0, 1e6, 1, 0, NULL, &j.lr_seen},
        {"momentum", OPT_FLOAT, &j.o.optim.momentum, "M", "SGD momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &j.o.optim.weight_decay, "L2", "L2 weight decay", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &j.o.optim.clip, "NORM", "clip the gradient's global norm (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &j.o.batch, "N", "data rows (and negatives) per iteration", 1, 1e6, 0, 0, NULL, NULL},
        {"iters", OPT_SIZE, &j.o.iters, "N", "parameter updates", 1, 1e9, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &j.da.limit, "N", "use the first N rows (toy: generate N, default 10000)", 0, 1e12, 0, 0, NULL, NULL},
        {"scale", OPT_STR, &j.da.scale, "auto|none|255|minmax|pm1", "data scaling (default: pm1 for images, none otherwise)", -INFINITY, INFINITY, 0, 0, NULL, &j.da.scale_seen},
        {"samples", OPT_STR, &j.samples, "PNG", "picture of the last negatives (2-D data: density with data and samples)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"every", OPT_SIZE, &j.every, "N", "report (and checkpoint) every N iterations", 1, 1e9, 0, 0, NULL, NULL},
        {"checkpoint", OPT_SIZE, &j.checkpoint, "N", "save NAME.partial.safetensors every N iterations (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"objective", OPT_CHOICE, &j.objective, NULL, "train jem: hybrid, or the classifier alone", 0, 0, 0, 0, "jem|clf", NULL},
        {"gen-weight", OPT_FLOAT, &j.o.gen_weight, "W", "train jem: weight of the generative term (images: 0.05)", 0, 1e6, 0, 0, NULL, &j.gen_weight_seen},
        {"rotations", OPT_FLAG, &j.rotations, NULL, "train jem: also learn every image turned 90, 180 and 270 degrees, as classes of their own (4 x the classes' outputs, the turned ones dropped at save; square images, 4 x the data in memory)", 0, 0, 0, 0, NULL, NULL},
        {"class-negatives", OPT_FLAG, &j.class_negatives, NULL, "train jem: sample each negative from p(x | y), y cycling over the data's classes (short-run or persistent negatives; on by default for images)", 0, 0, 0, 0, NULL, NULL},
        {"no-class-negatives", OPT_FLAG, &j.no_class_negatives, NULL, "train jem: negatives from p(x), not p(x | y)", 0, 0, 0, 0, NULL, NULL},
        CLI_PRECISION_OPTION(j.precision),
        OPT_END,
    };
    size_t npos;
    int rc = cli_start(j.cmd, argc, argv, opts, jem ? "ebm train jem --data SPEC --out PATH [options]"
                                                    : "ebm train ebm --data SPEC --out PATH [options]",
                       jem ? jem_about : train_about, NULL, 0, &npos);
    if (rc < 0) rc = net_settle(&j);
    if (rc < 0) rc = net_prepare(&j);
    if (rc < 0) rc = net_run(&j, argc, argv);
    ebm_net_free(j.net);
    ebm_dataset_free(j.d);
    return rc;
}

int cli_net_train(int argc, char **argv, bool quiet) { return train_net(argc, argv, quiet, false); }
int cli_jem_train(int argc, char **argv, bool quiet) { return train_net(argc, argv, quiet, true); }

/* ---- ebm sample (networks, JEM and composed models) ---- */

static const char *const sample_about =
    "Draw samples from an energy network: --n chains start from uniform noise (the training range by\n"
    "default) or, with --init-chains gaussian (the default for models trained so), from a Gaussian per class\n"
    "fitted to the training data (JEM++; with --class, each chain from its own class's), and run the sampler\n"
    "(defaults from the model file, ebm.sample.*).  Writes a PNG grid for images (a density picture with the\n"
    "samples for 2-D models), an NPY array and/or a CSV file.";

/* x (n, dim) <- draws from Gaussians fitted to spec (default: the model's training data, as many rows as it
 * trained on), one per class when the data have labels (the class drawn with its frequency, as in training);
 * chain i from class classes[i mod n_cls] when n_cls > 0.  False after printing an error. */
static bool gauss_start(const char *cmd, const cli_net_model *nm, const char *spec, const int32_t *classes,
                        size_t n_cls, uint64_t seed, float *x, size_t n, bool quiet) {
    size_t limit = 0; /* the model's own data: the rows it trained on (a toy's count, a --limit) */
    if (!spec) cli_meta_size(nm->meta, "ebm.data.rows", &limit); /* left at 0 (all) when not recorded */
    if (!cli_model_data(cmd, &spec, nm->meta, "--init-chains gaussian needs --data")) return false;
    ebm_dataset *d = cli_net_load_rows(cmd, spec, nm, limit, quiet);
    if (!d) return false;
    if (n_cls && !d->labels) { /* labelled data: a mixture of one per class, as training fits them */
        cli_error(cmd, "--class with --init-chains gaussian needs labelled data (%s has none)", spec);
        ebm_dataset_free(d);
        return false;
    }
    int32_t *cls = n_cls ? cli_net_alloc(cmd, n * sizeof *cls) : NULL;
    if (n_cls && !cls) {
        ebm_dataset_free(d);
        return false;
    }
    for (size_t i = 0; i < n && n_cls; i++) cls[i] = classes[i % n_cls];
    size_t k = 0;
    ebm_status s = cli_gauss_draws(d, cls, seed, x, n, &k);
    if (!s && !quiet)
        fprintf(stderr, "chain starts: %zu Gaussian%s fitted to %s (%zu rows)\n", k, k == 1 ? "" : "s, one per class,",
                d->source, d->x->rows);
    free(cls);
    ebm_dataset_free(d);
    return !s || (cli_lib_error(cmd, s), false);
}

/* --labels: each sample's class (chains cycle through the classes) as an int32 NPY array. */
static ebm_status write_labels(const char *path, const int32_t *classes, size_t n_cls, size_t n) {
    ebm_array *a = NULL;
    ebm_status s = ebm_array_new(EBM_I32, 1, &n, NULL, &a);
    for (size_t i = 0; !s && i < n; i++) ((int32_t *)a->data)[i] = classes[i % n_cls];
    if (!s) s = ebm_npy_write(path, a);
    ebm_array_free(a);
    return s;
}

int cli_net_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample", *cls = NULL, *labels = NULL, *path, *data = NULL;
    size_t n = 64;
    cli_sample_out so = CLI_SAMPLE_OUT_INIT;
    cli_samp_args sa = CLI_SAMP_ARGS_INIT;
    int precision = EBM_PRECISION_FP32, init = 0;
    bool init_seen = false;
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"class", OPT_STR, &cls, "Y", "classifier models: sample p(x | y) ∝ exp f(x)[y]; a class, a list (chains cycle through it) or all", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"labels", OPT_STR, &labels, "PATH", "with --class: write each sample's class as an int32 NPY array", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"init-chains", OPT_CHOICE, &init, NULL, "where chains start: uniform noise, or a Gaussian per class fitted to --data (default: where the model's training chains started)", 0, 0, 0, 0, "noise|gaussian", &init_seen},
        {"data", OPT_STR, &data, "SPEC", "data the Gaussian starts are fitted to (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        CLI_SAMPLER_OPTIONS(sa),
        CLI_SAMPLE_OUT_OPTIONS(so),
        CLI_PRECISION_OPTION(precision),
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm sample MODEL [--png PATH] [--npy PATH] [--csv PATH] [options]",
                             sample_about, &path);
    if (rc < 0 && labels && !cls) rc = cli_error(cmd, "--labels goes with --class");
    if (rc < 0 && labels && !cli_check_writable(cmd, "--labels", labels)) rc = 1;
    if (rc < 0) rc = cli_sample_out_check(cmd, &so, false);
    if (rc < 0 && !cli_precision_check(cmd, precision)) rc = 2;
    cli_net_model nm;
    if ((rc = cli_net_open(rc, cmd, path, NULL, &nm, &sa)) >= 0) return rc;
    if (!init_seen) { /* start where the training's chains started, when the data to fit are known */
        const char *ti = ebm_meta_get(nm.meta, "ebm.train.init");
        init = ti && !strcmp(ti, "gaussian");
        if (init && !data && !ebm_meta_get(nm.meta, "ebm.data.spec")) {
            init = 0;
            if (!quiet)
                fprintf(stderr, "note: the model was trained from Gaussian chain starts but does not record its data; "
                                "starting from uniform noise (--data SPEC starts from Gaussians fitted to SPEC)\n");
        }
    }
    rc = 1;
    if (data && !init) {
        cli_error(cmd, "--data goes with --init-chains gaussian (noise starts need no data)");
        cli_net_model_free(&nm);
        return 2;
    }
    float *x = NULL, *all = NULL;
    size_t first;
    cli_chains(n, &first);
    int32_t classes[1024], mine[1024]; /* mine: the cycle of classes from this process's first chain on */
    int n_cls = 0;
    /* a composed model's parts keep fp32 */
    ebm_status s = nm.net ? ebm_net_set_precision(nm.net, (ebm_precision)precision) : EBM_OK;
    if (s) goto done;
    size_t h = nm.ih, w = nm.iw;
    if (so.png && !h && nm.dim != 2 && !(so.shape && cli_image_shape(cmd, nm.dim, 0, 0, so.shape, &h, &w))) {
        if (!so.shape)
            cli_error(cmd, "--png: the model's input (%zux%zux%zu) is not a grey image or a 2-D point", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!(x = malloc(n * nm.dim * sizeof(float)))) {
        rc = cli_error(cmd, "out of memory for %zu samples", n);
        goto done;
    }
    if (cls && (n_cls = cli_parse_classes(cmd, cls, nm.meta, nm.classes, classes, 1024)) < 0) {
        rc = 2;
        goto done;
    }
    if (cls) {
        ebm_energy_free(nm.e);
        nm.e = NULL;
        for (int i = 0; i < n_cls; i++) mine[i] = classes[(first + (size_t)i) % (size_t)n_cls];
        if ((s = ebm_net_energy_class(nm.net, mine, (size_t)n_cls, &nm.e))) goto done;
        if (!so.cols && n_cls > 1) so.cols = (size_t)n_cls; /* one column per class */
    }
    if (init) {
        if (!gauss_start(cmd, &nm, data, classes, cls ? (size_t)n_cls : 0, sa.seed, x, n, quiet)) goto done;
    } else {
        cli_net_noise_start(x, n, nm.dim, &sa);
    }
    if (!quiet) {
        char from[96] = "the Gaussian starts";
        if (!init) snprintf(from, sizeof from, "uniform noise on [%g, %g]", (double)sa.init_lo, (double)sa.init_hi);
        fprintf(stderr, "sampling %zu chains x %zu %s steps (step %g%s) at T = %g from %s%s\n", n, nm.mc.steps,
                ebm_mcmc_name(nm.mc.kind), (double)nm.mc.step_size, nm.mc.kind == EBM_MCMC_SGLD ? ", SGLD noise" : "",
                (double)nm.mc.temperature, from, nm.net ? cli_precision_note(precision).s : "");
    }
    if (!cli_net_run_sampler(cmd, nm.e, x, n, &nm.mc, quiet, "sampling")) goto done;
    const float *xs = x + first * nm.dim;
    if ((rc = cli_chains_gather(cmd, &xs, n, nm.dim, &all)) >= 0) goto done;
    rc = 1;
    if (all) memcpy(x, all, n * nm.dim * sizeof(float));
    if (so.png && nm.dim == 2 && !h) {
        if ((s = ebm_energy_density_png(nm.e, so.png, sa.init_lo, sa.init_hi, NULL, 0, x, n))) goto done;
        if (!quiet) fprintf(stderr, "wrote %s\n", so.png);
        so.png = NULL;
    }
    if (!cli_sample_out_write(cmd, quiet, &so, x, n, nm.dim, nm.pm1, h, w)) goto done;
    if (labels && (s = write_labels(labels, classes, (size_t)n_cls, n))) goto done;
    if (labels && !quiet) fprintf(stderr, "wrote %s\n", labels);
    rc = 0;
done:
    if (s) rc = cli_lib_error(cmd, s);
    free(all);
    free(x);
    cli_net_model_free(&nm);
    return rc;
}

/* ---- ebm info ---- */

int cli_net_info(int argc, char **argv, bool quiet) {
    const char *cmd = "info", *path;
    bool json = false;
    int rc = cli_info_json_start(argc, argv, "Describe an energy network: its layers with shapes and parameter counts, "
                                 "and its metadata.", &json, &path);
    if (rc >= 0) return rc;
    (void)quiet;
    ebm_net *net = NULL;
    ebm_meta *meta = NULL;
    ebm_status s = ebm_net_load(path, &net, &meta);
    if (s) return cli_lib_error(cmd, s);
    size_t np, in = ebm_net_input_size(net), out = ebm_net_output_size(net);
    ebm_net_params(net, &np);
    char desc[8192];
    ebm_net_describe(net, desc, sizeof desc);
    cli_report r = cli_report_begin(json, "file", path);
    cli_report_json(&r, ", \"kind\": \"net\"");
    cli_report_str(&r, "spec", ebm_net_spec(net));
    cli_report_json(&r, ", \"input_size\": %zu, \"output_size\": %zu, \"n_params\": %zu", in, out, np);
    cli_report_str(&r, "layers", desc);
    cli_report_text(&r, "%s: energy network, %zu inputs -> %zu output%s, %zu parameters\n", path, in, out,
                    out == 1 ? "" : "s", np);
    bool nl = desc[0] && desc[strlen(desc) - 1] != '\n';
    cli_report_text(&r, "spec: %s\n%s%s", ebm_net_spec(net), desc, nl ? "\n" : "");
    cli_report_meta_end(&r, meta);
    ebm_net_free(net);
    ebm_meta_free(meta);
    return 0;
}

/* Networks and composed models have no tractable likelihood: eval says what to use instead. */
int cli_net_eval(int argc, char **argv, bool quiet) {
    (void)argc, (void)argv, (void)quiet;
    return cli_error("eval", "energy networks have no tractable likelihood: use ebm score (energies, anomaly "
                             "AUROC), ebm eval --samples (sample quality) or ebm classify for JEM models");
}
