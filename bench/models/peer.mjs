#!/usr/bin/env node
// Speed peer for mien: TensorFlow.js graph models on tfjs-backend-wasm (XNNPACK in WebAssembly,
// single thread under Node). Prints one JSON line per model to stdout; diagnostics go to stderr.
//
//   node bench/models/peer.mjs [--models DIR] [--only a,b] [--runs N] [--warmup N] [--cpu] [--check REFDIR]
//
// --check REFDIR (e.g. build/ref from tests/ref/make_refs.mjs) also runs every reference case's input on
// wasm and prints {"check":...} lines with max |wasm - cpu| and cosine per output: the spread between
// TF.js's own backends, a yardstick for mien's tolerances.
// --cpu additionally times tfjs-backend-cpu (the reference backend) with one warm-up and one timed run.
// Packages come from tests/ref/node_modules (run `npm ci` in tests/ref first).
import fs from 'node:fs';
import path from 'node:path';
import {
  tf, require, MODELS, parseArgs, selectModels, loadModel, randomUniform, percentile, readNpy,
} from '../../tests/ref/tfjs_common.mjs';

const wasm = require('@tensorflow/tfjs-backend-wasm');
require('@tensorflow/tfjs-backend-cpu');

const opt = parseArgs(process.argv.slice(2), {
  models: 'models/human', only: '', runs: 20, warmup: 3, cpu: false, seed: 1234, check: '',
});

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
  const names = selectModels(opt.only);
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
  if (opt.check) for (const name of names) await checkAgainstRefs(name, opt.check);

  if (opt.cpu) {
    await tf.setBackend('cpu');
    await tf.ready();
    if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}, not cpu`);
    for (const name of names) emit(await timeModel(name, 'cpu', 1, 1));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
