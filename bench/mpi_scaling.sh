#!/bin/sh
# 1 process x 2 threads against 2 processes x 1 thread on this machine, for one epoch of RBM CD-1 (784x512,
# Fashion-MNIST, batch 100) and for JEM iterations (the default CNN, batch 64), then the all-reduce of the real
# gradient sizes.  The figures and the model built on them are in docs/distributed.md.  The load average is
# printed with every timing: on a shared machine the timings are only as good as it is quiet.
# usage: bench/mpi_scaling.sh [BUILD]  (needs mpirun, dataset-fashion-mnist)
set -eu
B=${1:-build}
EBM=$B/ebm
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
now() { date +%s.%N; }
run() { # label, command...
    label=$1
    shift
    t0=$(now)
    "$@" >"$T/log" 2>&1 || { cat "$T/log"; exit 1; }
    echo "$label: $(secs "$t0" "$(now)") s (load $(load))"
}
RBM="train rbm --data fashion-mnist --binarize threshold --hidden 512 --cd 1 --epochs 1 --batch 100 --lr 0.01 --seed 1"
JEM="train jem --data fashion-mnist --iters 20 --batch 64 --seed 1"
echo "machine: $(nproc) cores; $(uname -r)"
for rep in 1 2; do
    run "rbm cd-1 epoch, 1 process x 2 threads" env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $EBM --quiet $RBM --out "$T/r1.safetensors"
    run "rbm cd-1 epoch, 2 processes x 1 thread" mpirun -np 2 --bind-to none -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
        $EBM --quiet $RBM --out "$T/r2.safetensors"
    run "jem 20 iterations, 1 process x 2 threads" env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $EBM $JEM --out "$T/j1.safetensors"
    run "jem 20 iterations, 2 processes x 1 thread" mpirun -np 2 --bind-to none -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
        $EBM $JEM --out "$T/j2.safetensors"
done
np_jem=$(sed -n 's/.*training energy net (\([0-9]*\) parameters).*/\1/p' "$T/log" | head -n 1)
echo "JEM parameters: ${np_jem:-unknown}; all-reduce (load $(load)):"
mpirun -np 2 --bind-to none "$B/bench/bench_allreduce" 15 402704 ${np_jem:-} 1000000 4000000
