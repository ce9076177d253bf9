#!/bin/sh
# The OpenMP wait settings side by side, quiet and beside one busy process (`yes > /dev/null` on one of the
# cores): the default (the re-execution's choice: GOMP_SPINCOUNT=1000 when nothing else runs at start, passive
# waits when something does), a 1000 spin forced (what a run gets when the load arrives after it started), and
# passive waits.  bench_net (MLP, CNN, JEM; fp32 and bf16) and bench_rbm (CD-1, PCD-1 784x512, fp32), with the
# SkylakeX kernels.  Prints the policy in effect and the RESULT lines.  About 8 minutes on 2 cores.
# usage: bench/wait_policy.sh [BUILD_DIR] [ROUNDS]
set -eu
B=${1:-build}
ROUNDS=${2:-2}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT EBM_NO_REEXEC
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE_BENCH:-SkylakeX}
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for cfg in default GOMP_SPINCOUNT=1000 OMP_WAIT_POLICY=passive; do
        for busy in 0 1; do
            yp=""
            if [ "$busy" = 1 ]; then
                yes >/dev/null &
                yp=$!
                sleep 0.5
            fi
            e=""
            [ "$cfg" != default ] && e=$cfg
            echo "== round $r, $cfg, busy=$busy, load $(cut -d' ' -f1 /proc/loadavg)"
            # shellcheck disable=SC2086
            env $e "$B/bench/bench_net" --reps 5 2>&1 | grep -E "wait policy|^RESULT impl=ebm" | sed 's/.*wait policy/wait policy/'
            # shellcheck disable=SC2086
            env $e "$B/bench/bench_rbm" --hidden 512 --epochs 2 --precision fp32 2>&1 | grep -E "^RESULT impl=ebm.*(cd1|pcd1)"
            [ -n "$yp" ] && kill "$yp"
        done
    done
    r=$((r + 1))
done
