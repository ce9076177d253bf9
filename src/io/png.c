/* PNG (ISO/IEC 15948, W3C "Portable Network Graphics Specification") through libpng 1.6's simplified
 * API (png.h, "SIMPLIFIED API"), which catches libpng's longjmp errors internally, so no jmp_buf
 * crosses our frames.  Reading always yields 8-bit channels: palettes are expanded, 16-bit samples
 * scaled (we set PNG_IMAGE_FLAG_16BIT_sRGB so that a 16-bit file without gamma information is
 * treated as sRGB-encoded and merely rescaled, not gamma-converted).  The grid writer lays out n
 * float images as tiles, each mapped to grey levels by one of the ebm_grid_norm rules. */
#include "io/io_internal.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

/* Largest decoded image ebm_png_read accepts: a few-hundred-byte PNG can declare gigapixels. */
#define PNG_READ_MAX_BYTES ((size_t)1 << 30)
/* libpng refuses to read images wider or taller than this unless told otherwise; we write nothing it
 * would refuse. */
#define PNG_MAX_SIDE 1000000u
#define GRID_MAX_SIDE 16384u

/* ebm_io_png_parse with a limit on the pixels too (SIZE_MAX: none), checked from the header alone. */
static ebm_status png_parse(const void *buf, size_t len, const char *name, size_t max_bytes, size_t max_pixels,
                            ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "png: out is NULL");
    *out = NULL;
    if (!name) name = "PNG data";
    if (!buf || len == 0) return ebm_fail(EBM_EFORMAT, "%s: empty PNG data", name);
    /* libpng stops once it has the pixels and does not notice a file cut inside its final chunk;
     * requiring the IEND chunk at the very end catches such half-written files (and trailing junk). */
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (len < sizeof iend || memcmp((const uint8_t *)buf + len - sizeof iend, iend, sizeof iend) != 0)
        return ebm_fail(EBM_EFORMAT, "%s: not a complete PNG (it does not end with an IEND chunk)", name);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, buf, len)) {
        ebm_status s = ebm_fail(EBM_EFORMAT, "%s: not a valid PNG (%s)", name, img.message);
        png_image_free(&img);
        return s;
    }
    if ((size_t)img.width * img.height > max_pixels) {
        png_image_free(&img);
        return ebm_fail(EBM_EFORMAT, "%s: PNG of %u x %u pixels is larger than the limit of %zu pixels", name,
                        (unsigned)img.width, (unsigned)img.height, max_pixels);
    }
    img.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    img.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA; /* 8-bit, no colour map */
    size_t ch = PNG_IMAGE_SAMPLE_CHANNELS(img.format);
    size_t shape[3] = {img.height, img.width, ch}, numel, bytes;
    if (!ebm_io_shape_size(3, shape, 1, &numel, &bytes) || bytes > max_bytes ||
        img.width * ch > (size_t)INT32_MAX) {
        png_image_free(&img);
        return ebm_fail(EBM_EFORMAT, "%s: PNG of %zu x %zu pixels is larger than the limit of %zu bytes", name,
                        shape[1], shape[0], max_bytes);
    }
    ebm_status s = ebm_array_new(EBM_U8, ch == 1 ? 2 : 3, shape, NULL, out);
    if (s != EBM_OK) {
        png_image_free(&img);
        return s;
    }
    if (!png_image_finish_read(&img, NULL, (*out)->data, (png_int_32)(img.width * ch), NULL)) {
        s = ebm_fail(EBM_EFORMAT, "%s: corrupt PNG (%s)", name, img.message);
        ebm_array_free(*out);
        *out = NULL;
    }
    png_image_free(&img);
    return s;
}

ebm_status ebm_io_png_parse(const void *buf, size_t len, const char *name, size_t max_bytes, ebm_array **out) {
    return png_parse(buf, len, name, max_bytes, SIZE_MAX, out);
}

ebm_status ebm_png_parse(const void *buf, size_t len, const char *name, ebm_array **out) {
    return ebm_io_png_parse(buf, len, name, PNG_READ_MAX_BYTES, out);
}

/* ebm_io_read_parse hands parse one pointer: the output and the pixel limit travel together */
typedef struct png_limited {
    ebm_array **out;
    size_t max_pixels;
} png_limited;

static ebm_status parse_limited(const void *buf, size_t len, const char *name, void *out) {
    png_limited *pl = out;
    return png_parse(buf, len, name, PNG_READ_MAX_BYTES, pl->max_pixels, pl->out);
}

ebm_status ebm_png_read_max(const char *path, size_t max_pixels, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "png: out is NULL");
    *out = NULL;
    png_limited pl = {out, max_pixels ? max_pixels : SIZE_MAX};
    return ebm_io_read_parse(path, 0, PNG_READ_MAX_BYTES, parse_limited, &pl);
}

static ebm_status parse_any(const void *buf, size_t len, const char *name, void *out) {
    return ebm_png_parse(buf, len, name, out);
}

ebm_status ebm_png_read(const char *path, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "png: out is NULL");
    *out = NULL;
    return ebm_io_read_parse(path, 0, PNG_READ_MAX_BYTES, parse_any, out);
}

static const png_uint_32 png_formats[5] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};

/* The libpng simplified-API image header for a height x width picture of 1-4 channels (checked by callers). */
static void png_image_for(png_image *img, size_t height, size_t width, int channels) {
    memset(img, 0, sizeof *img);
    img->version = PNG_IMAGE_VERSION;
    img->width = (png_uint_32)width;
    img->height = (png_uint_32)height;
    img->format = png_formats[channels];
}

ebm_status ebm_png_write(const char *path, const uint8_t *pixels, size_t height, size_t width, int channels) {
    if (!path || !pixels) return ebm_fail(EBM_EINVAL, "png_write: %s is NULL", !path ? "path" : "pixels");
    if (channels < 1 || channels > 4)
        return ebm_fail(EBM_EINVAL, "%s: PNG needs 1 to 4 channels, not %d", path, channels);
    if (height == 0 || width == 0 || height > PNG_MAX_SIDE || width > PNG_MAX_SIDE)
        return ebm_fail(EBM_EINVAL, "%s: PNG of %zu x %zu pixels (each side must be 1 to %u)", path, width, height,
                        PNG_MAX_SIDE);
    png_image img;
    png_image_for(&img, height, width, channels);
    size_t cap = PNG_IMAGE_PNG_SIZE_MAX(img); /* no overflow: at most ~4e12 with the limits above */
    uint8_t *mem = malloc(cap);
    if (!mem) return ebm_fail(EBM_ENOMEM, "%s: out of memory for a %zu-byte PNG", path, cap);
    png_alloc_size_t size = cap;
    if (!png_image_write_to_memory(&img, mem, &size, 0, pixels, 0, NULL)) {
        ebm_status s = ebm_fail(EBM_EINVAL, "%s: PNG encoding failed (%s)", path, img.message);
        png_image_free(&img);
        free(mem);
        return s;
    }
    ebm_status s = ebm_write_file_atomic(path, mem, size);
    free(mem);
    return s;
}

ebm_status ebm_png_encoded_size(const uint8_t *pixels, size_t height, size_t width, int channels, size_t *bytes) {
    *bytes = 0;
    if (!pixels) return ebm_fail(EBM_EINVAL, "png_encoded_size: pixels is NULL");
    if (channels < 1 || channels > 4) return ebm_fail(EBM_EINVAL, "PNG needs 1 to 4 channels, not %d", channels);
    if (height == 0 || width == 0 || height > PNG_MAX_SIDE || width > PNG_MAX_SIDE)
        return ebm_fail(EBM_EINVAL, "PNG of %zu x %zu pixels (each side must be 1 to %u)", width, height, PNG_MAX_SIDE);
    png_image img;
    png_image_for(&img, height, width, channels);
    png_alloc_size_t size = 0;
    /* with no memory, libpng encodes the image and only counts its bytes */
    if (!png_image_write_to_memory(&img, NULL, &size, 0, pixels, 0, NULL)) {
        ebm_status s = ebm_fail(EBM_EINVAL, "PNG encoding failed (%s)", img.message);
        png_image_free(&img);
        return s;
    }
    *bytes = (size_t)size;
    return EBM_OK;
}

void ebm_grid_opts_default(ebm_grid_opts *o) {
    if (!o) return;
    o->cols = 0;
    o->pad = 1;
    o->zoom = 2;
    o->norm = EBM_GRID_CLAMP;
    o->background = 128;
}

/* The affine map v -> (v - lo) * scale into [0, 255] for one tile; NaN always becomes 0. */
typedef struct tile_map {
    double lo, scale, constant;
    bool is_constant;
} tile_map;

static tile_map make_map(const float *t, size_t n, ebm_grid_norm norm) {
    tile_map m = {0.0, 255.0, 0.0, false};
    if (norm == EBM_GRID_CLAMP) return m;
    double lo = INFINITY, hi = -INFINITY, amax = 0;
    for (size_t i = 0; i < n; i++) {
        double v = t[i];
        if (!isfinite(v)) continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        amax = fabs(v) > amax ? fabs(v) : amax;
    }
    if (norm == EBM_GRID_MINMAX) {
        m.is_constant = !(hi > lo); /* also when no value is finite */
        m.lo = lo;
        m.scale = m.is_constant ? 0 : 255.0 / (hi - lo);
    } else {
        m.is_constant = amax == 0;
        m.constant = 127.5;
        m.lo = -amax;
        m.scale = m.is_constant ? 0 : 127.5 / amax;
    }
    return m;
}

static uint8_t map_value(const tile_map *m, float v) {
    if (isnan(v)) return 0;
    double x = m->is_constant ? m->constant : ((double)v - m->lo) * m->scale;
    if (!(x > 0)) return 0; /* also -inf */
    if (x >= 255) return 255;
    return (uint8_t)(x + 0.5);
}

typedef struct grid_geom {
    size_t cols, rows, tw, th, W, H;
} grid_geom;

static size_t ceil_sqrt(size_t n) {
    size_t c = (size_t)ceil(sqrt((double)n));
    while (c > 1 && (c - 1) * (c - 1) >= n) c--;
    while (c * c < n) c++;
    return c;
}

static ebm_status grid_geometry(size_t n, size_t height, size_t width, const ebm_grid_opts *o, grid_geom *g,
                                const char *path) {
    g->cols = o->cols ? (o->cols < n ? o->cols : n) : ceil_sqrt(n);
    g->rows = (n + g->cols - 1) / g->cols;
    size_t a, b;
    bool ok = ebm_mul_ok(width, o->zoom, &g->tw) && ebm_mul_ok(height, o->zoom, &g->th) &&
              ebm_mul_ok(g->cols, g->tw, &a) && ebm_mul_ok(g->cols - 1, o->pad, &b) &&
              !__builtin_add_overflow(a, b, &g->W) && ebm_mul_ok(g->rows, g->th, &a) &&
              ebm_mul_ok(g->rows - 1, o->pad, &b) && !__builtin_add_overflow(a, b, &g->H);
    if (!ok || g->W > GRID_MAX_SIDE || g->H > GRID_MAX_SIDE)
        return ebm_fail(EBM_EINVAL, "%s: a grid of %zu tiles of %zu x %zu at zoom %zu is larger than %u pixels a side",
                        path, n, width, height, o->zoom, GRID_MAX_SIDE);
    return EBM_OK;
}

/* Draws tile t (height x width floats) at (x0, y0) of the W-wide canvas, each value a zoom x zoom block. */
static void draw_tile(uint8_t *canvas, const grid_geom *g, size_t x0, size_t y0, const float *t, size_t height,
                      size_t width, size_t zoom, const tile_map *m) {
    for (size_t y = 0; y < height; y++) {
        uint8_t *dst = canvas + (y0 + y * zoom) * g->W + x0;
        for (size_t x = 0; x < width; x++) memset(dst + x * zoom, map_value(m, t[y * width + x]), zoom);
        for (size_t z = 1; z < zoom; z++) memcpy(dst + z * g->W, dst, g->tw);
    }
}

ebm_status ebm_png_grid(const char *path, const float *imgs, size_t n, size_t height, size_t width,
                        const ebm_grid_opts *o) {
    ebm_grid_opts opts;
    if (o)
        opts = *o;
    else
        ebm_grid_opts_default(&opts);
    if (!path || !imgs) return ebm_fail(EBM_EINVAL, "png_grid: %s is NULL", !path ? "path" : "images");
    if (n == 0 || height == 0 || width == 0)
        return ebm_fail(EBM_EINVAL, "%s: grid of %zu images of %zu x %zu pixels is empty", path, n, height, width);
    if (opts.zoom == 0) return ebm_fail(EBM_EINVAL, "%s: grid zoom must be at least 1", path);
    if (opts.norm != EBM_GRID_CLAMP && opts.norm != EBM_GRID_MINMAX && opts.norm != EBM_GRID_SYMMETRIC)
        return ebm_fail(EBM_EINVAL, "%s: unknown grid normalisation %d", path, (int)opts.norm);
    size_t per;
    if (!ebm_mul_ok(height, width, &per) || !ebm_mul_ok(per, n, &(size_t){0}))
        return ebm_fail(EBM_EINVAL, "%s: %zu images of %zu x %zu pixels are too many", path, n, height, width);
    grid_geom g = {0};
    ebm_status s = grid_geometry(n, height, width, &opts, &g, path);
    if (s != EBM_OK) return s;
    uint8_t *canvas = malloc(g.W * g.H);
    if (!canvas) return ebm_fail(EBM_ENOMEM, "%s: out of memory for a %zu x %zu grid", path, g.W, g.H);
    memset(canvas, opts.background, g.W * g.H);
    for (size_t i = 0; i < n; i++) {
        const float *t = imgs + i * per;
        tile_map m = make_map(t, per, opts.norm);
        size_t x0 = (i % g.cols) * (g.tw + opts.pad), y0 = (i / g.cols) * (g.th + opts.pad);
        draw_tile(canvas, &g, x0, y0, t, height, width, opts.zoom, &m);
    }
    s = ebm_png_write(path, canvas, g.H, g.W, 1);
    free(canvas);
    return s;
}
