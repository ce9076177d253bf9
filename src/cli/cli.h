/* Shared pieces of the `ebm` command-line tool (everything that prints lives in src/cli; the library below never
 * prints or exits): option tables (args.c), reporting, data and files (common.c), the training runner (train.c),
 * the table of model kinds (kinds.c) and the handlers of each kind and command.  Each handler returns the
 * process exit status; a function "-1 to go on" returns -1 when the caller should go on, else that status. */
#ifndef EBM_CLI_H
#define EBM_CLI_H

#include "ebm.h"

#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

/* A short text returned by value (no static buffer): f(...).s lives until the end of the full expression. */
typedef struct cli_text {
    char s[512];
} cli_text;

/* ---- options ---- */
/* OPT_OPT_STR: a string whose value may be left out: "--name" alone sets it to "" (the default the help
 * names), "--name=V" or "--name V" (when V does not start with '-') to V. */
typedef enum { OPT_FLAG, OPT_SIZE, OPT_U64, OPT_FLOAT, OPT_STR, OPT_CHOICE, OPT_OPT_STR } opt_kind;

/* Numeric bounds; lo_open / hi_open make a bound strict.  Unused bounds are +-INFINITY. */
typedef struct cli_opt {
    const char *name;       /* long name without dashes, e.g. "lr" */
    opt_kind kind;
    void *dst;              /* bool*, size_t*, uint64_t*, float*, const char**, int* (choice index) */
    const char *metavar;    /* e.g. "RATE" */
    const char *help;       /* one line; "(default ...)" is appended from the current value */
    double lo, hi;
    int lo_open, hi_open;
    const char *choices;    /* "cd|pcd" for OPT_CHOICE */
    bool *seen;             /* set when the option appears, may be NULL */
} cli_opt;

#define OPT_END {NULL, OPT_FLAG, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL}

/* The start of every subcommand: prints the help (usage, about, the options with their defaults) and returns
 * 0 when --help is among the arguments, otherwise parses them ("--" ends the options; at most max_pos
 * positionals) and returns -1 to go on, or 2 after printing "ebm CMD: ..." for a parse error. */
int cli_start(const char *cmd, int argc, char **argv, const cli_opt *opts, const char *usage, const char *about,
              const char **positional, size_t max_pos, size_t *n_pos);
/* For commands of the form `ebm CMD MODEL [options]`: cli_start plus the required model path. */
int cli_start_model(const char *cmd, int argc, char **argv, const cli_opt *opts, const char *usage,
                    const char *about, const char **model_path);

/* ---- reporting ---- */
/* "ebm CMD: message" on stderr; returns the exit status 1 (bad input) for `return cli_error(...)`.  _lib_error:
 * the message of a failed library call (ebm_last_error()); 1, or 130 for EBM_ECANCELED. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_lib_error(const char *cmd, ebm_status s);

typedef struct cli_progress {
    bool tty;               /* stderr is a terminal: redraw one line */
    bool quiet;
    double last_draw;
} cli_progress;
/* EBM_FIXED_THREADS (ebm --fixed-threads): keep the thread count while other programs run (ebm_give_way). */
bool cli_fixed_threads(void);
/* ebm_give_way_begin, or a state that changes nothing under cli_fixed_threads(). */
void cli_give_way_begin(ebm_give_way *g);
void cli_progress_init(cli_progress *p, bool quiet);
/* Draws "label [#####.....] 48% detail" at most 10 times a second (TTY only); _end clears it; _line ends it and
 * prints a full line to stderr (unless quiet). */
void cli_progress_bar(cli_progress *p, const char *label, double fraction, const char *detail);
void cli_progress_end(cli_progress *p);
void cli_progress_line(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_format_duration(double seconds, char *buf, size_t cap); /* "m:ss" or "h:mm:ss" */
double cli_now(void);                                             /* monotonic seconds */

/* Runs steps sweeps as calls sweep(ctx, chunk) of at most 10 sweeps each, with a "sampling" progress bar and a
 * closing "N sweeps in S s" line; -1 to go on, else 1 after an error or 130 after an interruption. */
int cli_run_sweeps(const char *cmd, cli_progress *prog, size_t steps, ebm_status (*sweep)(void *ctx, size_t n),
                   void *ctx);

/* ---- interruption: the first Ctrl-C asks long work to stop cleanly, the second exits ---- */
void cli_install_sigint(void);
bool cli_interrupted(void);

/* The processes of this run (main.c; ebm_comm_* in the library): one unless mpirun or srun started several.
 * Made once before any command runs; rank 0 alone writes files and prints progress. */
ebm_comm *cli_comm(void);
/* `ebm sample` over several processes (docs/distributed.md): this process's chains [*first, *first + count)
 * of n (ebm_chain_range; all n in one process), for the samplers' slices (ebm.h, PART 5).  A process with none
 * of its own (fewer blocks of chains than processes) runs chain 0 again (count 1), which cli_chains_gather drops. */
size_t cli_chains(size_t n, size_t *first);
/* After sampling: on rank 0, *x (this process's chains, rows of d) becomes all n chains in order, gathered into
 * *owned (the caller frees it; one process: nothing changes).  -1: go on and write (rank 0); 0: another
 * process, done; 1: error, reported (main.c then ends every process). */
int cli_chains_gather(const char *cmd, const float **x, size_t n, size_t d, float **owned);

/* ---- data and files ---- */
typedef struct cli_data_args {
    const char *scale;      /* auto|none|255|minmax */
    const char *binarize;   /* none|threshold|stochastic */
    float threshold;
    size_t limit;
    uint64_t seed;
    bool scale_seen, binarize_seen, threshold_seen;
} cli_data_args;

/* Takes scale, binarize and threshold from a model's ebm.data.* metadata where the command line did not give
 * them, so data is preprocessed the way the model saw it in training. */
void cli_data_args_from_model(cli_data_args *a, const ebm_meta *meta);
/* Fills o from a; false after printing an error (a bad name). */
bool cli_data_opts(const char *cmd, const cli_data_args *a, ebm_data_opts *o);
/* *spec, else the model's training data (meta's ebm.data.spec; meta may be NULL); false after printing
 * "NEED (the model does not record its training data)". */
bool cli_model_data(const char *cmd, const char **spec, const ebm_meta *meta, const char *need);
/* Loads spec with o, printing "loaded N x D from SOURCE" unless quiet; NULL after printing an error. */
ebm_dataset *cli_load_data(const char *cmd, const char *spec, const ebm_data_opts *o, bool quiet);
/* spec preprocessed as the model's training data (meta's ebm.data.*) unless da says otherwise, with n_vis
 * columns and, when unit_range, values in [0, 1]; NULL after printing an error. */
ebm_dataset *cli_load_like_model(const char *cmd, const char *spec, cli_data_args *da, const ebm_meta *meta,
                                 size_t n_vis, bool unit_range, bool quiet);
/* The model file at path, of any kind (ebm_model_load); NULL after printing an error. */
ebm_model *cli_model_load(const char *cmd, const char *path);
/* spec in m's input space, read as its training data were (ebm_model_data: the width and the checks of its
 * kind), but with da's --scale, --binarize and --threshold where the command line gave them, and da's limit
 * and seed (da may be NULL); "loaded N x D from SOURCE" unless quiet; NULL after printing an error. */
ebm_dataset *cli_model_rows(const char *cmd, const ebm_model *m, const char *spec, const cli_data_args *da, bool quiet);
/* ebm_labels_load; NULL after printing an error. */
int32_t *cli_load_labels(const char *cmd, const char *path, size_t n, bool exact, size_t k);
/* The outputs of the sampling commands: a picture, NPY and CSV files, and the picture's layout. */
typedef struct cli_sample_out {
    const char *png, *npy, *csv, *shape;
    size_t cols, zoom;
} cli_sample_out;
#define CLI_SAMPLE_OUT_INIT {NULL, NULL, NULL, NULL, 0, 2}
#define CLI_SAMPLE_OUT_OPTIONS(o)                                                                                              \
    {"png", OPT_STR, &(o).png, "PATH", "write a grid picture of the samples", -INFINITY, INFINITY, 0, 0, NULL, NULL},           \
    {"npy", OPT_STR, &(o).npy, "PATH", "write the samples as an (n, values) float32 NPY array", -INFINITY, INFINITY, 0, 0, NULL, NULL}, \
    {"csv", OPT_STR, &(o).csv, "PATH", "write the samples as CSV, one row per sample", -INFINITY, INFINITY, 0, 0, NULL, NULL},  \
    {"cols", OPT_SIZE, &(o).cols, "C", "tiles per row in the picture (0 = square)", 0, 1e4, 0, 0, NULL, NULL},                 \
    {"zoom", OPT_SIZE, &(o).zoom, "Z", "pixel magnification in the picture", 1, 32, 0, 0, NULL, NULL},                         \
    {"shape", OPT_STR, &(o).shape, "HxW", "image shape when the model does not record one", -INFINITY, INFINITY, 0, 0, NULL, NULL}
/* Before long work: "nothing to write" unless an output is given (or `other` is true), and each path
 * writable; -1 to go on.  _write: cli_write_samples with o's paths and layout. */
int cli_sample_out_check(const char *cmd, const cli_sample_out *o, bool other);
bool cli_sample_out_write(const char *cmd, bool quiet, const cli_sample_out *o, const float *x, size_t n, size_t d,
                          bool pm1, size_t h, size_t w);
/* true when every value is 0 or 1 */
bool cli_is_binary(const ebm_mat *m);
/* ebm_check_writable before long work; false after printing "ebm CMD: WHAT 'PATH' ..." (what: "--out", ...). */
bool cli_check_writable(const char *cmd, const char *what, const char *path);
/* Image shape for pictures: --shape (shape_arg), else the model's (h0 x w0), else a square; false after
 * printing an error. */
bool cli_image_shape(const char *cmd, size_t n_vis, size_t h0, size_t w0, const char *shape_arg, size_t *h,
                     size_t *w);
/* Loads the RBM in path, first checking that the file holds one (its "ebm.model"); on failure prints
 * "ebm CMD: ..." (with verb, e.g. "sampling", for other model kinds) and returns NULL. */
ebm_rbm *cli_load_rbm(const char *cmd, const char *path, const char *verb);
/* The "ebm.model" of the model file at path ("rbm" when absent), also of a kind this version does not know;
 * false when path is not a regular file with a readable model header. */
bool cli_model_kind(const char *path, char *kind, size_t cap);
/* Writes x (n, d) as a PNG grid of h x w tiles (values in [0, 1], or [-1, 1] when pm1), an NPY array and/or
 * a CSV file, whichever paths are not NULL; prints "wrote PATH" unless quiet; false after an error. */
bool cli_write_samples(const char *cmd, bool quiet, const float *x, size_t n, size_t d, bool pm1, const char *png,
                       const char *npy, const char *csv, size_t h, size_t w, size_t cols, size_t zoom);
/* ebm_meta_get_float / _size as a truth value: true when key holds such a number.  A model file's default
 * obeys the bounds of the option it stands in for (ebm.sample.steps those of --steps, 0..1e9, and so on for
 * every ebm.sample.* key read this way): a value outside them is ignored with a warning on stderr naming
 * the key and the option, *out is unchanged and the result is false. */
bool cli_meta_float(const ebm_meta *m, const char *key, float *out);
bool cli_meta_size(const ebm_meta *m, const char *key, size_t *out);
/* The sampling defaults of `ebm sample` that the command line left open (*_seen false), from the model's
 * ebm.sample.steps, .temperature (1 when it is not positive) and, when init is not NULL, .init ("data": 1). */
void cli_sample_meta(const ebm_meta *m, size_t *steps, bool steps_seen, float *T, bool t_seen, int *init,
                     bool init_seen);
/* Every key/value of m on stdout: as the members of a JSON object (without braces), or one indented
 * "key value" line each. */
void cli_print_meta(const ebm_meta *m, bool json);
/* JSON to f: s as an escaped string literal; v as a number (null when not finite); "k0": v0, "k1": v1, ... */
void cli_json_string(FILE *f, const char *s);
void cli_json_number(FILE *f, double v);
void cli_json_numbers(FILE *f, const char *const *keys, const double *v, size_t n);

/* ---- reports: `ebm eval` and `ebm info` print text or one JSON object from one sequence of calls ---- */
typedef struct cli_report {
    bool json;
} cli_report;
/* JSON: '{"KEY": "PATH"' (the object's first member); text: nothing. */
cli_report cli_report_begin(bool json, const char *key, const char *path);
/* JSON only: ', "KEY": "V"' (escaped); fmt's text as it is.  Text only: fmt's text as it is. */
void cli_report_str(const cli_report *r, const char *key, const char *v);
void cli_report_json(const cli_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_report_text(const cli_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON: ', "KEY": V' (null when not finite); text: fmt's text (nothing when fmt is NULL). */
void cli_report_num(const cli_report *r, const char *key, double v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The end: JSON ', "metadata": {...}}' or ', "seconds": S}' and a newline; text "metadata:" and a line per key,
 * or nothing. */
void cli_report_meta_end(const cli_report *r, const ebm_meta *m);
void cli_report_end(const cli_report *r, double seconds);
/* The size of the file at path in bytes, -1 when it cannot be read. */
long long cli_file_bytes(const char *path);

/* ---- training (train.c): what every `ebm train KIND` shares ---- */
typedef struct cli_train_args {
    const char *data, *out, *log;
    size_t checkpoint_every;        /* --checkpoint-every N: updates between checkpoints (0 = none) */
    const char *resume;             /* --resume [FILE]: "" = NAME.ckpt.safetensors beside --out */
} cli_train_args;
/* Checkpoints and resume, for every `ebm train KIND` (docs/train.md). */
#define CLI_RESUME_OPTIONS(ta)                                                                                            \
    {"checkpoint-every", OPT_SIZE, &(ta).checkpoint_every, "N", "write a checkpoint (NAME.ckpt.safetensors) every N updates (mini-batches); 0 = off", 0, 1e12, 0, 0, NULL, NULL}, \
    {"resume", OPT_OPT_STR, &(ta).resume, "[FILE]", "continue from a checkpoint (default NAME.ckpt.safetensors beside --out), bit for bit", -INFINITY, INFINITY, 0, 0, NULL, NULL}
#define CLI_TRAIN_OPTIONS(ta)                                                                                             \
    {"data", OPT_STR, &(ta).data, "SPEC", "training data: fashion-mnist[:train|:test], toy:NAME or a .idx[.gz]/.npy/.csv path", -INFINITY, INFINITY, 0, 0, NULL, NULL}, \
    {"out", OPT_STR, &(ta).out, "PATH", "where to save the model (.safetensors; atomically; one run at a time)", -INFINITY, INFINITY, 0, 0, NULL, NULL},   \
    {"log", OPT_STR, &(ta).log, "CSV", "write the training figures to this CSV file (a row at a time; replaces an old one, appended to on --resume)", -INFINITY, INFINITY, 0, 0, NULL, NULL}, \
    CLI_RESUME_OPTIONS(ta)
/* Before long work: --data and --out given, --out and --log writable; -1 to go on. */
int cli_train_check(const char *cmd, const cli_train_args *ta);
/* The sampling defaults (ebm.sample.steps 1000, .temperature 1, .init noise) where mt has none. */
ebm_status cli_sample_defaults(ebm_meta *mt);
/* The ebm.data.* provenance of training data d loaded from spec with da's preprocessing. */
ebm_status cli_data_meta(ebm_meta *mt, const char *spec, const ebm_dataset *d, const cli_data_args *da);

/* One training run of the command line: the kind fills in the first block, cli_train_run the rest. */
typedef struct cli_run {
    const char *cmd, *kind;         /* "train rbm", "rbm" (for ebm.train.command) */
    const cli_train_args *ta;
    const ebm_dataset *d;           /* with da: written as ebm.data.* (may be NULL) */
    const cli_data_args *da;
    bool quiet;
    int argc;
    char **argv;
    ebm_meta *meta;                 /* the model's metadata: provenance goes here before every save */
    const char *log_header;         /* the CSV log's first line (without newline) */
    const char *nan_hint;           /* appended to a divergence message, e.g. "try a smaller --lr" */
    size_t every;                   /* iteration runs: a line every N iterations when stderr is not a terminal */
    size_t checkpoint_every;        /* a kind's own checkpoint option (train ebm --checkpoint N): as
                                       --checkpoint-every N, and the model so far in NAME.partial too */
    bool stage;                     /* one run of several (a DBN's layer below the top): a complete run is
                                       neither recorded nor saved, only a stopped one (no --log: it restarts) */
    /* Writes the model (with meta) to path. */
    ebm_status (*save)(struct cli_run *r, const char *path);
    /* Optional: the figures shown in the progress bar; a per-epoch line and log row (epoch runs); per
     * iteration work and log row (iteration runs); "RBM 784 x 512" for the closing line. */
    void (*detail)(struct cli_run *r, const ebm_run_progress *p, char *buf, size_t cap);
    void (*on_epoch)(struct cli_run *r, const ebm_run_progress *p);
    void (*on_iter)(struct cli_run *r, const ebm_run_progress *p);
    void (*describe)(struct cli_run *r, char *buf, size_t cap);
    /* Optional: the checkpoint of the run under way (default ebm_run_checkpoint(t, out)). */
    ebm_status (*checkpoint)(struct cli_run *r, ebm_trainer *t, ebm_tensors *out);
    void *user;
    bool log_append;                /* add to an existing --log (a resumed run) instead of replacing it */
    /* set by cli_train_run (and cli_train_resume) */
    cli_progress prog;
    FILE *log;                      /* the rows, in memory; after every row written to log_fd and checked */
    int log_fd;                     /* the --log file, O_APPEND */
    char *log_buf;
    size_t log_len;
    char log_error[160];            /* why writing the log failed ("" while it works) */
    bool iters;
    ebm_run_result res;
    char partial[4096];
    char ckpt[4096];                /* where checkpoints go: NAME.ckpt.safetensors */
    ebm_tensors *resume;            /* the checkpoint read for --resume (freed by cli_train_end) */
    bool resume_read;               /* cli_train_resume has run */
    size_t kill_after, stop_after;  /* test hooks (EBM_TEST_KILL_AFTER, EBM_TEST_INTERRUPT_AFTER): SIGKILL
                                       or an interrupt after that update */
} cli_run;
/* For --resume: reads the checkpoint into r->resume (NULL without --resume) and says where the run goes on;
 * -1 to go on, else the exit status after an error.  cli_train_run calls it when the kind has not. */
int cli_train_resume(cli_run *r);
/* Frees what cli_train_resume read (after the last cli_train_run of the command). */
void cli_train_end(cli_run *r);
/* Runs t on data (labels may be NULL) through ebm_run with ro's settings (its callbacks are the runner's),
 * with progress, the log and Ctrl-C; then records the provenance and saves: to --out after a complete run,
 * to NAME.partial.safetensors after an interrupt (exit status 130) or a divergence (1).  Returns the exit
 * status after printing what happened. */
int cli_train_run(cli_run *r, ebm_trainer *t, const ebm_mat *data, const int32_t *labels, ebm_run_opts *ro);
/* An epoch run's on_epoch report: the line "epoch E/N  S s" + each figure's `line` format of v (NULL: not in the
 * line), and the log row "E,S,TOTAL_S" + a field per `log` format (NULL: not in the log).  A NaN v (a monitor
 * off or failed) is left out of the line and leaves its field empty. */
typedef struct cli_fig {
    const char *line, *log;
    double v;
} cli_fig;
void cli_epoch_report(cli_run *r, const ebm_run_progress *p, const cli_fig *f, size_t n);

/* ---- commands ---- */
typedef int (*cli_cmd_fn)(int argc, char **argv, bool quiet);

/* ---- the table of model kinds (kinds.c): each row a kind's handlers; NULL where a verb does not apply ---- */
typedef struct cli_kind {
    const char *name;          /* the file's ebm.model */
    const char *train_name;    /* `ebm train NAME` (NULL: made by another command) */
    const char *train_about;   /* one line for `ebm train --help` */
    cli_cmd_fn train, sample, eval, info; /* `ebm score` needs none: ebm_model_score serves every kind */
} cli_kind;
/* One help line per kind that can be trained: "  PREFIX+NAME" padded to col, then verb and the description. */
void cli_train_kinds(FILE *f, const char *prefix, int col, const char *verb);

/* the dispatchers (kinds.c) and the application commands (one file each) */
int cmd_train(int argc, char **argv, bool quiet);
int cmd_sample(int argc, char **argv, bool quiet);
int cmd_eval(int argc, char **argv, bool quiet);
int cmd_info(int argc, char **argv, bool quiet);
int cmd_score(int argc, char **argv, bool quiet);
int cmd_compose(int argc, char **argv, bool quiet);
int cmd_classify(int argc, char **argv, bool quiet);
int cmd_calibrate(int argc, char **argv, bool quiet);
int cli_jem_eval(int argc, char **argv, bool quiet);   /* `ebm eval` of a JEM model: classify, named "eval" */
int cmd_inpaint(int argc, char **argv, bool quiet);
int cmd_denoise_net(int argc, char **argv, bool quiet);
int cmd_denoise_ising(int argc, char **argv, bool quiet); /* denoise --model ising */
int cmd_landscape(int argc, char **argv, bool quiet);
int cmd_encode(int argc, char **argv, bool quiet);
int cmd_eval_samples(int argc, char **argv, bool quiet); /* eval --samples: FD-FMNIST of any model's samples */
int cmd_eval_probe(int argc, char **argv, bool quiet);   /* eval --probe: a linear probe on RBM/DBN features */

/* the kinds' handlers: one file per kind; a kind with a row of every verb (kind_NAME.c) declares its four
 * handlers cli_NAME_train, _sample, _eval and _info with CLI_KIND_HANDLERS(NAME) */
#define CLI_KIND_HANDLERS(name)                                   \
    int cli_##name##_train(int argc, char **argv, bool quiet);    \
    int cli_##name##_sample(int argc, char **argv, bool quiet);   \
    int cli_##name##_eval(int argc, char **argv, bool quiet);     \
    int cli_##name##_info(int argc, char **argv, bool quiet)
CLI_KIND_HANDLERS(rbm);
CLI_KIND_HANDLERS(grbm);
int cli_net_train(int argc, char **argv, bool quiet);  /* train ebm */
int cli_jem_train(int argc, char **argv, bool quiet);  /* train jem */
int cli_net_sample(int argc, char **argv, bool quiet); /* networks, JEM and composed models */
int cli_net_eval(int argc, char **argv, bool quiet);   /* says what to use instead */
int cli_net_info(int argc, char **argv, bool quiet);
CLI_KIND_HANDLERS(bm);
/* Data for a Boltzmann machine still to be made (train bm, denoise --model ising): spec binarised to {0,1} with
 * da, 0 mapped to off (0 or -1); NULL after printing an error.  Data for a model file: cli_model_rows. */
ebm_dataset *cli_bm_load_binary(const char *cmd, const char *spec, const cli_data_args *da, float off, bool quiet);
int cli_structured_train(int argc, char **argv, bool quiet);
int cli_structured_eval(int argc, char **argv, bool quiet);
int cli_structured_info(int argc, char **argv, bool quiet);
CLI_KIND_HANDLERS(dbn);
/* RBM and DBN files for encode and eval --probe (kind_dbn.c): cli_start_model, then the file as a DBN in *d (an
 * RBM is one layer), -1 to go on, else the exit status; "DBN 784-500-500" into buf; the level --layer names: top,
 * all (*all set; only where all is not NULL) or a number 0 (the data) .. n_layers, false after printing an error;
 * data *spec (the model's training data when NULL, *spec set to it) preprocessed as in training, NULL after
 * printing an error. */
int cli_dbn_start(const char *cmd, int argc, char **argv, const cli_opt *opts, const char *usage, const char *about,
                  const char **path, ebm_dbn **d);
cli_text cli_dbn_describe(const ebm_dbn *d); /* "DBN 784-500-500" ("RBM ..." for one layer) */
bool cli_dbn_level(const char *cmd, const char *arg, const ebm_dbn *d, size_t *level, bool *all);
ebm_dataset *cli_dbn_data(const char *cmd, const ebm_dbn *d, const char **spec, cli_data_args *da, bool quiet);
int cli_compose_info(int argc, char **argv, bool quiet);

/* ---- energy networks, JEM and composed models (kind_net.c), for their commands and the applications ---- */
/* Sampler settings; *_seen: given on the command line (the model's ebm.sample.* fill in the others). */
typedef struct cli_samp_args {
    const char *sampler;
    size_t steps, leapfrog;
    float step_size, noise, temperature, clip_lo, clip_hi, init_lo, init_hi;
    uint64_t seed;
    bool sampler_seen, steps_seen, leapfrog_seen, step_seen, noise_seen, t_seen, clip_lo_seen, clip_hi_seen, lo_seen,
        hi_seen;
} cli_samp_args;
#define CLI_SAMPLER_OPTIONS(a)                                                                                                 \
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
    CLI_SEED_OPTION((a).seed, "random seed")
#define CLI_SAMP_ARGS_INIT {"sgld", 20, 10, 1.0f, 0.01f, 1.0f, 0, 0, -1.0f, 1.0f, 1, false, false, false, false, false, false, false, false, false, false}
/* A loaded network, JEM or composed model: its energy, input shape (C x H x W), scale and classes. */
typedef struct cli_net_model {
    ebm_model *model;         /* the file; net, comp and meta are borrowed from it */
    ebm_net *net;             /* NULL for a composed model */
    ebm_composed *comp;       /* the parts of a composed model */
    const ebm_meta *meta;
    ebm_energy *e;
    size_t c, h, w, dim, classes; /* classes: 0 for a scalar energy */
    size_t ih, iw;            /* the picture of one state: grey images (C = 1) H x W; 0 for anything else */
    bool pm1;
    ebm_mcmc_opts mc;         /* the sampler (cli_net_open with sampler settings) */
} cli_net_model;
void cli_net_model_free(cli_net_model *nm);
/* After a command's checks that left rc (-1 to go on): the model at path (when needs is not NULL, only a net
 * or JEM, else "PATH: NEEDS; this is a 'KIND' model") and, when sa is not NULL, its sampler settings into
 * nm->mc; -1 to go on, else the exit status (nothing held). */
int cli_net_open(int rc, const char *cmd, const char *path, const char *needs, cli_net_model *nm, cli_samp_args *sa);
/* Rows of spec preprocessed like the model's training data, width checked; NULL after printing an error. */
ebm_dataset *cli_net_load_rows(const char *cmd, const char *spec, const cli_net_model *nm, size_t limit, bool quiet);
/* The same for spec (default: the model's training data) with *n clamped to the rows from offset on. */
ebm_dataset *cli_net_load_slice(const char *cmd, const char *spec, const cli_net_model *nm, size_t offset, size_t *n,
                                bool quiet);
/* Runs the sampler on x (n, dim) with a progress bar, then one line (with the acceptance of MH samplers);
 * false after printing an error or an interruption. */
bool cli_net_run_sampler(const char *cmd, ebm_energy *e, float *x, size_t n, ebm_mcmc_opts *o, bool quiet,
                         const char *label);
/* x (n, dim) <- uniform noise on [sa->init_lo, sa->init_hi] from sa->seed. */
void cli_net_noise_start(float *x, size_t n, size_t dim, const cli_samp_args *sa);
/* x (n, d's width) <- draws from Gaussians fitted to d (one per class when d has labels, clipped to its range;
 * ebm_gauss_start_fit) from the stream (seed, "gauss"): row i of class cls[i] when cls is not NULL, else of a
 * class drawn with its frequency.  The Gaussians' count into *classes when not NULL. */
ebm_status cli_gauss_draws(const ebm_dataset *d, const int32_t *cls, uint64_t seed, float *x, size_t n,
                           size_t *classes);
/* malloc(bytes); NULL after printing "out of memory". */
void *cli_net_alloc(const char *cmd, size_t bytes);

/* ---- shared by several kinds ---- */
/* ebm info (common.c): "  NAME mean M  std S  min A  max B" of x (n), NAME padded to width, leaving out every (skip + 1)-th value from
 * the first (the diagonal of a (skip, skip) matrix) when skip > 0; of exp(x / 2) (sigma from log sigma^2) when
 * half_exp. */
void cli_stat_line(const char *name, int width, const float *x, size_t n, size_t skip, bool half_exp);
/* AIS (ais.c): forward AIS of m from the pixel marginals of x and, with reverse, reverse AIS from exact samples,
 * with progress; false after printing the error.  The report of r for mean free energy fmean, text or JSON. */
bool cli_rbm_ais(const char *cmd, const ebm_rbm *m, const ebm_mat *x, size_t runs, size_t steps, uint64_t seed,
                 bool reverse, bool quiet, ebm_precision prec, ebm_ais_result *fw, ebm_ais_result *rv);
/* Checks that precision p (an ebm_precision from CLI_PRECISION_OPTION) is available here; false after printing. */
bool cli_precision_check(const char *cmd, int p);
/* ", bf16 products" (what p resolves to here) for a progress line, or "" for fp32. */
cli_text cli_precision_note(int p);
void cli_ais_print(const char *what, const ebm_ais_result *r, double fmean, bool binary);
/* The text of an AIS run's warnings (ebm_ais_result.warnings), empty when there are none; printed by
 * cli_ais_print as a "warning" line and by cli_ais_json as "warning" (null when none). */
cli_text cli_ais_warning(unsigned warnings, double ess, double log_w_sd);
void cli_ais_json(const ebm_ais_result *r, double fmean);

/* Classes of a K-class model from "Y", "Y1,Y2,..." or "all" (ebm_classes_parse, kind_net.c) into out (at most
 * cap); returns how many, or -1 after printing an error. */
int cli_parse_classes(const char *cmd, const char *arg, const ebm_meta *meta, size_t k, int32_t *out, size_t cap);

/* ---- CD / PCD training options, shared by `train rbm` and `train dbn` (train.c) ---- */
typedef struct cli_cd_args {
    ebm_cd_opts o;
    size_t cd_k, pcd_k;
    bool cd_seen, pcd_seen, lr_final_seen, no_shuffle;
    float lr_final, init_std;
    int precision;          /* fp32|bf16|auto, an ebm_precision */
} cli_cd_args;

/* The --precision row (an int holding an ebm_precision) of `train rbm|dbn|ebm|jem`, `sample` and `eval --ais` of RBMs. */
#define CLI_PRECISION_OPTION(p) \
    {"precision", OPT_CHOICE, &(p), NULL, "matrix products in fp32, or bf16 with fp32 sums (auto: bf16 where the CPU has it natively)", 0, 0, 0, 0, "fp32|bf16|auto", NULL}

/* Rows of a cli_opt table for the fields of a (a cli_cd_args) and of da (a cli_data_args). */
#define CLI_CD_OPTIONS(a)                                                                                                 \
    {"cd", OPT_SIZE, &(a).cd_k, "K", "contrastive divergence with K Gibbs sweeps", 1, 100000, 0, 0, NULL, &(a).cd_seen}, \
    {"pcd", OPT_SIZE, &(a).pcd_k, "K", "persistent CD with K sweeps per update", 1, 100000, 0, 0, NULL, &(a).pcd_seen},  \
    {"epochs", OPT_SIZE, &(a).o.epochs, "N", "passes over the data", 1, 1e9, 0, 0, NULL, NULL},                        \
    {"batch", OPT_SIZE, &(a).o.batch, "N", "rows per update", 1, 1 << 24, 0, 0, NULL, NULL},                           \
    {"chains", OPT_SIZE, &(a).o.chains, "N", "persistent chains for --pcd (0 = batch size)", 0, 1 << 24, 0, 0, NULL, NULL}, \
    {"lr", OPT_FLOAT, &(a).o.lr, "RATE", "learning rate", 0, FLT_MAX, 1, 0, NULL, NULL},                                \
    {"lr-final", OPT_FLOAT, &(a).lr_final, "RATE", "decay the rate linearly to this by the last update (default: constant)", 0, FLT_MAX, 0, 0, NULL, &(a).lr_final_seen}, \
    {"momentum", OPT_FLOAT, &(a).o.momentum, "M", "momentum", 0, 1, 0, 1, NULL, NULL},                                  \
    {"weight-decay", OPT_FLOAT, &(a).o.weight_decay, "L2", "L2 weight decay on W", 0, 1e3, 0, 0, NULL, NULL},           \
    {"grad-clip", OPT_FLOAT, &(a).o.grad_clip, "NORM", "clip the gradient's L2 norm (0 = off)", 0, 1e30, 0, 0, NULL, NULL}, \
    {"init-std", OPT_FLOAT, &(a).init_std, "S", "standard deviation of the initial weights", 0, 10, 0, 0, NULL, NULL},  \
    CLI_SEED_OPTION((a).o.seed, "random seed (initialisation, shuffling, sampling)"), \
    {"no-shuffle", OPT_FLAG, &(a).no_shuffle, NULL, "keep the data order (default: reshuffle every epoch)", 0, 0, 0, 0, NULL, NULL}, \
    CLI_PRECISION_OPTION((a).precision)
/* The defaults of the data options: scale auto, no binarisation, threshold 0.5, all rows, seed 1. */
#define CLI_DATA_ARGS_INIT {"auto", "none", 0.5f, 0, 1, false, false, false}
/* The same with another scaling and binarisation and the first `limit` rows (0 = all), none of them from the
 * command line. */
#define CLI_DATA_ARGS(scale, binarize, limit) {scale, binarize, 0.5f, limit, 1, false, false, false}
/* The --json row of the commands that can print one JSON object. */
#define CLI_JSON_OPTION(flag) \
    {"json", OPT_FLAG, &(flag), NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL}
#define CLI_DATA_OPTIONS(da)                                                                                              \
    {"scale", OPT_STR, &(da).scale, "auto|none|255|minmax", "scaling of the data to [0, 1]", -INFINITY, INFINITY, 0, 0, NULL, &(da).scale_seen}, \
    {"binarize", OPT_STR, &(da).binarize, "none|threshold|stochastic", "binarisation after scaling", -INFINITY, INFINITY, 0, 0, NULL, &(da).binarize_seen}, \
    {"threshold", OPT_FLOAT, &(da).threshold, "T", "threshold for --binarize threshold", 0, 1, 0, 0, NULL, &(da).threshold_seen}, \
    {"limit", OPT_SIZE, &(da).limit, "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL}
/* Rows for commands that preprocess data the way a model was trained unless told otherwise. */
#define CLI_DATA_AS_TRAINED_OPTIONS(da)                                                                                   \
    {"scale", OPT_STR, &(da).scale, "auto|none|255|minmax", "scaling (default: as in training)", -INFINITY, INFINITY, 0, 0, NULL, &(da).scale_seen}, \
    {"binarize", OPT_STR, &(da).binarize, "none|threshold|stochastic", "binarisation (default: as in training)", -INFINITY, INFINITY, 0, 0, NULL, &(da).binarize_seen}, \
    {"threshold", OPT_FLOAT, &(da).threshold, "T", "threshold (default: as in training)", 0, 1, 0, 0, NULL, &(da).threshold_seen}

/* The --seed row (any 64-bit value) with its help text. */
#define CLI_SEED_OPTION(seed, help) {"seed", OPT_U64, &(seed), "S", help, 0, 1.8446744073709552e19, 0, 0, NULL, NULL}
/* The --data and --limit rows of `ebm eval` for the kinds that evaluate on their training data by default. */
#define CLI_EVAL_DATA_OPTIONS(spec, limit)                                                                                \
    {"data", OPT_STR, &(spec), "SPEC", "evaluation data (default: the model's training data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL}, \
    {"limit", OPT_SIZE, &(limit), "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL}
/* The --data row of `ebm sample` for chains started from data rows (--init data). */
#define CLI_INIT_DATA_OPTION(spec) \
    {"data", OPT_STR, &(spec), "SPEC", "data for --init data (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL}

/* The --init noise|data row of `ebm sample` (seen may be NULL) and the --data row that --init data reads. */
#define CLI_INIT_OPTIONS(init, seen, spec)                                                                                \
    {"init", OPT_CHOICE, &(init), NULL, "start chains from noise or from data rows", 0, 0, 0, 0, "noise|data", seen}, \
    CLI_INIT_DATA_OPTION(spec)

/* The options of `ebm info` for a model whose hidden units can be drawn: --json and the filter picture. */
typedef struct cli_info_args {
    const char *filters, *shape;
    size_t nf, cols, zoom;
    bool json;
} cli_info_args;
/* cli_start_model for `ebm info` with those options (checking that --filters can be written). */
int cli_info_start(int argc, char **argv, const char *usage, const char *about, cli_info_args *a, const char **path);
/* `ebm info MODEL [--json]` for the kinds without a filter picture: cli_start_model with --json only. */
int cli_info_json_start(int argc, char **argv, const char *about, bool *json, const char **path);
/* cli_write_filters with a's picture options (nothing to do and true without --filters). */
bool cli_info_filters(const cli_info_args *a, bool quiet, const float *W, size_t n_vis, size_t n_hid, size_t height,
                      size_t width);

/* Defaults of ebm_cd_opts_default, --cd 1, --init-std 0.01. */
void cli_cd_args_init(cli_cd_args *a);
/* Settles mode, k, shuffling and the final rate in a->o; false after printing an error (--cd with --pcd). */
bool cli_cd_finish(const char *cmd, cli_cd_args *a);

#endif
