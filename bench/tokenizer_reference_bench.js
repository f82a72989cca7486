// SPDX-License-Identifier: MIT
// The JS reference tokenizer's speed on the texts tokenizer_bench gives it (same texts, same run).
// Usage: node tokenizer_reference_bench.js NPM_PREFIX TEXT_FILE PASSES; texts are separated by
// U+001E. Speeds are bytes per second of CPU time (user + system). Prints one line: "reference first_pass_mb_s=X warm_mb_s=Y tokens=N".
'use strict';
const fs = require('fs');
const path = require('path');

const [prefix, file, passesArg] = process.argv.slice(2);
const { fromPreTrained } = require(path.join(prefix, 'node_modules', '@lenml', 'tokenizer-llama3_1'));
const tok = fromPreTrained();
const buf = fs.readFileSync(file);
const texts = buf.toString('utf8').split('\u001e');
const bytes = buf.length;
const passes = Math.max(1, parseInt(passesArg || '3', 10));
let first = 0, best = 0, tokens = 0;
for (let p = 0; p < passes; ++p) {
  const t0 = process.cpuUsage();
  let n = 0;
  for (const t of texts) n += tok.encode(t, { add_special_tokens: false }).length;
  const used = process.cpuUsage(t0);
  const secs = (used.user + used.system) / 1e6;
  const mbs = bytes / 1e6 / secs;
  if (p === 0) first = mbs;
  best = Math.max(best, mbs);
  tokens = n;
}
console.log(`reference first_pass_mb_s=${first.toFixed(2)} warm_mb_s=${best.toFixed(2)} tokens=${tokens}`);
