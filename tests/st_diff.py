"""Largest absolute difference between the tensors of two safetensors files (pure Python, no NumPy), for
tests/test_mpi.sh.  usage: st_diff.py A B  ->  prints "MAXDIFF MAXABS" (MAXDIFF 0 when bit-identical)."""
import array
import json
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        s, e = v["data_offsets"]
        a = array.array("f")
        a.frombytes(b[8 + n + s:8 + n + e])
        if sys.byteorder != "little":
            a.byteswap()
        out[k] = a
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
if sorted(a) != sorted(b):
    sys.exit("different tensors: %s vs %s" % (sorted(a), sorted(b)))
diff = big = 0.0
for k in a:
    if len(a[k]) != len(b[k]):
        sys.exit("tensor %s: %d vs %d values" % (k, len(a[k]), len(b[k])))
    for x, y in zip(a[k], b[k]):
        d = abs(x - y) if x == x and y == y else float("inf")
        diff, big = max(diff, d), max(big, abs(x))
print("%.9g %.9g" % (diff, big))
