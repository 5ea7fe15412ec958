#!/usr/bin/env node
// Speed peer for mien's pipeline: face-api 1.7.15's whole pipeline on TensorFlow.js (tfjs-backend-wasm,
// one thread) in Node, on one photo, as a face-api user writes it:
//   faceapi.detectAllFaces(img, new SsdMobilenetv1Options({ minConfidence: 0.5 }))
//     .withFaceLandmarks().withFaceDescriptors().withFaceExpressions()
//
//   node bench/pipeline/tfjs_pipeline.mjs [--image models/samples/sample1.jpg] [--runs 10] [--warmup 2]
//                                         [--backend wasm|cpu] [--models models/faceapi]
//
// Timed: the chain above on a [H,W,3] tensor, tensor creation from the decoded RGB pixels included (what
// tf.browser.fromPixels costs a browser user); the JPEG decode (jpeg-js, pure JS) is reported apart as
// decode_ms. Prints one JSON line on stdout: {"peer":"faceapi-tfjs-wasm","threads":1,"median_ms":...,"faces":...}
import path from 'node:path';
import {
  tf, faceapi, initFaceapi, decodeImage, toTensor, round, median, percentile, parseArgs, log, ROOT,
} from '../peer/faceapi_node.mjs';

const opt = parseArgs(process.argv.slice(2), {
  _: [],
  image: path.join(ROOT, 'models/samples/sample1.jpg'), runs: 10, warmup: 2, backend: 'wasm', models: '',
});

async function main() {
  const info = await initFaceapi({ backend: opt.backend, models: opt.models || undefined });
  const t0 = performance.now();
  const img = decodeImage(opt.image);
  const decodeMs = performance.now() - t0;
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  let res = null;
  const once = async () => {
    const s = performance.now();
    const t = toTensor(img);
    res = await faceapi.detectAllFaces(t, options).withFaceLandmarks().withFaceDescriptors().withFaceExpressions();
    t.dispose();
    return performance.now() - s;
  };
  const base = tf.memory().numTensors;
  for (let i = 0; i < opt.warmup; i++) await once();
  const times = [];
  for (let i = 0; i < opt.runs; i++) {
    times.push(await once());
    log(`tfjs_pipeline: run ${i + 1}/${opt.runs} ${times[i].toFixed(1)} ms, ${res.length} faces`);
  }
  const peer = info.backend === 'wasm' ? 'faceapi-tfjs-wasm' : `faceapi-tfjs-${info.backend}`;
  const out = {
    peer, threads: 1, median_ms: round(median(times)), p10_ms: round(percentile(times, 0.1)), p90_ms: round(percentile(times, 0.9)),
    min_ms: round(Math.min(...times)), runs: opt.runs, faces: res.length, decode_ms: round(decodeMs), width: img.width, height: img.height,
    backend: info.backend, simd: info.simd, multithread: info.multithread, fallback_reason: info.fallback_reason, tfjs: info.tfjs, faceapi: info.faceapi,
    tensors_leaked: tf.memory().numTensors - base,
    faces_detail: res.map((r) => ({
      score: round(r.detection.score, 4),
      box: [r.detection.box.x, r.detection.box.y, r.detection.box.width, r.detection.box.height].map((v) => round(v, 1)),
      expression: r.expressions.asSortedArray()[0].expression,
    })),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => { log(e); process.exit(1); });
