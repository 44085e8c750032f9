#!/usr/bin/env node
// Runs an ONNX model once under ONNX Runtime (CPU, all graph optimizations, one thread) on raw
// little-endian float32 input files and writes each output as raw float32: the oracle side of
// check_outputs.py.
//
//   ORT_NODE=DIR node ort_run.js MODEL.onnx OUT_PREFIX INPUT.f32 [INPUT.f32 ...]
//   -> OUT_PREFIX<k>.f32 for output k, and one JSON line {outputs: [{name, dims}]}
'use strict';
const fs = require('fs');
const ort = require(process.env.ORT_NODE || 'onnxruntime-node');

(async () => {
  const [model, prefix, ...files] = process.argv.slice(2);
  if (!model || !prefix) {
    console.error('usage: ort_run.js MODEL OUT_PREFIX INPUT.f32...');
    process.exit(2);
  }
  const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all',
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const feeds = {};
  s.inputMetadata.forEach((m, i) => {
    const dims = m.shape.map(d => (typeof d === 'number' && d > 0 ? d : 1));
    const b = fs.readFileSync(files[i]);
    const d = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    feeds[m.name] = new ort.Tensor('float32', d, dims);
  });
  const out = await s.run(feeds);
  const rec = [];
  s.outputNames.forEach((n, k) => {
    const t = out[n];
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    fs.writeFileSync(`${prefix}${k}.f32`, bytes);
    rec.push({ name: n, dims: t.dims });
  });
  console.log(JSON.stringify({ outputs: rec }));
})().catch(e => { console.error('error: ' + e.message); process.exit(1); });
