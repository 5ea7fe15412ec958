#!/usr/bin/env node
// run_tfjs.mjs — runs an exported expression model.json in TensorFlow.js itself (tfjs-backend-cpu, from
// tests/ref/node_modules: `make ref-deps`), so that check_export.py can hold mien and PyTorch against an
// independent reader of the same file.
//
//   node train/expression/run_tfjs.mjs MODEL.json IN.npy OUT.npy
import fs from 'node:fs';
import path from 'node:path';
import { tf, require, readArtifacts, loadModelFromArtifacts, npyBytes, readNpy } from '../../tests/ref/tfjs_common.mjs';

require('@tensorflow/tfjs-backend-cpu');

const [modelPath, inPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node train/expression/run_tfjs.mjs MODEL.json IN.npy OUT.npy');
  process.exit(2);
}
await tf.setBackend('cpu');
await tf.ready();
const model = await loadModelFromArtifacts(readArtifacts(path.dirname(modelPath), path.basename(modelPath, '.json')));
const x = readNpy(fs.readFileSync(inPath));
const input = tf.tensor(x.data, x.shape, 'float32');
const out = model.execute(input);
fs.writeFileSync(outPath, npyBytes(Float32Array.from(out.dataSync()), out.shape));
