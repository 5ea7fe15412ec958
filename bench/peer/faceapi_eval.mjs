#!/usr/bin/env node
// mien's accuracy evaluations, done by the models' own library: @vladmandic/face-api 1.7.15 on
// TensorFlow.js in Node, through face-api's high-level API as its users call it.
//
//   node bench/peer/faceapi_eval.mjs --mode detect     DIR [--out FILE]    DIR/face_counts.csv: file,faces,...
//   node bench/peer/faceapi_eval.mjs --mode identity   DIR [--out FILE]    DIR/<person>/<image>
//   node bench/peer/faceapi_eval.mjs --mode expression DIR [--out FILE] [--limit N]   DIR/<label>/<image>
//   options: --backend wasm|cpu (wasm, falling back to cpu), --models DIR (models/faceapi),
//            --min-confidence X (0.5), --no-fallback (identity: drop images with no detected face)
//
// One JSON object on stdout (and in --out FILE); progress on stderr. The definitions of every metric are
// in the object's "definitions" so a reader (or mien's own evaluation) can match them.
//
// detect:     faceapi.detectAllFaces(img, new SsdMobilenetv1Options({ minConfidence })) per listed image.
// identity:   detectAllFaces(img, ssd).withFaceLandmarks().withFaceDescriptors(), the largest face's
//             descriptor (face-api aligns it with the 68 landmarks, dlib-style). When no face is found (tight
//             crops), the whole image is taken as the detection box and face-api's own next steps run on it
//             (68 landmarks in that box, the same alignment, the descriptor): counted as a detection failure
//             and marked "whole_image".
// expression: faceapi.nets.faceExpressionNet.predictExpressions(crop) on the whole 48 px crop (no detection).
import fs from 'node:fs';
import path from 'node:path';
import {
  tf, faceapi, initFaceapi, decodeImage, toTensor, round, median, percentile, parseArgs, log,
} from './faceapi_node.mjs';

const opt = parseArgs(process.argv.slice(2), {
  _: [],
  mode: '', out: '', limit: 0, backend: 'wasm', models: '', 'min-confidence': 0.5, 'no-fallback': false,
});
const IMAGE_EXT = /\.(jpe?g|png)$/i;
const FACEAPI_THRESHOLD = 0.6; // face-api's FaceMatcher default: same person when distance < 0.6

function usage(msg) {
  log(`faceapi_eval: ${msg}\nusage: node bench/peer/faceapi_eval.mjs --mode detect|identity|expression DIR [--out FILE] [--limit N] [--backend wasm|cpu]`);
  process.exit(2);
}

// Minimal RFC-4180 CSV (quoted fields with commas and doubled quotes).
function readCsv(file) {
  const text = fs.readFileSync(file, 'utf8');
  const rows = [];
  let row = []; let field = ''; let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') q = false; else field += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); if (row.some((f) => f !== '')) rows.push(row); }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h.trim(), (r[i] ?? '').trim()])));
}

const listDirs = (dir) => fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const listImages = (dir) => fs.readdirSync(dir).filter((f) => IMAGE_EXT.test(f)).sort();
const boxJson = (b) => ({ x: round(b.x, 1), y: round(b.y, 1), width: round(b.width, 1), height: round(b.height, 1) });
const ssdOptions = () => new faceapi.SsdMobilenetv1Options({ minConfidence: opt['min-confidence'] });

function timingSummary(times) {
  return { median_ms: round(median(times)), p90_ms: round(percentile(times, 0.9)), mean_ms: round(times.reduce((a, b) => a + b, 0) / (times.length || 1)), n: times.length };
}

// ---------------------------------------------------------------- detect
async function runDetect(dir) {
  const csv = path.join(dir, 'face_counts.csv');
  if (!fs.existsSync(csv)) usage(`${csv} not found`);
  const rows = readCsv(csv);
  const images = []; const times = [];
  let sumCounted = 0; let sumMatched = 0; let sumExtra = 0; let sumFound = 0; let warmed = false;
  for (const r of rows) {
    const file = path.join(dir, r.file);
    const counted = Number(r.faces);
    if (!fs.existsSync(file)) { images.push({ file: r.file, counted, missing: true }); log(`detect: ${r.file} missing`); continue; }
    const img = decodeImage(file);
    const t = toTensor(img);
    if (!warmed) { await faceapi.detectAllFaces(t, ssdOptions()); warmed = true; } // kernels compiled, weights uploaded
    const t0 = performance.now();
    const dets = await faceapi.detectAllFaces(t, ssdOptions());
    const ms = performance.now() - t0;
    t.dispose();
    const found = dets.length;
    times.push(ms);
    sumCounted += counted; sumFound += found;
    sumMatched += Math.min(found, counted); sumExtra += Math.max(found - counted, 0);
    images.push({
      file: r.file, width: img.width, height: img.height, counted, found, count_kind: r.count_kind, ms: round(ms),
      detections: dets.map((d) => ({ score: round(d.score, 4), box: boxJson(d.box) })),
    });
    log(`detect: ${r.file} ${img.width}x${img.height} counted ${counted} found ${found} (${ms.toFixed(0)} ms)`);
  }
  const n = images.filter((i) => !i.missing).length;
  return {
    counts: { images: n, missing: images.length - n, faces_counted: sumCounted, faces_found: sumFound },
    metrics: {
      recall: round(sumMatched / sumCounted, 4),
      false_per_10: round((10 * sumExtra) / n, 3),
      exact_count_images: images.filter((i) => !i.missing && i.found === i.counted).length,
      median_ms_per_image: round(median(times)),
    },
    timing: timingSummary(times),
    definitions: {
      recall: 'sum(min(found, counted)) / sum(counted)',
      false_per_10: '10 * sum(max(found - counted, 0)) / images',
      detector: `faceapi.detectAllFaces(img, new SsdMobilenetv1Options({ minConfidence: ${opt['min-confidence']} })) (maxResults 100, NMS IoU 0.5)`,
      ms: 'detectAllFaces only (tensor already built from decoded pixels), one warm-up call on the first image',
    },
    images,
  };
}

// ---------------------------------------------------------------- identity
// face-api's own steps after detection, for a given detection: 68 landmarks in the detection's crop,
// dlib-style alignment, descriptor of the aligned crop (what .withFaceLandmarks().withFaceDescriptor() do).
async function describeBox(t, width, height) {
  const det = new faceapi.FaceDetection(1, new faceapi.Rect(0, 0, 1, 1), { width, height });
  const [crop] = await faceapi.extractFaceTensors(t, [det]);
  const landmarks = await faceapi.nets.faceLandmark68Net.detectLandmarks(crop);
  crop.dispose();
  const withLm = faceapi.extendWithFaceLandmarks(faceapi.extendWithFaceDetection({}, det), landmarks);
  const aligned = withLm.landmarks.align(null, { useDlibAlignment: true });
  const [face] = await faceapi.extractFaceTensors(t, [aligned]);
  const descriptor = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(face);
  face.dispose();
  return { descriptor, detection: det, alignedRect: aligned };
}

function euclid(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; s += d * d; }
  return Math.sqrt(s);
}

// Verification metrics over labelled distances (same: true/false). Accept when distance < threshold.
function verification(pairs) {
  const gen = pairs.filter((p) => p.same).map((p) => p.d).sort((a, b) => a - b);
  const imp = pairs.filter((p) => !p.same).map((p) => p.d).sort((a, b) => a - b);
  const n = gen.length + imp.length;
  if (!n) return { genuine_pairs: 0, impostor_pairs: 0, accAt: () => null };
  const below = (arr, t) => { let lo = 0; let hi = arr.length; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] < t) lo = m + 1; else hi = m; } return lo; };
  const accAt = (t) => (below(gen, t) + (imp.length - below(imp, t))) / n;
  // best threshold: every midpoint between consecutive distinct distances, plus both ends
  const all = [...gen, ...imp].sort((a, b) => a - b);
  const cands = [all[0] - 1e-6, all[all.length - 1] + 1e-6];
  for (let i = 1; i < all.length; i++) if (all[i] !== all[i - 1]) cands.push((all[i] + all[i - 1]) / 2);
  let best = { acc: -1, t: 0 };
  for (const t of cands) { const a = accAt(t); if (a > best.acc) best = { acc: a, t }; }
  // TAR at FAR: the threshold is the (floor(far * impostors) + 1)-th smallest impostor distance, so at most
  // floor(far * impostors) impostors fall below it (strictly); TAR = share of genuine pairs below it.
  const tarAt = (far) => {
    if (!imp.length || !gen.length) return null;
    const allowed = Math.floor(far * imp.length);
    const t = allowed < imp.length ? imp[allowed] : Infinity;
    return { far_target: far, tar: round(below(gen, t) / gen.length, 4), threshold: round(t, 4), far_actual: round(below(imp, t) / imp.length, 5), impostors_accepted: below(imp, t), impostors: imp.length };
  };
  const eer = (() => {
    let bestGap = Infinity; let out = null;
    for (const t of cands) {
      const frr = 1 - below(gen, t) / (gen.length || 1); const far = below(imp, t) / (imp.length || 1);
      if (Math.abs(frr - far) < bestGap) { bestGap = Math.abs(frr - far); out = { eer: round((frr + far) / 2, 4), threshold: round(t, 4) }; }
    }
    return out;
  })();
  return {
    genuine_pairs: gen.length,
    impostor_pairs: imp.length,
    best_threshold_accuracy: round(best.acc, 4),
    best_threshold: round(best.t, 4),
    accuracy_at_0_6: round(accAt(FACEAPI_THRESHOLD), 4),
    tar_at_far_0_1pct: tarAt(0.001),
    tar_at_far_1pct: tarAt(0.01),
    eer,
    genuine_distance: { median: round(median(gen) ?? NaN, 4), max: round(gen[gen.length - 1] ?? NaN, 4) },
    impostor_distance: { median: round(median(imp) ?? NaN, 4), min: round(imp[0] ?? NaN, 4) },
    accAt,
  };
}

async function runIdentity(dir) {
  const people = listDirs(dir);
  if (!people.length) usage(`${dir} has no <person>/ folders`);
  const items = []; const times = [];
  let warmed = false;
  for (const person of people) {
    for (const f of listImages(path.join(dir, person))) {
      const file = path.join(dir, person, f);
      let img;
      try {
        img = decodeImage(file);
      } catch (e) {
        items.push({ person, file: `${person}/${f}`, source: 'undecodable', error: e.message });
        log(`identity: ${person}/${f} left out: ${e.message}`);
        continue;
      }
      const t = toTensor(img);
      if (!warmed) { await faceapi.detectAllFaces(t, ssdOptions()).withFaceLandmarks().withFaceDescriptors(); warmed = true; }
      const t0 = performance.now();
      const res = await faceapi.detectAllFaces(t, ssdOptions()).withFaceLandmarks().withFaceDescriptors();
      let item = { person, file: `${person}/${f}`, width: img.width, height: img.height, faces: res.length };
      if (res.length) {
        const big = res.reduce((a, b) => (b.detection.box.area > a.detection.box.area ? b : a));
        Object.assign(item, { source: 'detected', score: round(big.detection.score, 4), box: boxJson(big.detection.box), aligned: boxJson(big.landmarks.align(null, { useDlibAlignment: true })), descriptor: big.descriptor });
      } else if (!opt['no-fallback']) {
        const r = await describeBox(t, img.width, img.height);
        Object.assign(item, { source: 'whole_image', box: boxJson(r.detection.box), aligned: boxJson(r.alignedRect), descriptor: r.descriptor });
      } else {
        item.source = 'none';
      }
      const ms = performance.now() - t0;
      t.dispose();
      times.push(ms);
      item.ms = round(ms);
      items.push(item);
      log(`identity: ${item.file} ${img.width}x${img.height} faces ${res.length} ${item.source} (${ms.toFixed(0)} ms)`);
    }
  }
  const used = items.filter((i) => i.descriptor);
  // all pairs
  const pairs = [];
  for (let i = 0; i < used.length; i++) {
    for (let j = i + 1; j < used.length; j++) pairs.push({ same: used[i].person === used[j].person, d: euclid(used[i].descriptor, used[j].descriptor) });
  }
  const ver = verification(pairs);
  const { accAt } = ver; delete ver.accAt;
  // rank-1: the first image (by name) of each person is enrolled, every other image is a query
  const gallery = []; const queries = [];
  for (const person of people) {
    const mine = used.filter((i) => i.person === person);
    if (!mine.length) continue;
    gallery.push(mine[0]);
    queries.push(...mine.slice(1));
  }
  let top1 = 0; let top1Under = 0;
  for (const q of queries) {
    let best = null;
    for (const g of gallery) { const d = euclid(q.descriptor, g.descriptor); if (!best || d < best.d) best = { d, person: g.person }; }
    if (best.person === q.person) { top1++; if (best.d < FACEAPI_THRESHOLD) top1Under++; }
  }
  const out = {
    counts: {
      people: people.length, images: items.length, with_descriptor: used.length,
      undecodable: items.filter((i) => i.source === 'undecodable').length,
      detection_failures: items.filter((i) => i.source === 'whole_image' || i.source === 'none').length,
      whole_image_fallbacks: items.filter((i) => i.source === 'whole_image').length,
      multi_face_images: items.filter((i) => i.faces > 1).length,
    },
    metrics: {
      verification: ver,
      rank1: { enrolled: gallery.length, queries: queries.length, accuracy: round(top1 / (queries.length || 1), 4), accuracy_and_under_0_6: round(top1Under / (queries.length || 1), 4) },
    },
    timing: timingSummary(times),
  };
  // deepface's own same/different pair lists
  const lists = fs.readdirSync(dir).filter((f) => /^repo_pairs_.*\.csv$/.test(f)).sort();
  if (lists.length) {
    const byName = new Map();
    for (const i of used) byName.set(path.basename(i.file), i);
    const all = new Map(items.map((i) => [path.basename(i.file), i]));
    out.metrics.repo_pairs = {};
    for (const l of lists) {
      const rows = readCsv(path.join(dir, l));
      const lp = []; let missing = 0; let noFace = 0;
      for (const r of rows) {
        const x = path.basename(r.file_x); const y = path.basename(r.file_y);
        const dec = (r.Decision ?? r.decision ?? '').toLowerCase();
        if (!all.has(x) || !all.has(y)) { missing++; continue; }
        if (!byName.has(x) || !byName.has(y)) { noFace++; continue; }
        lp.push({ same: dec === 'yes', d: euclid(byName.get(x).descriptor, byName.get(y).descriptor) });
      }
      const v = verification(lp);
      out.metrics.repo_pairs[l] = {
        pairs: rows.length, evaluated: lp.length, skipped_missing_image: missing, skipped_no_descriptor: noFace,
        same: lp.filter((p) => p.same).length, different: lp.filter((p) => !p.same).length,
        accuracy_at_0_6: v.accuracy_at_0_6, best_threshold_accuracy: v.best_threshold_accuracy, best_threshold: v.best_threshold,
        accuracy_at_all_pairs_best_threshold: round(v.accAt(ver.best_threshold), 4),
      };
    }
  }
  out.definitions = {
    descriptor: 'faceapi.detectAllFaces(img, new SsdMobilenetv1Options({ minConfidence })).withFaceLandmarks().withFaceDescriptors(); the largest box; 128-d, Euclidean distance',
    whole_image_fallback: opt['no-fallback'] ? 'off (--no-fallback): images without a detected face are left out' : 'no face detected: the whole image is the detection box, then face-api\'s landmarks (faceLandmark68Net in that box), dlib alignment (landmarks.align(null, {useDlibAlignment: true})) and faceRecognitionNet.computeFaceDescriptor on the aligned crop',
    pairs: 'every unordered pair of images with a descriptor; same person = genuine, else impostor; accept when distance < threshold',
    best_threshold_accuracy: 'max over thresholds of (genuine accepted + impostors rejected) / pairs; in-sample (the threshold is fitted on the same pairs)',
    accuracy_at_0_6: 'face-api FaceMatcher default threshold: accept when distance < 0.6',
    tar_at_far: 'threshold = (floor(FAR * impostors) + 1)-th smallest impostor distance; TAR = genuine pairs with distance < threshold / genuine pairs; with few impostor pairs FAR 0.1% means no impostor accepted',
    rank1: 'first image (sorted by file name) of each person enrolled; each other image is matched to the nearest enrolled descriptor; accuracy = share whose nearest is the same person (closed set); accuracy_and_under_0_6 also requires distance < 0.6',
    repo_pairs: 'file names of the pair lists mapped by base name to DIR/<person>/<file>; Decision Yes = same; pairs with an image that is not in DIR are skipped_missing_image, pairs with an image that has no descriptor (undecodable, or no face with --no-fallback) skipped_no_descriptor',
    ms: 'detectAllFaces + landmarks + descriptors per image (plus the fallback when used), tensor already built from decoded pixels; one warm-up call',
  };
  out.images = items.map(({ descriptor, ...rest }) => rest);
  return out;
}

// ---------------------------------------------------------------- expression
// face-api's labels (FACE_EXPRESSION_LABELS) -> FER2013 folder labels
const EXPR_MAP = { neutral: 'neutral', happy: 'happy', sad: 'sad', angry: 'angry', fearful: 'fear', disgusted: 'disgust', surprised: 'surprise' };
const FER_LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'];

async function runExpression(dir) {
  const present = listDirs(dir);
  const labels = FER_LABELS.filter((l) => present.includes(l));
  const unknown = present.filter((l) => !FER_LABELS.includes(l));
  if (unknown.length) log(`expression: ignoring folders ${unknown.join(', ')}`);
  if (!labels.length) usage(`${dir} has none of the folders ${FER_LABELS.join(', ')}`);
  const confusion = FER_LABELS.map(() => FER_LABELS.map(() => 0));
  const predictions = []; const times = [];
  let warmed = false; let done = 0;
  for (const label of labels) {
    let files = listImages(path.join(dir, label));
    if (opt.limit > 0) files = files.slice(0, opt.limit);
    for (const f of files) {
      const img = decodeImage(path.join(dir, label, f));
      const t = toTensor(img);
      if (!warmed) { await faceapi.nets.faceExpressionNet.predictExpressions(t); warmed = true; }
      const t0 = performance.now();
      const expr = await faceapi.nets.faceExpressionNet.predictExpressions(t);
      const ms = performance.now() - t0;
      t.dispose();
      times.push(ms);
      const sorted = expr.asSortedArray();
      const pred = EXPR_MAP[sorted[0].expression];
      confusion[FER_LABELS.indexOf(label)][FER_LABELS.indexOf(pred)]++;
      predictions.push({ file: `${label}/${f}`, label, predicted: pred, score: round(sorted[0].probability, 4) });
      if (++done % 200 === 0) log(`expression: ${done} images, ${median(times).toFixed(1)} ms median`);
    }
  }
  const n = predictions.length;
  const correct = predictions.filter((p) => p.label === p.predicted).length;
  const perClass = {};
  for (const l of labels) {
    const i = FER_LABELS.indexOf(l);
    const total = confusion[i].reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[i], 0);
    perClass[l] = { images: total, recall: round(confusion[i][i] / (total || 1), 4), precision: predictedAs ? round(confusion[i][i] / predictedAs, 4) : null };
  }
  const recalls = Object.values(perClass).map((c) => c.recall);
  return {
    counts: { images: n, per_class: Object.fromEntries(labels.map((l) => [l, perClass[l].images])), limit_per_class: opt.limit || null },
    metrics: {
      accuracy: round(correct / n, 4),
      mean_class_recall: round(recalls.reduce((a, b) => a + b, 0) / recalls.length, 4),
      per_class: perClass,
      confusion: { labels: FER_LABELS, rows: 'true label', columns: 'predicted label', matrix: confusion },
    },
    timing: timingSummary(times),
    definitions: {
      classifier: 'faceapi.nets.faceExpressionNet.predictExpressions(whole image as the face crop; face-api resizes it to 112x112, grey replicated to RGB); argmax',
      label_map: EXPR_MAP,
      ms: 'predictExpressions per image, tensor already built; one warm-up call',
    },
    predictions,
  };
}

async function main() {
  const dir = opt._[0];
  if (!['detect', 'identity', 'expression'].includes(opt.mode)) usage('--mode detect|identity|expression is required');
  if (!dir || !fs.existsSync(dir)) usage(`dataset folder ${dir ?? '(none)'} not found`);
  if (opt._.length > 1) usage(`one DIR only, got ${opt._.join(' ')}`);
  const nets = opt.mode === 'expression' ? ['faceExpressionNet'] : opt.mode === 'detect' ? ['ssdMobilenetv1'] : ['ssdMobilenetv1', 'faceLandmark68Net', 'faceRecognitionNet'];
  const t0 = performance.now();
  const backend = await initFaceapi({ backend: opt.backend, models: opt.models || undefined, nets });
  const base = tf.memory().numTensors; // the loaded weights
  const run = { detect: runDetect, identity: runIdentity, expression: runExpression }[opt.mode];
  const res = await run(dir);
  const out = {
    peer: 'faceapi-tfjs', mode: opt.mode, dataset: path.resolve(dir), min_confidence: opt.mode === 'expression' ? undefined : opt['min-confidence'],
    backend, ...res, wall_s: round((performance.now() - t0) / 1000, 1), tensors_leaked: tf.memory().numTensors - base,
    date: new Date().toISOString(),
  };
  const text = JSON.stringify(out);
  if (opt.out) {
    fs.mkdirSync(path.dirname(path.resolve(opt.out)), { recursive: true });
    fs.writeFileSync(opt.out, `${text}\n`);
  }
  process.stdout.write(`${text}\n`);
}

main().catch((e) => { log(e); process.exit(1); });
