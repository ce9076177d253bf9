/* Option parsing for every subcommand from one table per command: --name value and --name=value,
 * flags, typed values with range checks, choices, positional arguments, and errors that name the
 * option and suggest the closest known one.  Numbers must parse completely ("1e-3" yes, "0.1x" no). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ebm %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_lib_error(const char *cmd, ebm_status s) {
    const char *msg = ebm_last_error();
    /* a failed allocation in the CLI itself sets no message: do not repeat an older, unrelated one */
    if (s == EBM_ENOMEM && (!msg || !strstr(msg, "memory"))) msg = "out of memory";
    fprintf(stderr, "ebm %s: %s\n", cmd, msg && *msg ? msg : ebm_status_name(s));
    return s == EBM_ECANCELED ? 130 : 1;
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name, size_t len) {
    for (const cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static bool parse_double(const char *s, double *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return false;
    *out = v;
    return true;
}

static bool in_range(const cli_opt *o, double v) {
    if (o->lo_open ? !(v > o->lo) : !(v >= o->lo)) return false;
    if (o->hi_open ? !(v < o->hi) : !(v <= o->hi)) return false;
    return true;
}

static void describe_range(const cli_opt *o, char *buf, size_t cap) {
    bool has_lo = isfinite(o->lo), has_hi = isfinite(o->hi);
    if (has_lo && has_hi)
        snprintf(buf, cap, "in %s%g, %g%s", o->lo_open ? "(" : "[", o->lo, o->hi, o->hi_open ? ")" : "]");
    else if (has_lo)
        snprintf(buf, cap, "%s %g", o->lo_open ? ">" : ">=", o->lo);
    else if (has_hi)
        snprintf(buf, cap, "%s %g", o->hi_open ? "<" : "<=", o->hi);
    else
        snprintf(buf, cap, "a number");
}

/* Choice number idx of "a|b|c" (its first *len characters), or NULL when there is none. */
static const char *nth_choice(const char *c, int idx, size_t *len) {
    for (; c && *c && idx > 0; idx--) c = strchr(c, '|') ? strchr(c, '|') + 1 : NULL;
    if (!c || !*c) return NULL;
    *len = strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c);
    return c;
}

static bool set_value(const char *cmd, const cli_opt *o, const char *val) {
    char range[96];
    const char *c;
    double d;
    switch (o->kind) {
    case OPT_FLAG:
        *(bool *)o->dst = true;
        return true;
    case OPT_STR:
    case OPT_OPT_STR:
        if (!*val && o->kind == OPT_STR) return cli_error(cmd, "--%s needs a non-empty value", o->name), false;
        *(const char **)o->dst = val;
        return true;
    case OPT_CHOICE: {
        size_t len;
        for (int idx = 0; (c = nth_choice(o->choices, idx, &len)); idx++)
            if (len == strlen(val) && strncmp(c, val, len) == 0) {
                *(int *)o->dst = idx;
                return true;
            }
        return cli_error(cmd, "--%s: '%s' is not one of %s", o->name, val, o->choices), false;
    }
    case OPT_SIZE:
    case OPT_U64: {
        if (!*val || strchr(val, '-') || strchr(val, '+') || strchr(val, ' '))
            return cli_error(cmd, "--%s: '%s' is not a non-negative whole number", o->name, val), false;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (*end || errno == ERANGE)
            return cli_error(cmd, "--%s: '%s' is not a non-negative whole number", o->name, val), false;
        if (!in_range(o, (double)v)) {
            describe_range(o, range, sizeof range);
            return cli_error(cmd, "--%s must be %s, got %s", o->name, range, val), false;
        }
        if (o->kind == OPT_SIZE) {
            if (v > SIZE_MAX) return cli_error(cmd, "--%s: %s is too large", o->name, val), false;
            *(size_t *)o->dst = (size_t)v;
        } else {
            *(uint64_t *)o->dst = (uint64_t)v;
        }
        return true;
    }
    case OPT_FLOAT:
        if (!parse_double(val, &d)) return cli_error(cmd, "--%s: '%s' is not a finite number", o->name, val), false;
        if (!in_range(o, d)) {
            describe_range(o, range, sizeof range);
            return cli_error(cmd, "--%s must be %s, got %s", o->name, range, val), false;
        }
        *(float *)o->dst = (float)d;
        return true;
    }
    return false;
}

static bool parse(const char *cmd, int argc, char **argv, const cli_opt *opts, const char **positional, size_t max_pos,
                  size_t *n_pos) {
    *n_pos = 0;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*n_pos >= max_pos) {
                if (max_pos == 0) return cli_error(cmd, "unexpected argument '%s'", a), false;
                return cli_error(cmd, "unexpected extra argument '%s'", a), false;
            }
            positional[(*n_pos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (a[1] != '-') return cli_error(cmd, "unknown option '%s' (options are long: --name)", a), false;
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = find_opt(opts, name, len);
        if (!o) {
            const cli_opt *best = NULL;
            size_t bd = 99;
            char want[64];
            snprintf(want, sizeof want, "%.*s", (int)(len < 63 ? len : 63), name);
            for (const cli_opt *c = opts; c->name; c++) {
                size_t d = edit_distance(want, c->name);
                if (d < bd) {
                    bd = d;
                    best = c;
                }
            }
            if (best && bd <= 2)
                return cli_error(cmd, "unknown option '--%s'; did you mean '--%s'?", want, best->name), false;
            return cli_error(cmd, "unknown option '--%s' (see 'ebm %s --help')", want, cmd), false;
        }
        const char *val = NULL;
        if (o->kind == OPT_FLAG) {
            if (eq) return cli_error(cmd, "--%s takes no value", o->name), false;
        } else if (eq) {
            val = eq + 1;
            if (o->kind == OPT_OPT_STR && !*val) return cli_error(cmd, "--%s= needs a value after '='", o->name), false;
        } else if (o->kind == OPT_OPT_STR) {
            val = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "";
        } else {
            if (i + 1 >= argc) return cli_error(cmd, "--%s needs a value (%s)", o->name, o->metavar), false;
            val = argv[++i];
        }
        if (!set_value(cmd, o, val)) return false;
        if (o->seen) *o->seen = true;
    }
    return true;
}

static void default_text(const cli_opt *o, char *buf, size_t cap) {
    buf[0] = '\0';
    switch (o->kind) {
    case OPT_FLAG: break;
    case OPT_SIZE: snprintf(buf, cap, "%zu", *(size_t *)o->dst); break;
    case OPT_U64: snprintf(buf, cap, "%llu", (unsigned long long)*(uint64_t *)o->dst); break;
    case OPT_FLOAT: snprintf(buf, cap, "%g", (double)*(float *)o->dst); break;
    case OPT_STR:
    case OPT_OPT_STR:
        if (*(const char **)o->dst) snprintf(buf, cap, "%s", *(const char **)o->dst);
        break;
    case OPT_CHOICE: {
        size_t len;
        const char *c = nth_choice(o->choices, *(int *)o->dst, &len);
        if (c) snprintf(buf, cap, "%.*s", (int)len, c);
        break;
    }
    }
}

static void help(FILE *f, const char *usage, const char *about, const cli_opt *opts) {
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64], def[128];
        if (o->kind == OPT_FLAG) snprintf(left, sizeof left, "--%s", o->name);
        else if (o->kind == OPT_CHOICE) snprintf(left, sizeof left, "--%s %s", o->name, o->choices);
        else snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "X");
        default_text(o, def, sizeof def);
        if (strlen(left) > 26) {
            fprintf(f, "  %s\n  %-26s  %s", left, "", o->help);
        } else {
            fprintf(f, "  %-26s  %s", left, o->help);
        }
        if (def[0] && !strstr(o->help, "(default")) fprintf(f, " (default %s)", def); /* unless the help says it */
        fputc('\n', f);
    }
    fprintf(f, "  %-26s  %s\n", "--help", "show this help");
}

int cli_start(const char *cmd, int argc, char **argv, const cli_opt *opts, const char *usage, const char *about,
              const char **positional, size_t max_pos, size_t *n_pos) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) break;
        else if (strcmp(argv[i], "--help") == 0) {
            help(stdout, usage, about, opts);
            return 0;
        }
    return parse(cmd, argc, argv, opts, positional, max_pos, n_pos) ? -1 : 2;
}

int cli_start_model(const char *cmd, int argc, char **argv, const cli_opt *opts, const char *usage,
                    const char *about, const char **model_path) {
    size_t npos;
    int rc = cli_start(cmd, argc, argv, opts, usage, about, model_path, 1, &npos);
    if (rc >= 0) return rc;
    if (npos < 1) return cli_error(cmd, "give the model file: %s", usage);
    return -1;
}
