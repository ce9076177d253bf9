# Turns the RESULT lines of bench_rbm and the peer scripts (impl=WHO@KERNELS ...) into one table per
# OpenBLAS kernel set: seconds per epoch of ebm, scikit-learn and PyTorch, the peers' time over ebm's,
# and ebm's achieved GFLOP/s as a fraction of the sgemm peak measured in the same run.
# usage: awk -f bench/rbm_table.awk OUTPUT-OF-compare_rbm.sh
/^RESULT/ {
    delete kv
    for (i = 2; i <= NF; i++) { split($i, kvp, "="); kv[kvp[1]] = kvp[2] }
    split(kv["impl"], ip, "@"); tag = ip[2]; who = ip[1]
    if (!(tag in seen_tag)) { seen_tag[tag] = 1; tags[++nt] = tag }
    if (who == "peak") { peak[tag] = kv["gflops"]; next }
    key = kv["mode"] " " kv["hidden"]
    t[tag, who, key] = kv["sec_per_epoch"]
    if (!(key in seen_key)) { seen_key[key] = 1; keys[++nk] = key }
    if (who == "ebm") frac[tag, key] = kv["peak_frac"]
}
END {
    for (g = 1; g <= nt; g++) {
        tag = tags[g]
        printf "\nOpenBLAS kernels: %s (sgemm peak %.0f GFLOP/s)\n", tag, peak[tag]
        printf "%-10s %10s %10s %8s %10s %8s %9s\n", "method", "ebm", "sklearn", "ratio", "torch", "ratio", "ebm/peak"
        for (k = 1; k <= nk; k++) {
            e = t[tag, "ebm", keys[k]]; sk = t[tag, "sklearn", keys[k]]; pt = t[tag, "torch", keys[k]]
            if (e == "") continue
            printf "%-10s %9.3fs", keys[k], e
            if (sk != "") printf " %9.3fs %7.1fx", sk, sk / e; else printf " %10s %8s", "-", "-"
            if (pt != "") printf " %9.3fs %7.1fx", pt, pt / e; else printf " %10s %8s", "-", "-"
            printf " %8.0f%%\n", 100 * frac[tag, keys[k]]
        }
    }
    print "(seconds per epoch of 60,000 images, batch 100; ratio = peer time / ebm time; sklearn has PCD-1 only)"
}
