#!/usr/bin/env node
// Reference outputs for mien's five face-api models, computed by @vladmandic/face-api 1.7.15 itself on
// tfjs-backend-cpu, at the same boundary as mien's graphs (see tests/ref/FACEAPI.md):
//   build/ref/<model>/<case>/{input.npy, <output>.npy..., manifest.json}   (+ detections.json for ssd)
//
//   node tests/ref/make_faceapi_refs.mjs [--models DIR] [--sample PATH] [--out DIR] [--only a,b] [--seed N]
//
// face-api's node-wasm build requires '@tensorflow/tfjs'; tests/ref/tfjs-shim stands in for it (tfjs-core +
// tfjs-converter + tfjs-backend-cpu from tests/ref/node_modules), so no tfjs-node is needed.
import fs from 'node:fs';
import path from 'node:path';
import { tf, require, parseArgs, randomUniform, npyBytes } from './tfjs_common.mjs';

const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const jpeg = require('jpeg-js');

const opt = parseArgs(process.argv.slice(2), {
  models: fs.existsSync('models/faceapi') ? 'models/faceapi' : '/tmp/faceapi-pkg/model',
  sample: fs.existsSync('models/samples/sample1.jpg') ? 'models/samples/sample1.jpg' : '/tmp/faceapi-pkg/demo/sample1.jpg',
  out: 'build/ref',
  only: '',
  seed: 1234,
});

// mien short name -> face-api net, input size, output names, the forward call at mien's output boundary.
const MODELS = {
  ssd_mobilenetv1: {
    net: () => faceapi.nets.ssdMobilenetv1, manifest: 'ssd_mobilenetv1_model', size: 512,
    // SsdMobilenetv1.forwardInput = outputLayer(...): decoded boxes [N,4] (y0,x0,y1,x1) and sigmoid face scores [N]
    run: (net, ni) => {
      const { boxes, scores } = net.forwardInput(ni);
      return { boxes: boxes[0].expandDims(0), scores: scores[0].expandDims(0) };
    },
  },
  tiny_face_detector: {
    net: () => faceapi.nets.tinyFaceDetector, manifest: 'tiny_face_detector_model', size: 416,
    // TinyYolov2Base.forwardInput(input, inputSize): raw conv8 output [1,13,13,25], before extractBoxes
    // the input size follows the tensor: mien's graph is resizable, so random_320 checks another size
    run: (net, ni, size) => ({ grid: net.forwardInput(ni, size) }),
    extraSizes: [320],
  },
  face_landmark_68: {
    net: () => faceapi.nets.faceLandmark68Net, manifest: 'face_landmark_68_model', size: 112,
    // FaceProcessor.runNet: fc output [1,136], before FaceLandmark68NetBase.postProcess
    run: (net, ni) => ({ landmarks: net.runNet(ni) }),
  },
  face_recognition: {
    net: () => faceapi.nets.faceRecognitionNet, manifest: 'face_recognition_model', size: 150,
    run: (net, ni) => ({ descriptor: net.forwardInput(ni) }),
  },
  face_expression: {
    net: () => faceapi.nets.faceExpressionNet, manifest: 'face_expression_model', size: 112,
    // FaceExpressionNet.forwardInput = softmax(runNet)
    run: (net, ni) => ({ expressions: net.forwardInput(ni) }),
  },
};

function compactJson(obj) {
  return JSON.stringify(obj, null, 1).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (m, body) => `[${body.split(/,\s*/).join(',')}]`);
}

function decodeJpeg(file) {
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
  return tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3], 'float32');
}

function writeCase(name, caseName, input, outputs, extra) {
  const dir = path.join(opt.out, name, caseName);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'input.npy'), npyBytes(input.dataSync(), input.shape));
  const manifest = {
    model: name, case: caseName,
    inputs: [{ name: 'input', file: 'input.npy', shape: input.shape }],
    outputs: [],
    backend: tf.getBackend(), tfjs: tf.version_core, faceapi: faceapi.version, ...extra,
  };
  for (const [oname, t] of Object.entries(outputs)) {
    const file = `${oname}.npy`;
    fs.writeFileSync(path.join(dir, file), npyBytes(Float32Array.from(t.dataSync()), t.shape));
    manifest.outputs.push({ name: oname, file, shape: t.shape });
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${compactJson(manifest)}\n`);
  return dir;
}

// face-api's own detections (SsdMobilenetv1.locateFaces: its NMS, minConfidence 0.5, maxResults 100, IoU 0.5).
// Each kept box is matched back to its row of the pre-NMS outputs (scores come from the same array, so the
// match is exact) so that mien's nn_nms can be checked index for index.
async function ssdDetections(net, input, scores, boxes) {
  const dets = await net.locateFaces(input, { minConfidence: 0.5, maxResults: 100 });
  const s = scores.dataSync();
  const b = boxes.dataSync();
  const used = new Set();
  const detections = dets.map((d) => {
    let index = -1;
    for (let i = 0; i < s.length; i++) if (s[i] === d.score && !used.has(i)) { index = i; break; }
    used.add(index);
    const rb = d.relativeBox;
    return {
      index, score: d.score,
      box: index >= 0 ? Array.from(b.slice(index * 4, index * 4 + 4)) : null, // [y0,x0,y1,x1], pre-clip
      relative_box: { x: rb.x, y: rb.y, width: rb.width, height: rb.height }, // clipped to [0,1] by face-api
    };
  });
  return { min_confidence: 0.5, max_results: 100, iou_threshold: 0.5, box_order: 'y0,x0,y1,x1', detections };
}

// The network input face-api would build for `image` (NetInput.toBatchTensor: pad to square, bilinear resize).
async function netInputTensor(image, size, center) {
  const ni = await faceapi.toNetInput(image);
  return ni.toBatchTensor(size, center);
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}, not cpu`);
  const names = opt.only ? opt.only.split(',').map((s) => s.trim()) : Object.keys(MODELS);
  for (const n of names) if (!MODELS[n]) throw new Error(`--only: unknown model ${n}`);

  // Every net is loaded: the photo crops need the detector even when only a classifier is asked for.
  for (const m of Object.values(MODELS)) await m.net().loadFromDisk(opt.models);

  const photo = decodeJpeg(opt.sample);
  // Face crop for the classifiers: face-api's detector on the whole photo, first (best) face, cut out with
  // face-api's extractFaceTensors (the box, integer-rounded, clipped to the image) as detectAllFaces(...)
  // .withFaceLandmarks() / .withFaceDescriptors() do before calling the classifiers.
  const photoDets = await faceapi.nets.ssdMobilenetv1.locateFaces(photo, { minConfidence: 0.5, maxResults: 100 });
  if (photoDets.length === 0) throw new Error('no face found in the sample photo');
  const [faceCrop] = await faceapi.extractFaceTensors(photo, [photoDets[0]]);
  const faceBox = photoDets[0].box;

  for (const name of names) {
    const m = MODELS[name];
    const net = m.net();
    const shape = [1, m.size, m.size, 3];
    const cases = {
      random: { input: tf.tensor4d(randomUniform(shape, 0, 255, opt.seed), shape, 'float32'), extra: { seed: opt.seed, prng: 'mulberry32', range: [0, 255] } },
    };
    for (const size of m.extraSizes || []) {
      const sh = [1, size, size, 3];
      cases[`random_${size}`] = { input: tf.tensor4d(randomUniform(sh, 0, 255, opt.seed), sh, 'float32'), extra: { seed: opt.seed, prng: 'mulberry32', range: [0, 255] } };
    }
    if (name === 'ssd_mobilenetv1' || name === 'tiny_face_detector') {
      // the whole photo as face-api feeds a detector: padded bottom/right to square, bilinear resize (legacy mode)
      cases.photo = { input: await netInputTensor(photo, m.size, false), extra: { source: path.basename(opt.sample), prep: 'face-api NetInput.toBatchTensor(size, false)' } };
    } else {
      cases.photo = {
        input: await netInputTensor(faceCrop, m.size, true),
        extra: {
          source: path.basename(opt.sample),
          face_box: { x: faceBox.x, y: faceBox.y, width: faceBox.width, height: faceBox.height },
          prep: 'ssd_mobilenetv1 first face, face-api extractFaceTensors, NetInput.toBatchTensor(size, true)',
        },
      };
    }
    for (const [caseName, c] of Object.entries(cases)) {
      const ni = await faceapi.toNetInput(c.input);
      const outs = m.run(net, ni, c.input.shape[1]);
      const dir = writeCase(name, caseName, c.input, outs, c.extra);
      if (name === 'ssd_mobilenetv1') {
        const det = await ssdDetections(net, c.input, outs.scores, outs.boxes);
        fs.writeFileSync(path.join(dir, 'detections.json'), `${JSON.stringify(det, null, 1)}\n`);
        console.log(`${name}/${caseName}: ${det.detections.length} detections`);
      }
      console.log(`${name}/${caseName}: ${Object.entries(outs).map(([k, t]) => `${k}${JSON.stringify(t.shape)}`).join(' ')}`);
    }
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
