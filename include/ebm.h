/* ebm.h: the one public header of libebm, energy-based models in C.
 *
 * A model assigns an energy E(x) to every state x; at temperature T its distribution is
 * p(x) = exp(-E(x)/T) / Z.  libebm defines such models (Bernoulli and Gaussian-Bernoulli RBMs, fully
 * visible Boltzmann machines, deep belief nets, neural-network energies and JEM classifiers, structured
 * predictors E(x, y), compositions of energies), samples from them (block Gibbs, Langevin, MALA, HMC,
 * random-walk Metropolis), trains them (one training loop, ebm_run, drives every trainer), evaluates them
 * (exact log Z, AIS with an interval, pseudo-likelihood, classifier and sample metrics) and reads and writes
 * their files (safetensors with provenance metadata; data as IDX, NPY, CSV; pictures as PNG).
 *
 * A worked example (error checks left out; every call returns an ebm_status):
 *
 *   ebm_data_opts dopt;  ebm_dataset *d;  ebm_rbm *m;  ebm_rng rng;  ebm_cd_opts cd;  ebm_run_opts run;
 *   ebm_data_opts_default(&dopt);
 *   ebm_dataset_load("fashion-mnist", &dopt, &d);              // 60,000 x 784 in [0, 1]
 *   ebm_rng_seed(&rng, 1, 0);
 *   ebm_rbm_new(784, 256, &m);  ebm_rbm_init(m, &rng, 0.01f, d->x);
 *   ebm_cd_opts_default(&cd);  cd.mode = EBM_PCD;             // PCD-1, 10 epochs of batches of 100
 *   ebm_trainer *t;  ebm_rbm_trainer_new(m, &cd, &t);  ebm_cd_run_opts(&cd, &run);
 *   ebm_run(t, d->x, NULL, &run, NULL);                        // or simply ebm_rbm_train(m, d->x, &cd)
 *   ebm_gibbs *g;  ebm_gibbs_new(m, 100, &g);  ebm_gibbs_init_noise(g, 0.5f, &rng);
 *   ebm_gibbs_run(g, 1000, 1.0f, &rng);                        // 100 samples: ebm_gibbs_visible(g)
 *   ebm_ais_opts ao;  ebm_ais_result z;  ebm_ais_opts_default(&ao);  ebm_rbm_ais(m, &ao, &z, NULL);
 *   // test log-likelihood = -mean ebm_rbm_free_energy(...) - z.log_z, within [z.log_z_lo, z.log_z_hi]
 *
 * The header reads in the order of the ideas: core (status, threads, random streams, matrices, arrays);
 * data and files (formats, metadata and safetensors, datasets, model files); models; the energy interface;
 * samplers; training (the trainer interface and the loop, then each trainer); evaluation; applications.
 *
 * Conventions (see docs/library.md and docs/design.md):
 *  - every fallible function returns ebm_status; on failure ebm_last_error() names the problem
 *    (file, field, value) in one line; the message is thread-local;
 *  - the caller owns what it creates: every ebm_x_new / ebm_x_load has an ebm_x_free, which accepts NULL;
 *  - handles are opaque with accessors, except structs that are plain data the caller fills in or reads
 *    (options, progress, results, ebm_trainer_ops) and the few model structs whose fields are documented
 *    as readable (ebm_mat, ebm_array, ebm_rbm, ebm_grbm, ebm_dataset, ebm_energy);
 *  - matrices are float32, row-major, contiguous; array arguments are documented with their shapes;
 *  - nothing here prints or exits; long work reports progress through callbacks;
 *  - every random draw comes from an explicit ebm_rng or an explicit 64-bit seed.
 */
#ifndef EBM_H
#define EBM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EBM_BUILDING) && defined(__GNUC__)
#define EBM_API __attribute__((visibility("default")))
#else
#define EBM_API
#endif

#define EBM_VERSION_MAJOR 0
#define EBM_VERSION_MINOR 1
#define EBM_VERSION_PATCH 0
#define EBM_VERSION_STRING "0.1.0"

/* ================================================================================================
 * PART 1. CORE: status and errors, threads, random streams, matrices, arrays
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * Status and errors
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_status {
    EBM_OK = 0,
    EBM_EIO = 1,        /* a file could not be opened, read or written */
    EBM_EFORMAT = 2,    /* a file's contents are malformed, truncated or of an unsupported kind */
    EBM_ESHAPE = 3,     /* dimensions do not agree */
    EBM_ENOMEM = 4,     /* allocation failed or a size overflowed */
    EBM_EINVAL = 5,     /* an argument or option value is out of range */
    EBM_ENAN = 6,       /* a computation produced NaN or infinity */
    EBM_ENOTSUP = 7,    /* a valid request this build does not support */
    EBM_ECANCELED = 8   /* a callback asked to stop */
} ebm_status;

/* Human-readable one-line message for the last failure on this thread ("" if none). */
EBM_API const char *ebm_last_error(void);
/* Short name of a status code: "EBM_EFORMAT" etc. */
EBM_API const char *ebm_status_name(ebm_status s);
EBM_API const char *ebm_version(void);
/* For bindings that mirror the plain-data structs in another language (python/ebm): the byte offset of
 * field in struct type, or sizeof(type) when field is NULL, e.g. ebm_abi_layout("ebm_cd_opts", "lr");
 * -1 for a struct or field not in the table (src/api/abi.c lists the structs a binding fills in or reads). */
EBM_API long long ebm_abi_layout(const char *type, const char *field);

/* ------------------------------------------------------------------------------------------------
 * Threads and BLAS
 * --------------------------------------------------------------------------------------------- */
/* Sets the number of threads used by OpenMP loops and by OpenBLAS (n >= 1). Results do not depend on it. */
EBM_API void ebm_set_threads(int n);
EBM_API int ebm_get_threads(void);
/* Describes the BLAS in use and the threads into buf, e.g. "OpenBLAS 0.3.21 ...; core SkylakeX; 2 BLAS threads,
 * 2 OpenMP threads, wait policy PASSIVE" (OMP_WAIT_POLICY / GOMP_SPINCOUNT as the environment has them). */
EBM_API void ebm_blas_info(char *buf, size_t cap);
/* OpenBLAS 0.3.21 picks its AVX2 "Haswell" kernels on AVX-512 CPUs it does not know (AMD Zen 4/5);
 * its AVX-512 "SkylakeX" kernels run there about twice as fast.  Returns the core type worth setting
 * in OPENBLAS_CORETYPE before OpenBLAS loads, or NULL when the detected one is already right. */
EBM_API const char *ebm_blas_better_coretype(void);
/* libgomp's threads wait at every barrier either by spinning (fast on a machine of their own, ruinous beside
 * another busy process: every parallel region then waits for a descheduled thread) or by sleeping (fair, but
 * every parallel region pays a wake-up: 15-30% on a quiet machine).  libgomp reads the choice only when it
 * loads.  Returns the GOMP_SPINCOUNT worth setting, a brief spin ("1000"), when no other task ran on this
 * machine over about 10 ms (five readings of the running-task count of /proc/loadavg, or of the file named by
 * EBM_LOADAVG_FILE), or NULL when something else ran or the count cannot be read: then OMP_WAIT_POLICY=PASSIVE
 * is the right setting.  See docs/benchmarks.md, "Beside other processes". */
EBM_API const char *ebm_omp_better_spincount(void);
/* The threads a run that wants `want` of them can use without crowding other work: the CPUs this process may
 * run on, less the tasks running besides this process's own (one reading of /proc/loadavg's running count,
 * or of the file named by EBM_LOADAVG_FILE, less this process's threads in the running state), at least 1
 * and at most want; want when the count cannot be read.  ebm_run asks it between updates (ebm_run_opts.
 * give_way); results never depend on the thread count. */
EBM_API int ebm_threads_fair(int want);
/* Giving way in a long loop of the caller's own, as ebm_run does between updates: begin takes the current
 * thread count as the most to use; check, called between pieces of work (never inside a parallel region),
 * reads ebm_threads_fair at most every `interval` seconds (begin sets 1) and, when the median of the last
 * three readings differs from the current count, sets it (ebm_set_threads); it returns the count the next
 * piece runs on.  end restores the count begin found.  Plain data: the fields are the state. */
typedef struct ebm_give_way {
    int want, cur;          /* the count at begin (the most), the count now */
    int hist[3], filled, next_slot;
    double interval, next;  /* seconds between readings; the time of the next one (ebm_now) */
} ebm_give_way;
EBM_API void ebm_give_way_begin(ebm_give_way *g);
EBM_API int ebm_give_way_check(ebm_give_way *g);
EBM_API void ebm_give_way_end(ebm_give_way *g);

/* ------------------------------------------------------------------------------------------------
 * Precision of the matrix products (RBM Gibbs sampling, CD/PCD training; GRBM samplers and training;
 * network layers).  A setting of the object that computes (ebm_cd_opts.precision, ebm_gibbs_set_precision,
 * ebm_grbm_sample_opts.precision, also the GRBM trainer's through ebm_grbm_train_opts.sampler,
 * ebm_ais_opts.precision, ebm_net_set_precision: a run-time setting of an ebm_net, never written to its
 * file), never of the stored model: parameters, model files, optimiser state, free energies,
 * log-sum-exps and AIS log weights stay fp32/double.  With EBM_PRECISION_BF16 the operands of each Gibbs
 * product (the weights, a copy refreshed after every update, and the states they multiply) are rounded to
 * bfloat16 (8 significant bits, round to nearest even) and multiplied by oneDNN with fp32 accumulation
 * into fp32 results.  CD's weight-gradient product stays fp32 (in bf16 it cost the demo model over a nat
 * of test log-likelihood), and so does the GRBM trainer's (with its data's v W).  RBM AIS checks the
 * setting and computes in fp32 whatever it says: its products are sums of rows of W over the units that
 * flipped, faster than bf16 products.
 * Results stay independent of the thread count, and a bf16 run is as reproducible as an fp32 one; it is
 * a different (slightly perturbed) algorithm, not the fp32 run's bits.  EBM_PRECISION_AUTO is bf16 where oneDNN is built in and the CPU multiplies bf16
 * natively (AVX512-BF16 or AMX), fp32 elsewhere.  Without oneDNN (CMake did not find libdnnl-dev),
 * EBM_PRECISION_BF16 fails with EBM_ENOTSUP.
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_precision {
    EBM_PRECISION_FP32 = 0,   /* float32 products (OpenBLAS); the default everywhere */
    EBM_PRECISION_BF16 = 1,   /* bfloat16 operands, float32 accumulation (oneDNN) */
    EBM_PRECISION_AUTO = 2    /* bf16 where the CPU has native bf16 and oneDNN is built in, else fp32 */
} ebm_precision;

/* *out = FP32 or BF16, what p means on this machine and build; EBM_ENOTSUP for BF16 without oneDNN. */
EBM_API ebm_status ebm_precision_resolve(ebm_precision p, ebm_precision *out);
/* "fp32", "bf16" or "auto". */
EBM_API const char *ebm_precision_name(ebm_precision p);

/* ------------------------------------------------------------------------------------------------
 * Random numbers: Philox4x32-10 (Salmon et al., SC'11), a counter-based generator.
 * A stream is identified by (seed, stream); output i of a stream is a pure function of
 * (seed, stream, i), so parallel code gives each row its own stream and results do not depend on
 * the number of threads.  The struct may live on the stack; treat its fields as private.
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    unsigned used;          /* words of buf already consumed (4 = empty) */
    int has_spare;          /* a second normal deviate from Box-Muller is waiting */
    double spare;
} ebm_rng;

EBM_API void ebm_rng_seed(ebm_rng *r, uint64_t seed, uint64_t stream);
EBM_API uint32_t ebm_rng_u32(ebm_rng *r);
EBM_API uint64_t ebm_rng_u64(ebm_rng *r);
EBM_API double ebm_rng_uniform(ebm_rng *r);            /* [0, 1), 53 random bits */
EBM_API double ebm_rng_normal(ebm_rng *r);             /* N(0, 1), Box-Muller */
EBM_API uint64_t ebm_rng_below(ebm_rng *r, uint64_t n); /* uniform on {0..n-1}, unbiased; n >= 1 */
/* idx (n) receives a uniformly random permutation of 0..n-1 (Fisher-Yates). */
EBM_API void ebm_rng_permutation(ebm_rng *r, size_t *idx, size_t n);
/* Counter-based bulk draws: out[i] is word (offset + i) of stream (seed, stream). out is (n). */
EBM_API void ebm_rng_fill_u32(uint64_t seed, uint64_t stream, uint64_t offset, uint32_t *out, size_t n);
/* out (n) in [0,1) with 24 random bits, from words offset.. of stream (seed, stream). */
EBM_API void ebm_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n);
/* out (n) ~ N(0,1) by Box-Muller, from words offset.. of stream (seed, stream). */
EBM_API void ebm_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n);

/* ------------------------------------------------------------------------------------------------
 * Matrices: float32, row-major, contiguous, 64-byte aligned.
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_mat {
    size_t rows, cols;
    float *data;            /* rows * cols floats; element (i, j) is data[i * cols + j] */
} ebm_mat;

/* A zero-filled rows x cols matrix (either may be 0). */
EBM_API ebm_status ebm_mat_new(size_t rows, size_t cols, ebm_mat **out);
EBM_API void ebm_mat_free(ebm_mat *m);
EBM_API ebm_status ebm_mat_clone(const ebm_mat *m, ebm_mat **out);
/* dst gets rows idx[0..n-1] of src; dst must be (n, src->cols). */
EBM_API ebm_status ebm_mat_gather(const ebm_mat *src, const size_t *idx, size_t n, ebm_mat *dst);
/* *out (min(n, rows), cols) <- rows of src drawn without replacement: the first n of a permutation drawn from
 * the stream (seed, stream). */
EBM_API ebm_status ebm_mat_sample_rows(const ebm_mat *src, size_t n, uint64_t seed, uint64_t stream, ebm_mat **out);
/* C = alpha * op(A) op(B) + beta * C, shapes checked; op is transpose when ta / tb is non-zero. */
EBM_API ebm_status ebm_mat_gemm(float alpha, const ebm_mat *A, int ta, const ebm_mat *B, int tb,
                                float beta, ebm_mat *C);

/* ------------------------------------------------------------------------------------------------
 * Typed n-dimensional arrays, as read from IDX, NPY and safetensors files.
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_dtype {
    EBM_U8 = 0, EBM_I8, EBM_I16, EBM_I32, EBM_I64, EBM_F16, EBM_BF16, EBM_F32, EBM_F64
} ebm_dtype;

#define EBM_MAX_DIMS 8

typedef struct ebm_array {
    ebm_dtype dtype;
    int ndim;                       /* 0 .. EBM_MAX_DIMS (0 = scalar) */
    size_t shape[EBM_MAX_DIMS];
    void *data;                     /* C order, host byte order after reading */
} ebm_array;

EBM_API size_t ebm_dtype_size(ebm_dtype t);
EBM_API const char *ebm_dtype_name(ebm_dtype t);   /* "u8", "f32", ... */
/* A new array holding a copy of data (numel(shape) elements), or zeros when data is NULL. */
EBM_API ebm_status ebm_array_new(ebm_dtype t, int ndim, const size_t *shape, const void *data,
                                 ebm_array **out);
EBM_API void ebm_array_free(ebm_array *a);
EBM_API size_t ebm_array_numel(const ebm_array *a);
/* Converts any numeric array to a float32 matrix: rows = shape[0], cols = product of the rest
 * (a 1-D array becomes one column; a scalar one 1x1 matrix). */
EBM_API ebm_status ebm_array_to_mat(const ebm_array *a, ebm_mat **out);

/* ================================================================================================
 * PART 2. DATA AND FILES: formats, metadata and safetensors, datasets, model files
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * File formats (docs/formats.md).  Every reader validates everything and answers EBM_EFORMAT with a
 * message naming the file and the fault for malformed input, including files above the readers' size
 * limits (16 GiB of data, 1 GiB of decoded PNG); a missing or unreadable file is EBM_EIO.
 * *_parse read from memory (name is used in messages).
 * Every writer writes a temporary file in the target's directory, fsyncs it and renames it over the
 * target, so a reader never sees a half-written file and a failed write leaves the old file intact.
 * --------------------------------------------------------------------------------------------- */
/* IDX (LeCun's MNIST format), raw or gzip-compressed (detected by content, not by name). */
EBM_API ebm_status ebm_idx_read(const char *path, ebm_array **out);
EBM_API ebm_status ebm_idx_parse(const void *buf, size_t len, const char *name, ebm_array **out);
/* Writes gzip when path ends in ".gz". Types: u8, i8, i16, i32, f32, f64. */
EBM_API ebm_status ebm_idx_write(const char *path, const ebm_array *a);

/* NPY version 1.0-3.0, C order, dtypes u1 i1 i2 i4 i8 f2 f4 f8 (either byte order). */
EBM_API ebm_status ebm_npy_read(const char *path, ebm_array **out);
EBM_API ebm_status ebm_npy_parse(const void *buf, size_t len, const char *name, ebm_array **out);
EBM_API ebm_status ebm_npy_write(const char *path, const ebm_array *a);

/* CSV of numbers: comma-separated (or semicolon / tab, detected), optional header row of
 * non-numeric names, every row the same number of fields. */
EBM_API ebm_status ebm_csv_read(const char *path, ebm_mat **out);
EBM_API ebm_status ebm_csv_parse(const void *buf, size_t len, const char *name, ebm_mat **out);
EBM_API ebm_status ebm_csv_write(const char *path, const ebm_mat *m);

/* PNG (8-bit grey, grey+alpha, RGB or RGBA; read as u8 (h, w) or (h, w, c); 16-bit and palette images
 * are converted to 8 bits).  The file must end with its IEND chunk (a cut file is EBM_EFORMAT). */
EBM_API ebm_status ebm_png_read(const char *path, ebm_array **out);
EBM_API ebm_status ebm_png_parse(const void *buf, size_t len, const char *name, ebm_array **out);
/* ebm_png_read refusing (EBM_EFORMAT, from the header, before decoding) images of more than max_pixels
 * pixels (0: no limit beyond ebm_png_read's): for consumers whose memory grows with the picture. */
EBM_API ebm_status ebm_png_read_max(const char *path, size_t max_pixels, ebm_array **out);
EBM_API ebm_status ebm_png_write(const char *path, const uint8_t *pixels, size_t height, size_t width,
                                 int channels);
/* *bytes <- the length of pixels (height, width, channels) encoded as a PNG file by libpng (default
 * compression), without writing it: a measure of the image's complexity (ebm_complexity_bits). */
EBM_API ebm_status ebm_png_encoded_size(const uint8_t *pixels, size_t height, size_t width, int channels,
                                        size_t *bytes);

typedef enum ebm_grid_norm {
    EBM_GRID_CLAMP = 0,     /* values in [0,1] map to 0..255; outside is clipped */
    EBM_GRID_MINMAX,        /* each tile stretched from its own min..max to 0..255 */
    EBM_GRID_SYMMETRIC      /* each tile mapped so that 0 is mid-grey and max |value| is black/white */
} ebm_grid_norm;

typedef struct ebm_grid_opts {
    size_t cols;            /* tiles per row; 0 = ceil(sqrt(n)) */
    size_t pad;             /* pixels between tiles, not around the border (default 1) */
    size_t zoom;            /* each pixel becomes zoom x zoom (default 2) */
    ebm_grid_norm norm;
    uint8_t background;     /* padding grey level (default 128) */
} ebm_grid_opts;

EBM_API void ebm_grid_opts_default(ebm_grid_opts *o);
/* Writes n images, each (height * width) floats at imgs + i * height * width, as a grid PNG. */
EBM_API ebm_status ebm_png_grid(const char *path, const float *imgs, size_t n, size_t height,
                                size_t width, const ebm_grid_opts *o);

/* A density picture of a 2-D energy: E (res, res) holds energies on a grid over [x_lo, x_hi] x [y_lo, y_hi],
 * row 0 at the top (y = y_hi - (r + 0.5) (y_hi - y_lo) / res), column c at x = x_lo + (c + 0.5) (x_hi - x_lo)
 * / res.  Shown as exp(-(E - min E)) in a black-to-yellow colour map, with data (n_data, 2) as white dots
 * and samples (n_samples, 2) as cyan dots on top (either may be NULL).  The picture is at least 400 pixels. */
EBM_API ebm_status ebm_png_density(const char *path, const float *E, size_t res, float x_lo, float x_hi, float y_lo,
                                   float y_hi, const float *data, size_t n_data, const float *samples, size_t n_samples);

/* ------------------------------------------------------------------------------------------------
 * Metadata (ordered string key/value pairs) and safetensors
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_meta ebm_meta;

EBM_API ebm_status ebm_meta_new(ebm_meta **out);
EBM_API void ebm_meta_free(ebm_meta *m);
/* Sets key to value (replacing an earlier value; insertion order is kept). */
EBM_API ebm_status ebm_meta_set(ebm_meta *m, const char *key, const char *value);
EBM_API ebm_status ebm_meta_setf(ebm_meta *m, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
EBM_API const char *ebm_meta_get(const ebm_meta *m, const char *key);  /* NULL if absent */
EBM_API size_t ebm_meta_count(const ebm_meta *m);
/* The number stored under key in m: a finite float32 (_float) or a whole number (_size, digits only).
 * EBM_EINVAL when the key is absent, EBM_EFORMAT when its value is not such a number; *out is unchanged
 * then. */
EBM_API ebm_status ebm_meta_get_float(const ebm_meta *m, const char *key, float *out);
EBM_API ebm_status ebm_meta_get_size(const ebm_meta *m, const char *key, size_t *out);
/* Entry i in insertion order; key and value are NULL when i >= ebm_meta_count(m). */
EBM_API void ebm_meta_at(const ebm_meta *m, size_t i, const char **key, const char **value);
EBM_API ebm_status ebm_meta_copy(ebm_meta *dst, const ebm_meta *src);  /* adds/overwrites src's keys */

/* A set of named tensors plus metadata: the contents of one safetensors file. */
typedef struct ebm_tensors ebm_tensors;

EBM_API ebm_status ebm_tensors_new(ebm_tensors **out);
EBM_API void ebm_tensors_free(ebm_tensors *t);
/* Copies data (numel(shape) elements of dtype, or zeros when data is NULL) under name; an existing name
 * is an error (EBM_EINVAL). */
EBM_API ebm_status ebm_tensors_put(ebm_tensors *t, const char *name, ebm_dtype dtype, int ndim,
                                   const size_t *shape, const void *data);
EBM_API const ebm_array *ebm_tensors_get(const ebm_tensors *t, const char *name); /* NULL if absent */
EBM_API size_t ebm_tensors_count(const ebm_tensors *t);
EBM_API const char *ebm_tensors_name(const ebm_tensors *t, size_t i);
EBM_API ebm_meta *ebm_tensors_meta(ebm_tensors *t);
EBM_API const ebm_meta *ebm_tensors_meta_const(const ebm_tensors *t);

EBM_API ebm_status ebm_safetensors_read(const char *path, ebm_tensors **out);
EBM_API ebm_status ebm_safetensors_parse(const void *buf, size_t len, const char *name,
                                         ebm_tensors **out);
EBM_API ebm_status ebm_safetensors_write(const char *path, const ebm_tensors *t);

/* ------------------------------------------------------------------------------------------------
 * Datasets
 *  spec is one of:
 *    fashion-mnist | fashion-mnist:train | fashion-mnist:test   (Debian's dataset-fashion-mnist,
 *        /usr/share/datasets/fashion-mnist, or the directory in $EBM_FASHION_MNIST_DIR)
 *    a path to an IDX file (raw or .gz), a .npy file or a .csv file
 *    toy:NAME  a 2-D toy density (ebm_toy_generate) with limit rows (10,000 when limit is 0) drawn from seed
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_scale {
    EBM_SCALE_AUTO = 0,     /* u8 data / 255; everything else as stored */
    EBM_SCALE_NONE,         /* as stored */
    EBM_SCALE_255,          /* divide by 255 */
    EBM_SCALE_MINMAX,       /* (x - min) / (max - min) over the whole set */
    EBM_SCALE_PM1           /* to [-1, 1]: u8 data x / 127.5 - 1, other data 2 (x - min) / (max - min) - 1 */
} ebm_scale;

typedef enum ebm_binarize {
    EBM_BINARIZE_NONE = 0,
    EBM_BINARIZE_THRESHOLD,   /* x >= threshold -> 1, else 0 (after scaling) */
    EBM_BINARIZE_STOCHASTIC   /* x -> Bernoulli(x), one fixed draw per value from seed */
} ebm_binarize;

typedef struct ebm_data_opts {
    size_t limit;             /* keep the first limit rows; 0 = all */
    ebm_scale scale;
    ebm_binarize binarize;
    float threshold;          /* default 0.5 */
    uint64_t seed;            /* for stochastic binarisation */
} ebm_data_opts;

typedef struct ebm_dataset {
    ebm_mat *x;               /* (n, d) */
    int32_t *labels;          /* (n) or NULL */
    size_t height, width;     /* image shape when the source knows it, else 0 */
    char source[4096];        /* resolved path */
} ebm_dataset;

EBM_API void ebm_data_opts_default(ebm_data_opts *o);
/* spec: fashion-mnist[:train|:test], toy:NAME, or a path (.idx[.gz], .npy, .csv).  A trailing "#LIST"
 * (e.g. "fashion-mnist#0-8", "data.npy#1,3,5-7") keeps only the rows whose label is in LIST, then the
 * first o->limit of those: for held-out-class experiments.  Unlabelled data with a filter is EBM_EINVAL. */
EBM_API ebm_status ebm_dataset_load(const char *spec, const ebm_data_opts *o, ebm_dataset **out);
/* Rotation labels (Gidaris et al. 2018; joint labels as in Lee, Hwang & Shin 2020): xo (4n, side*side) <-
 * row 4i + r is row i of x (n, side*side: square images, row-major) turned r quarter-turns anticlockwise
 * (numpy.rot90(image, r)), r = 0..3; yo (4n) <- labels[i] + k r when labels (each in 0..k-1) and yo are not
 * NULL.  A classifier of the 4k joint classes learns each class upright and turned; its first k outputs are the
 * upright classes (ebm_net_trim_outputs keeps them).  EBM_EINVAL for a label outside 0..k-1 or side 0. */
EBM_API ebm_status ebm_rotations(const float *x, const int32_t *labels, size_t n, size_t side, size_t k, float *xo,
                                 int32_t *yo);
/* Class labels from a one-column file (NPY of any numeric type, CSV, IDX; read unscaled): the first n rows
 * (exactly n rows in the file when exact), each a whole number in 0..k-1, into a new array *out (the
 * caller's, free()).  EBM_EINVAL names the file and the row at fault. */
EBM_API ebm_status ebm_labels_load(const char *path, size_t n, int exact, size_t k, int32_t **out);
/* Whether a file can be written at path, before long work: path is not a directory and its directory
 * exists and is writable; EBM_EIO naming the path and the fault otherwise. */
EBM_API ebm_status ebm_check_writable(const char *path);
/* Opens a line log (the CSV of a training run) for writing through *fd (the caller's, close()), every
 * write appended (O_APPEND).  append == 0: a fresh log; an old file at path is replaced atomically once
 * header (a line, "\n" added; NULL for none) is written, and stays as it was if that fails.
 * append != 0: the lines go after the old ones (a resumed run); header is written only when the file is
 * new or empty, and a last line cut short by a killed writer is ended first.  EBM_EIO names the file. */
EBM_API ebm_status ebm_log_open(const char *path, const char *header, int append, int *fd);
/* An advisory lock (flock) on writing the output path, held until ebm_lock_release: a second process
 * asking for the same path gets EBM_EIO with a message naming the path and the holder's pid, instead of
 * both writing it and one run being lost.  The lock is the file ".NAME.lock" beside path, removed on
 * release (a killed holder's stays, unlocked, and is reused). */
typedef struct ebm_lock ebm_lock;
EBM_API ebm_status ebm_lock_output(const char *path, ebm_lock **out);
EBM_API void ebm_lock_release(ebm_lock *l);
/* n rows of the 2-D toy density name (one of ebm_toy_names()), row r drawn from stream (seed, r); labels
 * hold each row's mixture component where the density has components (0 otherwise). */
EBM_API ebm_status ebm_toy_generate(const char *name, size_t n, uint64_t seed, ebm_dataset **out);
EBM_API const char *ebm_toy_names(void);
EBM_API void ebm_dataset_free(ebm_dataset *d);
/* Fails with EBM_EINVAL naming the first row/column (counted from 0) whose value lies outside [lo, hi]
 * or is not finite. */
EBM_API ebm_status ebm_mat_check_range(const ebm_mat *m, float lo, float hi, const char *what);

/* ------------------------------------------------------------------------------------------------
 * Model files: what a file holds, read from its header alone, and one loader for every kind
 *  Every model is one safetensors file whose metadata "ebm.model" names its kind (a file without the key
 *  is a Bernoulli RBM, as written before the key existed).  The library finds the kind from the JSON
 *  header without reading the tensors, loads any model file into one handle, records where a model's
 *  training data came from, and builds composed models (ebm compose) from their parts.
 * --------------------------------------------------------------------------------------------- */
/* The __metadata__ of a safetensors file from its header alone, validated as ebm_safetensors_parse
 * validates it (the same JSON parser, the same 100 MB limit on the header, every tensor entry).  parse:
 * buf holds the 8-byte length and the header and may end there (so the tensors' offsets are checked
 * against one another, not against the end).  read: reads the first 8 + N bytes of path, never the
 * tensors, and checks the offsets against the file's length.  EBM_EFORMAT names the file and the fault,
 * EBM_EIO an unreadable file.  *out is the caller's (ebm_meta_free). */
EBM_API ebm_status ebm_safetensors_parse_meta(const void *buf, size_t len, const char *name, ebm_meta **out);
EBM_API ebm_status ebm_safetensors_read_meta(const char *path, ebm_meta **out);

/* The scale and binarisation names of the CLI's --scale / --binarize and of the ebm.data.* metadata:
 * "auto", "none", "255", "minmax", "pm1" and "none", "threshold", "stochastic" (NULL for a value out of
 * range); parse: EBM_EINVAL naming the choices for anything else. */
EBM_API const char *ebm_scale_name(ebm_scale s);
EBM_API ebm_status ebm_scale_parse(const char *name, ebm_scale *out);
EBM_API const char *ebm_binarize_name(ebm_binarize b);
EBM_API ebm_status ebm_binarize_parse(const char *name, ebm_binarize *out);

/* Provenance: the training data of a model, as every trainer of the CLI records it: ebm.data.spec = spec,
 * ebm.data.source = d->source, ebm.data.rows = the rows of d->x, ebm.data.scale and ebm.data.binarize
 * (ebm_scale_name, ebm_binarize_name of o; o NULL = ebm_data_opts_default), ebm.data.threshold ("%g"),
 * replacing earlier values. */
EBM_API ebm_status ebm_meta_set_data(ebm_meta *m, const char *spec, const ebm_dataset *d, const ebm_data_opts *o);
/* Sampling defaults for `ebm sample`: ebm.sample.steps, ebm.sample.temperature ("%g") and, when init is
 * not NULL, ebm.sample.init ("noise", "data", ...); keys m already has are kept (a model trained further
 * keeps the settings it was sampled with). */
EBM_API ebm_status ebm_meta_set_sample_defaults(ebm_meta *m, size_t steps, float temperature, const char *init);

/* The kinds of model file; values are only ever appended. */
typedef enum ebm_kind {
    EBM_KIND_RBM = 0,        /* "rbm": Bernoulli RBM (also a file without ebm.model) */
    EBM_KIND_GRBM,           /* "grbm": Gaussian-Bernoulli RBM */
    EBM_KIND_BM,             /* "bm": fully visible Boltzmann machine */
    EBM_KIND_DBN,            /* "dbn": deep belief net */
    EBM_KIND_NET,            /* "net": energy network (ebm train ebm) */
    EBM_KIND_JEM,            /* "jem": classifier network, E(x) = -log sum_y exp f(x)[y] */
    EBM_KIND_STRUCTURED,     /* "structured": structured-prediction model E(x, y) */
    EBM_KIND_COMPOSE         /* "compose": a composed model naming other model files */
} ebm_kind;
#define EBM_N_KINDS 8
/* "rbm", "grbm", "bm", "dbn", "net", "jem", "structured", "compose": the ebm.model values; NULL out of range. */
EBM_API const char *ebm_kind_name(ebm_kind k);
/* The kind named name; EBM_EINVAL naming the known kinds otherwise. */
EBM_API ebm_status ebm_kind_parse(const char *name, ebm_kind *out);
/* The kind of the model file at path from its header alone (ebm_safetensors_read_meta): EBM_EFORMAT for a
 * malformed header or an unknown ebm.model ("PATH: unknown model kind 'x'"), EBM_EIO for an unreadable
 * file.  _parse: the same from a buffer holding at least the length and the header; name for messages. */
EBM_API ebm_status ebm_model_kind(const char *path, ebm_kind *out);
EBM_API ebm_status ebm_model_kind_parse(const void *buf, size_t len, const char *name, ebm_kind *out);

/* Any model file, loaded whole.  A composed model loads its parts (by their recorded paths). */
typedef struct ebm_model ebm_model;
typedef struct ebm_rbm ebm_rbm;
typedef struct ebm_grbm ebm_grbm;
typedef struct ebm_bm ebm_bm;
typedef struct ebm_dbn ebm_dbn;
typedef struct ebm_net ebm_net;
typedef struct ebm_structured ebm_structured;
typedef struct ebm_energy ebm_energy;
typedef struct ebm_composed ebm_composed;

EBM_API ebm_status ebm_model_load(const char *path, ebm_model **out);
/* The same from the bytes of a whole file; name is used in messages (and a composed model still reads its
 * parts from their paths). */
EBM_API ebm_status ebm_model_parse(const void *buf, size_t len, const char *name, ebm_model **out);
EBM_API void ebm_model_free(ebm_model *m);
EBM_API ebm_kind ebm_model_kind_of(const ebm_model *m);
/* All the file's metadata (borrowed). */
EBM_API const ebm_meta *ebm_model_meta(const ebm_model *m);
/* The typed model (borrowed, owned by m), or NULL when m is another kind.  _net: NET and JEM files. */
EBM_API ebm_rbm *ebm_model_rbm(ebm_model *m);
EBM_API ebm_grbm *ebm_model_grbm(ebm_model *m);
EBM_API ebm_bm *ebm_model_bm(ebm_model *m);
EBM_API ebm_dbn *ebm_model_dbn(ebm_model *m);
EBM_API ebm_net *ebm_model_net(ebm_model *m);
EBM_API ebm_structured *ebm_model_structured(ebm_model *m);
EBM_API ebm_composed *ebm_model_composed(ebm_model *m);
/* The classes of a classifier network (its output width when the file says ebm.net.head = logsumexp, as
 * ebm train jem writes), else 0. */
EBM_API size_t ebm_model_classes(const ebm_model *m);
/* *out <- the model's own energy over its inputs (the caller frees it, before m): an RBM's or GRBM's free
 * energy (ebm_energy_rbm, ebm_energy_grbm), a network's f(x) (one output) or, for a classifier,
 * -log sum_y exp f(x)[y], a composed model's composite.  EBM_EINVAL for kinds without one (BM: binary
 * states, ebm_bm_energy; DBN: ebm_dbn_free_energy; structured: E(x, y) depends on the labels); EBM_EFORMAT
 * for a network with several outputs and no energy head. */
EBM_API ebm_status ebm_model_energy(ebm_model *m, ebm_energy **out);
/* Data for any model, the way `ebm score` reads it: one place for what each kind's inputs are.
 * _input_size: the values of one input row (an RBM's or GRBM's visible units, a BM's units, a DBN's bottom
 * units, a network's or composed model's input size, a structured model's x).  _data_opts: the
 * preprocessing the model's training data had (its ebm.data.scale, .binarize and .threshold; where the file
 * records none, ebm_data_opts_default, but binarisation at 0.5 for a BM).  _data: spec loaded with o (NULL:
 * _data_opts) and put into the model's input space, checked: values in [0, 1] for RBMs and DBNs, finite and
 * standardised (ebm_grbm_standardize) for GRBMs, 0/1 mapped to the model's spins for BMs, and the width for
 * all (EBM_ESHAPE / EBM_EINVAL naming spec).  _score: E (n) <- the model's energy of rows x in that space,
 * the anomaly score (high = unlikely): the free energy for RBMs, GRBMs and (bottom RBM) DBNs, E(x) for BMs,
 * networks and composed models, -log sum_y exp f(x)[y] for classifiers, -log sum_y exp(-E(x, y)) for K-class
 * structured models (EBM_ENOTSUP for chain models); n = 0 only asks whether the model can score.
 * _score_name: what that score is, in words ("free energy F(v)", ...). */
EBM_API size_t ebm_model_input_size(const ebm_model *m);
EBM_API void ebm_model_data_opts(const ebm_model *m, ebm_data_opts *o);
EBM_API ebm_status ebm_model_data(const ebm_model *m, const char *spec, const ebm_data_opts *o, ebm_dataset **out);
EBM_API ebm_status ebm_model_score(ebm_model *m, const float *x, size_t n, double *E);
EBM_API const char *ebm_model_score_name(const ebm_model *m);

/* Composed models (Hinton 2002, products of experts; Du, Li & Mordatch 2020): a file that holds no tensors,
 * only metadata naming its parts by absolute path with their weights (ebm.compose.<i>.path, .weight and
 * .class, ebm.compose.op, ebm.compose.parts, ebm.compose.formula), and the composite energy
 *   op SUM: E(x) = sum_k w_k E_k(x)              (AND; a negative weight: AND NOT)
 *   op OR:  E(x) = -log sum_k exp(-w_k E_k(x))    (a mixture, up to each part's Z; weights > 0)
 * A part is an energy network, a JEM classifier (its own energy, or with a class y the class energy
 * -f(x)[y]) or a Bernoulli RBM (free energy).  Parts must share the input size and the data scale. */
#define EBM_COMPOSE_MAX_PARTS 16
typedef enum ebm_compose_op { EBM_COMPOSE_SUM = 0, EBM_COMPOSE_OR = 1 } ebm_compose_op;

/* An empty composed model to add parts to, then save. */
EBM_API ebm_status ebm_composed_new(ebm_compose_op op, ebm_composed **out);
/* Loads the model file at path as the next part with weight (finite, non-zero; > 0 for OR) and class
 * (-1: the model's own energy; else a class of a classifier network).  The path is recorded absolute.
 * Errors name the part ("part 2: ..."). */
EBM_API ebm_status ebm_composed_add(ebm_composed *c, const char *path, float weight, long cls);
/* A term of `ebm compose`, PATH[#CLASS][@WEIGHT]: copied into buf (cap bytes, truncated like snprintf) and split
 * there: *cls <- the text after the last '#' (NULL without one), *weight <- the number after the last '@'
 * (1 without one); buf keeps the path.  EBM_EINVAL when the weight is not a finite non-zero number. */
EBM_API ebm_status ebm_compose_term_parse(const char *term, char *buf, size_t cap, const char **cls, float *weight);
/* The same with the part already loaded (ebm_model_load of path), which c takes over, also on failure:
 * for callers that look at the part first (e.g. to resolve a class name). */
EBM_API ebm_status ebm_composed_add_model(ebm_composed *c, ebm_model *part, const char *path, float weight, long cls);
/* A composed model file: load reads it and loads every part; parse reads the bytes of a file into the
 * description alone (op and parts; no part is loaded, so ebm_composed_energy refuses it).  Malformed
 * files are EBM_EFORMAT naming the file and the key. */
EBM_API ebm_status ebm_composed_load(const char *path, ebm_composed **out);
EBM_API ebm_status ebm_composed_parse(const void *buf, size_t len, const char *name, ebm_composed **out);
/* *out <- the composite energy (ebm_energy_sum / ebm_energy_logsumexp of the parts' energies; the caller
 * frees it, before c); checks that the parts agree on the input size and the data scale. */
EBM_API ebm_status ebm_composed_energy(ebm_composed *c, ebm_energy **out);
/* The metadata: a loaded file's, or what ebm_composed_save writes (ebm.model = "compose", the parts, the
 * formula, and from the parts the keys commands need: ebm.net.input, ebm.data.scale, ebm.data.spec and
 * the ebm.sample.* sampler settings). */
EBM_API const ebm_meta *ebm_composed_meta(const ebm_composed *c);
EBM_API ebm_compose_op ebm_composed_op(const ebm_composed *c);
EBM_API size_t ebm_composed_count(const ebm_composed *c);
/* Part i's recorded path, weight and class (-1 = none); any output may be NULL; EBM_EINVAL past the end. */
EBM_API ebm_status ebm_composed_part(const ebm_composed *c, size_t i, const char **path, float *weight, long *cls);
/* Checks the parts as ebm_composed_energy does, then writes the metadata above (atomically). */
EBM_API ebm_status ebm_composed_save(const ebm_composed *c, const char *path);
EBM_API void ebm_composed_free(ebm_composed *c);

/* ================================================================================================
 * PART 3. MODELS: RBM, networks, GRBM, structured predictors, Boltzmann machines, DBNs
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * Bernoulli restricted Boltzmann machine
 *   E(v, h) = -a'v - b'h - v'Wh,  v in {0,1}^n_vis, h in {0,1}^n_hid
 *   F(v)    = -a'v - sum_j softplus(b_j + (v'W)_j)            (free energy, p(v) = exp(-F(v)/T)/Z at T=1)
 *   p(h_j = 1 | v) = sigmoid((b_j + (v'W)_j) / T),  p(v_i = 1 | h) = sigmoid((a_i + (Wh)_i) / T)
 * Parameters live in one flat array: params = [W (n_vis x n_hid, row-major) | a (n_vis) | b (n_hid)].
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_rbm {
    size_t n_vis, n_hid;
    float *params;            /* n_params floats */
    float *W;                 /* = params; (n_vis, n_hid) */
    float *a;                 /* = params + n_vis * n_hid; visible biases (n_vis) */
    float *b;                 /* = a + n_vis; hidden biases (n_hid) */
    size_t n_params;
    size_t height, width;     /* image shape of the visible layer, 0 if unknown */
    ebm_meta *meta;           /* provenance and defaults, saved with the model */
} ebm_rbm;

EBM_API ebm_status ebm_rbm_new(size_t n_vis, size_t n_hid, ebm_rbm **out);
EBM_API void ebm_rbm_free(ebm_rbm *m);
EBM_API ebm_status ebm_rbm_clone(const ebm_rbm *m, ebm_rbm **out);
/* W ~ N(0, weight_std^2), b = 0, a = logit of data's column means (clipped to [1e-3, 1-1e-3])
 * when data (n, n_vis) is given, else 0. */
EBM_API ebm_status ebm_rbm_init(ebm_rbm *m, ebm_rng *rng, float weight_std, const ebm_mat *data);
/* E (n) = E(v_i, h_i); v is (n, n_vis), h is (n, n_hid). */
EBM_API ebm_status ebm_rbm_energy(const ebm_rbm *m, const float *v, const float *h, size_t n, double *E);
/* F (n) = free energy of each row of v (n, n_vis) at temperature T, i.e. -T log sum_h exp(-E(v,h)/T). */
EBM_API ebm_status ebm_rbm_free_energy(const ebm_rbm *m, const float *v, size_t n, float T, double *F);
/* ph (n, n_hid) = p(h = 1 | v) for v (n, n_vis) at temperature T. */
EBM_API ebm_status ebm_rbm_hidden_probs(const ebm_rbm *m, const float *v, size_t n, float T, float *ph);
/* pv (n, n_vis) = p(v = 1 | h) for h (n, n_hid) at temperature T. */
EBM_API ebm_status ebm_rbm_visible_probs(const ebm_rbm *m, const float *h, size_t n, float T, float *pv);
/* grad (n_params) += sum_i w_i dF(v_i)/dtheta at T = 1; v is (n, n_vis); w (n) or NULL for all ones. */
EBM_API ebm_status ebm_rbm_free_energy_grad(const ebm_rbm *m, const float *v, size_t n, const float *w,
                                            float *grad);
/* EBM_ENAN naming the first non-finite parameter ("W[3,17]"), else EBM_OK. */
EBM_API ebm_status ebm_rbm_check_finite(const ebm_rbm *m);
/* Statistics of one parameter array, accumulated in double (std: the population standard deviation). */
typedef struct ebm_param_stats {
    double mean, std, min, max, mean_abs, max_abs;
} ebm_param_stats;
/* out[0] of the weights W, out[1] of the visible biases b_v, out[2] of the hidden biases b_h. */
EBM_API void ebm_rbm_param_stats(const ebm_rbm *m, ebm_param_stats out[3]);
/* The statistics of any parameter array x (n), leaving out every (skip + 1)-th value from the first when skip > 0
 * (the diagonal of a (skip, skip) matrix), of exp(x / 2) when half_exp (sigma from log sigma^2); mean and std 0
 * when no value is left. */
EBM_API void ebm_param_stats_of(const float *x, size_t n, size_t skip, int half_exp, ebm_param_stats *out);

/* Files: tensors W (n_vis, n_hid), b_v (n_vis), b_h (n_hid); metadata ebm.model = "rbm",
 * ebm.version, ebm.image_shape = "HxW" and everything in m->meta. */
EBM_API ebm_status ebm_rbm_save(const ebm_rbm *m, const char *path);
EBM_API ebm_status ebm_rbm_load(const char *path, ebm_rbm **out);
EBM_API ebm_status ebm_rbm_from_tensors(const ebm_tensors *t, const char *name, ebm_rbm **out);
EBM_API ebm_status ebm_rbm_to_tensors(const ebm_rbm *m, ebm_tensors *t);

/* ------------------------------------------------------------------------------------------------
 * Neural-network energies (docs/net.md).  A network maps an input of shape C x H x W (one row of C*H*W
 * floats, NCHW order; a flat vector is C = dim, H = W = 1) through a stack of layers given as a text spec,
 * comma-separated, layer i being the i-th token (counted from 0):
 *   linear:OUT[:sn]                 fully connected, y = W x + b, W (OUT, IN); needs a flat input
 *   conv:OUT:K:STRIDE[:PAD][:sn]    2-D convolution, K x K kernels, W (OUT, C, K, K); PAD defaults to K/2
 *                                   (size-preserving for odd K and stride 1); cross-correlation as PyTorch
 *   pool:K                          average pooling over K x K windows with stride K (floor, as PyTorch)
 *   flatten                         C x H x W -> (C*H*W) x 1 x 1 (the data do not move)
 *   silu | swish, leakyrelu[:SLOPE] (default 0.2), elu[:ALPHA] (default 1), softplus, tanh
 * A trailing ":sn" puts spectral normalisation (Miyato et al. 2018) on that layer's weight: the forward
 * uses W / sigma with sigma = |W' u| for a stored unit vector u (state, not trained, saved with the model);
 * in training mode each forward first does one power iteration u <- W v / |W v|, v = W' u / |W' u|.
 * The gradient is exact for the stored u (d sigma / dW = u v').
 * The output width is the last layer's: 1 for an energy, K for a classifier head.
 * All parameters live in one flat array, layer by layer in spec order, weight then bias; the tensors are
 * named layers.<i>.weight, layers.<i>.bias (and layers.<i>.sn_u for the SN state).
 * Calls on one ebm_net are not thread-safe: it keeps the activations of its last forward for the backward.
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_net ebm_net;

/* Parses spec for an input of channels x height x width; bad specs are EBM_EINVAL naming the token and
 * its position, shape mismatches (a kernel larger than its input, linear on an unflattened image) too.
 * Parameters start at zero: call ebm_net_init. */
EBM_API ebm_status ebm_net_new(const char *spec, size_t channels, size_t height, size_t width, ebm_net **out);
/* ebm_net_new for rows of cols values, seen as one-channel height x width images when height, width > 1 and
 * height * width = cols, else as cols channels.  spec NULL: the default network ending in k outputs, a small CNN
 * for images (conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:K), an MLP
 * otherwise (linear:128,silu,linear:128,silu,linear:128,silu,linear:K). */
EBM_API ebm_status ebm_net_new_for_data(const char *spec, size_t cols, size_t height, size_t width, size_t k,
                                        ebm_net **out);
EBM_API void ebm_net_free(ebm_net *net);
/* A deep copy: parameters, SN state and training flag (not the work buffers). */
EBM_API ebm_status ebm_net_clone(const ebm_net *net, ebm_net **out);
/* A copy whose last layer, which must be linear and without spectral normalisation, keeps its first k outputs
 * (rows 0..k-1 of W and b): f_out(x) = f(x)[0..k-1] exactly.  Drops the head of an auxiliary task trained
 * beside the k outputs kept (`ebm train jem --rotations`).  EBM_EINVAL for another last layer or k outside
 * 1..output_size, EBM_ENOTSUP for an SN last layer. */
EBM_API ebm_status ebm_net_trim_outputs(const ebm_net *net, size_t k, ebm_net **out);
/* PyTorch's default initialisation: weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in =
 * IN (linear) or C*K*K (conv), i.e. Kaiming-uniform with a = sqrt(5); SN vectors u ~ N(0, I) normalised,
 * then 10 power iterations so that sigma is accurate from the first step. */
EBM_API ebm_status ebm_net_init(ebm_net *net, ebm_rng *rng);
/* The flat parameter array (*n floats; n may be NULL); writable: optimisers update it in place. */
EBM_API float *ebm_net_params(ebm_net *net, size_t *n);
/* The flat non-trained state (the SN vectors u of every SN layer in order; *n may be 0, then NULL). */
EBM_API float *ebm_net_state(ebm_net *net, size_t *n);
EBM_API size_t ebm_net_input_size(const ebm_net *net);      /* C*H*W */
EBM_API size_t ebm_net_output_size(const ebm_net *net);     /* the last layer's width */
EBM_API const char *ebm_net_spec(const ebm_net *net);       /* canonical spec (every default written out) */
/* Training mode: every forward does one SN power iteration (no effect without SN layers).  Default off,
 * so that energies are a fixed function of x for samplers and tests. */
EBM_API void ebm_net_set_training(ebm_net *net, int on);
/* iters power iterations on every SN layer now (e.g. once per parameter update). */
EBM_API void ebm_net_sn_update(ebm_net *net, size_t iters);
/* The precision of the network's matrix products (see ebm_precision; default EBM_PRECISION_FP32, today's
 * float32 products bit for bit): with BF16 every product of a forward or backward (linear and conv layers:
 * outputs, dL/dx, dL/dW) multiplies bfloat16 roundings of its operands with float32 sums into float32
 * results; activations, gradients, parameters and files stay float32.  AUTO resolves as
 * ebm_precision_resolve says (fp32 where the CPU has no native bf16); BF16 without oneDNN is EBM_ENOTSUP.
 * Results stay independent of the thread count.  A linear layer multiplies by a bf16 copy of its weights
 * made on the first forward after they changed: after ebm_net_set_precision, ebm_net_init, a backward with
 * a parameter gradient (an update follows it), a call of ebm_net_params (the caller may write) and
 * ebm_net_params_changed, which a caller who keeps the pointer and writes through it later must call.
 * ebm_net_clone copies the setting. */
EBM_API ebm_status ebm_net_set_precision(ebm_net *net, ebm_precision p);
/* What the products run in now: EBM_PRECISION_FP32 or EBM_PRECISION_BF16. */
EBM_API ebm_precision ebm_net_precision(const ebm_net *net);
/* Tells the network its parameters were written (bf16: the weight copies are remade on the next forward). */
EBM_API void ebm_net_params_changed(ebm_net *net);
/* out (n, output_size) <- net(x) for x (n, input_size).  Keeps the activations for ebm_net_backward. */
EBM_API ebm_status ebm_net_forward(ebm_net *net, const float *x, size_t n, float *out);
/* Backward through the last forward (same n, else EBM_ESHAPE): given dout (n, output_size) = dL/dout,
 * grad (n_params) += dL/dtheta when grad is not NULL (the caller zeroes it), dx (n, input_size) <- dL/dx
 * when dx is not NULL. */
EBM_API ebm_status ebm_net_backward(ebm_net *net, const float *dout, size_t n, float *grad, float *dx);
/* The index of the last weighted (linear or conv) layer; its input, *width floats per row, is the
 * network's penultimate representation (the features of a Fréchet distance). */
EBM_API size_t ebm_net_penultimate(const ebm_net *net, size_t *width);
/* out (n, width) <- the activations entering layer `at` (0 = the input itself, n_layers = the
 * output), width being that layer's input size, after a forward of x (n, input_size); with x NULL, of
 * the last forward (which must have had n rows, else EBM_ESHAPE): logits and features from one pass. */
EBM_API ebm_status ebm_net_features(ebm_net *net, const float *x, size_t n, size_t at, float *out);
/* The number of layers (the tokens of the spec: linear, conv, activations, pool, flatten, ...), and the
 * width of the activations entering layer `at` (0 = the input size, ebm_net_layers = the output size; 0 for
 * `at` beyond that): what ebm_net_features writes per row. */
EBM_API size_t ebm_net_layers(const ebm_net *net);
EBM_API size_t ebm_net_feature_width(const ebm_net *net, size_t at);
/* One line per layer with its index, token, output shape and parameter count, then the total, into buf
 * (truncated to cap - 1 characters). */
EBM_API void ebm_net_describe(const ebm_net *net, char *buf, size_t cap);

/* How the network's outputs f(x) become an energy. */
typedef enum ebm_net_head {
    EBM_NET_HEAD_SCALAR = 0,    /* E(x) = f(x)[0]; the output width must be 1 */
    EBM_NET_HEAD_LOGSUMEXP = 1  /* E(x) = -log sum_y exp(f(x)[y]) (JEM: f are class logits) */
} ebm_net_head;

/* An energy over x in R^input_size backed by net (borrowed: free the energy first).  Its params are the
 * net's flat array, so a sampler and an optimiser see the same numbers. */
EBM_API ebm_status ebm_net_energy(ebm_net *net, ebm_net_head head, ebm_energy **out);
/* The class-conditional energy of a classifier net, E(x, y) = -f(x)[y] (p(x | y) ∝ exp f(x)[y]): row r of
 * every call has class classes[r mod n_classes] (copied), so a sampler's n chains can hold several
 * classes at once.  Classes outside [0, output_size) are EBM_EINVAL. */
EBM_API ebm_status ebm_net_energy_class(ebm_net *net, const int32_t *classes, size_t n_classes, ebm_energy **out);

/* Files: safetensors with metadata ebm.model ("net" unless meta says otherwise), ebm.version,
 * ebm.net.spec, ebm.net.input = "CxHxW", everything in meta (may be NULL), and the tensors above.
 * Loading rebuilds the net from its spec; tensors that do not match it are EBM_EFORMAT.  *meta (may be
 * NULL) receives all the file's metadata; free it with ebm_meta_free. */
EBM_API ebm_status ebm_net_save(const ebm_net *net, const ebm_meta *meta, const char *path);
EBM_API ebm_status ebm_net_load(const char *path, ebm_net **out, ebm_meta **meta);
/* The same through an ebm_tensors (to store a net beside other tensors); name is used in messages. */
EBM_API ebm_status ebm_net_to_tensors(const ebm_net *net, ebm_tensors *t);
EBM_API ebm_status ebm_net_from_tensors(const ebm_tensors *t, const char *name, ebm_net **out);
/* The input shape C x H x W of a network file's metadata (ebm.net.input) when it has dim values: 1; else
 * *c = dim, *h = *w = 1 and 0. */
EBM_API int ebm_net_input_shape(const ebm_meta *meta, size_t dim, size_t *c, size_t *h, size_t *w);
/* The name of class c of a k-class model whose metadata is meta: the Fashion-MNIST names (t-shirt, trouser,
 * ..., ankle-boot) for 10 classes trained on fashion-mnist; NULL otherwise. */
EBM_API const char *ebm_class_name(const ebm_meta *meta, size_t k, size_t c);
/* Classes of a k-class model from "Y", "Y1,Y2,..." or "all": numbers 0..k-1 or names of ebm_class_name, into
 * out (at most cap: "all" gives the first cap, a longer list is an error); *n <- how many.  EBM_EINVAL naming
 * the problem (a bad or out-of-range class, an unreadable list, k = 0). */
EBM_API ebm_status ebm_classes_parse(const char *arg, const ebm_meta *meta, size_t k, int32_t *out, size_t cap,
                                     size_t *n);

/* ------------------------------------------------------------------------------------------------
 * Gaussian-Bernoulli RBM (Liao, Kornblith, Ren, Fleet & Hinton 2022, "Gaussian-Bernoulli RBMs without
 * tears", arXiv 2210.10318), in the model's standardised space x = (pixel - data_mean) / data_std:
 *   E(v, h) = 1/2 ||(v - mu) / sigma||^2 - (v / sigma^2)' W h - b'h,   sigma_i^2 = exp(log_var_i)
 *   F_T(v)  = 1/2 ||(v - mu) / sigma||^2 - T sum_j softplus((W'(v / sigma^2) + b)_j / T)
 *   p(h_j = 1 | v) = sigmoid((W'(v / sigma^2) + b)_j / T),   p(v | h) = N(W h + mu, T diag(sigma^2))
 * log_var is clamped to [EBM_GRBM_LOGVAR_MIN, EBM_GRBM_LOGVAR_MAX] wherever sigma^2 is formed.
 * Parameters live in one flat array: params = [W (n_vis x n_hid) | b (n_hid) | mu (n_vis) | log_var (n_vis)].
 * Every ebm_grbm_* function below works in the standardised space unless it says "pixel".
 * --------------------------------------------------------------------------------------------- */
#define EBM_GRBM_LOGVAR_MIN (-18.420681f) /* sigma^2 >= 1e-8, as the paper's code clips it */
#define EBM_GRBM_LOGVAR_MAX (18.420681f)

typedef struct ebm_grbm {
    size_t n_vis, n_hid;
    float *params;            /* n_params floats */
    float *W;                 /* = params; (n_vis, n_hid) */
    float *b;                 /* hidden biases (n_hid) */
    float *mu;                /* visible means (n_vis) */
    float *log_var;           /* log sigma^2 (n_vis) */
    size_t n_params;
    float *data_mean;         /* (n_vis) standardisation: model x = (pixel - data_mean) / data_std */
    float *data_std;          /* (n_vis), > 0 */
    size_t height, width;     /* image shape of the visible layer, 0 if unknown */
    ebm_meta *meta;
} ebm_grbm;

EBM_API ebm_status ebm_grbm_new(size_t n_vis, size_t n_hid, ebm_grbm **out);
EBM_API void ebm_grbm_free(ebm_grbm *m);
EBM_API ebm_status ebm_grbm_clone(const ebm_grbm *m, ebm_grbm **out);
/* The paper's initialisation: W ~ N(0, init_var^2 / (n_vis + n_hid)), b = 0, mu = 0, log_var = log init_var. */
EBM_API ebm_status ebm_grbm_init(ebm_grbm *m, ebm_rng *rng, float init_var);
/* Standardisation statistics of pixel data x (n, n_vis): global = one mean and std over all values
 * (the paper's), otherwise per visible unit (std floored at 1e-3 of the global one).  Stored in the model,
 * and recorded in its metadata as ebm.data.standardize = global | pixel. */
EBM_API ebm_status ebm_grbm_fit_standardization(ebm_grbm *m, const ebm_mat *x, int global);
/* out (n, n_vis) = (x - data_mean) / data_std, and back; out may equal x. */
EBM_API void ebm_grbm_standardize(const ebm_grbm *m, const float *x, size_t n, float *out);
EBM_API void ebm_grbm_unstandardize(const ebm_grbm *m, const float *x, size_t n, float *out);
/* log |d model / d pixel| = -sum_i log data_std_i: add it to a model-space log density for pixel units. */
EBM_API double ebm_grbm_log_jacobian(const ebm_grbm *m);
/* E (n) = E(v_i, h_i) at T = 1; v (n, n_vis), h (n, n_hid). */
EBM_API ebm_status ebm_grbm_energy(const ebm_grbm *m, const float *v, const float *h, size_t n, double *E);
/* F (n) = F_T of each row of v (n, n_vis). */
EBM_API ebm_status ebm_grbm_free_energy(const ebm_grbm *m, const float *v, size_t n, float T, double *F);
/* g (n, n_vis) = dF_T/dv (the negative score times T). */
EBM_API ebm_status ebm_grbm_free_energy_grad_v(const ebm_grbm *m, const float *v, size_t n, float T, float *g);
/* grad (n_params) += sum_i w_i dF(v_i)/dtheta at T = 1; w (n) or NULL for all ones. */
EBM_API ebm_status ebm_grbm_free_energy_grad(const ebm_grbm *m, const float *v, size_t n, const float *w,
                                             float *grad);
/* ph (n, n_hid) = p(h = 1 | v); mean (n, n_vis) = E[v | h] = W h + mu. */
EBM_API ebm_status ebm_grbm_hidden_probs(const ebm_grbm *m, const float *v, size_t n, float T, float *ph);
EBM_API ebm_status ebm_grbm_visible_mean(const ebm_grbm *m, const float *h, size_t n, float *mean);
/* EBM_ENAN naming the first non-finite parameter, else EBM_OK. */
EBM_API ebm_status ebm_grbm_check_finite(const ebm_grbm *m);
/* Files: tensors W, b_h, mu, log_sigma2, data_mean, data_std; metadata ebm.model = "grbm". */
EBM_API ebm_status ebm_grbm_save(const ebm_grbm *m, const char *path);
EBM_API ebm_status ebm_grbm_load(const char *path, ebm_grbm **out);
EBM_API ebm_status ebm_grbm_from_tensors(const ebm_tensors *t, const char *name, ebm_grbm **out);
EBM_API ebm_status ebm_grbm_to_tensors(const ebm_grbm *m, ebm_tensors *t);

/* ------------------------------------------------------------------------------------------------
 * Structured prediction (docs/structured.md): an energy E(x, y) over inputs x and discrete outputs y,
 * inference y* = argmin_y E(x, y), trained with the ten losses of LeCun, Chopra, Hadsell, Ranzato & Huang
 * (2006, "A tutorial on energy-based learning", section 2.2 and table 1).
 *  - K classes: a network g with K outputs, E(x, y) = s(g(x)[y]), inference exhaustive over K;
 *  - label chains of length L: E(x, y) = sum_t U[t, y_t] + sum_{t<L-1} P[y_t, y_{t+1}] with
 *    U[t, .] = s(g(x_t)) (the network applied to every position's features) and P = s(P_raw), a learned
 *    K x K matrix; inference by Viterbi (min-sum), log Z by the forward algorithm.
 * s is the output map: identity ("raw"), softplus or 1/2 u^2 ("square"); the last two keep every energy
 * >= 0, which LVQ2, square-square and square-exp assume.
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_structured_loss {
    EBM_STRUCTURED_ENERGY = 0, /* E                                                  (no contrastive term) */
    EBM_STRUCTURED_PERCEPTRON, /* E - min_y E(x, y)                                  (generalised perceptron) */
    EBM_STRUCTURED_HINGE,      /* max(0, m + E - Ebar) */
    EBM_STRUCTURED_LOG,        /* log(1 + exp(E - Ebar)) */
    EBM_STRUCTURED_LVQ2,       /* min(M, max(0, (E - Ebar) / Ebar)) */
    EBM_STRUCTURED_MCE,        /* 1 / (1 + exp(-(E - Ebar))) */
    EBM_STRUCTURED_SQSQ,       /* E^2 + max(0, m - Ebar)^2 */
    EBM_STRUCTURED_SQEXP,      /* E^2 + gamma exp(-Ebar) */
    EBM_STRUCTURED_NLL,        /* E + (1/beta) log sum_y exp(-beta E(x, y))        (NLL / MMI) */
    EBM_STRUCTURED_MEE         /* 1 - exp(-beta E) / sum_y exp(-beta E(x, y))       (minimum empirical error) */
} ebm_structured_loss;
#define EBM_STRUCTURED_N_LOSSES 10
/* E = E(x, y_i) of the correct answer, Ebar = min over y != y_i, the most offending incorrect answer. */
typedef struct ebm_structured_loss_opts {
    ebm_structured_loss loss; /* default hinge */
    float margin;           /* m of hinge and square-square (default 1) */
    float beta;             /* inverse temperature of NLL and MEE (default 1) */
    float gamma;            /* weight of square-exp's exp(-Ebar) (default 1) */
    float lvq2_max;         /* M of LVQ2, the saturation (default 1) */
} ebm_structured_loss_opts;
EBM_API void ebm_structured_loss_opts_default(ebm_structured_loss_opts *o);
EBM_API const char *ebm_structured_loss_name(ebm_structured_loss l);   /* "energy", "perceptron", ..., "mee" */
EBM_API ebm_status ebm_structured_loss_parse(const char *name, ebm_structured_loss *out);
/* Non-zero for the losses that assume E >= 0 (LVQ2, square-square, square-exp). */
EBM_API int ebm_structured_loss_needs_nonneg(ebm_structured_loss l);
/* Every loss as a function of four summaries of the energies: E (correct answer), Ebar (most offending
 * incorrect answer), Emin = min_y E(x, y) and the free energy F = -(1/beta) log sum_y exp(-beta E(x, y)).
 * *L gets the loss, d[4] its partial derivatives with respect to (E, Ebar, Emin, F). */
EBM_API ebm_status ebm_structured_loss_terms(const ebm_structured_loss_opts *o, double E, double Ebar, double Emin,
                                             double F, double *L, double d[4]);

/* Chains: U (len, k) unary energies, P (k, k) pairwise energies or NULL for none.
 * E (the energy of labels y (len)). */
EBM_API double ebm_chain_energy(const float *U, const float *P, size_t len, size_t k, const int32_t *y);
/* Viterbi (min-sum): y (len) <- argmin_y E(y), *E <- its energy (may be NULL). */
EBM_API ebm_status ebm_chain_viterbi(const float *U, const float *P, size_t len, size_t k, int32_t *y, double *E);
/* Forward-backward in the log domain (double): *log_z = log sum_y exp(-beta E(y)); unary marginals
 * mu (len, k) and summed pairwise marginals xi (k, k) = sum_t p(y_t = a, y_{t+1} = b) of
 * p(y) = exp(-beta E(y)) / Z, each when not NULL. */
EBM_API ebm_status ebm_chain_forward(const float *U, const float *P, size_t len, size_t k, double beta,
                                     double *log_z, double *mu, double *xi);
/* The most offending incorrect answer: ybar (len) <- argmin over y' != y of E(y'), *Ebar its energy, found
 * exactly from the min-marginals (the lowest energy with y'_t = a, by forward and backward min-sum passes):
 * every y' != y differs from y somewhere.  k >= 2. */
EBM_API ebm_status ebm_chain_most_offending(const float *U, const float *P, size_t len, size_t k, const int32_t *y,
                                            int32_t *ybar, double *Ebar);
/* The loss of one chain with correct labels y (len) and its gradient: dU (len, k) and dP (k, k) (when P and
 * dP are not NULL) += dL/dU, dL/dP.  A K-class example is the chain of length 1 with P = NULL. */
EBM_API ebm_status ebm_structured_chain_loss(const ebm_structured_loss_opts *o, const float *U, const float *P,
                                             size_t len, size_t k, const int32_t *y, double *L, float *dU, float *dP);

/* The model. */
typedef enum ebm_structured_out {
    EBM_STRUCTURED_OUT_RAW = 0,
    EBM_STRUCTURED_OUT_SOFTPLUS,
    EBM_STRUCTURED_OUT_SQUARE
} ebm_structured_out;
EBM_API const char *ebm_structured_out_name(ebm_structured_out s);     /* "raw", "softplus", "square" */
EBM_API ebm_status ebm_structured_out_parse(const char *name, ebm_structured_out *out);

typedef struct ebm_structured {
    ebm_net *net;           /* per-position features (input_size) -> k raw outputs */
    size_t k;               /* labels (classes) */
    size_t len;             /* chain length; 0 = a K-class model (one label per row, no pairwise term) */
    ebm_structured_out out; /* the output map s */
    float *pair;            /* (k, k) raw pairwise energies P_raw (chains only, else NULL) */
    ebm_meta *meta;         /* provenance, saved with the model */
} ebm_structured;

/* spec: the network of one position (docs/net.md) for input channels x height x width, ending in k outputs. */
EBM_API ebm_status ebm_structured_new(const char *spec, size_t channels, size_t height, size_t width, size_t k,
                                      size_t len, ebm_structured_out out, ebm_structured **m);
/* ebm_structured_new for data of cols columns (an image height x width when both > 1): K-class (len 0) on the
 * whole row, spatial (1 channel, height x width) when spec has conv or pool layers; chains (len > 0) take k
 * values per position.  spec NULL: the default network, linear:128,silu,linear:K (chains: linear:K). */
EBM_API ebm_status ebm_structured_new_for_data(const char *spec, size_t cols, size_t height, size_t width, size_t k,
                                               size_t len, ebm_structured_out out, ebm_structured **m);
EBM_API void ebm_structured_free(ebm_structured *m);
/* The network's initialisation (ebm_net_init) and P_raw = 0. */
EBM_API ebm_status ebm_structured_init(ebm_structured *m, ebm_rng *rng);
/* Input floats per row: input_size (K-class) or len * input_size (chains, position after position). */
EBM_API size_t ebm_structured_row_size(const ebm_structured *m);
/* P (k, k) <- s(P_raw), the pairwise energies of a chain model (m->pair must not be NULL). */
EBM_API void ebm_structured_pair_energies(const ebm_structured *m, float *P);
/* Labels per row: 1 or len. */
EBM_API size_t ebm_structured_labels_per_row(const ebm_structured *m);
/* Parameters: the network's and, for chains, the k * k pairwise table's. */
EBM_API size_t ebm_structured_n_params(const ebm_structured *m);
/* *k <- the classes of K-class labels y (n): max(2, largest label + 1); EBM_EINVAL naming the row of a
 * label outside 0..9999. */
EBM_API ebm_status ebm_structured_classes(const int32_t *y, size_t n, size_t *k);
/* U (n, max(len, 1), k) <- s(g(x)) for x (n, row size); P (k, k) <- s(P_raw) when P is not NULL and m is a chain. */
EBM_API ebm_status ebm_structured_energies(ebm_structured *m, const float *x, size_t n, float *U, float *P);
/* y (n, labels per row) <- argmin_y E(x_i, y) (exhaustive over k, or Viterbi); E (n) its energy when not NULL. */
EBM_API ebm_status ebm_structured_predict(ebm_structured *m, const float *x, size_t n, int32_t *y, double *E);
/* F (n) <- -log sum_y exp(-E(x_i, y)), the free energy of each row of x (n, row size) under a K-class model
 * (EBM_EINVAL for chains). */
EBM_API ebm_status ebm_structured_free_energy(ebm_structured *m, const float *x, size_t n, double *F);
/* Mean loss over the n rows of x with labels y (n, labels per row); when not NULL, grad_net (net params)
 * and grad_pair (k * k, chains) += its gradient (one backward pass through the network). */
EBM_API ebm_status ebm_structured_loss_grad(ebm_structured *m, const ebm_structured_loss_opts *o, const float *x,
                                            const int32_t *y, size_t n, double *loss, float *grad_net,
                                            float *grad_pair);

/* Gradient-descent inference over the relaxed output q on the probability simplex for K energies E (k):
 * minimises sum_y q_y E_y - T H(q) by exponentiated gradient (mirror descent) steps of size eta from the
 * uniform q; the minimiser is softmax(-E / T) and its arg max the exhaustive argmin as T -> 0. */
EBM_API ebm_status ebm_structured_relaxed_infer(const float *E, size_t k, float T, float eta, size_t steps, float *q);

/* A toy sequence task: noisy observations of a sticky Markov chain.  Labels y (n, len) start uniform and
 * stay with probability stay, else move to a uniformly drawn other label; x (n, len * k) holds per position
 * one-hot(y_t) + noise * N(0, 1).  Row r from stream (seed, r). */
EBM_API ebm_status ebm_structured_markov_toy(size_t n, size_t len, size_t k, float stay, float noise, uint64_t seed,
                                             ebm_mat **x, int32_t **y);
/* The toy's settings (plain data). */
typedef struct ebm_structured_markov {
    size_t n, len, k;       /* chains, their length, labels (defaults 2000, 10, 4) */
    float stay, noise;      /* defaults 0.8, 1 */
    uint64_t seed;          /* default 1 */
} ebm_structured_markov;
EBM_API void ebm_structured_markov_default(ebm_structured_markov *o);
/* The toy as a labelled data set whose source names its settings; test: the held-out split, drawn with
 * seed + 1000003 (ebm eval --data markov:test). */
EBM_API ebm_status ebm_structured_markov_dataset(const ebm_structured_markov *o, int test, ebm_dataset **out);
/* The settings a chain model was trained on, as ebm.sp.markov.stay, .noise and .seed (provenance), and
 * back (absent or malformed keys leave o's values). */
EBM_API ebm_status ebm_structured_markov_to_meta(const ebm_structured_markov *o, ebm_meta *meta);
EBM_API void ebm_structured_markov_from_meta(const ebm_meta *meta, ebm_structured_markov *o);

/* Files: the network's tensors plus "pair" (k, k) for chains; metadata ebm.model = "structured",
 * ebm.sp.classes, ebm.sp.length, ebm.sp.output and everything in m->meta. */
EBM_API ebm_status ebm_structured_save(const ebm_structured *m, const char *path);
EBM_API ebm_status ebm_structured_load(const char *path, ebm_structured **out);

/* ------------------------------------------------------------------------------------------------
 * Fully visible Boltzmann machines / Ising models (docs/bm.md)
 *   E(x) = -(1/2 x'Wx + b'x),  x in {0,1}^n or {-1,+1}^n (the model's spin convention),
 *   W symmetric with zero diagonal,  p_T(x) = exp(-E(x)/T) / Z_T.
 * Local field h_i = b_i + sum_j W_ij x_j:  p(x_i = on | x_-i) = sigmoid(h_i / T) for {0,1} and
 * sigmoid(2 h_i / T) for {-1,+1}.  Parameters live in one flat array [W (n x n, row-major) | b (n)];
 * gradients over it are symmetric: entries (i, j) and (j, i) both hold the derivative with respect to
 * the one coupling W_ij = W_ji (diagonal 0), so an optimiser step keeps W symmetric.
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_bm ebm_bm;
typedef enum ebm_bm_spins { EBM_BM_01 = 0, EBM_BM_PM1 = 1 } ebm_bm_spins;
typedef enum ebm_bm_scan { EBM_SCAN_SYSTEMATIC = 0, EBM_SCAN_RANDOM = 1 } ebm_bm_scan;

/* A model of n >= 1 units with W = 0, b = 0. */
EBM_API ebm_status ebm_bm_new(size_t n, ebm_bm_spins spins, ebm_bm **out);
EBM_API void ebm_bm_free(ebm_bm *m);
EBM_API ebm_status ebm_bm_clone(const ebm_bm *m, ebm_bm **out);
EBM_API size_t ebm_bm_units(const ebm_bm *m);
EBM_API ebm_bm_spins ebm_bm_spin_kind(const ebm_bm *m);
EBM_API float ebm_bm_off_value(const ebm_bm *m);                /* 0 or -1 */
/* The flat parameters (n*n + n floats; *n_params may be NULL), writable; W (n, n) and b (n) are views. */
EBM_API float *ebm_bm_params(ebm_bm *m, size_t *n_params);
EBM_API float *ebm_bm_weights(ebm_bm *m);
EBM_API float *ebm_bm_bias(ebm_bm *m);
/* W <- (W + W') / 2 with zero diagonal, after writing W by hand. */
EBM_API void ebm_bm_symmetrize(ebm_bm *m);
EBM_API ebm_meta *ebm_bm_meta(ebm_bm *m);
EBM_API void ebm_bm_set_image_shape(ebm_bm *m, size_t height, size_t width);
EBM_API void ebm_bm_image_shape(const ebm_bm *m, size_t *height, size_t *width); /* 0 x 0 when unknown */
/* "01" | "pm1" and back (EBM_EINVAL with a message otherwise); "scan": "systematic" | "random". */
EBM_API const char *ebm_bm_spins_name(ebm_bm_spins s);
EBM_API ebm_status ebm_bm_spins_parse(const char *name, ebm_bm_spins *out);
EBM_API ebm_status ebm_bm_scan_parse(const char *name, ebm_bm_scan *out);
/* W_ij = W_ji ~ N(0, weight_std^2); b = the logit (scaled for {-1,+1}) of data's clipped unit means
 * when data (rows, n) in the model's convention is given, else 0. */
EBM_API ebm_status ebm_bm_init(ebm_bm *m, ebm_rng *rng, float weight_std, const ebm_mat *data);
/* E (rows) = E(x_r) in double, x (rows, n) in the model's convention. */
EBM_API ebm_status ebm_bm_energy(const ebm_bm *m, const float *x, size_t rows, double *E);
/* p (rows, n) = p(x_i = on | x_-i) at temperature T. */
EBM_API ebm_status ebm_bm_cond_prob(const ebm_bm *m, const float *x, size_t rows, float T, float *p);

/* EBM_ENAN naming the first non-finite parameter, else EBM_OK. */
EBM_API ebm_status ebm_bm_check_finite(const ebm_bm *m);

/* Files: tensors W (n, n), b (n); metadata ebm.model = "bm", ebm.bm.spins = "01" | "pm1", ebm.n_vis = n,
 * ebm.image_shape when known, and everything in the model's meta.  Loading checks symmetry and the
 * zero diagonal (EBM_EFORMAT otherwise). */
EBM_API ebm_status ebm_bm_save(const ebm_bm *m, const char *path);
EBM_API ebm_status ebm_bm_load(const char *path, ebm_bm **out);
EBM_API ebm_status ebm_bm_from_tensors(const ebm_tensors *t, const char *name, ebm_bm **out);
EBM_API ebm_status ebm_bm_to_tensors(const ebm_bm *m, ebm_tensors *t);

/* ------------------------------------------------------------------------------------------------
 * Deep belief nets (Hinton, Osindero & Teh 2006; Hinton & Salakhutdinov 2006): a stack of Bernoulli RBMs,
 * layer l connecting the units of level l (its visible side) to level l + 1 (its hidden side); level 0 is
 * the data.  Greedy layer-wise training: layer 0 is an RBM on the data, layer l + 1 an RBM on the hidden
 * probabilities p(h | v) of layer l over the training data (probabilities, not samples, as Hinton &
 * Salakhutdinov's code does: the same expected statistics with less noise).  Generation: Gibbs sampling in
 * the top RBM (an undirected associative memory), then a deterministic down pass through the directed
 * layers below, p(level l = 1 | level l + 1) = sigmoid(W_l h + b_v,l).  Features: the up pass of
 * probabilities, level l + 1 = p(h | level l) of layer l.
 * Files: tensors layers.<l>.W (n_vis, n_hid), layers.<l>.b_v, layers.<l>.b_h; metadata ebm.model = "dbn",
 * ebm.dbn.sizes = "784,500,500" (level sizes, data first), ebm.n_vis, ebm.n_hid (top), ebm.image_shape.
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_dbn {
    size_t n_layers;          /* >= 1 */
    ebm_rbm **layers;         /* (n_layers) layer l: levels l -> l + 1; layers[l]->n_hid == layers[l+1]->n_vis */
    size_t height, width;     /* image shape of level 0, 0 if unknown */
    ebm_meta *meta;           /* provenance and defaults, saved with the model */
} ebm_dbn;

/* A DBN with level sizes sizes[0..n_sizes-1] (n_sizes >= 2; sizes[0] = data dimension), parameters zero. */
EBM_API ebm_status ebm_dbn_new(const size_t *sizes, size_t n_sizes, ebm_dbn **out);
EBM_API void ebm_dbn_free(ebm_dbn *d);
/* A DBN holding copies of the n RBMs (adjacent sizes must agree; EBM_ESHAPE otherwise). */
EBM_API ebm_status ebm_dbn_from_rbms(const ebm_rbm *const *rbms, size_t n, ebm_dbn **out);
/* Units at level l (0 = data, n_layers = top). */
EBM_API size_t ebm_dbn_units(const ebm_dbn *d, size_t level);
/* Up pass: out (n, units(level)) = probabilities at level (1..n_layers; 0 copies v) for v (n, units(0)). */
EBM_API ebm_status ebm_dbn_up(const ebm_dbn *d, const float *v, size_t n, size_t level, float *out);
/* Down pass: out (n, units(0)) = mean-field pixels from h (n, units(level)) at level (0..n_layers), applying
 * p(level l = 1 | level l + 1) = sigmoid(W_l h + b_v,l) with probabilities all the way down. */
EBM_API ebm_status ebm_dbn_down(const ebm_dbn *d, const float *h, size_t n, size_t level, float *out);
/* Anomaly score F (n) of v (n, units(0)): the free energy of v under the bottom RBM, -log p_1(v) - log Z_1.
 * It is also the DBN's variational bound on -log p(v) (up to log Z) at the moment the second layer is added
 * (Hinton et al. 2006, section 4), which training the layers above can only tighten. */
EBM_API ebm_status ebm_dbn_free_energy(const ebm_dbn *d, const float *v, size_t n, double *F);
/* Mean squared error per unit of v (n, units(0)) against its bottom-layer reconstruction p(v | p(h | v)). */
EBM_API ebm_status ebm_dbn_recon_error(const ebm_dbn *d, const float *v, size_t n, double *mse);
/* Of rows v (n, units(0)): *score_mean <- the mean free energy under the bottom RBM (ebm_dbn_free_energy),
 * *recon <- the bottom layer's mean-field reconstruction error (ebm_dbn_recon_error). */
EBM_API ebm_status ebm_dbn_evaluate(const ebm_dbn *d, const float *v, size_t n, double *score_mean, double *recon);
/* The parameters of all layers. */
EBM_API size_t ebm_dbn_n_params(const ebm_dbn *d);
/* Files (see above); atomic write.  Missing layers, sizes that disagree with ebm.dbn.sizes and extra
 * tensors are EBM_EFORMAT naming the file and tensor. */
EBM_API ebm_status ebm_dbn_save(const ebm_dbn *d, const char *path);
EBM_API ebm_status ebm_dbn_load(const char *path, ebm_dbn **out);
/* sizes (at most cap) <- the comma-separated positive whole numbers of text ("784,500,500", the form of
 * ebm.dbn.sizes); EBM_EINVAL naming text otherwise. */
EBM_API ebm_status ebm_dbn_parse_sizes(const char *text, size_t *sizes, size_t cap, size_t *n);
/* A DBN file, or an RBM file as a one-layer DBN (with its metadata and image shape); other kinds are EBM_EFORMAT. */
EBM_API ebm_status ebm_dbn_load_stack(const char *path, ebm_dbn **out);
EBM_API ebm_status ebm_dbn_from_tensors(const ebm_tensors *t, const char *name, ebm_dbn **out);
EBM_API ebm_status ebm_dbn_to_tensors(const ebm_dbn *d, ebm_tensors *t);

/* ================================================================================================
 * PART 4. THE ENERGY INTERFACE: the seam between models and samplers
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * The energy interface: the seam between models and samplers (DESIGN.md).  A continuous-state energy
 * E(x) over x in R^dim; samplers see nothing else, so every model that fills one in gets every sampler.
 * Calls on one ebm_energy are not thread-safe (an implementation may keep work buffers sized to the
 * largest batch it has seen); create one per thread.  Temperature is the samplers' business:
 * p(x) ∝ exp(-E(x) / T).
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_energy ebm_energy;
struct ebm_energy {
    const char *kind;   /* "net", "gaussian", "rbm", "sum", "logsumexp", ... */
    size_t dim;         /* size of one state x */
    size_t n_params;    /* length of params; 0 when there is nothing to train */
    float *params;      /* the flat parameter array (owned by the implementation), or NULL */
    /* E (n) <- energies of x (n, dim). */
    ebm_status (*energy)(ebm_energy *e, const float *x, size_t n, float *E);
    /* dx (n, dim) <- dE/dx at each row of x (n, dim); E (n) <- energies too when not NULL. */
    ebm_status (*grad_x)(ebm_energy *e, const float *x, size_t n, float *E, float *dx);
    /* grad (n_params) += sum_i w_i dE(x_i)/dtheta over the rows of x (n, dim) with weights w (n) (NULL = all
     * 1); E (n) <- energies when not NULL.  The caller zeroes grad. NULL when n_params is 0. */
    ebm_status (*grad_params)(ebm_energy *e, const float *x, size_t n, const float *w, float *grad, float *E);
    void (*destroy)(ebm_energy *e); /* frees impl and e itself */
    void *impl;
};

/* Frees e through its destroy (NULL is fine). */
EBM_API void ebm_energy_free(ebm_energy *e);
/* A Gaussian energy E(x) = 1/2 (x - mu)' P (x - mu) with precision P (dim, dim, symmetric positive definite),
 * mean mu (dim); for tests and as a base distribution.  No trainable parameters. */
EBM_API ebm_status ebm_energy_gaussian(size_t dim, const float *mu, const float *precision, ebm_energy **out);
/* Composition (product of experts and friends), each itself an energy over the common dim:
 * sum: E = sum_k w_k E_k (conjunction with w > 0; negation E_1 - lambda E_2 with a negative weight);
 * logsumexp: E = -log sum_k exp(-E_k) (disjunction: a mixture of the experts' distributions).
 * The parts are borrowed, not owned: free them after the composite.  No trainable parameters. */
EBM_API ebm_status ebm_energy_sum(size_t k, ebm_energy *const *parts, const float *weights, ebm_energy **out);
EBM_API ebm_status ebm_energy_logsumexp(size_t k, ebm_energy *const *parts, ebm_energy **out);
/* The posterior of denoising: E(x) + |x - y_i|^2 / (2 sigma^2) for chain i, y (n, dim) noisy observations
 * (borrowed, as is the prior), so that p(x | y) ∝ exp(-E(x)) N(y; x, sigma^2 I); for at most n chains. */
EBM_API ebm_status ebm_energy_denoise(ebm_energy *prior, const float *y, size_t n, float sigma, ebm_energy **out);
/* A picture of a 2-D energy over [lo, hi]^2 (200 x 200 grid, ebm_png_density) with data (nd, 2) and samples
 * (ns, 2) drawn on top (either may be NULL). */
EBM_API ebm_status ebm_energy_density_png(ebm_energy *e, const char *path, float lo, float hi, const float *data,
                                          size_t nd, const float *samples, size_t ns);
/* The free energy F(v) of a Bernoulli RBM as a continuous energy over v in R^n_vis (borrowed model):
 * dF/dv = -a - W sigmoid(b + W'v).  Lets the gradient samplers run on RBMs; params are the model's. */
EBM_API ebm_status ebm_energy_rbm(const ebm_rbm *m, ebm_energy **out);
/* The free energy F(v) at T = 1 of a Gaussian-Bernoulli RBM over v in the model's standardised space
 * (borrowed model; ebm_grbm_standardize maps pixels there); params are the model's. */
struct ebm_grbm;
EBM_API ebm_status ebm_energy_grbm(const struct ebm_grbm *m, ebm_energy **out);

/* ================================================================================================
 * PART 5. SAMPLERS: Gibbs, Langevin / MALA / HMC / RWM, GRBM samplers, replay buffer
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * Slices (data-parallel sampling, e.g. `mpirun -np N ebm sample`): every sampler below gives chain i its own
 * random streams, so chains can be split across processes.  A sampler object set to hold a slice
 * (ebm_gibbs_set_slice, ebm_grbm_chains_set_slice), or a _slice function called with (first, count, total),
 * runs chains first .. first + count - 1 of a set of total: its draws, starts included, are bit for bit those
 * of the same chains in one process running all total chains from the same rng (the caller's rng advances
 * as that one process's does).  So are the samples themselves, bit for bit, when the slices are those of
 * ebm_chain_range, however many chains there are: a BLAS kernel rounds a row of a matrix product by its place
 * in the blocks of rows it works on (OpenBLAS: groups of 12), and by how the product's columns are split, so
 * ebm blocks a product of EBM_CHAIN_BLOCK chains (rows) or more in whole blocks of EBM_CHAIN_BLOCK rows from
 * row 0 and in column blocks that do not depend on the number of rows (src/core/gemm.c), and
 * ebm_chain_range gives every slice whole blocks of EBM_CHAIN_BLOCK chains, at least one.  AIS over
 * processes (ebm_rbm_ais_dist) splits its runs the same way, and a convolutional layer computes its output
 * and input gradient one sample at a time (oneDNN) or makes one product per group of EBM_CHAIN_BLOCK samples.  (Not covered: the bf16 products, blocked by oneDNN; there slices
 * may differ from one process in the last bits, and chains that a last-bit change sends elsewhere then
 * differ.  docs/distributed.md.)
 * --------------------------------------------------------------------------------------------- */
#define EBM_CHAIN_BLOCK 48
/* [*lo, *hi): process rank's chains of n over ranks processes: whole blocks of EBM_CHAIN_BLOCK chains, the
 * last block taking the n % EBM_CHAIN_BLOCK chains left over (so no slice has fewer than EBM_CHAIN_BLOCK
 * chains unless n does: 100 chains are 2 blocks, 48 + 52), as even as blocks allow; empty (lo == hi) for a
 * process left without a block. */
EBM_API void ebm_chain_range(size_t n, size_t rank, size_t ranks, size_t *lo, size_t *hi);

/* ------------------------------------------------------------------------------------------------
 * Block Gibbs sampling of an RBM: n chains advance together, h ~ p(h|v), then v ~ p(v|h).
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_gibbs ebm_gibbs;

EBM_API ebm_status ebm_gibbs_new(const ebm_rbm *m, size_t n_chains, ebm_gibbs **out);
EBM_API void ebm_gibbs_free(ebm_gibbs *g);
/* Visible units of every chain ~ Bernoulli(p) independently (p = 0.5 is "noise"). */
EBM_API ebm_status ebm_gibbs_init_noise(ebm_gibbs *g, float p, ebm_rng *rng);
/* Chain i starts at a row of data (n, n_vis) drawn uniformly with replacement. */
EBM_API ebm_status ebm_gibbs_init_data(ebm_gibbs *g, const ebm_mat *data, ebm_rng *rng);
/* Holds visible unit j at values (n_chains, n_vis)[., j] wherever mask[j] != 0; mask (n_vis) or NULL to
 * release.  Both are copied. */
EBM_API ebm_status ebm_gibbs_clamp(ebm_gibbs *g, const uint8_t *mask, const float *values);
/* g's n_chains chains are chains first .. first + n_chains - 1 of a set of total (see Slices above): set before
 * the init_* call.  EBM_EINVAL when they do not fit in total.  Default: first 0, total n_chains. */
EBM_API ebm_status ebm_gibbs_set_slice(ebm_gibbs *g, size_t first, size_t total);
/* The precision of the sweeps' products (default EBM_PRECISION_FP32; see ebm_precision).  The bf16 copy
 * of the weights is taken at the start of every ebm_gibbs_run, so the model may change between runs. */
EBM_API ebm_status ebm_gibbs_set_precision(ebm_gibbs *g, ebm_precision p);
/* steps full sweeps h ~ p(h|v), v ~ p(v|h) at temperature T (> 0).  In fp32 each chain keeps its
 * products v'W and h W' and updates them by the units that flipped (recomputed every 256 sweeps, and at
 * the first sweep after W changed: the model may be trained between runs); run(a) then run(b) draws
 * what run(a + b) draws.  The sampler holds a copy of W and of its transpose for this. */
EBM_API ebm_status ebm_gibbs_run(ebm_gibbs *g, size_t steps, float T, ebm_rng *rng);
EBM_API size_t ebm_gibbs_chains(const ebm_gibbs *g);
/* Current samples (n_chains, n_vis) and (n_chains, n_hid); the hidden state is the one v was drawn from. */
EBM_API const float *ebm_gibbs_visible(const ebm_gibbs *g);
EBM_API const float *ebm_gibbs_hidden(const ebm_gibbs *g);
/* p(v = 1 | h) of the last sweep (n_chains, n_vis): the mean-field picture of each chain. */
EBM_API const float *ebm_gibbs_visible_mean(const ebm_gibbs *g);

/* One half-step for n rows, the building block of the chains and of training.  key selects the
 * random stream of this half-step (row r uses stream (key, r)); sample may be NULL for probabilities only.
 *   hidden: v (n, n_vis) -> prob, sample (n, n_hid);  visible: h (n, n_hid) -> prob, sample (n, n_vis) */
EBM_API void ebm_rbm_sample_hidden(const ebm_rbm *m, const float *v, size_t n, float T, uint64_t key,
                                   float *prob, float *sample);
EBM_API void ebm_rbm_sample_visible(const ebm_rbm *m, const float *h, size_t n, float T, uint64_t key,
                                    float *prob, float *sample);

/* ------------------------------------------------------------------------------------------------
 * Gradient-based and Metropolis samplers on the energy interface.  n chains x (n, dim) advance together;
 * every chain has its own random stream (seed, chain), so a run does not depend on the thread count.
 *   ULA:  x <- x - eta grad E(x) / T + sqrt(2 eta) xi                     (unadjusted Langevin)
 *   SGLD: x <- x - eta grad E(x) / T + sigma xi   (practitioners' form with a separate noise scale sigma,
 *         as in Du & Mordatch 2019 and JEM; not a valid sampler of p unless sigma = sqrt(2 eta))
 *   MALA: the ULA proposal accepted with the Metropolis-Hastings probability (Roberts & Tweedie 1996)
 *   HMC:  L leapfrog steps of size eta (jittered by +-20% per chain) with momentum ~ N(0, I), then MH (Neal 2011)
 *   RWM:  x' = x + eta xi, accepted with probability min(1, exp(-(E(x') - E(x)) / T))
 * A clamp mask keeps the masked coordinates at their starting values (inpainting); with clip_lo < clip_hi
 * every coordinate is clipped to [clip_lo, clip_hi] after each move (ULA/SGLD only: clipping would break
 * the MH correction of the others, which refuse it).  With prox > 0 (ULA/SGLD only), the proximal form of
 * JEM++ (Yang & Ji 2021): every coordinate of a move is kept within [-prox, prox] of where it started, so
 * x' stays in the box of radius prox around x (the drift and noise as above, then the step clipped).
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_mcmc_kind { EBM_MCMC_ULA, EBM_MCMC_SGLD, EBM_MCMC_MALA, EBM_MCMC_HMC, EBM_MCMC_RWM } ebm_mcmc_kind;

typedef struct ebm_mcmc_opts {
    ebm_mcmc_kind kind;  /* default ULA */
    size_t steps;        /* transitions (default 100) */
    float step_size;     /* eta (default 0.01) */
    float noise;         /* SGLD's sigma (default 0.005) */
    size_t leapfrog;     /* HMC's L (default 10) */
    float temperature;   /* T > 0 (default 1) */
    const uint8_t *clamp;/* (dim): non-zero = keep this coordinate fixed; NULL = none */
    float clip_lo, clip_hi; /* clip when clip_lo < clip_hi (default none: 0, 0) */
    uint64_t seed;       /* default 1 */
    uint64_t seed_offset;/* added to the step counter, so that successive calls draw fresh noise (default 0) */
    int (*progress)(double fraction, void *user); /* may return non-zero to stop (EBM_ECANCELED) */
    void *user;
    float prox;          /* ULA/SGLD: largest move of a coordinate per step (JEM++'s proximal SGLD); 0 = off */
} ebm_mcmc_opts;

typedef struct ebm_mcmc_stats {
    double accept_rate;  /* mean MH acceptance over chains and steps (1 for ULA/SGLD) */
    size_t steps;
    double seconds;
} ebm_mcmc_stats;

EBM_API void ebm_mcmc_opts_default(ebm_mcmc_opts *o);
EBM_API const char *ebm_mcmc_name(ebm_mcmc_kind k);                 /* "ula", "sgld", "mala", "hmc", "rwm" */
EBM_API ebm_status ebm_mcmc_parse(const char *name, ebm_mcmc_kind *k); /* the inverse, EBM_EINVAL if unknown */
/* Advances the n chains in x (n, e->dim) in place; stats may be NULL. */
EBM_API ebm_status ebm_mcmc_run(ebm_energy *e, float *x, size_t n, const ebm_mcmc_opts *o, ebm_mcmc_stats *stats);
/* The same for chains first .. first + n - 1 of a larger set (see Slices above): x (n, dim) holds those chains
 * and chain i draws from the streams of chain first + i.  (The energy sees only these n rows: an energy whose
 * rows differ, e.g. ebm_net_energy_class's cycle of classes, must be made for the slice.) */
EBM_API ebm_status ebm_mcmc_run_slice(ebm_energy *e, float *x, size_t first, size_t n, const ebm_mcmc_opts *o,
                                      ebm_mcmc_stats *stats);

/* ------------------------------------------------------------------------------------------------
 * Replay buffer (Du & Mordatch 2019, as in JEM): a fixed store of past negative samples, initialised with
 * noise.  A draw takes n rows from random slots and restarts a fraction `reinit` of them from noise; after
 * the sampler has moved them, ebm_replay_store writes them back to the slots they came from.
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_noise_kind { EBM_NOISE_UNIFORM, EBM_NOISE_GAUSSIAN } ebm_noise_kind;
typedef struct ebm_noise {
    ebm_noise_kind kind;      /* default uniform */
    float lo, hi;             /* uniform range (default -1, 1) */
    float mean, sd;           /* Gaussian (default 0, 1) */
} ebm_noise;
typedef struct ebm_replay ebm_replay;
EBM_API void ebm_noise_default(ebm_noise *z);
/* x (n, dim) <- noise, row i from stream (key, i). */
EBM_API ebm_status ebm_noise_fill(const ebm_noise *z, uint64_t key, float *x, size_t n, size_t dim);
EBM_API ebm_status ebm_replay_new(size_t capacity, size_t dim, const ebm_noise *z, uint64_t seed, ebm_replay **out);
EBM_API void ebm_replay_free(ebm_replay *b);
EBM_API size_t ebm_replay_capacity(const ebm_replay *b);
/* x (n, dim) <- n rows from random slots (recorded in slots (n)), each restarted from noise with
 * probability reinit; key selects the random draws. */
EBM_API ebm_status ebm_replay_draw(ebm_replay *b, size_t n, float reinit, uint64_t key, float *x, size_t *slots);
EBM_API void ebm_replay_store(ebm_replay *b, const float *x, const size_t *slots, size_t n);
/* The rows of the buffer (capacity, dim), for saving or inspecting. */
EBM_API const float *ebm_replay_data(const ebm_replay *b);
/* The same rows to overwrite, e.g. with a saved training state (capacity x dim values). */
EBM_API float *ebm_replay_data_rw(ebm_replay *b);

/* Informative chain starts (JEM++, Yang & Ji 2021): a Gaussian fitted to data (rows, dim), one per class
 * 0..max label when labels (rows) are given, else one over all rows: each with the class's sample mean and
 * full sample covariance plus a ridge of 1e-4 x its mean variance; draws are clipped to [lo, hi] when
 * lo < hi (the data's range).  A fill draws row i of x (n, dim) from stream (key, row0 + i): first its class,
 * with the class's frequency in the data (written to cls (n) when not NULL), then x = mean + L z, z ~ N(0, I),
 * L the covariance's Cholesky factor.  Memory: classes x dim^2 floats (dim <= 8192). */
typedef struct ebm_gauss_start ebm_gauss_start;
EBM_API ebm_status ebm_gauss_start_fit(const ebm_mat *data, const int32_t *labels, float lo, float hi,
                                       ebm_gauss_start **out);
EBM_API void ebm_gauss_start_free(ebm_gauss_start *g);
EBM_API size_t ebm_gauss_start_classes(const ebm_gauss_start *g);
EBM_API size_t ebm_gauss_start_dim(const ebm_gauss_start *g);
EBM_API ebm_status ebm_gauss_start_fill(const ebm_gauss_start *g, uint64_t key, size_t row0, float *x, size_t n,
                                        int32_t *cls);
/* The same with row i's class given, cls[i] (n), instead of drawn: x is what ebm_gauss_start_fill draws for
 * that row when it draws that class.  EBM_EINVAL when a class has no Gaussian (outside 0..classes - 1, or no
 * row of the data had it). */
EBM_API ebm_status ebm_gauss_start_fill_classes(const ebm_gauss_start *g, uint64_t key, size_t row0, float *x,
                                                size_t n, const int32_t *cls);
/* From now on b's restarts draw from g (borrowed: it must outlive b; NULL = back to b's noise), and every
 * slot is refilled from it (or from the noise), with the key ebm_replay_new(.., seed, ..) fills with. */
EBM_API ebm_status ebm_replay_set_start(ebm_replay *b, const ebm_gauss_start *g, uint64_t seed);

/* Samplers of a GRBM, n chains at once, each row with its own random stream:
 *  GIBBS:          h ~ p(h | v), v ~ p(v | h)  (exact block Gibbs; mh is ignored: it always accepts)
 *  LANGEVIN:       v <- v - eta_t dF_T(v)/dv / T + sqrt(2 eta_t) N(0, I) on the marginal free energy;
 *                  with mh, Metropolis-adjusted (MALA)
 *  GIBBS_LANGEVIN: the paper's hybrid (its Algorithm 2): h ~ p(h | v), then langevin_steps Langevin steps
 *                  on E(v, h) / T with h fixed; with mh, the exact Metropolis-Hastings test of the joint
 *                  move (the K-step proposal is Gaussian, so its density is known in closed form).  The K
 *                  steps given h are a linear Gaussian map of v, drawn exactly in one move (one normal per
 *                  unit; the distribution of K separate steps, not their draws).
 * Step sizes: eta_t = eta * sigma_i^2 (each unit's variance), cosine-annealed (the paper's) over the inner
 * steps of Gibbs-Langevin and over the whole run for Langevin when anneal is set. */
typedef enum ebm_grbm_sampler { EBM_GRBM_GIBBS = 0, EBM_GRBM_LANGEVIN, EBM_GRBM_GIBBS_LANGEVIN } ebm_grbm_sampler;

typedef struct ebm_grbm_sample_opts {
    ebm_grbm_sampler sampler; /* default GIBBS_LANGEVIN */
    int mh;                   /* Metropolis adjustment (default 0) */
    float T;                  /* temperature (default 1) */
    float eta;                /* step size in units of the mean visible variance (default 0.5) */
    size_t langevin_steps;    /* Langevin steps per Gibbs-Langevin step (default 10) */
    int anneal;               /* cosine step-size schedule (default 1) */
    size_t mh_after;          /* with mh: the chains' first mh_after steps since their start (over all runs)
                                 unadjusted, run as a run of their own (default 0) */
    ebm_precision precision;  /* of the products with W: v W, h W' (default FP32; see ebm_precision); the
                                 free energies of the MH test are summed in double from those products */
} ebm_grbm_sample_opts;

EBM_API void ebm_grbm_sample_opts_default(ebm_grbm_sample_opts *o);
/* Parses "gibbs" | "langevin" | "gibbs-langevin"; EBM_EINVAL with a message otherwise. */
EBM_API ebm_status ebm_grbm_sampler_parse(const char *name, ebm_grbm_sampler *out);
EBM_API const char *ebm_grbm_sampler_name(ebm_grbm_sampler s);

typedef struct ebm_grbm_chains ebm_grbm_chains;
EBM_API ebm_status ebm_grbm_chains_new(const ebm_grbm *m, size_t n_chains, ebm_grbm_chains **out);
EBM_API void ebm_grbm_chains_free(ebm_grbm_chains *c);
/* c's n_chains chains are chains first .. first + n_chains - 1 of a set of total (see Slices above): set before
 * the init_* call.  EBM_EINVAL when they do not fit in total.  Default: first 0, total n_chains. */
EBM_API ebm_status ebm_grbm_chains_set_slice(ebm_grbm_chains *c, size_t first, size_t total);
/* v ~ N(0, scale^2 I) in the standardised space: the paper's noise start (scale 1). */
EBM_API ebm_status ebm_grbm_chains_init_noise(ebm_grbm_chains *c, float scale, ebm_rng *rng);
/* Chain i starts at a row of data (n, n_vis, standardised) drawn uniformly with replacement. */
EBM_API ebm_status ebm_grbm_chains_init_data(ebm_grbm_chains *c, const ebm_mat *data, ebm_rng *rng);
/* steps transitions of the chosen sampler. */
EBM_API ebm_status ebm_grbm_chains_run(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o, size_t steps, ebm_rng *rng);
EBM_API size_t ebm_grbm_chains_count(const ebm_grbm_chains *c);
/* Current states (n_chains, n_vis) and (n_chains, n_hid) (the hidden state is refreshed from v by
 * ebm_grbm_chains_mean, and is the sampler's own state for Gibbs and Gibbs-Langevin). */
EBM_API float *ebm_grbm_chains_visible(ebm_grbm_chains *c);
EBM_API const float *ebm_grbm_chains_hidden(const ebm_grbm_chains *c);
/* mean (n_chains, n_vis) = W h + mu with h ~ p(h | v) drawn once more: the paper's final picture. */
EBM_API ebm_status ebm_grbm_chains_mean(ebm_grbm_chains *c, float T, ebm_rng *rng, float *mean);
/* Fraction of Metropolis proposals accepted since the last reset (1 when none were tested). */
EBM_API double ebm_grbm_chains_accept_rate(const ebm_grbm_chains *c);
EBM_API void ebm_grbm_chains_reset_stats(ebm_grbm_chains *c);

/* sweeps sequential Gibbs sweeps at T on the chains x (rows, n) in place: every sweep visits the n
 * units in order (systematic) or n units drawn uniformly with replacement (random scan).  Row r uses
 * Philox stream (key, r) with key drawn from rng, so results do not depend on the thread count. */
EBM_API ebm_status ebm_bm_gibbs(const ebm_bm *m, float *x, size_t rows, size_t sweeps, float T, ebm_bm_scan scan,
                                ebm_rng *rng);
/* The start of rows chains x (rows, n): uniform random states (each unit on or off with probability 1/2, in
 * the model's spins) when data is NULL, else rows of data (in the model's spins) drawn uniformly with
 * replacement; the draws come from rng in that order. */
EBM_API void ebm_bm_chains_start(const ebm_bm *m, const ebm_mat *data, float *x, size_t rows, ebm_rng *rng);
/* Both for chains first .. first + rows - 1 of a set of total, x (rows, n) (see Slices above): the start draws
 * every chain's values of the set in order and keeps the slice's (EBM_EINVAL when it does not fit in total);
 * the sweeps draw from the streams of chain first + r. */
EBM_API ebm_status ebm_bm_chains_start_slice(const ebm_bm *m, const ebm_mat *data, float *x, size_t first,
                                             size_t rows, size_t total, ebm_rng *rng);
EBM_API ebm_status ebm_bm_gibbs_slice(const ebm_bm *m, float *x, size_t first, size_t rows, size_t sweeps, float T,
                                      ebm_bm_scan scan, ebm_rng *rng);

/* Generation: n block-Gibbs chains in the top RBM, started from noise (each unit of level n_layers - 1 on
 * with probability noise_p) or, when init (rows, units(0)) is given, from the up pass of random rows of it;
 * after steps sweeps at temperature T, the top RBM's p(v | h) (its binary state when steps is 0) goes down
 * the directed layers by ebm_dbn_down.  out is (n, units(0)), values in [0, 1]; reproducible from rng. */
typedef struct ebm_dbn_sample_opts {
    size_t steps;             /* default 1000 */
    float T;                  /* default 1 */
    float noise_p;            /* default 0.5 */
    int (*progress)(double fraction, void *user); /* non-zero stops (EBM_ECANCELED); may be NULL */
    void *user;
} ebm_dbn_sample_opts;

EBM_API void ebm_dbn_sample_opts_default(ebm_dbn_sample_opts *o);
EBM_API ebm_status ebm_dbn_sample(const ebm_dbn *d, size_t n, const ebm_mat *init, const ebm_dbn_sample_opts *o,
                                  ebm_rng *rng, float *out);
/* Samples first .. first + n - 1 of total (see Slices above) into out (n, units(0)); progress counts this
 * slice's sweeps. */
EBM_API ebm_status ebm_dbn_sample_slice(const ebm_dbn *d, size_t first, size_t n, size_t total, const ebm_mat *init,
                                        const ebm_dbn_sample_opts *o, ebm_rng *rng, float *out);

/* ================================================================================================
 * PART 6. TRAINING: the trainer interface and the one loop, optimisers, each trainer
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * Training: trainers and the one run loop (src/train/run.c; docs/design.md)
 *
 * Every way of training a model is a *trainer*: an object holding the model being trained, its
 * optimiser moments, persistent chains or replay buffer and random streams, with one operation, a
 * step over a mini-batch.  One loop, ebm_run, drives every trainer: epochs or iterations, shuffling
 * with a seeded stream, mini-batches, the learning-rate schedule, progress callbacks, cancellation,
 * detection of non-finite parameters with roll-back to the last good ones, and periodic checkpoints.
 * What must hold for every trainer is written there once.  The seams for later work:
 *  - checkpoint and resume, bit for bit: ebm_run_checkpoint (from a run's callbacks) holds everything
 *    the run needs to go on; ebm_run_opts.resume continues from one, in a fresh process too;
 *  - data-parallel training: ebm_run_opts.allreduce reaches every step (ebm_step_ctx.allreduce);
 *    a trainer sums its gradient through it before updating, so all processes apply the same update;
 *  - precision: a trainer's step owns its kernels, so a lower-precision step is a trainer option.
 * The model-specific constructors (ebm_rbm_trainer_new, ebm_lcd_trainer_new, ...) are declared with
 * their models; the older one-call functions (ebm_rbm_train, ebm_lcd_train, ...) are wrappers over
 * ebm_run.  A new way of training needs only an ebm_trainer_ops table.
 * --------------------------------------------------------------------------------------------- */

/* What one step measured; NaN where a trainer does not measure a figure. */
typedef struct ebm_figures {
    double loss;        /* the trainer's objective on the batch */
    double recon;       /* mean squared reconstruction error per value */
    double e_pos, e_neg;/* mean energy of the data and of the negatives */
    double grad_norm;   /* L2 norm of the gradient before clipping */
    double accept;      /* the sampler's acceptance rate */
    double extra;       /* an extra loss (JEM: the cross-entropy) */
} ebm_figures;
#define EBM_FIGURES_COUNT 7
EBM_API void ebm_figures_clear(ebm_figures *f); /* every figure NaN */

/* Where a step stands, handed to the trainer with every batch. */
typedef struct ebm_step_ctx {
    size_t epoch;           /* the epoch under way, from 1 */
    size_t batch, batches;  /* this batch in the epoch (from 1), batches per epoch */
    size_t step, steps;     /* updates before this one, updates in the whole run */
    double lr;              /* this step's learning rate (the schedule applied) */
    int last_in_epoch;      /* the epoch's last batch */
    uint64_t seed;          /* the run's seed */
    /* Data-parallel seam: NULL in one process; otherwise sums buf (n) over all processes in place.  A
     * trainer calls it on its gradient before the update, so every process applies the same update. */
    ebm_status (*allreduce)(float *buf, size_t n, void *user);
    void *allreduce_user;
    /* Data-parallel runs (ebm_run_opts.ranks > 1): this process's rank and the number of processes; the
     * global batch has n_global rows and this process holds rows row0 .. row0 + n - 1 of it.  The driver's
     * allreduce first scales buf by share = n / n_global, so a gradient that is a mean over the n local
     * rows sums to the mean over the global batch.  A term normalised by something else (persistent
     * chains) divides by share itself.  One process: rank 0, ranks 1, row0 0, n_global = n, share 1. */
    size_t rank, ranks, row0, n_global;
    float share;
    /* Data-parallel runs: sums buf (n) over the processes as it stands, without the share scaling (NULL in
     * one process).  For state that every process keeps whole and identical (a replay buffer, the rows of
     * a batch): each process writes its part and -0.0f elsewhere, and the sum is the whole, exactly, since
     * x + (-0) = x for every float x (as the library's LCD and GRBM trainers do). */
    ebm_status (*allsum)(float *buf, size_t n, void *user);
    void *allsum_user;
} ebm_step_ctx;

/* A trainer's operations.  Plain data that a user fills in for a new way of training; self is the
 * trainer's own state, passed back to every operation. */
typedef struct ebm_trainer_ops {
    const char *name;   /* e.g. "rbm-cd", written as ebm.train.trainer */
    /* Before the first step: data (rows, dim) and labels (rows, may be NULL) of the whole run, and the
     * largest batch a step will get.  The trainer checks shapes, allocates its work space once, seeds
     * its streams from seed and starts persistent chains. */
    ebm_status (*begin)(void *self, const ebm_mat *data, const int32_t *labels, size_t batch, uint64_t seed);
    /* One update on the batch x (n, dim), which holds data rows `rows` (n); the trainer may overwrite x.
     * fig arrives cleared (all NaN).  EBM_ENAN: the update went non-finite; the driver rolls back. */
    ebm_status (*step)(void *self, float *x, const size_t *rows, size_t n, const ebm_step_ctx *c, ebm_figures *fig);
    /* The parameter blocks (block 0, 1, ... until NULL), which the driver snapshots for roll-back and
     * checks for non-finite values after every step. */
    float *(*params)(void *self, size_t block, size_t *n);
    /* Optional: after a non-finite step, EBM_ENAN with a message naming the parameter at fault. */
    ebm_status (*check)(void *self);
    /* Non-zero when step itself returns EBM_ENAN whenever a parameter went non-finite (a check fused into
     * the update), so the driver need not scan the parameters after every step. */
    int checks_finite;
    /* Optional: the trainer's settings as ebm.train.* metadata (provenance). */
    ebm_status (*describe)(void *self, ebm_meta *meta);
    /* Optional: the whole training state (optimiser moments, chains, buffers, counters) as tensors. */
    ebm_status (*save_state)(void *self, ebm_tensors *t);
    ebm_status (*load_state)(void *self, const ebm_tensors *t);
    void (*destroy)(void *self); /* frees self (not the model, which the caller owns) */
    /* Optional, for data-parallel runs: called before begin with this process's rank and the number of
     * processes.  A trainer that has it keeps only its share of persistent chains (ebm_shard_range), or
     * keeps state such as a replay buffer whole and identical on every process (ebm_step_ctx.allsum),
     * and draws so that every chain's and row's randomness is the one-process run's (streams keyed by
     * the global row or chain index); begin then gets the run's seed unchanged.  Without it, begin gets a per-rank seed
     * (ebm_shard_seed), so the ranks' draws are independent but not those of one process. */
    void (*shard)(void *self, size_t rank, size_t ranks);
    /* Optional, for a trainer with shard that keeps slices of its state per process (persistent chains):
     * makes the whole state available to save_state on every process (c->allsum; c->rank, c->ranks), so
     * that a checkpoint holds what one process's would.  The driver calls it on every process before
     * on_checkpoint.  load_state then reads the whole state and keeps this process's slice, so a run
     * resumes over any number of processes.  A trainer whose processes all hold the whole state needs none. */
    ebm_status (*gather)(void *self, const ebm_step_ctx *c);
} ebm_trainer_ops;

/* The contiguous slice [*lo, *hi) of n items that rank `rank` of `ranks` holds: the first n % ranks ranks
 * get one item more.  ranks 1: [0, n). */
EBM_API void ebm_shard_range(size_t n, size_t rank, size_t ranks, size_t *lo, size_t *hi);
/* A seed for rank `rank` derived from seed (rank 0: seed itself, so one process is unchanged). */
EBM_API uint64_t ebm_shard_seed(uint64_t seed, size_t rank);

typedef struct ebm_trainer ebm_trainer; /* opaque: an ops table and its state */
/* Takes ownership of self (ops->destroy frees it, also when this fails). */
EBM_API ebm_status ebm_trainer_new(const ebm_trainer_ops *ops, void *self, ebm_trainer **out);
EBM_API void ebm_trainer_free(ebm_trainer *t);
EBM_API const char *ebm_trainer_name(const ebm_trainer *t);
EBM_API void *ebm_trainer_self(ebm_trainer *t);
/* ops->save_state / load_state, or EBM_ENOTSUP where the trainer has none. */
EBM_API ebm_status ebm_trainer_save_state(ebm_trainer *t, ebm_tensors *out);
EBM_API ebm_status ebm_trainer_load_state(ebm_trainer *t, const ebm_tensors *in);

/* For save_state / load_state: an RNG's whole state as a u8 tensor, and a float32 tensor of exactly n values
 * copied into out (EBM_EFORMAT naming the tensor when it is absent or of another type or size). */
EBM_API ebm_status ebm_state_put_rng(ebm_tensors *t, const char *name, const ebm_rng *r);
EBM_API ebm_status ebm_state_get_rng(const ebm_tensors *t, const char *name, ebm_rng *r);
EBM_API ebm_status ebm_state_get_f32(const ebm_tensors *t, const char *name, float *out, size_t n);

typedef enum ebm_lr_schedule {
    EBM_LR_CONSTANT = 0,
    EBM_LR_LINEAR = 1,  /* from lr to lr_final, linearly over the updates (the last update uses lr_final) */
    EBM_LR_COSINE = 2   /* per epoch: lr (1 + cos(pi (epoch - 1) / epochs)) / 2 (PyTorch's CosineAnnealingLR) */
} ebm_lr_schedule;
typedef enum ebm_rollback {
    EBM_ROLLBACK_EPOCH = 0, /* to the parameters at the start of the epoch (epoch runs) */
    EBM_ROLLBACK_STEP = 1   /* to the parameters after the last good update */
} ebm_rollback;

typedef struct ebm_run_progress {
    size_t epoch, epochs;       /* the epoch under way (from 1), epochs in the run */
    size_t batch, batches;      /* batches done in this epoch, batches per epoch */
    size_t step, steps;         /* updates done, updates in the run */
    double lr;                  /* learning rate of the last update */
    double seconds;             /* wall time of this epoch so far */
    double total_seconds;       /* wall time of the run so far */
    ebm_figures last;           /* the last update's figures */
    ebm_figures mean;           /* this epoch's figures so far, averaged over the rows of the updates
                                   that measured them (NaN where none did) */
    int threads, threads_max;   /* the threads the next update runs on, and the run's own count (fewer while
                                   the run gives way to other work: ebm_run_opts.give_way) */
} ebm_run_progress;

typedef struct ebm_run_opts {
    size_t epochs;          /* passes over the data (default 10), when iters is 0 */
    size_t iters;           /* > 0: this many updates of exactly `batch` rows each, batches running on
                               across epochs (a fresh permutation whenever one is used up) */
    size_t batch;           /* rows per update (default 100; epoch runs: at most the data's rows) */
    int shuffle;            /* a fresh permutation every epoch (default 1) */
    uint64_t seed;          /* default 1 */
    uint64_t shuffle_stream;/* the shuffle draws from the stream (seed, shuffle_stream) (default 1) */
    float lr;               /* default 0.01 */
    float lr_final;         /* EBM_LR_LINEAR's last rate */
    ebm_lr_schedule schedule;
    ebm_rollback rollback;  /* default EBM_ROLLBACK_EPOCH for epoch runs; iteration runs always roll back
                               to the last good update */
    /* After every update, and after every epoch (epoch runs); non-zero stops with EBM_ECANCELED,
     * keeping the parameters of the last update (a stop at an epoch's last update still counts the epoch
     * and calls on_epoch). */
    int (*on_step)(const ebm_run_progress *p, void *user);
    int (*on_epoch)(const ebm_run_progress *p, void *user);
    /* Every checkpoint_every updates (0 = never), and not after the last: a failure stops the run.  When
     * a callback stops the run, on_checkpoint is called once more on the way out (its failure then only
     * ignored), so that an interrupted run can resume.  It typically calls ebm_run_checkpoint. */
    size_t checkpoint_every;
    ebm_status (*on_checkpoint)(ebm_trainer *t, const ebm_run_progress *p, void *user);
    /* A checkpoint (ebm_run_checkpoint, e.g. read back with ebm_safetensors_read) to continue from; NULL =
     * a fresh run.  The trainer is made and begun as for a fresh run, then the checkpoint's parameters,
     * trainer state and position replace the fresh ones; see ebm_run_checkpoint for what must match.
     * A data-parallel run resumes when its trainer has ops->shard (its state is indexed globally), from a
     * checkpoint of a run over any number of processes; other trainers resume in one process only. */
    const ebm_tensors *resume;
    void *user;
    ebm_status (*allreduce)(float *buf, size_t n, void *user); /* see ebm_step_ctx; NULL = one process */
    void *allreduce_user;
    /* Data-parallel runs over `ranks` processes (default 0 and 1; with ranks > 1, allreduce is required
     * and sums over the processes).  Every process gives the same data and options; each computes the
     * same permutation and takes its contiguous slice (ebm_shard_range) of every global batch of `batch`
     * rows, so every batch must have at least `ranks` rows.  The trainer's gradient is all-reduced inside
     * its step; the figures reported to on_step / on_epoch and in the result are reduced over the
     * processes (weighted by rows), and a stop asked by any process's callback stops all of them after
     * the same update.  Each process calls the callbacks; only one (rank 0) should write files. */
    size_t rank, ranks;
    /* Give way to other work (default 1): between updates, at most once a second, the run reads how many
     * threads it can use without crowding other running tasks (ebm_threads_fair) and, when the median of the
     * last three readings differs from its current count, runs on that many (at most the thread count it
     * started with, which it restores at the end).  Spinning threads beside a busy process lose their time
     * slices at every barrier; fewer threads do not.  Results do not depend on the thread count.  0 = keep
     * the thread count (also for a program that runs other OpenMP or OpenBLAS work beside the run at the same
     * time: the count is ebm_set_threads's, which OpenBLAS keeps for the whole process). */
    int give_way;
} ebm_run_opts;

typedef struct ebm_run_result {
    size_t epochs_done;     /* complete epochs (iteration runs: passes over the data begun) */
    size_t steps_done;      /* updates applied and kept */
    double seconds;
    ebm_figures last;       /* the last update's figures */
    ebm_figures epoch_mean; /* the last complete epoch's means */
} ebm_run_result;

EBM_API void ebm_run_opts_default(ebm_run_opts *o);
/* Trains t on data (rows, dim) with labels (rows, or NULL).  Errors: the options' (EBM_EINVAL), the
 * trainer's, EBM_ENAN when an update went non-finite (parameters rolled back as o->rollback says, the
 * message naming the epoch, batch or iteration), EBM_ECANCELED when a callback stopped it.  r (may be
 * NULL) is filled in every case. */
EBM_API ebm_status ebm_run(ebm_trainer *t, const ebm_mat *data, const int32_t *labels, const ebm_run_opts *o,
                           ebm_run_result *r);
/* A checkpoint of the run under way, into out; callable only from the run's callbacks (on_step, on_epoch,
 * on_checkpoint), i.e. between two updates; in a data-parallel run whose trainer gathers its state
 * (ops->gather), only from on_checkpoint, where it holds the whole state, the same as one process's
 * (within the rounding of the summed gradients).  It holds
 *  - the parameter blocks (tensors ckpt.param.0, 1, ...), the trainer's whole state (ops->save_state:
 *    optimiser moments, EMA weights, persistent chains or replay buffer, its random streams; tensors
 *    train.*), and the loop's position: the permutation under way (ckpt.run.perm), the shuffle stream,
 *    the epoch's running figure means, the roll-back snapshot (epoch roll-back), and as metadata
 *    ebm.checkpoint.step / epoch / in_epoch / pos / epochs_done / seconds;
 *  - a fingerprint that a resume must match, or it is refused with EBM_EINVAL naming the first
 *    difference: ebm.checkpoint.trainer (its name), .data (rows x columns, labels or not, a hash of the
 *    values and labels), .loop (epochs or iters, batch, shuffle, seed, shuffle stream, lr, lr_final,
 *    schedule, roll-back), .params (the sizes of the parameter blocks) and .setting.* (the trainer's
 *    ops->describe keys, e.g. CD k, momentum, sampler settings).
 * ebm_run(N updates) and ebm_run(k updates, checkpoint written and read back) + a fresh trainer resumed
 * from it give byte-identical parameters, at any thread count.  Write it with ebm_safetensors_write (the
 * caller may add its own metadata).  EBM_ENOTSUP where the trainer has no save_state. */
EBM_API ebm_status ebm_run_checkpoint(ebm_trainer *t, ebm_tensors *out);
/* The run's provenance into meta: ebm.train.trainer, .epochs (or .iters), .batch, .lr (.lr_final,
 * .schedule), .seed, .seconds, .threads, .date (UTC), then the trainer's own keys (ops->describe). */
EBM_API ebm_status ebm_run_describe(ebm_trainer *t, const ebm_run_opts *o, const ebm_run_result *r, ebm_meta *meta);

/* ------------------------------------------------------------------------------------------------
 * Data-parallel training across processes: a communicator for ebm_run_opts (src/dist/mpi.c; MPI only in
 * a build that found it; docs/distributed.md).  Start the program N times with mpirun or srun; every
 * process calls ebm_comm_init once (MPI_Init only when a launcher started it), gives ebm_run the same
 * data and options with ebm_comm_run_opts applied, and only rank 0 writes files:
 *     ebm_comm *c;  ebm_comm_init(&argc, &argv, &c);
 *     ebm_run_opts ro;  ebm_run_opts_default(&ro);  ebm_comm_run_opts(c, &ro);  ebm_run(t, x, NULL, &ro, &r);
 *     if (ebm_comm_rank(c) == 0) ebm_rbm_save(m, "m.safetensors");  ebm_comm_free(c);
 * For a fixed number of processes a run repeats bit for bit (one MPI_Allreduce, whose order MPI fixes).
 * A NULL communicator is one process (rank 0 of 1) everywhere below.
 * ------------------------------------------------------------------------------------------------ */
typedef struct ebm_comm ebm_comm;
/* 1 when this build has MPI (else every communicator is one process). */
EBM_API int ebm_comm_has_mpi(void);
/* The processes of this run: MPI_Init (argc/argv as MPI wants them) only when a launcher's environment
 * says it started this process, else one process.  Once per process.  EBM_EIO: MPI_Init failed;
 * EBM_ENOTSUP: launched as several processes by a build without MPI (refused, not run N times alone). */
EBM_API ebm_status ebm_comm_init(int *argc, char ***argv, ebm_comm **out);
EBM_API void ebm_comm_free(ebm_comm *c); /* MPI_Finalize when ebm_comm_init called MPI_Init */
EBM_API size_t ebm_comm_rank(const ebm_comm *c);
EBM_API size_t ebm_comm_size(const ebm_comm *c);
/* buf (n) summed over all processes in place; comm is the ebm_comm (ebm_run_opts.allreduce with
 * allreduce_user = the communicator).  _f64: the same for doubles. */
EBM_API ebm_status ebm_comm_allreduce(float *buf, size_t n, void *comm);
EBM_API ebm_status ebm_comm_allreduce_f64(const ebm_comm *c, double *buf, size_t n);
/* all (the sum of counts) <- every rank's `mine` (n = counts[rank] values) in rank order, on every rank;
 * mine may lie inside all at its rank's place. */
EBM_API ebm_status ebm_comm_gather_f64(const ebm_comm *c, const double *mine, size_t n, const size_t *counts,
                                       double *all);
/* The same for floats, into rank 0 only: all (the sum of counts, on rank 0; may be NULL elsewhere) <- every
 * rank's mine (n = counts[rank] values) in rank order; mine may lie inside all at rank 0's place. */
EBM_API ebm_status ebm_comm_gather_f32(const ebm_comm *c, const float *mine, size_t n, const size_t *counts,
                                       float *all);
/* Ends every process of the job at once (MPI_Abort) when there are several; returns only in one process. */
EBM_API void ebm_comm_abort(const ebm_comm *c, int code);
/* o's rank, ranks, allreduce and allreduce_user for c (left as they are for one process). */
EBM_API void ebm_comm_run_opts(ebm_comm *c, ebm_run_opts *o);

/* ------------------------------------------------------------------------------------------------
 * Optimisers over a flat parameter array (gradients are descent directions of a loss):
 * SGD with heavy-ball momentum, and Adam (Kingma & Ba 2015); both with L2 weight decay added to the
 * gradient and optional global-norm clipping.
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_optim_kind { EBM_OPTIM_SGD, EBM_OPTIM_ADAM } ebm_optim_kind;
typedef struct ebm_optim_opts {
    ebm_optim_kind kind;      /* default Adam */
    float lr;                 /* default 1e-4 */
    float momentum;           /* SGD (default 0.9) */
    float beta1, beta2, eps;  /* Adam (defaults 0.9, 0.999, 1e-8) */
    float weight_decay;       /* L2, added to the gradient (default 0) */
    float clip;               /* clip the gradient's global L2 norm to this; 0 = off (default) */
} ebm_optim_opts;
typedef struct ebm_optim ebm_optim;
EBM_API void ebm_optim_opts_default(ebm_optim_opts *o);
EBM_API ebm_status ebm_optim_new(size_t n_params, const ebm_optim_opts *o, ebm_optim **out);
EBM_API void ebm_optim_free(ebm_optim *p);
EBM_API void ebm_optim_set_lr(ebm_optim *p, float lr);
/* theta (n) -= the update from g (n, not modified; scaled down to the clip norm when clipping is on);
 * grad_norm gets |g| before clipping (may be NULL).  A non-finite gradient is refused with EBM_ENAN and
 * leaves theta alone. */
EBM_API ebm_status ebm_optim_step(ebm_optim *p, float *theta, float *g, double *grad_norm);
/* For a trainer's save_state / load_state: the moments and the step count as tensors PREFIX.m, PREFIX.v
 * (Adam) and PREFIX.t; load checks kind and size (EBM_EFORMAT naming the tensor). */
EBM_API ebm_status ebm_optim_save_state(const ebm_optim *p, const char *prefix, ebm_tensors *t);
EBM_API ebm_status ebm_optim_load_state(ebm_optim *p, const char *prefix, const ebm_tensors *t);

/* ------------------------------------------------------------------------------------------------
 * Training by contrastive divergence (Hinton 2002) and persistent CD (Tieleman 2008)
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_cd_mode { EBM_CD = 0, EBM_PCD = 1 } ebm_cd_mode;

typedef struct ebm_train_progress {
    size_t epoch, epochs;           /* epoch counts from 1 */
    size_t batch, batches;          /* batches done in this epoch / per epoch */
    double lr;                      /* learning rate of the last batch */
    double seconds;                 /* wall time of this epoch so far */
    double total_seconds;           /* wall time of the run so far */
    double recon;                   /* mean squared error of v0 vs p(v|h0) over this epoch's batches (CD);
                                       NaN for PCD, whose chains do not start at the data */
} ebm_train_progress;

/* Returns non-zero to stop training (the trainer then returns EBM_ECANCELED, parameters as of the
 * last completed batch). */
typedef int (*ebm_progress_fn)(const ebm_train_progress *p, void *user);

typedef struct ebm_cd_opts {
    ebm_cd_mode mode;
    size_t k;                 /* Gibbs sweeps per update (default 1) */
    size_t epochs;            /* default 10 */
    size_t batch;             /* default 100 */
    size_t chains;            /* PCD: persistent chains; 0 = batch */
    float lr;                 /* default 0.05 */
    float lr_final;           /* linear decay to this by the last batch; < 0 = constant lr (default) */
    float momentum;           /* default 0.5 */
    float weight_decay;       /* L2 on W (default 1e-4) */
    float grad_clip;          /* clip the gradient's L2 norm to this; 0 = off (default) */
    int shuffle;              /* reshuffle the rows every epoch (default 1) */
    uint64_t seed;            /* default 1 */
    ebm_progress_fn on_batch; /* called after every batch, may be NULL */
    ebm_progress_fn on_epoch; /* called after every epoch, may be NULL */
    void *user;
    ebm_precision precision;  /* of the Gibbs products (default FP32; see ebm_precision); the gradient's is fp32 */
} ebm_cd_opts;

EBM_API void ebm_cd_opts_default(ebm_cd_opts *o);
/* A CD-k / PCD-k trainer of m for ebm_run (m borrowed, not freed): o gives the update (mode, k, chains,
 * momentum, weight_decay, grad_clip); ebm_cd_run_opts turns o's loop settings (epochs, batch, lr, lr_final,
 * shuffle, seed) into the ebm_run options ebm_rbm_train uses.  Gibbs draws come from the stream (seed, 0),
 * the persistent chains' start from (seed, 2), the shuffle from (seed, 1). */
EBM_API ebm_status ebm_rbm_trainer_new(ebm_rbm *m, const ebm_cd_opts *o, ebm_trainer **out);
EBM_API void ebm_cd_run_opts(const ebm_cd_opts *o, ebm_run_opts *r);
/* Trains m on data (n, n_vis) with values in [0, 1].  On a non-finite update the parameters are
 * restored to the end of the last completed epoch (or the start) and EBM_ENAN is returned. */
EBM_API ebm_status ebm_rbm_train(ebm_rbm *m, const ebm_mat *data, const ebm_cd_opts *o);
/* The CD-k (or PCD-k on chains) gradient estimate of the mean log-likelihood (ascent direction) for one
 * batch v (n, n_vis): grad (n_params) = <v h>_data - <v h>_k, the same estimate ebm_rbm_train uses. */
EBM_API ebm_status ebm_rbm_cd_grad(const ebm_rbm *m, const float *v, size_t n, size_t k, ebm_rng *rng,
                                   float *grad);

/* Training by CD-k / PCD-k with any sampler for the negative phase (the paper's Algorithm 1): negative
 * chains start from N(0, I) noise at every update (CD, the paper's), from the batch (CD, classic) or
 * persist (PCD); the negative statistics average all chain states from step burn_in on (by default the
 * later half; the paper's code uses every step); SGD with momentum, weight decay on W, gradient-norm clipping (paper: 10) and
 * a cosine learning-rate schedule over the epochs (paper) or a constant one.  Gradients use
 * p(h | v) (Rao-Blackwellised) in both phases.  Data must already be standardised. */
typedef enum ebm_grbm_neg_init { EBM_GRBM_NEG_NOISE = 0, EBM_GRBM_NEG_DATA, EBM_GRBM_NEG_PERSISTENT } ebm_grbm_neg_init;
#define EBM_BURN_IN_HALF ((size_t)-1) /* ebm_grbm_train_opts.burn_in: the later half of each chain, k / 2 */

typedef struct ebm_grbm_train_opts {
    ebm_grbm_neg_init neg_init; /* default NOISE */
    size_t k;                 /* sampler steps per update (default 10) */
    size_t burn_in;           /* first chain step whose state enters the negative statistics (default
                                 EBM_BURN_IN_HALF: k / 2; 0 = all, the paper's code: from noise, averaging the
                                 noise-like first states made a much worse model, docs/grbm.md) */
    size_t epochs;            /* default 10 */
    size_t batch;             /* default 100 */
    size_t chains;            /* negative chains; 0 = batch (default) */
    float lr;                 /* default 0.01 (paper) */
    int cosine;               /* cosine decay of lr to 0 over the epochs (default 1, paper) */
    float momentum;           /* default 0 (paper) */
    float weight_decay;       /* L2 on W (default 0, paper) */
    float grad_clip;          /* L2 norm clip of the whole gradient; 0 = off (default 10, paper) */
    int shuffle;              /* default 1 */
    uint64_t seed;            /* default 1 */
    ebm_grbm_sample_opts sampler; /* the negative phase's sampler (default Gibbs-Langevin, no MH) */
    ebm_progress_fn on_batch;
    ebm_progress_fn on_epoch;
    void *user;
} ebm_grbm_train_opts;

EBM_API void ebm_grbm_train_opts_default(ebm_grbm_train_opts *o);
/* A GRBM trainer of m for ebm_run (m borrowed, not freed): o gives the update (neg_init, k, burn_in, chains,
 * sampler, momentum, weight_decay, grad_clip); ebm_grbm_run_opts turns o's loop settings (epochs, batch, lr,
 * cosine, shuffle, seed) into the ebm_run options ebm_grbm_train uses.  The chains draw from the stream
 * (seed, 20), the persistent chains start from (seed, 22), the shuffle is (seed, 21).  A step's recon figure
 * is measured on the last batch of each epoch (after its update). */
EBM_API ebm_status ebm_grbm_trainer_new(ebm_grbm *m, const ebm_grbm_train_opts *o, ebm_trainer **out);
EBM_API void ebm_grbm_run_opts(const ebm_grbm_train_opts *o, ebm_run_opts *r);
/* Trains m on standardised data (n, n_vis).  progress.recon is the mean squared error of v vs
 * E[v | p(h | v)] over the epoch's batches.  On a non-finite update the parameters are restored to the
 * end of the last completed epoch and EBM_ENAN is returned. */
EBM_API ebm_status ebm_grbm_train(ebm_grbm *m, const ebm_mat *data, const ebm_grbm_train_opts *o);
/* mean squared error between v (n, n_vis) and W p(h|v) + mu. */
EBM_API ebm_status ebm_grbm_recon_error(const ebm_grbm *m, const float *v, size_t n, double *mse);

/* Boltzmann machines: grad (n*n + n) += d(mean PLL)/dtheta (ascent direction, W symmetric): with
 * r_i = x_i - E[x_i | x_-i], d/db_i = r_i and d/dW_ij = r_i x_j + r_j x_i, averaged over rows. */
EBM_API ebm_status ebm_bm_pseudo_ll_grad(const ebm_bm *m, const float *x, size_t rows, float *grad);

/* Learning: CD-k (negative chains start at the batch), PCD-k (persistent chains, started at random data
 * rows) with k sequential Gibbs sweeps, or maximum pseudo-likelihood (the exact PLL gradient), through
 * the optimisers above.  data (rows, n) in the model's convention. */
typedef enum ebm_bm_method { EBM_BM_CD = 0, EBM_BM_PCD = 1, EBM_BM_PL = 2 } ebm_bm_method;
typedef struct ebm_bm_train_opts {
    ebm_bm_method method;     /* default CD */
    size_t k;                 /* Gibbs sweeps per update (default 1) */
    ebm_bm_scan scan;         /* default systematic */
    size_t epochs;            /* default 10 */
    size_t batch;             /* default 100 */
    size_t chains;            /* PCD chains; 0 = batch */
    ebm_optim_opts optim;     /* default SGD, lr 0.05, momentum 0.5, no weight decay */
    int shuffle;              /* default 1 */
    uint64_t seed;            /* default 1 */
    ebm_progress_fn on_batch; /* progress.recon is NaN */
    ebm_progress_fn on_epoch;
    void *user;
} ebm_bm_train_opts;
EBM_API void ebm_bm_train_opts_default(ebm_bm_train_opts *o);
/* A CD / PCD / pseudo-likelihood trainer of m for ebm_run (m borrowed, not freed): o gives the update
 * (method, k, scan, chains, optim without its lr, which comes from the run's schedule); ebm_bm_run_opts
 * turns o's loop settings (epochs, batch, optim.lr, shuffle, seed) into the ebm_run options ebm_bm_train
 * uses.  Gibbs draws come from the stream (seed, 0), the persistent chains' start from (seed, 2), the
 * shuffle from (seed, 1).  Its describe writes ebm.train.method, .k and .scan (CD/PCD), .optim,
 * .momentum and .weight_decay. */
EBM_API ebm_status ebm_bm_trainer_new(ebm_bm *m, const ebm_bm_train_opts *o, ebm_trainer **out);
EBM_API void ebm_bm_run_opts(const ebm_bm_train_opts *o, ebm_run_opts *r);
/* ebm_run over that trainer.  On a non-finite update the parameters are restored to the end of the last
 * completed epoch (or the start) and EBM_ENAN is returned. */
EBM_API ebm_status ebm_bm_train(ebm_bm *m, const ebm_mat *data, const ebm_bm_train_opts *o);
EBM_API const char *ebm_bm_method_name(ebm_bm_method k);      /* "cd", "pcd", "pl" */

/* Greedy layer-wise training: layer l is one run of the CD / PCD trainer (ebm_rbm_trainer_new) through ebm_run,
 * with o->cd and seed o->cd.seed + l, initialised by ebm_rbm_init(W ~ N(0, init_std^2), visible biases from its
 * input's means, rng stream (seed, 100 + l)); its input is the data for layer 0 and p(h | v) of the layer below
 * over that layer's input otherwise.  on_layer (may be NULL) is called before each layer with the layer index,
 * the layer and its training input (rows, units(l)); non-zero stops (EBM_ECANCELED).  d->meta receives
 * ebm.train.init_std, .layer_input, .lr_final, .layer.<l>.seed and .layer.<l>.seconds, and the sampling
 * defaults ebm.sample.steps, .temperature, .init where absent. */
typedef struct ebm_dbn_train_opts {
    ebm_cd_opts cd;           /* per-layer CD / PCD settings (ebm_cd_opts_default) */
    float init_std;           /* default 0.01 */
    int (*on_layer)(size_t layer, ebm_rbm *rbm, const ebm_mat *input, void *user);
    void *user;
    /* A checkpoint of ebm_dbn_checkpoint to continue from (NULL = from the start): the layers below its layer
     * take its parameters and are not trained again, its layer resumes as ebm_run_opts.resume says. */
    const ebm_tensors *resume;
} ebm_dbn_train_opts;

EBM_API void ebm_dbn_train_opts_default(ebm_dbn_train_opts *o);
/* Trains d on data (rows, units(0)) with values in [0, 1]; every layer runs as ebm_rbm_train runs it, with
 * o->cd's callbacks. */
EBM_API ebm_status ebm_dbn_train(ebm_dbn *d, const ebm_mat *data, const ebm_dbn_train_opts *o);
/* One layer's run, handed to the caller's hook: the layer (initialised), its training input, its trainer and
 * the ebm_run options ebm_rbm_train would use (ebm_cd_run_opts of o->cd with the layer's seed; no callbacks). */
typedef struct ebm_dbn_layer_run {
    size_t layer, n_layers;
    ebm_rbm *rbm;
    const ebm_mat *input;     /* (rows, units(layer)) */
    ebm_trainer *trainer;     /* owned by ebm_dbn_train_run */
    ebm_run_opts run;         /* the hook may add callbacks, checkpoints, ... */
} ebm_dbn_layer_run;
/* Runs the layer, normally ebm_run(L->trainer, L->input, NULL, &L->run, result) with the caller's callbacks:
 * one place for progress, cancellation and partial saves of every layer.  A status other than EBM_OK stops
 * the training and is returned (prefixed with the layer). */
typedef ebm_status (*ebm_dbn_run_fn)(ebm_dbn_layer_run *L, void *user);
/* ebm_dbn_train with each layer's run made by run (NULL: as ebm_dbn_train); the results are the same. */
EBM_API ebm_status ebm_dbn_train_run(ebm_dbn *d, const ebm_mat *data, const ebm_dbn_train_opts *o,
                                     ebm_dbn_run_fn run, void *user);
/* A checkpoint of a DBN's training, from the hook's run callbacks: the layer under way's ebm_run_checkpoint
 * plus which layer it is (ebm.checkpoint.dbn.layer, .layers) and the trained layers below it (tensors
 * ckpt.dbn.<l>, with their ebm.train.layer.<l>.seconds). */
EBM_API ebm_status ebm_dbn_checkpoint(const ebm_dbn *d, const ebm_dbn_layer_run *L, ebm_tensors *out);

/* ------------------------------------------------------------------------------------------------
 * Training an energy by Langevin contrastive divergence (Du & Mordatch 2019; Nijkamp et al. 2019):
 *   L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2)
 * with x+ a data batch and x- negatives from the sampler in mcmc, started from the replay buffer
 * (95% / 5% noise restarts by default), from noise every iteration (short-run, non-persistent), or from
 * a fixed set of persistent chains.  The gradient sum_i w_i dE(x_i)/dtheta goes through the energy's
 * grad_params and the optimiser.  A non-finite energy or gradient stops training with EBM_ENAN and the
 * parameters of the last good iteration.
 * --------------------------------------------------------------------------------------------- */
typedef enum ebm_neg_mode { EBM_NEG_BUFFER, EBM_NEG_SHORTRUN, EBM_NEG_PERSISTENT } ebm_neg_mode;
/* Where new chains start: uniform noise (o->noise), or JEM++'s informative start, a Gaussian per class fitted
 * to the training data (ebm_gauss_start_fit on the run's data and labels, clipped to the data's range). */
typedef enum ebm_chain_init { EBM_INIT_NOISE, EBM_INIT_GAUSSIAN } ebm_chain_init;

typedef struct ebm_lcd_progress {
    size_t iter, iters;       /* iterations done, of */
    double loss, e_pos, e_neg;/* this iteration: L, mean E(x+), mean E(x-) */
    double grad_norm, accept; /* gradient norm before clipping; the sampler's acceptance rate */
    double seconds;           /* since the start */
    double extra_loss;        /* the extra loss of this batch (0 without extra_grad) */
} ebm_lcd_progress;

typedef struct ebm_lcd_opts {
    ebm_neg_mode mode;        /* default buffer */
    size_t buffer;            /* replay capacity (default 10,000) */
    float reinit;             /* fraction restarted from noise per draw (default 0.05) */
    ebm_noise noise;          /* where chains start (default uniform on [-1, 1]) */
    ebm_mcmc_opts mcmc;       /* the negative sampler (default SGLD, 20 steps, step 1, noise 0.01) */
    float alpha;              /* energy L2 weight (default 0.1) */
    float data_noise;         /* sd of Gaussian noise added to data batches (default 0) */
    ebm_optim_opts optim;     /* default Adam, lr 1e-4 */
    size_t batch;             /* default 128 */
    size_t iters;             /* parameter updates (default 1,000) */
    uint64_t seed;            /* default 1 */
    int (*on_iter)(const ebm_lcd_progress *p, void *user); /* after every update; non-zero stops */
    void *user;
    /* Weight of the contrastive (generative) term (default 1).  0 trains on extra_grad alone, without sampling. */
    float gen_weight;
    /* An extra loss on each data batch, added to the gradient: for the batch x (n, dim), which holds data rows
     * `rows` (n) (data_noise added), grad (n_params) += dLoss/dtheta and *loss = its value.  NULL = none. */
    ebm_status (*extra_grad)(const float *x, const size_t *rows, size_t n, float *grad, double *loss, void *user);
    void *extra_user;
    /* The network behind e when it has spectral-normalisation layers: one power iteration on it after every
     * good update (ebm_net_sn_update(sn_net, 1)), as `ebm train ebm` does.  NULL = none (default).  Also told
     * when the run writes its parameters (roll-back, resume, swap_ema: ebm_net_params_changed), and a bf16
     * network's precision is recorded as ebm.train.precision: give it for a bf16 network (ebm_jem_trainer_new
     * does). */
    struct ebm_net *sn_net;
    /* Where the replay buffer, its restarts, short-run and persistent chains start (default noise).  Gaussian:
     * one Gaussian per class when the run has labels (ebm_run's labels; JEM always), else one over all rows. */
    ebm_chain_init init;
    /* Exponential moving average of the parameters, ema <- decay ema + (1 - decay) theta after every good
     * update (from the initial parameters); 0 = off (default), else in (0, 1).  Kept in checkpoints;
     * ebm_lcd_trainer_swap_ema exchanges it with the parameters (e.g. to save or evaluate it). */
    float ema;
    /* JEM only (ebm_jem_trainer_new): non-zero samples every negative from p(x | y), i.e. on the energy
     * -f(x)[y], with y the (r mod K)-th of the K classes the data have (ascending) for row r of the global
     * batch, and takes the negatives' term of
     * the gradient on that energy; the data's term is unchanged.  The expectation the negatives estimate,
     * E_{p(x, y)}[d f(x)[y]], is the same as the marginal chains' (JEM's log p(x, y) = log p(x) + log p(y | x)),
     * but the chains are the ones class-conditional sampling (ebm sample --class) runs, so training shapes
     * them.  Short-run or persistent negatives (a buffer's slots would change class between draws). */
    int class_negatives;
} ebm_lcd_opts;

EBM_API void ebm_lcd_opts_default(ebm_lcd_opts *o);
/* The defaults for data of dim values per row that is not an image (image: ebm_lcd_opts_default, tuned for
 * pictures in [-1, 1]): for low-dimensional data (dim <= EBM_LCD_LOW_DIM, e.g. the 2-D toy densities) the
 * image settings learn an almost flat energy, so o->mcmc becomes ULA with step 0.01 and 40 steps, o->optim.lr
 * 3e-3, and when o->noise is uniform on [lo, hi] (set it to the data's range, ebm_lcd_data_range, first) the
 * chains are clipped to that box widened by 5% on each side: outside the data the energy is never trained
 * and chains that leave the box drift away (docs/ebm.md; measured by scripts/toy_report.sh).  Other fields
 * are left as they are. */
#define EBM_LCD_LOW_DIM 16
EBM_API void ebm_lcd_opts_for_data(ebm_lcd_opts *o, size_t dim, int image);
/* The defaults for an energy of images alone (`ebm train ebm` on pictures; ebm_lcd_opts_default's sampler,
 * the JEM paper's replay buffer with SGLD of step 1 and noise 0.01, stays JEM's): short-run negatives (from
 * o->noise at every update), 40 proximal SGLD steps of step size 10 and noise 0.005 with every pixel's move
 * clipped to +-0.3 (o->mcmc.prox), data noise 0.005, and when o->noise is uniform on [lo, hi] (the data's
 * range, ebm_lcd_data_range) the chains clipped to it.  Measured on Fashion-MNIST against the old defaults
 * by scripts/deep_ebm_report.sh (docs/results.md).  Other fields are left as they are. */
EBM_API void ebm_lcd_opts_for_image_energy(ebm_lcd_opts *o);
/* The defaults for a JEM of images (`ebm train jem` on pictures): ebm_lcd_opts_for_image_energy's sampler, with
 * class negatives (class_negatives 1) from a Gaussian per class (init EBM_INIT_GAUSSIAN), gen_weight 0.05 and
 * Adam's learning rate 1e-3.  Measured on Fashion-MNIST against the plain classifier (the same learning rate)
 * by scripts/jem_calibrate.sh: accuracy within a point, ECE no worse, MNIST AUROC above, class-conditional
 * FD-FMNIST below 30 (docs/results.md).  Other fields are left as they are. */
EBM_API void ebm_lcd_opts_for_image_jem(ebm_lcd_opts *o);
/* An LCD trainer of e for ebm_run (e borrowed): o gives the update (mode, buffer, reinit, noise, mcmc,
 * alpha, data_noise, optim, gen_weight, extra_grad, sn_net); ebm_lcd_run_opts turns o's loop settings
 * (iters, batch, seed, optim.lr) into the ebm_run options ebm_lcd_train uses: an iteration run, rows shuffled
 * from the stream (seed, "lcd-p").  The per-update keys (data noise, negatives' starts) come from the stream
 * (seed, "lcd"), the replay buffer's noise from (seed, "replay"), the sampler's draws from (seed ^ golden,
 * chain).  Figures: loss, e_pos, e_neg, accept (NaN with gen_weight 0), grad_norm, extra (NaN without
 * extra_grad).  Name "lcd", settings as ebm.train.method/sampler/steps/step_size/noise/buffer/reinit/alpha/
 * optimizer, and the sampling defaults ebm.sample.sampler/steps/step_size/noise/leapfrog/init_lo/init_hi
 * (/clip_lo/clip_hi): the training sampler, with ten times the steps after buffer or persistent training. */
EBM_API ebm_status ebm_lcd_trainer_new(ebm_energy *e, const ebm_lcd_opts *o, ebm_trainer **out);
EBM_API void ebm_lcd_run_opts(const ebm_lcd_opts *o, ebm_run_opts *r);
/* The range LCD chains start from by default: the smallest and largest value of x (*hi = *lo + 1 when they
 * are equal). */
EBM_API void ebm_lcd_data_range(const ebm_mat *x, float *lo, float *hi);
/* The negatives of an LCD or JEM trainer's last update (*n rows of the energy's dim, borrowed until the next
 * step), or NULL (*n = 0) before the first one, with gen_weight 0, or for another kind of trainer. */
EBM_API const float *ebm_lcd_trainer_negatives(ebm_trainer *t, size_t *n);
/* With ema on (o->ema > 0), swaps the contents of the parameters and of their moving average: call it once to
 * put the average in the model (to save or score it), once more to go back.  EBM_EINVAL without ema, before
 * the run has begun, or for another kind of trainer. */
EBM_API ebm_status ebm_lcd_trainer_swap_ema(ebm_trainer *t);
/* Trains e's parameters on data (n, e->dim): ebm_run with that trainer, o->on_iter called after every
 * update.  The last negatives (batch, dim) are copied to neg_out when it is not NULL. */
EBM_API ebm_status ebm_lcd_train(ebm_energy *e, const ebm_mat *data, const ebm_lcd_opts *o, float *neg_out);

/* ------------------------------------------------------------------------------------------------
 * JEM (Grathwohl et al. 2020): a K-way classifier network f as the energy E(x) = -log sum_y exp f(x)[y],
 * trained on log p(y | x) + log p(x) (cross-entropy plus Langevin contrastive divergence on E).
 * --------------------------------------------------------------------------------------------- */
/* Mean cross-entropy of softmax(net(x)) against y (n) for x (n, input_size); grad (n_params) += its
 * gradient when not NULL. */
EBM_API ebm_status ebm_jem_cross_entropy(ebm_net *net, const float *x, const int32_t *y, size_t n, float *grad,
                                         double *loss);
/* Hybrid training on labelled data (labels (data->rows) in 0..K-1): each iteration adds the batch's
 * cross-entropy gradient to o->gen_weight times the contrastive gradient of E (o as for ebm_lcd_train;
 * gen_weight 0 = the discriminative baseline, no sampling). */
EBM_API ebm_status ebm_jem_train(ebm_net *net, const ebm_mat *data, const int32_t *labels, const ebm_lcd_opts *o);
/* The same as a trainer for ebm_run (net borrowed), which takes each batch's labels from ebm_run's labels by
 * row index (required).  The LCD trainer of the network's log-sum-exp energy with the cross-entropy as its
 * extra loss, named "jem"; o->sn_net is always net.  Its provenance adds ebm.jem.classes, .objective (jem or
 * clf) and .gen_weight.  ebm_lcd_run_opts gives the loop settings of ebm_jem_train. */
EBM_API ebm_status ebm_jem_trainer_new(ebm_net *net, const ebm_lcd_opts *o, ebm_trainer **out);

typedef struct ebm_structured_progress {
    size_t epoch, epochs, batch, batches;
    double loss;            /* mean loss over this epoch's batches so far */
    double seconds;         /* since the start */
} ebm_structured_progress;
typedef struct ebm_structured_train_opts {
    ebm_structured_loss_opts loss;
    ebm_optim_opts optim;   /* default Adam, lr 1e-3 */
    size_t epochs;          /* default 3 */
    size_t batch;           /* default 64 */
    uint64_t seed;          /* shuffling (default 1) */
    int (*on_batch)(const ebm_structured_progress *p, void *user); /* non-zero stops (EBM_ECANCELED) */
    void *user;
} ebm_structured_train_opts;
EBM_API void ebm_structured_train_opts_default(ebm_structured_train_opts *o);
/* Minibatch training on x (n, row size) with labels y (n, labels per row).  A non-finite loss or gradient
 * stops with EBM_ENAN and the parameters of the last good batch. */
EBM_API ebm_status ebm_structured_train(ebm_structured *m, const ebm_mat *x, const int32_t *y,
                                        const ebm_structured_train_opts *o);
/* A trainer of m for ebm_run (m borrowed, not freed) with o's loss and optimiser; the labels (rows, labels per
 * row) go to ebm_run with the data and each step takes those of its batch's rows.  Its parameter blocks are
 * the network's (0) and, for chains, the pairwise table P_raw (1); the step's rate is the run's (ctx->lr).
 * ebm_structured_run_opts turns o's loop settings (epochs, batch, optim.lr, seed) into the ebm_run options
 * ebm_structured_train uses: shuffle stream (seed, 0x5f), roll-back to the last good batch. */
EBM_API ebm_status ebm_structured_trainer_new(ebm_structured *m, const ebm_structured_train_opts *o,
                                              ebm_trainer **out);
EBM_API void ebm_structured_run_opts(const ebm_structured_train_opts *o, ebm_run_opts *r);
/* The loss a model was trained with, from the ebm.sp.* keys the trainer's provenance writes (defaults where
 * absent or malformed). */
EBM_API void ebm_structured_loss_opts_from_meta(const ebm_meta *meta, ebm_structured_loss_opts *o);

/* ================================================================================================
 * PART 7. EVALUATION: exact log Z, AIS, likelihoods, metrics, the linear probe
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * Evaluation: exact partition function by enumerating the smaller layer, likelihoods, monitors
 * --------------------------------------------------------------------------------------------- */
#define EBM_EXACT_MAX_UNITS 25

/* log Z at temperature T, summing over 2^min(n_vis, n_hid) states (<= EBM_EXACT_MAX_UNITS). */
EBM_API ebm_status ebm_rbm_log_z_exact(const ebm_rbm *m, float T, double *log_z);
/* Mean log-likelihood (nats per example) of v (n, n_vis) given log Z (at T = 1). */
EBM_API ebm_status ebm_rbm_log_likelihood(const ebm_rbm *m, const float *v, size_t n, double log_z,
                                          double *ll);
/* Exact gradient of the mean log-likelihood of v (n, n_vis): grad (n_params), ascent direction. */
EBM_API ebm_status ebm_rbm_exact_ll_grad(const ebm_rbm *m, const float *v, size_t n, float *grad);
/* Pseudo-log-likelihood: mean over rows of sum_i log p(v_i | v_-i), exact (all n_vis conditionals). */
EBM_API ebm_status ebm_rbm_pseudo_ll(const ebm_rbm *m, const float *v, size_t n, double *pll);
/* Mean squared error between v (n, n_vis) and its mean-field reconstruction p(v | p(h | v)). */
EBM_API ebm_status ebm_rbm_recon_error(const ebm_rbm *m, const float *v, size_t n, double *mse);
/* Fractions of hidden units that are practically dead (mean p(h_j = 1 | v) over the rows of v below 0.01)
 * and practically always on (above 0.99): a model that saturates its hidden layer has stopped learning. */
EBM_API ebm_status ebm_rbm_saturation(const ebm_rbm *m, const float *v, size_t n, double *dead, double *stuck_on);
/* What `ebm eval` reports of an RBM on rows v (rows, n_vis): the mean free energy (T = 1), the mean-field
 * reconstruction error (ebm_rbm_recon_error), the pseudo-log-likelihood of the first pll_rows rows (all when
 * pll_rows >= rows; not computed when 0) and, when exact (a layer of at most EBM_EXACT_MAX_UNITS units), the
 * exact log Z at T = 1 and the mean log-likelihood; figures not computed are NaN. */
typedef struct ebm_rbm_eval {
    double free_energy_mean, recon, pseudo_ll, log_z, log_likelihood;
} ebm_rbm_eval;
EBM_API ebm_status ebm_rbm_evaluate(const ebm_rbm *m, const float *v, size_t rows, size_t pll_rows, int exact,
                                    ebm_rbm_eval *out);
/* The per-epoch monitors of RBM training: on the monitor rows v (n rows; none when v is NULL or n is 0) the
 * reconstruction error (ebm_rbm_recon_error), the hidden saturation (ebm_rbm_saturation) and, when pll, the
 * pseudo-log-likelihood; when ll_v is not NULL the exact log Z (T = 1) and the mean log-likelihood of its ll_n
 * rows.  A figure not computed, or whose computation fails, is NaN (a monitor never stops training). */
typedef struct ebm_rbm_monitors {
    double recon, dead, stuck_on, pseudo_ll, log_z, log_likelihood;
} ebm_rbm_monitors;
EBM_API void ebm_rbm_monitor(const ebm_rbm *m, const float *v, size_t n, int pll, const float *ll_v, size_t ll_n,
                             ebm_rbm_monitors *out);

/* Exact samples of v from p(v) = exp(-F(v)) / Z (T = 1) by enumerating the smaller layer (at most 20
 * units): v (n, n_vis) gets n independent draws (through h ~ p(h), v ~ p(v | h) when the hidden layer is
 * the smaller one).  For testing samplers and for reverse AIS on small models. */
EBM_API ebm_status ebm_rbm_sample_exact(const ebm_rbm *m, size_t n, ebm_rng *rng, float *v);

/* ------------------------------------------------------------------------------------------------
 * Annealed importance sampling (Neal 2001; Salakhutdinov & Murray 2008) for log Z of an RBM.
 * Intermediate distributions p_k(v) ∝ exp((1 - beta_k) c'v) * sum_h exp(-beta_k E(v, h)) go from a base
 * model with visible biases c and no interactions (beta = 0, log Z_0 exact) to the RBM (beta = 1); each
 * run starts with an exact draw from the base, moves by one block-Gibbs transition at every beta and
 * collects the log importance weight sum_k log p*_k(v) - log p*_{k-1}(v).  With M runs and weights w,
 * log Z_hat = log Z_0 + log mean(w): an unbiased estimate of Z, whose log is biased low (Jensen), so
 * forward AIS tends to underestimate log Z (overestimate the likelihood).  Reverse AIS runs the same
 * schedule backwards from exact samples of the RBM and tends to overestimate log Z: together they
 * bracket it.  The interval is log(mean(w) -+ 3 sd(w) / sqrt(M)) as in Salakhutdinov & Murray.
 * It is a statement about the runs made, not a guarantee: when a few runs carry the mean (small ESS) or
 * the log weights spread widely (a schedule too short for the model), sd(w) is itself badly estimated
 * and the interval can miss log Z by nats.  ebm_ais_result.warnings then says so (docs/eval.md): on the
 * trained RBMs of tests/test_ais.c every interval that missed the exact log Z carried a warning.
 * --------------------------------------------------------------------------------------------- */
#define EBM_AIS_DEFAULT_STEPS 14500
/* The warning bits of ebm_ais_result.warnings and their thresholds. */
#define EBM_AIS_WARN_ESS 1u        /* ESS below EBM_AIS_MIN_ESS: the standard error rests on too few runs */
#define EBM_AIS_WARN_SPREAD 2u     /* sd(log w) above EBM_AIS_MAX_LOG_W_SD: the schedule is too short for the model */
#define EBM_AIS_MIN_ESS 50.0
#define EBM_AIS_MAX_LOG_W_SD 2.0

typedef struct ebm_ais_opts {
    size_t runs;              /* M parallel runs (default 100) */
    const double *betas;      /* n_betas increasing values from 0 to 1, or NULL for ebm_ais_schedule(steps) */
    size_t n_betas;
    size_t steps;             /* with betas == NULL: number of transitions (default 14,500, the paper's) */
    const float *base_bias;   /* (n_vis) base-model visible biases (ebm_ais_base_bias), NULL = 0 (uniform) */
    uint64_t seed;            /* default 1 */
    int (*progress)(double fraction, void *user); /* may return non-zero to stop (EBM_ECANCELED) */
    void *user;
    /* The runs are runs first_run .. first_run + runs - 1 of a larger set (default 0): run i draws from
     * the streams of index i, so a set split across processes (docs/distributed.md) gets the weights one
     * process would; ebm_ais_summarize then gives the estimate from all the weights. */
    size_t first_run;
    ebm_precision precision;  /* checked, and unused by the RBM path: its products add rows of W for
                               * the units that flipped, exact fp32 sums faster than bf16 products */
} ebm_ais_opts;

typedef struct ebm_ais_result {
    double log_z;             /* estimate of log Z */
    double log_z_lo, log_z_hi;/* the 3-standard-error interval (lo may be -inf when it reaches 0) */
    double log_z_base;        /* exact log Z of the base model */
    double ess;               /* effective sample size of the weights, (sum w)^2 / sum w^2, in 1..M */
    double log_w_sd;          /* standard deviation of the log weights */
    size_t runs, steps;
    double seconds;
    unsigned warnings;        /* EBM_AIS_WARN_* bits: the interval may not hold log Z (0: no warning) */
} ebm_ais_result;

EBM_API void ebm_ais_opts_default(ebm_ais_opts *o);
/* betas (steps + 1) = Salakhutdinov & Murray's schedule scaled to `steps` transitions: uniform steps on
 * [0, 0.5], [0.5, 0.9] and [0.9, 1] holding 500 : 4000 : 10000 of the 14,500 (steps >= 3). */
EBM_API ebm_status ebm_ais_schedule(size_t steps, double *betas);
/* base (n_vis) = logit of the smoothed column means (sum + 1) / (n + 2) of data (n, n_vis): a base
 * model with the data's pixel marginals, so AIS starts close to the target. */
EBM_API ebm_status ebm_ais_base_bias(const ebm_mat *data, float *base);
/* The estimate from the log weights (runs) of forward (reverse 0) or reverse AIS and the base model's exact
 * log Z, as ebm_rbm_ais computes it (r->steps and r->seconds are left alone). */
EBM_API ebm_status ebm_ais_summarize(const double *log_w, size_t runs, double log_z_base, int reverse,
                                     ebm_ais_result *r);
/* Forward AIS estimate of log Z of m at T = 1.  log_w (runs) receives the log weights when not NULL. */
EBM_API ebm_status ebm_rbm_ais(const ebm_rbm *m, const ebm_ais_opts *o, ebm_ais_result *r, double *log_w);
/* Reverse AIS from v0 (runs, n_vis), which must be exact samples of m (ebm_rbm_sample_exact) for the
 * estimate to be valid; its log Z tends to lie above the true value. */
EBM_API ebm_status ebm_rbm_ais_reverse(const ebm_rbm *m, const float *v0, const ebm_ais_opts *o, ebm_ais_result *r,
                                       double *log_w);
/* AIS of m as `ebm eval --ais` runs it: forward (reverse 0) from a base with the pixel marginals of x (n,
 * n_vis) (ebm_ais_base_bias; x NULL: o->base_bias), or reverse from o->runs exact samples of m drawn from
 * stream (o->seed, 13) (ebm_rbm_sample_exact: a layer of at most 20 units).  Over the processes of comm
 * (NULL: one) each runs its slice of the runs, ebm_chain_range (whole blocks of EBM_CHAIN_BLOCK runs; a
 * process left without a block runs a copy of run 0 and contributes no weight), the log weights are gathered
 * in run order and r summarises them as one process would: the same estimate, bit for bit, on every process,
 * equal to one process's (fp32; ebm.h PART 5, "Slices"). */
EBM_API ebm_status ebm_rbm_ais_dist(const ebm_rbm *m, const ebm_mat *x, const ebm_ais_opts *o, int reverse,
                                    ebm_comm *comm, ebm_ais_result *r);

/* Exact quantities by summing over the hidden layer (n_hid <= EBM_EXACT_MAX_UNITS): for every h the
 * integral over v is Gaussian, so log Z_T = 1/2 sum_i log(2 pi T sigma_i^2)
 *   + logsumexp_h [ (b'h + sum_i ((Wh)_i^2 + 2 mu_i (Wh)_i) / (2 sigma_i^2)) / T ]. */
EBM_API ebm_status ebm_grbm_log_z_exact(const ebm_grbm *m, float T, double *log_z);
/* Mean log density (nats per example, standardised space) of v (n, n_vis) given log Z at T = 1. */
EBM_API ebm_status ebm_grbm_log_likelihood(const ebm_grbm *m, const float *v, size_t n, double log_z, double *ll);
/* Exact mean (n_vis) and covariance (n_vis x n_vis, may be NULL) of v at T = 1: a mixture of 2^n_hid
 * Gaussians N(W h + mu, diag sigma^2) with weights p(h). */
EBM_API ebm_status ebm_grbm_moments_exact(const ebm_grbm *m, double *mean, double *cov);

/* AIS for log Z of a GRBM (T = 1) through the same driver as ebm_rbm_ais.  Base (beta = 0): the
 * factorised Gaussian N(base_mean, diag base_var) times uniform hidden units, log Z_0 exact; path
 *   p*_beta(v, h) = exp(-(1 - beta) 1/2 ||(v - base_mean)/base_sd||^2 - beta E(v, h));
 * transition: block Gibbs at beta (h | v and v | h are sigmoid and Gaussian).  base_mean, base_var (n_vis)
 * or NULL for 0 and 1 (the standardised data's own mean and variance under the global standardisation);
 * o->base_bias is ignored. */
EBM_API ebm_status ebm_grbm_ais(const ebm_grbm *m, const float *base_mean, const float *base_var,
                                const ebm_ais_opts *o, ebm_ais_result *r, double *log_w);
/* Column means and variances (floored at 1e-4) of standardised data (n, n_vis) for the AIS base. */
EBM_API ebm_status ebm_grbm_ais_base(const ebm_mat *data, float *mean, float *var);
/* The figures of a GRBM on standardised rows x (rows, n_vis): the mean free energy and the reconstruction error
 * (standardised space), with exact the exact log Z (n_hid <= EBM_EXACT_MAX_UNITS) and the mean log-likelihood,
 * with ais (may be NULL) an AIS log Z (its base from ebm_grbm_ais_base of x) and the log-likelihood under it;
 * log-likelihoods in nats per example as densities in pixel units (ebm_grbm_log_jacobian added).  Figures not
 * measured are NaN; on an error the figures measured before it are kept. */
typedef struct ebm_grbm_eval {
    double free_energy_mean, recon_mse, log_z, log_likelihood, ais_log_z, ais_log_likelihood, ais_log_z_lo,
        ais_log_z_hi;
    unsigned ais_warnings;    /* the AIS run's ebm_ais_result.warnings, with the figures they rest on */
    double ais_ess, ais_log_w_sd;
} ebm_grbm_eval;
EBM_API ebm_status ebm_grbm_evaluate(const ebm_grbm *m, const ebm_mat *x, int exact, const ebm_ais_opts *ais,
                                     ebm_grbm_eval *out);
/* Kernel MMD^2 (unbiased, Gretton et al. 2012) between x (n, d) and y (m, d) with the Gaussian kernel
 * exp(-||a - b||^2 / (2 bandwidth^2)); bandwidth <= 0 picks the median pairwise distance of the pooled
 * sample (median heuristic), returned in *used_bandwidth (may be NULL). */
EBM_API ebm_status ebm_mmd_gaussian(const float *x, size_t n, const float *y, size_t m, size_t d, double bandwidth,
                                    double *mmd2, double *used_bandwidth);

/* ------------------------------------------------------------------------------------------------
 * Metrics for classifiers and samples.  logits are (n, k), labels (n) in 0..k-1.
 * --------------------------------------------------------------------------------------------- */
/* Accuracy of the arg max and mean negative log-likelihood of softmax(logits) (either may be NULL). */
EBM_API ebm_status ebm_metric_classify(const float *logits, const int32_t *labels, size_t n, size_t k,
                                       double *accuracy, double *nll);
/* Expected calibration error over `bins` equal-width bins of the top softmax probability (Guo et al. 2017;
 * 15 bins is the usual choice); per-bin accuracy, mean confidence (NaN for empty bins) and counts go to
 * the (bins) arrays that are not NULL, for a reliability diagram. */
EBM_API ebm_status ebm_metric_ece(const float *logits, const int32_t *labels, size_t n, size_t k, size_t bins,
                                  double *ece, double *bin_acc, double *bin_conf, size_t *bin_count);
/* Temperature scaling (Guo et al. 2017): the T > 0 that minimises the mean negative log-likelihood of
 * softmax(logits / T) on held-out rows (convex in 1 / T; Newton's method).  T lies in
 * [EBM_TEMPERATURE_MIN, EBM_TEMPERATURE_MAX]: it goes towards a bound while the NLL keeps falling that way (logits
 * that separate every row: towards the minimum, until the NLL no longer changes in double precision); logits
 * equal within every row leave T = 1.  nll_before (at T = 1) and nll_after may be NULL.
 * T > 1 softens an over-confident classifier, T < 1 sharpens an under-confident one; the arg max, so the
 * accuracy, does not change. */
#define EBM_TEMPERATURE_MIN 0.01
#define EBM_TEMPERATURE_MAX 100.0
EBM_API ebm_status ebm_metric_fit_temperature(const float *logits, const int32_t *labels, size_t n, size_t k,
                                              double *T, double *nll_before, double *nll_after);
/* logits (n, k) <- logits / T in place (T = 1: unchanged, bit for bit); T outside [EBM_TEMPERATURE_MIN,
 * EBM_TEMPERATURE_MAX] is EBM_EINVAL. */
EBM_API ebm_status ebm_logits_scale(float *logits, size_t n, size_t k, double T);
/* Area under the ROC curve for telling positives (higher scores expected) from negatives: the probability
 * that a random positive scores above a random negative, ties counting one half. */
EBM_API ebm_status ebm_metric_auroc(const double *pos, size_t n_pos, const double *neg, size_t n_neg, double *auroc);
/* out (n) <- the empirical distribution function of the reference scores ref (m, sorted ascending, finite) at
 * each x: (#{ref < x} + #{ref == x} / 2) / m, in [0, 1].  Scores of different scales become comparable
 * (`ebm score --score energy+mahalanobis` adds two of them).  EBM_EINVAL for m = 0, unsorted or non-finite ref,
 * or a NaN x. */
EBM_API ebm_status ebm_metric_ecdf(const double *ref, size_t m, const double *x, size_t n, double *out);
/* ebm_metric_auroc with the rows of class cls as the positives and every other row as the negatives: score
 * and labels (n); *n_pos (may be NULL) <- the number of positives, set also when a group is empty (EBM_EINVAL). */
EBM_API ebm_status ebm_metric_auroc_class(const double *score, const int32_t *labels, size_t n, int32_t cls,
                                          double *auroc, size_t *n_pos);
/* The mean of v over the rows of each class 0..k-1, k = the largest label + 1 capped at cap (rows with negative
 * labels or labels >= cap are ignored): means[c] (cap entries of room), NaN for a class without rows; returns k
 * (0 when n is 0 or every label is negative). */
EBM_API size_t ebm_metric_class_means(const double *v, const int32_t *labels, size_t n, size_t cap, double *means);
/* Input complexity (Serra et al. 2020, "Input complexity and out-of-distribution detection with likelihood-
 * based generative models"): bits[i] = 8 x the PNG length (ebm_png_encoded_size) of row i of x (n, height x
 * width x channels, pixel-major: channels vary fastest), its values mapped linearly from [lo, hi] to 0..255
 * (rounded, clipped).  Rows that are not images: height 1, width = the row length. */
EBM_API ebm_status ebm_complexity_bits(const float *x, size_t n, size_t height, size_t width, int channels, float lo,
                                       float hi, double *bits);
/* The complexity-corrected anomaly score S(x) = E(x) / ln 2 - weight x L(x): the model's -log2 p(x) (up to the
 * constant log2 Z) less the input's complexity L in bits (Serra et al. 2020, S = -l_M(x) - L(x), weight 1).
 * Generative models give simple inputs (few pixels on, flat regions) high likelihood whatever their class;
 * subtracting L removes that bias.  E, bits, out (n); out may be E's or bits' storage. */
EBM_API void ebm_complexity_score(const double *E, const double *bits, size_t n, double weight, double *out);
/* Writes a CSV of scores: a header "row,energy" (",label" with labels), then "i,v[i]" (%.9g) per row with the
 * label when labels is not NULL; EBM_EIO ("cannot write PATH" / "writing PATH failed") on failure. */
EBM_API ebm_status ebm_metric_write_scores(const char *path, const double *v, const int32_t *labels, size_t n);
/* The same with the score's column named `column` (letters, digits, '_', '+', '-', '.'; else EBM_EINVAL):
 * "row,COLUMN[,label]".  ebm_metric_write_scores is this with "energy". */
EBM_API ebm_status ebm_metric_write_scores_as(const char *path, const char *column, const double *v,
                                              const int32_t *labels, size_t n);
/* Frechet distance between Gaussians fitted to the rows of x (n, d) and y (m, d):
 * |mu_x - mu_y|^2 + tr(S_x + S_y - 2 (S_x S_y)^(1/2)), in double. */
EBM_API ebm_status ebm_frechet_distance(const float *x, size_t n, const float *y, size_t m, size_t d, double *fd);

/* The three in-distribution scores of the JEM paper (Grathwohl et al. 2020, section 5.2) for x (n,
 * input_size), each larger for more typical inputs: log p(x) up to a constant (log_px = -E(x)), the
 * largest softmax probability (max_p), and minus the norm of dE/dx (grad_norm); each (n). */
EBM_API ebm_status ebm_jem_scores(ebm_net *net, const float *x, size_t n, double *log_px, double *max_p,
                                  double *grad_norm);
/* Sample quality through a classifier network clf (src/eval/classifier_eval.c): the Fréchet distance between
 * Gaussians fitted to clf's penultimate features of samples and of ref (real images), with the same for floor
 * (other real images, may be NULL: what a perfect sampler scores at that size) and clf's predictions on the
 * samples: accuracy against labels (may be NULL), mean confidence, entropy of the predicted classes, whose
 * counts go to counts (output_size, may be NULL).  Rows must have clf's input size. */
typedef struct ebm_fd_result {
    double fd, fd_floor;      /* fd_floor NaN without floor */
    double accuracy;          /* NaN without labels */
    double mean_confidence;   /* mean largest softmax probability */
    double class_entropy;     /* nats */
    size_t width;             /* features per row */
} ebm_fd_result;
EBM_API ebm_status ebm_net_fd(ebm_net *clf, const ebm_mat *samples, const ebm_mat *ref, const ebm_mat *floor,
                              const int32_t *labels, size_t *counts, ebm_fd_result *r);
/* An anomaly score in a network's penultimate features (src/eval/feature_gauss.c; Lee et al. 2018): one Gaussian
 * mean per class present in labels (one mean when labels is NULL) with a shared covariance, fitted by maximum
 * likelihood to the features of x (n >= 2 rows, input_size each) with ridge x (mean eigenvalue) added to its
 * eigenvalues (EBM_FEATURE_GAUSS_RIDGE is the default; 0 = none).  The network is the one scored later, its
 * weights unchanged. */
#define EBM_FEATURE_GAUSS_RIDGE 1e-6
typedef struct ebm_feature_gauss ebm_feature_gauss;
EBM_API ebm_status ebm_feature_gauss_fit(ebm_net *net, const float *x, const int32_t *labels, size_t n, double ridge,
                                         ebm_feature_gauss **out);
/* score (n) <- the squared Mahalanobis distance of each row's features to the nearest mean (higher = more
 * anomalous), nearest (n, may be NULL) <- that mean's class.  EBM_ESHAPE for a network of another shape. */
EBM_API ebm_status ebm_feature_gauss_score(const ebm_feature_gauss *g, ebm_net *net, const float *x, size_t n,
                                           double *score, int32_t *nearest);
EBM_API size_t ebm_feature_gauss_means(const ebm_feature_gauss *g);  /* the number of means (classes) */
EBM_API size_t ebm_feature_gauss_width(const ebm_feature_gauss *g);  /* features per row */
EBM_API void ebm_feature_gauss_free(ebm_feature_gauss *g);
/* The reliability diagram of a classifier (bars of per-bin accuracy acc (bins) against confidence, empty bins
 * (count 0) blank, and the diagonal of perfect calibration) as a PNG; bins from ebm_metric_ece. */
EBM_API ebm_status ebm_png_reliability(const char *path, const double *acc, const size_t *count, size_t bins);
/* xo (n, dim) <- the out-of-distribution set `name` for data x (n, dim) scaled to [0, 1] or, with pm1, to
 * [-1, 1]: "uniform" noise over that range, "gaussian" noise (mean mid-range, sd a quarter of the range,
 * clipped to it), both from seed, or "inverted" (x with its values reversed).  EBM_EINVAL for other names. */
EBM_API ebm_status ebm_ood_fill(const char *name, int pm1, const float *x, uint64_t seed, float *xo, size_t n,
                                size_t dim);
/* auroc[j] <- how well JEM score j (ebm_jem_scores: log p(x), max softmax, gradient norm) tells in-distribution
 * rows, whose scores are in[j * n .. j * n + n), from the rows of xo (m, input_size): the AUROC. */
EBM_API ebm_status ebm_jem_ood_auroc(ebm_net *net, const double *in, size_t n, const float *xo, size_t m,
                                     double auroc[3]);
/* A network's outputs f(x) for the rows of x (n, input_size), computed 256 rows at a time, into a new array
 * *out (n, output_size; the caller's, free()). */
EBM_API ebm_status ebm_net_logits(ebm_net *net, const float *x, size_t n, float **out);
/* A classifier network's accuracy and mean negative log-likelihood on x (n, input_size) with labels (n), and
 * its expected calibration error over `bins` bins with the per-bin figures (ebm_metric_ece), of
 * softmax(f(x) / temperature) (1: the network's own; ebm_metric_fit_temperature fits one). */
EBM_API ebm_status ebm_net_classify_eval(ebm_net *net, const float *x, const int32_t *labels, size_t n, size_t bins,
                                         double temperature, double *accuracy, double *nll, double *ece,
                                         double *bin_acc, double *bin_conf, size_t *bin_count);
/* Samples x mapped in place to the value range of a classifier's data ([-1, 1] when pm1, else [0, 1]): mode 1
 * reads them as [0, 1], 2 as [-1, 1], 0 (auto) as [-1, 1] for images (images != 0) with over 10% of their
 * values below -0.5 (a dark background in [-1, 1], never in [0, 1]), else as [0, 1], and other data as already
 * in the classifier's range.  *read_pm1 <- whether they were read as [-1, 1]; *lo, *hi <- their range before. */
EBM_API void ebm_samples_rescale(ebm_mat *x, int mode, int images, int pm1, int *read_pm1, float *lo, float *hi);

typedef struct ebm_structured_eval {
    double accuracy;        /* per label */
    double seq_accuracy;    /* whole rows right (= accuracy for K-class) */
    double loss;            /* mean loss (with the options given) */
    double e_correct;       /* mean E(x, y_i) */
    double e_offending;     /* mean Ebar */
    double gap;             /* mean Ebar - E: > 0 where the correct answer wins */
    double spread;          /* mean over rows of (max - min) of the unary energies: ~0 when the energy is flat */
    double top_share;       /* fraction of predicted labels that are the most frequent prediction */
    int collapsed;          /* flat energies (spread <= 1e-3 (1 + |e_correct|)) or one label predicted for
                               >= 90% of the rows while the true labels are spread out */
} ebm_structured_eval;
EBM_API ebm_status ebm_structured_evaluate(ebm_structured *m, const ebm_structured_loss_opts *o, const float *x,
                                           const int32_t *y, size_t n, ebm_structured_eval *r);

/* Exact log Z_T by Gray-code enumeration of the 2^n states in double with a running log-sum-exp
 * (n <= EBM_EXACT_MAX_UNITS, else EBM_EINVAL). */
EBM_API ebm_status ebm_bm_log_z_exact(const ebm_bm *m, float T, double *log_z);
/* Exact moments at T: mean (n) = E[x_i], pair (n, n) = E[x_i x_j] (may be NULL; costs 2^n n^2). */
EBM_API ebm_status ebm_bm_moments_exact(const ebm_bm *m, float T, double *mean, double *pair);
/* Mean log-likelihood (nats per row, T = 1) of x (rows, n) given log Z. */
EBM_API ebm_status ebm_bm_log_likelihood(const ebm_bm *m, const float *x, size_t rows, double log_z, double *ll);
/* Pseudo-log-likelihood: mean over rows of sum_i log p(x_i | x_-i) at T = 1. */
EBM_API ebm_status ebm_bm_pseudo_ll(const ebm_bm *m, const float *x, size_t rows, double *pll);
/* Of rows x (rows, n): the mean energy, the pseudo-log-likelihood and, when exact (n <= EBM_EXACT_MAX_UNITS),
 * the exact log Z at T = 1 and the mean log-likelihood; figures not computed are NaN. */
typedef struct ebm_bm_eval {
    double energy_mean, pseudo_ll, log_z, log_likelihood;
} ebm_bm_eval;
EBM_API ebm_status ebm_bm_evaluate(const ebm_bm *m, const float *x, size_t rows, int exact, ebm_bm_eval *out);

/* ------------------------------------------------------------------------------------------------
 * Linear probe: multinomial logistic regression on fixed features, to measure how useful features are.
 *   logits = x W + b,  L(W, b) = -(1/n) sum_i log softmax(logits_i)[y_i] + (l2 / 2) ||W||^2
 * fitted by full-batch L-BFGS (Nocedal & Wright 2006, Algorithm 7.4, with a backtracking Armijo line search):
 * the loss is convex, so the result is deterministic and needs no seed or learning rate.
 * --------------------------------------------------------------------------------------------- */
typedef struct ebm_probe {
    size_t n_features, n_classes;
    float *W;                 /* (n_features, n_classes) */
    float *b;                 /* (n_classes) */
} ebm_probe;

typedef struct ebm_probe_opts {
    float l2;                 /* default 1e-3 */
    size_t max_iter;          /* L-BFGS iterations (default 300) */
    double tol;               /* stop when the gradient's max |.| falls below this (default 1e-5) */
    size_t history;           /* L-BFGS memory (default 10) */
    int (*progress)(size_t iter, double loss, void *user); /* after every iteration; non-zero stops early */
    void *user;
} ebm_probe_opts;

typedef struct ebm_probe_result {
    size_t iters;
    double loss;              /* final training loss (with the L2 term) */
    double grad_max;          /* final max |gradient| */
    int converged;            /* grad_max <= tol */
} ebm_probe_result;

EBM_API void ebm_probe_opts_default(ebm_probe_opts *o);
EBM_API ebm_status ebm_probe_new(size_t n_features, size_t n_classes, ebm_probe **out);
EBM_API void ebm_probe_free(ebm_probe *p);
/* L above for x (n, n_features), labels y (n) in 0..n_classes-1; grad (n_features * n_classes + n_classes,
 * W then b) <- dL/dtheta when not NULL. */
EBM_API ebm_status ebm_probe_loss(const ebm_probe *p, const float *x, const int32_t *y, size_t n, float l2,
                                  double *loss, float *grad);
/* Fits a new probe with n_classes = 1 + max label; r may be NULL. */
EBM_API ebm_status ebm_probe_fit(const float *x, const int32_t *y, size_t n, size_t n_features,
                                 const ebm_probe_opts *o, ebm_probe **out, ebm_probe_result *r);
/* logits (n, n_classes) for x (n, n_features). */
EBM_API ebm_status ebm_probe_predict(const ebm_probe *p, const float *x, size_t n, float *logits);
/* How useful features are: a probe fitted on xtr (ntr, n_features) with labels ytr, scored by its accuracy there
 * and its accuracy and mean negative log-likelihood on xte (nte, n_features) with labels yte.  A test label
 * beyond the training labels' classes is EBM_EINVAL naming its row. */
typedef struct ebm_probe_score {
    double train_acc, test_acc, test_nll;
    ebm_probe_result fit;
} ebm_probe_score;
EBM_API ebm_status ebm_probe_fit_score(const float *xtr, const int32_t *ytr, size_t ntr, const float *xte,
                                       const int32_t *yte, size_t nte, size_t n_features, const ebm_probe_opts *o,
                                       ebm_probe_score *out);
/* ebm_probe_fit_score on the level `level` features (ebm_dbn_up; 0 = the data itself) of xtr (ntr, units(0))
 * and xte (nte, units(0)): how linearly useful a DBN's (or an RBM's) representation is. */
EBM_API ebm_status ebm_dbn_probe(const ebm_dbn *d, size_t level, const float *xtr, const int32_t *ytr, size_t ntr,
                                 const float *xte, const int32_t *yte, size_t nte, const ebm_probe_opts *o,
                                 ebm_probe_score *out);

/* ================================================================================================
 * PART 8. APPLICATIONS: Ising image denoising, inpainting masks
 * ============================================================================================== */

/* Ising image denoising (Bishop, PRML section 8.3.3): a clean image y in {-1,+1}^(H x W) on the
 * 4-neighbour grid and an observed noisy x in {-1,+1}^(H x W),
 *   E(y; x) = -beta sum_{i~j} y_i y_j - eta sum_i x_i y_i - h sum_i y_i,   p(y | x) ∝ exp(-E(y; x)).
 * Images are float arrays (height * width, row-major) holding -1 and +1 (x > 0 counts as +1). */
typedef struct ebm_ising {
    size_t height, width;
    float beta;               /* neighbour coupling (CLI default 1) */
    float eta;                /* observation coupling (CLI default 2) */
    float h;                  /* bias (default 0) */
    const float *x;           /* the observation (height * width) */
} ebm_ising;
/* E(y; x) in double. */
EBM_API ebm_status ebm_ising_energy(const ebm_ising *g, const float *y, double *E);
/* Iterated conditional modes: y (in/out, the start state, e.g. x) sweeps in raster order, setting each
 * y_i to the sign of its local field (keeping y_i on a tie), until a sweep changes nothing or after
 * max_sweeps sweeps (0 = no limit).  The energy never increases.  *sweeps (may be NULL) = sweeps done. */
EBM_API ebm_status ebm_ising_icm(const ebm_ising *g, float *y, size_t max_sweeps, size_t *sweeps);
/* Simulated annealing for the MAP: sweeps raster-order Gibbs sweeps at temperatures falling geometrically
 * from T0 to T1, then ICM to the nearest local minimum.  y is the start state (in/out). */
EBM_API ebm_status ebm_ising_anneal(const ebm_ising *g, float *y, size_t sweeps, float T0, float T1, ebm_rng *rng);
/* Posterior marginals by Gibbs at T = 1 from the start state y (in/out): burn_in sweeps, then marg
 * (height * width) = the mean over sweeps more sweeps of p(y_i = +1 | neighbours, x) (Rao-Blackwellised).
 * Thresholding marg at 1/2 gives the maximiser of the posterior marginals (MPM). */
EBM_API ebm_status ebm_ising_gibbs(const ebm_ising *g, float *y, size_t burn_in, size_t sweeps, ebm_rng *rng,
                                   float *marg);
/* One denoising of the observation g->x into y (height * width): MAP by ICM from x, MAP by annealing from x
 * (sweeps from T0 to T1, then ICM), or the MPM: Gibbs marginals after burn_in, averaged over sweeps, written
 * to marg (height * width; required for gibbs, else may be NULL) and thresholded at 1/2. */
typedef enum ebm_ising_method { EBM_ISING_ICM = 0, EBM_ISING_ANNEAL = 1, EBM_ISING_GIBBS = 2 } ebm_ising_method;
typedef struct ebm_ising_denoise_opts {
    ebm_ising_method method;
    size_t sweeps, burn_in;   /* annealing sweeps; Gibbs: sweeps averaged after burn_in */
    float t0, t1;             /* annealing temperatures */
} ebm_ising_denoise_opts;
EBM_API ebm_status ebm_ising_denoise(const ebm_ising *g, const ebm_ising_denoise_opts *o, ebm_rng *rng, float *y,
                                     float *marg);
EBM_API const char *ebm_ising_method_name(ebm_ising_method m); /* "icm", "anneal", "gibbs" */
/* Salt-and-pepper noise: noisy (n) = clean (n, values -1/+1) with each value, with probability p, replaced by a
 * fair coin flip (-1 or +1), drawing from the stream (seed, stream); returns how many values changed. */
EBM_API size_t ebm_ising_salt_pepper(const float *clean, size_t n, float p, uint64_t seed, uint64_t stream,
                                     float *noisy);
/* Exact marginals p(y_i = +1 | x) by enumeration (height * width <= EBM_EXACT_MAX_UNITS), for tests. */
EBM_API ebm_status ebm_ising_marginals_exact(const ebm_ising *g, double *marg);
/* x (height * width) <- +1 where the grey level of pixel i of px (height * width * channels bytes; the mean of
 * the first three channels when channels >= 3, alpha ignored) divided by 255 is at least threshold, else -1. */
EBM_API void ebm_ising_threshold_pixels(const uint8_t *px, size_t n, size_t channels, float threshold, float *x);
/* One image of a denoising experiment: g->x (the noisy image) denoised into y (and marg, as ebm_ising_denoise)
 * by o->method with the random stream (seed ^ 0x6973696e67, image * 3 + method); *errors += the pixels of y
 * that differ from clean (height * width, -1/+1). */
EBM_API ebm_status ebm_ising_denoise_image(const ebm_ising *g, const ebm_ising_denoise_opts *o, uint64_t seed,
                                           uint64_t image, const float *clean, float *y, float *marg, size_t *errors);
/* hide (h * w) <- 1 for the pixels an inpainting mask hides: "top", "bottom", "left" or "right" (that half of
 * the image) or "random:P" (each pixel with probability P, 0 < P < 1, from seed); *hidden <- how many.
 * EBM_EINVAL for anything else. */
EBM_API ebm_status ebm_inpaint_mask(const char *spec, size_t h, size_t w, uint64_t seed, uint8_t *hide,
                                    size_t *hidden);
/* Mean squared difference of a and b (n, dim) over the columns j with mask[j] != 0 (all when mask is NULL);
 * 0 when no column counts. */
EBM_API double ebm_mse(const float *a, const float *b, size_t n, size_t dim, const uint8_t *mask);

#ifdef __cplusplus
}
#endif
#endif /* EBM_H */
