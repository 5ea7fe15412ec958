#!/usr/bin/env node
// Reference outputs for mien: run the human-models graph models on tfjs-backend-cpu and write
// build/ref/<model>/<case>/{<input>.npy, <output>.npy..., manifest.json}.  See tests/ref/README.md.
//
//   node tests/ref/make_refs.mjs [--models DIR] [--sample PATH] [--out DIR] [--only a,b] [--seed N]
import fs from 'node:fs';
import path from 'node:path';
import {
  tf, require, MODELS, parseArgs, selectModels, readArtifacts, loadModelFromArtifacts, ioInfo,
  safeFileName, randomUniform, npyBytes,
} from './tfjs_common.mjs';

require('@tensorflow/tfjs-backend-cpu');
const jpeg = require('jpeg-js');

const opt = parseArgs(process.argv.slice(2), {
  models: 'models/human',
  sample: 'models/samples/sample1.jpg',
  out: 'build/ref',
  only: '',
  seed: 1234,
});

// Extra input sizes for the fully convolutional detectors (case name random_<size>).
const EXTRA_SIZES = { 'blazeface-back': [320], 'facemesh-detection-full': [384] };

function decodeSampleSquare(file) {
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
  const { width: w, height: h, data } = img; // RGB, 3 bytes per pixel
  const s = Math.min(w, h);
  const x0 = Math.floor((w - s) / 2);
  const y0 = Math.floor((h - s) / 2);
  const crop = new Float32Array(s * s * 3);
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const si = ((y + y0) * w + (x + x0)) * 3;
      const di = (y * s + x) * 3;
      crop[di] = data[si]; crop[di + 1] = data[si + 1]; crop[di + 2] = data[si + 2];
    }
  }
  return { tensor: tf.tensor4d(crop, [1, s, s, 3], 'float32'), w, h, s };
}

// Pre-processing as @vladmandic/human does it (see MODELS[*].src). resizeBilinear(x, size, false)
// is TF's legacy mode (alignCorners=false, halfPixelCenters=false), which is what human calls.
function preparePhoto(img255, prep, hw) {
  return tf.tidy(() => {
    switch (prep) {
      case 'rgb_pm1': return tf.sub(tf.div(tf.image.resizeBilinear(img255, hw, false), 127.5), 1);
      case 'rgb_01': return tf.image.resizeBilinear(tf.div(img255, 255), hw, false);
      case 'rgb_0255': return tf.mul(tf.image.resizeBilinear(tf.div(img255, 255), hw, false), 255);
      case 'grey_pm1': {
        const r = tf.image.resizeBilinear(tf.div(img255, 255), hw, false);
        const g = tf.sum(tf.mul(r, tf.tensor1d([0.2989, 0.5870, 0.1140], 'float32')), 3, true);
        return tf.mul(tf.sub(g, 0.5), 2);
      }
      default: throw new Error(`unknown prep ${prep}`);
    }
  });
}

function writeCase(outDir, modelName, caseName, io, inputTensor, outputs, extra) {
  const dir = path.join(outDir, modelName, caseName);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const inName = io.inputs[0].name;
  const inFile = safeFileName(inName);
  fs.writeFileSync(path.join(dir, inFile), npyBytes(inputTensor.dataSync(), inputTensor.shape));
  const manifest = {
    model: modelName,
    case: caseName,
    inputs: [{ name: inName, file: inFile, shape: inputTensor.shape, signature_key: io.inputs[0].signature_key }],
    outputs: [],
    ...extra,
  };
  const files = new Set([inFile]);
  outputs.forEach((t, i) => {
    const name = io.outputs[i].name;
    const file = safeFileName(name);
    if (files.has(file)) throw new Error(`${modelName}: file name clash ${file}`);
    files.add(file);
    if (t.dtype !== 'float32') manifest.note = `${name} was ${t.dtype}, stored as float32`;
    fs.writeFileSync(path.join(dir, file), npyBytes(Float32Array.from(t.dataSync()), t.shape));
    manifest.outputs.push({ name, file, shape: t.shape, signature_key: io.outputs[i].signature_key });
  });
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${compactJson(manifest)}\n`);
  return manifest;
}

// Pretty JSON with number arrays (shapes, ranges) kept on one line.
function compactJson(obj) {
  return JSON.stringify(obj, null, 1).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (m, body) => `[${body.split(/,\s*/).join(',')}]`);
}

function runModel(model, input) {
  const res = model.execute(input);
  return Array.isArray(res) ? res : [res];
}

function stats(t) {
  const d = t.dataSync();
  let mn = Infinity; let mx = -Infinity;
  for (let i = 0; i < d.length; i++) { if (d[i] < mn) mn = d[i]; if (d[i] > mx) mx = d[i]; }
  return `[${mn.toPrecision(3)},${mx.toPrecision(3)}]`;
}

function describe(m) {
  return m.outputs.map((o) => `${o.name}${JSON.stringify(o.shape)}`).join(' ');
}

// Both detectors bake size-dependent integer constants into the graph at the published size: the
// flattening Reshape targets of the heads ([1,512,1] for blazeface) and the output sizes of the
// upsampling ResizeBilinear ops. Re-derive them for the new size the way mien does (Reshape: the
// anchor axis 1 becomes -1; ResizeBilinear: the size scales with the input), so TF.js itself runs the
// same network at the new size and its outputs are a true reference for mien's.
function rederiveSizeConstants(artifacts, scale) {
  const offsets = new Map();
  let at = 0;
  for (const w of artifacts.weightSpecs) {
    const count = w.shape.reduce((a, b) => a * b, 1);
    const q = w.quantization?.dtype;
    const bytes = q === 'uint8' ? 1 : q === 'float16' || q === 'uint16' ? 2 : 4;
    offsets.set(w.name, { at, count, dtype: w.dtype, quantized: Boolean(q) });
    at += count * bytes;
  }
  const ints = (name) => {
    const o = offsets.get(name);
    if (!o || o.dtype !== 'int32' || o.quantized) return null;
    return new Int32Array(artifacts.weightData, o.at, o.count);
  };
  const byName = new Map(artifacts.modelTopology.node.map((n) => [n.name, n]));
  for (const n of artifacts.modelTopology.node) {
    if (n.op === 'Reshape') {
      const target = ints(n.input[1]);
      if (target && target.length >= 2 && !target.includes(-1)) target[1] = -1;
    }
    if (n.op === 'ResizeBilinear') {
      let size = ints(n.input[1]);
      // the size may come through a Mul of constants (up_sampling2d/mul): patch its constant factor inputs
      const src = byName.get(n.input[1]);
      if (!size && src && src.op === 'Mul') size = ints(src.input[0]);
      if (size) for (let i = 0; i < size.length; i++) size[i] = Math.round(size[i] * scale);
    }
  }
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}, not cpu`);
  const t0 = performance.now();
  const names = selectModels(opt.only);
  const sample = decodeSampleSquare(opt.sample);
  const common = { backend: 'cpu', tfjs: tf.version_core, seed: opt.seed };
  const failures = [];

  for (const name of names) {
    const spec = MODELS[name];
    const artifacts = readArtifacts(opt.models, name);
    const model = await loadModelFromArtifacts(artifacts);
    const io = ioInfo(model);
    if (io.inputs.length !== 1) throw new Error(`${name}: expected one input, got ${io.inputs.length}`);
    const shape = model.inputs[0].shape.map((d) => (d === -1 || d == null ? 1 : d));
    const [, H, W, C] = shape;

    // random
    {
      const input = tf.tensor4d(randomUniform(shape, spec.range[0], spec.range[1], opt.seed), shape, 'float32');
      const t1 = performance.now();
      const outs = runModel(model, input);
      const ms = performance.now() - t1;
      const m = writeCase(opt.out, name, 'random', io, input, outs, { ...common, input_range: spec.range, output_nodes: io.outputNodes });
      console.log(`${name.padEnd(24)} random     in ${JSON.stringify(shape)} U${JSON.stringify(spec.range)} -> ${describe(m)}  (${ms.toFixed(0)} ms)`);
      tf.dispose([input, ...outs]);
    }
    // photo
    {
      const input = preparePhoto(sample.tensor, spec.prep, [H, W]);
      if (input.shape[3] !== C) throw new Error(`${name}: prepared ${input.shape} vs model ${shape}`);
      const t1 = performance.now();
      const outs = runModel(model, input);
      const ms = performance.now() - t1;
      const m = writeCase(opt.out, name, 'photo', io, input, outs, {
        ...common, preprocess: spec.prep, preprocess_source: `@vladmandic/human src/${spec.src}`,
        sample: path.basename(opt.sample), sample_crop: `central ${sample.s}x${sample.s} of ${sample.w}x${sample.h}`,
        output_nodes: io.outputNodes,
      });
      console.log(`${name.padEnd(24)} photo      in ${JSON.stringify(input.shape)} ${stats(input)} -> ${describe(m)}  (${ms.toFixed(0)} ms)`);
      tf.dispose([input, ...outs]);
    }
    model.dispose();

    // other input sizes (fully convolutional detectors)
    for (const size of EXTRA_SIZES[name] || []) {
      const caseName = `random_${size}`;
      const s2 = [1, size, size, C];
      const input = tf.tensor4d(randomUniform(s2, spec.range[0], spec.range[1], opt.seed), s2, 'float32');
      // The graph's Placeholder pins H and W, and GraphModel.execute checks input shapes, so relax
      // H/W to -1 in the topology (the graph itself is unchanged) and let TF.js try to run it.
      const patched = readArtifacts(opt.models, name);
      for (const n of patched.modelTopology.node) {
        if (n.op === 'Placeholder' && n.attr?.shape?.shape?.dim) {
          const dims = n.attr.shape.shape.dim;
          dims[1] = { size: '-1' }; dims[2] = { size: '-1' };
        }
      }
      rederiveSizeConstants(patched, size / H);
      const pm = await loadModelFromArtifacts(patched);
      try {
        const outs = runModel(pm, input);
        const m = writeCase(opt.out, name, caseName, io, input, outs, {
          ...common, input_range: spec.range, output_nodes: io.outputNodes, placeholder_hw_relaxed: true,
        });
        console.log(`${name.padEnd(24)} ${caseName.padEnd(10)} in ${JSON.stringify(s2)} -> ${describe(m)}`);
        tf.dispose(outs);
      } catch (e) {
        const msg = String(e.message || e).split('\n')[0];
        failures.push({ model: name, case: caseName, error: msg });
        fs.rmSync(path.join(opt.out, name, caseName), { recursive: true, force: true });
        console.log(`${name.padEnd(24)} ${caseName.padEnd(10)} SKIPPED: TF.js cannot run it: ${msg}`);
      }
      tf.dispose(input);
      pm.dispose();
    }
  }
  sample.tensor.dispose();
  if (failures.length) {
    fs.mkdirSync(opt.out, { recursive: true });
    fs.writeFileSync(path.join(opt.out, 'skipped.json'), `${JSON.stringify(failures, null, 1)}\n`);
  }
  console.log(`done: ${names.length} models in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${opt.out}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
