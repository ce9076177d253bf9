# shellcheck shell=sh disable=SC2034 # a, c and the lists are read by the scripts that source this
# Shared by the anomaly report scripts (sourced: report_anomaly.sh, anomaly_oneclass.sh, anomaly_grbm.sh).
# score_both EBM MODEL FLAG K: the AUROCs of MODEL's free energy ($a) and complexity-corrected score ($c) on the
# Fashion-MNIST test set with FLAG K (--anomaly-class K or --normal-class K), appended with K to $e_list, $c_list
# and $k_list (comma-separated, for the scripts' JSON; start them empty).
auroc() { sed 's/.*"auroc": \([0-9.]*\).*/\1/'; }
score_both() {
    a=$("$1" --quiet score "$2" --data fashion-mnist:test "$3" "$4" --json | auroc)
    c=$("$1" --quiet score "$2" --data fashion-mnist:test "$3" "$4" --json --score complexity | auroc)
    e_list="$e_list${e_list:+, }$a" c_list="$c_list${c_list:+, }$c" k_list="$k_list${k_list:+, }$4"
}
