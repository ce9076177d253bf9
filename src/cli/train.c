/* What every `ebm train KIND` shares, in one place: the --data/--out/--log rows and their checks, the log
 * file, the progress display, Ctrl-C, the library's training loop (ebm_run), the provenance metadata, and
 * the save: the model file is written once, atomically, at the end; an interrupted or diverged run saves
 * what it has beside it (NAME.partial.safetensors, marked ebm.train.stopped) and never touches --out.
 * Checkpoints (--checkpoint-every N, and on an interrupt when they are on) go to NAME.ckpt.safetensors:
 * the library's ebm_run_checkpoint plus the length of the --log file then, so that --resume truncates the
 * log to it and appends, and a killed run resumed gives the same model and the same log as one that was
 * never stopped.  The checkpoint is removed once --out is saved.
 * A kind brings its trainer, its figures (progress detail, per-epoch line and log row) and its save.
 * Under mpirun every rank runs this with the same data and options (ebm_run shares each batch out and sums
 * the gradients through ebm_comm_allreduce); rank 0 alone takes the lock, writes the log and saves.  An error
 * that only one rank can see ends the job by MPI_Abort, which is safe because rank 0 has nothing half
 * written at that point (the model file is written atomically, after the run). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_epoch_report(cli_run *r, const ebm_run_progress *p, const cli_fig *f, size_t n) {
    char line[512];
    int used = snprintf(line, sizeof line, "epoch %zu/%zu  %.2f s", p->epoch, p->epochs, p->seconds);
    for (size_t i = 0; i < n; i++)
        if (f[i].line && !isnan(f[i].v) && used >= 0 && (size_t)used < sizeof line)
            used += snprintf(line + used, sizeof line - (size_t)used, f[i].line, f[i].v);
    cli_progress_line(&r->prog, "%s", line);
    if (!r->log) return;
    fprintf(r->log, "%zu,%.4f,%.4f", p->epoch, p->seconds, p->total_seconds);
    for (size_t i = 0; i < n; i++) {
        if (!f[i].log) continue;
        fputc(',', r->log);
        if (!isnan(f[i].v)) fprintf(r->log, f[i].log, f[i].v);
    }
    fputc('\n', r->log);
    fflush(r->log);
}

int cli_train_check(const char *cmd, const cli_train_args *ta) {
    if (!ta->data) return cli_error(cmd, "--data is required (e.g. --data fashion-mnist)");
    if (!ta->out) return cli_error(cmd, "--out is required (where to save the model)");
    if (!cli_check_writable(cmd, "--out", ta->out)) return 1;
    if (ta->log && !cli_check_writable(cmd, "--log", ta->log)) return 1;
    return -1;
}

ebm_status cli_data_meta(ebm_meta *mt, const char *spec, const ebm_dataset *d, const cli_data_args *da) {
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    o.threshold = da->threshold;
    ebm_status s = ebm_scale_parse(da->scale, &o.scale); /* names checked when the data was loaded */
    if (!s && da->binarize) s = ebm_binarize_parse(da->binarize, &o.binarize);
    return s ? s : ebm_meta_set_data(mt, spec, d, &o);
}

/* "dir/m.safetensors" -> "dir/m.WHAT.safetensors": where an interrupted or diverged run saves (partial), where
 * checkpoints go (ckpt). */
static void side_path(const char *out, const char *what, char *buf, size_t cap) {
    const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
    if (dot && (!slash || dot > slash) && dot != out && (!slash || dot > slash + 1))
        snprintf(buf, cap, "%.*s.%s%s", (int)(dot - out), out, what, dot);
    else
        snprintf(buf, cap, "%s.%s", out, what);
}

/* A test hook's update number from the environment (0 = off). */
static size_t env_size(const char *name) {
    const char *v = getenv(name);
    return v && *v ? (size_t)strtoull(v, NULL, 10) : 0;
}

int cli_train_resume(cli_run *r) {
    if (r->resume_read) return -1;
    r->resume_read = true;
    side_path(r->ta->out, "ckpt", r->ckpt, sizeof r->ckpt);
    if (!r->ta->resume) return -1;
    const char *path = r->ta->resume[0] ? r->ta->resume : r->ckpt;
    ebm_status s = ebm_safetensors_read(path, &r->resume);
    if (s) return cli_error(r->cmd, "--resume: %s%s", ebm_last_error(),
                            r->ta->resume[0] ? "" : " (no checkpoint beside --out: was --checkpoint-every given?)");
    const ebm_meta *m = ebm_tensors_meta_const(r->resume);
    const char *step = ebm_meta_get(m, "ebm.checkpoint.step"), *layer = ebm_meta_get(m, "ebm.checkpoint.dbn.layer");
    if (!step) {
        cli_train_end(r);
        return cli_error(r->cmd, "--resume: %s is not a training checkpoint (no ebm.checkpoint.step)", path);
    }
    if (!r->quiet) {
        if (layer) fprintf(stderr, "resuming from %s: layer %zu, after update %s\n", path, (size_t)strtoull(layer, NULL, 10) + 1, step);
        else fprintf(stderr, "resuming from %s after update %s\n", path, step);
    }
    return -1;
}

void cli_train_end(cli_run *r) {
    ebm_tensors_free(r->resume);
    r->resume = NULL;
}

/* Provenance: the data, the loop's and the trainer's settings, the command line (argv joined by spaces). */
static ebm_status record(cli_run *r, ebm_trainer *t, const ebm_run_opts *ro) {
    ebm_meta *mt = r->meta;
    ebm_status s = r->d && r->da ? cli_data_meta(mt, r->ta->data, r->d, r->da) : EBM_OK;
    if (!s) s = ebm_run_describe(t, ro, &r->res, mt);
    if (!s) {
        char buf[4096] = "";
        size_t used = 0;
        for (int i = 0; i < r->argc && used + 1 < sizeof buf; i++) {
            int n = snprintf(buf + used, sizeof buf - used, "%s%s", i ? " " : "", r->argv[i]);
            if (n < 0) break;
            used += (size_t)n;
        }
        s = ebm_meta_setf(mt, "ebm.train.command", "ebm train %s %s", r->kind, buf);
    }
    return s;
}

/* Writes the rows formatted since the last call (the kinds fprintf into r->log, a memory stream) to the
 * log file, each write checked; false (and the run stops) after the first failure, whose reason is kept in
 * r->log_error.  Writing through write(2) here, not stdio, keeps the errno of a failed write. */
static bool log_flushed(cli_run *r) {
    if (!r->log) return true;
    if (r->log_error[0]) return false;
    if (fflush(r->log) != 0) {
        snprintf(r->log_error, sizeof r->log_error, "out of memory");
        return false;
    }
    const char *p = r->log_buf;
    size_t n = r->log_len;
    while (n > 0) {
        ssize_t w = write(r->log_fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(r->log_error, sizeof r->log_error, "%s", w < 0 ? strerror(errno) : "nothing written");
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    rewind(r->log); /* the next rows overwrite these in memory */
    r->log_len = 0;
    return true;
}

static int on_step(const ebm_run_progress *p, void *user) {
    cli_run *r = user;
    if (r->kill_after && p->step == r->kill_after) raise(SIGKILL); /* test hook: a kill before this update's checkpoint */
    r->res.steps_done = p->step;
    char label[64], detail[200], eta[32], more[120] = "";
    bool iters = r->iters;
    double left = p->total_seconds / (double)p->step * (double)(p->steps - p->step);
    cli_format_duration(left, eta, sizeof eta);
    if (r->detail) r->detail(r, p, more, sizeof more);
    if (p->threads < p->threads_max) { /* giving way to other programs (ebm_run_opts.give_way) */
        size_t len = strlen(more);
        snprintf(more + len, sizeof more - len, "%s%d of %d threads", len ? "  " : "", p->threads, p->threads_max);
    }
    if (iters) {
        snprintf(label, sizeof label, "training");
        snprintf(detail, sizeof detail, "it %zu/%zu%s%s, ETA %s", p->step, p->steps, more[0] ? "  " : "", more, eta);
        cli_progress_bar(&r->prog, label, (double)p->step / (double)p->steps, detail);
    } else {
        snprintf(label, sizeof label, "epoch %zu/%zu", p->epoch, p->epochs);
        snprintf(detail, sizeof detail, "%zu/%zu batches%s%s, ETA %s", p->batch, p->batches, more[0] ? ", " : "", more,
                 eta);
        cli_progress_bar(&r->prog, label, (double)p->batch / (double)p->batches, detail);
    }
    if (iters && r->on_iter) r->on_iter(r, p);
    if (!log_flushed(r)) return 1;
    if (iters && r->every && (p->step % r->every == 0 || p->step == p->steps) && !r->prog.tty && r->quiet == false)
        cli_progress_line(&r->prog, "it %zu/%zu%s%s  %.1f s", p->step, p->steps, more[0] ? "  " : "", more,
                          p->total_seconds);
    return cli_interrupted() || (r->stop_after && p->step == r->stop_after) ? 1 : 0;
}

static int on_epoch(const ebm_run_progress *p, void *user) {
    cli_run *r = user;
    r->res.epochs_done = p->epoch;
    if (r->on_epoch) r->on_epoch(r, p);
    if (!log_flushed(r)) return 1;
    return cli_interrupted() ? 1 : 0;
}

/* Opens --log: a fresh log replaces an old one (saying so) at its first line; on --resume the log the checkpoint
 * saw is cut back to its length then (rows written after the checkpoint are written again) and appended to. */
static bool log_open(cli_run *r) {
    const char *path = r->ta->log;
    struct stat st;
    bool existed = stat(path, &st) == 0 && st.st_size > 0;
    const char *v = r->resume ? ebm_meta_get(ebm_tensors_meta_const(r->resume), "ebm.checkpoint.log_bytes") : NULL;
    if (v) {
        long long want = strtoll(v, NULL, 10);
        if (!existed || want < 0 || (long long)st.st_size < want)
            return cli_error(r->cmd, "--log: '%s' is missing or shorter than when the checkpoint was written (%lld bytes)",
                             path, want), false;
        if (truncate(path, (off_t)want))
            return cli_error(r->cmd, "--log: cannot cut '%s' back: %s", path, strerror(errno)), false;
        r->log_append = true;
    }
    int fd;
    if (ebm_log_open(path, r->log_header, r->log_append, &fd)) {
        cli_error(r->cmd, "--log %s", ebm_last_error());
        return false;
    }
    r->log_buf = NULL;
    r->log_len = 0;
    r->log = open_memstream(&r->log_buf, &r->log_len);
    if (!r->log) {
        close(fd);
        cli_error(r->cmd, "--log %s: %s", path, strerror(errno));
        return false;
    }
    r->log_fd = fd;
    r->log_error[0] = '\0';
    if (existed && !r->log_append && !r->quiet) fprintf(stderr, "replaced the old log %s (a fresh run)\n", path);
    return true;
}

/* Writes what is left, syncs and closes the log; false when any of it failed (the reason in log_error). */
static bool log_close(cli_run *r) {
    if (!r->log) return true;
    bool ok = log_flushed(r);
    fclose(r->log);
    free(r->log_buf);
    r->log = NULL;
    r->log_buf = NULL;
    if (ok && fsync(r->log_fd) != 0 && errno != EINVAL && errno != EROFS) {
        snprintf(r->log_error, sizeof r->log_error, "%s", strerror(errno));
        ok = false;
    }
    if (close(r->log_fd) != 0 && ok) {
        snprintf(r->log_error, sizeof r->log_error, "%s", strerror(errno));
        ok = false;
    }
    r->log_fd = -1;
    return ok;
}

/* The checkpoint (and, for a kind's own --checkpoint option, the model so far in NAME.partial); rank 0 alone
 * writes. */
static ebm_status on_checkpoint(ebm_trainer *t, const ebm_run_progress *p, void *user) {
    cli_run *r = user;
    if (ebm_comm_rank(cli_comm()) > 0) return EBM_OK;
    ebm_tensors *ck = NULL;
    ebm_status s = ebm_tensors_new(&ck);
    if (!s) s = r->checkpoint ? r->checkpoint(r, t, ck) : ebm_run_checkpoint(t, ck);
    off_t at = 0;
    if (r->log) at = log_flushed(r) ? lseek(r->log_fd, 0, SEEK_END) : -1;
    if (!s && r->log && at >= 0)
        s = ebm_meta_setf(ebm_tensors_meta(ck), "ebm.checkpoint.log_bytes", "%lld", (long long)at);
    if (!s) s = ebm_meta_set(ebm_tensors_meta(ck), "ebm.model", "checkpoint");
    if (!s && at >= 0) s = ebm_safetensors_write(r->ckpt, ck);
    ebm_tensors_free(ck);
    if (at < 0) cli_progress_line(&r->prog, "warning: checkpoint not written: --log '%s' cannot be written", r->ta->log);
    else if (s) cli_progress_line(&r->prog, "warning: checkpoint not written: %s", ebm_last_error());
    if (r->checkpoint_every) {
        s = ebm_meta_setf(r->meta, "ebm.train.iters_done", "%zu", p->step);
        if (!s) s = r->save(r, r->partial);
        if (s) cli_progress_line(&r->prog, "warning: model so far not written: %s", ebm_last_error());
    }
    return EBM_OK; /* a checkpoint that fails does not stop training */
}

int cli_train_run(cli_run *r, ebm_trainer *t, const ebm_mat *data, const int32_t *labels, ebm_run_opts *ro) {
    const char *cmd = r->cmd;
    side_path(r->ta->out, "partial", r->partial, sizeof r->partial);
    r->iters = ro->iters > 0;
    bool first = !r->resume_read;
    int rc0 = cli_train_resume(r);
    if (rc0 >= 0) return rc0;
    if (first && r->resume) ro->resume = r->resume; /* a DBN's layers: the library says which layer resumes */
    const bool writer = ebm_comm_rank(cli_comm()) == 0;
    ebm_comm_run_opts(cli_comm(), ro);
    r->quiet = r->quiet || !writer;
    /* one writer per --out: a second process is refused before it writes anything (its log included) */
    ebm_lock *lock = NULL;
    if (writer && ebm_lock_output(r->ta->out, &lock)) {
        if (first) cli_train_end(r);
        return cli_error(cmd, "%s", ebm_last_error());
    }
    if (writer && r->ta->log && !log_open(r)) {
        ebm_lock_release(lock);
        if (first) cli_train_end(r);
        return 1;
    }
    r->kill_after = env_size("EBM_TEST_KILL_AFTER");
    r->stop_after = env_size("EBM_TEST_INTERRUPT_AFTER");
    cli_progress_init(&r->prog, r->quiet);
    ro->on_step = on_step;
    ro->on_epoch = on_epoch;
    ro->user = r;
    if (cli_fixed_threads()) ro->give_way = 0;
    size_t every = r->ta->checkpoint_every ? r->ta->checkpoint_every : r->checkpoint_every;
    if (every) {
        ro->checkpoint_every = every;
        ro->on_checkpoint = on_checkpoint;
    }
    cli_install_sigint();
    ebm_status s = ebm_run(t, data, labels, ro, &r->res);
    if (s && s != EBM_ECANCELED && s != EBM_ENAN && ebm_comm_size(cli_comm()) > 1) {
        /* possibly this rank's alone, with the others waiting in an all-reduce: end them all */
        cli_progress_end(&r->prog);
        cli_lib_error(cmd, s);
        if (writer) {
            log_close(r);
            ebm_lock_release(lock);
        }
        ebm_comm_abort(cli_comm(), 1);
    }
    if (!writer) {
        if (first) cli_train_end(r);
        return s == EBM_OK ? 0 : s == EBM_ECANCELED ? 130 : 1;
    }
    int rc = 0;
    bool log_failed = r->log_error[0] != '\0';
    if (s == EBM_ECANCELED || s == EBM_ENAN) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s", ebm_last_error());
        cli_progress_end(&r->prog);
        if (s == EBM_ECANCELED && log_failed)
            fprintf(stderr, "ebm %s: --log %s: write failed: %s; training stopped\n", cmd, r->ta->log, r->log_error);
        else if (s == EBM_ECANCELED) fprintf(stderr, "ebm %s: interrupted (%s)\n", cmd, msg);
        else fprintf(stderr, "ebm %s: %s%s%s\n", cmd, msg, r->nan_hint ? "; " : "", r->nan_hint ? r->nan_hint : "");
        bool by_step = r->iters || ro->rollback == EBM_ROLLBACK_STEP; /* kept: the last good update's model */
        size_t done = by_step ? r->res.steps_done : r->res.epochs_done;
        if (done > 0 || s == EBM_ECANCELED) {
            ebm_status w = ebm_meta_set(r->meta, "ebm.train.stopped", s == EBM_ENAN ? "diverged" : "interrupted");
            if (!w) w = record(r, t, ro);
            if (!w) w = r->save(r, r->partial);
            if (!w)
                fprintf(stderr, "ebm %s: the model so far (%zu %s) is saved in %s; %s was not touched\n", cmd, done,
                        r->iters ? "good iterations" : by_step ? "good batches" : "full epochs", r->partial,
                        r->ta->out);
            else
                fprintf(stderr, "ebm %s: the model so far could not be saved: %s\n", cmd, ebm_last_error());
        }
        rc = s == EBM_ECANCELED && !log_failed ? 130 : 1;
    } else if (s) {
        cli_progress_end(&r->prog);
        rc = cli_lib_error(cmd, s);
    } else if (r->stage) {
        cli_progress_end(&r->prog);
    } else {
        cli_progress_end(&r->prog);
        s = record(r, t, ro);
        if (!s) s = r->save(r, r->ta->out);
        if (!s && (ro->checkpoint_every || r->resume)) unlink(r->ckpt); /* done: nothing left to resume */
        if (s) {
            rc = cli_lib_error(cmd, s);
        } else if (!r->quiet) {
            char dur[32], desc[200] = "";
            cli_format_duration(r->res.seconds, dur, sizeof dur);
            if (r->describe) r->describe(r, desc, sizeof desc);
            if (r->iters)
                fprintf(stderr, "saved %s (%s%s%zu iterations in %s)\n", r->ta->out, desc, desc[0] ? ", " : "",
                        r->res.steps_done, dur);
            else
                fprintf(stderr, "saved %s (%s%s%zu epochs in %s, %.2f s/epoch)\n", r->ta->out, desc, desc[0] ? ", " : "",
                        r->res.epochs_done, dur, r->res.seconds / (double)(r->res.epochs_done ? r->res.epochs_done : 1));
        }
    }
    if (!log_close(r) && !log_failed) {
        fprintf(stderr, "ebm %s: --log %s: write failed: %s\n", cmd, r->ta->log, r->log_error);
        if (rc == 0) rc = 1;
    }
    ebm_lock_release(lock);
    if (first) cli_train_end(r);
    return rc;
}

ebm_status cli_sample_defaults(ebm_meta *mt) { return ebm_meta_set_sample_defaults(mt, 1000, 1.0f, "noise"); }

void cli_cd_args_init(cli_cd_args *a) {
    memset(a, 0, sizeof *a);
    ebm_cd_opts_default(&a->o);
    a->cd_k = 1;
    a->lr_final = -1;
    a->init_std = 0.01f;
}

bool cli_cd_finish(const char *cmd, cli_cd_args *a) {
    if (a->cd_seen && a->pcd_seen) return cli_error(cmd, "give either --cd K or --pcd K, not both"), false;
    a->o.mode = a->pcd_seen ? EBM_PCD : EBM_CD;
    a->o.k = a->pcd_seen ? a->pcd_k : a->cd_k;
    a->o.shuffle = !a->no_shuffle;
    a->o.lr_final = a->lr_final_seen ? a->lr_final : -1;
    if (!cli_precision_check(cmd, a->precision)) return false;
    a->o.precision = (ebm_precision)a->precision;
    return true;
}

cli_text cli_precision_note(int p) {
    cli_text t = {""};
    ebm_precision r;
    if (ebm_precision_resolve((ebm_precision)p, &r) == EBM_OK && r == EBM_PRECISION_BF16)
        snprintf(t.s, sizeof t.s, ", bf16 products");
    return t;
}

bool cli_precision_check(const char *cmd, int p) {
    ebm_precision r;
    ebm_status s = ebm_precision_resolve((ebm_precision)p, &r);
    if (s) return cli_lib_error(cmd, s), false;
    return true;
}
