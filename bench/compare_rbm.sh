#!/bin/sh
# Side-by-side RBM training speed in one run: ebm (bench_rbm), scikit-learn's BernoulliRBM (PCD-1) and an
# idiomatic PyTorch-CPU loop (CD-1, PCD-1), same data (binarised Fashion-MNIST, 60,000 x 784), batch 100,
# the same threads.  The peers run twice: as installed (OpenBLAS picks its own kernels) and with
# OPENBLAS_CORETYPE set to the kernels ebm uses, so the ratio is not only a kernel-selection effect.
# usage: bench/compare_rbm.sh [PATH/TO/bench_rbm] [--hidden 256,512,1024] [--epochs N]
set -eu
BENCH=${1:-build/bench/bench_rbm}
[ $# -gt 0 ] && shift
HIDDEN=256,512,1024
EPOCHS=3
while [ $# -gt 0 ]; do
    case "$1" in
    --hidden) HIDDEN=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    *) echo "usage: $0 [bench_rbm] [--hidden LIST] [--epochs N]" >&2; exit 2 ;;
    esac
done
PY=/usr/bin/python3 # Debian's interpreter: python3-sklearn and python3-torch load only there
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${OMP_NUM_THREADS:-$(nproc)}
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT

echo "== ebm"
"$BENCH" --hidden "$HIDDEN" --epochs "$EPOCHS" | tee -a "$TMP"
CORE=$(grep -o 'core [A-Za-z0-9]*' "$TMP" | head -n 1 | cut -d' ' -f2)
echo "== scikit-learn $($PY -c 'import sklearn; print(sklearn.__version__)') (OpenBLAS default kernels)"
$PY "$HERE/peer_sklearn.py" --hidden "$HIDDEN" --epochs "$EPOCHS" | sed 's/impl=sklearn/impl=sklearn-default/' | tee -a "$TMP"
echo "== PyTorch $($PY -c 'import torch; print(torch.__version__)') CPU, $THREADS threads (OpenBLAS default kernels)"
$PY "$HERE/peer_torch.py" --hidden "$HIDDEN" --epochs "$EPOCHS" --threads "$THREADS" | sed 's/impl=torch/impl=torch-default/' | tee -a "$TMP"
if [ -n "$CORE" ]; then
    echo "== scikit-learn with OPENBLAS_CORETYPE=$CORE"
    OPENBLAS_CORETYPE=$CORE $PY "$HERE/peer_sklearn.py" --hidden "$HIDDEN" --epochs "$EPOCHS" | sed "s/impl=sklearn/impl=sklearn-$CORE/" | tee -a "$TMP"
    echo "== PyTorch with OPENBLAS_CORETYPE=$CORE"
    OPENBLAS_CORETYPE=$CORE $PY "$HERE/peer_torch.py" --hidden "$HIDDEN" --epochs "$EPOCHS" --threads "$THREADS" | sed "s/impl=torch/impl=torch-$CORE/" | tee -a "$TMP"
fi

echo
echo "== seconds per epoch and speed-up of ebm (peer time / ebm time), same machine, same run"
awk '
/^RESULT/ {
    delete kv
    for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    if (kv["impl"] == "peak") next
    key = kv["mode"] " " kv["hidden"]
    t[kv["impl"], key] = kv["sec_per_epoch"]
    if (!(kv["impl"] in seen_impl)) { seen_impl[kv["impl"]] = 1; impls[++ni] = kv["impl"] }
    if (!(key in seen_key)) { seen_key[key] = 1; keys[++nk] = key }
    if (kv["impl"] == "ebm") frac[key] = kv["peak_frac"]
}
END {
    printf "%-12s", "method"
    for (j = 1; j <= ni; j++) printf " %16s", impls[j]
    printf " %9s\n", "ebm/peak"
    for (k = 1; k <= nk; k++) {
        printf "%-12s", keys[k]
        for (j = 1; j <= ni; j++) {
            v = t[impls[j], keys[k]]
            if (v == "") printf " %16s", "-"
            else if (impls[j] == "ebm") printf " %15.3fs", v
            else printf " %8.3fs %5.1fx", v, v / t["ebm", keys[k]]
        }
        printf " %8.0f%%\n", 100 * frac[keys[k]]
    }
    print "(sklearn has PCD-1 only; its times are compared with ebm PCD-1)"
}' "$TMP"
