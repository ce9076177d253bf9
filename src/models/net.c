/* Neural-network energies: a feed-forward stack of layers with explicit forward and backward kernels
 * (the chain rule written out per layer, as in Karpathy's llm.c).  For a layer y = f(x; theta) and an upstream
 * gradient g = dL/dy, the backward gives dL/dx = (df/dx)' g and dL/dtheta += (df/dtheta)' g:
 *   linear  y = x W' + b                 dx = g W,            dW += g' x,         db += sum_rows g
 *   conv    y = W * x + b (cross-corr.)  through im2col: X_col has a row per kernel tap (c, ky, kx) and a
 *           column per output position, Y = W X_col + b; dX_col = W' G gathered back (col2im), dW += G X_col'
 *   (torch.nn.Conv2d's layout: weight (O, C, K, K) row-major is W (O, C*K*K))
 *   pool    y = mean over a K x K window  dx = g / K^2 on the window
 *   silu    y = x s(x)                   dy/dx = s(x) (1 + x (1 - s(x)))   (s the logistic sigmoid)
 *   leaky   y = max(x, a x)              1 or a;   elu  y = x or alpha (e^x - 1): 1 or alpha e^x
 *   softplus y = log(1 + e^x)            s(x);     tanh  1 - y^2
 * Spectral normalisation (Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral normalization for GANs"):
 * W_sn = W / sigma with sigma = |W'u| for the stored unit vector u (after an optional power iteration
 * u <- W v / |W v|, v = W'u / |W'u|); with v = W'u / sigma, d sigma / dW = u v' exactly, so
 * dL/dW = (G - <G, W_sn> u v') / sigma where G = dL/dW_sn: the usual "u, v held constant" gradient, which
 * here is the true gradient for the stored u.  Energies: E = f(x)[0], or E = -logsumexp_y f(x)[y]
 * (Grathwohl et al. 2020, JEM) with dE/df = -softmax(f).  Every GEMM goes through a layer's matmul context
 * (ebm_mm, core/gemm_dnnl.c): NULL in fp32, i.e. ebm_sgemm (blocks that depend on shapes only); in bf16
 * (ebm_net_set_precision) both operands rounded to bfloat16 and multiplied by oneDNN with fp32 sums into fp32
 * results, the same fixed blocks, each run on one thread.  A linear layer's bf16 weight copy is made on the
 * first forward after the parameters changed (net->w16_stale), not per product; activations, gradients and
 * parameters stay fp32.  Element-wise loops are split by rows, col2im by (sample, channel) planes, so results
 * do not depend on the number of threads in either precision.
 * Where oneDNN is built in, a conv layer's products are oneDNN convolutions instead (core/conv_dnnl.c), one
 * single-threaded primitive per sample, and the layers before the first linear one run sample by sample
 * (forward_front, backward_front below); im2col stays as the fallback and for the few cases those decline. */
#include "core/internal.h"
#include "core/vmath.h"
#include "io/io_internal.h"

#include <ctype.h>
#include <omp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Below this many elements an OpenMP fork costs more than it saves. */
#define PAR_MIN 16384
/* The front's per-sample weight gradients (backward_front) take at most this many floats (64 MiB). */
#define WPART_MAX_FLOATS ((size_t)16 << 20)
/* im2col buffers hold at most this many floats (16 MiB): samples are processed in chunks of that size. */
#define COL_MAX_FLOATS ((size_t)4 << 20)
#define SPEC_MAX 4096
#define MAX_LAYERS 256
/* The activations of one sample, all layers together (what a forward pass keeps per row): a spec that
 * needs more is refused before anything is allocated, so a few bytes of metadata cannot ask for gigabytes. */
#define NET_MAX_SAMPLE_FLOATS ((size_t)1 << 28)

typedef enum {
    L_LINEAR, L_CONV, L_POOL, L_FLATTEN, L_SILU, L_LEAKY, L_ELU, L_SOFTPLUS, L_TANH
} layer_kind;

typedef struct {
    layer_kind kind;
    size_t c_in, h_in, w_in, c_out, h_out, w_out;
    size_t in_size, out_size;          /* per sample */
    size_t k, stride, pad;             /* conv and pool */
    float alpha;                       /* leakyrelu slope, elu alpha */
    int sn;
    size_t fan_in;                     /* weight columns: IN or C*K*K */
    size_t n_w;                        /* c_out * fan_in */
    size_t w_off, b_off;               /* into params */
    size_t u_off;                      /* into state (SN) */
    float *w_sn;                       /* (c_out, fan_in) W / sigma, refreshed every forward (SN) */
    double *v;                         /* (fan_in) W'u / sigma (SN) */
    double *wv;                        /* (c_out) scratch of the power iteration (SN) */
    double sigma;
    char token[64];                    /* canonical token */
} layer;

static size_t conv_chunk(const layer *l);

struct ebm_net {
    char spec[SPEC_MAX];
    size_t C, H, W;
    size_t n_layers;
    layer *L;
    size_t n_params, n_state;
    float *params, *state;
    int training;
    size_t max_size;                   /* widest activation per sample */
    size_t col_floats, gsn_floats;     /* per-call scratch sizes (independent of n) */
    /* work buffers, grown with the batch size */
    size_t cap;                        /* rows they hold */
    size_t last_n;                     /* rows of the last forward; 0 = none */
    float *acts;                       /* activations: layer i's input at act_off[i] * cap */
    size_t *act_off;                   /* (n_layers + 1) per-sample offsets */
    /* SiLU derivatives s(x) (1 + x (1 - s(x))) of the last forward that a backward may follow (d_ok), so that
     * the backward needs no exp: layer i's at d_off[i] * cap (d_off: per-sample offsets counting SiLU layers) */
    float *dsilu;
    size_t *d_off;                     /* (n_layers + 1) */
    int d_ok;
    int skip_ok;                       /* the last forward left some outputs in the front out (skips_output) */
    float *g0, *g1;                    /* (cap, max_size) ping-pong gradients */
    float *col, *dcol, *tmp;           /* im2col, its gradient, conv outputs in position-major order */
    float *gsn;                        /* (max n_w) dL/dW_sn of an SN layer */
    float *ones;                       /* (cap) */
    /* precision (ebm_net_set_precision): a matmul context per layer, NULL for fp32 or a layer without weights */
    ebm_precision precision;           /* resolved: FP32 or BF16 */
    ebm_mm **mm;                       /* (n_layers) */
    int w16_stale;                     /* the linear layers' bf16 weight copies predate the parameters */
    /* oneDNN convolutions (conv_dnnl.c) for conv layers, made on first use at the net's precision; NULL where
     * oneDNN is absent or declines the shape (then im2col) */
    ebm_conv **cv;                     /* (n_layers) */
    unsigned char *cv_tried;           /* (n_layers) */
    int conv_mode;                     /* ebm_net_conv_mode: EBM_NET_CONV_FRONT (0, the default), _LAYERS, _IM2COL */
    float *slot_g;                     /* (slot_n, 2, max_size) per-thread gradients of a per-sample backward */
    size_t slot_n;
    float *wpart;                      /* (wpart_cap) per-sample weight and bias gradients of the front's convs */
    size_t wpart_cap;
};

/* ---------------------------------------------------------------------------------------------
 * Spec parsing
 * ------------------------------------------------------------------------------------------- */

/* Parses a positive decimal integer (the whole string) no larger than max. */
static bool parse_count(const char *s, size_t max, size_t *out) {
    if (!*s || !isdigit((unsigned char)*s)) return false;
    size_t v;
    if (!ebm_parse_size(s, &v) || v == 0 || v > max) return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, float *out) {
    char *end;
    if (!*s) return false;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || !isfinite((float)v)) return false; /* 1e300 is finite, not as a float */
    *out = (float)v;
    return true;
}

/* Splits tok in place at ':' into at most 8 fields; returns the number of fields. */
static int split_fields(char *tok, char **f) {
    int n = 0;
    f[n++] = tok;
    for (char *p = tok; *p; p++)
        if (*p == ':') {
            *p = '\0';
            if (n == 8) return 9;
            f[n++] = p + 1;
        }
    return n;
}

static void layer_shape_str(const layer *l, char *buf, size_t cap) {
    snprintf(buf, cap, "%zux%zux%zu", l->c_out, l->h_out, l->w_out);
}

/* Fills l from token number pos (text in tok, modified) given the input shape; messages name both. */
static ebm_status parse_layer(char *tok, size_t pos, size_t c, size_t h, size_t w, layer *l) {
    char orig[64];
    snprintf(orig, sizeof orig, "%s", tok);
    char *f[9];
    int nf = split_fields(tok, f);
    memset(l, 0, sizeof *l);
    l->c_in = c;
    l->h_in = h;
    l->w_in = w;
    l->c_out = c;
    l->h_out = h;
    l->w_out = w;
    if (nf > 8) return ebm_fail(EBM_EINVAL, "net spec: layer %zu '%s': too many ':' fields", pos, orig);
    const char *name = f[0];
    int sn = 0;
    if (nf > 1 && strcmp(f[nf - 1], "sn") == 0) {
        sn = 1;
        nf--;
    }
#define BAD(...)                                                                                          \
    do {                                                                                                  \
        char why_[256];                                                                                   \
        snprintf(why_, sizeof why_, __VA_ARGS__);                                                         \
        return ebm_fail(EBM_EINVAL, "net spec: layer %zu '%s': %s", pos, orig, why_);                     \
    } while (0)
    if (sn && strcmp(name, "linear") != 0 && strcmp(name, "conv") != 0)
        BAD("':sn' applies to linear and conv layers only");
    if (strcmp(name, "linear") == 0) {
        if (nf != 2) BAD("expected linear:OUT[:sn]");
        if (h != 1 || w != 1) BAD("input is %zux%zux%zu, not flat (add 'flatten' before it)", c, h, w);
        if (!parse_count(f[1], INT_MAX, &l->c_out)) BAD("OUT must be an integer in 1..%d", INT_MAX);
        l->kind = L_LINEAR;
        l->fan_in = c;
        snprintf(l->token, sizeof l->token, "linear:%zu%s", l->c_out, sn ? ":sn" : "");
    } else if (strcmp(name, "conv") == 0) {
        if (nf != 4 && nf != 5) BAD("expected conv:OUT:K:STRIDE[:PAD][:sn]");
        size_t pad;
        if (!parse_count(f[1], INT_MAX, &l->c_out)) BAD("OUT must be an integer in 1..%d", INT_MAX);
        if (!parse_count(f[2], 64, &l->k)) BAD("K must be an integer in 1..64");
        if (!parse_count(f[3], 64, &l->stride)) BAD("STRIDE must be an integer in 1..64");
        if (nf == 5) {
            if (!ebm_parse_size(f[4], &pad) || pad >= l->k) BAD("PAD must be an integer in 0..K-1");
        } else {
            pad = l->k / 2;
        }
        l->pad = pad;
        if (h + 2 * pad < l->k || w + 2 * pad < l->k)
            BAD("a %zux%zu kernel does not fit the %zux%zu input with padding %zu", l->k, l->k, h, w, pad);
        l->kind = L_CONV;
        l->h_out = (h + 2 * pad - l->k) / l->stride + 1;
        l->w_out = (w + 2 * pad - l->k) / l->stride + 1;
        if (!ebm_mul_ok(c, l->k * l->k, &l->fan_in) || l->fan_in > INT_MAX) BAD("kernel too large");
        snprintf(l->token, sizeof l->token, "conv:%zu:%zu:%zu:%zu%s", l->c_out, l->k, l->stride, pad,
                 sn ? ":sn" : "");
    } else if (strcmp(name, "pool") == 0) {
        if (nf != 2 || !parse_count(f[1], 64, &l->k)) BAD("expected pool:K with K in 1..64");
        if (h < l->k || w < l->k) BAD("a %zux%zu window does not fit the %zux%zu input", l->k, l->k, h, w);
        l->kind = L_POOL;
        l->stride = l->k;
        l->h_out = h / l->k;
        l->w_out = w / l->k;
        snprintf(l->token, sizeof l->token, "pool:%zu", l->k);
    } else if (strcmp(name, "flatten") == 0) {
        if (nf != 1) BAD("flatten takes no arguments");
        l->kind = L_FLATTEN;
        l->c_out = c * h * w;
        l->h_out = l->w_out = 1;
        snprintf(l->token, sizeof l->token, "flatten");
    } else if (strcmp(name, "silu") == 0 || strcmp(name, "swish") == 0 || strcmp(name, "softplus") == 0 ||
               strcmp(name, "tanh") == 0) {
        if (nf != 1) BAD("%s takes no arguments", name);
        l->kind = name[0] == 't' ? L_TANH : name[1] == 'o' ? L_SOFTPLUS : L_SILU;
        snprintf(l->token, sizeof l->token, "%s", l->kind == L_TANH ? "tanh" : l->kind == L_SOFTPLUS ? "softplus" : "silu");
    } else if (strcmp(name, "leakyrelu") == 0 || strcmp(name, "elu") == 0) {
        int leaky = name[0] == 'l';
        l->kind = leaky ? L_LEAKY : L_ELU;
        l->alpha = leaky ? 0.2f : 1.0f;
        if (nf > 2) BAD("expected %s[:%s]", name, leaky ? "SLOPE" : "ALPHA");
        if (nf == 2 && (!parse_float(f[1], &l->alpha) || (!leaky && l->alpha < 0)))
            BAD("%s must be a %snumber", leaky ? "SLOPE" : "ALPHA", leaky ? "" : "non-negative ");
        /* the shortest form that reads back as the same float */
        snprintf(l->token, sizeof l->token, "%s:%g", name, (double)l->alpha);
        if (strtof(strchr(l->token, ':') + 1, NULL) != l->alpha)
            snprintf(l->token, sizeof l->token, "%s:%.9g", name, (double)l->alpha);
    } else {
        BAD("unknown layer '%s' (linear, conv, pool, flatten, silu, swish, leakyrelu, elu, softplus, tanh)", name);
    }
#undef BAD
    l->sn = sn;
    l->in_size = c * h * w;
    if (!ebm_mul_ok(l->c_out, l->h_out * l->w_out, &l->out_size) || l->out_size > INT_MAX ||
        !ebm_mul_ok(l->c_out, l->fan_in, &l->n_w) || l->n_w > INT_MAX)
        return ebm_fail(EBM_EINVAL, "net spec: layer %zu '%s': output too large", pos, orig);
    if (l->out_size == 0) return ebm_fail(EBM_EINVAL, "net spec: layer %zu '%s': empty output", pos, orig);
    return EBM_OK;
}

static bool has_weights(const layer *l) { return l->kind == L_LINEAR || l->kind == L_CONV; }

/* The stored shape of a layer's weight (c_out, c_in, k, k) or (c_out, fan_in): its rank.  Bias and spectral-norm
 * vector are (c_out). */
static int weight_shape(const layer *l, size_t shw[4]) {
    shw[0] = l->c_out;
    shw[1] = l->kind == L_CONV ? l->c_in : l->fan_in;
    shw[2] = shw[3] = l->k;
    return l->kind == L_CONV ? 4 : 2;
}

/* The first half of ebm_net_new: parses the spec into its layers and counts the parameters, the state and
 * the per-sample activations, allocating only the layer table (so a file's tensors can be checked against
 * the spec before the parameter memory exists); net_alloc is the second half. */
static ebm_status net_parse(const char *spec, size_t channels, size_t height, size_t width, ebm_net **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "ebm_net_new: out is NULL");
    *out = NULL;
    if (!spec) return ebm_fail(EBM_EINVAL, "net spec is NULL");
    size_t in;
    if (channels == 0 || height == 0 || width == 0 || !ebm_mul_ok(channels, height, &in) ||
        !ebm_mul_ok(in, width, &in) || in > INT_MAX)
        return ebm_fail(EBM_EINVAL, "net input shape %zux%zux%zu is empty or too large", channels, height, width);
    size_t len = strlen(spec);
    if (len == 0) return ebm_fail(EBM_EINVAL, "net spec is empty");
    if (len >= SPEC_MAX) return ebm_fail(EBM_EINVAL, "net spec is longer than %d characters", SPEC_MAX - 1);
    ebm_net *net = calloc(1, sizeof *net);
    char *copy = malloc(len + 1);
    layer *L = calloc(MAX_LAYERS, sizeof *L);
    if (!net || !copy || !L) {
        free(net);
        free(copy);
        free(L);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    memcpy(copy, spec, len + 1);
    net->L = L;
    net->C = channels;
    net->H = height;
    net->W = width;
    ebm_status s = EBM_OK;
    size_t c = channels, h = height, w = width, pos = 0;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        while (isspace((unsigned char)*p)) p++;
        char *e = p + strlen(p);
        while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
        if (!*p) {
            s = ebm_fail(EBM_EINVAL, "net spec: layer %zu is empty", pos);
            break;
        }
        if (strlen(p) >= 48) {
            s = ebm_fail(EBM_EINVAL, "net spec: layer %zu '%.20s...' is too long", pos, p);
            break;
        }
        if (pos == MAX_LAYERS) {
            s = ebm_fail(EBM_EINVAL, "net spec: more than %d layers", MAX_LAYERS);
            break;
        }
        layer *l = &L[pos];
        s = parse_layer(p, pos, c, h, w, l);
        if (s) break;
        if (has_weights(l)) {
            l->w_off = net->n_params;
            l->b_off = l->w_off + l->n_w;
            net->n_params = l->b_off + l->c_out;
            if (l->sn) {
                l->u_off = net->n_state;
                net->n_state += l->c_out;
            }
        }
        c = l->c_out;
        h = l->h_out;
        w = l->w_out;
        pos++;
        if (!comma) break;
        p = comma + 1;
    }
    free(copy);
    net->n_layers = pos;
    if (s) {
        ebm_net_free(net);
        return s;
    }
    /* canonical spec, sizes of scratch */
    size_t at = 0, acts = in;
    net->max_size = in;
    for (size_t i = 0; i < pos; i++) {
        layer *l = &L[i];
        at += (size_t)snprintf(net->spec + at, SPEC_MAX - at, "%s%s", i ? "," : "", l->token);
        if (at >= SPEC_MAX) at = SPEC_MAX - 1;
        if (l->out_size > net->max_size) net->max_size = l->out_size;
        if (l->kind == L_CONV) {
            size_t per = l->h_out * l->w_out * l->fan_in, chunk = conv_chunk(l);
            if (chunk * per > net->col_floats) net->col_floats = chunk * per;
        }
        if (l->sn && l->n_w > net->gsn_floats) net->gsn_floats = l->n_w;
        if (acts <= NET_MAX_SAMPLE_FLOATS) acts += l->out_size; /* each out_size <= INT_MAX: no overflow */
    }
    if (acts > NET_MAX_SAMPLE_FLOATS) {
        ebm_net_free(net);
        return ebm_fail(EBM_EINVAL, "net spec: the layers' activations need more than %zu floats per sample "
                        "(the limit); a layer is far too wide for its input", NET_MAX_SAMPLE_FLOATS);
    }
    *out = net;
    return EBM_OK;
}

/* The second half of ebm_net_new: the parameter and state memory of a parsed net; frees net on failure. */
static ebm_status net_alloc(ebm_net *net) {
    size_t pos = net->n_layers;
    layer *L = net->L;
    net->params = ebm_calloc(net->n_params ? net->n_params : 1, sizeof(float));
    net->state = ebm_calloc(net->n_state ? net->n_state : 1, sizeof(float));
    net->act_off = calloc(pos + 1, sizeof *net->act_off);
    net->d_off = calloc(pos + 1, sizeof *net->d_off);
    net->gsn = net->gsn_floats ? ebm_calloc(net->gsn_floats, sizeof(float)) : NULL;
    if (!net->params || !net->state || !net->act_off || !net->d_off || (net->gsn_floats && !net->gsn)) {
        ebm_net_free(net);
        return ebm_fail(EBM_ENOMEM, "out of memory for the network");
    }
    net->act_off[0] = 0;
    for (size_t i = 0; i < pos; i++) net->act_off[i + 1] = net->act_off[i] + L[i].in_size;
    for (size_t i = 0; i < pos; i++) net->d_off[i + 1] = net->d_off[i] + (L[i].kind == L_SILU ? L[i].in_size : 0);
    for (size_t i = 0; i < pos; i++) {
        layer *l = &L[i];
        if (!l->sn) continue;
        l->w_sn = ebm_calloc(l->n_w, sizeof(float));
        l->v = calloc(l->fan_in, sizeof(double));
        l->wv = calloc(l->c_out, sizeof(double));
        if (!l->w_sn || !l->v || !l->wv) {
            ebm_net_free(net);
            return ebm_fail(EBM_ENOMEM, "out of memory for the network");
        }
        /* until ebm_net_init: u = e_0, a valid unit vector */
        net->state[l->u_off] = 1.0f;
    }
    return EBM_OK;
}

ebm_status ebm_net_new(const char *spec, size_t channels, size_t height, size_t width, ebm_net **out) {
    ebm_status s = net_parse(spec, channels, height, width, out);
    if (s) return s;
    s = net_alloc(*out);
    if (s) *out = NULL;
    return s;
}

ebm_status ebm_net_new_for_data(const char *spec, size_t cols, size_t height, size_t width, size_t k,
                                ebm_net **out) {
    bool image = height > 1 && width > 1 && height * width == cols;
    const char *cnn = "conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:";
    char def[128];
    snprintf(def, sizeof def, "%s%zu", image ? cnn : "linear:128,silu,linear:128,silu,linear:128,silu,linear:", k);
    return ebm_net_new(spec ? spec : def, image ? 1 : cols, image ? height : 1, image ? width : 1, out);
}

static void free_work(ebm_net *net) {
    ebm_free(net->acts);
    ebm_free(net->g0);
    ebm_free(net->g1);
    ebm_free(net->col);
    ebm_free(net->dcol);
    ebm_free(net->tmp);
    ebm_free(net->ones);
    ebm_free(net->dsilu);
    net->acts = net->g0 = net->g1 = net->col = net->dcol = net->tmp = net->ones = net->dsilu = NULL;
    net->cap = 0;
    net->last_n = 0;
    net->d_ok = net->skip_ok = 0;
}

static void free_mm(ebm_net *net) {
    if (net->mm)
        for (size_t i = 0; i < net->n_layers; i++) ebm_mm_free(net->mm[i]);
    free(net->mm);
    net->mm = NULL;
}

/* Drops the oneDNN convolutions (a precision change remakes them on the next use). */
static void free_cv(ebm_net *net) {
    if (net->cv)
        for (size_t i = 0; i < net->n_layers; i++) ebm_conv_free(net->cv[i]);
    free(net->cv);
    free(net->cv_tried);
    net->cv = NULL;
    net->cv_tried = NULL;
    ebm_free(net->slot_g);
    net->slot_g = NULL;
    net->slot_n = 0;
    ebm_free(net->wpart);
    net->wpart = NULL;
    net->wpart_cap = 0;
}

void ebm_net_conv_mode(ebm_net *net, int mode) {
    free_cv(net);
    net->conv_mode = mode;
}

void ebm_net_free(ebm_net *net) {
    if (!net) return;
    free_work(net);
    free_mm(net);
    free_cv(net);
    if (net->L)
        for (size_t i = 0; i < net->n_layers; i++) {
            ebm_free(net->L[i].w_sn);
            free(net->L[i].v);
            free(net->L[i].wv);
        }
    free(net->L);
    free(net->act_off);
    free(net->d_off);
    ebm_free(net->params);
    ebm_free(net->state);
    ebm_free(net->gsn);
    free(net);
}

/* A copy t of net (its parameters already in place) takes net's training flag, conv mode and precision; t is
 * freed (and *out cleared) when the precision cannot be set. */
static ebm_status copy_settings(ebm_net *t, const ebm_net *net, ebm_net **out) {
    t->training = net->training;
    t->conv_mode = net->conv_mode;
    ebm_status s = ebm_net_set_precision(t, net->precision);
    if (s) ebm_net_free(t);
    *out = s ? NULL : t;
    return s;
}

ebm_status ebm_net_clone(const ebm_net *net, ebm_net **out) {
    ebm_net *t;
    *out = NULL;
    ebm_status s = ebm_net_new(net->spec, net->C, net->H, net->W, &t);
    if (s) return s;
    memcpy(t->params, net->params, net->n_params * sizeof(float));
    memcpy(t->state, net->state, net->n_state * sizeof(float));
    return copy_settings(t, net, out);
}

ebm_status ebm_net_trim_outputs(const ebm_net *net, size_t k, ebm_net **out) {
    if (!net || !out) return ebm_fail(EBM_EINVAL, "ebm_net_trim_outputs: %s is NULL", !net ? "net" : "out");
    *out = NULL;
    const layer *l = &net->L[net->n_layers - 1];
    if (l->kind != L_LINEAR)
        return ebm_fail(EBM_EINVAL, "trimming outputs: the network ends in %s, not a linear layer", l->token);
    if (l->sn)
        return ebm_fail(EBM_ENOTSUP, "trimming outputs: the last layer (%s) has spectral normalisation, whose sigma "
                                     "would change with the rows kept", l->token);
    if (k == 0 || k > l->c_out)
        return ebm_fail(EBM_EINVAL, "trimming outputs: keep 1..%zu of the last layer's outputs, not %zu", l->c_out, k);
    char spec[SPEC_MAX];
    const char *comma = strrchr(net->spec, ',');
    int head = comma ? (int)(comma - net->spec + 1) : 0;
    if (snprintf(spec, sizeof spec, "%.*slinear:%zu", head, net->spec, k) >= (int)sizeof spec)
        return ebm_fail(EBM_EINVAL, "net spec is longer than %d characters", SPEC_MAX - 1);
    ebm_net *t;
    ebm_status s = ebm_net_new(spec, net->C, net->H, net->W, &t);
    if (s) return s;
    const layer *tl = &t->L[t->n_layers - 1];
    memcpy(t->params, net->params, l->w_off * sizeof(float)); /* every layer before the last, as it is */
    memcpy(t->params + tl->w_off, net->params + l->w_off, k * l->fan_in * sizeof(float)); /* W's first k rows */
    memcpy(t->params + tl->b_off, net->params + l->b_off, k * sizeof(float));
    memcpy(t->state, net->state, t->n_state * sizeof(float)); /* SN vectors of earlier layers; the last has none */
    return copy_settings(t, net, out);
}

float *ebm_net_params(ebm_net *net, size_t *n) {
    if (n) *n = net->n_params;
    net->w16_stale = 1; /* a writable pointer: the caller may be about to change them */
    return net->params;
}

void ebm_net_params_changed(ebm_net *net) { net->w16_stale = 1; }

ebm_status ebm_net_set_precision(ebm_net *net, ebm_precision p) {
    if (!net) return ebm_fail(EBM_EINVAL, "ebm_net_set_precision: net is NULL");
    ebm_precision r;
    ebm_status s = ebm_precision_resolve(p, &r);
    if (s) return s;
    free_mm(net);
    free_cv(net);
    net->precision = EBM_PRECISION_FP32;
    if (r == EBM_PRECISION_FP32) return EBM_OK;
    net->mm = calloc(net->n_layers, sizeof *net->mm);
    if (!net->mm) return ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t i = 0; !s && i < net->n_layers; i++)
        if (has_weights(&net->L[i])) s = ebm_mm_new(r, 0, &net->mm[i]);
    if (s) {
        free_mm(net);
        return s;
    }
    net->precision = r;
    net->w16_stale = 1;
    return EBM_OK;
}

ebm_precision ebm_net_precision(const ebm_net *net) { return net->precision; }

float *ebm_net_state(ebm_net *net, size_t *n) {
    if (n) *n = net->n_state;
    return net->n_state ? net->state : NULL;
}

size_t ebm_net_input_size(const ebm_net *net) { return net->C * net->H * net->W; }
size_t ebm_net_output_size(const ebm_net *net) { return net->L[net->n_layers - 1].out_size; }
const char *ebm_net_spec(const ebm_net *net) { return net->spec; }
void ebm_net_set_training(ebm_net *net, int on) { net->training = on != 0; }

/* ---------------------------------------------------------------------------------------------
 * Spectral normalisation
 * ------------------------------------------------------------------------------------------- */

/* One power iteration on W (rows, cols) from u (rows), in double: v = W'u / |W'u|, u <- W v / |W v|;
 * v (cols) and wu (rows) are scratch. */
static void sn_power(const float *W, size_t rows, size_t cols, float *u, double *v, double *wu) {
    double nv = 0, nu = 0;
    for (size_t j = 0; j < cols; j++) v[j] = 0;
    for (size_t i = 0; i < rows; i++) {
        const float *wr = W + i * cols;
        double ui = u[i];
#pragma omp simd
        for (size_t j = 0; j < cols; j++) v[j] += ui * wr[j];
    }
    for (size_t j = 0; j < cols; j++) nv += v[j] * v[j];
    nv = sqrt(nv) > 1e-12 ? sqrt(nv) : 1e-12;
    for (size_t j = 0; j < cols; j++) v[j] /= nv;
    for (size_t i = 0; i < rows; i++) {
        const float *wr = W + i * cols;
        double a = 0;
#pragma omp simd reduction(+ : a)
        for (size_t j = 0; j < cols; j++) a += wr[j] * v[j];
        wu[i] = a;
        nu += a * a;
    }
    nu = sqrt(nu) > 1e-12 ? sqrt(nu) : 1e-12;
    for (size_t i = 0; i < rows; i++) u[i] = (float)(wu[i] / nu);
}

/* sigma = |W'u|, v = W'u / sigma, w_sn = W / sigma for SN layer l. */
static void sn_refresh(ebm_net *net, layer *l) {
    const float *W = net->params + l->w_off, *u = net->state + l->u_off;
    size_t rows = l->c_out, cols = l->fan_in;
    double *v = l->v, nv = 0;
    for (size_t j = 0; j < cols; j++) v[j] = 0;
    for (size_t i = 0; i < rows; i++) {
        const float *wr = W + i * cols;
        double ui = u[i];
#pragma omp simd
        for (size_t j = 0; j < cols; j++) v[j] += ui * wr[j];
    }
    for (size_t j = 0; j < cols; j++) nv += v[j] * v[j];
    double sigma = sqrt(nv) > 1e-12 ? sqrt(nv) : 1e-12;
    for (size_t j = 0; j < cols; j++) v[j] /= sigma;
    l->sigma = sigma;
    float inv = (float)(1.0 / sigma);
    for (size_t i = 0; i < l->n_w; i++) l->w_sn[i] = W[i] * inv;
}

void ebm_net_sn_update(ebm_net *net, size_t iters) {
    for (size_t i = 0; i < net->n_layers; i++) {
        layer *l = &net->L[i];
        if (!l->sn) continue;
        for (size_t it = 0; it < iters; it++)
            sn_power(net->params + l->w_off, l->c_out, l->fan_in, net->state + l->u_off, l->v, l->wv);
    }
}

ebm_status ebm_net_init(ebm_net *net, ebm_rng *rng) {
    for (size_t i = 0; i < net->n_layers; i++) {
        layer *l = &net->L[i];
        if (!has_weights(l)) continue;
        double bound = 1.0 / sqrt((double)l->fan_in);
        float *w = net->params + l->w_off, *b = net->params + l->b_off;
        for (size_t j = 0; j < l->n_w; j++) w[j] = (float)(bound * (2 * ebm_rng_uniform(rng) - 1));
        for (size_t j = 0; j < l->c_out; j++) b[j] = (float)(bound * (2 * ebm_rng_uniform(rng) - 1));
        if (l->sn) {
            float *u = net->state + l->u_off;
            double nu = 0;
            for (size_t j = 0; j < l->c_out; j++) {
                u[j] = (float)ebm_rng_normal(rng);
                nu += (double)u[j] * u[j];
            }
            nu = sqrt(nu) > 1e-12 ? sqrt(nu) : 1e-12;
            for (size_t j = 0; j < l->c_out; j++) u[j] = (float)(u[j] / nu);
        }
    }
    ebm_net_sn_update(net, 10);
    net->w16_stale = 1;
    return EBM_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Work buffers
 * ------------------------------------------------------------------------------------------- */

static ebm_status ensure(ebm_net *net, size_t n) {
    if (n <= net->cap) return EBM_OK;
    size_t acts, g, dfl, tmpf = 0;
    if (!ebm_mul_ok(n, net->act_off[net->n_layers] + ebm_net_output_size(net), &acts) ||
        !ebm_mul_ok(n, net->max_size, &g) || !ebm_mul_ok(n, net->d_off[net->n_layers], &dfl))
        return ebm_fail(EBM_ENOMEM, "net: a batch of %zu rows is too large", n);
    for (size_t i = 0; i < net->n_layers; i++)
        if (net->L[i].kind == L_CONV) {
            const layer *l = &net->L[i];
            size_t t = conv_chunk(l) * l->h_out * l->w_out * l->c_out;
            if (t > tmpf) tmpf = t;
        }
    free_work(net);
    net->acts = ebm_calloc(acts, sizeof(float));
    net->g0 = ebm_calloc(g, sizeof(float));
    net->g1 = ebm_calloc(g, sizeof(float));
    net->ones = ebm_calloc(n, sizeof(float));
    net->dsilu = dfl ? ebm_calloc(dfl, sizeof(float)) : NULL;
    if (net->col_floats) {
        net->col = ebm_calloc(net->col_floats, sizeof(float));
        net->dcol = ebm_calloc(net->col_floats, sizeof(float));
        net->tmp = ebm_calloc(tmpf, sizeof(float));
    }
    if (!net->acts || !net->g0 || !net->g1 || !net->ones || (dfl && !net->dsilu) ||
        (net->col_floats && (!net->col || !net->dcol || !net->tmp))) {
        free_work(net);
        return ebm_fail(EBM_ENOMEM, "net: out of memory for a batch of %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) net->ones[i] = 1.0f;
    net->cap = n;
    return EBM_OK;
}

static float *act(const ebm_net *net, size_t i) { return net->acts + net->act_off[i] * net->cap; }
/* Layer i's SiLU derivatives kept by the last forward (see dsilu), or NULL: not a SiLU layer, or none kept. */
static float *kept_d(const ebm_net *net, size_t i) {
    return net->d_ok && net->L[i].kind == L_SILU ? net->dsilu + net->d_off[i] * net->cap : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Kernels
 * ------------------------------------------------------------------------------------------- */

/* Every product goes through the layer's matmul context mm: ebm_sgemm when it is NULL (fp32), which is
 * thread-count independent for every shape (src/core/gemm.c), oneDNN's bf16 matmul on the same blocks
 * otherwise (src/core/gemm_dnnl.c). */
#define gemm ebm_mm_gemm

/* y (n, out) = x (n, in) W' + b; W is (out, in), b (out). */
static void linear_forward(ebm_mm *mm, const float *x, const float *W, const float *b, size_t n, size_t in,
                           size_t out, float *y) {
    for (size_t r = 0; r < n; r++) memcpy(y + r * out, b, out * sizeof(float));
    gemm(mm, 0, 1, n, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
}

/* g is (n, out) = dL/dy; x (n, in); W (out, in).  dx (n, in) <- g W when dx != NULL; gW (out, in) += g' x
 * and gb (out) += column sums of g when gW != NULL. */
static void linear_backward(ebm_mm *mm, const float *g, const float *x, const float *W, size_t n, size_t in,
                            size_t out, float *dx, float *gW, float *gb) {
    if (dx) gemm(mm, 0, 0, n, in, out, 1.0f, g, out, W, in, 0.0f, dx, in);
    if (gW) {
        gemm(mm, 1, 0, out, in, n, 1.0f, g, out, x, in, 1.0f, gW, in);
        for (size_t r = 0; r < n; r++) {
            const float *gr = g + r * out;
#pragma omp simd
            for (size_t j = 0; j < out; j++) gb[j] += gr[j];
        }
    }
}

/* The output columns ox in [lo, hi) whose input column ox * S + kx - P lies inside 0..W-1. */
static void valid_cols(const layer *l, size_t kx, size_t *lo, size_t *hi) {
    const size_t S = l->stride, P = l->pad, W = l->w_in, Wo = l->w_out;
    size_t a = kx >= P ? 0 : (P - kx + S - 1) / S;
    size_t b = W + P > kx ? (W + P - kx - 1) / S + 1 : 0; /* first ox with ox * S + kx - P >= W */
    *lo = a < Wo ? a : Wo;
    *hi = b < Wo ? b : Wo;
    if (*hi < *lo) *hi = *lo;
}

/* One output row of im2col: d[ox] = src[ox * S] for ox in [lo, hi), 0 for the other ox < Wo; all 0 when src
 * is NULL.  The same in bfloat16 (ebm_k_to_bf16's rounding) into d16 too when it is not NULL. */
static void col_row(const float *src, size_t S, size_t lo, size_t hi, size_t Wo, float *d, uint16_t *d16) {
    if (!src) lo = hi = Wo;
    for (size_t ox = 0; ox < lo; ox++) d[ox] = 0.0f;
    if (S == 1 && hi > lo) memcpy(d + lo, src + lo, (hi - lo) * sizeof(float)); /* src may be NULL when empty */
    else
        for (size_t ox = lo; ox < hi; ox++) d[ox] = src[ox * S];
    for (size_t ox = hi; ox < Wo; ox++) d[ox] = 0.0f;
    if (d16) {
        memset(d16, 0, lo * sizeof *d16);
        ebm_k_to_bf16_row(d + lo, hi - lo, d16 + lo);
        memset(d16 + hi, 0, (Wo - hi) * sizeof *d16);
    }
}

/* col (C * K * K, s * Ho * Wo): row (c, ky, kx), in the weight's column order, holds for every output
 * position (sample, oy, ox) the input value under that kernel tap, 0 over the padding; x is (s, C, H, W).
 * Rows are runs of shifted input rows, so the copy is contiguous at stride 1.  With col16 != NULL the same
 * goes there in bfloat16 too, while the row is in cache: the bf16 product's operand without a pass of its own
 * (col stays for a product that falls back to fp32). */
static void im2col(const layer *l, const float *x, size_t s, float *col, uint16_t *col16) {
    const size_t C = l->c_in, H = l->h_in, W = l->w_in, K = l->k, S = l->stride, P = l->pad;
    const size_t Ho = l->h_out, Wo = l->w_out, HW = Ho * Wo, Q = l->fan_in, len = s * HW;
#pragma omp parallel for collapse(2) schedule(static) if (len * Q >= PAR_MIN)
    for (size_t q = 0; q < Q; q++)
        for (size_t smp = 0; smp < s; smp++) {
            const size_t c = q / (K * K), ky = q / K % K, kx = q % K;
            size_t lo, hi;
            valid_cols(l, kx, &lo, &hi);
            const size_t at = q * len + smp * HW;
            const float *xs = x + (smp * C + c) * H * W;
            for (size_t oy = 0; oy < Ho; oy++) {
                ptrdiff_t iy = (ptrdiff_t)(oy * S + ky) - (ptrdiff_t)P;
                /* src[ox * S] is column ox's input */
                const float *src = iy < 0 || iy >= (ptrdiff_t)H ? NULL : xs + (size_t)iy * W + kx - P;
                col_row(src, S, lo, hi, Wo, col + at + oy * Wo, col16 ? col16 + at + oy * Wo : NULL);
            }
        }
}

/* The adjoint of im2col: dx (s, C, H, W) += dcol (C * K * K, s * Ho * Wo) gathered back onto the input.
 * One thread per (sample, channel) plane, taps and positions in a fixed order, so sums do not depend on
 * the thread count. */
static void col2im(const layer *l, const float *dcol, size_t s, float *dx) {
    const size_t C = l->c_in, H = l->h_in, W = l->w_in, K = l->k, S = l->stride, P = l->pad;
    const size_t Ho = l->h_out, Wo = l->w_out, HW = Ho * Wo, len = s * HW;
#pragma omp parallel for collapse(2) schedule(static) if (len * l->fan_in >= PAR_MIN)
    for (size_t smp = 0; smp < s; smp++)
        for (size_t c = 0; c < C; c++) {
            float *xs = dx + (smp * C + c) * H * W;
            for (size_t ky = 0; ky < K; ky++)
                for (size_t kx = 0; kx < K; kx++) {
                    size_t lo, hi;
                    valid_cols(l, kx, &lo, &hi);
                    const float *src = dcol + ((c * K + ky) * K + kx) * len + smp * HW;
                    for (size_t oy = 0; oy < Ho; oy++) {
                        ptrdiff_t iy = (ptrdiff_t)(oy * S + ky) - (ptrdiff_t)P;
                        if (iy < 0 || iy >= (ptrdiff_t)H) continue;
                        float *d = xs + (size_t)iy * W + kx - P; /* d[ox * S] is column ox's input */
                        const float *r = src + oy * Wo;
                        if (S == 1) {
#pragma omp simd
                            for (size_t ox = lo; ox < hi; ox++) d[ox] += r[ox];
                        } else {
                            for (size_t ox = lo; ox < hi; ox++) d[ox * S] += r[ox];
                        }
                    }
                }
        }
}

/* Samples per im2col chunk of conv layer l (depends on the shapes only): as many as COL_MAX_FLOATS hold,
 * in whole groups of EBM_CHAIN_BLOCK samples, or fewer, a divisor of EBM_CHAIN_BLOCK, so that chunks start
 * at multiples of EBM_CHAIN_BLOCK samples wherever a slice of chains starts (see conv_gemm). */
static size_t conv_chunk(const layer *l) {
    size_t per = l->h_out * l->w_out * l->fan_in, c = COL_MAX_FLOATS / per;
    if (c >= EBM_CHAIN_BLOCK) return c / EBM_CHAIN_BLOCK * EBM_CHAIN_BLOCK;
    while (c > 1 && EBM_CHAIN_BLOCK % c) c--;
    return c ? c : 1;
}

/* C (m, s * HW) = op(A) B for a chunk of s samples whose HW columns each lie side by side in B and C
 * (leading dimension s * HW): in fp32 one product per group of EBM_CHAIN_BLOCK samples, so that a sample's
 * columns are blocked by its place in its group, never by the chunk's size, and a slice of chains
 * (ebm_chain_range, ebm.h "Slices") gets one process's bits; bf16 (mm != NULL) in one product, whose
 * operand buffers hold the whole chunk. */
static void conv_gemm(ebm_mm *mm, int ta, size_t m, size_t k, const float *A, size_t lda, const float *B, float *C,
                      size_t s, size_t HW) {
    size_t len = s * HW, group = mm ? s : EBM_CHAIN_BLOCK;
    for (size_t g0 = 0; g0 < s; g0 += group) {
        size_t gs = s - g0 < group ? s - g0 : group;
        gemm(mm, ta, 0, m, gs * HW, k, 1.0f, A, lda, B + g0 * HW, len, 0.0f, C + g0 * HW, len);
    }
}

/* y (n, O, Ho, Wo) = conv(x (n, C, H, W), W (O, C*K*K)) + b (O); col and tmp (O, chunk * Ho * Wo) are
 * scratch. */
static void conv_forward(ebm_mm *mm, const layer *l, const float *x, const float *Wt, const float *b, size_t n,
                         float *col, float *tmp, float *y) {
    const size_t O = l->c_out, Q = l->fan_in, HW = l->h_out * l->w_out, chunk = conv_chunk(l);
    for (size_t s0 = 0; s0 < n; s0 += chunk) {
        size_t s = n - s0 < chunk ? n - s0 : chunk, len = s * HW;
        /* bf16: col goes straight into the product's bf16 operand (ebm_mm_weights_buffer; NULL in fp32) */
        im2col(l, x + s0 * l->in_size, s, col, ebm_mm_weights_buffer(mm, col, Q, len));
        /* tmp (O, s * HW) = W col */
        conv_gemm(mm, 0, O, Q, Wt, Q, col, tmp, s, HW);
        float *ys = y + s0 * l->out_size;
#pragma omp parallel for schedule(static) if (len * O >= PAR_MIN)
        for (size_t so = 0; so < s * O; so++) {
            size_t smp = so / O, o = so % O;
            float *dst = ys + so * HW;
            const float *src = tmp + o * len + smp * HW;
            const float bo = b[o];
#pragma omp simd
            for (size_t p = 0; p < HW; p++) dst[p] = src[p] + bo;
        }
    }
}

/* g (n, O, Ho, Wo) = dL/dy; x (n, C, H, W).  dx (n, C, H, W) <- dL/dx when dx != NULL; gW (O, C*K*K) += dL/dW
 * and gb (O) += dL/db when gW != NULL.  col, dcol (C*K*K, chunk * Ho * Wo) and tmp (O, chunk * Ho * Wo)
 * are scratch. */
static void conv_backward(ebm_mm *mm, const layer *l, const float *g, const float *x, const float *Wt, size_t n,
                          float *col, float *dcol, float *tmp, float *dx, float *gW, float *gb) {
    const size_t O = l->c_out, Q = l->fan_in, HW = l->h_out * l->w_out, chunk = conv_chunk(l);
    if (dx) memset(dx, 0, n * l->in_size * sizeof(float));
    for (size_t s0 = 0; s0 < n; s0 += chunk) {
        size_t s = n - s0 < chunk ? n - s0 : chunk, len = s * HW;
        const float *gs = g + s0 * l->out_size;
        /* tmp (O, s * HW) <- g with the channel outermost */
#pragma omp parallel for schedule(static) if (len * O >= PAR_MIN)
        for (size_t so = 0; so < s * O; so++) {
            size_t smp = so / O, o = so % O;
            memcpy(tmp + o * len + smp * HW, gs + so * HW, HW * sizeof(float));
        }
        if (gW) {
            im2col(l, x + s0 * l->in_size, s, col, ebm_mm_weights_buffer(mm, col, Q, len));
            gemm(mm, 0, 1, O, Q, len, 1.0f, tmp, len, col, len, 1.0f, gW, Q);
            for (size_t o = 0; o < O; o++) {
                const float *tr = tmp + o * len;
                double acc = 0;
#pragma omp simd reduction(+ : acc)
                for (size_t p = 0; p < len; p++) acc += tr[p];
                gb[o] += (float)acc;
            }
        }
        if (dx) {
            conv_gemm(mm, 1, Q, O, Wt, Q, tmp, dcol, s, HW);
            col2im(l, dcol, s, dx + s0 * l->in_size);
        }
    }
}

#if defined(__AVX512F__)
/* The masks of a plane row W <= 32 wide: its first 16 columns (lo), the rest (hi), and Wo outputs. */
static inline void pool2_masks(size_t W, size_t Wo, __mmask16 *lo, __mmask16 *hi, __mmask16 *out) {
    *lo = W >= 16 ? 0xFFFF : (__mmask16)((1u << W) - 1);
    *hi = W >= 32 ? 0xFFFF : W > 16 ? (__mmask16)((1u << (W - 16)) - 1) : 0;
    *out = Wo >= 16 ? 0xFFFF : (__mmask16)((1u << Wo) - 1);
}

/* 2 x 2 windows of a plane at most 32 wide, one output row per step: the two input rows in (at most) two
 * masked loads each, their column pairs summed through even/odd permutes; the same sums in the same order
 * as the scalar loop below ((x00 + x01) + (x10 + x11), times 1/4). */
static void pool2_forward_plane(const float *xs, size_t W, size_t Ho, size_t Wo, float scale, float *ys) {
    __mmask16 mlo, mhi, mo;
    pool2_masks(W, Wo, &mlo, &mhi, &mo);
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512 sv = _mm512_set1_ps(scale);
    for (size_t oy = 0; oy < Ho; oy++) {
        const float *r0 = xs + 2 * oy * W, *r1 = r0 + W;
        __m512 a0 = _mm512_maskz_loadu_ps(mlo, r0), a1 = _mm512_maskz_loadu_ps(mhi, r0 + 16);
        __m512 b0 = _mm512_maskz_loadu_ps(mlo, r1), b1 = _mm512_maskz_loadu_ps(mhi, r1 + 16);
        __m512 h0 = _mm512_add_ps(_mm512_permutex2var_ps(a0, ev, a1), _mm512_permutex2var_ps(a0, od, a1));
        __m512 h1 = _mm512_add_ps(_mm512_permutex2var_ps(b0, ev, b1), _mm512_permutex2var_ps(b0, od, b1));
        _mm512_mask_storeu_ps(ys + oy * Wo, mo, _mm512_mul_ps(_mm512_add_ps(h0, h1), sv));
    }
}

/* The adjoint: each gradient spread over its 2 x 2 window, 0 in a last odd column. */
static void pool2_backward_plane(const float *gs, size_t W, size_t Ho, size_t Wo, float scale, float *xs) {
    __mmask16 mlo, mhi, mo;
    pool2_masks(W, Wo, &mlo, &mhi, &mo);
    const __m512i lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i hi = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
    const __m512 sv = _mm512_set1_ps(scale);
    for (size_t oy = 0; oy < Ho; oy++) {
        __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(mo, gs + oy * Wo), sv);
        __m512 v0 = _mm512_permutexvar_ps(lo, g), v1 = _mm512_permutexvar_ps(hi, g);
        float *r0 = xs + 2 * oy * W, *r1 = r0 + W;
        _mm512_mask_storeu_ps(r0, mlo, v0);
        _mm512_mask_storeu_ps(r0 + 16, mhi, v1);
        _mm512_mask_storeu_ps(r1, mlo, v0);
        _mm512_mask_storeu_ps(r1 + 16, mhi, v1);
    }
}
#endif

/* One (sample, channel) plane of a pooling layer's forward: ys (H/K, W/K) = K x K window means of xs (H, W). */
static inline void pool_forward_plane(const layer *l, const float *xs, float *ys) {
    const size_t W = l->w_in, K = l->k, Ho = l->h_out, Wo = l->w_out;
    const float scale = 1.0f / (float)(K * K);
#if defined(__AVX512F__)
    if (K == 2 && W <= 32) {
        pool2_forward_plane(xs, W, Ho, Wo, scale, ys);
        return;
    }
#endif
    for (size_t oy = 0; oy < Ho; oy++) {
        float *yr = ys + oy * Wo;
        for (size_t ox = 0; ox < Wo; ox++) yr[ox] = 0.0f;
        for (size_t ky = 0; ky < K; ky++) {
            const float *xr = xs + (oy * K + ky) * W;
            if (K == 2) { /* the common case, without the stride-K inner loop */
#pragma omp simd
                for (size_t ox = 0; ox < Wo; ox++) yr[ox] += xr[2 * ox] + xr[2 * ox + 1];
                continue;
            }
            for (size_t kx = 0; kx < K; kx++)
#pragma omp simd
                for (size_t ox = 0; ox < Wo; ox++) yr[ox] += xr[ox * K + kx];
        }
#pragma omp simd
        for (size_t ox = 0; ox < Wo; ox++) yr[ox] *= scale;
    }
}

/* Its adjoint: xs (H, W) <- gs (H/K, W/K) / K^2 spread over each window (0 outside every window). */
static inline void pool_backward_plane(const layer *l, const float *gs, float *xs) {
    const size_t H = l->h_in, W = l->w_in, K = l->k, Ho = l->h_out, Wo = l->w_out;
    const float scale = 1.0f / (float)(K * K);
#if defined(__AVX512F__)
    if (K == 2 && W <= 32) {
        pool2_backward_plane(gs, W, Ho, Wo, scale, xs);
        if (Ho * K < H) memset(xs + Ho * K * W, 0, (H - Ho * K) * W * sizeof(float));
        return;
    }
#endif
    for (size_t oy = 0; oy < Ho; oy++) {
        const float *gr = gs + oy * Wo;
        for (size_t ky = 0; ky < K; ky++) {
            float *xr = xs + (oy * K + ky) * W;
            if (K == 2) {
#pragma omp simd
                for (size_t ox = 0; ox < Wo; ox++) xr[2 * ox] = xr[2 * ox + 1] = gr[ox] * scale;
            } else {
                for (size_t kx = 0; kx < K; kx++)
#pragma omp simd
                    for (size_t ox = 0; ox < Wo; ox++) xr[ox * K + kx] = gr[ox] * scale;
            }
            for (size_t ix = Wo * K; ix < W; ix++) xr[ix] = 0.0f;
        }
    }
    if (Ho * K < H) memset(xs + Ho * K * W, 0, (H - Ho * K) * W * sizeof(float));
}

/* y (n, C, H/K, W/K) = K x K window means of x (n, C, H, W). */
static void pool_forward(const layer *l, const float *x, size_t n, float *y) {
#pragma omp parallel for schedule(static) if (n * l->in_size >= PAR_MIN)
    for (size_t sc = 0; sc < n * l->c_in; sc++)
        pool_forward_plane(l, x + sc * l->h_in * l->w_in, y + sc * l->h_out * l->w_out);
}

/* dx (n, C, H, W) <- g (n, C, H/K, W/K) / K^2 spread over each window (0 outside every window). */
static void pool_backward(const layer *l, const float *g, size_t n, float *dx) {
#pragma omp parallel for schedule(static) if (n * l->in_size >= PAR_MIN)
    for (size_t sc = 0; sc < n * l->c_in; sc++)
        pool_backward_plane(l, g + sc * l->h_out * l->w_out, dx + sc * l->h_in * l->w_in);
}

/* SiLU's derivative at x given s = s(x); the forward that keeps it and the backward that recomputes it both call
 * this, so the two give the same bits. */
static inline float silu_deriv(float x, float s) { return s * (1.0f + x * (1.0f - s)); }

/* One row of an element-wise layer: yr (m) = f(xr (m)), m = the layer's size per sample; for SiLU with dr not
 * NULL also dr (m) = f'(xr), for the backward (act_backward_row gives the same bits from xr alone). */
static inline void act_forward_row(const layer *l, const float *xr, float *yr, float *dr) {
    const size_t m = l->in_size;
    const float a = l->alpha;
    switch (l->kind) {
    case L_SILU:
        if (dr) {
#pragma omp simd
            for (size_t j = 0; j < m; j++) {
                float e = expf(-xr[j]), s = 1.0f / (1.0f + e);
                yr[j] = xr[j] / (1.0f + e);
                dr[j] = silu_deriv(xr[j], s);
            }
        } else {
#pragma omp simd
            for (size_t j = 0; j < m; j++) yr[j] = xr[j] / (1.0f + expf(-xr[j]));
        }
        break;
    case L_LEAKY:
#pragma omp simd
        for (size_t j = 0; j < m; j++) yr[j] = xr[j] > 0 ? xr[j] : a * xr[j];
        break;
    case L_ELU:
#pragma omp simd
        for (size_t j = 0; j < m; j++) yr[j] = xr[j] > 0 ? xr[j] : a * (expf(xr[j] < 0 ? xr[j] : 0.0f) - 1.0f);
        break;
    case L_SOFTPLUS:
#pragma omp simd
        for (size_t j = 0; j < m; j++) yr[j] = (xr[j] > 0 ? xr[j] : 0.0f) + log1pf(expf(xr[j] > 0 ? -xr[j] : xr[j]));
        break;
    case L_TANH:
        for (size_t j = 0; j < m; j++) yr[j] = tanhf(xr[j]);
        break;
    default:
        break;
    }
}

/* Its adjoint: dr (m) <- gr (m) * f'(xr), with xr the layer's input row and yr its output row; for SiLU, f'
 * from fr (the forward's, see act_forward_row) when it is not NULL. */
static inline void act_backward_row(const layer *l, const float *xr, const float *yr, const float *fr, const float *gr,
                                    float *dr) {
    const size_t m = l->in_size;
    const float a = l->alpha;
    switch (l->kind) {
    case L_SILU:
        if (fr) {
#pragma omp simd
            for (size_t j = 0; j < m; j++) dr[j] = gr[j] * fr[j];
        } else {
#pragma omp simd
            for (size_t j = 0; j < m; j++) {
                float s = 1.0f / (1.0f + expf(-xr[j]));
                dr[j] = gr[j] * silu_deriv(xr[j], s);
            }
        }
        break;
    case L_LEAKY:
#pragma omp simd
        for (size_t j = 0; j < m; j++) dr[j] = xr[j] > 0 ? gr[j] : a * gr[j];
        break;
    case L_ELU:
#pragma omp simd
        for (size_t j = 0; j < m; j++) dr[j] = xr[j] > 0 ? gr[j] : gr[j] * (yr[j] + a);
        break;
    case L_SOFTPLUS:
#pragma omp simd
        for (size_t j = 0; j < m; j++) dr[j] = gr[j] / (1.0f + expf(-xr[j]));
        break;
    case L_TANH:
#pragma omp simd
        for (size_t j = 0; j < m; j++) dr[j] = gr[j] * (1.0f - yr[j] * yr[j]);
        break;
    default:
        break;
    }
}

/* y (n, m) = f(x (n, m)) for an element-wise layer, m = the layer's size per sample (and f' into fd when not
 * NULL, SiLU). */
static void act_forward(const layer *l, const float *x, size_t n, float *y, float *fd) {
    const size_t m = l->in_size;
#pragma omp parallel for schedule(static) if (n * m >= PAR_MIN)
    for (size_t r = 0; r < n; r++) act_forward_row(l, x + r * m, y + r * m, fd ? fd + r * m : NULL);
}

/* dx (n, m) <- g (n, m) * f'(x), with x the layer's input and y its output (both (n, m)); f' from fd when not
 * NULL (SiLU). */
static void act_backward(const layer *l, const float *x, const float *y, const float *fd, const float *g, size_t n,
                         float *dx) {
    const size_t m = l->in_size;
#pragma omp parallel for schedule(static) if (n * m >= PAR_MIN)
    for (size_t r = 0; r < n; r++)
        act_backward_row(l, x + r * m, y + r * m, fd ? fd + r * m : NULL, g + r * m, dx + r * m);
}

/* ---------------------------------------------------------------------------------------------
 * Forward and backward through the stack
 * ------------------------------------------------------------------------------------------- */

static const float *weights(const ebm_net *net, const layer *l) {
    return l->sn ? l->w_sn : net->params + l->w_off;
}

static ebm_mm *layer_mm(const ebm_net *net, size_t i) { return net->mm ? net->mm[i] : NULL; }

/* Conv layer i's oneDNN convolution at the net's precision, made on first use; NULL: im2col. */
static ebm_conv *layer_conv(ebm_net *net, size_t i) {
    if (net->conv_mode == EBM_NET_CONV_IM2COL) return NULL;
    if (!net->cv) {
        net->cv = calloc(net->n_layers, sizeof *net->cv);
        net->cv_tried = calloc(net->n_layers, 1);
        if (!net->cv || !net->cv_tried) {
            free_cv(net);
            return NULL;
        }
    }
    if (!net->cv_tried[i]) {
        const layer *l = &net->L[i];
        net->cv_tried[i] = 1;
        net->cv[i] = ebm_conv_new(net->precision == EBM_PRECISION_BF16, l->c_in, l->h_in, l->w_in, l->c_out, l->k,
                                  l->stride, l->pad, l->h_out, l->w_out);
    }
    return net->cv[i];
}

/* bf16: the copies of the linear layers' weights the products read instead of converting them each time
 * (ebm_mm_set_weights); an SN layer's W / sigma changes every forward, a plain one only with the parameters.
 * A conv layer's weight is the small operand of its products, converted with them. */
static ebm_status refresh_w16(ebm_net *net) {
    if (!net->mm) return EBM_OK;
    for (size_t i = 0; i < net->n_layers; i++) {
        const layer *l = &net->L[i];
        if (l->kind != L_LINEAR || (!l->sn && !net->w16_stale)) continue;
        ebm_status s = ebm_mm_set_weights(net->mm[i], weights(net, l), l->c_out, l->fan_in);
        if (s) return s;
    }
    net->w16_stale = 0;
    return EBM_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The convolutional front, one sample at a time
 *
 * The layers before the first linear one (conv, pool, element-wise, flatten) act on each sample alone.
 * Where every conv layer among them has a oneDNN convolution, the forward pass and the backward run them
 * sample by sample, each sample through all of them on one thread while its activations are in that core's
 * cache, instead of layer by layer over the whole batch, which streams every activation through memory once
 * per layer.  Each layer computes exactly what it computes layer by layer (the convolutions are per-sample
 * products either way, the rest element-wise), so outputs and dL/dx have the same bits; parameter gradients
 * are oneDNN's per sample, summed in sample order (backward_front).  A failed convolution falls back to the
 * layer-by-layer pass.
 * ------------------------------------------------------------------------------------------- */

/* The number of leading layers that run per sample (0: the front is not eligible). */
static size_t sample_front(ebm_net *net) {
    if (net->conv_mode != EBM_NET_CONV_FRONT) return 0;
    size_t p = 0, convs = 0;
    for (; p < net->n_layers; p++) {
        const layer *l = &net->L[p];
        if (l->kind == L_LINEAR) break;
        if (l->kind == L_CONV) {
            if (!layer_conv(net, p)) return 0;
            convs++;
        }
    }
    return convs ? p : 0;
}

static int threads_for(size_t n) {
    int nt = omp_get_max_threads();
    if (nt < 1) nt = 1;
    return (size_t)nt > n ? (int)n : nt;
}

/* The per-thread rows of net->slot_g for nt threads: 1 when there. */
static int slots_ready(ebm_net *net, int nt) {
    if (net->slot_n >= (size_t)nt) return 1;
    ebm_free(net->slot_g);
    net->slot_n = 0;
    if (!(net->slot_g = ebm_calloc((size_t)nt * 2 * net->max_size, sizeof(float)))) return 0;
    net->slot_n = (size_t)nt;
    return 1;
}

/* Whether the front's forward leaves layer j's output out of the activations: a SiLU layer followed by a
 * pooling one, in a forward for a backward (d_ok) that gave no caller access to the activations (skip_ok).  Its
 * output goes to the thread's scratch row, which the pooling reads, and its derivatives (which the backward
 * reads instead of exp) to dsilu: one row written instead of the output, where the pooling's backward needs
 * no input and SiLU's only its own input. */
static int skips_output(const ebm_net *net, size_t j) {
    return net->skip_ok && net->L[j].kind == L_SILU && j + 1 < net->n_layers && net->L[j + 1].kind == L_POOL;
}

/* Layers [0, front) forward on the n rows at act(net, 0); 1 when done, 0 when the caller must redo them. */
static int forward_front(ebm_net *net, size_t front, size_t n) {
    int nt = threads_for(n), failed = 0;
    if (!slots_ready(net, nt)) return 0;
    for (size_t j = 0; j < front; j++)
        if (net->L[j].kind == L_CONV &&
            ebm_conv_prepare(net->cv[j], weights(net, &net->L[j]), 1, (size_t)nt) != EBM_OK)
            return 0;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        omp_set_num_threads(1); /* this thread's own setting: the layers' loops and oneDNN run on it alone */
        size_t slot = (size_t)omp_get_thread_num();
        float *scratch = net->slot_g + slot * 2 * net->max_size;
        int bad = 0;
#pragma omp for schedule(dynamic, 1)
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < front && !bad; j++) {
                const layer *l = &net->L[j];
                const float *in = j && skips_output(net, j - 1) ? scratch : act(net, j) + r * l->in_size;
                float *out = skips_output(net, j) ? scratch : act(net, j + 1) + r * l->out_size;
                switch (l->kind) {
                case L_CONV:
                    bad = !ebm_conv_forward_one(net->cv[j], slot, in, net->params + l->b_off, out);
                    break;
                case L_POOL: /* called per plane: no parallel region inside this one */
                    for (size_t c = 0; c < l->c_in; c++)
                        pool_forward_plane(l, in + c * l->h_in * l->w_in, out + c * l->h_out * l->w_out);
                    break;
                case L_FLATTEN:
                    memcpy(out, in, l->in_size * sizeof(float));
                    break;
                default: {
                    float *fd = kept_d(net, j);
                    act_forward_row(l, in, out, fd ? fd + r * l->in_size : NULL);
                    break;
                }
                }
            }
        failed |= bad;
    }
    return !failed;
}

/* Whether the front's parameter gradients can be taken sample by sample: every conv layer in it has
 * oneDNN's weight gradient and none is spectrally normalised (its gradient goes through sn_backward). */
static int front_grads_ok(ebm_net *net, size_t front) {
    for (size_t j = 0; j < front; j++) {
        const layer *l = &net->L[j];
        if (l->kind == L_CONV && (l->sn || !ebm_conv_has_weight_gradient(net->cv[j]))) return 0;
    }
    return 1;
}

/* The front's backward [0, front) given g = dL/d(output of layer front - 1) (n rows): dx (n, in) when dx is
 * not NULL, and, when grad is not NULL, the conv layers' weight and bias gradients added into grad: each
 * sample's into its own row of net->wpart, then summed over the samples in their order (so the sums do
 * not depend on which thread took which sample).  The front's only parameters are its conv layers', which
 * lie together in the flat array (layer order, weight then bias), so a row is params [base, base + per).
 * 1 when done (grad untouched otherwise). */
static int backward_front(ebm_net *net, size_t front, const float *g, size_t n, float *dx, float *grad) {
    int nt = threads_for(n), failed = 0;
    size_t base = 0, per = 0;
    for (size_t j = 0; grad && j < front; j++)
        if (net->L[j].kind == L_CONV) {
            if (!per) base = net->L[j].w_off;
            per = net->L[j].b_off + net->L[j].c_out - base;
        }
    /* at most WPART_MAX_FLOATS (64 MiB) of per-sample gradients; beyond, layer by layer */
    if (per && (n > WPART_MAX_FLOATS / per)) return 0;
    if (per && net->wpart_cap < n * per) {
        ebm_free(net->wpart);
        net->wpart_cap = 0;
        if (!(net->wpart = ebm_calloc(n * per, sizeof(float)))) return 0;
        net->wpart_cap = n * per;
    }
    if (!slots_ready(net, nt)) return 0;
    for (size_t j = 0; j < front; j++)
        if (net->L[j].kind == L_CONV &&
            ebm_conv_prepare(net->cv[j], weights(net, &net->L[j]), 0, (size_t)nt) != EBM_OK)
            return 0;
    const size_t gsize = net->L[front - 1].out_size;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        omp_set_num_threads(1);
        size_t slot = (size_t)omp_get_thread_num();
        float *bufs[2] = {net->slot_g + slot * 2 * net->max_size, net->slot_g + (slot * 2 + 1) * net->max_size};
        int bad = 0;
#pragma omp for schedule(dynamic, 1)
        for (size_t r = 0; r < n; r++) {
            const float *gi = g + r * gsize;
            int which = 0;
            for (size_t jj = front; jj-- > 0 && !bad;) {
                const layer *l = &net->L[jj];
                const float *in = act(net, jj) + r * l->in_size, *out = act(net, jj + 1) + r * l->out_size;
                if (grad && l->kind == L_CONV) {
                    float *row = net->wpart + r * per;
                    bad = !ebm_conv_weight_gradient_one(net->cv[jj], slot, in, gi, row + (l->w_off - base),
                                                        row + (l->b_off - base));
                    if (bad) break;
                }
                if (jj == 0 && !dx) break;
                float *d = jj == 0 ? dx + r * l->in_size : bufs[which];
                switch (l->kind) {
                case L_CONV:
                    bad = !ebm_conv_backward_data_one(net->cv[jj], slot, gi, d);
                    break;
                case L_POOL:
                    for (size_t c = 0; c < l->c_in; c++)
                        pool_backward_plane(l, gi + c * l->h_out * l->w_out, d + c * l->h_in * l->w_in);
                    break;
                case L_FLATTEN:
                    memcpy(d, gi, l->in_size * sizeof(float));
                    break;
                default: {
                    const float *fd = kept_d(net, jj);
                    act_backward_row(l, in, out, fd ? fd + r * l->in_size : NULL, gi, d);
                    break;
                }
                }
                gi = d;
                which ^= 1;
            }
        }
        failed |= bad;
    }
    if (failed) return 0;
    /* the weight gradients: sample 0 + sample 1 + ... in that order for every element, blocks of elements
     * in parallel */
    if (per) {
        const size_t B = 1024, nb = (per + B - 1) / B;
#pragma omp parallel for schedule(static) if (n * per >= PAR_MIN)
        for (size_t b = 0; b < nb; b++) {
            double acc[1024];
            size_t k0 = b * B, k1 = k0 + B < per ? k0 + B : per;
            for (size_t k = k0; k < k1; k++) acc[k - k0] = 0;
            for (size_t r = 0; r < n; r++) {
                const float *pr = net->wpart + r * per;
#pragma omp simd
                for (size_t k = k0; k < k1; k++) acc[k - k0] += pr[k];
            }
            for (size_t k = k0; k < k1; k++) grad[base + k] += (float)acc[k - k0];
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * The dense tail, by blocks of batch rows
 *
 * The layers after the last conv or pool one (linear, element-wise, flatten) act on each row alone.  In bf16
 * a forward pass and a backward run them block by block instead of layer by layer: the batch is cut into blocks of rows whose size depends on the batch size alone
 * (tail_rows), each thread takes a run of whole blocks through every layer of the tail, and each block's
 * product is one oneDNN primitive that the thread runs alone (ebm_mm_gemm_one).  Layer by layer, every
 * product is split into column blocks and every element-wise layer is a pass of its own, each a parallel
 * region ending in a barrier: the MLP 784-512-512-1's step waited there for 28-34% of its time
 * (docs/benchmarks.md).  A block's bits depend only on its rows, so results do not depend on the thread
 * count; they are not those of the layer-by-layer path, whose products cut the sums differently.
 * ------------------------------------------------------------------------------------------- */

/* Where the tail starts: after the last conv or pool layer, and not before the per-sample front. */
static size_t tail_start(const ebm_net *net, size_t front) {
    size_t t = 0;
    for (size_t i = 0; i < net->n_layers; i++)
        if (net->L[i].kind == L_CONV || net->L[i].kind == L_POOL) t = i + 1;
    return t > front ? t : front;
}

/* Rows per block of the tail from layer t on for a batch of n (0: layer by layer).  Blocks of 64 rows (a
 * single-threaded bf16 product of 64 rows runs at 95% of 128 rows' rate here, of 32 rows at 82%), or two
 * blocks below 128 rows; below 32 rows, or in fp32, layer by layer. */
static size_t tail_rows(const ebm_net *net, size_t t, size_t n) {
    if (!net->mm || n < 32 || t >= net->n_layers) return 0;
    return n >= 128 ? 64 : ((n + 1) / 2 + 7) / 8 * 8;
}

/* Rows [*r0, *r1) of thread t of nth over nb blocks of R rows (a run of whole blocks). */
static void thread_rows(size_t t, size_t nth, size_t nb, size_t R, size_t n, size_t *r0, size_t *r1) {
    size_t a = t * nb / nth * R, b = (t + 1) * nb / nth * R;
    *r0 = a < n ? a : n;
    *r1 = b < n ? b : n;
}

static int tail_slots(ebm_net *net, size_t t0, int nt) {
    for (size_t i = t0; i < net->n_layers; i++)
        if (net->L[i].kind == L_LINEAR && ebm_mm_slots(layer_mm(net, i), (size_t)nt) != EBM_OK) return 0;
    return 1;
}

/* Thread t of nth: its rows of layers [t0, n_layers) forward, R rows a block (forward_tail's body).  x: when not
 * NULL (t0 is 0), the input, whose rows the thread copies to act(net, 0) itself.  Its rows are [*r0, *r1). */
static void forward_tail_rows(ebm_net *net, size_t t0, const float *x, size_t n, size_t R, size_t t, size_t nth,
                              size_t *r0p, size_t *r1p) {
    const size_t nb = (n + R - 1) / R;
    size_t r0, r1;
    thread_rows(t, nth, nb, R, n, &r0, &r1);
    *r0p = r0;
    *r1p = r1;
    if (x) memcpy(act(net, 0) + r0 * net->L[0].in_size, x + r0 * net->L[0].in_size,
                  (r1 - r0) * net->L[0].in_size * sizeof(float));
    for (size_t i = t0; i < net->n_layers; i++) {
        const layer *l = &net->L[i];
        const size_t in = l->in_size, out = l->out_size;
        float *fd = kept_d(net, i);
        for (size_t a = r0; a < r1; a += R) {
            const size_t m = r1 - a < R ? r1 - a : R;
            const float *xa = act(net, i) + a * in;
            float *y = act(net, i + 1) + a * out;
            switch (l->kind) {
            case L_LINEAR:
                ebm_mm_gemm_one(layer_mm(net, i), t, 0, 1, m, out, in, xa, in, weights(net, l), in,
                                net->params + l->b_off, 0.0f, y, out);
                break;
            case L_FLATTEN:
                memcpy(y, xa, m * in * sizeof(float));
                break;
            default:
                for (size_t r = 0; r < m; r++)
                    act_forward_row(l, xa + r * in, y + r * in, fd ? fd + (a + r) * in : NULL);
                break;
            }
        }
    }
}

/* Layers [t0, n_layers) forward on the n rows at act(net, t0), R rows a block; 0 when the caller must run them.
 * x: when not NULL (t0 is 0), the input, whose rows each thread copies to act(net, 0) itself. */
static int forward_tail(ebm_net *net, size_t t0, const float *x, size_t n, size_t R) {
    const size_t nb = (n + R - 1) / R;
    const int nt = threads_for(nb);
    if (!tail_slots(net, t0, nt)) return 0;
#pragma omp parallel num_threads(nt)
    {
        omp_set_num_threads(1); /* this thread's own setting: oneDNN plans and runs its products on it alone */
        size_t r0, r1;
        forward_tail_rows(net, t0, x, n, R, (size_t)omp_get_thread_num(), (size_t)omp_get_num_threads(), &r0, &r1);
    }
    return 1;
}

/* Whether the tail's parameter gradients can be taken in its pass: no SN layer (its gradient goes through
 * sn_backward). */
static int tail_grads_ok(const ebm_net *net, size_t t0) {
    for (size_t i = t0; i < net->n_layers; i++)
        if (net->L[i].kind == L_LINEAR && net->L[i].sn) return 0;
    return 1;
}

/* The backward through layers [t0, n_layers) given g (n, out) = dL/d(output), R rows a block, after a
 * forward: dL/dx when dx is not NULL or t0 > 0, and, when grad is not NULL, the tail's parameter gradients
 * added into grad.  Returns where dL/d(input of layer t0) went: dx when t0 is 0, else net->g0 or net->g1,
 * the buffer the layer-by-layer backward would have used, with rows of L[t0].in_size floats; NULL when the
 * caller must run the layers itself (*done says which).
 *
 * Each thread keeps its rows' intermediate gradients max_size floats apart, so the threads' rows never
 * overlap whatever the layer's width, and takes them through the element-wise layers and the input
 * gradients without waiting.  The threads wait for each other:
 *  - before layer t0 packs its rows (t0 > 0);
 *  - around each linear layer's weight gradient (when grad is asked for), which needs every row of g: before
 *    it, until all rows are in; after it, until every thread has read them, since the layer below writes over
 *    that buffer.
 * The weight gradient g' x over all rows is cut into Q blocks of output units (Q = min(4, blocks of rows),
 * fixed by the shapes), each one product over all rows added into grad by one thread; a unit's bias gradient
 * sums its column of g over the rows in order, as the layer-by-layer backward does. */
/* Thread t of nth: backward_tail's body, which waits for the other threads where backward_tail says (only
 * with grad, or t0 > 0). */
static void backward_tail_rows(ebm_net *net, size_t t0, const float *g, size_t n, size_t R, float *dx, float *grad,
                               size_t t, size_t nth) {
    const size_t nb = (n + R - 1) / R, top = net->n_layers, Q = nb < 4 ? nb : 4;
    float *bufs[2] = {net->g0, net->g1};
    size_t r0, r1;
    thread_rows(t, nth, nb, R, n, &r0, &r1);
    const float *gin = g;
    size_t gs = net->L[top - 1].out_size;
    int which = 0;
    for (size_t ii = top; ii-- > t0;) {
        const layer *l = &net->L[ii];
        const size_t in = l->in_size, out = l->out_size;
        const int wgrad = grad && l->kind == L_LINEAR;
        float *d = ii == 0 ? dx : bufs[which];
        const size_t ds = ii == t0 ? in : net->max_size;
        if ((ii == t0 && ii > 0) || (wgrad && ii + 1 < top)) {
#pragma omp barrier
        }
        if (wgrad) {
            /* units [u0, u1) of block q, in multiples of 16 */
            const size_t per = ((out + Q - 1) / Q + 15) / 16 * 16;
            for (size_t q = t * Q / nth; q < (t + 1) * Q / nth; q++) {
                const size_t u0 = q * per < out ? q * per : out, u1 = u0 + per < out ? u0 + per : out;
                if (u0 == u1) continue;
                ebm_mm_gemm_one(layer_mm(net, ii), t, 1, 0, u1 - u0, in, n, gin + u0, gs, act(net, ii), in, NULL,
                                1.0f, grad + l->w_off + u0 * in, in);
                float *gb = grad + l->b_off;
                for (size_t r = 0; r < n; r++) {
                    const float *gr = gin + r * gs;
#pragma omp simd
                    for (size_t j = u0; j < u1; j++) gb[j] += gr[j];
                }
            }
            if (ii > t0 && ii + 1 < top) {
#pragma omp barrier
            }
        }
        const float *fd = kept_d(net, ii);
        for (size_t a = r0; d && a < r1; a += R) {
            const size_t m = r1 - a < R ? r1 - a : R;
            const float *ga = gin + a * gs;
            float *da = d + a * ds;
            switch (l->kind) {
            case L_LINEAR:
                ebm_mm_gemm_one(layer_mm(net, ii), t, 0, 0, m, in, out, ga, gs, weights(net, l), in, NULL, 0.0f, da,
                                ds);
                break;
            case L_FLATTEN:
                for (size_t r = 0; r < m; r++) memcpy(da + r * ds, ga + r * gs, in * sizeof(float));
                break;
            default:
                for (size_t r = 0; r < m; r++)
                    act_backward_row(l, act(net, ii) + (a + r) * in, act(net, ii + 1) + (a + r) * in,
                                     fd ? fd + (a + r) * in : NULL, ga + r * gs, da + r * ds);
                break;
            }
        }
        gin = d;
        gs = ds;
        which ^= 1;
    }
}

static float *backward_tail(ebm_net *net, size_t t0, const float *g, size_t n, size_t R, float *dx, float *grad,
                            int *done) {
    const size_t nb = (n + R - 1) / R, top = net->n_layers;
    const int nt = threads_for(nb);
    *done = 0;
    if (grad && !tail_grads_ok(net, t0)) return NULL;
    if (!tail_slots(net, t0, nt)) return NULL;
#pragma omp parallel num_threads(nt)
    {
        omp_set_num_threads(1);
        backward_tail_rows(net, t0, g, n, R, dx, grad, (size_t)omp_get_thread_num(), (size_t)omp_get_num_threads());
    }
    *done = 1;
    float *bufs[2] = {net->g0, net->g1};
    return t0 == 0 ? dx : bufs[(top - 1 - t0) % 2];
}

/* Runs the stack on x (n, in); the output stays at act(net, n_layers).  for_backward: 0 = no backward follows, 1 =
 * keep the SiLU derivatives for one (dsilu), 2 = that, and the front may leave outputs out (skips_output): for the
 * energy's own gradients, whose callers never see the activations. */
/* What every forward does first: room for n rows, what it keeps for the backward (forward's for_backward), the
 * spectral norms and the bf16 weights. */
static ebm_status forward_begin(ebm_net *net, size_t n, int for_backward) {
    if (n > INT_MAX) return ebm_fail(EBM_EINVAL, "net: %zu rows is more than one call can take", n);
    ebm_status s = ensure(net, n);
    if (s) return s;
    net->last_n = 0; /* until this forward is done */
    net->d_ok = for_backward && net->d_off[net->n_layers] > 0; /* keep the SiLU derivatives for the backward */
    net->skip_ok = net->d_ok && for_backward == 2;
    for (size_t i = 0; i < net->n_layers; i++) {
        layer *l = &net->L[i];
        if (!l->sn) continue;
        if (net->training)
            sn_power(net->params + l->w_off, l->c_out, l->fan_in, net->state + l->u_off, l->v, l->wv);
        sn_refresh(net, l);
    }
    return refresh_w16(net);
}

static ebm_status forward(ebm_net *net, const float *x, size_t n, int for_backward) {
    ebm_status s = forward_begin(net, n, for_backward);
    if (s) return s;
    size_t front = n > 1 ? sample_front(net) : 0;
    const size_t t0 = tail_start(net, front), R = tail_rows(net, t0, n);
    /* the input's rows: copied by the threads that take them first, where the tail does */
    if (!(t0 == 0 && R)) memcpy(act(net, 0), x, n * net->L[0].in_size * sizeof(float));
    if (front && !forward_front(net, front, n)) front = 0;
    if (!front) net->skip_ok = 0;
    for (size_t i = front; i < net->n_layers; i++) {
        if (i == t0 && R) {
            if (forward_tail(net, t0, t0 == 0 ? x : NULL, n, R)) break;
            if (t0 == 0) memcpy(act(net, 0), x, n * net->L[0].in_size * sizeof(float)); /* layer by layer */
        }
        const layer *l = &net->L[i];
        const float *in = act(net, i);
        float *out = act(net, i + 1);
        switch (l->kind) {
        case L_LINEAR:
            linear_forward(layer_mm(net, i), in, weights(net, l), net->params + l->b_off, n, l->in_size, l->out_size,
                           out);
            break;
        case L_CONV: {
            ebm_conv *cv = layer_conv(net, i);
            if (!cv || ebm_conv_forward(cv, in, weights(net, l), net->params + l->b_off, n, out))
                conv_forward(layer_mm(net, i), l, in, weights(net, l), net->params + l->b_off, n, net->col, net->tmp,
                             out);
            break;
        }
        case L_POOL:
            pool_forward(l, in, n, out);
            break;
        case L_FLATTEN:
            memcpy(out, in, n * l->in_size * sizeof(float));
            break;
        default:
            act_forward(l, in, n, out, kept_d(net, i));
            break;
        }
    }
    net->last_n = n;
    return EBM_OK;
}

/* After the weight gradient G = dL/dW_sn of SN layer l sits in net->gsn: gW += (G - <G, W_sn> u v') / sigma. */
static void sn_backward(ebm_net *net, const layer *l, float *gW) {
    const float *G = net->gsn, *Wn = l->w_sn, *u = net->state + l->u_off;
    double dot = 0;
#pragma omp simd reduction(+ : dot)
    for (size_t i = 0; i < l->n_w; i++) dot += (double)G[i] * Wn[i];
    const double inv = 1.0 / l->sigma;
    for (size_t i = 0; i < l->c_out; i++) {
        const float *gr = G + i * l->fan_in;
        float *dst = gW + i * l->fan_in;
        const double du = dot * u[i];
        for (size_t j = 0; j < l->fan_in; j++) dst[j] += (float)((gr[j] - du * l->v[j]) * inv);
    }
}

static ebm_status backward(ebm_net *net, const float *dout, size_t n, float *grad, float *dx) {
    if (n != net->last_n || n == 0)
        return ebm_fail(EBM_ESHAPE, "net backward: %zu rows, but the last forward had %zu", n, net->last_n);
    /* a parameter gradient is taken to update the parameters: the next forward makes new bf16 copies */
    if (grad) net->w16_stale = 1;
    const float *g = dout;
    float *bufs[2] = {net->g0, net->g1};
    int which = 0;
    /* the front runs per sample (see forward_front), with a parameter gradient only where its convs have
     * oneDNN's weight gradient */
    size_t front = (dx || grad) && n > 1 ? sample_front(net) : 0;
    if (front && grad && !front_grads_ok(net, front)) front = 0;
    /* the dense tail block by block (the forward took it so too) */
    size_t top = net->n_layers;
    const size_t t0 = tail_start(net, front), R = tail_rows(net, t0, n);
    int done = 0;
    float *gt = R && (dx || grad) ? backward_tail(net, t0, g, n, R, dx, grad, &done) : NULL;
    if (done) {
        if (t0 == 0) return EBM_OK;
        g = gt;
        top = t0;
        which = (int)((net->n_layers - t0) % 2);
    }
    for (size_t ii = top; ii-- > 0;) {
        if (front && ii + 1 == front) {
            if (backward_front(net, front, g, n, dx, grad)) break;
            front = 0; /* a convolution failed: layer by layer from here */
        }
        const layer *l = &net->L[ii];
        const float *in = act(net, ii), *out = act(net, ii + 1);
        /* where dL/d(input of this layer) goes: the caller's dx for layer 0, else a ping-pong buffer */
        float *d = ii == 0 ? dx : bufs[which];
        if (ii == 0 && !dx && !(grad && has_weights(l))) break;
        float *gW = NULL, *gb = NULL;
        if (grad && has_weights(l)) {
            gW = l->sn ? net->gsn : grad + l->w_off;
            gb = grad + l->b_off;
            if (l->sn) memset(net->gsn, 0, l->n_w * sizeof(float));
        }
        switch (l->kind) {
        case L_LINEAR:
            linear_backward(layer_mm(net, ii), g, in, weights(net, l), n, l->in_size, l->out_size, d, gW, gb);
            break;
        case L_CONV: {
            /* the weight gradient on im2col, the input gradient through oneDNN where it can */
            ebm_conv *cv = d ? layer_conv(net, ii) : NULL;
            if (cv && gW)
                conv_backward(layer_mm(net, ii), l, g, in, weights(net, l), n, net->col, net->dcol, net->tmp, NULL, gW,
                              gb);
            if (!cv || ebm_conv_backward_data(cv, g, weights(net, l), n, d))
                conv_backward(layer_mm(net, ii), l, g, in, weights(net, l), n, net->col, net->dcol, net->tmp, d,
                              cv ? NULL : gW, cv ? NULL : gb);
            break;
        }
        case L_POOL:
            if (d) pool_backward(l, g, n, d);
            break;
        case L_FLATTEN:
            if (d) memcpy(d, g, n * l->in_size * sizeof(float));
            break;
        default:
            if (d) act_backward(l, in, out, kept_d(net, ii), g, n, d);
            break;
        }
        if (gW && l->sn) sn_backward(net, l, grad + l->w_off);
        if (ii == 0) break;
        g = d;
        which ^= 1;
    }
    return EBM_OK;
}

ebm_status ebm_net_forward(ebm_net *net, const float *x, size_t n, float *out) {
    if (n == 0) {
        net->last_n = 0;
        return EBM_OK;
    }
    ebm_status s = forward(net, x, n, 1);
    if (s) return s;
    if (out) memcpy(out, act(net, net->n_layers), n * ebm_net_output_size(net) * sizeof(float));
    return EBM_OK;
}

size_t ebm_net_penultimate(const ebm_net *net, size_t *width) {
    size_t last = net->n_layers;
    for (size_t i = net->n_layers; i-- > 0;)
        if (net->L[i].kind == L_LINEAR || net->L[i].kind == L_CONV) {
            last = i;
            break;
        }
    if (last == net->n_layers) last = net->n_layers - 1; /* no weighted layer: the last layer's input */
    if (width) *width = net->L[last].in_size;
    return last;
}

size_t ebm_net_layers(const ebm_net *net) { return net ? net->n_layers : 0; }

size_t ebm_net_feature_width(const ebm_net *net, size_t at) {
    if (!net || at > net->n_layers) return 0;
    return at == 0 ? net->L[0].in_size : net->L[at - 1].out_size;
}

ebm_status ebm_net_features(ebm_net *net, const float *x, size_t n, size_t at, float *out) {
    if (!net || (!out && n)) return ebm_fail(EBM_EINVAL, "ebm_net_features: missing argument");
    if (at > net->n_layers)
        return ebm_fail(EBM_EINVAL, "ebm_net_features: layer %zu of a %zu-layer network", at, net->n_layers);
    if (n == 0) return EBM_OK;
    if (!x && n != net->last_n)
        return ebm_fail(EBM_ESHAPE, "ebm_net_features: %zu rows asked of a last forward of %zu", n, net->last_n);
    if (!x && at > 0 && skips_output(net, at - 1))
        return ebm_fail(EBM_EINVAL, "ebm_net_features: the last forward (a gradient's) did not keep layer %zu's output; "
                                    "give the inputs", at);
    ebm_status s = x ? forward(net, x, n, 0) : EBM_OK;
    if (s) return s;
    memcpy(out, act(net, at), n * ebm_net_feature_width(net, at) * sizeof(float));
    return EBM_OK;
}

ebm_status ebm_net_backward(ebm_net *net, const float *dout, size_t n, float *grad, float *dx) {
    return backward(net, dout, n, grad, dx);
}

void ebm_net_describe(const ebm_net *net, char *buf, size_t cap) {
    if (!cap) return;
    buf[0] = '\0';
    size_t at = 0;
#define PUT(...)                                                                  \
    do {                                                                          \
        if (at < cap) {                                                           \
            int k_ = snprintf(buf + at, cap - at, __VA_ARGS__);                   \
            at = k_ < 0 ? cap : at + (size_t)k_;                                  \
        }                                                                         \
    } while (0)
    PUT("input %zux%zux%zu\n", net->C, net->H, net->W);
    for (size_t i = 0; i < net->n_layers; i++) {
        const layer *l = &net->L[i];
        char shape[64];
        layer_shape_str(l, shape, sizeof shape);
        if (has_weights(l))
            PUT("%3zu  %-24s -> %-14s %zu params%s\n", i, l->token, shape, l->n_w + l->c_out,
                l->sn ? " (spectral norm)" : "");
        else
            PUT("%3zu  %-24s -> %s\n", i, l->token, shape);
    }
    PUT("total %zu parameters\n", net->n_params);
#undef PUT
}

/* ---------------------------------------------------------------------------------------------
 * The energy interface
 * ------------------------------------------------------------------------------------------- */

#define HEAD_CLASS 2 /* E(x_r) = -f(x_r)[classes[r mod n_classes]] */

typedef struct {
    ebm_net *net;
    int head;
    float *dout;      /* (cap, out) */
    size_t cap;
    int32_t *classes; /* HEAD_CLASS: (n_classes) */
    size_t n_classes;
} net_energy;

/* E (n) from the outputs f (n, k) of the last forward; dout (n, k) <- w_i dE_i/df_i when dout != NULL.  The rows
 * are the batch's rows first .. first + n - 1 (the class head's classes cycle over the batch). */
static void head_eval(const net_energy *ne, const float *f, size_t n, size_t k, const float *w, float *E,
                      float *dout, size_t first) {
    for (size_t r = 0; r < n; r++) {
        const float *fr = f + r * k;
        float wr = w ? w[r] : 1.0f;
        if (ne->head == EBM_NET_HEAD_SCALAR) {
            if (E) E[r] = fr[0];
            if (dout) dout[r] = wr;
            continue;
        }
        if (ne->head == HEAD_CLASS) {
            size_t y = (size_t)ne->classes[(first + r) % ne->n_classes];
            if (E) E[r] = -fr[y];
            if (dout) {
                memset(dout + r * k, 0, k * sizeof(float));
                dout[r * k + y] = -wr;
            }
            continue;
        }
        double mx = fr[0], s = 0;
        for (size_t j = 1; j < k; j++) mx = fr[j] > mx ? fr[j] : mx;
        for (size_t j = 0; j < k; j++) s += exp((double)fr[j] - mx);
        double lse = mx + log(s);
        if (E) E[r] = (float)-lse;
        if (dout)
            for (size_t j = 0; j < k; j++) dout[r * k + j] = (float)(-wr * exp((double)fr[j] - lse));
    }
}

static ebm_status ne_ensure(net_energy *ne, size_t n) {
    if (n <= ne->cap) return EBM_OK;
    size_t k = ebm_net_output_size(ne->net), len;
    if (!ebm_mul_ok(n, k, &len)) return ebm_fail(EBM_ENOMEM, "net energy: batch too large");
    float *d = ebm_calloc(len, sizeof(float));
    if (!d) return ebm_fail(EBM_ENOMEM, "net energy: out of memory");
    ebm_free(ne->dout);
    ne->dout = d;
    ne->cap = n;
    return EBM_OK;
}

static ebm_status ne_energy(ebm_energy *e, const float *x, size_t n, float *E) {
    net_energy *ne = e->impl;
    if (n == 0) return EBM_OK;
    ebm_status s = forward(ne->net, x, n, 0);
    if (s) return s;
    head_eval(ne, act(ne->net, ne->net->n_layers), n, ebm_net_output_size(ne->net), NULL, E, NULL, 0);
    return EBM_OK;
}

static ebm_status ne_grad_x(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    net_energy *ne = e->impl;
    if (n == 0) return EBM_OK;
    ebm_status s = forward(ne->net, x, n, 2);
    if (!s) s = ne_ensure(ne, n);
    if (s) return s;
    head_eval(ne, act(ne->net, ne->net->n_layers), n, ebm_net_output_size(ne->net), NULL, E, ne->dout, 0);
    return backward(ne->net, ne->dout, n, NULL, dx);
}

static ebm_status ne_grad_params(ebm_energy *e, const float *x, size_t n, const float *w, float *grad, float *E) {
    net_energy *ne = e->impl;
    if (n == 0) return EBM_OK;
    ebm_status s = forward(ne->net, x, n, 2);
    if (!s) s = ne_ensure(ne, n);
    if (s) return s;
    head_eval(ne, act(ne->net, ne->net->n_layers), n, ebm_net_output_size(ne->net), w, E, ne->dout, 0);
    return backward(ne->net, ne->dout, n, grad, NULL);
}

static void ne_destroy(ebm_energy *e);

/* ne_grad_x and fn on every row in one parallel pass, when the whole network runs by blocks of rows (an MLP in
 * bf16): each thread takes its rows forward, through the head and back, then hands them to fn, with no wait
 * between.  The bits are ne_grad_x's (the same blocks, the same products).  *done 0: not taken. */
static ebm_status ne_grad_x_fused(net_energy *ne, const float *x, size_t n, float *E, float *dx, ebm_rows_fn fn,
                                  void *user, int *done) {
    ebm_net *net = ne->net;
    *done = 0;
    const size_t front = n > 1 ? sample_front(net) : 0;
    const size_t t0 = tail_start(net, front), R = tail_rows(net, t0, n);
    if (t0 != 0 || !R) return EBM_OK;
    const size_t nb = (n + R - 1) / R, k = ebm_net_output_size(net);
    const int nt = threads_for(nb);
    if (!tail_slots(net, 0, nt)) return EBM_OK; /* before forward_begin: a fallback must not run it twice */
    ebm_status s = forward_begin(net, n, 2);
    if (!s) s = ne_ensure(ne, n);
    if (s) return s;
    net->skip_ok = 0;
#pragma omp parallel num_threads(nt)
    {
        omp_set_num_threads(1);
        const size_t t = (size_t)omp_get_thread_num(), nth = (size_t)omp_get_num_threads();
        size_t r0, r1;
        forward_tail_rows(net, 0, x, n, R, t, nth, &r0, &r1);
        head_eval(ne, act(net, net->n_layers) + r0 * k, r1 - r0, k, NULL, E ? E + r0 : NULL, ne->dout + r0 * k, r0);
        backward_tail_rows(net, 0, ne->dout, n, R, dx, NULL, t, nth);
        if (r1 > r0) fn(r0, r1, user);
    }
    net->last_n = n;
    *done = 1;
    return EBM_OK;
}

ebm_status ebm_energy_grad_x_then(ebm_energy *e, const float *x, size_t n, float *E, float *dx, ebm_rows_fn fn,
                                  void *user) {
    if (n == 0) return EBM_OK;
    if (e->destroy == ne_destroy) {
        int done;
        ebm_status s = ne_grad_x_fused(e->impl, x, n, E, dx, fn, user, &done);
        if (s || done) return s;
    }
    ebm_status s = e->grad_x(e, x, n, E, dx);
    if (s) return s;
#pragma omp parallel for schedule(static) if (n * e->dim >= 65536)
    for (size_t i = 0; i < n; i++) fn(i, i + 1, user);
    return EBM_OK;
}

static void ne_destroy(ebm_energy *e) {
    if (!e) return;
    net_energy *ne = e->impl;
    if (ne) {
        ebm_free(ne->dout);
        free(ne->classes);
    }
    free(ne);
    free(e);
}

ebm_status ebm_energy_grad_params_weighted(ebm_energy *e, const float *x, size_t n, ebm_weights_fn fn, void *user,
                                           float *w, float *grad, float *E) {
    if (n == 0) return EBM_OK;
    if (e->destroy == ne_destroy) { /* one forward for E and the gradient */
        net_energy *ne = e->impl;
        const size_t k = ebm_net_output_size(ne->net);
        ebm_status s = forward(ne->net, x, n, 2);
        if (!s) s = ne_ensure(ne, n);
        if (s) return s;
        const float *f = act(ne->net, ne->net->n_layers);
        head_eval(ne, f, n, k, NULL, E, NULL, 0);
        fn(E, n, w, user);
        head_eval(ne, f, n, k, w, NULL, ne->dout, 0);
        return backward(ne->net, ne->dout, n, grad, NULL);
    }
    ebm_status s = e->energy(e, x, n, E);
    if (s) return s;
    fn(E, n, w, user);
    return e->grad_params(e, x, n, w, grad, NULL);
}

static ebm_status net_energy_new(ebm_net *net, int head, const int32_t *classes, size_t n_classes,
                                 ebm_energy **out) {
    ebm_energy *e = calloc(1, sizeof *e);
    net_energy *ne = calloc(1, sizeof *ne);
    int32_t *cl = n_classes ? malloc(n_classes * sizeof *cl) : NULL;
    if (!e || !ne || (n_classes && !cl)) {
        free(e);
        free(ne);
        free(cl);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    if (n_classes) memcpy(cl, classes, n_classes * sizeof *cl);
    ne->net = net;
    ne->head = head;
    ne->classes = cl;
    ne->n_classes = n_classes;
    e->kind = "net";
    e->dim = ebm_net_input_size(net);
    e->n_params = net->n_params;
    e->params = net->params;
    e->energy = ne_energy;
    e->grad_x = ne_grad_x;
    e->grad_params = ne_grad_params;
    e->destroy = ne_destroy;
    e->impl = ne;
    *out = e;
    return EBM_OK;
}

ebm_status ebm_net_energy(ebm_net *net, ebm_net_head head, ebm_energy **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "ebm_net_energy: out is NULL");
    *out = NULL;
    if (!net) return ebm_fail(EBM_EINVAL, "ebm_net_energy: net is NULL");
    if (head != EBM_NET_HEAD_SCALAR && head != EBM_NET_HEAD_LOGSUMEXP)
        return ebm_fail(EBM_EINVAL, "ebm_net_energy: unknown head %d", (int)head);
    if (head == EBM_NET_HEAD_SCALAR && ebm_net_output_size(net) != 1)
        return ebm_fail(EBM_ESHAPE,
                        "a scalar energy head needs a network with one output, '%s' has %zu (end it with linear:1, "
                        "or use the logsumexp head)",
                        net->spec, ebm_net_output_size(net));
    return net_energy_new(net, head, NULL, 0, out);
}

ebm_status ebm_net_energy_class(ebm_net *net, const int32_t *classes, size_t n_classes, ebm_energy **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "ebm_net_energy_class: out is NULL");
    *out = NULL;
    if (!net || !classes || n_classes == 0)
        return ebm_fail(EBM_EINVAL, "ebm_net_energy_class: net or classes missing");
    size_t k = ebm_net_output_size(net);
    for (size_t i = 0; i < n_classes; i++)
        if (classes[i] < 0 || (size_t)classes[i] >= k)
            return ebm_fail(EBM_EINVAL, "class %d is out of range: the network has %zu classes (0 to %zu)",
                            (int)classes[i], k, k - 1);
    return net_energy_new(net, HEAD_CLASS, classes, n_classes, out);
}

/* ---------------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------------- */

ebm_status ebm_net_to_tensors(const ebm_net *net, ebm_tensors *t) {
    ebm_meta *meta = ebm_tensors_meta(t);
    ebm_status s = EBM_OK;
    if (!ebm_meta_get(meta, "ebm.model")) s = ebm_meta_set(meta, "ebm.model", "net");
    if (!s) s = ebm_meta_set(meta, "ebm.version", EBM_VERSION_STRING);
    if (!s) s = ebm_meta_set(meta, "ebm.net.spec", net->spec);
    if (!s) s = ebm_meta_setf(meta, "ebm.net.input", "%zux%zux%zu", net->C, net->H, net->W);
    for (size_t i = 0; !s && i < net->n_layers; i++) {
        const layer *l = &net->L[i];
        if (!has_weights(l)) continue;
        char name[64];
        size_t shw[4], shb[1] = {l->c_out};
        const int nd = weight_shape(l, shw);
        snprintf(name, sizeof name, "layers.%zu.weight", i);
        s = ebm_tensors_put(t, name, EBM_F32, nd, shw, net->params + l->w_off);
        snprintf(name, sizeof name, "layers.%zu.bias", i);
        if (!s) s = ebm_tensors_put(t, name, EBM_F32, 1, shb, net->params + l->b_off);
        snprintf(name, sizeof name, "layers.%zu.sn_u", i);
        if (!s && l->sn) s = ebm_tensors_put(t, name, EBM_F32, 1, shb, net->state + l->u_off);
    }
    return s;
}

ebm_status ebm_net_save(const ebm_net *net, const ebm_meta *meta, const char *path) {
    size_t bad;
    if (!ebm_k_all_finite(net->params, net->n_params, &bad))
        return ebm_fail(EBM_ENAN, "refusing to save %s: parameter %zu is %g", path, bad, (double)net->params[bad]);
    ebm_tensors *t = NULL;
    ebm_status s = ebm_tensors_new(&t);
    if (!s && meta) s = ebm_meta_copy(ebm_tensors_meta(t), meta);
    if (!s) s = ebm_net_to_tensors(net, t);
    if (!s) s = ebm_safetensors_write(path, t);
    ebm_tensors_free(t);
    return s;
}

ebm_status ebm_net_from_tensors(const ebm_tensors *t, const char *name, ebm_net **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "ebm_net_from_tensors: out is NULL");
    *out = NULL;
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    const char *spec = ebm_meta_get(meta, "ebm.net.spec"), *input = ebm_meta_get(meta, "ebm.net.input");
    if (!spec) return ebm_fail(EBM_EFORMAT, "%s: no 'ebm.net.spec' in the metadata (not a network file?)", name);
    if (!input) return ebm_fail(EBM_EFORMAT, "%s: no 'ebm.net.input' in the metadata", name);
    unsigned long long c, h, w;
    char tail;
    if (sscanf(input, "%llux%llux%llu%c", &c, &h, &w, &tail) != 3)
        return ebm_fail(EBM_EFORMAT, "%s: ebm.net.input '%s' is not CxHxW", name, input);
    ebm_net *net;
    ebm_status s = net_parse(spec, (size_t)c, (size_t)h, (size_t)w, &net);
    if (s) return ebm_fail(EBM_EFORMAT, "%s: %s", name, ebm_last_error());
    /* every tensor the spec needs is present with its shape before the spec's memory is allocated: the
     * metadata is a few bytes, the tensors are the file's actual contents */
    for (size_t i = 0; !s && i < net->n_layers; i++) {
        const layer *l = &net->L[i];
        if (!has_weights(l)) continue;
        char tn[64];
        size_t shw[4], shb[1] = {l->c_out};
        const int nd = weight_shape(l, shw);
        snprintf(tn, sizeof tn, "layers.%zu.weight", i);
        s = ebm_io_check_shape(t, name, tn, nd, shw);
        snprintf(tn, sizeof tn, "layers.%zu.bias", i);
        if (!s) s = ebm_io_check_shape(t, name, tn, 1, shb);
        if (!s && l->sn) {
            snprintf(tn, sizeof tn, "layers.%zu.sn_u", i);
            s = ebm_io_check_shape(t, name, tn, 1, shb);
        }
    }
    if (!s) s = net_alloc(net); /* frees net on failure */
    else ebm_net_free(net);
    if (s) return s;
    for (size_t i = 0; !s && i < net->n_layers; i++) {
        const layer *l = &net->L[i];
        if (!has_weights(l)) continue;
        char tn[64];
        size_t shw[4], shb[1] = {l->c_out};
        const int nd = weight_shape(l, shw);
        snprintf(tn, sizeof tn, "layers.%zu.weight", i);
        s = ebm_io_take_f32(t, name, tn, nd, shw, net->params + l->w_off);
        snprintf(tn, sizeof tn, "layers.%zu.bias", i);
        if (!s) s = ebm_io_take_f32(t, name, tn, 1, shb, net->params + l->b_off);
        if (!s && l->sn) {
            snprintf(tn, sizeof tn, "layers.%zu.sn_u", i);
            s = ebm_io_take_f32(t, name, tn, 1, shb, net->state + l->u_off);
        }
    }
    /* a layers.* tensor the spec does not account for means the file and its spec disagree */
    for (size_t i = 0; !s && i < ebm_tensors_count(t); i++) {
        const char *tn = ebm_tensors_name(t, i);
        if (strncmp(tn, "layers.", 7) != 0) continue;
        char *end;
        unsigned long li = strtoul(tn + 7, &end, 10);
        bool ok = end != tn + 7 && *end == '.' && li < net->n_layers && has_weights(&net->L[li]);
        if (ok) ok = strcmp(end, ".weight") == 0 || strcmp(end, ".bias") == 0 ||
                     (net->L[li].sn && strcmp(end, ".sn_u") == 0);
        if (!ok) s = ebm_fail(EBM_EFORMAT, "%s: tensor '%s' does not belong to the spec '%s'", name, tn, net->spec);
    }
    if (s) {
        ebm_net_free(net);
        return s;
    }
    *out = net;
    return EBM_OK;
}

ebm_status ebm_net_load(const char *path, ebm_net **out, ebm_meta **meta) {
    if (!out) return ebm_fail(EBM_EINVAL, "ebm_net_load: out is NULL");
    *out = NULL;
    if (meta) *meta = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return s;
    s = ebm_net_from_tensors(t, path, out);
    if (!s && meta) {
        s = ebm_meta_new(meta);
        if (!s) s = ebm_meta_copy(*meta, ebm_tensors_meta_const(t));
        if (s) {
            ebm_meta_free(*meta);
            *meta = NULL;
            ebm_net_free(*out);
            *out = NULL;
        }
    }
    ebm_tensors_free(t);
    return s;
}

int ebm_net_input_shape(const ebm_meta *meta, size_t dim, size_t *c, size_t *h, size_t *w) {
    const char *in = meta ? ebm_meta_get(meta, "ebm.net.input") : NULL;
    if (in && sscanf(in, "%zux%zux%zu", c, h, w) == 3 && *c * *h * *w == dim) return 1;
    *c = dim;
    *h = *w = 1;
    return 0;
}

/* ---- the classes of a classifier model, by number or (Fashion-MNIST) by name ---- */

static const char *const fmnist_classes[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                "sandal",  "shirt",   "sneaker",  "bag",   "ankle-boot"};

const char *ebm_class_name(const ebm_meta *meta, size_t k, size_t c) {
    const char *spec = meta ? ebm_meta_get(meta, "ebm.data.spec") : NULL;
    bool fmnist = k == 10 && spec && strncmp(spec, "fashion-mnist", 13) == 0;
    return fmnist && c < 10 ? fmnist_classes[c] : NULL;
}

/* *v <- one class of a list: a number, or a name ebm_class_name knows. */
static ebm_status parse_class(const char *tok, const ebm_meta *meta, size_t k, long *v) {
    char *end;
    *v = strtol(tok, &end, 10);
    if (*end) {
        *v = -1;
        bool names = ebm_class_name(meta, k, 0) != NULL;
        for (size_t c = 0; names && c < k; c++)
            if (strcmp(tok, ebm_class_name(meta, k, c)) == 0) *v = (long)c;
        if (*v < 0 && names)
            return ebm_fail(EBM_EINVAL, "unknown class '%s' (give 0 to 9 or t-shirt, trouser, pullover, dress, coat, "
                                        "sandal, shirt, sneaker, bag, ankle-boot)", tok);
        if (*v < 0) return ebm_fail(EBM_EINVAL, "'%s' is not a class number from 0 to %zu", tok, k - 1);
    }
    if (*v < 0 || (size_t)*v >= k)
        return ebm_fail(EBM_EINVAL, "%ld is out of range: the model has %zu classes (0 to %zu)", *v, k, k - 1);
    return EBM_OK;
}

ebm_status ebm_classes_parse(const char *arg, const ebm_meta *meta, size_t k, int32_t *out, size_t cap, size_t *n) {
    *n = 0;
    if (k == 0) return ebm_fail(EBM_EINVAL, "classes of a model without classes (a plain energy)");
    if (strcmp(arg, "all") == 0) {
        for (; *n < k && *n < cap; ++*n) out[*n] = (int32_t)*n;
        return EBM_OK;
    }
    for (const char *p = arg; *p;) {
        size_t len = strcspn(p, ",");
        char tok[64];
        long v;
        if (len == 0 || len >= sizeof tok || *n == cap) break;
        memcpy(tok, p, len);
        tok[len] = '\0';
        ebm_status s = parse_class(tok, meta, k, &v);
        if (s) return s;
        out[(*n)++] = (int32_t)v;
        p += len;
        if (!*p) return EBM_OK;
        if (!*++p) break;
    }
    return ebm_fail(EBM_EINVAL, "cannot read '%s' (a class, a comma-separated list of classes, or all)", arg);
}
