#!/bin/sh
# ctest's `python` test: pytest over python/tests with the libebm.so and the ebm command line of this build.
# usage: test_python.sh PYTHON_DIR LIBEBM_SO EBM_CLI
set -eu
py=${EBM_PYTHON:-/usr/bin/python3}
if ! "$py" -c "import numpy, pytest" 2>/dev/null; then
    echo "SKIPPED: the Python tests need NumPy and pytest under $py (scripts/deps.sh build installs python3-numpy python3-pytest)"
    exit 77
fi
if ldd "$2" 2>/dev/null | grep -q 'libasan'; then
    echo "SKIPPED: $2 is a sanitizer build; Python cannot load it without preloading the ASan runtime (the Python tests run in the normal build)"
    exit 77
fi
export EBM_LIBRARY="$2" EBM_CLI="$3" MPLBACKEND=Agg
export MPLCONFIGDIR="${TMPDIR:-/tmp}/ebm-test-mpl-$(id -u)"
exec "$py" -m pytest -q -p no:cacheprovider "$1/tests"
