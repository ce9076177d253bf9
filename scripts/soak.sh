#!/bin/sh
# Soak test of checkpoint + resume (not in CI): a long PCD run (train rbm) and a long LCD run (train ebm with a
# replay buffer) are each killed with SIGKILL at random moments, at least CYCLES times, and resumed from their
# last checkpoint; the script checks that every process's peak memory stays flat (GNU time's maximum RSS; no
# resumed process above the uninterrupted run's peak) and that the final model's tensors equal those of an uninterrupted run byte for byte (and, for PCD, that the log
# equals the uninterrupted run's but for the timings).
#
#   scripts/soak.sh [EBM] [OUTDIR]        e.g. scripts/soak.sh build/ebm /tmp/soak
# Sizes come from the environment: CYCLES (20), SEED (1, the kill times), PCD_EPOCHS (3), PCD_HIDDEN (128),
# LCD_ITERS (600), DATA (fashion-mnist; any data of values in [0, 1] that train rbm and train ebm take).
# Needs /usr/bin/time (GNU time) and python3 (standard library only).  Exit status 0 when both runs held up.
set -u
EBM=${1:-build/ebm}
OUT=${2:-${TMPDIR:-/tmp}/ebm-soak}
CYCLES=${CYCLES:-20}
SEED=${SEED:-1}
PCD_EPOCHS=${PCD_EPOCHS:-3}
PCD_HIDDEN=${PCD_HIDDEN:-128}
LCD_ITERS=${LCD_ITERS:-600}
DATA=${DATA:-fashion-mnist}
mkdir -p "$OUT" || exit 1
[ -x /usr/bin/time ] || { echo "soak: needs GNU time at /usr/bin/time" >&2; exit 1; }
status=0

same_tensors() {
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
print('identical (%d tensors)' % len(a) if not bad and a else 'DIFFERENT: ' + ', '.join(bad))
sys.exit(1 if bad or not a else 0)
PY
}

# r <- a pseudo-random number in [lo, hi) from an LCG over the seed (POSIX sh has no $RANDOM; no subshell, so
# that the state moves on).
rand_state=$SEED
rand() {
    rand_state=$(( (rand_state * 1103515245 + 12345) % 2147483648 ))
    r=$(( $1 + (rand_state / 65536) % ($2 - $1) ))
}

ckpt_step() { head -c 65536 "$1" 2>/dev/null | grep -ao '"ebm.checkpoint.step":"[0-9]*"' | tr -dc 0-9; }

# soak NAME SECONDS_FULL -- ebm train ... (without --out, --log, --checkpoint-every, --resume)
soak() {
    name=$1 every=$2; shift 3
    full="$OUT/$name-full.safetensors" out="$OUT/$name.safetensors" ck="$OUT/$name.ckpt.safetensors"
    rm -f "$OUT/$name"*
    echo "== $name: uninterrupted run"
    t0=$(date +%s)
    /usr/bin/time -f "%M" -o "$OUT/$name-full.rss" "$EBM" "$@" --out "$full" --log "$OUT/$name-full.csv" \
        2>"$OUT/$name-full.err" || { echo "soak: $name: the uninterrupted run failed" >&2; status=1; return; }
    secs=$(( $(date +%s) - t0 ))
    [ "$secs" -ge 1 ] || secs=1
    # the data's loading time ("loaded R x C from SPEC (T s)"): kills mostly land in training, after it
    load_ms=$(sed -n 's/^loaded .*(\([0-9.]*\) s)$/\1/p' "$OUT/$name-full.err" | awk '{ printf "%d", $1 * 1000 + 300 }')
    [ -n "$load_ms" ] || load_ms=1000
    echo "   $secs s (data loaded in $load_ms ms), peak RSS $(cat "$OUT/$name-full.rss") KB"
    # Every 5th kill lands at a random moment of the data's loading; the others at a random moment within a
    # share of the training after the process's first new checkpoint (so that every cycle gets on), the shares
    # adding up to 70% of the training, so that CYCLES kills fit before the end.
    share_ms=$(( (secs * 1000 - load_ms) * 7 / 10 / CYCLES ))
    [ "$share_ms" -ge 200 ] || share_ms=200
    cycle=0 first_rss= last_rss= done=0 resume=
    : >"$OUT/$name-cycles.txt"
    while [ "$done" = 0 ]; do
        cycle=$((cycle + 1))
        prev=$(ckpt_step "$ck")
        # shellcheck disable=SC2086
        /usr/bin/time -f "%M" -o "$OUT/$name.rss" "$EBM" --quiet "$@" --out "$out" --log "$OUT/$name.csv" \
            --checkpoint-every "$every" $resume 2>"$OUT/$name.err" &
        tpid=$!
        ms=-
        if [ "$cycle" -le "$CYCLES" ]; then
            t_start=$(date +%s%N)
            if [ $((cycle % 5)) = 3 ]; then
                rand 50 "$load_ms"
            else
                while kill -0 "$tpid" 2>/dev/null && [ "$(ckpt_step "$ck")" = "$prev" ]; do sleep 0.05; done
                rand 0 "$share_ms"
            fi
            sleep "$(awk -v m="$r" 'BEGIN { printf "%.3f", m / 1000 }')"
            child=$(pgrep -P "$tpid" | head -n 1)
            [ -n "$child" ] && kill -9 "$child" 2>/dev/null
            ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
        fi
        wait "$tpid"
        rss=$(tail -n 1 "$OUT/$name.rss")
        if [ -s "$out" ]; then done=1; fi
        [ -z "$first_rss" ] && first_rss=$rss
        last_rss=$rss
        echo "$cycle $ms $rss $(ckpt_step "$ck")" >>"$OUT/$name-cycles.txt"
        if [ "$done" = 0 ] && [ "$cycle" -gt $((CYCLES * 4)) ]; then
            echo "soak: $name: no progress after $cycle cycles: $(cat "$OUT/$name.err")" >&2
            status=1
            return
        fi
        [ -s "$ck" ] && resume=--resume || resume=
    done
    kills=$((cycle - 1))
    max_rss=$(awk '{ if ($3 > m) m = $3 } END { print m }' "$OUT/$name-cycles.txt")
    progressed=$(awk '$4 != prev { n++ } { prev = $4 } END { print n + 0 }' "$OUT/$name-cycles.txt")
    echo "   $kills SIGKILL + resume cycles, $progressed of them after a new checkpoint (per cycle: ms from start to kill, peak RSS KB, checkpoint's update: $OUT/$name-cycles.txt)"
    echo "   temporary files left by writes the kills cut short: $(find "$OUT" -name ".$name*.tmp.*" | wc -l)"
    echo "   peak RSS: first process $first_rss KB, last $last_rss KB, largest $max_rss KB, uninterrupted $(cat "$OUT/$name-full.rss") KB"
    printf '   final model vs uninterrupted: '
    same_tensors "$full" "$out" || status=1
    if [ "$kills" -lt "$CYCLES" ]; then echo "soak: $name: only $kills kills (wanted $CYCLES)" >&2; status=1; fi
    # flat: no resumed process peaks more than 10% + 8 MB above the uninterrupted run (a process killed while
    # loading the data peaks lower, so the first one is no baseline)
    ref=$(cat "$OUT/$name-full.rss")
    if [ "$max_rss" -gt $(( ref + ref / 10 + 8192 )) ]; then
        echo "soak: $name: a resumed process peaked at $max_rss KB, the uninterrupted run at $ref KB" >&2
        status=1
    fi
}

# seconds columns differ; the rest of the log must be the uninterrupted run's
soak pcd 10 -- train rbm --data "$DATA" --binarize threshold --hidden "$PCD_HIDDEN" --pcd 1 --chains 100 \
    --epochs "$PCD_EPOCHS" --batch 100 --lr 0.01 --lr-final 0 --seed 1 --monitor 500
if [ -s "$OUT/pcd.csv" ]; then
    printf '   log (without timings) vs uninterrupted: '
    if [ "$(cut -d, -f1,4- "$OUT/pcd.csv")" = "$(cut -d, -f1,4- "$OUT/pcd-full.csv")" ]; then echo identical
    else echo DIFFERENT; status=1; fi
fi
soak lcd 5 -- train ebm --data "$DATA" --limit 20000 --net flatten,linear:64,silu,linear:1 --iters "$LCD_ITERS" \
    --batch 32 --buffer 2000 --sampler sgld --steps 10 --step-size 1 --noise 0.01 --lr 1e-4 --every 1000000
exit $status
