#!/bin/sh
# Side-by-side RBM training speed in one run: ebm (bench_rbm), scikit-learn's BernoulliRBM (PCD-1) and an
# idiomatic PyTorch-CPU loop (CD-1, PCD-1), same data (binarised Fashion-MNIST, 60,000 x 784), batch 100,
# the same threads, the same OpenBLAS kernels for all three (ebm's own re-execution is switched off).
# Everything runs with the kernels the environment selects and, where OpenBLAS misdetects the CPU, once
# more with the faster kernels for all.
# ebm runs in each precision bench_rbm offers (fp32, and bf16 where oneDNN is built in: --precision LIST);
# the peers run fp32 (scikit-learn has no other; PyTorch 1.13 CPU has no bf16 matmul faster than fp32 here).
# usage: bench/compare_rbm.sh [PATH/TO/bench_rbm] [--hidden 256,512,1024] [--epochs N] [--precision fp32,bf16]
set -eu
BENCH=${1:-build/bench/bench_rbm}
[ $# -gt 0 ] && shift
HIDDEN=256,512,1024
EPOCHS=3
PREC=""
while [ $# -gt 0 ]; do
    case "$1" in
    --hidden) HIDDEN=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --precision) PREC="--precision $2"; shift 2 ;;
    *) echo "usage: $0 [bench_rbm] [--hidden LIST] [--epochs N] [--precision LIST]" >&2; exit 2 ;;
    esac
done
PY=/usr/bin/python3 # Debian's interpreter: python3-sklearn and python3-torch load only there
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${OMP_NUM_THREADS:-$(nproc)}
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT

# run_all TAG: ebm, scikit-learn and PyTorch under the current environment, results tagged TAG
run_all() {
    tag=$1
    echo "== [$tag] ebm"
    # shellcheck disable=SC2086
    EBM_NO_REEXEC=1 "$BENCH" --hidden "$HIDDEN" --epochs "$EPOCHS" $PREC | sed "s/impl=\([a-z0-9_]*\)/impl=\1@$tag/" | tee -a "$TMP"
    echo "== [$tag] scikit-learn $($PY -c 'import sklearn; print(sklearn.__version__)')"
    $PY "$HERE/peer_sklearn.py" --hidden "$HIDDEN" --epochs "$EPOCHS" | sed "s/impl=sklearn/impl=sklearn@$tag/" | tee -a "$TMP"
    echo "== [$tag] PyTorch $($PY -c 'import torch; print(torch.__version__)') CPU, $THREADS threads"
    $PY "$HERE/peer_torch.py" --hidden "$HIDDEN" --epochs "$EPOCHS" --threads "$THREADS" | sed "s/impl=torch/impl=torch@$tag/" | tee -a "$TMP"
}

# 1. Everyone with the OpenBLAS kernels this environment selects (OPENBLAS_CORETYPE as set, or detected).
CUR=${OPENBLAS_CORETYPE:-detected}
run_all "$CUR"
# 2. Where a faster OpenBLAS kernel exists for this CPU, everyone again with it, so that neither side's
#    figure is only a kernel-selection effect.
BETTER=$(EBM_NO_REEXEC=1 "$BENCH" --better-core)
if [ -n "$BETTER" ] && [ "$BETTER" != "$CUR" ]; then
    OPENBLAS_CORETYPE=$BETTER run_all "$BETTER"
fi

echo
echo "== seconds per epoch and speed-up of ebm (peer time / ebm time), same machine, same run"
awk -f "$HERE/rbm_table.awk" "$TMP"
