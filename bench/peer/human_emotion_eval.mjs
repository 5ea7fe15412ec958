#!/usr/bin/env node
// The expression evaluation of issue 3 done by TensorFlow.js on @vladmandic/human's `emotion` model (oarriaga's
// face_classification, converted by human), prepared as human prepares it (src/gear/emotion.ts: bilinear resize
// of the face to 64x64, grey with weights 0.2989 / 0.5870 / 0.1140, then (x - 0.5) * 2). It tells whether the
// model itself, in its own library, reaches what mien measures with it.
//
//   node bench/peer/human_emotion_eval.mjs DIR [--out FILE] [--limit N]      DIR/<label>/<image>, 48 px grey crops
//
// Prints one JSON object: accuracy of the face as seen and of the face averaged with its mirror image, with the
// per-class recall of the former. Runs on tfjs-backend-wasm (tests/ref/node_modules, `make ref-deps`).
import fs from 'node:fs';
import path from 'node:path';
import { tf, tfconv, require, readArtifacts } from '../../tests/ref/tfjs_common.mjs';

const args = process.argv.slice(2);
let dir = '', out = '', limit = 0;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') out = args[++i];
  else if (args[i] === '--limit') limit = Number(args[++i]);
  else if (!args[i].startsWith('--') && !dir) dir = args[i];
  else {
    console.error(`human_emotion_eval: unexpected ${args[i]}\nusage: node bench/peer/human_emotion_eval.mjs DIR [--out FILE] [--limit N]`);
    process.exit(2);
  }
}
if (!dir) {
  console.error('usage: node bench/peer/human_emotion_eval.mjs DIR [--out FILE] [--limit N]');
  process.exit(2);
}

const wasm = require('@tensorflow/tfjs-backend-wasm');
const jpeg = require('jpeg-js');
const { PNG } = await import('pngjs');
wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep);
if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
const ROOT = new URL('../../', import.meta.url).pathname;
const model = await tfconv.loadGraphModel(tf.io.fromMemory(readArtifacts(path.join(ROOT, 'models/human'), 'emotion')));

// human's class order; the folder names of the labelled set (FER2013's)
const HUMAN = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];

function decode(file) {
  const buf = fs.readFileSync(file);
  const img = buf[0] === 0x89 ? PNG.sync.read(buf) : jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
  return tf.tensor3d(img.data, [img.height, img.width, 4], 'float32');
}

function predict(rgba, flip) {
  return tf.tidy(() => {
    let face = tf.div(tf.slice(rgba, [0, 0, 0], [-1, -1, 3]), 255); // human works on 0..1 pictures
    face = tf.image.resizeBilinear(tf.expandDims(face, 0), [64, 64], false);
    if (flip) face = tf.reverse(face, 2);
    const [r, g, b] = tf.split(face, 3, 3);
    const grey = tf.addN([tf.mul(r, 0.2989), tf.mul(g, 0.587), tf.mul(b, 0.114)]);
    return model.execute(tf.mul(tf.sub(grey, 0.5), 2)).dataSync();
  });
}

const argmax = (p) => p.reduce((best, v, i) => (v > p[best] ? i : best), 0);
let total = 0, plain = 0, mirrored = 0;
const perClass = {};
for (const label of fs.readdirSync(dir).sort()) {
  const truth = HUMAN.indexOf(label);
  if (truth < 0 || !fs.statSync(path.join(dir, label)).isDirectory()) continue;
  const files = fs.readdirSync(path.join(dir, label)).sort();
  const take = limit > 0 ? files.slice(0, limit) : files;
  perClass[label] = { images: 0, correct: 0 };
  for (const f of take) {
    const rgba = decode(path.join(dir, label, f));
    const p = predict(rgba, false), q = predict(rgba, true);
    rgba.dispose();
    const both = Array.from(p, (v, i) => v + q[i]);
    total++;
    perClass[label].images++;
    if (argmax(Array.from(p)) === truth) { plain++; perClass[label].correct++; }
    if (argmax(both) === truth) mirrored++;
  }
  process.stderr.write(`human_emotion_eval: ${label} done (${total} pictures)\n`);
}
const result = {
  peer: 'tfjs-wasm', model: 'human emotion', dataset: dir, images: total,
  accuracy: total ? plain / total : 0,
  accuracy_mirrored: total ? mirrored / total : 0,
  per_class_recall: Object.fromEntries(Object.entries(perClass).map(([k, v]) => [k, v.images ? v.correct / v.images : 0])),
  preprocessing: 'resizeBilinear 64x64 (align_corners false), grey 0.2989/0.5870/0.1140, (x - 0.5) * 2 (human src/gear/emotion.ts)',
};
const text = JSON.stringify(result);
if (out) fs.writeFileSync(out, text + '\n');
console.log(text);
