#!/usr/bin/env node
// Top-1 predictions of a classifier under ONNX Runtime (CPU) on an IDX image file (plain or .gz),
// each pixel scaled by --scale (default 1/255), for bench/ort_agreement.py.
//
//   ORT_NODE=.../node_modules/onnxruntime-node node ort_predict.js MODEL.onnx IMAGES.idx[.gz]
//        [--limit N] [--batch N] [--scale S]
//
// Prints one JSON object: {"predictions": [...], "version": "<ORT version>"}.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const ort = require(process.env.ORT_NODE || 'onnxruntime-node');

const args = { model: null, images: null, limit: 0, batch: 500, scale: 1 / 255 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i], v = () => process.argv[++i];
  if (k === '--limit') args.limit = Number(v());
  else if (k === '--batch') args.batch = Number(v());
  else if (k === '--scale') args.scale = Number(v());
  else if (!args.model) args.model = k;
  else args.images = k;
}
if (!args.model || !args.images) {
  console.error('usage: ort_predict.js MODEL.onnx IMAGES.idx[.gz] [--limit N] [--batch N] [--scale S]');
  process.exit(2);
}

function readIdx(path) {
  let b = fs.readFileSync(path);
  if (b[0] === 0x1f && b[1] === 0x8b) b = zlib.gunzipSync(b);
  if (b[0] !== 0 || b[1] !== 0 || b[2] !== 0x08) throw new Error(`${path}: not an IDX file of uint8`);
  const rank = b[3], dims = [];
  for (let d = 0; d < rank; d++) dims.push(b.readUInt32BE(4 + 4 * d));
  return { dims, data: b.subarray(4 + 4 * rank) };
}

(async () => {
  const idx = readIdx(args.images);
  const s = await ort.InferenceSession.create(args.model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const meta = s.inputMetadata[0];
  const per = idx.dims.slice(1).reduce((a, b) => a * b, 1);
  let n = idx.dims[0];
  if (args.limit && args.limit < n) n = args.limit;
  const fixed = typeof meta.shape[0] === 'number' && meta.shape[0] > 0 ? meta.shape[0] : 0;
  const batch = fixed || args.batch;
  const preds = [];
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start), rows = fixed || count;
    const x = new Float32Array(rows * per);
    for (let i = 0; i < count * per; i++) x[i] = idx.data[start * per + i] * args.scale;
    const dims = meta.shape.map((d, i) => (i === 0 ? rows : d));
    const out = await s.run({ [meta.name]: new ort.Tensor('float32', x, dims) });
    const y = out[s.outputNames[0]], classes = y.data.length / rows;
    for (let r = 0; r < count; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (y.data[r * classes + c] > y.data[r * classes + best]) best = c;
      preds.push(best);
    }
  }
  console.log(JSON.stringify({ predictions: preds, version: ort.env.versions.common }));
})().catch(e => { console.error('error: ' + e.message); process.exit(1); });
