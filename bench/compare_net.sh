#!/bin/sh
# Side-by-side speed of a neural-network energy in one run: ebm (bench_net) and the same MLP 784-512-512-1
# SiLU in PyTorch CPU (peer_torch_net.py, autograd), batch 128, the same threads.  ebm runs every measure in
# fp32 and, where built with oneDNN, in bf16 (rows NAME_bf16, set beside PyTorch's fp32 figure).  Both link OpenBLAS, so
# both run once with the kernels the environment selects and, where OpenBLAS misdetects the CPU (ebm's
# own re-execution switched off), once more with the faster kernels for both.  Prints Langevin steps per
# second, training iterations per second and the ratio ebm / PyTorch.  The load average is printed too:
# on a busy machine OpenMP threads that spin at barriers lose much of their time, and figures mean little.
# Load on a shared machine changes from second to second, so the two alternate for --rounds rounds (default
# 3) and the table keeps each one's best round (and the median of the rounds' medians).
# usage: bench/compare_net.sh [PATH/TO/bench_net] [--reps N] [--rounds N]
set -eu
BENCH=${1:-build/bench/bench_net}
[ $# -gt 0 ] && shift
REPS=10
ROUNDS=3
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [bench_net] [--reps N] [--rounds N]" >&2; exit 2 ;;
    esac
done
PY=/usr/bin/python3 # Debian's interpreter: python3-torch loads only there
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${OMP_NUM_THREADS:-$(nproc)}
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT

run_both() {
    tag=$1
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        echo "== [$tag] round $r, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "== [$tag] ebm"
        EBM_NO_REEXEC=1 OMP_NUM_THREADS=$THREADS "$BENCH" --reps "$REPS" | sed "s/impl=ebm/impl=ebm@$tag/; s/impl=peak/impl=peak@$tag/" | tee -a "$TMP"
        echo "== [$tag] PyTorch $($PY -c 'import torch; print(torch.__version__)') CPU, $THREADS threads"
        $PY "$HERE/peer_torch_net.py" --threads "$THREADS" --reps "$REPS" | sed "s/impl=torch/impl=torch@$tag/" | tee -a "$TMP"
        r=$((r + 1))
    done
}

# On a machine busier than its cores, OpenMP threads spinning at barriers (libgomp's default, both sides)
# mostly wait for descheduled partners: measured 8 vs 120 Langevin steps/s.  Then both run passive.
if [ -z "${OMP_WAIT_POLICY:-}" ] && awk -v n="$(nproc)" '{ exit !($1 >= n) }' /proc/loadavg; then
    export OMP_WAIT_POLICY=passive
    echo "== load average $(cut -d' ' -f1 /proc/loadavg) >= $(nproc) cores: OMP_WAIT_POLICY=passive for both"
fi
CUR=${OPENBLAS_CORETYPE:-detected}
run_both "$CUR"
BETTER=$(EBM_NO_REEXEC=1 "$BENCH" --better-core)
if [ -n "$BETTER" ] && [ "$BETTER" != "$CUR" ]; then
    OPENBLAS_CORETYPE=$BETTER run_both "$BETTER"
fi

echo
echo "== per second, best over all rounds and repetitions (higher is better), ebm / PyTorch, and the % of the best"
echo "   sgemm peak measured in the run; in brackets the median over rounds of each round's median"
awk '
/^RESULT/ {
    impl = ""; what = ""; per = ""; med = ""; gf = ""
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "impl") impl = kv[2]
        else if (kv[1] == "what") what = kv[2]
        else if (kv[1] == "per_s") per = kv[2]
        else if (kv[1] == "median_per_s") med = kv[2]
        else if (kv[1] == "gflops") gf = kv[2]
    }
    split(impl, p, "@")
    if (p[1] == "peak") { if (gf + 0 > peak[p[2]] + 0) peak[p[2]] = gf; next }
    key = p[2] SUBSEP what
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    if (per + 0 > val[p[1], key] + 0) { val[p[1], key] = per; gfl[p[1], key] = gf }
    meds[p[1], key, ++nmed[p[1], key]] = med
}
function median(impl, key,    m, i, j, t, a) {
    m = nmed[impl, key]
    for (i = 1; i <= m; i++) a[i] = meds[impl, key, i] + 0
    for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return m ? (m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2) : 0
}
END {
    printf "%-12s %-18s %10s %10s %7s %13s   %s\n", "kernels", "measure", "ebm", "PyTorch", "ratio", "ebm % of peak",
           "(medians: ebm, PyTorch, ratio)"
    for (i = 1; i <= n; i++) {
        key = order[i]; split(key, k, SUBSEP)
        # a bf16 row of ebm is set beside the fp32 figure of PyTorch (its CPU default) of the same measure
        tkey = key; sub(/_bf16$/, "", tkey)
        e = val["ebm", key]; t = val["torch", tkey]
        em = median("ebm", key); tm = median("torch", tkey)
        printf "%-12s %-18s %10.2f %10.2f %6.2fx %12.1f%%   %.2f, %.2f, %.2fx\n", k[1], k[2], e, t, (t > 0 ? e / t : 0),
               (peak[k[1]] > 0 ? 100 * gfl["ebm", key] / peak[k[1]] : 0), em, tm, (tm > 0 ? em / tm : 0)
    }
}' "$TMP"
