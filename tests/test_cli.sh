#!/bin/sh
# End-to-end tests of the `ebm` command line on small generated data (no Fashion-MNIST needed):
# train -> info -> eval -> sample round trip with real values checked, and every kind of bad input
# giving a one-line "ebm ..." error, the right exit status, no crash, and no damage to an existing model.
# usage: test_cli.sh PATH/TO/ebm
set -u
EBM=${1:?usage: test_cli.sh PATH/TO/ebm}
T=$(mktemp -d "${TMPDIR:-/tmp}/ebm-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
checks=0
export EBM_NO_REEXEC=1   # keep the process tree simple under the sanitizers

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

# expect STATUS DESCRIPTION -- command...: exit status must match; stderr must hold exactly one error line
# ("ebm CMD: ..." or "ebm: ..."), besides informational lines such as "loaded ...", and no crash report
expect_error() {
    want=$1; what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    ok
    if [ "$got" != "$want" ]; then fail "$what: exit $got, expected $want; stderr: $(cat "$T/err")"; return; fi
    lines=$(grep -c '^ebm[ :]' "$T/err")
    if [ "$lines" -ne 1 ]; then
        fail "$what: expected one 'ebm ...' error line on stderr, got: $(cat "$T/err")"
    fi
    if grep -qi 'sanitizer\|segmentation\|core dumped\|abort' "$T/err"; then fail "$what: crashed: $(cat "$T/err")"; fi
}

expect_ok() {
    what=$1; shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    ok
    [ "$got" = 0 ] || fail "$what: exit $got; stderr: $(cat "$T/err")"
}

contains() { # contains FILE PATTERN DESCRIPTION
    ok
    grep -q -- "$2" "$1" || fail "$3: '$2' not found in: $(cat "$1")"
}

# --- data: noisy copies of 3 prototypes of 12 bits (5% flips); 3x4 images ------------------------
awk 'BEGIN { srand(7); p[0]="111111000000"; p[1]="000000111111"; p[2]="101010101010";
  for (r = 0; r < 300; r++) { k = int(rand() * 3); line = "";
    for (i = 1; i <= 12; i++) { b = substr(p[k], i, 1) + 0; if (rand() < 0.05) b = 1 - b;
      line = line (i > 1 ? "," : "") b }
    print line } }' >"$T/train.csv"
head -n 100 "$T/train.csv" >"$T/test.csv"

# --- help and version ---------------------------------------------------------------------------
expect_ok "ebm --help" -- "$EBM" --help
contains "$T/out" "train rbm" "top-level help"
expect_ok "ebm --version" -- "$EBM" --version
contains "$T/out" "BLAS" "version"
contains "$T/out" "oneDNN: " "version names oneDNN's part (convolutions, bf16)"
# the re-execution sets the OpenMP wait unless the user chose one (the rest of this script runs with
# EBM_NO_REEXEC=1): a brief spin when no other task runs (the running count of /proc/loadavg, here a file given by
# EBM_LOADAVG_FILE, is 1: this process), passive waits when one does or the count cannot be read; a user's own
# choice wins
printf '0.52 0.58 0.59 1/211 4242\n' >"$T/loadavg-quiet"
printf '1.52 1.58 1.59 2/211 4242\n' >"$T/loadavg-busy"
printf 'garbage\n' >"$T/loadavg-bad"
version_reexec() { # version_reexec DESCRIPTION LOADAVG_FILE [VAR=VALUE ...]: ebm --version re-executed
    d=$1 f=$2
    shift 2
    expect_ok "$d" -- env -u EBM_NO_REEXEC -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT EBM_LOADAVG_FILE="$f" "$@" "$EBM" --version
}
version_reexec "ebm --version re-executed, quiet" "$T/loadavg-quiet"
if [ "$(nproc)" -ge 2 ]; then
    contains "$T/out" "wait policy spin GOMP_SPINCOUNT 1000, then sleep" "a quiet machine: brief spin"
else
    contains "$T/out" "wait policy PASSIVE" "one CPU: passive"
fi
version_reexec "ebm --version re-executed, busy" "$T/loadavg-busy"
contains "$T/out" "wait policy PASSIVE" "another task running: passive"
version_reexec "ebm --version re-executed, unreadable load" "$T/loadavg-bad"
contains "$T/out" "wait policy PASSIVE" "unreadable load: passive"
version_reexec "ebm --version re-executed, no load file" "$T/none"
contains "$T/out" "wait policy PASSIVE" "missing load file: passive"
version_reexec "ebm --version, user's spin count" "$T/loadavg-busy" GOMP_SPINCOUNT=77
contains "$T/out" "GOMP_SPINCOUNT 77" "the user's GOMP_SPINCOUNT wins"
expect_ok "ebm --version, user's wait policy" -- env -u EBM_NO_REEXEC OMP_WAIT_POLICY=active "$EBM" --version
contains "$T/out" "wait policy active" "the user's OMP_WAIT_POLICY wins"
for c in "train rbm" sample eval info; do
    # shellcheck disable=SC2086
    expect_ok "ebm $c --help" -- "$EBM" $c --help
    contains "$T/out" "usage: ebm" "help of $c"
done
expect_ok "ebm help sample" -- "$EBM" help sample
contains "$T/out" "--temperature" "help sample"
contains "$T/out" "default 1000" "sample defaults shown"

# --- train, info, eval, sample ------------------------------------------------------------------
expect_ok "train" -- "$EBM" train rbm --data "$T/train.csv" --hidden 8 --epochs 40 --batch 20 --lr 0.1 \
    --lr-final 0 --seed 3 --out "$T/m.safetensors" --log "$T/log.csv"
ok; [ -s "$T/m.safetensors" ] || fail "train wrote no model"
contains "$T/err" "exact LL" "per-epoch exact log-likelihood for 8 hidden units"
contains "$T/err" "saved $T/m.safetensors" "train summary"
ok; [ "$(wc -l <"$T/log.csv")" = 41 ] || fail "log has $(wc -l <"$T/log.csv") lines, expected 41"
contains "$T/log.csv" "epoch,seconds" "log header"
# the final exact log-likelihood is close to the data's entropy bound (about -3.5 nats)
ll=$(tail -n 1 "$T/log.csv" | cut -d, -f8)
ok; awk -v ll="$ll" 'BEGIN { exit !(ll > -4.6 && ll < -3.0) }' || fail "final exact LL $ll not in (-4.6, -3.0)"

expect_ok "info" -- "$EBM" info "$T/m.safetensors"
contains "$T/out" "12 visible x 8 hidden" "info shapes"
# the provenance a model trained from C carries (tests/test_provenance.c checks the same keys) and the CLI's own
for k in ebm.model ebm.data.spec ebm.data.source ebm.data.rows ebm.data.scale ebm.data.binarize ebm.data.threshold \
    ebm.train.trainer ebm.train.epochs ebm.train.batch ebm.train.lr ebm.train.seed ebm.train.seconds \
    ebm.train.threads ebm.train.date ebm.train.method ebm.train.momentum ebm.train.weight_decay ebm.train.grad_clip \
    ebm.sample.steps ebm.sample.temperature ebm.sample.init ebm.train.command ebm.train.init_std; do
    contains "$T/out" "  $k " "RBM provenance key $k"
done
contains "$T/out" "ebm.train.method" "info metadata"
contains "$T/out" "cd-1" "info training method"
expect_ok "info --json" -- "$EBM" info "$T/m.safetensors" --json
contains "$T/out" '"n_hid": 8' "info json"
ok; if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" || fail "info --json is not valid JSON"
fi
expect_ok "info --filters" -- "$EBM" info "$T/m.safetensors" --filters "$T/f.png" --shape 3x4
ok; [ -s "$T/f.png" ] || fail "no filter picture"

expect_ok "eval" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv"
contains "$T/out" "log-likelihood" "eval text"
expect_ok "eval --json" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv" --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || fail "eval --json content: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["rows"] == 100 and r["n_vis"] == 12 and r["n_hid"] == 8, r
assert -4.8 < r["log_likelihood"] < -2.8, r["log_likelihood"]
assert r["pseudo_ll"] < 0 and 0 <= r["recon_mse"] < 0.25, r
EOF
fi
# a short AIS run with few runs says that its interval cannot be trusted
expect_ok "eval --ais short" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv" --ais --ais-runs 20 --ais-betas 3
contains "$T/out" "^warning          the interval may not hold the true log Z: ESS [0-9.]* < 50" "AIS warning printed"
# AIS and reverse AIS agree with the exact log Z of this 12 x 8 model
expect_ok "eval --ais --reverse" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv" --ais --reverse \
    --ais-runs 200 --ais-betas 3000 --seed 4 --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || fail "eval --ais --json content: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
z = r["log_z"]
for k in ("ais", "ais_reverse"):
    a = r[k]
    assert abs(a["log_z"] - z) < 0.05, (k, a["log_z"], z)
    assert a["log_z_lo"] <= z <= a["log_z_hi"], (k, a, z)
    assert abs(a["log_likelihood"] - r["log_likelihood"]) < 0.05, (k, a)
    assert a["log_likelihood_lo"] <= a["log_likelihood"] <= a["log_likelihood_hi"], a
    assert a["runs"] == 200 and a["steps"] == 3000 and 1 <= a["ess"] <= 200, a
    assert a["warning"] is None or a["ess"] < 50 or a["log_w_sd"] > 2, a
EOF
fi
expect_ok "eval --ais text" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv" --ais --ais-betas 100
contains "$T/out" "(AIS), interval" "eval AIS text"
contains "$T/out" "conservative" "eval AIS conservative reading"
contains "$T/err" "AIS: log Z" "AIS progress summary"
expect_error 2 "ais runs 0" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv" --ais --ais-runs 0
expect_error 2 "ais betas 2" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv" --ais --ais-betas 2
expect_error 1 "reverse without ais" -- "$EBM" eval "$T/m.safetensors" --data "$T/test.csv" --reverse
# default data: the spec recorded in the model
expect_ok "eval with recorded data" -- "$EBM" eval "$T/m.safetensors"
contains "$T/out" "300 rows" "eval default data"

expect_ok "sample" -- "$EBM" sample "$T/m.safetensors" --n 10 --steps 50 --shape 3x4 --png "$T/s.png" \
    --npy "$T/s.npy" --csv "$T/s.csv"
ok; [ -s "$T/s.png" ] && [ -s "$T/s.npy" ] || fail "sample outputs missing"
ok; [ "$(wc -l <"$T/s.csv")" = 10 ] || fail "sample CSV has $(wc -l <"$T/s.csv") lines, expected 10"
contains "$T/err" "1 from noise" "sample settings printed" # "... at T = 1 from noise"
expect_ok "sample binary from data" -- "$EBM" sample "$T/m.safetensors" --n 5 --steps 3 --init data --binary --csv "$T/b.csv"
ok; awk -F, '{ for (i = 1; i <= NF; i++) if ($i != 0 && $i != 1) bad = 1 } END { exit bad }' "$T/b.csv" ||
    fail "--binary samples are not 0/1"
# --precision: bf16 products (oneDNN) train and sample as well as fp32 on this 12 x 8 model; AIS accepts it
# (and computes in fp32, tests/test_precision.c)
expect_error 2 "bad precision" -- "$EBM" train rbm --data "$T/train.csv" --precision fp16 --out "$T/x.safetensors"
"$EBM" train rbm --data "$T/train.csv" --hidden 8 --epochs 40 --batch 20 --lr 0.1 --lr-final 0 --seed 3 \
    --precision bf16 --out "$T/m16.safetensors" --log "$T/log16.csv" >"$T/out" 2>"$T/err"
rc=$?
ok
have_bf16=1
if [ "$rc" != 0 ] && grep -q "oneDNN" "$T/err"; then
    have_bf16=0
    echo "bf16 precision not built in: bf16 CLI checks skipped"
    expect_ok "auto precision without oneDNN" -- "$EBM" sample "$T/m.safetensors" --n 2 --steps 2 --precision auto --csv "$T/a.csv"
else
    [ "$rc" = 0 ] || fail "train --precision bf16: exit $rc; $(cat "$T/err")"
    contains "$T/err" "bf16 products" "bf16 training announced"
    ll=$(tail -n 1 "$T/log16.csv" | cut -d, -f8)
    ok; awk -v ll="$ll" 'BEGIN { exit !(ll > -4.6 && ll < -3.0) }' || fail "bf16 final exact LL $ll not in (-4.6, -3.0)"
    expect_ok "info bf16" -- "$EBM" info "$T/m16.safetensors"
    contains "$T/out" "ebm.train.precision *bf16" "bf16 provenance"
    expect_ok "eval --ais bf16" -- "$EBM" eval "$T/m16.safetensors" --data "$T/test.csv" --ais --ais-runs 200 \
        --ais-betas 3000 --seed 4 --json --precision bf16
    ok; if command -v python3 >/dev/null 2>&1; then
        python3 - "$T/out" <<'EOF' || fail "eval --ais --precision bf16 content: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert abs(r["ais"]["log_z"] - r["log_z"]) < 0.05, (r["ais"], r["log_z"])
EOF
    fi
    expect_ok "sample bf16" -- "$EBM" sample "$T/m16.safetensors" --n 10 --steps 50 --precision bf16 --csv "$T/s16.csv"
    ok; [ "$(wc -l <"$T/s16.csv")" = 10 ] || fail "bf16 sample CSV has $(wc -l <"$T/s16.csv") lines"
fi
# samples feed back in as data (NPY reader)
expect_ok "train on npy" -- "$EBM" train rbm --data "$T/s.npy" --hidden 3 --epochs 2 --batch 5 --out "$T/m2.safetensors"
# reproducible: the same seed gives the same file contents except the provenance
expect_ok "sample again" -- "$EBM" sample "$T/m.safetensors" --n 10 --steps 50 --csv "$T/s2.csv"
# a model file's sampling defaults obey the bounds of the options they stand in for (--steps <= 1e9): a
# hostile ebm.sample.steps is ignored with a warning instead of running until killed
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/m.safetensors" "$T/msteps.safetensors" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h['__metadata__']['ebm.sample.steps'] = '1000000000000000'
j = json.dumps(h).encode()
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(j)) + j + b[8 + n:])
EOF
    expect_ok "sample with a hostile ebm.sample.steps" -- timeout 60 "$EBM" sample "$T/msteps.safetensors" --n 2 --csv "$T/x.csv"
    contains "$T/err" "ignoring the model file's ebm.sample.steps = 1000000000000000: outside --steps's bounds" \
        "hostile steps default named"
    contains "$T/err" "x 1000 sweeps" "the default 1000 sweeps used"
fi
ok; cmp -s "$T/s.csv" "$T/s2.csv" || fail "sampling with the same seed is not reproducible"
expect_ok "sample with 1 thread" -- "$EBM" --threads 1 sample "$T/m.safetensors" --n 10 --steps 50 --csv "$T/s3.csv"
ok; cmp -s "$T/s.csv" "$T/s3.csv" || fail "sampling on 1 thread differs from the default thread count"
# a run that keeps its thread count (no giving way to other programs: ebm_run_opts.give_way) trains the same model
expect_ok "train --fixed-threads" -- "$EBM" --fixed-threads train rbm --data "$T/train.csv" --hidden 8 --epochs 40 \
    --batch 20 --lr 0.1 --lr-final 0 --seed 3 --out "$T/mfixed.safetensors"
expect_ok "sample the --fixed-threads model" -- "$EBM" sample "$T/mfixed.safetensors" --n 10 --steps 50 --csv "$T/s4.csv"
ok; cmp -s "$T/s3.csv" "$T/s4.csv" || fail "a model trained with --fixed-threads differs"
expect_ok "EBM_FIXED_THREADS=1" -- env EBM_FIXED_THREADS=1 "$EBM" --help
contains "$T/out" "--fixed-threads" "global option documented"

# --- bad input -----------------------------------------------------------------------------------
cp "$T/m.safetensors" "$T/good.safetensors"
expect_error 1 "missing model" -- "$EBM" info "$T/nope.safetensors"
contains "$T/err" "nope.safetensors" "missing file named"
printf 'this is not a model' >"$T/junk.safetensors"
expect_error 1 "junk model" -- "$EBM" info "$T/junk.safetensors"
head -c 120 "$T/m.safetensors" >"$T/trunc.safetensors"
expect_error 1 "truncated model" -- "$EBM" eval "$T/trunc.safetensors" --data "$T/test.csv"
expect_error 1 "missing data" -- "$EBM" train rbm --data "$T/none.csv" --out "$T/x.safetensors"
expect_error 1 "missing dataset package or bad name" -- "$EBM" train rbm --data fashion-mnist:nope --out "$T/x.safetensors"
printf '1,0,1\n0,1\n' >"$T/ragged.csv"
expect_error 1 "ragged csv" -- "$EBM" train rbm --data "$T/ragged.csv" --out "$T/x.safetensors"
printf '1,0,3\n0,1,1\n' >"$T/range.csv"
expect_error 1 "values outside [0,1]" -- "$EBM" train rbm --data "$T/range.csv" --out "$T/x.safetensors"
contains "$T/err" "minmax" "range error suggests a fix"
printf '\x93NUMPY\x01\x00\x10\x00{garbage}\n' >"$T/bad.npy"
expect_error 1 "bad npy" -- "$EBM" train rbm --data "$T/bad.npy" --out "$T/x.safetensors"
printf '\x00\x00\x08\x02\x00\x00\x00\x05\x00\x00\x00\x04\x01\x02' >"$T/trunc.idx"
expect_error 1 "truncated idx" -- "$EBM" train rbm --data "$T/trunc.idx" --out "$T/x.safetensors"
head -n 20 "$T/train.csv" | cut -d, -f1-11 >"$T/narrow.csv"
expect_error 1 "shape mismatch" -- "$EBM" eval "$T/m.safetensors" --data "$T/narrow.csv"
contains "$T/err" "11 columns" "shape mismatch named"
expect_error 2 "unknown option" -- "$EBM" train rbm --data "$T/train.csv" --hiden 4 --out "$T/x.safetensors"
contains "$T/err" "did you mean '--hidden'" "suggestion"
expect_error 2 "negative learning rate" -- "$EBM" train rbm --data "$T/train.csv" --lr -1 --out "$T/x.safetensors"
expect_error 2 "non-numeric value" -- "$EBM" train rbm --data "$T/train.csv" --lr abc --out "$T/x.safetensors"
expect_error 2 "zero epochs" -- "$EBM" train rbm --data "$T/train.csv" --epochs 0 --out "$T/x.safetensors"
expect_error 2 "momentum 1" -- "$EBM" train rbm --data "$T/train.csv" --momentum 1 --out "$T/x.safetensors"
expect_error 2 "missing value" -- "$EBM" train rbm --data "$T/train.csv" --out
expect_error 1 "both cd and pcd" -- "$EBM" train rbm --data "$T/train.csv" --cd 1 --pcd 1 --out "$T/x.safetensors"
expect_error 1 "missing --out" -- "$EBM" train rbm --data "$T/train.csv"
expect_error 1 "output directory missing" -- "$EBM" train rbm --data "$T/train.csv" --out "$T/no/dir/m.safetensors"
expect_error 1 "unknown model kind" -- "$EBM" train gizmo --data "$T/train.csv"
expect_error 2 "unknown command" -- "$EBM" frobnicate
expect_error 2 "bad thread count" -- "$EBM" --threads 0 info "$T/m.safetensors"
expect_error 2 "zero temperature" -- "$EBM" sample "$T/m.safetensors" --temperature 0 --csv "$T/x.csv"
expect_error 1 "nothing to write" -- "$EBM" sample "$T/m.safetensors"
expect_error 1 "bad shape" -- "$EBM" sample "$T/m.safetensors" --png "$T/x.png" --shape 5x5
# a diverging run reports, does not touch the existing model, and keeps the last good epoch aside
expect_error 1 "divergence" -- "$EBM" train rbm --data "$T/train.csv" --hidden 8 --epochs 3 --batch 10 --lr 1e38 \
    --momentum 0.9 --out "$T/m.safetensors"
contains "$T/err" "diverged" "divergence message"
ok; cmp -s "$T/m.safetensors" "$T/good.safetensors" || fail "a diverged run changed the existing model"
# interrupting a run keeps the old model and saves the partial one beside it
awk 'BEGIN { srand(3); for (r = 0; r < 20000; r++) { l = ""; for (i = 0; i < 64; i++) l = l (i ? "," : "") int(rand() < 0.3); print l } }' >"$T/big.csv"
"$EBM" train rbm --data "$T/big.csv" --hidden 64 --epochs 100000 --out "$T/m.safetensors" >/dev/null 2>"$T/err" &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q "training RBM" "$T/err"; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill -INT $pid
wait $pid
got=$?
ok; [ "$got" = 130 ] || fail "interrupted training exited $got, expected 130: $(cat "$T/err")"
ok; cmp -s "$T/m.safetensors" "$T/good.safetensors" || fail "an interrupted run changed the existing model"
ok; [ -s "$T/m.partial.safetensors" ] || fail "no partial model after an interrupt: $(cat "$T/err")"
expect_ok "partial model loads" -- "$EBM" info "$T/m.partial.safetensors"
contains "$T/out" "interrupted" "partial model marked"

# score takes no --scale: out-of-range data get advice it can follow; a one-line CSV of numbers is data
printf '0,1,0,1,1,0,0,1,1,0,1,3\n' >"$T/range12.csv"
expect_error 1 "score data outside [0,1]" -- "$EBM" score "$T/good.safetensors" --data "$T/range12.csv"
ok; grep -q -- "--scale minmax" "$T/err" && fail "score suggested --scale, which it does not take: $(cat "$T/err")"
contains "$T/err" "data are scaled as the model's training data were" "score range advice"
printf '0,1,0,1,1,0,0,1,1,0,1,0\n' >"$T/one.csv"
expect_ok "score a one-line CSV" -- "$EBM" score "$T/good.safetensors" --data "$T/one.csv" --out "$T/one_sc.csv"
contains "$T/err" "loaded 1 x 12" "one-line CSV of numbers is one row"
ok; [ "$(wc -l <"$T/one_sc.csv")" = 2 ] || fail "one-line CSV scored $(wc -l <"$T/one_sc.csv") lines, expected 2"
printf '0 1 0 1 1 0 0 1 1 0 1 0\n' >"$T/spaces.csv"
expect_error 1 "a one-line CSV that is not numbers" -- "$EBM" score "$T/good.safetensors" --data "$T/spaces.csv"
contains "$T/err" "no data rows: its only line was read as a header of 1 column" "header-only CSV explained"

# --- writes: a failed write (a file-size limit standing in for a full disk) says so, exits 1 and leaves
# the old file; no temporary file is left; a fresh run's --log replaces the old one and says so; two runs
# writing one --out: the second is refused --------------------------------------------------------------
expect_ok "score --out" -- "$EBM" score "$T/good.safetensors" --data "$T/test.csv" --out "$T/sc.csv"
cp "$T/sc.csv" "$T/sc.old"
# limited: runs "$@" under a file-size limit of $1 blocks with SIGXFSZ ignored; its stderr reaches $T/err through
# a pipe (the limit would cut a file short), its exit status $got
limited() {
    blocks=$1; shift
    { (trap '' XFSZ; ulimit -f "$blocks"; exec "$@") 2>&1 >/dev/null; echo $? >"$T/rc"; } | cat >"$T/err"
    got=$(cat "$T/rc")
}
limited 2 "$EBM" score "$T/good.safetensors" --data "$T/train.csv" --out "$T/sc.csv"
ok; [ "$got" = 1 ] || fail "score --out past the size limit exited $got: $(cat "$T/err")"
contains "$T/err" "sc.csv.*File too large" "score --out write error named"
ok; cmp -s "$T/sc.csv" "$T/sc.old" || fail "a failed score --out changed the old CSV"
cp "$T/good.safetensors" "$T/lg.safetensors"
printf 'old log line\n' >"$T/lg.csv"
limited 1 "$EBM" train rbm --data "$T/train.csv" --hidden 2 --epochs 200 --batch 300 --out "$T/lg.safetensors" \
    --log "$T/lg.csv"
ok; [ "$got" = 1 ] || fail "train with a failing --log exited $got: $(cat "$T/err")"
contains "$T/err" "ebm train rbm: --log $T/lg.csv: write failed: File too large; training stopped" "--log write error"
ok; cmp -s "$T/lg.safetensors" "$T/good.safetensors" || fail "a run stopped by its log changed --out"
ok; head -n 1 "$T/lg.csv" | grep -q '^epoch,' || fail "the fresh log did not replace the old one: $(head -n 2 "$T/lg.csv")"
expect_ok "train replacing a log" -- "$EBM" train rbm --data "$T/train.csv" --hidden 2 --epochs 3 --out "$T/lg.safetensors" --log "$T/lg.csv"
contains "$T/err" "replaced the old log $T/lg.csv" "a fresh run says it replaces the log"
ok; [ "$(wc -l <"$T/lg.csv")" = 4 ] || fail "replaced log has $(wc -l <"$T/lg.csv") lines, expected 4"
ok; ls -a "$T" | grep -q '\.tmp\.' && fail "temporary files left: $(ls -a "$T" | grep '\.tmp\.')"
"$EBM" train rbm --data "$T/big.csv" --hidden 64 --epochs 100000 --out "$T/lk.safetensors" >/dev/null 2>"$T/err1" &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q "training RBM" "$T/err1"; do sleep 0.1; i=$((i + 1)); done
expect_error 1 "second writer of one --out" -- "$EBM" train rbm --data "$T/train.csv" --hidden 2 --epochs 1 --out "$T/lk.safetensors"
contains "$T/err" "ebm train rbm: $T/lk.safetensors is being written by another process (pid $pid)" "second writer refused"
kill -INT $pid
wait $pid
ok; [ ! -e "$T/.lk.safetensors.lock" ] || fail "lock file left after the run"
expect_ok "writer after the lock is released" -- "$EBM" train rbm --data "$T/train.csv" --hidden 2 --epochs 1 --out "$T/lk.safetensors"

# --- Gaussian-Bernoulli RBM: continuous data, 4x4 images of 3 stripe patterns plus noise ----------
awk 'BEGIN { srand(5); for (r = 0; r < 400; r++) { k = int(rand() * 3); l = "";
  for (i = 0; i < 16; i++) { c = (i % 3 == k) ? 0.8 : 0.2; x = c + 0.1 * (rand() + rand() + rand() - 1.5);
    l = l (i ? "," : "") x } print l } }' >"$T/g.csv"
head -n 100 "$T/g.csv" >"$T/gtest.csv"
expect_ok "train grbm --help" -- "$EBM" train grbm --help
contains "$T/out" "gibbs-langevin" "train grbm help"
expect_ok "train grbm" -- "$EBM" train grbm --data "$T/g.csv" --hidden 8 --cd 10 --epochs 8 --batch 50 --lr 0.05 \
    --seed 2 --out "$T/g.safetensors" --log "$T/glog.csv"
contains "$T/err" "exact LL" "grbm per-epoch exact log-likelihood"
ok; [ "$(wc -l <"$T/glog.csv")" = 9 ] || fail "grbm log has $(wc -l <"$T/glog.csv") lines, expected 9"
first=$(sed -n 2p "$T/glog.csv" | cut -d, -f7); last=$(tail -n 1 "$T/glog.csv" | cut -d, -f7)
ok; awk -v a="$first" -v b="$last" 'BEGIN { exit !(b > a + 2) }' || fail "grbm exact LL did not improve: $first -> $last"
expect_ok "info grbm" -- "$EBM" info "$T/g.safetensors"
contains "$T/out" "Gaussian-Bernoulli RBM, 16 visible x 8 hidden" "info grbm kind"
contains "$T/out" "data_std" "info grbm standardisation"
contains "$T/out" "ebm.sample.sampler" "info grbm sampling defaults"
expect_ok "eval grbm" -- "$EBM" eval "$T/g.safetensors" --data "$T/gtest.csv" --ais --ais-steps 500 --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || fail "eval grbm --json content: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["kind"] == "grbm" and r["rows"] == 100 and r["n_hid"] == 8, r
assert abs(r["ais_log_z"] - r["log_z"]) < 0.3, r
assert r["log_likelihood"] > 0, r   # a density over a small range of pixel values
EOF
fi
for smp in gibbs langevin gibbs-langevin; do
    expect_ok "sample grbm $smp" -- "$EBM" sample "$T/g.safetensors" --sampler $smp --n 20 --steps 30 \
        --png "$T/g_$smp.png" --npy "$T/g_$smp.npy"
    ok; [ -s "$T/g_$smp.png" ] && [ -s "$T/g_$smp.npy" ] || fail "grbm $smp outputs missing"
done
expect_ok "sample grbm mh + mmd" -- "$EBM" sample "$T/g.safetensors" --sampler gibbs-langevin --mh --n 50 \
    --steps 30 --csv "$T/gs.csv" --mmd-data "$T/gtest.csv"
contains "$T/err" "acceptance rate" "grbm acceptance rate printed"
contains "$T/out" "mmd2" "grbm mmd printed"
contains "$T/out" "median heuristic" "grbm mmd bandwidth named"
expect_ok "sample grbm mh-after" -- "$EBM" sample "$T/g.safetensors" --mh --mh-after 5 --n 10 --steps 20 --csv "$T/x.csv"
contains "$T/err" "over the last 15" "grbm mh-after phases"
expect_error 1 "grbm mh-after without mh" -- "$EBM" sample "$T/g.safetensors" --mh-after 5 --csv "$T/x.csv"
# GRBM --precision: fp32 recorded by default; bf16 chains train a model as good and sample; bad values exit 2
expect_ok "info grbm precision" -- "$EBM" info "$T/g.safetensors"
contains "$T/out" "ebm.train.precision *fp32" "grbm fp32 provenance"
expect_error 2 "grbm bad precision" -- "$EBM" sample "$T/g.safetensors" --precision fp16 --csv "$T/x.csv"
expect_error 2 "train grbm bad precision" -- "$EBM" train grbm --data "$T/g.csv" --precision half --out "$T/x.safetensors"
if [ "$have_bf16" = 1 ]; then
    expect_ok "train grbm bf16" -- "$EBM" train grbm --data "$T/g.csv" --hidden 8 --cd 10 --epochs 8 --batch 50 \
        --lr 0.05 --seed 2 --precision bf16 --out "$T/g16.safetensors" --log "$T/glog16.csv"
    contains "$T/err" "bf16 products" "grbm bf16 training announced"
    l32=$(tail -n 1 "$T/glog.csv" | cut -d, -f7); l16=$(tail -n 1 "$T/glog16.csv" | cut -d, -f7)
    ok; awk -v a="$l32" -v b="$l16" 'BEGIN { d = a - b; exit !(d < 0.3 && d > -0.3) }' ||
        fail "grbm bf16 exact LL $l16 against fp32 $l32"
    expect_ok "info grbm bf16" -- "$EBM" info "$T/g16.safetensors"
    contains "$T/out" "ebm.train.precision *bf16" "grbm bf16 provenance"
    expect_ok "sample grbm bf16" -- "$EBM" sample "$T/g16.safetensors" --mh --n 20 --steps 20 --precision bf16 \
        --csv "$T/g16s.csv"
    contains "$T/err" "bf16 products" "grbm bf16 sampling announced"
    ok; [ "$(wc -l <"$T/g16s.csv")" = 20 ] || fail "grbm bf16 sample CSV has $(wc -l <"$T/g16s.csv") lines"
fi
ok; awk -F, '{ for (i = 1; i <= NF; i++) if ($i < -0.5 || $i > 1.5) bad = 1 } END { exit bad }' "$T/gs.csv" ||
    fail "grbm samples are not in pixel units"
expect_ok "sample grbm 1 thread" -- "$EBM" --threads 1 sample "$T/g.safetensors" --sampler gibbs-langevin --mh \
    --n 50 --steps 30 --csv "$T/gs1.csv"
ok; cmp -s "$T/gs.csv" "$T/gs1.csv" || fail "grbm sampling on 1 thread differs"
expect_error 1 "grbm bad sampler (train)" -- "$EBM" train grbm --data "$T/g.csv" --sampler gibs --out "$T/x.safetensors"
contains "$T/err" "unknown sampler 'gibs'" "bad sampler named"
expect_error 1 "grbm bad sampler (sample)" -- "$EBM" sample "$T/g.safetensors" --sampler hmc --csv "$T/x.csv"
expect_error 2 "grbm zero eta" -- "$EBM" sample "$T/g.safetensors" --eta 0 --csv "$T/x.csv"
expect_error 2 "grbm rbm-only option" -- "$EBM" sample "$T/g.safetensors" --binary --csv "$T/x.csv"
expect_error 1 "grbm nothing to write" -- "$EBM" sample "$T/g.safetensors"
expect_error 1 "grbm burn-in >= K" -- "$EBM" train grbm --data "$T/g.csv" --cd 5 --burn-in 5 --out "$T/x.safetensors"
expect_error 1 "grbm missing data" -- "$EBM" train grbm --out "$T/x.safetensors"
expect_error 1 "grbm shape mismatch" -- "$EBM" eval "$T/g.safetensors" --data "$T/test.csv"
expect_error 1 "grbm exact on too many hidden" -- "$EBM" train grbm --data "$T/g.csv" --hidden 30 --exact on --out "$T/x.safetensors"
expect_error 1 "grbm file as training data" -- "$EBM" train rbm --data "$T/g.safetensors" --out "$T/x.safetensors"
head -c 200 "$T/g.safetensors" >"$T/gcut.safetensors"
expect_error 1 "truncated grbm" -- "$EBM" sample "$T/gcut.safetensors" --csv "$T/x.csv"

# --- energy networks: train ebm, sample with every sampler, info, landscape, inpaint, denoise --------
expect_ok "train ebm toy" -- "$EBM" train ebm --data toy:8gaussians --limit 2000 --net linear:32,silu,linear:1 \
    --iters 60 --batch 64 --buffer 500 --sampler ula --steps 5 --step-size 0.05 --every 20 \
    --out "$T/e.safetensors" --log "$T/e.csv" --samples "$T/e.png"
ok; [ -s "$T/e.safetensors" ] && [ -s "$T/e.png" ] || fail "train ebm wrote no model or picture"
ok; [ "$(wc -l <"$T/e.csv")" = 61 ] || fail "train ebm log has $(wc -l <"$T/e.csv") lines, expected 61"
contains "$T/e.csv" "iter,seconds,loss" "train ebm log header"
contains "$T/err" "it 60/60" "train ebm progress"
expect_ok "info of the net" -- "$EBM" info "$T/e.safetensors"
for k in ebm.model ebm.data.spec ebm.data.source ebm.data.rows ebm.data.scale ebm.train.trainer ebm.train.iters \
    ebm.train.iters_done ebm.train.batch ebm.train.lr ebm.train.seed ebm.train.seconds ebm.train.date \
    ebm.train.method ebm.train.sampler ebm.train.steps ebm.train.step_size ebm.train.noise ebm.train.alpha \
    ebm.sample.sampler ebm.sample.steps ebm.sample.step_size ebm.sample.noise ebm.train.command; do
    contains "$T/out" "  $k " "network provenance key $k"
done
expect_ok "info net" -- "$EBM" info "$T/e.safetensors"
contains "$T/out" "energy network, 2 inputs" "info net kind"
contains "$T/out" "linear:32" "info net layers"
contains "$T/out" "ebm.sample.sampler" "info net metadata"
expect_ok "sample net" -- "$EBM" sample "$T/e.safetensors" --n 40 --steps 10 --csv "$T/es.csv" --png "$T/es.png"
ok; [ "$(wc -l <"$T/es.csv")" = 40 ] && [ -s "$T/es.png" ] || fail "sample net outputs"
for s in sgld mala hmc rwm; do
    expect_ok "sample net $s" -- "$EBM" sample "$T/e.safetensors" --sampler $s --n 20 --steps 5 --step-size 0.05 \
        --npy "$T/es_$s.npy"
    ok; [ -s "$T/es_$s.npy" ] || fail "sample net $s wrote nothing"
done
contains "$T/err" "acceptance" "MH acceptance printed"
expect_ok "sample net again" -- "$EBM" --threads 1 sample "$T/e.safetensors" --n 40 --steps 10 --csv "$T/es1.csv"
ok; cmp -s "$T/es.csv" "$T/es1.csv" || fail "net sampling differs between runs / thread counts"
expect_ok "landscape" -- "$EBM" landscape "$T/e.safetensors" --png "$T/land.png" --samples 50
ok; [ -s "$T/land.png" ] || fail "landscape wrote nothing"
expect_error 2 "net bad sampler" -- "$EBM" sample "$T/e.safetensors" --sampler gibbs --csv "$T/x.csv"
contains "$T/err" "unknown sampler 'gibbs'" "net bad sampler named"
expect_error 2 "net mala clip" -- "$EBM" sample "$T/e.safetensors" --sampler mala --clip-lo -1 --clip-hi 1 --csv "$T/x.csv"
expect_error 2 "net bad spec" -- "$EBM" train ebm --data toy:moons --net linear:0 --out "$T/x.safetensors"
expect_error 1 "net not an energy" -- "$EBM" train ebm --data toy:moons --net linear:3 --out "$T/x.safetensors"
expect_error 2 "net bad negatives" -- "$EBM" train ebm --data toy:moons --negatives sometimes --out "$T/x.safetensors"
expect_error 1 "net unknown toy" -- "$EBM" train ebm --data toy:spiral --out "$T/x.safetensors"
expect_error 1 "inpaint 2-D model" -- "$EBM" inpaint "$T/e.safetensors" --png "$T/x.png"
expect_error 1 "landscape of an RBM" -- "$EBM" landscape "$T/m.safetensors" --png "$T/x.png"
# divergence keeps the last good parameters apart and never touches --out
cp "$T/e.safetensors" "$T/keep.safetensors"
"$EBM" train ebm --data toy:moons --limit 500 --net linear:8,silu,linear:1 --iters 50 --batch 32 --buffer 64 \
    --steps 2 --optimizer sgd --lr 1e6 --out "$T/keep.safetensors" >"$T/out" 2>"$T/err"
rc=$?
ok; [ $rc = 1 ] || fail "diverging train ebm: exit status $rc"
contains "$T/err" "diverged" "divergence reported"
ok; cmp -s "$T/e.safetensors" "$T/keep.safetensors" || fail "a diverged run changed --out"
ok; [ -s "$T/keep.partial.safetensors" ] || fail "no partial model after divergence"
# 8x8 images (IDX, u8): train a tiny image energy, then inpaint and denoise
LC_ALL=C awk 'BEGIN { printf "%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c", 0, 0, 8, 3, 0, 0, 0, 200, 0, 0, 0, 8, 0, 0, 0, 8;
  srand(3); for (r = 0; r < 200; r++) { k = int(rand() * 2);
    for (y = 0; y < 8; y++) for (x = 0; x < 8; x++) { v = (k ? (x >= 2 && x <= 5) : (y >= 2 && y <= 5)) ? 230 : 20;
      printf "%c", v } } }' >"$T/img.idx"
expect_ok "train ebm images" -- "$EBM" train ebm --data "$T/img.idx" --net flatten,linear:32,silu,linear:1 \
    --iters 40 --batch 32 --buffer 100 --steps 5 --out "$T/ei.safetensors" --samples "$T/ei.png"
contains "$T/err" "200 x 64" "image data loaded"
ok; [ -s "$T/ei.png" ] || fail "no image samples picture"
# images' defaults (docs/ebm.md): short-run proximal SGLD, step 10, prox 0.3, noise 0.005, data noise 0.005,
# chains clipped to the data's range; what the command line gives wins
expect_ok "info image energy" -- "$EBM" info "$T/ei.safetensors"
for kv in "ebm.train.method *lcd-short-run" "ebm.train.step_size *10$" "ebm.train.noise *0.005" \
    "ebm.train.prox *0.3" "ebm.train.data_noise *0.005" "ebm.train.steps *5$" "ebm.sample.clip_lo *-0.84" \
    "ebm.sample.prox *0.3"; do
    ok; grep -q "  $kv" "$T/out" || fail "image energy defaults: no '$kv'"
done
expect_ok "train ebm images, options given" -- "$EBM" train ebm --data "$T/img.idx" --net flatten,linear:8,silu,linear:1 \
    --iters 2 --batch 16 --buffer 100 --negatives buffer --prox 0 --data-noise 0 --step-size 1 --out "$T/eib.safetensors"
expect_ok "info image energy, options given" -- "$EBM" info "$T/eib.safetensors"
contains "$T/out" "ebm.train.method           lcd-buffer" "--negatives given wins"
contains "$T/out" "ebm.train.step_size        1$" "--step-size given wins"
ok; ! grep -q "ebm.train.prox\|ebm.train.data_noise" "$T/out" || fail "--prox 0 / --data-noise 0 given did not win"
# a JEM of images (the same 8x8 images as a fake fashion-mnist, labelled by prototype): its own defaults
# (docs/jem.md): class negatives from Gaussian starts, gen-weight 0.05, Adam 1e-3, train ebm's image sampler
mkdir -p "$T/fm"
cp "$T/img.idx" "$T/fm/train-images-idx3-ubyte"
LC_ALL=C awk 'BEGIN { printf "%c%c%c%c%c%c%c%c", 0, 0, 8, 1, 0, 0, 0, 200;
  srand(3); for (r = 0; r < 200; r++) { k = int(rand() * 2); printf "%c", k } }' >"$T/fm/train-labels-idx1-ubyte"
expect_ok "train jem images" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" train jem --data fashion-mnist \
    --net flatten,linear:16,silu,linear:2 --iters 3 --batch 16 --steps 2 --out "$T/ji.safetensors"
expect_ok "info image jem" -- "$EBM" info "$T/ji.safetensors"
for kv in "ebm.train.method *lcd-short-run" "ebm.train.init *gaussian" "ebm.jem.negatives *class" \
    "ebm.jem.gen_weight *0.05$" "ebm.train.lr *0.001$" "ebm.train.step_size *10$" "ebm.train.prox *0.3" \
    "ebm.train.data_noise *0.005" "ebm.train.steps *2$"; do
    ok; grep -q "  $kv" "$T/out" || fail "image JEM defaults: no '$kv'"
done
expect_ok "train jem images, clf" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" train jem --data fashion-mnist \
    --objective clf --net flatten,linear:16,silu,linear:2 --iters 3 --batch 16 --out "$T/jic.safetensors"
expect_ok "info image clf" -- "$EBM" info "$T/jic.safetensors"
contains "$T/out" "ebm.train.lr *0.001$" "the image classifier's learning rate is the JEM's"
contains "$T/out" "ebm.jem.gen_weight *0$" "the classifier has no generative term"
ok; ! grep -q "ebm.jem.negatives\|ebm.train.init\|ebm.train.data_noise" "$T/out" || fail "the image classifier got the JEM's sampling defaults"
expect_ok "train jem images, paper's settings" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" train jem \
    --data fashion-mnist --net flatten,linear:16,silu,linear:2 --iters 3 --batch 16 --negatives buffer --buffer 64 \
    --init-chains noise --gen-weight 1 --lr 1e-4 --out "$T/jib.safetensors"
expect_ok "info image jem, options given" -- "$EBM" info "$T/jib.safetensors"
contains "$T/out" "ebm.train.method *lcd-buffer" "--negatives buffer given wins"
ok; ! grep -q "ebm.jem.negatives\|ebm.train.init" "$T/out" || fail "a replay buffer given still got class negatives or Gaussian starts"
contains "$T/out" "ebm.jem.gen_weight *1$" "--gen-weight given wins"
expect_ok "train jem images, no class negatives" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" train jem \
    --data fashion-mnist --net flatten,linear:16,silu,linear:2 --iters 2 --batch 16 --steps 2 --no-class-negatives \
    --out "$T/jin.safetensors"
expect_ok "info image jem, no class negatives" -- "$EBM" info "$T/jin.safetensors"
ok; ! grep -q "ebm.jem.negatives" "$T/out" || fail "--no-class-negatives did not win"
contains "$T/out" "ebm.train.init *gaussian" "the other image defaults stay"
# --rotations (docs/jem.md): 4 x 2 outputs trained, the 2 upright ones saved; the refusals, before any training
expect_ok "train jem --rotations" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" train jem --data fashion-mnist \
    --objective clf --rotations --net flatten,linear:16,silu,linear:8 --iters 3 --batch 16 --out "$T/jr.safetensors"
contains "$T/err" "--rotations: 200 images x 4 turns, 2 classes x 4 outputs" "--rotations says what it trains"
expect_ok "info --rotations model" -- "$EBM" info "$T/jr.safetensors"
for kv in "ebm.jem.rotations *4$" "ebm.jem.classes *2$" "ebm.data.rows *200$" "ebm.net.spec *flatten,linear:16,silu,linear:2$"; do
    ok; grep -q "  $kv" "$T/out" || fail "--rotations model: no '$kv'"
done
expect_ok "classify a --rotations model" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" classify "$T/jr.safetensors" \
    --data fashion-mnist
expect_error 1 "--rotations, outputs for the classes alone" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" train jem \
    --data fashion-mnist --rotations --net flatten,linear:16,silu,linear:2 --iters 3 --out "$T/jr2.safetensors"
contains "$T/err" "--net has 2 outputs but the data has 2 classes and --rotations needs 4 outputs a class" \
    "--rotations names the outputs it needs"
expect_error 2 "--rotations, SN last layer" -- env EBM_FASHION_MNIST_DIR="$T/fm" "$EBM" train jem \
    --data fashion-mnist --rotations --net flatten,linear:16,silu,linear:8:sn --iters 3 --out "$T/jr2.safetensors"
contains "$T/err" "spectral normalisation" "--rotations refuses an SN last layer before training"
expect_error 2 "--rotations, no images" -- "$EBM" train jem --data toy:moons --rotations --iters 3 \
    --out "$T/jr2.safetensors"
contains "$T/err" "--rotations turns square images; toy:moons has 2 values per row and no image shape" \
    "--rotations on points"
expect_error 2 "--rotations, train ebm" -- "$EBM" train ebm --data "$T/img.idx" --rotations --iters 3 \
    --out "$T/jr2.safetensors"
contains "$T/err" "--rotations goes with 'ebm train jem'" "--rotations is train jem's"
ok; [ ! -e "$T/jr2.safetensors" ] || fail "a refused --rotations run wrote a model"
expect_error 2 "class negatives contradict" -- "$EBM" train jem --data toy:moons --class-negatives --no-class-negatives \
    --out "$T/x.safetensors"
expect_error 2 "no class negatives in train ebm" -- "$EBM" train ebm --data toy:moons --no-class-negatives --out "$T/x.safetensors"
expect_ok "train ebm images, mala" -- "$EBM" train ebm --data "$T/img.idx" --net flatten,linear:8,silu,linear:1 \
    --iters 2 --batch 16 --sampler mala --step-size 0.01 --out "$T/eim.safetensors"
expect_ok "info image energy, mala" -- "$EBM" info "$T/eim.safetensors"
ok; ! grep -q "ebm.train.prox\|ebm.sample.clip" "$T/out" || fail "mala on images got the proximal step or a clip"
expect_ok "inpaint" -- "$EBM" inpaint "$T/ei.safetensors" --n 4 --mask bottom --steps 10 --png "$T/inp.png" --npy "$T/inp.npy"
contains "$T/out" "hidden-pixel mean squared error" "inpaint error printed"
ok; [ -s "$T/inp.png" ] && [ -s "$T/inp.npy" ] || fail "inpaint outputs"
expect_ok "inpaint random" -- "$EBM" inpaint "$T/ei.safetensors" --n 2 --mask random:0.3 --steps 5 --png "$T/inp2.png"
expect_error 2 "inpaint bad mask" -- "$EBM" inpaint "$T/ei.safetensors" --mask middle --png "$T/x.png"
expect_error 2 "inpaint bad random mask" -- "$EBM" inpaint "$T/ei.safetensors" --mask random:1.5 --png "$T/x.png"
expect_ok "denoise" -- "$EBM" denoise "$T/ei.safetensors" --n 4 --sigma 0.5 --steps 20 --png "$T/den.png"
contains "$T/out" "mean squared error: noisy" "denoise errors printed"
expect_error 1 "inpaint of an RBM" -- "$EBM" inpaint "$T/m.safetensors" --png "$T/x.png"
# a composed model inpaints like its part (docs/compose.md): one part of weight 1 gives the same completions
expect_ok "compose an image energy" -- "$EBM" compose --out "$T/eic.safetensors" "$T/ei.safetensors"
expect_ok "inpaint compose" -- "$EBM" inpaint "$T/eic.safetensors" --n 4 --mask bottom --steps 10 --npy "$T/inpc.npy"
contains "$T/out" "hidden-pixel mean squared error" "inpaint compose error printed"
ok; cmp -s "$T/inp.npy" "$T/inpc.npy" || fail "inpainting a one-part composition differs from inpainting its part"

# --- JEM: train jem (hybrid and classifier), classify with calibration and OOD ------------------------
expect_ok "train jem" -- "$EBM" train jem --data toy:8gaussians --limit 2000 --net linear:32,silu,linear:8 \
    --iters 100 --batch 64 --buffer 500 --sampler ula --steps 5 --step-size 0.05 --lr 5e-3 --out "$T/j.safetensors"
expect_ok "train jem clf" -- "$EBM" train jem --objective clf --data toy:8gaussians --limit 2000 \
    --net linear:32,silu,linear:8 --iters 100 --batch 64 --lr 5e-3 --out "$T/jc.safetensors"
expect_ok "info jem" -- "$EBM" info "$T/j.safetensors"
contains "$T/out" "ebm.jem.classes            8" "info jem classes"
contains "$T/out" "ebm.train.command          ebm train jem --data toy:8gaussians" "train jem records its own command"
# --precision on networks: bf16 products train and sample (a thread count changes no bit); fp32 records nothing
ok; ! grep -q "ebm.train.precision" "$T/out" || fail "an fp32 network records a precision"
expect_error 2 "net bad precision" -- "$EBM" sample "$T/e.safetensors" --precision fp16 --csv "$T/x.csv"
if [ "$have_bf16" = 0 ]; then
    expect_ok "net auto precision without oneDNN" -- "$EBM" sample "$T/e.safetensors" --n 4 --steps 2 --precision auto --csv "$T/a.csv"
else
    expect_ok "train jem bf16" -- "$EBM" train jem --data toy:8gaussians --limit 2000 --net linear:32,silu,linear:8 \
        --iters 40 --batch 64 --buffer 500 --sampler ula --steps 5 --step-size 0.05 --lr 5e-3 --precision bf16 \
        --out "$T/j16.safetensors"
    contains "$T/err" "bf16 products" "bf16 network training announced"
    expect_ok "info jem bf16" -- "$EBM" info "$T/j16.safetensors"
    contains "$T/out" "ebm.train.precision *bf16" "bf16 network provenance"
    expect_ok "train ebm bf16" -- "$EBM" train ebm --data toy:8gaussians --limit 2000 --net linear:32,silu,linear:1 \
        --iters 30 --batch 64 --buffer 500 --sampler ula --steps 5 --step-size 0.05 --precision bf16 --out "$T/e16.safetensors"
    expect_ok "sample net bf16" -- "$EBM" sample "$T/e16.safetensors" --n 40 --steps 10 --precision bf16 --csv "$T/e16.csv"
    expect_ok "sample net bf16, 1 thread" -- "$EBM" --threads 1 sample "$T/e16.safetensors" --n 40 --steps 10 \
        --precision bf16 --csv "$T/e16_1.csv"
    ok; cmp -s "$T/e16.csv" "$T/e16_1.csv" || fail "bf16 net sampling differs between thread counts"
    expect_ok "sample net fp32 of it" -- "$EBM" sample "$T/e16.safetensors" --n 40 --steps 10 --csv "$T/e32.csv"
    ok; ! cmp -s "$T/e16.csv" "$T/e32.csv" || fail "bf16 and fp32 net sampling gave the same bits"
fi
expect_error 2 "eval jem bad option" -- "$EBM" eval "$T/j.safetensors" --bogus
contains "$T/err" "^ebm eval: unknown option '--bogus' (see 'ebm eval --help')" "eval of a JEM model speaks as eval"
expect_error 1 "eval jem missing data" -- "$EBM" eval "$T/j.safetensors" --data "$T/nothere.csv"
contains "$T/err" "^ebm eval: " "eval of a JEM model names eval in errors"
expect_ok "classify" -- "$EBM" classify "$T/j.safetensors" --limit 500 --ood uniform,gaussian,inverted \
    --reliability "$T/rel.png" --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || fail "classify --json content: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["rows"] == 500 and r["accuracy"] > 0.9 and 0 <= r["ece"] <= 1 and r["nll"] > 0, r
assert [o["set"] for o in r["ood"]] == ["uniform", "gaussian", "inverted"], r
assert all(0 <= o[k] <= 1 for o in r["ood"] for k in ("auroc_log_px", "auroc_max_softmax", "auroc_grad_norm")), r
EOF
fi
ok; [ -s "$T/rel.png" ] || fail "no reliability diagram"
expect_ok "sample jem" -- "$EBM" sample "$T/j.safetensors" --n 10 --steps 5 --csv "$T/js.csv"
# ebm calibrate: temperature scaling stored in the model, which classify then uses (docs/jem.md)
cp "$T/j.safetensors" "$T/jcal.safetensors"
expect_error 1 "calibrate on the training spec" -- "$EBM" calibrate "$T/jcal.safetensors" --data toy:8gaussians
contains "$T/err" "trained on 'toy:8gaussians'" "calibrate names the training data"
expect_error 2 "calibrate without data" -- "$EBM" calibrate "$T/jcal.safetensors"
expect_error 1 "calibrate a toy range" -- "$EBM" calibrate "$T/jcal.safetensors" --data 'toy:8gaussians@0:100'
contains "$T/err" "row range needs a file" "a toy's row range refused"
expect_error 1 "calibrate an energy model" -- "$EBM" calibrate "$T/e.safetensors" --data toy:8gaussians
expect_error 1 "calibrate to a missing directory" -- "$EBM" calibrate "$T/jcal.safetensors" --data toy:8gaussians \
    --allow-train-rows --out "$T/nodir/x.safetensors"
ok; cmp -s "$T/j.safetensors" "$T/jcal.safetensors" || fail "a refused calibrate changed the model"
expect_ok "calibrate" -- "$EBM" calibrate "$T/jcal.safetensors" --data toy:8gaussians --allow-train-rows --json
cp "$T/out" "$T/cal.json"
expect_ok "classify calibrated" -- "$EBM" classify "$T/jcal.safetensors" --json
cp "$T/out" "$T/calc.json"
expect_ok "classify calibrated at T = 1" -- "$EBM" classify "$T/jcal.safetensors" --temperature 1 --json
cp "$T/out" "$T/cal1.json"
expect_ok "classify uncalibrated" -- "$EBM" classify "$T/j.safetensors" --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/cal.json" "$T/calc.json" "$T/cal1.json" "$T/out" <<'EOF' || fail "calibrate: $(cat "$T/cal.json")"
import json, sys
c, k, k1, u = (json.load(open(p)) for p in sys.argv[1:5])
t = c["temperature"]
assert 0.01 <= t <= 100 and t != 1 and c["nll_after"] < c["nll_before"] and c["rows"] == 10000, c
assert abs(k["temperature"] - t) < 1e-6 * t and k["accuracy"] == u["accuracy"], (k, u)
assert abs(k["nll"] - c["nll_after"]) < 1e-6 and k["nll"] < u["nll"], (k, c, u)
assert k1["temperature"] == 1 and k1["nll"] == u["nll"] and k1["ece"] == u["ece"], (k1, u)
EOF
fi
expect_ok "info calibrated" -- "$EBM" info "$T/jcal.safetensors"
contains "$T/out" "ebm.classify.temperature" "the temperature is recorded"
expect_error 2 "classify bad temperature" -- "$EBM" classify "$T/j.safetensors" --temperature 0
expect_error 1 "classify an energy model" -- "$EBM" classify "$T/e.safetensors" --data toy:8gaussians
expect_error 1 "train jem without labels" -- "$EBM" train jem --data "$T/train.csv" --out "$T/x.safetensors"
contains "$T/err" "no labels" "unlabelled data named"
expect_error 1 "train jem wrong head" -- "$EBM" train jem --data toy:moons --net linear:8,silu,linear:3 --out "$T/x.safetensors"
expect_error 2 "train jem bad objective" -- "$EBM" train jem --data toy:moons --objective both --out "$T/x.safetensors"
expect_error 2 "train ebm with objective" -- "$EBM" train ebm --data toy:moons --objective clf --out "$T/x.safetensors"

# JEM++ options (docs/jem.md): Gaussian chain starts, proximal SGLD, the weights' moving average saved as the model
JPP="--data toy:8gaussians --limit 2000 --net linear:32,silu,linear:8 --iters 50 --batch 64 --buffer 500 --sampler sgld
     --steps 5 --step-size 0.05 --noise 0.01 --lr 5e-3 --init-chains gaussian --prox 0.03"
expect_ok "train jem jem++" -- "$EBM" train jem $JPP --ema 0.9 --out "$T/jpp.safetensors"
expect_ok "info jem++" -- "$EBM" info "$T/jpp.safetensors"
contains "$T/out" "ebm.train.init  *gaussian" "info shows the Gaussian chain starts"
contains "$T/out" "ebm.train.ema  *0.9" "info shows the EMA decay"
contains "$T/out" "ebm.sample.prox  *0.03" "the proximal radius is a sampling default"
expect_ok "train jem jem++ no ema" -- "$EBM" train jem $JPP --out "$T/jpp0.safetensors"
expect_ok "train jem jem++ ema ~0" -- "$EBM" train jem $JPP --ema 1e-30 --out "$T/jpp1.safetensors"
for m in jpp jpp0 jpp1; do
    expect_ok "score $m" -- "$EBM" score "$T/$m.safetensors" --data toy:8gaussians --limit 100 --out "$T/$m.csv"
done
ok; cmp -s "$T/jpp0.csv" "$T/jpp1.csv" || fail "an EMA of decay ~0 should save the last weights"
ok; ! cmp -s "$T/jpp0.csv" "$T/jpp.csv" || fail "--ema 0.9 saved the last weights, not their average"
expect_error 2 "prox with mala" -- "$EBM" train ebm --data toy:moons --sampler mala --prox 0.1 --out "$T/x.safetensors"
contains "$T/err" "prox" "prox with an MH sampler named"
expect_error 2 "ema of 1" -- "$EBM" train ebm --data toy:moons --ema 1 --out "$T/x.safetensors"
expect_error 2 "bad init-chains" -- "$EBM" train ebm --data toy:moons --init-chains data --out "$T/x.safetensors"
# class negatives (docs/jem.md): recorded in the file; refused with a replay buffer and by train ebm
expect_ok "train jem class negatives" -- "$EBM" train jem --data toy:8gaussians --limit 1000 --net linear:16,silu,linear:8 \
    --iters 20 --batch 64 --negatives short-run --class-negatives --out "$T/jcn.safetensors"
expect_ok "info class negatives" -- "$EBM" info "$T/jcn.safetensors"
contains "$T/out" "ebm.jem.negatives  *class" "info shows the class negatives"
expect_error 2 "class negatives with a buffer" -- "$EBM" train jem --data toy:8gaussians --class-negatives --out "$T/x.safetensors"
contains "$T/err" "short-run or persistent" "the buffer's conflict named"
expect_error 2 "class negatives in train ebm" -- "$EBM" train ebm --data toy:moons --class-negatives --out "$T/x.safetensors"
contains "$T/err" "train jem" "class negatives named as train jem's"
# class negatives from Gaussian starts (JEM++): ebm sample starts where the training's chains started
expect_ok "train jem class negatives gaussian" -- "$EBM" train jem --data toy:8gaussians --limit 1000 \
    --net linear:16,silu,linear:8 --iters 20 --batch 64 --negatives short-run --class-negatives --init-chains gaussian \
    --out "$T/jcg.safetensors"
expect_ok "sample gaussian starts" -- "$EBM" sample "$T/jcg.safetensors" --class all --n 16 --steps 2 --npy "$T/jcg.npy" \
    --labels "$T/jcg_y.npy"
contains "$T/err" "chain starts: 8 Gaussians, one per class, fitted to" "sample starts from the training's Gaussians"
contains "$T/err" "from the Gaussian starts" "sample names its starts"
expect_ok "sample noise starts" -- "$EBM" sample "$T/jcg.safetensors" --init-chains noise --n 16 --steps 2 --npy "$T/jcn2.npy"
contains "$T/err" "from uniform noise" "--init-chains noise overrides the model's starts"
expect_ok "sample gaussian starts of a noise-trained model" -- "$EBM" sample "$T/jcn.safetensors" --init-chains gaussian \
    --data toy:8gaussians --n 16 --steps 2 --npy "$T/jcn3.npy"
contains "$T/err" "8 Gaussians" "--init-chains gaussian fits the given data"
expect_ok "train ebm gaussian starts" -- "$EBM" train ebm --data toy:8gaussians --limit 1000 --net linear:16,silu,linear:1 \
    --iters 5 --batch 64 --init-chains gaussian --out "$T/eg.safetensors"
expect_ok "sample a scalar energy from its Gaussian starts" -- "$EBM" sample "$T/eg.safetensors" --n 8 --steps 2 --npy "$T/eg.npy"
contains "$T/err" "8 Gaussians, one per class" "a scalar energy trained on labelled data starts from its class mixture"
expect_error 2 "sample data without gaussian" -- "$EBM" sample "$T/jcn.safetensors" --data toy:8gaussians --n 4 --npy "$T/x.npy"
contains "$T/err" "init-chains gaussian" "--data without Gaussian starts named"
# complexity-corrected score on images (the 8x8 bar images against flat ones)
LC_ALL=C awk 'BEGIN { printf "%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c", 0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 8, 0, 0, 0, 8;
  srand(4); for (r = 0; r < 50; r++) { v = 20 + int(rand() * 200); for (p = 0; p < 64; p++) printf "%c", v } }' >"$T/flat.idx"
expect_ok "score complexity" -- "$EBM" score "$T/ei.safetensors" --data "$T/img.idx" --anomaly-data "$T/flat.idx" \
    --score complexity --json
contains "$T/out" '"score": "E / ln 2 - PNG bits"' "score names the complexity correction"
contains "$T/out" '"mean_score"' "score reports the mean corrected score"
contains "$T/out" '"auroc"' "complexity score auroc"
# --complexity-weight W: S = E / ln 2 - W bits, so W = 0 gives E / ln 2 and W = 2 gives S(W = 1) - bits
expect_ok "score energy csv" -- "$EBM" score "$T/ei.safetensors" --data "$T/img.idx" --out "$T/cw_e.csv"
for w in 0 1 2; do
    expect_ok "score complexity weight $w" -- "$EBM" score "$T/ei.safetensors" --data "$T/img.idx" --score complexity \
        --complexity-weight "$w" --out "$T/cw$w.csv"
done
ok; paste -d, "$T/cw_e.csv" "$T/cw0.csv" "$T/cw1.csv" "$T/cw2.csv" | awk -F, 'NR > 1 { d = $4 - $2 / log(2); b = $6 - $8;
    b1 = $4 - $6; if (d < 0) d = -d; e = b - b1; if (e < 0) e = -e;
    if (d > 1e-5 * (1 + ($4 < 0 ? -$4 : $4)) || b1 < 8 || e > 1e-3 * b1) bad++ } END { exit bad > 0 || NR < 2 }' ||
    fail "--complexity-weight is not the weight of the bits: $(paste -d, "$T/cw_e.csv" "$T/cw0.csv" "$T/cw1.csv" "$T/cw2.csv" | head -n 3)"
ok; head -n 1 "$T/cw1.csv" | grep -q '^row,complexity$' || fail "complexity csv header: $(head -n 1 "$T/cw1.csv")"

# --- score, compose, class-conditional sampling, sample quality ----------------------------------------
awk 'BEGIN { srand(11); for (r = 0; r < 100; r++) { line = "";
    for (i = 1; i <= 12; i++) line = line (i > 1 ? "," : "") int(rand() * 2); print line } }' >"$T/bits.csv"
expect_ok "score rbm" -- "$EBM" score "$T/m.safetensors" --data "$T/test.csv" --out "$T/sc.csv" --anomaly-data "$T/bits.csv" --json
ok; [ "$(wc -l <"$T/sc.csv")" = 101 ] && head -n 1 "$T/sc.csv" | grep -q '^row,energy$' || fail "score csv: $(head -n 3 "$T/sc.csv")"
ok; awk '{ if (match($0, /"auroc": [0-9.]+/)) { a = substr($0, RSTART + 9, RLENGTH - 9) + 0; exit !(a > 0.8) } exit 1 }' "$T/out" ||
    fail "RBM free energy should flag random bit strings against its prototypes: $(cat "$T/out")"
awk 'BEGIN { srand(5); for (r = 0; r < 300; r++) { a = rand() * 6.2832; printf "%g,%g\n", 9 * cos(a), 9 * sin(a) } }' >"$T/far.csv"
expect_ok "score jem" -- "$EBM" score "$T/j.safetensors" --data toy:8gaussians --limit 300 --out "$T/sj.csv" --anomaly-data "$T/far.csv"
contains "$T/out" "AUROC" "score jem auroc"
head -n 1 "$T/sj.csv" | grep -q '^row,energy,label$' || fail "score labelled csv header: $(head -n 1 "$T/sj.csv")"
expect_ok "score held-out class" -- "$EBM" score "$T/j.safetensors" --data "toy:8gaussians#0-3" --limit 300 --anomaly-class 3
contains "$T/out" "class 3:" "held-out class auroc"
# --normal-class K (one-class protocol): the other side of --anomaly-class K's split, AUROC 1 - its AUROC
expect_ok "score anomaly class json" -- "$EBM" score "$T/j.safetensors" --data "toy:8gaussians#0-3" --limit 300 --anomaly-class 3 --json
cp "$T/out" "$T/anom.json"
expect_ok "score normal class json" -- "$EBM" score "$T/j.safetensors" --data "toy:8gaussians#0-3" --limit 300 --normal-class 3 --json
ok; /usr/bin/python3 - "$T/anom.json" "$T/out" <<'EOF' || fail "--normal-class should mirror --anomaly-class: $(cat "$T/anom.json" "$T/out")"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert abs(a["auroc"] + b["auroc"] - 1) < 2e-6 and a["auroc"] != 0.5, (a, b)
assert a["anomalies"] == b["normal"] and a["normal"] == b["anomalies"] and a["anomalies"] > 0 and a["normal"] > 0, (a, b)
EOF
expect_error 1 "score class without labels" -- "$EBM" score "$T/m.safetensors" --data "$T/test.csv" --anomaly-class 1
expect_error 1 "score normal class without labels" -- "$EBM" score "$T/m.safetensors" --data "$T/test.csv" --normal-class 1
expect_error 2 "score both anomaly options" -- "$EBM" score "$T/m.safetensors" --anomaly-class 1 --anomaly-data "$T/bits.csv"
expect_error 2 "score both class options" -- "$EBM" score "$T/m.safetensors" --anomaly-class 1 --normal-class 2
expect_error 1 "score bad class filter" -- "$EBM" score "$T/j.safetensors" --data "toy:8gaussians#5-2"
# --score mahalanobis: Gaussians in the JEM's 32 penultimate features.  Fitted to unlabelled rows (one mean) and
# scoring those rows, the mean squared distance is tr(S^-1 S) = 32 without a ridge; the default ridge takes off
# the share of the directions with eigenvalues below 1e-6 x the mean (32 SiLUs of 2 inputs have many)
expect_ok "score mahalanobis one mean" -- "$EBM" score "$T/j.safetensors" --score mahalanobis --fit-data "$T/far.csv" \
    --data "$T/far.csv" --json --ridge 0
cp "$T/out" "$T/maha0.json"
expect_ok "score mahalanobis one mean, ridge" -- "$EBM" score "$T/j.safetensors" --score mahalanobis \
    --fit-data "$T/far.csv" --data "$T/far.csv" --json
ok; /usr/bin/python3 - "$T/maha0.json" "$T/out" <<'EOF' || fail "mahalanobis on its own fit rows: $(cat "$T/maha0.json" "$T/out")"
import json, sys
r, d = (json.load(open(f)) for f in sys.argv[1:3])
assert r["score"] == "mahalanobis" and r["fit_rows"] == 300 and r["fit_means"] == 1 and r["features"] == 32, r
assert abs(r["mean_score"] - 32) < 0.01, r  # exact up to the eigen-decomposition of a nearly singular S
assert 16 < d["mean_score"] < 31.9, d
EOF
# one mean per class of the three labelled classes it is fitted to; the fourth mode, unseen, lies far from them
expect_ok "score mahalanobis held-out" -- "$EBM" score "$T/j.safetensors" --score mahalanobis \
    --fit-data "toy:8gaussians#0-2" --fit-limit 600 --data "toy:8gaussians#0-3" --limit 400 --anomaly-class 3 --json
ok; /usr/bin/python3 - "$T/out" <<'EOF' || fail "mahalanobis should flag the unseen mode: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["fit_means"] == 3 and r["fit_rows"] == 600 and r["anomalies"] > 50 and r["auroc"] > 0.95, r
EOF
expect_ok "score mahalanobis text" -- "$EBM" score "$T/j.safetensors" --score mahalanobis --data toy:8gaussians \
    --limit 300 --fit-limit 500 --anomaly-data "$T/far.csv" --out "$T/sm.csv"
contains "$T/out" "Mahalanobis distance" "mahalanobis score named"
contains "$T/err" "fitted 8 means and a shared covariance to 32 features of 500 rows of toy:8gaussians" "fit reported"
ok; [ "$(wc -l <"$T/sm.csv")" = 301 ] || fail "mahalanobis --out wrote $(wc -l <"$T/sm.csv") lines"
ok; head -n 1 "$T/sm.csv" | grep -q '^row,mahalanobis,label$' || fail "mahalanobis csv header: $(head -n 1 "$T/sm.csv")"
# by default the Gaussians are fitted to the rows the model trained on: toy:8gaussians, --limit 2000
expect_ok "score mahalanobis default fit" -- "$EBM" score "$T/j.safetensors" --score mahalanobis --data toy:8gaussians --limit 50
contains "$T/err" "to 32 features of 2000 rows of toy:8gaussians" "fitted to the model's training rows by default"
# --score energy+mahalanobis: each score's distribution function over the fit rows, added; over the fit rows
# themselves each has mean exactly 1/2 (ties counting half), so the sum has mean 1, and it lies in [0, 2]
expect_ok "score energy+mahalanobis on its fit rows" -- "$EBM" score "$T/j.safetensors" --score energy+mahalanobis \
    --fit-data "$T/far.csv" --data "$T/far.csv" --json --out "$T/em.csv"
ok; /usr/bin/python3 - "$T/out" "$T/em.csv" <<'EOF' || fail "energy+mahalanobis on its fit rows: $(cat "$T/out")"
import csv, json, sys
r = json.load(open(sys.argv[1]))
v = [float(row["energy+mahalanobis"]) for row in csv.DictReader(open(sys.argv[2]))]
assert r["score"] == "energy+mahalanobis" and r["fit_rows"] == 300 and abs(r["mean_score"] - 1) < 1e-9, r
assert len(v) == 300 and min(v) >= 0 and max(v) <= 2 and max(v) > 1.5 and min(v) < 0.5, (min(v), max(v))
EOF
expect_ok "score energy+mahalanobis held-out" -- "$EBM" score "$T/j.safetensors" --score energy+mahalanobis \
    --fit-data "toy:8gaussians#0-2" --fit-limit 600 --data "toy:8gaussians#0-3" --limit 400 --anomaly-class 3
contains "$T/out" "distribution function over the fit rows" "energy+mahalanobis named"
# (the JEM trained on all eight modes, so the energy half of the sum need not single out the fourth: 0.92 here)
ok; awk '/^AUROC/ { exit !($2 > 0.9) }' "$T/out" || fail "energy+mahalanobis should flag the unseen mode: $(cat "$T/out")"
# --with: an ensemble's score is the sum of each model's, each over its own fit rows (jc: a classifier)
for mdl in j jc; do
    expect_ok "score energy+mahalanobis, $mdl alone" -- "$EBM" score "$T/$mdl.safetensors" --score energy+mahalanobis \
        --data "toy:8gaussians#0-3" --limit 400 --out "$T/em-$mdl.csv"
done
expect_ok "score energy+mahalanobis --with" -- "$EBM" score "$T/j.safetensors" --score energy+mahalanobis \
    --data "toy:8gaussians#0-3" --limit 400 --anomaly-class 3 --with "$T/jc.safetensors" --json --out "$T/em-w.csv"
ok; /usr/bin/python3 - "$T/out" "$T/em-j.csv" "$T/em-jc.csv" "$T/em-w.csv" <<'EOF' || fail "--with: $(cat "$T/out")"
import csv, json, sys
r = json.load(open(sys.argv[1]))
a, b, w = ([float(row["energy+mahalanobis"]) for row in csv.DictReader(open(p))] for p in sys.argv[2:5])
assert r["models"] == 2 and r["rows"] == 400 and len(w) == 400, r
assert max(abs(x + y - z) for x, y, z in zip(a, b, w)) < 1e-8  # the CSV's 9 digits
assert max(w) > 2 and min(w) >= 0 and max(w) <= 4, (min(w), max(w))
EOF
expect_error 2 "--with, plain energy" -- "$EBM" score "$T/j.safetensors" --data "toy:8gaussians" --limit 100 \
    --with "$T/jc.safetensors"
contains "$T/err" "--with goes with --score energy+mahalanobis" "--with needs scores on one scale"
expect_error 1 "--with, no such model" -- "$EBM" score "$T/j.safetensors" --data "toy:8gaussians" --limit 100 \
    --score energy+mahalanobis --with "$T/jc.safetensors,$T/absent.safetensors"
contains "$T/err" "absent.safetensors" "--with names the model it cannot read"
expect_error 1 "score energy+mahalanobis of an RBM" -- "$EBM" score "$T/m.safetensors" --data "$T/test.csv" \
    --score energy+mahalanobis
contains "$T/err" "energy+mahalanobis scores a network's features" "energy+mahalanobis needs a network"
expect_error 1 "score mahalanobis of an RBM" -- "$EBM" score "$T/m.safetensors" --data "$T/test.csv" --score mahalanobis
contains "$T/err" "scores a network's features" "mahalanobis needs a network"
expect_error 1 "score --fit-data without mahalanobis" -- "$EBM" score "$T/j.safetensors" --data toy:8gaussians --fit-data "$T/far.csv"
contains "$T/err" "go with --score mahalanobis" "fit-data alone refused"
expect_error 1 "score mahalanobis fit data of another width" -- "$EBM" score "$T/j.safetensors" --score mahalanobis \
    --fit-data "$T/bits.csv" --data toy:8gaussians --limit 10
expect_error 1 "score mahalanobis one fit row" -- "$EBM" score "$T/j.safetensors" --score mahalanobis --fit-limit 1 \
    --data toy:8gaussians --limit 10
contains "$T/err" "at least 2 rows" "one fit row refused"
# composition: 2 E_j (sum) and the one-part disjunction must reproduce E_j exactly
expect_ok "compose twice" -- "$EBM" compose --out "$T/c2.safetensors" "$T/j.safetensors@2"
expect_ok "compose or" -- "$EBM" compose --out "$T/c1.safetensors" --op or "$T/j.safetensors"
expect_ok "score compose" -- "$EBM" score "$T/c2.safetensors" --data toy:8gaussians --limit 300 --out "$T/sc2.csv"
expect_ok "score compose or" -- "$EBM" score "$T/c1.safetensors" --data toy:8gaussians --limit 300 --out "$T/sc1.csv"
ok; paste -d, "$T/sj.csv" "$T/sc2.csv" "$T/sc1.csv" | awk -F, 'NR > 1 { d = $5 - 2 * $2; e = $8 - $2; if (d < 0) d = -d; if (e < 0) e = -e;
    if (d > 1e-4 * (1 + ($2 < 0 ? -$2 : $2)) || e > 1e-4 * (1 + ($2 < 0 ? -$2 : $2))) bad++ } END { exit bad > 0 }' ||
    fail "composed energies differ from their formulas: $(paste -d, "$T/sj.csv" "$T/sc2.csv" "$T/sc1.csv" | head -n 3)"
expect_ok "compose and-not" -- "$EBM" compose --out "$T/cn.safetensors" "$T/j.safetensors#0" "$T/j.safetensors#1@-0.5"
expect_ok "info compose" -- "$EBM" info "$T/cn.safetensors"
contains "$T/out" "E = 1 E\[j.safetensors#0\] -0.5 E\[j.safetensors#1\]" "compose formula"
expect_ok "info compose --json" -- "$EBM" info "$T/cn.safetensors" --json
ok
python3 -c 'import json,sys; m = json.load(open(sys.argv[1])); assert m["ebm.model"] == "compose", m' "$T/out" ||
    fail "info --json of a composed model is not one JSON object: $(cat "$T/out")"
expect_ok "sample compose" -- "$EBM" sample "$T/cn.safetensors" --n 8 --steps 5 --csv "$T/cs.csv"
expect_error 2 "compose negative or" -- "$EBM" compose --out "$T/x.safetensors" --op or "$T/j.safetensors@-1"
expect_error 1 "compose missing part" -- "$EBM" compose --out "$T/x.safetensors" "$T/nothere.safetensors"
expect_error 2 "compose several classes in one part" -- "$EBM" compose --out "$T/x.safetensors" "$T/j.safetensors#all"
expect_error 1 "compose class of an RBM" -- "$EBM" compose --out "$T/x.safetensors" "$T/m.safetensors#1"
expect_error 1 "compose mismatched inputs" -- "$EBM" compose --out "$T/x.safetensors" "$T/j.safetensors" "$T/m.safetensors"
cp "$T/cn.safetensors" "$T/cn2.safetensors"
cp "$T/j.safetensors" "$T/jmove.safetensors"
"$EBM" --quiet compose --out "$T/cm.safetensors" "$T/jmove.safetensors" 2>/dev/null
rm -f "$T/jmove.safetensors"
expect_error 1 "composed model with a missing part" -- "$EBM" sample "$T/cm.safetensors" --n 2 --csv "$T/x.csv"
contains "$T/err" "jmove.safetensors" "missing part named"
# class-conditional sampling: a separately trained classifier recognises the intended classes of the
# JEM's class-conditional samples well above chance (1/8; a sign or class mix-up gives chance or less)
expect_ok "sample --class" -- "$EBM" sample "$T/j.safetensors" --class all --n 160 --sampler ula --steps 300 \
    --step-size 0.01 --init-lo -3 --init-hi 3 --npy "$T/cls.npy" --labels "$T/cls_y.npy"
expect_ok "eval --samples" -- "$EBM" eval --samples "$T/cls.npy" --labels "$T/cls_y.npy" --classifier "$T/jc.safetensors" \
    --data toy:8gaussians --floor-data toy:8gaussians --limit 2000 --json
ok; awk '{ if (match($0, /"accuracy": [0-9.]+/)) { a = substr($0, RSTART + 12, RLENGTH - 12) + 0; exit !(a > 0.3) } exit 1 }' "$T/out" ||
    fail "class-conditional samples should mostly be recognised: $(cat "$T/out")"
expect_ok "eval --samples self" -- "$EBM" eval --samples toy:8gaussians --classifier "$T/jc.safetensors" \
    --data toy:8gaussians --floor-data none --json
ok; awk '{ if (match($0, /"fd": [-0-9.e]+/)) { a = substr($0, RSTART + 6, RLENGTH - 6) + 0; exit !(a < 1e-3 && a > -1e-3) } exit 1 }' "$T/out" ||
    fail "FD of a set with itself should be 0: $(cat "$T/out")"
# the JSON parses (without --labels the accuracy is null, once a bare nan that no JSON reader took)
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || fail "eval --samples --json without labels: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["accuracy"] is None and abs(r["fd"]) < 1e-3 and r["samples"] == r["reference"] and r["features"] > 0, r
EOF
fi
# the Gaussian baseline: a Gaussian per class of 8gaussians is the density itself, so its draws score near the
# perfect-sampler floor and are recognised as the data are
expect_ok "eval --samples --gaussian-baseline" -- "$EBM" eval --samples "$T/cls.npy" --labels "$T/cls_y.npy" \
    --classifier "$T/jc.safetensors" --data toy:8gaussians --floor-data toy:8gaussians --limit 2000 --gaussian-baseline --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || fail "eval --samples --gaussian-baseline: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert 0 <= r["fd_gaussian"] < max(3 * r["fd_floor"], 0.05) and r["accuracy_gaussian"] > 0.9, r
EOF
fi
expect_ok "eval --samples --gaussian-baseline text" -- "$EBM" eval --samples "$T/cls.npy" --classifier "$T/jc.safetensors" \
    --data toy:8gaussians --floor-data toy:8gaussians --limit 2000 --gaussian-baseline
contains "$T/out" "Gaussian baseline" "eval prints the Gaussian baseline"
expect_error 2 "gaussian baseline without floor data" -- "$EBM" eval --samples "$T/cls.npy" --classifier "$T/jc.safetensors" \
    --data toy:8gaussians --floor-data none --gaussian-baseline
contains "$T/err" "floor-data" "the missing floor data named"
expect_error 2 "sample --class of an energy" -- "$EBM" sample "$T/e.safetensors" --class 1 --n 2 --csv "$T/x.csv"
expect_error 2 "sample --class out of range" -- "$EBM" sample "$T/j.safetensors" --class 8 --n 2 --csv "$T/x.csv"
printf '0\n1\n' >"$T/two_labels.csv"
expect_error 1 "eval --samples wrong label count" -- "$EBM" eval --samples "$T/cls.npy" --labels "$T/two_labels.csv" \
    --classifier "$T/jc.safetensors" --data toy:8gaussians
contains "$T/err" "exactly 160 rows" "label count named"
expect_error 1 "eval --samples wrong width" -- "$EBM" eval --samples "$T/test.csv" --classifier "$T/jc.safetensors" --data toy:8gaussians
expect_error 1 "eval --samples energy classifier" -- "$EBM" eval --samples "$T/cs.csv" --classifier "$T/e.safetensors" --data toy:8gaussians
expect_ok "classify without --ood" -- "$EBM" classify "$T/jc.safetensors" --limit 200
contains "$T/out" "accuracy" "classify without --ood"
# --- structured prediction: K-class losses, the energy loss's collapse, the Markov chain toy ---------------
num() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" "$T/out"; }
expect_ok "train structured hinge" -- "$EBM" train structured --data toy:8gaussians --limit 2000 --net linear:32,silu,linear:8 \
    --loss hinge --epochs 5 --lr 0.01 --out "$T/sp.safetensors"
expect_ok "eval structured" -- "$EBM" eval "$T/sp.safetensors" --data toy:8gaussians --limit 1000 --json
ok; awk -v a="$(num accuracy)" 'BEGIN { exit !(a >= 0.9) }' || fail "structured hinge accuracy $(num accuracy) < 0.9"
ok; awk -v g="$(num gap)" 'BEGIN { exit !(g > 0.5) }' || fail "structured hinge gap $(num gap) <= 0.5"
contains "$T/out" '"collapsed": false' "hinge model not collapsed"
expect_ok "info structured" -- "$EBM" info "$T/sp.safetensors"
contains "$T/out" "structured-prediction energy, 8 labels" "info structured"
contains "$T/out" "ebm.sp.loss                hinge" "info structured loss"
expect_ok "train structured energy" -- "$EBM" train structured --data toy:8gaussians --limit 2000 --net linear:32,silu,linear:8 \
    --loss energy --energy square --weight-decay 1e-3 --epochs 20 --lr 0.01 --out "$T/spe.safetensors"
expect_ok "eval structured energy" -- "$EBM" eval "$T/spe.safetensors" --data toy:8gaussians --limit 1000
contains "$T/out" "COLLAPSED" "energy loss collapse flagged"
expect_ok "train structured markov" -- "$EBM" train structured --data markov --limit 300 --length 8 --classes 3 --stay 0.9 \
    --noise 0.8 --loss nll --energy raw --epochs 10 --batch 20 --lr 0.03 --out "$T/spc.safetensors"
expect_ok "eval structured markov" -- "$EBM" eval "$T/spc.safetensors" --data markov:test --limit 200 --json
ok; awk -v a="$(num accuracy)" 'BEGIN { exit !(a >= 0.8) }' || fail "Markov chain accuracy $(num accuracy) < 0.8"
expect_ok "info structured chain" -- "$EBM" info "$T/spc.safetensors"
contains "$T/out" "pairwise energies" "info shows the pairwise matrix"
expect_error 2 "structured bad loss" -- "$EBM" train structured --data toy:moons --loss hinges --out "$T/x.safetensors"
expect_error 2 "structured lvq2 raw" -- "$EBM" train structured --data toy:moons --loss lvq2 --energy raw --out "$T/x.safetensors"
expect_error 2 "structured markov option" -- "$EBM" train structured --data toy:moons --length 5 --out "$T/x.safetensors"
expect_error 2 "structured no out" -- "$EBM" train structured --data toy:moons
expect_error 1 "structured unlabelled" -- "$EBM" train structured --data "$T/train.csv" --out "$T/x.safetensors"
contains "$T/err" "no labels" "structured unlabelled data named"
expect_error 1 "structured net width" -- "$EBM" train structured --data toy:8gaussians --limit 100 --net linear:8,silu,linear:3 --out "$T/x.safetensors"
expect_error 1 "eval chain model on images" -- "$EBM" eval "$T/spc.safetensors" --data toy:8gaussians
expect_error 1 "eval structured wrong width" -- "$EBM" eval "$T/sp.safetensors" --data "$T/train.csv"
head -c 300 "$T/sp.safetensors" >"$T/spcut.safetensors"
expect_error 1 "eval truncated structured model" -- "$EBM" eval "$T/spcut.safetensors" --data toy:8gaussians
expect_error 1 "sample structured" -- "$EBM" sample "$T/sp.safetensors" --n 4 --csv "$T/x.csv"
# --- fully visible Boltzmann machines and Ising denoising ----------------------------------------
expect_ok "train bm pl" -- "$EBM" train bm --data "$T/train.csv" --spins pm1 --method pl --epochs 5 --lr 0.1 \
    --shape 3x4 --out "$T/bm.safetensors" --log "$T/bm.csv"
contains "$T/err" "exact LL" "train bm prints the exact LL"
ok; [ "$(wc -l <"$T/bm.csv")" = 6 ] || fail "train bm log: $(cat "$T/bm.csv")"
expect_ok "train bm cd" -- "$EBM" train bm --data "$T/train.csv" --method cd --k 2 --scan random --epochs 2 --out "$T/bmc.safetensors"
expect_ok "train bm pcd adam" -- "$EBM" train bm --data "$T/train.csv" --method pcd --chains 20 --optim adam --lr 0.01 \
    --epochs 2 --out "$T/bmp.safetensors"
expect_ok "info bm" -- "$EBM" info "$T/bm.safetensors"
contains "$T/out" "fully visible Boltzmann machine, 12 units in {-1,+1}" "info bm"
contains "$T/out" "image shape 3 x 4" "info bm shape"
expect_ok "eval bm" -- "$EBM" eval "$T/bm.safetensors" --data "$T/test.csv" --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF2' || fail "eval bm --json content: $(cat "$T/out")"
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["kind"] == "bm" and r["units"] == 12 and r["spins"] == "pm1" and r["rows"] == 100, r
# 12 binary units: log-likelihood between -12 log 2 (uniform) and 0, and below the pseudo-LL's bound
assert -12 * math.log(2) < r["log_likelihood"] < 0 and r["pseudo_ll"] < 0 and r["log_z"] > 0, r
EOF2
fi
expect_ok "sample bm" -- "$EBM" sample "$T/bm.safetensors" --n 20 --steps 30 --scan random --temperature 0.5 \
    --csv "$T/bms.csv" --png "$T/bms.png" --zoom 4
ok; [ "$(tr ',' '\n' <"$T/bms.csv" | grep -cv '^-1$\|^1$')" = 0 ] || fail "bm samples are not -1/+1: $(head -2 "$T/bms.csv")"
expect_error 2 "train bm bad spins" -- "$EBM" train bm --data "$T/train.csv" --spins 02 --out "$T/x.safetensors"
expect_error 2 "train bm bad method" -- "$EBM" train bm --data "$T/train.csv" --method ml --out "$T/x.safetensors"
awk 'BEGIN { for (r = 0; r < 10; r++) print "0.3,1,0,1,0,1,0,1,0,1,0,1" }' >"$T/grey.csv"
expect_error 1 "train bm grey data" -- "$EBM" train bm --data "$T/grey.csv" --binarize none --out "$T/x.safetensors"
contains "$T/err" "not binary" "grey data named"
printf "1,0,1\n0,1,0\n" >"$T/d3.csv"
expect_error 1 "eval bm wrong width" -- "$EBM" eval "$T/bm.safetensors" --data "$T/d3.csv"
contains "$T/err" "d3.csv has 3 columns but the model's inputs have 12 values" "bm width named"
expect_ok "sample bm from data" -- "$EBM" sample "$T/bm.safetensors" --init data --data "$T/test.csv" --n 6 --steps 0 \
    --csv "$T/bmd.csv"
ok; [ "$(tr ',' '\n' <"$T/bmd.csv" | grep -cv '^-1$\|^1$')" = 0 ] || fail "bm data starts are not -1/+1: $(head -2 "$T/bmd.csv")"
expect_error 1 "denoise with a bm" -- "$EBM" denoise "$T/bm.safetensors" --png "$T/x.png"
contains "$T/err" "not an energy network or a composed model; this is a 'bm' model" "denoise names the kind"
expect_error 2 "sample bm bad scan" -- "$EBM" sample "$T/bm.safetensors" --scan diagonal --csv "$T/x.csv"
head -c 100 "$T/bm.safetensors" >"$T/bmcut.safetensors"
expect_error 1 "info truncated bm" -- "$EBM" info "$T/bmcut.safetensors"

# Ising denoising of one PNG: a sample picture as input; beta 0 keeps every pixel, a strong beta flattens it
expect_ok "bm picture" -- "$EBM" sample "$T/bm.safetensors" --n 4 --steps 5 --png "$T/in.png" --zoom 3
expect_ok "denoise ising beta 0" -- "$EBM" denoise --model ising --beta 0 --eta 1 "$T/in.png" "$T/out.png"
contains "$T/err" ": 0 pixels changed" "beta 0 changes nothing"
ok; [ -s "$T/out.png" ] || fail "denoise wrote no PNG"
expect_ok "denoise ising gibbs" -- "$EBM" denoise --model ising --method gibbs --beta 3 --eta 0.1 --sweeps 20 \
    --marginals "$T/marg.png" "$T/in.png" "$T/out2.png"
ok; grep -q ": 0 pixels changed" "$T/err" && fail "a strong beta changed nothing: $(cat "$T/err")"
ok; [ -s "$T/marg.png" ] || fail "no marginals picture"
expect_error 2 "denoise unknown model" -- "$EBM" denoise --model potts "$T/in.png" "$T/out.png"
expect_error 2 "denoise one image" -- "$EBM" denoise --model ising "$T/in.png"
expect_error 1 "denoise missing png" -- "$EBM" denoise --model ising "$T/none.png" "$T/out.png"
printf 'not a png' >"$T/bad.png"
expect_error 1 "denoise malformed png" -- "$EBM" denoise --model ising "$T/bad.png" "$T/out.png"
# batch mode on 8x8 pictures of rectangles
awk 'BEGIN { srand(3); for (r = 0; r < 60; r++) { a = int(rand() * 3); b = 5 + int(rand() * 3); line = "";
  for (i = 0; i < 64; i++) { y = int(i / 8); x = i % 8; v = (y >= a && y < b && x >= a && x < b) ? 1 : 0;
    line = line (i ? "," : "") v } print line } }' >"$T/rect.csv"
expect_ok "denoise ising batch" -- "$EBM" denoise --model ising --data "$T/rect.csv" --n 50 --noise 0.2 --beta 1 \
    --eta 2 --sweeps 30 --json --png "$T/den.png"
ok; [ -s "$T/den.png" ] || fail "no batch picture"
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF2' || fail "denoise --json content: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["images"] == 50 and 0.05 < r["error_before"] < 0.15, r
assert all(r["methods"][m]["error"] < 0.7 * r["error_before"] for m in ("icm", "anneal", "gibbs")), r
EOF2
fi
expect_error 1 "denoise batch not square" -- "$EBM" denoise --model ising --data "$T/train.csv" --noise 0.1
expect_error 2 "denoise batch with files" -- "$EBM" denoise --model ising --data "$T/rect.csv" "$T/in.png"

# --- ebm score on Boltzmann machines and structured models ---------------------------------------------
expect_ok "score bm" -- "$EBM" score "$T/bm.safetensors" --data "$T/test.csv" --anomaly-data "$T/bits.csv" --json
ok; awk '{ if (match($0, /"auroc": [0-9.]+/)) { a = substr($0, RSTART + 9, RLENGTH - 9) + 0; exit !(a > 0.8) } exit 1 }' "$T/out" ||
    fail "BM energy should flag random bit strings against its prototypes: $(cat "$T/out")"
expect_ok "score structured" -- "$EBM" score "$T/sp.safetensors" --data toy:8gaussians --limit 300 --anomaly-data "$T/far.csv" --json
contains "$T/out" '"score": "free energy' "structured free energy"
expect_error 1 "score structured chain" -- "$EBM" score "$T/spc.safetensors" --data toy:8gaussians
# --- deep belief nets: train dbn, info, sample, encode, eval, eval --probe ----------------------------
awk 'BEGIN { srand(11); p[0]="111111000000"; p[1]="000000111111"; p[2]="101010101010";
  for (r = 0; r < 300; r++) { k = int(rand() * 3); line = "";
    for (i = 1; i <= 12; i++) { b = substr(p[k], i, 1) + 0; if (rand() < 0.05) b = 1 - b;
      line = line (i > 1 ? "," : "") b }
    print line; print k > "/dev/stderr" } }' >"$T/dtrain.csv" 2>"$T/dlabels.csv"
expect_ok "train dbn --help" -- "$EBM" train dbn --help
contains "$T/out" "--layers" "train dbn help"
expect_ok "train dbn" -- "$EBM" train dbn --data "$T/dtrain.csv" --layers 8,6 --epochs 20 --batch 20 --lr 0.1 \
    --seed 2 --out "$T/d.safetensors"
contains "$T/err" "layer 2/2 epoch 20/20" "train dbn progress per layer"
contains "$T/err" "saved $T/d.safetensors (DBN 12-8-6" "train dbn summary"
# a diverging layer leaves --out alone; an interrupt saves the layers so far beside it, marked
expect_error 1 "dbn divergence" -- "$EBM" train dbn --data "$T/dtrain.csv" --layers 8,6 --epochs 3 --batch 10 \
    --lr 1e38 --momentum 0.9 --out "$T/dx.safetensors"
contains "$T/err" "diverged" "dbn divergence reported"
contains "$T/err" "in layer 1 of 2" "dbn divergence names the layer"
ok; [ ! -e "$T/dx.safetensors" ] || fail "a diverged dbn run wrote --out"
"$EBM" train dbn --data "$T/big.csv" --layers 64,32 --epochs 100000 --out "$T/dy.safetensors" >/dev/null 2>"$T/err" &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q "layer 1/2" "$T/err"; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill -INT $pid
wait $pid
got=$?
ok; [ "$got" = 130 ] && [ ! -e "$T/dy.safetensors" ] || fail "interrupted dbn training exited $got: $(cat "$T/err")"
expect_ok "dbn interrupted partial model" -- "$EBM" info "$T/dy.partial.safetensors"
contains "$T/out" "interrupted" "dbn partial model marked interrupted"
expect_ok "info dbn" -- "$EBM" info "$T/d.safetensors"
contains "$T/out" "deep belief net 12-8-6 (2 layers)" "info dbn kind"
contains "$T/out" "ebm.train.layer.1.final_recon" "info dbn per-layer metadata"
expect_ok "info dbn --json" -- "$EBM" info "$T/d.safetensors" --json --filters "$T/df.png" --shape 3x4
ok; if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert r["sizes"] == [12, 8, 6] and len(r["layers"]) == 2, r' \
        "$T/out" || fail "info dbn --json: $(cat "$T/out")"
fi
ok; [ -s "$T/df.png" ] || fail "no dbn filter picture"
expect_ok "sample dbn" -- "$EBM" sample "$T/d.safetensors" --n 10 --steps 50 --shape 3x4 --png "$T/ds.png" \
    --npy "$T/ds.npy" --csv "$T/ds.csv"
ok; [ -s "$T/ds.png" ] && [ -s "$T/ds.npy" ] && [ "$(wc -l <"$T/ds.csv")" = 10 ] || fail "sample dbn outputs"
ok; awk -F, '{ if (NF != 12) bad = 1; for (i = 1; i <= NF; i++) if ($i < 0 || $i > 1) bad = 1 } END { exit bad }' \
    "$T/ds.csv" || fail "dbn samples are not 10 x 12 values in [0, 1]"
# most samples are close to one of the three prototypes (mean absolute difference below 0.25)
ok; awk -F, 'BEGIN { p[0]="111111000000"; p[1]="000000111111"; p[2]="101010101010" }
  { best = 12; for (k = 0; k < 3; k++) { d = 0; for (i = 1; i <= 12; i++) { x = $i - substr(p[k], i, 1); d += x < 0 ? -x : x }
      if (d < best) best = d }
    if (best / 12 < 0.25) good++ } END { exit !(good >= 8) }' "$T/ds.csv" || fail "dbn samples do not look like the data"
expect_ok "sample dbn again" -- "$EBM" --threads 1 sample "$T/d.safetensors" --n 10 --steps 50 --csv "$T/ds2.csv"
ok; cmp -s "$T/ds.csv" "$T/ds2.csv" || fail "dbn sampling with the same seed is not reproducible"
expect_ok "sample dbn from data" -- "$EBM" sample "$T/d.safetensors" --n 5 --steps 5 --init data --csv "$T/ds3.csv"
contains "$T/err" "from data" "sample dbn init data"
expect_ok "encode dbn level 1" -- "$EBM" encode "$T/d.safetensors" --layer 1 --out "$T/f1.csv"
ok; [ "$(wc -l <"$T/f1.csv")" = 300 ] && [ "$(head -n 1 "$T/f1.csv" | awk -F, '{ print NF }')" = 8 ] ||
    fail "encode level 1: expected 300 x 8"
expect_ok "encode dbn top" -- "$EBM" encode "$T/d.safetensors" --data "$T/dtrain.csv" --limit 50 --out "$T/f2.npy"
contains "$T/err" "level 2 of 2 (6 units)" "encode default level"
expect_ok "encode rbm" -- "$EBM" encode "$T/good.safetensors" --data "$T/dtrain.csv" --out "$T/fr.csv"
ok; [ "$(head -n 1 "$T/fr.csv" | awk -F, '{ print NF }')" = 8 ] || fail "encode of an RBM: expected 8 hidden units"
expect_ok "eval dbn" -- "$EBM" eval "$T/d.safetensors" --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert r["kind"] == "dbn" and r["rows"] == 300 and 0 <= r["recon_mse"] < 0.15 and r["score_mean"] < 0, r' \
        "$T/out" || fail "eval dbn --json: $(cat "$T/out")"
fi
head -n 200 "$T/dtrain.csv" >"$T/ptrain.csv"; head -n 200 "$T/dlabels.csv" >"$T/plabels.csv"
tail -n 100 "$T/dtrain.csv" >"$T/ptest.csv"; tail -n 100 "$T/dlabels.csv" >"$T/ptlabels.csv"
expect_ok "eval --probe" -- "$EBM" eval "$T/d.safetensors" --probe --data "$T/ptrain.csv" --labels "$T/plabels.csv" \
    --test "$T/ptest.csv" --test-labels "$T/ptlabels.csv" --layer all --json
ok; if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || fail "eval --probe --json content: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["train_rows"] == 200 and r["test_rows"] == 100, r
assert [p["level"] for p in r["probes"]] == [0, 1, 2] and [p["units"] for p in r["probes"]] == [12, 8, 6], r
assert all(p["test_accuracy"] > 0.95 and p["test_nll"] >= 0 for p in r["probes"]), r
EOF
fi
expect_ok "eval --probe text on an RBM" -- "$EBM" eval "$T/good.safetensors" --probe --data "$T/ptrain.csv" \
    --labels "$T/plabels.csv" --test "$T/ptest.csv" --test-labels "$T/ptlabels.csv"
contains "$T/out" "raw pixels" "probe baseline row"
contains "$T/out" "level 1 " "probe level row"
# bad input
expect_error 2 "dbn bad layers" -- "$EBM" train dbn --data "$T/dtrain.csv" --layers 8,,6 --out "$T/x.safetensors"
expect_error 2 "dbn zero layer" -- "$EBM" train dbn --data "$T/dtrain.csv" --layers 0 --out "$T/x.safetensors"
expect_error 1 "dbn missing --out" -- "$EBM" train dbn --data "$T/dtrain.csv"
expect_error 1 "dbn data outside [0,1]" -- "$EBM" train dbn --data "$T/range.csv" --out "$T/x.safetensors"
expect_error 2 "encode bad level" -- "$EBM" encode "$T/d.safetensors" --layer 3 --out "$T/x.npy"
expect_error 1 "encode missing --out" -- "$EBM" encode "$T/d.safetensors"
expect_error 1 "encode a grbm" -- "$EBM" encode "$T/g.safetensors" --data "$T/g.csv" --out "$T/x.npy"
expect_error 1 "encode shape mismatch" -- "$EBM" encode "$T/d.safetensors" --data "$T/narrow.csv" --out "$T/x.npy"
expect_error 1 "probe without labels" -- "$EBM" eval "$T/d.safetensors" --probe --test "$T/ptest.csv"
contains "$T/err" "has no labels" "probe missing labels named"
expect_error 1 "probe short labels file" -- "$EBM" eval "$T/d.safetensors" --probe --labels "$T/ptlabels.csv" \
    --test "$T/ptest.csv" --test-labels "$T/ptlabels.csv"
printf '0\n1\n7\n' >"$T/unseen.csv"; head -n 3 "$T/ptest.csv" >"$T/ptest3.csv"
expect_error 1 "probe unseen test label" -- "$EBM" eval "$T/d.safetensors" --probe --data "$T/ptrain.csv" \
    --labels "$T/plabels.csv" --test "$T/ptest3.csv" --test-labels "$T/unseen.csv"
expect_error 1 "probe of a grbm" -- "$EBM" eval "$T/g.safetensors" --probe --data "$T/g.csv" --test "$T/g.csv"
expect_error 1 "sample dbn nothing to write" -- "$EBM" sample "$T/d.safetensors"
expect_error 1 "sample dbn bad shape" -- "$EBM" sample "$T/d.safetensors" --png "$T/x.png" --shape 5x5
head -c 150 "$T/d.safetensors" >"$T/dcut.safetensors"
expect_error 1 "truncated dbn" -- "$EBM" info "$T/dcut.safetensors"
LC_ALL=C sed 's/"ebm.dbn.sizes"/"ebm.dbn.sizez"/' "$T/d.safetensors" >"$T/dnosizes.safetensors"
expect_error 1 "dbn without sizes" -- "$EBM" sample "$T/dnosizes.safetensors" --csv "$T/x.csv"
contains "$T/err" "ebm.dbn.sizes" "missing sizes named"
LC_ALL=C sed 's/"12,8,6"/"12,8,7"/' "$T/d.safetensors" >"$T/dsizes.safetensors"
expect_error 1 "dbn sizes disagree with tensors" -- "$EBM" encode "$T/dsizes.safetensors" --out "$T/x.npy"
contains "$T/err" "layers.1.W" "mismatched tensor named"

expect_ok "score dbn" -- "$EBM" score "$T/d.safetensors" --data "$T/test.csv" --anomaly-data "$T/bits.csv" --json
ok; awk '{ if (match($0, /"auroc": [0-9.]+/)) { a = substr($0, RSTART + 9, RLENGTH - 9) + 0; exit !(a > 0.8) } exit 1 }' "$T/out" ||
    fail "DBN score should flag random bit strings against its prototypes: $(cat "$T/out")"

# --- resume: every kind killed (SIGKILL) after a checkpoint and resumed equals a run never stopped ----
# EBM_TEST_KILL_AFTER=N (a test hook) kills the process after update N, before that update's checkpoint, so
# the updates after the last checkpoint are lost as in a real kill; --resume must redo them bit for bit.
same_tensors() { # same_tensors A B: every tensor (name, dtype, shape, bytes) equal; metadata may differ
    python3 - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n]); base = 8 + n
    return {k: (v['dtype'], v['shape'], b[base + v['data_offsets'][0]:base + v['data_offsets'][1]])
            for k, v in h.items() if k != '__metadata__'}
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
if bad or not a: print('tensors differ: ' + ', '.join(bad)); sys.exit(1)
PY
}
if command -v python3 >/dev/null 2>&1; then
resume_check() { # resume_check NAME KILL_AFTER EVERY -- ebm train KIND args... (without --out)
    name=$1 kill=$2 every=$3; shift 4
    full="$T/rs-$name-full.safetensors" out="$T/rs-$name.safetensors"
    expect_ok "$name: uninterrupted" -- "$EBM" --quiet "$@" --out "$full"
    [ -n "${keep_log:-}" ] && cp "$keep_log" "$keep_log.full"
    EBM_TEST_KILL_AFTER=$kill "$EBM" --quiet "$@" --checkpoint-every "$every" --out "$out" >"$T/out" 2>"$T/err"
    got=$?
    ok; [ "$got" = 137 ] || fail "$name: the killed run exited $got, expected 137: $(cat "$T/err")"
    ok; [ -s "$T/rs-$name.ckpt.safetensors" ] && [ ! -e "$out" ] || fail "$name: no checkpoint (or --out written) after the kill"
    expect_ok "$name: resumed" -- "$EBM" "$@" --checkpoint-every "$every" --out "$out" --resume
    contains "$T/err" "resuming from .*rs-$name.ckpt.safetensors" "$name: resume announced"
    ok; same_tensors "$full" "$out" >"$T/out" || fail "$name: resumed model differs from the uninterrupted one: $(cat "$T/out")"
    ok; [ ! -e "$T/rs-$name.ckpt.safetensors" ] || fail "$name: checkpoint left behind after the run completed"
}
keep_log="$T/rs-rbm.csv"
resume_check rbm 23 10 -- train rbm --data "$T/train.csv" --hidden 8 --epochs 4 --batch 20 --pcd 2 --lr-final 0.01 \
    --seed 3 --log "$T/rs-rbm.csv"
keep_log=
ok; [ "$(cut -d, -f1,4- "$T/rs-rbm.csv")" = "$(cut -d, -f1,4- "$T/rs-rbm.csv.full")" ] ||
    fail "the resumed run's log differs from an uninterrupted run's (beyond timings)"
resume_check grbm 17 6 -- train grbm --data "$T/g.csv" --hidden 6 --pcd 3 --epochs 3 --batch 50 --lr 0.05
resume_check bm 20 9 -- train bm --data "$T/train.csv" --method pcd --epochs 3 --batch 25 --lr 0.1
resume_check dbn 22 5 -- train dbn --data "$T/train.csv" --layers 8,6 --epochs 2 --batch 20 --pcd 1
resume_check ebm 33 10 -- train ebm --data toy:8gaussians --limit 500 --net linear:16,silu,linear:1 --iters 50 \
    --batch 32 --buffer 100 --sampler ula --steps 3 --step-size 0.05 --log "$T/rs-ebm.csv"
ok; [ "$(wc -l <"$T/rs-ebm.csv")" = 51 ] || fail "resumed train ebm log has $(wc -l <"$T/rs-ebm.csv") lines, expected 51"
resume_check jem 27 10 -- train jem --data toy:8gaussians --limit 500 --net linear:16,silu,linear:8 --iters 40 \
    --batch 32 --buffer 100 --sampler ula --steps 3 --step-size 0.05 --lr 5e-3
# bf16 (the weight copies remade after the resumed parameters are loaded) with --ema (swapped in at every save)
[ "$have_bf16" = 1 ] && resume_check jem-bf16 27 10 -- train jem --data toy:8gaussians --limit 500 \
    --net linear:16,silu,linear:8 --iters 40 --batch 32 --buffer 100 --sampler ula --steps 3 --step-size 0.05 --lr 5e-3 \
    --precision bf16 --ema 0.9
# --rotations (the turned data rebuilt on resume; the trimmed model saved at the end) with --ema (swapped in, then trimmed)
export EBM_FASHION_MNIST_DIR="$T/fm"
resume_check jem-rotations 9 4 -- train jem --data fashion-mnist --rotations --net flatten,linear:16,silu,linear:8 \
    --iters 16 --batch 16 --steps 2 --ema 0.9
unset EBM_FASHION_MNIST_DIR
resume_check structured 40 12 -- train structured --data toy:8gaussians --limit 500 --net linear:16,silu,linear:8 \
    --loss hinge --epochs 3 --batch 20 --lr 0.01
# the old --checkpoint N of train ebm: a checkpoint and the model so far
expect_ok "train ebm --checkpoint" -- "$EBM" --quiet train ebm --data toy:moons --limit 300 --net linear:8,silu,linear:1 \
    --iters 20 --batch 16 --buffer 50 --steps 2 --checkpoint 8 --out "$T/ck.safetensors"
EBM_TEST_KILL_AFTER=18 "$EBM" --quiet train ebm --data toy:moons --limit 300 --net linear:8,silu,linear:1 \
    --iters 20 --batch 16 --buffer 50 --steps 2 --checkpoint 8 --out "$T/ck2.safetensors" >/dev/null 2>&1
ok; [ -s "$T/ck2.ckpt.safetensors" ] && [ -s "$T/ck2.partial.safetensors" ] || fail "train ebm --checkpoint wrote no checkpoint or partial model"
# a mismatched resume is refused, naming what differs; a missing checkpoint is an error
EBM_TEST_KILL_AFTER=12 "$EBM" --quiet train rbm --data "$T/train.csv" --hidden 8 --epochs 2 --batch 20 \
    --checkpoint-every 5 --out "$T/mm.safetensors" >/dev/null 2>&1
cp "$T/mm.ckpt.safetensors" "$T/mm-keep.ckpt.safetensors"
expect_error 1 "resume with another --hidden" -- "$EBM" train rbm --data "$T/train.csv" --hidden 9 --epochs 2 --batch 20 \
    --out "$T/mm.safetensors" --resume
contains "$T/err" "does not match this run: params" "another --hidden named"
expect_error 1 "resume on other data" -- "$EBM" train rbm --data "$T/test.csv" --hidden 8 --epochs 2 --batch 20 \
    --out "$T/mm.safetensors" --resume "$T/mm-keep.ckpt.safetensors"
contains "$T/err" "does not match this run: data" "other data named"
expect_error 1 "resume with another --cd" -- "$EBM" train rbm --data "$T/train.csv" --hidden 8 --epochs 2 --batch 20 \
    --cd 2 --out "$T/mm.safetensors" --resume="$T/mm-keep.ckpt.safetensors"
contains "$T/err" "setting.ebm.train.method" "another --cd named"
expect_error 1 "resume a model file" -- "$EBM" train rbm --data "$T/train.csv" --hidden 8 --epochs 2 --batch 20 \
    --out "$T/mm.safetensors" --resume "$T/m.safetensors"
contains "$T/err" "not a training checkpoint" "model file is not a checkpoint"
expect_error 1 "info on a checkpoint" -- "$EBM" info "$T/mm-keep.ckpt.safetensors"
contains "$T/err" "is a training checkpoint, not a model" "a checkpoint is not taken for a model"
expect_error 1 "resume without a checkpoint" -- "$EBM" train rbm --data "$T/train.csv" --out "$T/none.safetensors" --resume
contains "$T/err" "checkpoint-every" "missing checkpoint explained"
fi
# an interrupt saves NAME.partial.safetensors for every kind, and a checkpoint to resume from
for k in "rbm --data $T/train.csv --hidden 4" "grbm --data $T/g.csv --hidden 4" "bm --data $T/train.csv" \
         "dbn --data $T/train.csv --layers 4,3" "ebm --data toy:moons --limit 200 --net linear:8,silu,linear:1 --iters 20" \
         "jem --data toy:8gaussians --limit 200 --net linear:8,silu,linear:8 --iters 20" \
         "structured --data toy:8gaussians --limit 200 --net linear:8,silu,linear:8"; do
    kind=${k%% *}
    # shellcheck disable=SC2086
    EBM_TEST_INTERRUPT_AFTER=3 "$EBM" --quiet train $k --batch 20 --checkpoint-every 100 --out "$T/int-$kind.safetensors" \
        >"$T/out" 2>"$T/err"
    got=$?
    ok; [ "$got" = 130 ] || fail "interrupted train $kind exited $got: $(cat "$T/err")"
    ok; [ -s "$T/int-$kind.partial.safetensors" ] || fail "interrupted train $kind saved no $kind.partial.safetensors: $(ls "$T" | grep "int-$kind")"
    ok; [ -s "$T/int-$kind.ckpt.safetensors" ] || fail "interrupted train $kind wrote no checkpoint"
done

if [ "$fails" -ne 0 ]; then
    echo "test_cli: $fails of $checks checks failed" >&2
    exit 1
fi
echo "test_cli: all $checks checks passed"
