#!/usr/bin/env node
// Markdown summary of bench/peer/faceapi_eval.mjs outputs (the JSON files in DIR, default build/eval/peer).
//   node bench/peer/summary.mjs [DIR]
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] || 'build/eval/peer';
const runs = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => ({ f, ...JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
const pc = (x) => (x == null ? '—' : `${(100 * x).toFixed(1)} %`);
const ms = (x) => (x == null ? '—' : x.toFixed(0));
const out = [];
const set = (r) => path.basename(r.dataset);
const be = (r) => `${r.backend.backend}${r.backend.simd ? ' simd' : ''}`;

const det = runs.filter((r) => r.mode === 'detect');
if (det.length) {
  out.push('## Detection (face-api SSD MobileNetV1, minConfidence 0.5)', '', '| set | images | faces counted | found | recall | false / 10 images | exact count | median ms | backend |', '|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of det) out.push(`| ${set(r)} | ${r.counts.images} | ${r.counts.faces_counted} | ${r.counts.faces_found} | ${pc(r.metrics.recall)} | ${r.metrics.false_per_10} | ${r.metrics.exact_count_images}/${r.counts.images} | ${ms(r.metrics.median_ms_per_image)} | ${be(r)} |`);
  out.push('');
}
const id = runs.filter((r) => r.mode === 'identity');
if (id.length) {
  out.push('## Identity (face-api ResNet-34 descriptor, Euclidean)', '',
    '| set | people | images | no face → whole image | pairs gen/imp | best-thr acc (thr) | acc @0.6 | TAR @FAR 0.1 % | TAR @FAR 1 % | rank-1 | median ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of id) {
    const v = r.metrics.verification;
    const tar = (t) => (t ? `${pc(t.tar)} (${t.impostors_accepted}/${t.impostors})` : '—');
    out.push(`| ${set(r)} | ${r.counts.people} | ${r.counts.with_descriptor}${r.counts.undecodable ? ` (+${r.counts.undecodable} undecodable)` : ''} | ${r.counts.whole_image_fallbacks} | ${v.genuine_pairs}/${v.impostor_pairs} | ${pc(v.best_threshold_accuracy)} (${v.best_threshold}) | ${pc(v.accuracy_at_0_6)} | ${tar(v.tar_at_far_0_1pct)} | ${tar(v.tar_at_far_1pct)} | ${pc(r.metrics.rank1.accuracy)} (${r.metrics.rank1.queries} q) | ${ms(r.timing.median_ms)} |`);
  }
  out.push('');
  for (const r of id) {
    for (const [l, p] of Object.entries(r.metrics.repo_pairs || {})) {
      out.push(`- ${set(r)} ${l}: ${p.evaluated}/${p.pairs} pairs (${p.same} same, ${p.different} different; ${p.skipped_no_descriptor} skipped: no descriptor), accuracy @0.6 ${pc(p.accuracy_at_0_6)}, best threshold ${pc(p.best_threshold_accuracy)} (${p.best_threshold}), at the all-pairs best threshold ${pc(p.accuracy_at_all_pairs_best_threshold)}`);
    }
  }
  out.push('');
}
const ex = runs.filter((r) => r.mode === 'expression');
for (const r of ex) {
  const m = r.metrics;
  out.push(`## Expression (face-api faceExpressionNet on whole crops): ${set(r)}`, '', `${r.counts.images} images${r.counts.limit_per_class ? ` (limit ${r.counts.limit_per_class} per class)` : ''}: accuracy ${pc(m.accuracy)}, mean class recall ${pc(m.mean_class_recall)}, median ${r.timing.median_ms} ms/image (${be(r)}).`, '');
  const L = m.confusion.labels;
  out.push(`| true \\ predicted | ${L.join(' | ')} | recall |`, `|---|${L.map(() => '---:').join('|')}|---:|`);
  m.confusion.matrix.forEach((row, i) => { if (m.per_class[L[i]]) out.push(`| ${L[i]} | ${row.join(' | ')} | ${pc(m.per_class[L[i]].recall)} |`); });
  out.push('');
}
process.stdout.write(`${out.join('\n')}\n`);
