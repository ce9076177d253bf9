#!/bin/sh
# The command line's option tables (src/cli/*.c, cli.h) give each option a kind (OPT_FLOAT, OPT_SIZE, ...) and an
# untyped pointer to the variable the parser writes; a variable of another type (a double under OPT_FLOAT) is
# silently corrupted, as --complexity-weight was (its float landed in a double's low half: no effect).  This
# check rewrites a copy of the sources so that every `OPT_KIND, &var` becomes a C11 _Generic that accepts only
# the pointer type of that kind, and compiles it: a mismatch is a compile error naming the option's line.
# usage: tests/test_opt_types.sh SOURCE_DIR [CC]
set -u
src=${1:?usage: test_opt_types.sh SOURCE_DIR [CC]}
cc=${2:-cc}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp -r "$src/src" "$src/include" "$T/"
n=0
for f in "$T"/src/cli/*.c "$T"/src/cli/cli.h; do
    sed -i -E 's/OPT_FLOAT, &([^,]+),/OPT_FLOAT, _Generic((\&\1), float *: (\&\1)),/g
s/OPT_SIZE, &([^,]+),/OPT_SIZE, _Generic((\&\1), size_t *: (\&\1)),/g
s/OPT_U64, &([^,]+),/OPT_U64, _Generic((\&\1), uint64_t *: (\&\1)),/g
s/OPT_FLAG, &([^,]+),/OPT_FLAG, _Generic((\&\1), bool *: (\&\1)),/g
s/OPT_CHOICE, &([^,]+),/OPT_CHOICE, _Generic((\&\1), int *: (\&\1)),/g
s/OPT_(OPT_)?STR, &([^,]+),/OPT_\1STR, _Generic((\&\2), const char **: (\&\2)),/g' "$f"
    n=$((n + $(grep -o _Generic "$f" | wc -l)))
done
[ "$n" -gt 250 ] || { echo "FAIL: only $n option pointers rewritten; has the option table's layout changed?"; exit 1; }
fail=0
for f in "$T"/src/cli/*.c; do
    "$cc" -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -fsyntax-only -I"$T/include" -I"$T/src" "$f" \
        2>"$T/err" || { sed "s|$T/||g" "$T/err" | grep -E "error" | head -5; fail=1; }
done
[ "$fail" = 0 ] && echo "test_opt_types: $n option pointers, each of its kind's type" || echo "FAIL: an option's variable has another type than its kind writes"
exit "$fail"
