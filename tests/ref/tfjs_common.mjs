// Shared helpers for the TensorFlow.js side of mien's tests:
//   tests/ref/make_refs.mjs   (reference outputs, tfjs-backend-cpu)
//   bench/models/peer.mjs     (speed peer, tfjs-backend-wasm)
// All TF.js packages are resolved from tests/ref/node_modules (one tfjs-core instance).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const require = createRequire(path.join(HERE, 'package.json'));
export const tf = require('@tensorflow/tfjs-core');
export const tfconv = require('@tensorflow/tfjs-converter');

// The eleven human-models graph models mien is checked against, and what human feeds each one.
// range: the interval of the pre-processed input human gives the model (used for the `random` case).
// src:   where that fact comes from in @vladmandic/human 3.x (src/...).
export const MODELS = {
  'blazeface-back': { range: [-1, 1], prep: 'rgb_pm1', src: 'face/blazeface.ts: resizeBilinear(image 0..255) / 127.5 - 1' },
  'blazeface-front': { range: [-1, 1], prep: 'rgb_pm1', src: 'face/blazeface.ts: resizeBilinear(image 0..255) / 127.5 - 1' },
  'facemesh-detection-full': { range: [-1, 1], prep: 'rgb_pm1', src: 'face/blazeface.ts (same detector code path): / 127.5 - 1' },
  facemesh: { range: [0, 1], prep: 'rgb_01', src: 'face/facemeshutil.ts cutAndResize: cropAndResize(image) / 255' },
  mobilefacenet: { range: [0, 1], prep: 'rgb_01', src: 'face/mobilefacenet.ts: resizeBilinear(face tensor 0..1)' },
  faceres: { range: [0, 255], prep: 'rgb_0255', src: 'face/faceres.ts enhance(): resizeBilinear(face tensor 0..1) * 255' },
  'faceres-deep': { range: [0, 255], prep: 'rgb_0255', src: 'faceres with float32 weights: the same graph, fed the same way' },
  mobileface: {
    range: [0, 255],
    prep: 'rgb_0255',
    src: "face/insightface.ts resizes the face to 112; the graph's first ops are (x - 127.5) * 0.0078125 (its Const values), so pixels 0..255",
  },
  emotion: { range: [-1, 1], prep: 'grey_pm1', src: 'gear/emotion.ts: sum(resize(face 0..1) * [0.2989,0.5870,0.1140], axis 3) - 0.5, * 2' },
  antispoof: { range: [0, 1], prep: 'rgb_01', src: 'face/antispoof.ts: resizeBilinear(face tensor 0..1)' },
  liveness: { range: [0, 1], prep: 'rgb_01', src: 'face/liveness.ts: resizeBilinear(face tensor 0..1)' },
};

// --key value / --key=value / --flag options; positional arguments are collected in `_` when the defaults
// carry a `_` array, and are an error otherwise.
export function parseArgs(argv, defaults) {
  const o = { ...defaults };
  if (Array.isArray(defaults._)) o._ = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      if (!o._) throw new Error(`unexpected argument ${a}`);
      o._.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = (eq > 0 ? a.slice(2, eq) : a.slice(2));
    if (!(key in defaults)) throw new Error(`unknown option --${key}`);
    if (typeof defaults[key] === 'boolean') { o[key] = true; continue; }
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new Error(`--${key} needs a value`);
    o[key] = typeof defaults[key] === 'number' ? Number(v) : v;
  }
  return o;
}

export function selectModels(only) {
  const names = Object.keys(MODELS);
  if (!only) return names;
  const want = only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of want) if (!names.includes(w)) throw new Error(`--only: unknown model ${w} (known: ${names.join(', ')})`);
  return names.filter((n) => want.includes(n));
}

// Read model.json + weight files from disk into tf.io artifacts (no fetch, no tfjs-node).
// Exposed so a caller can patch the topology (e.g. relax an input shape) before loading.
export function readArtifacts(dir, name) {
  const jsonPath = path.join(dir, `${name}.json`);
  const j = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const weightSpecs = [];
  const bufs = [];
  for (const group of j.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    modelTopology: j.modelTopology,
    weightSpecs,
    weightData,
    format: j.format,
    generatedBy: j.generatedBy,
    convertedBy: j.convertedBy,
    signature: j.signature,
    userDefinedMetadata: j.userDefinedMetadata,
    modelInitializer: j.modelInitializer,
  };
}

export async function loadModelFromArtifacts(artifacts) {
  const handler = { load: async () => artifacts };
  return tfconv.loadGraphModel(handler);
}

export async function loadModel(dir, name) {
  return loadModelFromArtifacts(readArtifacts(dir, name));
}

// Graph-level input/output info: node names (what mien uses) and signature keys (what GraphModel reports).
export function ioInfo(model) {
  const g = model.executor.graph;
  const strip = (n) => n.replace(/:0$/, '');
  const inputs = g.inputs.map((n) => ({
    name: strip(n.name),
    signature_key: n.signatureKey || null,
    shape: (n.attrParams.shape && n.attrParams.shape.value) || null,
    dtype: (n.attrParams.dtype && n.attrParams.dtype.value) || null,
  }));
  const outputs = g.outputs.map((n) => ({ name: strip(n.name), signature_key: n.signatureKey || null }));
  return { inputs, outputs, outputNodes: model.outputNodes.slice() };
}

export function safeFileName(name) {
  return `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`;
}

// mulberry32: small deterministic PRNG, returns floats in [0,1).
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomUniform(shape, lo, hi, seed) {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = mulberry32(seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * r();
  return data;
}

// NumPy .npy v1.0 writer: '<f4', C order, byte-identical to numpy.save (numpy >= 1.23) of a C-contiguous
// float32 array: header dict as numpy formats it, 21 - len(repr(shape[0])) spare spaces (numpy's
// GROWTH_AXIS_MAX_DIGITS), then spaces and '\n' so magic + version + length + header is a multiple of 64.
export function npyBytes(data, shape) {
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== f32.length) throw new Error(`npy: shape ${shape} needs ${n} values, got ${f32.length}`);
  const shapeStr = shape.length === 0 ? '()' : (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  if (shape.length > 0) header += ' '.repeat(21 - String(shape[0]).length);
  const preamble = 10; // magic(6) + version(2) + header_len(2)
  const padlen = 64 - ((preamble + header.length + 1) % 64);
  header = `${header}${' '.repeat(padlen)}\n`;
  const total = preamble + header.length;
  const out = Buffer.alloc(total + f32.length * 4);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1; out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const body = Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength); // host is little-endian (x86)
  body.copy(out, total);
  return out;
}

export function readNpy(buf) {
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('not an npy file');
  const hlen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + hlen);
  const m = /'shape': \(([^)]*)\)/.exec(header);
  const shape = m[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const off = 10 + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + buf.length));
  return { header, shape, data };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const idx = (sorted.length - 1) * p;
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - lo);
}
