/* Writes a small seed corpus for the fuzz targets: `fuzz_make_seeds DIR` creates DIR/{idx,npy,csv,
 * safetensors,png,model,compose}/ with valid files of several dtypes and shapes (written by libebm's own
 * writers: a small model of every kind, composed models over them) plus a few hand-written edge cases,
 * so that the fuzzers start from inputs that reach deep code. */
#include "ebm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[1024];

static const char *path(const char *kind, const char *name) {
    static char p[1200];
    snprintf(p, sizeof p, "%s/%s/%s", root, kind, name);
    return p;
}

static void raw(const char *kind, const char *name, const void *data, size_t n) {
    FILE *f = fopen(path(kind, name), "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path(kind, name));
        exit(1);
    }
    fclose(f);
}

static void ok(ebm_status s) {
    if (s != EBM_OK) {
        fprintf(stderr, "%s\n", ebm_last_error());
        exit(1);
    }
}

static ebm_array *pattern(ebm_dtype t, int ndim, const size_t *shape) {
    ebm_array *a;
    ok(ebm_array_new(t, ndim, shape, NULL, &a));
    size_t n = ebm_array_numel(a) * ebm_dtype_size(t);
    for (size_t i = 0; i < n; i++) ((unsigned char *)a->data)[i] = (unsigned char)(i * 41 + 3);
    return a;
}

static void arrays(void) {
    static const ebm_dtype types[] = {EBM_U8, EBM_I8, EBM_I16, EBM_I32, EBM_I64, EBM_F16, EBM_F32, EBM_F64};
    static const size_t shapes[4][3] = {{3}, {2, 3}, {2, 2, 2}, {0, 4}};
    static const int ndims[4] = {1, 2, 3, 2};
    char name[64];
    for (size_t t = 0; t < 8; t++)
        for (int s = 0; s < 4; s++) {
            ebm_array *a = pattern(types[t], ndims[s], shapes[s]);
            snprintf(name, sizeof name, "%s-%d.npy", ebm_dtype_name(types[t]), s);
            ok(ebm_npy_write(path("npy", name), a));
            if (types[t] != EBM_I64 && types[t] != EBM_F16) {
                snprintf(name, sizeof name, "%s-%d.idx%s", ebm_dtype_name(types[t]), s, s == 1 ? ".gz" : "");
                ok(ebm_idx_write(path("idx", name), a));
            }
            ebm_array_free(a);
        }
    /* big-endian, Fortran order, Python 2 longs: what libebm never writes itself */
    static const char dict[] = "{'descr': '>i2', 'fortran_order': True, 'shape': (2L, 2L), }";
    unsigned char f[128 + 8];
    size_t hlen = 128 - 10;
    memcpy(f, "\x93NUMPY\x01\x00", 8);
    f[8] = (unsigned char)hlen;
    f[9] = 0;
    memset(f + 10, ' ', hlen);
    memcpy(f + 10, dict, sizeof dict - 1);
    f[127] = '\n';
    memcpy(f + 128, "\x00\x01\x00\x02\x00\x03\x00\x04", 8);
    raw("npy", "fortran-be.npy", f, sizeof f);
}

static void csvs(void) {
    static const char *const texts[] = {
        "1,2,3\n4,5,6\n", "a;b\n1.5;-2e3\n\"3\";.5\n", "x\ty\r\n1\t2\r\n\r\n", "# comment\n\"a\"\"b\",c\n1,2\n",
        "\xef\xbb\xbf-0,1e-40,3.40282347e+38\n"};
    char name[32];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(name, sizeof name, "seed-%zu.csv", i);
        raw("csv", name, texts[i], strlen(texts[i]));
    }
}

static void safetensors(void) {
    ebm_tensors *t;
    ok(ebm_tensors_new(&t));
    size_t s23[2] = {2, 3}, s4 = 4;
    for (int d = 0; d <= EBM_F64; d++) {
        ebm_array *a = pattern((ebm_dtype)d, d % 2 ? 1 : 2, d % 2 ? &s4 : s23);
        char name[32];
        snprintf(name, sizeof name, "t.%s", ebm_dtype_name((ebm_dtype)d));
        ok(ebm_tensors_put(t, name, a->dtype, a->ndim, a->shape, a->data));
        ebm_array_free(a);
    }
    ok(ebm_tensors_put(t, "scalar", EBM_F32, 0, NULL, NULL));
    ok(ebm_meta_set(ebm_tensors_meta(t), "ebm.model", "rbm"));
    ok(ebm_meta_set(ebm_tensors_meta(t), "note", "\"esc\" \\ \n \xe2\x9c\x93"));
    ok(ebm_safetensors_write(path("safetensors", "all.safetensors"), t));
    ebm_tensors_free(t);
    ok(ebm_tensors_new(&t));
    ok(ebm_safetensors_write(path("safetensors", "empty.safetensors"), t));
    ebm_tensors_free(t);
}

/* One small model of every kind into DIR/model, and composed models of them into DIR/compose (and one into
 * DIR/model, whose kind fuzz_model sniffs). */
static void models(void) {
    ebm_rng r;
    ebm_rng_seed(&r, 1, 0);
    ebm_rbm *rbm;
    ok(ebm_rbm_new(4, 3, &rbm));
    ok(ebm_rbm_init(rbm, &r, 0.5f, NULL));
    ok(ebm_rbm_save(rbm, path("model", "rbm.safetensors")));
    ebm_rbm_free(rbm);
    ebm_grbm *g;
    ok(ebm_grbm_new(4, 3, &g));
    ok(ebm_grbm_init(g, &r, 1.0f));
    ok(ebm_grbm_save(g, path("model", "grbm.safetensors")));
    ebm_grbm_free(g);
    ebm_bm *bm;
    ok(ebm_bm_new(4, EBM_BM_PM1, &bm));
    ok(ebm_bm_init(bm, &r, 0.3f, NULL));
    ok(ebm_bm_save(bm, path("model", "bm.safetensors")));
    ebm_bm_free(bm);
    ebm_dbn *dbn;
    size_t sizes[3] = {4, 3, 2};
    ok(ebm_dbn_new(sizes, 3, &dbn));
    ok(ebm_dbn_save(dbn, path("model", "dbn.safetensors")));
    ebm_dbn_free(dbn);
    ebm_net *net;
    ok(ebm_net_new("linear:6,silu,linear:1", 4, 1, 1, &net));
    ok(ebm_net_init(net, &r));
    ok(ebm_net_save(net, NULL, path("model", "net.safetensors")));
    ebm_net_free(net);
    ok(ebm_net_new("conv:2:3:1,silu,flatten,linear:3", 1, 4, 4, &net));
    ok(ebm_net_init(net, &r));
    ebm_meta *m;
    ok(ebm_meta_new(&m));
    ok(ebm_meta_set(m, "ebm.model", "jem"));
    ok(ebm_meta_set(m, "ebm.net.head", "logsumexp"));
    ok(ebm_net_save(net, m, path("model", "jem.safetensors")));
    ebm_meta_free(m);
    ebm_net_free(net);
    ok(ebm_net_new("linear:6,silu,linear:3", 4, 1, 1, &net));
    ok(ebm_net_init(net, &r));
    ok(ebm_meta_new(&m));
    ok(ebm_meta_set(m, "ebm.model", "jem"));
    ok(ebm_meta_set(m, "ebm.net.head", "logsumexp"));
    ok(ebm_net_save(net, m, path("model", "jem4.safetensors")));
    ebm_meta_free(m);
    ebm_net_free(net);
    ebm_structured *sp;
    ok(ebm_structured_new("linear:5,tanh,linear:3", 4, 1, 1, 3, 2, EBM_STRUCTURED_OUT_SQUARE, &sp));
    ok(ebm_structured_init(sp, &r));
    ok(ebm_structured_save(sp, path("model", "sp.safetensors")));
    ebm_structured_free(sp);
    /* composed: a class energy AND NOT an energy network; a mixture of an RBM and a classifier */
    char jem4[1200], netp[1200], rbmp[1200];
    snprintf(jem4, sizeof jem4, "%s", path("model", "jem4.safetensors"));
    snprintf(netp, sizeof netp, "%s", path("model", "net.safetensors"));
    snprintf(rbmp, sizeof rbmp, "%s", path("model", "rbm.safetensors"));
    ebm_composed *c;
    ok(ebm_composed_new(EBM_COMPOSE_SUM, &c));
    ok(ebm_composed_add(c, jem4, 1.0f, 2));
    ok(ebm_composed_add(c, netp, -0.5f, -1));
    ok(ebm_composed_save(c, path("compose", "and.safetensors")));
    ok(ebm_composed_save(c, path("model", "compose.safetensors")));
    ebm_composed_free(c);
    ok(ebm_composed_new(EBM_COMPOSE_OR, &c));
    ok(ebm_composed_add(c, rbmp, 2.0f, -1));
    ok(ebm_composed_add(c, jem4, 1.0f, -1));
    ok(ebm_composed_save(c, path("compose", "or.safetensors")));
    ebm_composed_free(c);
}

static void pngs(void) {
    unsigned char px[5 * 7 * 4];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 17);
    char name[32];
    for (int c = 1; c <= 4; c++) {
        snprintf(name, sizeof name, "c%d.png", c);
        ok(ebm_png_write(path("png", name), px, 5, 7, c));
    }
    float tiles[3 * 4] = {0, 0.5f, 1, 2, -1, 0, 0.25f, 0.75f, 0.1f, 0.2f, 0.3f, 0.4f};
    ok(ebm_png_grid(path("png", "grid.png"), tiles, 3, 2, 2, NULL));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    snprintf(root, sizeof root, "%s", argv[1]);
    mkdir(root, 0755);
    static const char *const kinds[] = {"idx", "npy", "csv", "safetensors", "png", "model", "compose"};
    for (int i = 0; i < 7; i++) {
        char d[1100];
        snprintf(d, sizeof d, "%s/%s", root, kinds[i]);
        mkdir(d, 0755);
    }
    arrays();
    csvs();
    safetensors();
    pngs();
    models();
    return 0;
}
