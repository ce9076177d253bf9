#!/bin/sh
# Installs the Debian packages a target needs, and only those that are missing (idempotent; no network
# when everything is present).  usage: scripts/deps.sh build|demo|bench|fuzz
#   build: compiler, cmake, OpenBLAS (OpenMP build), zlib, libpng, oneDNN (bf16 products; optional at build
#          time), Open MPI (mpirun -np N ebm train; optional at build time), and for the Python package's tests
#          (python/, run by `make test` under /usr/bin/python3) NumPy, SciPy, scikit-learn, pytest, matplotlib
#   demo:  build + dataset-fashion-mnist
#   bench: demo + python3-torch (with scikit-learn: the peers of bench/compare_rbm.sh)
#   fuzz:  build + clang and its libFuzzer runtime (make fuzz)
set -eu
what=${1:-build}
pkgs="build-essential cmake pkg-config libopenblas-dev libopenblas-openmp-dev libopenblas0-openmp zlib1g-dev libpng-dev libdnnl-dev"
pkgs="$pkgs python3-numpy python3-scipy python3-sklearn python3-pytest python3-matplotlib"
pkgs="$pkgs libopenmpi-dev openmpi-bin"
case "$what" in
build) ;;
demo) pkgs="$pkgs dataset-fashion-mnist" ;;
bench) pkgs="$pkgs dataset-fashion-mnist python3-torch" ;;
fuzz)
    pkgs="$pkgs clang"
    # libFuzzer's runtime is only a Recommends of clang (skipped by --no-install-recommends) and is packaged
    # per version (Debian 12: libclang-rt-14-dev; older releases ship it inside libclang-common-N-dev)
    v=$(apt-cache depends clang 2>/dev/null | sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1)
    if [ -n "$v" ] && apt-cache show "libclang-rt-$v-dev" >/dev/null 2>&1; then pkgs="$pkgs libclang-rt-$v-dev"; fi ;;
*) echo "usage: scripts/deps.sh build|demo|bench|fuzz" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "need root to install:$missing (run: apt-get install$missing)" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$sudo apt-get install -y --no-install-recommends $missing || {
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y --no-install-recommends $missing
}
