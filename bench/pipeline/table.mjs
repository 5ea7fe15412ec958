#!/usr/bin/env node
// Markdown table of bench/pipeline/run.sh's JSON lines: peer, threads, median ms, faces, ÷ mien.
//   node bench/pipeline/table.mjs build/bench/pipeline.jsonl IMG [NOTES]
import fs from 'node:fs';

const [jsonl, img, notesFile] = process.argv.slice(2);
const rows = fs.readFileSync(jsonl, 'utf8').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));
const mien = new Map(rows.filter((r) => r.peer === 'mien').map((r) => [Number(r.threads), r]));
const mien1 = mien.get(1) ?? [...mien.values()][0];
const fmt = (x, d = 1) => (x == null || Number.isNaN(x) ? '—' : Number(x).toFixed(d));

const lines = [];
lines.push(`# Whole-pipeline speed: ${img}`, '');
const w = rows.find((r) => r.width);
if (w) lines.push(`${w.width}×${w.height} photo, decoded once (decode not timed). Medians (and minima) of repeated runs in one script on one machine; compare the ratios, not the absolute times. Each peer's ratio is to mien at the same thread count. On a shared, loaded machine the minimum is the steadier figure.`, '');
lines.push('| peer | what runs | threads | median ms | min ms | faces | median ÷ mien | min ÷ mien |', '|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ref = r.peer === 'mien' ? null : (mien.get(Number(r.threads)) ?? mien1);
  const vs = ref && Number(ref.threads) !== Number(r.threads) ? ` (vs ${ref.threads} thr)` : '';
  const ratio = ref ? `${fmt(r.median_ms / ref.median_ms, 2)}×${vs}` : (r.peer === 'mien' ? '1' : '—');
  const ratioMin = ref && ref.min_ms && r.min_ms ? `${fmt(r.min_ms / ref.min_ms, 2)}×${vs}` : (r.peer === 'mien' && r.min_ms ? '1' : '—');
  let what = '';
  if (r.peer === 'opencv-haar') what = `Haar frontalface_default, scale 1.1, minNeighbors 5, min 24 px (OpenCV ${r.opencv}); detection only`;
  else if (r.peer.startsWith('faceapi-tfjs')) what = `face-api ${r.faceapi}: SSD MobileNetV1 512 + 68 landmarks + descriptor + expressions (tfjs ${r.tfjs} ${r.backend}${r.simd ? ' simd' : ''})`;
  else if (r.peer === 'mien') what = [r.detector, r.embedder].filter(Boolean).join(' + ') + (r.timed ? ` — ${r.timed}` : '');
  lines.push(`| ${r.peer} | ${what} | ${r.threads} | ${fmt(r.median_ms)} | ${fmt(r.min_ms)} | ${r.faces ?? '—'} | ${ratio} | ${ratioMin} |`);
}
const notes = notesFile && fs.existsSync(notesFile) ? fs.readFileSync(notesFile, 'utf8').trim() : '';
if (notes) lines.push('', ...notes.split('\n').map((n) => `- ${n}`));
// faces counted by eye, from the labelled data beside the checkout when it is there
for (const csv of ['../shared/data/detection/face_counts.csv', '/work/shared/data/detection/face_counts.csv']) {
  if (!fs.existsSync(csv)) continue;
  const base = img.split('/').pop();
  const hit = fs.readFileSync(csv, 'utf8').split('\n').find((l) => l.split(',')[0].split('/').pop() === base);
  if (hit) lines.push('', `Faces in ${base} counted by eye (${csv}): ${hit.split(',')[1]}.`);
  break;
}
lines.push('');
process.stdout.write(`${lines.join('\n')}\n`);
