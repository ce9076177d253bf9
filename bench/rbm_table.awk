# Turns the RESULT lines of bench_rbm and the peer scripts (impl=WHO@KERNELS ...) into one table per
# OpenBLAS kernel set: seconds per epoch of ebm (a row per precision), scikit-learn and PyTorch (fp32), the
# peers' time over ebm's, and ebm's achieved GFLOP/s as a fraction of the peak of its precision measured in
# the same run (fp32: the OpenBLAS sgemm peak; bf16: oneDNN's bf16 matmul peak).
# usage: awk -f bench/rbm_table.awk OUTPUT-OF-compare_rbm.sh
/^RESULT/ {
    delete kv
    for (i = 2; i <= NF; i++) { split($i, kvp, "="); kv[kvp[1]] = kvp[2] }
    split(kv["impl"], ip, "@"); tag = ip[2]; who = ip[1]
    if (!(tag in seen_tag)) { seen_tag[tag] = 1; tags[++nt] = tag }
    if (who == "peak") { peak[tag] = kv["gflops"]; next }
    if (who == "peak_bf16") { peak16[tag] = kv["gflops"]; next }
    if (who == "peak_dnnl_fp32") { peakdf[tag] = kv["gflops"]; next }
    if (who == "product") { next }
    key = kv["mode"] " " kv["hidden"]
    if (!(key in seen_key)) { seen_key[key] = 1; keys[++nk] = key }
    if (who == "ebm") {
        p = kv["precision"] == "" ? "fp32" : kv["precision"]
        if (!(p in seen_p)) { seen_p[p] = 1; precs[++np] = p }
        t[tag, "ebm", key, p] = kv["sec_per_epoch"]
        frac[tag, key, p] = kv["peak_frac"]
    } else t[tag, who, key] = kv["sec_per_epoch"]
}
END {
    for (g = 1; g <= nt; g++) {
        tag = tags[g]
        printf "\nOpenBLAS kernels: %s (sgemm peak %.0f GFLOP/s", tag, peak[tag]
        if (peak16[tag] != "") printf "; oneDNN peaks: fp32 %.0f, bf16 %.0f GFLOP/s", peakdf[tag], peak16[tag]
        printf ")\n"
        printf "%-10s %-5s %10s %10s %8s %10s %8s %9s\n", "method", "prec", "ebm", "sklearn", "ratio", "torch", "ratio", "ebm/peak"
        for (k = 1; k <= nk; k++) for (q = 1; q <= np; q++) {
            e = t[tag, "ebm", keys[k], precs[q]]; sk = t[tag, "sklearn", keys[k]]; pt = t[tag, "torch", keys[k]]
            if (e == "") continue
            printf "%-10s %-5s %9.3fs", keys[k], precs[q], e
            if (sk != "") printf " %9.3fs %7.1fx", sk, sk / e; else printf " %10s %8s", "-", "-"
            if (pt != "") printf " %9.3fs %7.1fx", pt, pt / e; else printf " %10s %8s", "-", "-"
            printf " %8.0f%%\n", 100 * frac[tag, keys[k], precs[q]]
        }
    }
    print "(seconds per epoch of 60,000 images, batch 100; ratio = peer time / ebm time; sklearn has PCD-1 only;"
    print " the peers run fp32; ebm/peak: fp32 rows of the sgemm peak, bf16 rows of oneDNN's bf16 peak)"
}
