#!/usr/bin/env node
// Speed peer for mien: TensorFlow.js graph models on tfjs-backend-wasm (XNNPACK in WebAssembly,
// single thread under Node). Prints one JSON line per model to stdout; diagnostics go to stderr.
//
//   node bench/models/peer.mjs [--models DIR] [--faceapi DIR] [--only a,b] [--runs N] [--warmup N] [--cpu]
//                              [--check REFDIR]
//
// Models: the nine human-models graph models (model.execute on the pre-processed input) and the five
// face-api networks (@vladmandic/face-api's own forward pass on a [1,H,W,3] float input of pixel values
// 0..255, face-api's input normalisation included, NMS / box decoding to detections excluded: the same
// boundary as mien's graphs and as tests/ref/make_faceapi_refs.mjs). --only picks from both sets;
// --faceapi '' skips the face-api networks.
//
// --check REFDIR (e.g. build/ref from tests/ref/make_refs.mjs) also runs every reference case's input on
// wasm and prints {"check":...} lines with max |wasm - cpu| and cosine per output: the spread between
// TF.js's own backends, a yardstick for mien's tolerances.
// --cpu additionally times tfjs-backend-cpu (the reference backend) with one warm-up and one timed run.
// Packages come from tests/ref/node_modules (run `npm ci` in tests/ref first).
import fs from 'node:fs';
import path from 'node:path';
import {
  tf, require, MODELS, parseArgs, loadModel, randomUniform, percentile, readNpy,
} from '../../tests/ref/tfjs_common.mjs';

const wasm = require('@tensorflow/tfjs-backend-wasm');
require('@tensorflow/tfjs-backend-cpu');

const opt = parseArgs(process.argv.slice(2), {
  models: 'models/human', faceapi: 'models/faceapi', only: '', runs: 20, warmup: 3, cpu: false, seed: 1234, check: '',
});

// mien short name -> face-api net, weights manifest, input size, and the forward call whose outputs are
// mien's outputs (as in tests/ref/make_faceapi_refs.mjs). Each returns the output tensors to read back.
// face-api (node-wasm build) requires '@tensorflow/tfjs' (tests/ref/tfjs-shim) and tfjs-backend-wasm from
// tests/ref/node_modules, so it runs on the one tfjs-core instance this script sets the backend of.
let faceapi = null;
const FACEAPI = {
  ssd_mobilenetv1: {
    net: () => faceapi.nets.ssdMobilenetv1, manifest: 'ssd_mobilenetv1_model', size: 512,
    // forwardInput: mobilenet + prediction layer + outputLayer (box decode, sigmoid scores), before NMS
    run: (net, ni) => { const { boxes, scores } = net.forwardInput(ni); return [...boxes, ...scores]; },
  },
  tiny_face_detector: {
    net: () => faceapi.nets.tinyFaceDetector, manifest: 'tiny_face_detector_model', size: 416,
    // TinyYolov2Base.forwardInput: raw conv8 grid [1,13,13,25], before extractBoxes / NMS
    run: (net, ni, size) => [net.forwardInput(ni, size)],
  },
  face_landmark_68: {
    net: () => faceapi.nets.faceLandmark68Net, manifest: 'face_landmark_68_model', size: 112,
    // FaceProcessor.runNet: fc output [1,136], before postProcess
    run: (net, ni) => [net.runNet(ni)],
  },
  face_recognition: {
    net: () => faceapi.nets.faceRecognitionNet, manifest: 'face_recognition_model', size: 150,
    run: (net, ni) => [net.forwardInput(ni)],
  },
  face_expression: {
    net: () => faceapi.nets.faceExpressionNet, manifest: 'face_expression_model', size: 112,
    run: (net, ni) => [net.forwardInput(ni)], // softmax(runNet)
  },
};

// --only over both sets; unknown names are an error.
function selectAll(only) {
  const graph = Object.keys(MODELS);
  const face = opt.faceapi ? Object.keys(FACEAPI) : [];
  if (!only) return { graph, face };
  const want = only.split(',').map((s) => s.trim()).filter(Boolean);
  const known = [...Object.keys(MODELS), ...Object.keys(FACEAPI)];
  for (const w of want) if (!known.includes(w)) throw new Error(`--only: unknown model ${w} (known: ${known.join(', ')})`);
  return { graph: graph.filter((n) => want.includes(n)), face: face.filter((n) => want.includes(n)) };
}

// Silence the "install tfjs-node" banner and kernel warnings on stdout: stdout is JSON lines only.
const log = (...a) => console.error(...a);
console.warn = log;
console.log = log;
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

async function timeModel(name, backend, runs, warmup) {
  const spec = MODELS[name];
  const model = await loadModel(opt.models, name);
  const shape = model.inputs[0].shape.map((d) => (d === -1 || d == null ? 1 : d));
  const input = tf.tensor(randomUniform(shape, spec.range[0], spec.range[1], opt.seed), shape, 'float32');
  const once = async () => {
    const t0 = performance.now();
    const res = model.execute(input);
    const outs = Array.isArray(res) ? res : [res];
    await Promise.all(outs.map((t) => t.data())); // include the read-back, as a caller would
    const ms = performance.now() - t0;
    tf.dispose(outs);
    return ms;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  input.dispose();
  model.dispose();
  return summarize(name, backend, shape, runs, times);
}

function summarize(name, backend, shape, runs, times) {
  times.sort((a, b) => a - b);
  const r = (x) => Math.round(x * 100) / 100;
  return {
    model: name,
    backend,
    input: shape,
    runs,
    median_ms: r(percentile(times, 0.5)),
    p10_ms: r(percentile(times, 0.1)),
    p90_ms: r(percentile(times, 0.9)),
    min_ms: r(times[0]),
  };
}

let faceapiLoaded = false;
async function loadFaceapi() {
  if (faceapiLoaded) return;
  faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  for (const m of Object.values(FACEAPI)) await m.net().loadFromDisk(opt.faceapi);
  faceapiLoaded = true;
}

// One face-api net: toNetInput + the forward call (face-api's normalisation, e.g. mean/255 scaling, is
// inside it) + read-back of every output, on a random 0..255 input of the net's default size.
async function timeFaceapi(name, backend, runs, warmup) {
  await loadFaceapi();
  if (tf.getBackend() !== backend) throw new Error(`face-api: backend is ${tf.getBackend()}, not ${backend}`);
  const m = FACEAPI[name];
  const net = m.net();
  const shape = [1, m.size, m.size, 3];
  const input = tf.tensor4d(randomUniform(shape, 0, 255, opt.seed), shape, 'float32');
  const once = async () => {
    const t0 = performance.now();
    const ni = await faceapi.toNetInput(input);
    const outs = m.run(net, ni, m.size);
    await Promise.all(outs.map((t) => t.data()));
    const ms = performance.now() - t0;
    tf.dispose(outs);
    return ms;
  };
  const before = tf.memory().numTensors;
  for (let i = 0; i < warmup; i++) await once();
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  const leaked = tf.memory().numTensors - before;
  if (leaked > 0) log(`${name}: ${leaked} tensors left after ${warmup + runs} runs`);
  input.dispose();
  return summarize(name, backend, shape, runs, times);
}

// Compares flat outputs (face-api's ssd boxes/scores drop the batch axis the refs keep, so shapes are
// compared by element count there).
function compareOutputs(manOutputs, dir, outs) {
  return manOutputs.map((o, i) => {
    const ref = readNpy(fs.readFileSync(path.join(dir, o.file))).data;
    const got = outs[i].dataSync();
    let maxAbs = 0; let dot = 0; let na = 0; let nb = 0; let maxRef = 0;
    for (let k = 0; k < ref.length; k++) {
      maxAbs = Math.max(maxAbs, Math.abs(got[k] - ref[k])); maxRef = Math.max(maxRef, Math.abs(ref[k]));
      dot += got[k] * ref[k]; na += got[k] * got[k]; nb += ref[k] * ref[k];
    }
    return { name: o.name, shape_ok: got.length === ref.length, max_abs: Number(maxAbs.toPrecision(3)), max_ref: Number(maxRef.toPrecision(3)), cosine: Number((dot / Math.sqrt(na * nb)).toFixed(9)) };
  });
}

// face-api nets against tests/ref/make_faceapi_refs.mjs (tfjs-backend-cpu): every case of the net's size.
async function checkFaceapiRefs(name, refDir) {
  const mdir = path.join(refDir, name);
  if (!fs.existsSync(mdir)) return;
  await loadFaceapi();
  const m = FACEAPI[name];
  for (const c of fs.readdirSync(mdir).sort()) {
    const mf = path.join(mdir, c, 'manifest.json');
    if (!fs.existsSync(mf)) continue;
    const man = JSON.parse(fs.readFileSync(mf, 'utf8'));
    const inp = readNpy(fs.readFileSync(path.join(mdir, c, man.inputs[0].file)));
    const x = tf.tensor(inp.data, inp.shape, 'float32');
    const outs = m.run(m.net(), await faceapi.toNetInput(x), inp.shape[1]);
    emit({ check: name, case: c, backend: tf.getBackend(), outputs: compareOutputs(man.outputs, path.join(mdir, c), outs) });
    tf.dispose([x, ...outs]);
  }
}

async function checkAgainstRefs(name, refDir) {
  const mdir = path.join(refDir, name);
  if (!fs.existsSync(mdir)) return;
  const model = await loadModel(opt.models, name);
  for (const c of fs.readdirSync(mdir).sort()) {
    const mf = path.join(mdir, c, 'manifest.json');
    if (!fs.existsSync(mf)) continue;
    const man = JSON.parse(fs.readFileSync(mf, 'utf8'));
    const inp = readNpy(fs.readFileSync(path.join(mdir, c, man.inputs[0].file)));
    const want = model.inputs[0].shape;
    if (want.some((d, i) => d !== -1 && d !== inp.shape[i])) { emit({ check: name, case: c, skipped: `input ${inp.shape} vs model ${want}` }); continue; }
    const x = tf.tensor(inp.data, inp.shape, 'float32');
    const res = model.execute(x);
    const outs = Array.isArray(res) ? res : [res];
    const rows = man.outputs.map((o, i) => {
      const ref = readNpy(fs.readFileSync(path.join(mdir, c, o.file))).data;
      const got = outs[i].dataSync();
      let maxAbs = 0; let dot = 0; let na = 0; let nb = 0; let maxRef = 0;
      for (let k = 0; k < ref.length; k++) {
        maxAbs = Math.max(maxAbs, Math.abs(got[k] - ref[k])); maxRef = Math.max(maxRef, Math.abs(ref[k]));
        dot += got[k] * ref[k]; na += got[k] * got[k]; nb += ref[k] * ref[k];
      }
      return { name: o.name, shape_ok: JSON.stringify(outs[i].shape) === JSON.stringify(o.shape), max_abs: Number(maxAbs.toPrecision(3)), max_ref: Number(maxRef.toPrecision(3)), cosine: Number((dot / Math.sqrt(na * nb)).toFixed(9)) };
    });
    emit({ check: name, case: c, backend: tf.getBackend(), outputs: rows });
    tf.dispose([x, ...outs]);
  }
  model.dispose();
}

async function main() {
  const { graph: names, face } = selectAll(opt.only);
  const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  // In Node the emscripten loader reads the .wasm with fs, so a plain directory path (with a trailing
  // slash: it is a prefix) is what it needs; a file:// URL is not read.
  wasm.setWasmPaths(`${distDir}${path.sep}`);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`backend is ${tf.getBackend()}, not wasm`);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const info = {
    info: 'tfjs-peer', tfjs: tf.version_core, backend: tf.getBackend(), simd, multithread: threads,
    wasm_binary: simd ? (threads ? 'tfjs-backend-wasm-threaded-simd.wasm' : 'tfjs-backend-wasm-simd.wasm') : 'tfjs-backend-wasm.wasm',
    node: process.version,
  };
  log(JSON.stringify(info));
  for (const name of names) emit({ ...(await timeModel(name, 'wasm', opt.runs, opt.warmup)), simd, threads: threads ? 'many' : 1 });
  for (const name of face) emit({ ...(await timeFaceapi(name, 'wasm', opt.runs, opt.warmup)), simd, threads: threads ? 'many' : 1, faceapi: faceapi.version });
  if (opt.check) for (const name of names) await checkAgainstRefs(name, opt.check);
  if (opt.check) for (const name of face) await checkFaceapiRefs(name, opt.check);

  if (opt.cpu) {
    await tf.setBackend('cpu');
    await tf.ready();
    if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}, not cpu`);
    for (const name of names) emit(await timeModel(name, 'cpu', 1, 1));
    for (const name of face) emit(await timeFaceapi(name, 'cpu', 1, 1));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
