// face-api 1.7.15 (@vladmandic/face-api, node-wasm build) on TensorFlow.js in Node, as a user runs it:
// the shared set-up of bench/peer/faceapi_eval.mjs and bench/pipeline/tfjs_pipeline.mjs.
//
// TF.js and face-api are resolved from tests/ref/node_modules (`make ref-deps`: tfjs-core, tfjs-converter,
// tfjs-backend-cpu, tfjs-backend-wasm 4.22.0 and tests/ref/tfjs-shim installed as @tensorflow/tfjs, which
// face-api's node-wasm build requires); pngjs from bench/peer/node_modules (`npm ci` in bench/peer).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
const refRequire = createRequire(path.join(ROOT, 'tests/ref/package.json'));
const peerRequire = createRequire(path.join(HERE, 'package.json'));

function need(req, name, hint) {
  try {
    return req(name);
  } catch (e) {
    throw new Error(`cannot load ${name} (${hint}): ${e.message}`);
  }
}

export const tf = need(refRequire, '@tensorflow/tfjs-core', 'run `make ref-deps` or `cd tests/ref && npm ci`');
const jpeg = need(refRequire, 'jpeg-js', 'run `make ref-deps`');
let PNG = null; // loaded on first PNG, so JPEG-only runs need no `npm ci` in bench/peer

// stdout carries JSON only: tfjs' banners and kernel warnings go to stderr.
export const log = (...a) => console.error(...a);
console.log = log;
console.warn = log;
console.info = log;

export let faceapi = null;

// Backend: tfjs-backend-wasm (XNNPACK in WebAssembly; forced single-threaded), or tfjs-backend-cpu when
// asked for or when wasm cannot start. Returns a description for the JSON output.
export async function initFaceapi({ backend = 'wasm', models = path.join(ROOT, 'models/faceapi'), nets = ['ssdMobilenetv1', 'faceLandmark68Net', 'faceRecognitionNet', 'faceExpressionNet'] } = {}) {
  faceapi = need(refRequire, '@vladmandic/face-api/dist/face-api.node-wasm.js', 'run `make ref-deps`');
  need(refRequire, '@tensorflow/tfjs-backend-cpu', 'run `make ref-deps`');
  const info = { requested: backend, backend: null, fallback_reason: null, simd: null, multithread: null };
  if (backend === 'wasm') {
    try {
      const wasm = need(refRequire, '@tensorflow/tfjs-backend-wasm', 'run `make ref-deps`');
      const dist = path.dirname(refRequire.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
      // the emscripten loader in Node reads the .wasm with fs: a directory prefix, not a file:// URL
      wasm.setWasmPaths(`${dist}${path.sep}`);
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false); // one thread, whatever Node offers
      if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
      await tf.ready();
      if (tf.getBackend() !== 'wasm') throw new Error(`backend is ${tf.getBackend()}`);
      info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      info.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    } catch (e) {
      info.fallback_reason = `wasm failed: ${e.message}`;
      log(`faceapi: ${info.fallback_reason}; falling back to cpu`);
    }
  }
  if (tf.getBackend() !== 'wasm') {
    await tf.setBackend('cpu');
    await tf.ready();
    if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}, not cpu`);
  }
  info.backend = tf.getBackend();
  const t0 = performance.now();
  for (const n of nets) await faceapi.nets[n].loadFromDisk(models);
  info.load_ms = round(performance.now() - t0);
  info.models = path.relative(ROOT, path.resolve(models)) || models;
  info.tfjs = tf.version_core;
  info.faceapi = faceapi.version;
  info.node = process.version;
  log(`faceapi: ${info.faceapi} on tfjs ${info.tfjs} backend ${info.backend}${info.backend === 'wasm' ? ` (simd ${info.simd}, multithread ${info.multithread})` : ''}`);
  return info;
}

// Decoded pixels: { width, height, data: Uint8Array RGB } (grey JPEGs and PNGs are replicated to RGB,
// PNG alpha is dropped; no EXIF orientation is applied, as neither jpeg-js nor face-api applies one).
export function decodeImage(file) {
  const buf = fs.readFileSync(file);
  if (buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47) {
    if (!PNG) PNG = need(peerRequire, 'pngjs', 'run `npm ci` in bench/peer').PNG;
    const png = PNG.sync.read(buf); // RGBA 8-bit whatever the file's colour type and depth
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgb[i] = png.data[j]; rgb[i + 1] = png.data[j + 1]; rgb[i + 2] = png.data[j + 2];
    }
    return { width: png.width, height: png.height, data: rgb };
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 200, maxMemoryUsageInMB: 2048 });
    return { width: img.width, height: img.height, data: img.data };
  }
  const kind = buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP' ? 'a WebP file' : 'neither JPEG nor PNG';
  throw new Error(`${file}: ${kind} (only JPEG and PNG are decoded)`);
}

// face-api takes a [H,W,3] tensor of pixel values 0..255 (what tf.browser.fromPixels gives a browser user).
export function toTensor(img) {
  return tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3], 'float32');
}

export function round(x, d = 2) {
  const k = 10 ** d;
  return Math.round(x * k) / k;
}

export function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))));
  return s[i];
}

// Option parsing is shared with the reference scripts (positional arguments land in `_`).
export { parseArgs } from '../../tests/ref/tfjs_common.mjs';
