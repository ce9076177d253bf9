#!/bin/sh
# Data-parallel training and evaluation under MPI (docs/distributed.md): for every trainer kind, a run over two
# processes (mpirun -np 2) against one process on a tiny problem, within the rounding bound stated in the docs
# (1e-5), and two runs over two processes bit-identical; runs killed and resumed over two processes, in one
# process and across; AIS and score over two processes equal to one; a rank killed mid-run leaves --out
# untouched; `ebm sample` over two processes byte-identical to one for every kind that samples.
# usage: test_mpi.sh EBM [MPIRUN]; exit 77 (skipped) without mpirun or MPI in EBM.
set -u
EBM=$1
MPIRUN=${2:-$(command -v mpirun || true)}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "$MPIRUN" ] || ! [ -x "$MPIRUN" ]; then echo "skipped: mpirun not found (apt-get install openmpi-bin)"; exit 77; fi
if ! "$EBM" --version | grep -q "^MPI: yes"; then echo "skipped: $EBM was built without MPI"; exit 77; fi
[ -x "$PY" ] || PY=python3
# CI containers run as root, which Open MPI refuses without these
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export OMP_WAIT_POLICY=PASSIVE OMPI_MCA_rmaps_base_oversubscribe=1
# Under the sanitizer suite: Open MPI's own allocations (MPI_Init's components, ompi_op_base_op_select, plug-ins
# unloaded at MPI_Finalize) are reported as leaks that no suppression can name, so leak checking is off for
# the processes mpirun starts; every other ASan/UBSan check stays on, and ebm's own code paths are leak-checked
# in one process by the rest of the suite.
if [ -n "${ASAN_OPTIONS:-}" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
np() { n=$1; shift; "$MPIRUN" -np "$n" --oversubscribe "$@"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# a tiny binary data set (64 x 12) and a continuous one (80 x 8)
awk 'BEGIN { srand(3); for (r = 0; r < 64; r++) { k = r % 3; l = "";
  for (i = 0; i < 12; i++) l = l (i ? "," : "") ((rand() < ((i % 3 == k) ? 0.8 : 0.15)) ? 1 : 0); print l } }' >"$T/b.csv"
awk 'BEGIN { srand(5); for (r = 0; r < 80; r++) { k = r % 2; l = "";
  for (i = 0; i < 8; i++) l = l (i ? "," : "") ((i % 2 == k) ? 0.8 : 0.2) + 0.1 * (rand() - 0.5); print l } }' >"$T/g.csv"

# kind, bound on max |theta(-np 2) - theta(-np 1)|, arguments
check() {
    name=$1 bound=$2
    shift 2
    "$EBM" --quiet train "$@" --out "$T/one.safetensors" >"$T/log" 2>&1 || { fail "$name: one process"; cat "$T/log"; return; }
    np 2 "$EBM" --quiet train "$@" --out "$T/two.safetensors" >"$T/log" 2>&1 || { fail "$name: two processes"; cat "$T/log"; return; }
    np 2 "$EBM" --quiet train "$@" --out "$T/two2.safetensors" >"$T/log" 2>&1 || { fail "$name: two processes again"; cat "$T/log"; return; }
    d12=$("$PY" "$HERE/st_diff.py" "$T/one.safetensors" "$T/two.safetensors") || { fail "$name: compare"; return; }
    d22=$("$PY" "$HERE/st_diff.py" "$T/two.safetensors" "$T/two2.safetensors") || { fail "$name: compare"; return; }
    echo "$name: -np 2 vs -np 1: max |diff| ${d12% *} (max |theta| ${d12#* }, bound $bound); -np 2 twice: ${d22% *}"
    awk -v d="${d12% *}" -v b="$bound" 'BEGIN { exit !(d <= b) }' || fail "$name: -np 2 differs from -np 1 by ${d12% *} > $bound"
    [ "${d22% *}" = 0 ] || fail "$name: two runs over two processes differ by ${d22% *}"
}

# Every kind draws what one process draws (every row and chain from the stream of its global index; persistent
# chains sliced by global index; the replay buffer kept whole on every process): rounding only.  The bound is
# absolute on parameters of magnitude <= 1 here (max |theta| is printed), so at least 1e-5 relative.
check "rbm cd-2" 1e-5 rbm --data "$T/b.csv" --hidden 6 --cd 2 --epochs 6 --batch 20 --lr 0.1 --seed 2
check "rbm pcd-1" 1e-5 rbm --data "$T/b.csv" --hidden 6 --pcd 1 --chains 10 --epochs 6 --batch 16 --lr 0.1 --seed 2
check "dbn" 1e-5 dbn --data "$T/b.csv" --layers 6,4 --epochs 4 --batch 16 --lr 0.1 --seed 2
check "bm pl" 1e-5 bm --data "$T/b.csv" --method pl --epochs 4 --batch 16 --lr 0.05 --seed 2
check "structured" 1e-5 structured --data toy:8gaussians --limit 256 --net linear:8,silu,linear:8 --loss hinge \
    --epochs 3 --batch 32 --lr 0.01 --seed 2
check "bm pcd" 1e-5 bm --data "$T/b.csv" --method pcd --epochs 4 --batch 16 --lr 0.05 --seed 2
# 7 chains over 2 processes (4 + 3), a short last batch (64 = 2 x 24 + 16), random scan
check "bm pcd, 7 chains" 1e-5 bm --data "$T/b.csv" --method pcd --chains 7 --scan random --epochs 3 --batch 24 \
    --lr 0.05 --seed 2
check "bm cd" 1e-5 bm --data "$T/b.csv" --method cd --epochs 3 --batch 24 --lr 0.05 --seed 2
check "grbm" 1e-5 grbm --data "$T/g.csv" --hidden 4 --cd 5 --epochs 4 --batch 20 --lr 0.05 --seed 2
# chains from the data: a chain's row may be on the other process (the batch is gathered); short last batch
check "grbm gibbs, data" 1e-5 grbm --data "$T/g.csv" --hidden 4 --cd 3 --sampler gibbs --neg-init data --epochs 3 \
    --batch 24 --lr 0.05 --seed 2
check "grbm pcd langevin" 1e-5 grbm --data "$T/g.csv" --hidden 4 --pcd 3 --chains 9 --sampler langevin --epochs 3 \
    --batch 24 --lr 0.05 --seed 2
check "ebm" 1e-5 ebm --data toy:8gaussians --limit 256 --net linear:8,silu,linear:1 --iters 20 --batch 32 \
    --buffer 64 --sampler ula --steps 5 --step-size 0.05 --seed 2
check "ebm short-run mala" 1e-5 ebm --data toy:8gaussians --limit 256 --net linear:8,silu,linear:1 --iters 15 \
    --batch 30 --negatives short-run --sampler mala --data-noise 0.01 --steps 5 --step-size 0.05 --seed 2
check "ebm persistent hmc" 1e-5 ebm --data toy:8gaussians --limit 256 --net linear:8,silu,linear:1 --iters 15 \
    --batch 31 --negatives persistent --sampler hmc --steps 3 --step-size 0.05 --seed 2
check "jem" 1e-5 jem --data toy:8gaussians --limit 256 --net linear:8,silu,linear:8 --iters 20 --batch 32 \
    --buffer 64 --sampler ula --steps 5 --step-size 0.05 --lr 5e-3 --seed 2

# Resume (every kind with persistent chains or a replay buffer): a run over two processes killed after a
# checkpoint (EBM_TEST_KILL_AFTER, a test hook: every rank SIGKILLs itself after that update) and resumed over
# two processes equals the uninterrupted two-process run bit for bit; its checkpoint (the processes' chains
# gathered) equals a one-process run's within rounding and resumes in one process to the one-process model
# within rounding; a one-process checkpoint resumes over two processes.
resume() {
    name=$1 kill=$2 every=$3
    shift 3
    r="$T/rs" ck="$T/rs.ckpt.safetensors"
    rm -f "$r"*.safetensors
    "$EBM" --quiet train "$@" --out "$r-full1.safetensors" >"$T/log" 2>&1 || { fail "$name: one process"; cat "$T/log"; return; }
    np 2 "$EBM" --quiet train "$@" --out "$r-full2.safetensors" >"$T/log" 2>&1 || { fail "$name: two processes"; cat "$T/log"; return; }
    EBM_TEST_KILL_AFTER=$kill np 2 "$EBM" --quiet train "$@" --checkpoint-every "$every" --out "$r.safetensors" >"$T/log" 2>&1
    [ -s "$ck" ] && [ ! -e "$r.safetensors" ] || { fail "$name: no checkpoint after the two processes were killed"; cat "$T/log"; return; }
    cp "$ck" "$r-ck2.safetensors"
    np 2 "$EBM" --quiet train "$@" --checkpoint-every "$every" --out "$r.safetensors" --resume >"$T/log" 2>&1 ||
        { fail "$name: resume over two processes"; cat "$T/log"; return; }
    [ ! -e "$ck" ] || fail "$name: checkpoint left behind after the resumed run completed"
    mv "$r.safetensors" "$r-22.safetensors"
    cp "$r-ck2.safetensors" "$ck"
    "$EBM" --quiet train "$@" --checkpoint-every "$every" --out "$r.safetensors" --resume >"$T/log" 2>&1 ||
        { fail "$name: resume in one process"; cat "$T/log"; return; }
    mv "$r.safetensors" "$r-21.safetensors"
    EBM_TEST_KILL_AFTER=$kill "$EBM" --quiet train "$@" --checkpoint-every "$every" --out "$r.safetensors" >/dev/null 2>&1
    cp "$ck" "$r-ck1.safetensors"
    np 2 "$EBM" --quiet train "$@" --checkpoint-every "$every" --out "$r.safetensors" --resume >"$T/log" 2>&1 ||
        { fail "$name: one-process checkpoint resumed over two processes"; cat "$T/log"; return; }
    d22=$("$PY" "$HERE/st_diff.py" "$r-full2.safetensors" "$r-22.safetensors") &&
        dck=$("$PY" "$HERE/st_diff.py" "$r-ck1.safetensors" "$r-ck2.safetensors") &&
        d21=$("$PY" "$HERE/st_diff.py" "$r-full1.safetensors" "$r-21.safetensors") &&
        d12=$("$PY" "$HERE/st_diff.py" "$r-full2.safetensors" "$r.safetensors") || { fail "$name: compare"; return; }
    echo "$name resume: -np 2 -> 2 vs uninterrupted ${d22% *}; checkpoints -np 2 vs -np 1 ${dck% *}; -np 2 -> 1 vs one process ${d21% *}; -np 1 -> 2 vs two processes ${d12% *}"
    [ "${d22% *}" = 0 ] || fail "$name: resumed over two processes, differs from the uninterrupted run by ${d22% *}"
    for d in "${dck% *}" "${d21% *}" "${d12% *}"; do
        awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' || fail "$name: a resume across process counts differs by $d > 1e-5"
    done
}
resume "rbm pcd" 23 10 rbm --data "$T/b.csv" --hidden 6 --pcd 2 --chains 9 --epochs 6 --batch 16 --lr 0.1 --seed 2
resume "bm pcd" 11 5 bm --data "$T/b.csv" --method pcd --chains 7 --epochs 4 --batch 16 --lr 0.05 --seed 2
resume "grbm pcd" 11 5 grbm --data "$T/g.csv" --hidden 4 --pcd 3 --chains 9 --epochs 4 --batch 20 --lr 0.05 --seed 2
resume "dbn" 9 4 dbn --data "$T/b.csv" --layers 6,4 --epochs 4 --batch 16 --lr 0.1 --pcd 1 --seed 2
resume "ebm" 13 5 ebm --data toy:8gaussians --limit 256 --net linear:8,silu,linear:1 --iters 20 --batch 32 \
    --buffer 64 --sampler ula --steps 5 --step-size 0.05 --seed 2
resume "jem" 13 5 jem --data toy:8gaussians --limit 256 --net linear:8,silu,linear:8 --iters 20 --batch 32 \
    --buffer 64 --sampler ula --steps 5 --step-size 0.05 --lr 5e-3 --seed 2
# a trainer that keeps random streams per process (structured has no ops->shard) still refuses, saying why
EBM_TEST_KILL_AFTER=20 "$EBM" --quiet train structured --data toy:8gaussians --limit 256 --net linear:8,silu,linear:8 \
    --loss hinge --epochs 3 --batch 32 --lr 0.01 --checkpoint-every 8 --out "$T/st.safetensors" >/dev/null 2>&1
np 2 "$EBM" --quiet train structured --data toy:8gaussians --limit 256 --net linear:8,silu,linear:8 --loss hinge \
    --epochs 3 --batch 32 --lr 0.01 --checkpoint-every 8 --out "$T/st.safetensors" --resume >"$T/log" 2>&1 &&
    fail "structured: a data-parallel resume was not refused"
grep -q "cannot resume; resume it in one process" "$T/log" && echo "structured: data-parallel resume refused, saying why" ||
    { fail "structured: the refusal does not say why"; cat "$T/log"; }

# AIS (forward and reverse) and score over two processes: the same figures as one process, bit for bit.
# ais_same NAME EVAL-ARGS...: `ebm eval ... --json` over two processes prints what one process prints (but time)
ais_same() {
    name=$1
    shift
    "$EBM" --quiet eval "$@" --json | sed 's/"seconds": [0-9.]*//g' >"$T/a1" || fail "$name: one process"
    np 2 "$EBM" --quiet eval "$@" --json | sed 's/"seconds": [0-9.]*//g' >"$T/a2" || fail "$name: two processes"
    grep -q '"log_z"' "$T/a1" && cmp -s "$T/a1" "$T/a2" && echo "$name -np 2: identical to -np 1" ||
        fail "$name -np 2 differs from -np 1"
}
"$EBM" --quiet train rbm --data "$T/b.csv" --hidden 5 --epochs 3 --out "$T/m.safetensors" >/dev/null 2>&1
ais_same "AIS" "$T/m.safetensors" --data "$T/b.csv" --ais --ais-runs 37 --ais-betas 300 --reverse
# more runs than hidden units (3000 runs of a 64 x 32 RBM, products of >= 2^18 multiply-adds, which one process
# splits by rows): with the GEMM blocking before the 48-row blocks, -np 2 differed here (measured)
awk 'BEGIN { srand(3); for (r = 0; r < 300; r++) { k = r % 4; l = "";
  for (i = 0; i < 64; i++) l = l (i ? "," : "") ((rand() < ((i % 4 == k) ? 0.8 : 0.15)) ? 1 : 0); print l } }' >"$T/w.csv"
"$EBM" --quiet train rbm --data "$T/w.csv" --hidden 32 --epochs 3 --out "$T/w.safetensors" >/dev/null 2>&1
ais_same "AIS 3000 runs of 64 x 32" "$T/w.safetensors" --data "$T/w.csv" --ais --ais-runs 3000 --ais-betas 30
awk 'BEGIN { srand(7); for (r = 0; r < 1100; r++) { l = "";
  for (i = 0; i < 12; i++) l = l (i ? "," : "") (rand() < 0.3 ? 1 : 0); print l } }' >"$T/s.csv"
"$EBM" --quiet score "$T/m.safetensors" --data "$T/s.csv" --out "$T/s1.csv" >/dev/null || fail "score: one process"
np 2 "$EBM" --quiet score "$T/m.safetensors" --data "$T/s.csv" --out "$T/s2.csv" >/dev/null || fail "score: two processes"
cmp -s "$T/s1.csv" "$T/s2.csv" && echo "score -np 2 (1100 rows): identical to -np 1" || fail "score -np 2 differs from -np 1"

# sample over two processes: the samples of one process, bit for bit (the chains split in blocks of 48: --n 100
# gives 48 + 52 chains, --n 30 leaves rank 1 without chains of its own).
samp() {
    name=$1
    shift
    "$EBM" --quiet sample "$@" --npy "$T/p1.npy" >"$T/log" 2>&1 || { fail "sample $name: one process"; cat "$T/log"; return; }
    np 2 "$EBM" --quiet sample "$@" --npy "$T/p2.npy" >"$T/log" 2>&1 || { fail "sample $name: two processes"; cat "$T/log"; return; }
    [ -s "$T/p1.npy" ] && cmp -s "$T/p1.npy" "$T/p2.npy" && echo "sample $name -np 2: identical to -np 1" ||
        fail "sample $name: -np 2 differs from -np 1"
}
t0=$(date +%s)
"$EBM" --quiet train grbm --data "$T/g.csv" --hidden 4 --epochs 2 --out "$T/sg.safetensors" >/dev/null 2>&1
"$EBM" --quiet train bm --data "$T/b.csv" --method pl --epochs 2 --out "$T/sb.safetensors" >/dev/null 2>&1
"$EBM" --quiet train dbn --data "$T/b.csv" --layers 6,4 --epochs 2 --out "$T/sd.safetensors" >/dev/null 2>&1
"$EBM" --quiet train ebm --data toy:8gaussians --limit 256 --net linear:8,silu,linear:1 --iters 5 --batch 32 \
    --buffer 64 --sampler ula --steps 5 --step-size 0.05 --out "$T/se.safetensors" >/dev/null 2>&1
"$EBM" --quiet train jem --data toy:8gaussians --limit 256 --net linear:8,silu,linear:8 --iters 5 --batch 32 \
    --buffer 64 --sampler ula --steps 5 --step-size 0.05 --out "$T/sj.safetensors" >/dev/null 2>&1
"$EBM" --quiet compose --out "$T/sc.safetensors" "$T/se.safetensors" "$T/sj.safetensors#2@0.5" >/dev/null 2>&1
# --score mahalanobis: every process fits the same Gaussians, the rows are split as for the energy
"$EBM" --quiet score "$T/sj.safetensors" --data toy:8gaussians --limit 1100 --score mahalanobis --out "$T/m1.csv" \
    >/dev/null || fail "score mahalanobis: one process"
np 2 "$EBM" --quiet score "$T/sj.safetensors" --data toy:8gaussians --limit 1100 --score mahalanobis --out "$T/m2.csv" \
    >/dev/null || fail "score mahalanobis: two processes"
cmp -s "$T/m1.csv" "$T/m2.csv" && echo "score --score mahalanobis -np 2: identical to -np 1" ||
    fail "score --score mahalanobis -np 2 differs from -np 1"
samp "rbm" "$T/m.safetensors" --n 100 --steps 20
samp "rbm, 30 chains" "$T/m.safetensors" --n 30 --steps 20
# more chains than units, in products of >= 2^18 multiply-adds (3000 x 64 x 32), which one process splits by rows
# (differed before the 48-row blocks, measured)
samp "rbm 64 x 32, 3000 chains" "$T/w.safetensors" --n 3000 --steps 5
samp "rbm --init data --binary" "$T/m.safetensors" --n 100 --steps 20 --init data --data "$T/b.csv" --binary
samp "grbm langevin --mh, data" "$T/sg.safetensors" --n 100 --steps 5 --sampler langevin --mh --init data --data "$T/g.csv"
samp "bm, random scan, data" "$T/sb.safetensors" --n 100 --steps 5 --scan random --init data --data "$T/b.csv"
samp "dbn" "$T/sd.safetensors" --n 100 --steps 10
samp "ebm mala" "$T/se.safetensors" --n 100 --steps 10 --sampler mala
# five classes: rank 1's first chain (48) has class 6, the fourth of the cycle
samp "jem --class" "$T/sj.safetensors" --n 100 --steps 10 --class 0,3,5,6,1 --labels "$T/l.npy"
samp "composed" "$T/sc.safetensors" --n 100 --steps 10
echo "sample tests: $(($(date +%s) - t0)) s"

# A rank killed mid-run: mpirun ends the job, --out keeps the old model byte for byte.
"$EBM" --quiet train rbm --data "$T/b.csv" --hidden 6 --epochs 1 --out "$T/keep.safetensors" >/dev/null 2>&1
cp "$T/keep.safetensors" "$T/keep.orig"
"$MPIRUN" -np 2 --oversubscribe "$EBM" --quiet train rbm --data "$T/b.csv" --hidden 6 --epochs 100000000 --batch 8 \
    --out "$T/keep.safetensors" >"$T/log" 2>&1 &
mpid=$!
victim=""
for _ in $(seq 100); do
    sleep 0.1
    for c in $(ps -o pid= --ppid "$mpid" 2>/dev/null); do
        tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$c
    done
    [ -n "$victim" ] && break
done
if [ -z "$victim" ]; then
    fail "kill test: rank 1 not found"
    kill "$mpid" 2>/dev/null
else
    sleep 1
    kill -9 "$victim"
fi
wait "$mpid"
rc=$?
[ $rc != 0 ] || fail "kill test: mpirun exited 0 after a rank was killed"
cmp -s "$T/keep.safetensors" "$T/keep.orig" || fail "kill test: --out changed after a rank was killed"
echo "killed rank 1 mid-run: mpirun exit $rc, --out untouched"

[ $fails = 0 ] && echo "all MPI tests passed" || echo "$fails MPI test(s) failed"
[ $fails = 0 ]
