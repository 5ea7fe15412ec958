#!/usr/bin/env node
// Writes docs/accuracy.md (to stdout) from the JSON summaries of `mien eval` (DIR/mien/*.json) and of the
// face-api peer (DIR/peer/*.json, bench/peer/faceapi_eval.mjs), produced by scripts/eval.sh.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] || 'build/eval';
const only = process.argv[3] === '--section' ? process.argv[4] : null; // print one section (scripts/eval.sh PARTS=)
const read = (side, name) => {
  const f = path.join(dir, side, `${name}.json`);
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null;
};
const pct = (x) => (x == null || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)} %`);
const num = (x, d = 3) => (x == null ? '—' : Number(x).toFixed(d));
const out = [];
const p = (s = '') => out.push(s);

p('# Accuracy on real, labelled photos');
p();
p('Written by `make eval` (scripts/eval.sh + scripts/accuracy_report.mjs) from the labelled data in `../shared/data`');
p('(never part of this repository). mien runs `build/mien eval …`; the peer is the models\' own library, face-api 1.7.15 on');
p('TensorFlow.js 4.22 (wasm backend) in Node, `bench/peer/faceapi_eval.mjs`, on the same files with the same metric');
p('definitions. Numbers are regenerated on every run; the commands are at the end.');
p();

// ---- detection
const md = read('mien', 'detect');
const pd = read('peer', 'detect');
p('## Detection (`detection/face_counts.csv`)');
p();
p('Recall = Σ min(found, counted) / Σ counted; false detections = 10 · Σ max(found − counted, 0) / pictures.');
p('Targets: recall ≥ 95 %, ≤ 1 false detection per 10 pictures.');
p();
p('| | detector | pictures | faces counted | recall | false / 10 pictures | median ms / picture |');
p('|---|---|---:|---:|---:|---:|---:|');
if (md) p(`| mien | ${md.detector} (whole picture zoomed out + one large grid, weighted NMS) | ${md.images} | ${md.counted} | ${pct(md.recall)} | ${num(md.false_per_10, 2)} | ${num(md.median_ms, 1)} |`);
if (pd) p(`| face-api | ssd_mobilenetv1 (minConfidence 0.5) | ${pd.counts.images} | ${pd.counts.faces_counted} | ${pct(pd.metrics.recall)} | ${num(pd.metrics.false_per_10, 2)} | ${num(pd.metrics.median_ms_per_image, 1)} |`);
if (md) {
  p();
  p('Per picture (mien found / counted): ' + md.images_detail.map((i) => `${i.file} ${i.found}/${i.counted}`).join(', ') + '.');
}
p();

// ---- identity
p('## Recognition (`identity/<set>/<person>/<picture>`)');
p();
p('All pairs of pictures with an embedding: best-threshold accuracy (threshold fitted on the same pairs), balanced');
p('accuracy (TAR+TRR)/2 at the best threshold (for mien; for face-api 1 − EER, its nearest equivalent), TAR at FAR 0.1 % and');
p('1 %, and rank-1 identification with the first picture (by name) of each person enrolled. Where a picture has no');
p('detectable face (tight crops), both sides use the whole picture as the face.');
p();
p('| set | side | embedder | pictures | whole picture as face | accuracy (best thr.) | balanced | TAR@FAR 0.1 % | TAR@FAR 1 % | rank-1 |');
p('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
const sets = fs.existsSync(path.join(dir, 'mien'))
  ? fs.readdirSync(path.join(dir, 'mien')).filter((f) => f.startsWith('identity_')).map((f) => f.slice(0, -5)).sort()
  : [];
const pairLists = [];
for (const s of sets) {
  const m = read('mien', s);
  const q = read('peer', s);
  const name = s.slice('identity_'.length);
  if (m) {
    const a = m.all_pairs;
    p(`| ${name} | mien | ${m.embedder} | ${m.images - m.no_embedding} | ${m.whole_picture_as_face} | ${pct(a.accuracy_best)} | ${pct(a.balanced_accuracy_best)} | ${pct(a['tar_at_far_0.1%'])} | ${pct(a['tar_at_far_1%'])} | ${pct(m.rank1.accuracy)} |`);
    for (const [list, r] of Object.entries(m.pair_lists || {})) pairLists.push([name, list, 'mien', r.pairs, r.accuracy_best, r.accuracy_at_default, r.default_threshold]);
  }
  if (q) {
    const v = q.metrics.verification;
    p(`| ${name} | face-api | face_recognition (dlib) | ${q.counts.with_descriptor} | ${q.counts.whole_image_fallbacks} | ${pct(v.best_threshold_accuracy)} | ${v.eer ? pct(1 - v.eer.eer) : '—'} | ${pct(v.tar_at_far_0_1pct?.tar)} | ${pct(v.tar_at_far_1pct?.tar)} | ${pct(q.metrics.rank1?.accuracy)} |`);
    for (const [list, r] of Object.entries(q.metrics.repo_pairs || {})) pairLists.push([name, list, 'face-api', r.evaluated, r.best_threshold_accuracy, r.accuracy_at_0_6, 0.6]);
  }
}
p();
p('The default threshold (`face_default_threshold`, used by `identify`, `compare` and the gallery) is the cosine');
p('similarity at which 0.1 % of LFW\'s 277,500 different-person pairs are accepted. Its false-accept and false-reject');
p('rates on each set:');
p();
p('| set | embedder | threshold | false accepts | false rejects |');
p('|---|---|---:|---:|---:|');
for (const s of sets) {
  const m = read('mien', s);
  if (m) p(`| ${s.slice('identity_'.length)} | ${m.embedder} | ${num(m.all_pairs.default_threshold, 3)} | ${pct(m.all_pairs.far_at_default)} | ${pct(m.all_pairs.frr_at_default)} |`);
}
if (pairLists.length) {
  p();
  p('The publishers\' own pair lists (deepface `repo_pairs_*.csv`), target ≥ 97 %:');
  p();
  p('| set | list | side | pairs used | accuracy (best thr.) | accuracy at the default threshold |');
  p('|---|---|---|---:|---:|---:|');
  for (const [set, list, side, n, best, def, t] of pairLists) p(`| ${set} | ${list} | ${side} | ${n} | ${pct(best)} | ${pct(def)} (${num(t, 3)}) |`);
}
p();

// ---- embedders compared
function embedderSection() {
  const files = fs.existsSync(path.join(dir, 'mien')) ? fs.readdirSync(path.join(dir, 'mien')).filter((f) => f.startsWith('embed__')) : [];
  if (!files.length) return;
  const runs = files.map((f) => {
    const [, , set, cond] = f.slice(0, -5).split('__');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'mien', f), 'utf8'));
    return { embedder: m.embedder, set, cond, m };
  });
  const ORDER = ['face_recognition', 'face_recognition-v2', 'faceres', 'faceres-deep', 'mobileface', 'mobilefacenet'];
  const rank = (e) => (ORDER.includes(e) ? ORDER.indexOf(e) : ORDER.length);
  const embedders = [...new Set(runs.map((r) => r.embedder))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const get = (e, set, cond) => runs.find((r) => r.embedder === e && r.set === set && r.cond === cond)?.m;
  // cost per face: the networks each part runs (a mirrored part runs its network twice), one thread
  const costFile = path.join(dir, 'mien', 'embedder_cost.jsonl');
  const ms = {};
  if (fs.existsSync(costFile))
    for (const line of fs.readFileSync(costFile, 'utf8').split('\n').filter(Boolean)) {
      const r = JSON.parse(line);
      if (r.threads === 1) ms[r.model] = r.median_ms;
    }
  const partCost = (part) => {
    const name = part.split('*')[0];
    const model = name === 'face_recognition-v2' ? 'face_recognition' : name;
    return ms[model] == null ? null : ms[model] * (name === 'face_recognition-v2' ? 2 : 1);
  };
  const cost = (e) => {
    const parts = e.split('+').map(partCost);
    return parts.some((c) => c == null) ? null : parts.reduce((a, b) => a + b, 0);
  };
  const base = cost('face_recognition');
  p('## Embedders compared');
  p();
  p('Every identity embedder mien runs (`MIEN_EMBEDDER`), and fusions: `a+b` puts the normalised embeddings side by side');
  p('(each scaled by the square root of its weight, `a*10+b`), so the fused cosine is the weighted mean of the parts\'');
  p('cosines. `face_recognition-v2` is face-api\'s dlib network on the same chip turned to level the eyes, averaged with');
  p('its mirror image. Same protocol as above (all pairs); TAR at FAR 0.01 % needs 10,000 different-person pairs per');
  p('accepted one, so it is shown for LFW only (277,500 such pairs). Cost: the networks\' median time per face at one');
  p('thread (`mien bench models`), beside `face_recognition`\'s.');
  p();
  p('| embedder | LFW accuracy (best thr.) | LFW balanced | LFW TAR@FAR 0.01 % | LFW TAR@FAR 0.1 % | LFW TAR@FAR 1 % | LFW rank-1 | threshold at FAR 0.1 % | other sets: balanced (deepface, dlib_johns, face-api.js_bbt, face_recognition) | ms per face | × face_recognition |');
  p('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|');
  for (const e of embedders) {
    const l = get(e, 'lfw', 'photo');
    if (!l) continue;
    const a = l.all_pairs;
    const others = ['deepface', 'dlib_johns', 'face-api.js_bbt', 'face_recognition'].map((s) => pct(get(e, s, 'photo')?.all_pairs.balanced_accuracy_best)).join(', ');
    const c = cost(e);
    p(`| \`${e}\` | ${pct(a.accuracy_best)} | ${pct(a.balanced_accuracy_best)} | ${pct(a['tar_at_far_0.01%'])} | ${pct(a['tar_at_far_0.1%'])} | ${pct(a['tar_at_far_1%'])} | ${pct(l.rank1.accuracy)} | ${num(a['threshold_at_far_0.1%'], 3)} | ${others} | ${c == null ? '—' : c.toFixed(2)} | ${c == null || !base ? '—' : (c / base).toFixed(1) + '×'} |`);
  }
  p();
  p('Hard faces: the same pictures scaled down so that the face is 60, 40 or 32 px tall (`--face-px`, halving steps then');
  p('bilinear, as a distant camera sees people), and colour pictures made grey (`--grey`). Balanced accuracy, and TAR at');
  p('FAR 0.1 % where the set has enough pairs for it (LFW):');
  p();
  p('| embedder | LFW | LFW 60 px | LFW 40 px | LFW 32 px | LFW TAR@0.1 % | 60 px | 40 px | 32 px | deepface | deepface 60 px | deepface 40 px | deepface 32 px | deepface grey | dlib_johns grey | face_recognition grey |');
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const e of embedders) {
    if (!get(e, 'lfw', 'px60')) continue;
    const b = (s, c) => pct(get(e, s, c)?.all_pairs.balanced_accuracy_best);
    const t = (s, c) => pct(get(e, s, c)?.all_pairs['tar_at_far_0.1%']);
    p(`| \`${e}\` | ${b('lfw', 'photo')} | ${b('lfw', 'px60')} | ${b('lfw', 'px40')} | ${b('lfw', 'px32')} | ${t('lfw', 'photo')} | ${t('lfw', 'px60')} | ${t('lfw', 'px40')} | ${t('lfw', 'px32')} | ${b('deepface', 'photo')} | ${b('deepface', 'px60')} | ${b('deepface', 'px40')} | ${b('deepface', 'px32')} | ${b('deepface', 'grey')} | ${b('dlib_johns', 'grey')} | ${b('face_recognition', 'grey')} |`);
  }
  p();
  p('What shrinking does at the default threshold (calibrated at 0.1 % false accepts on full-size LFW): LFW\'s false accepts');
  p('and false rejects per face size. This is where `min_face` (40 px: smaller faces get no embedding, so their visit');
  p('stays unknown rather than guessed) comes from:');
  p();
  p('| embedder | threshold | false accepts: full | 60 px | 40 px | 32 px | false rejects: full | 60 px | 40 px | 32 px |');
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const e of embedders) {
    if (!get(e, 'lfw', 'px40')) continue;
    const r = (c, k) => {
      const v = get(e, 'lfw', c)?.all_pairs[k];
      return v == null ? '—' : `${(100 * v).toFixed(k === 'far_at_default' ? 2 : 1)} %`;
    };
    p(`| \`${e}\` | ${num(get(e, 'lfw', 'px40').all_pairs.default_threshold, 3)} | ${['photo', 'px60', 'px40', 'px32'].map((c) => r(c, 'far_at_default')).join(' | ')} | ${['photo', 'px60', 'px40', 'px32'].map((c) => r(c, 'frr_at_default')).join(' | ')} |`);
  }
  p();
  const withTemplates = embedders.filter((e) => get(e, 'lfw', 'photo')?.templates?.max);
  if (withTemplates.length) {
    const k = get(withTemplates[0], 'lfw', 'photo').templates.k;
    p(`Templates: on LFW, each person enrolled with their first ${k} pictures and every later picture a query, scored`);
    p('against a person by the best of their faces (`max`, what the gallery does), by the normalised mean of their');
    p('embeddings (`mean`), or by the mean weighted by each face\'s quality (`quality_mean`: small or blurred faces count');
    p('less). Rank-1 over the 75 people, and TAR at FAR 0.1 % and balanced accuracy over every (query, person) pair:');
    p();
    p('| embedder | template | rank-1 | balanced | TAR@FAR 0.1 % | TAR@FAR 1 % | pairs |');
    p('|---|---|---:|---:|---:|---:|---:|');
    for (const e of withTemplates)
      for (const [name, m] of Object.entries(get(e, 'lfw', 'photo').templates).filter(([n]) => n !== 'k'))
        p(`| \`${e}\` | ${name} | ${pct(m.rank1)} | ${pct(m.balanced_accuracy_best)} | ${pct(m['tar_at_far_0.1%'])} | ${pct(m['tar_at_far_1%'])} | ${m.pairs} |`);
    p();
  }
}
// ---- grouping unknown faces (mien eval cluster, mien eval negatives)
const f05 = (pr, r) => (pr + r > 0 ? (1.25 * pr * r) / (0.25 * pr + r) : 0);
// The calibration rule (docs/accuracy.md, "Grouping unknown faces"): on the tuning halves of every set, the mean over
// sets of F0.5 of the online grouping (precision weighted above recall); the best threshold of the sweep that is
// stricter than recognition's (ties: the stricter).
function calibrate(runs) {
  const sweeps = runs.map((m) => m.halves.tune.sweep);
  const rec = runs[0].recognition_threshold;
  let best = null;
  sweeps[0].forEach((point, i) => {
    const t = point.threshold;
    if (t <= rec + 1e-6) return;
    const score = sweeps.reduce((a, sw) => a + f05(sw[i].online.pair_precision, sw[i].online.pair_recall), 0) / sweeps.length;
    if (!best || score >= best.score - 1e-12) best = { t, score };
  });
  // the unconstrained best offline pair F (mean over sets)
  let free = null;
  sweeps[0].forEach((point, i) => {
    const f = sweeps.reduce((a, sw) => a + sw[i].pair_f, 0) / sweeps.length;
    if (!free || f > free.f + 1e-12) free = { t: point.threshold, f };
  });
  return { rec, pick: best, free };
}
function clusterSection() {
  const files = fs.existsSync(path.join(dir, 'mien')) ? fs.readdirSync(path.join(dir, 'mien')) : [];
  const runs = files.filter((f) => f.startsWith('cluster__')).map((f) => {
    const [, embedder, set] = f.slice(0, -5).split('__');
    return { embedder, set, m: JSON.parse(fs.readFileSync(path.join(dir, 'mien', f), 'utf8')) };
  });
  if (!runs.length) return;
  const SETS = ['lfw', 'deepface', 'dlib_johns', 'face-api.js_bbt', 'face_recognition'].filter((s) => runs.some((r) => r.set === s));
  const ORDER = ['face_recognition-v2', 'face_recognition', 'faceres'];
  const embedders = [...new Set(runs.map((r) => r.embedder))].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const get = (e, set) => runs.find((r) => r.embedder === e && r.set === set)?.m;
  const def = embedders[0];
  const cal = {};
  for (const e of embedders) cal[e] = calibrate(SETS.map((s) => get(e, s)).filter(Boolean));
  const inForce = (e) => get(e, SETS[0]).threshold;
  p('## Grouping unknown faces');
  p();
  p('`mien cluster` and the unknown visitors of `mien serve` group faces by average linkage on cosine similarity');
  p('(src/face/cluster.h): a face joins the identity whose faces it is closest to on average when that mean reaches the');
  p('threshold, and identities whose faces are that close on average merge. `mien eval cluster DIR` takes the largest face');
  p('of every picture of DIR/<person>/ (as `mien eval identity` does) and scores two groupings against the folders:');
  p('*offline*, what `mien cluster` does (every face starts alone, then the closest identities merge until none reaches');
  p('the threshold: the result does not depend on the order of the faces), and *online*, what the server does with');
  p('visits (faces arrive in a shuffled order, each joins the nearest identity or starts one, then one merge pass; the');
  p('mean of 5 orders). Pairwise precision = pairs of faces grouped together that are one person / pairs grouped');
  p('together; recall = the same / pairs of faces of one person; F their harmonic mean. BCubed (per face: the share of');
  p('its group that is its person, and of its person in its group, averaged) is given beside it.');
  p();
  p('The threshold is tuned on half of the people and reported on the other half: each set\'s people (folder names)');
  p('sorted by the FNV-1a 32-bit hash of their name, the first half (rounded up) is `--split tune`, the rest');
  p('`--split held`; the halves never change with the pictures. Tuning reads the tuning halves of all five sets (each set');
  p('clustered on its own: deepface and LFW share two people) and picks, among the sweep\'s thresholds (steps of 0.0025)');
  p('stricter than recognition\'s, the one with the best mean over sets of the online grouping\'s F0.5 (precision weighted');
  p('above recall: a stranger merged into someone else\'s identity is worse than one identity split in two).');
  p();
  p('| embedder | recognition threshold | best mean F on the tuning halves, any threshold | the rule\'s pick (mean online F0.5) | in force (`face_cluster_default_threshold`) |');
  p('|---|---:|---|---|---:|');
  for (const e of embedders) {
    const c = cal[e];
    p(`| \`${e}\` | ${num(c.rec, 4)} | ${num(c.free.t, 4)} (F ${num(c.free.f)}) | ${c.pick ? `${num(c.pick.t, 4)} (${num(c.pick.score)})` : '—'} | ${num(inForce(e), 4)} |`);
  }
  p();
  {
    const c = cal[def], lh = get(def, 'lfw');
    const at = (m, h, t) => m?.halves[h].sweep.find((x) => Math.abs(x.threshold - t) < 1e-6);
    const recPt = lh && at(lh, 'tune', Math.round(c.rec * 400) / 400);
    if (c.pick && lh) {
      const held = at(lh, 'held', inForce(def));
      p(`For \`${def}\`, the default, the tuning halves\' mean pair F is best at ${num(c.free.t, 4)} (${num(c.free.f)}), looser than`);
      p(`recognition\'s ${num(c.rec, 3)}` + (recPt ? ` (LFW\'s tuning half: ${num(recPt.pair_f)} at ${num(recPt.threshold, 4)})` : '') +
        ', and falls steadily above it: no threshold stricter than');
      p(`recognition\'s improves F, and the rule takes the first step above it, ${num(c.pick.t, 4)}, which is what`);
      p(`\`face_cluster_default_threshold\` returns (${num(inForce(def), 4)}).` +
        (held ? ` On LFW\'s held-out half it groups with pair precision ${num(held.pair_precision)} and recall ${num(held.pair_recall)} (online: ${num(held.online.pair_precision)} and ${num(held.online.pair_recall)}).` : ''));
      p('Joining on the *mean* similarity to an identity\'s faces is itself stricter than recognition, which needs only the');
      p('best face to reach its threshold. The sweep below shows what a stricter threshold buys (the online grouping\'s last');
      p('points of precision) and costs (recall, and more identities per person).');
      p();
    }
  }
  p('Rank-Order clustering (Otto, Wang and Jain) reports pairwise F 0.87 on LFW: on all 13,233 pictures of its 5,749');
  p('people, most of them seen once. The LFW set here is 75 people with 10 pictures each, an easier task (fewer people');
  p('to confuse, none seen once), so the same metric but not the same test.');
  p();
  p('At the threshold in force, per set: the held-out half (never tuned on), then the tuning half and all people. Target: pair F');
  p('≥ 0.90 on LFW, deepface, dlib_johns and face-api.js_bbt.');
  p();
  p('| embedder | set | people (held) | faces (held) | held: pair P | pair R | pair F | BCubed F | online F (worst of 5) | clusters / people | singletons | tune: pair F | all: pair F |');
  p('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const e of embedders)
    for (const s of SETS) {
      const m = get(e, s);
      if (!m) continue;
      const h = m.halves.held, a = h.at_threshold;
      p(`| \`${e}\` | ${s} | ${h.people} | ${h.faces} | ${num(a.pair_precision)} | ${num(a.pair_recall)} | ${num(a.pair_f)} | ${num(a.bcubed_f)} | ${num(a.online.pair_f)} (${num(a.online.pair_f_worst)}) | ${a.clusters} / ${a.people} | ${a.singletons} | ${num(m.halves.tune.at_threshold.pair_f)} | ${num(m.at_threshold.pair_f)} |`);
    }
  p();
  const lfw = get(def, 'lfw');
  if (lfw?.sweep) {
    const rec = lfw.recognition_threshold;
    p(`The sweep for \`${def}\` around its recognition threshold (${num(rec, 3)}): offline pair F per half, the tuning`);
    p('criterion, and LFW\'s precision and recall (the other sets are at 1.000 through most of this range):');
    p();
    p(`| threshold | tune: mean online F0.5 | tune: mean F | ${SETS.map((s) => `held ${s} F`).join(' | ')} | held LFW P | held LFW R | held LFW online F | all LFW F | all LFW clusters |`);
    p(`|---:|---:|---:|${SETS.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|`);
    lfw.halves.tune.sweep.forEach((pt, i) => {
      if (pt.threshold < rec - 0.0151 || pt.threshold > rec + 0.0201) return;
      const per = SETS.map((s) => get(def, s));
      const crit = per.reduce((a, m) => a + f05(m.halves.tune.sweep[i].online.pair_precision, m.halves.tune.sweep[i].online.pair_recall), 0) / per.length;
      const tf = per.reduce((a, m) => a + m.halves.tune.sweep[i].pair_f, 0) / per.length;
      const hl = lfw.halves.held.sweep[i];
      const mark = Math.abs(pt.threshold - inForce(def)) < 1e-6 ? ' **(in force)**' : Math.abs(pt.threshold - rec) < 0.00126 && pt.threshold < rec ? ' (≈ recognition)' : '';
      p(`| ${num(pt.threshold, 4)}${mark} | ${num(crit)} | ${num(tf)} | ${per.map((m) => num(m.halves.held.sweep[i].pair_f)).join(' | ')} | ${num(hl.pair_precision)} | ${num(hl.pair_recall)} | ${num(hl.online.pair_f)} | ${num(lfw.sweep[i].pair_f)} | ${lfw.sweep[i].clusters} |`);
    });
    p();
  }
  // negatives
  const negs = files.filter((f) => f.startsWith('negatives__')).map((f) => JSON.parse(fs.readFileSync(path.join(dir, 'mien', f), 'utf8')));
  if (negs.length) {
    const e = negs[0].embedder;
    p('### "Not P": negatives');
    p();
    p('`mien eval negatives DIR` measures the correction of the issue\'s "not P" (a later face closer to P\'s negatives than');
    p('to P\'s faces is not named P). The tuning half of the people (the split above) is enrolled with their first 3 pictures');
    p('each; the held-out half are strangers, never enrolled. Every other picture is a query, and each person\'s queries are');
    p('split in two by the hash of their file name: the first half are corrections, the rest held out. A correction named as');
    p('somebody it is not becomes a negative of that person (what an operator\'s "not P" does). Held-out queries are then');
    p('named as the gallery names them (the enrolled person with the best face at or above the threshold) without and with');
    p('the rule: P is named only when the best of P\'s faces reaches the threshold and is closer than P\'s closest negative.');
    p('False accepts: held-out queries of somebody else named as a person who got negatives, over all such (query, person)');
    p('trials; "returning": those whose person gave that person a negative (the same stranger seen again). Genuine: held-out');
    p('queries of the people who got negatives, named right. The rule passes P over and names the next person whose best');
    p('face reaches the threshold, as `gallery_identify` does; the last columns leave the face unnamed instead when the');
    p(`nearest person is passed over ("nearest only"). Embedder \`${e}\`.`);
    p();
    p('| set | threshold | enrolled | negatives (people) | false accepts: before → after (trials) | returning: before → after (trials) | genuine named: before → after | all held-out queries misnamed: before → after | all genuine named: before → after | nearest only: misnamed | nearest only: genuine named |');
    p('|---|---:|---:|---:|---|---|---|---|---|---|---|');
    const ratio = (a, b) => `${a} / ${b}`;
    negs.sort((a, b) => SETS.indexOf(path.basename(a.dataset)) - SETS.indexOf(path.basename(b.dataset)) || a.threshold - b.threshold);
    for (const n of negs) {
      const b = n.before, a = n.after;
      p(`| ${path.basename(n.dataset)} | ${num(n.threshold, 3)} | ${n.people_enrolled} | ${n.negatives} (${n.people_with_negatives}) | ${b.false_accepts} → ${a.false_accepts} (${b.impostor_trials}) | ${b.returning_false_accepts} → ${a.returning_false_accepts} (${b.returning_trials}) | ${ratio(b.genuine_named, b.genuine)} → ${ratio(a.genuine_named, a.genuine)} | ${ratio(b.all_misnamed, b.all_queries)} → ${ratio(a.all_misnamed, a.all_queries)} | ${ratio(b.all_genuine_named, b.all_genuine)} → ${ratio(a.all_genuine_named, a.all_genuine)} | ${n.after_nearest_only ? ratio(n.after_nearest_only.all_misnamed, n.after_nearest_only.all_queries) : '—'} | ${n.after_nearest_only ? ratio(n.after_nearest_only.all_genuine_named, n.after_nearest_only.all_genuine) : '—'} |`);
    }
    p();
    const lfwNegs = negs.filter((n) => path.basename(n.dataset) === 'lfw' && n.negatives > 0);
    if (lfwNegs.length) {
      p('On LFW, ' + lfwNegs.map((n) => `at ${num(n.threshold, 3)} the ${n.negatives} negatives of ${n.people_with_negatives} people cut those people's false accepts from ${pct(n.before.far)} to ${pct(n.after.far)} of the trials (the same strangers seen again: ${n.before.returning_false_accepts} → ${n.after.returning_false_accepts} of ${n.before.returning_trials}), and their genuine faces were named ${n.before.genuine_named} → ${n.after.genuine_named} times of ${n.before.genuine}`).join('; ') + '.');
      const loose = lfwNegs.find((n) => n.after_nearest_only && n.after_nearest_only.all_misnamed < n.after.all_misnamed);
      p('What remains are mostly other strangers, whom no correction has met yet' +
        (loose ? `, and faces passed over for one person and then named as the next: at ${num(loose.threshold, 3)}, leaving a face unnamed when its nearest person is passed over misnames ${loose.after_nearest_only.all_misnamed} held-out queries of ${loose.after.all_queries} instead of ${loose.after.all_misnamed}, with the same genuine faces named (${loose.after_nearest_only.all_genuine_named} of ${loose.after_nearest_only.all_genuine})` : '') + '.');
      p('The small sets give the gallery few or no false accepts to correct at these thresholds, so they say little either');
      p('way.');
      p();
    }
  }
}

if (only === 'embedders' || only === 'cluster') {
  out.length = 0; // only this section
  (only === 'embedders' ? embedderSection : clusterSection)();
  process.stdout.write(out.join('\n') + '\n');
  process.exit(0);
}
embedderSection();
clusterSection();

// ---- expression
const order = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
const peerName = { neutral: 'neutral', happy: 'happy', sad: 'sad', angry: 'angry', fearful: 'fear', disgusted: 'disgust', surprised: 'surprise' };
const me = read('mien', 'expression_fer2013');
const pe = read('peer', 'expression_fer2013');
const train = (() => {
  const f = 'models/mien/expression/model.json';
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')).userDefinedMetadata || {} : {};
})();
// mien's rows: [eval name, MIEN_EXPRESSION, what it is]
const mienRows = [
  ['expression_fer2013', 'mien+average', 'mien\'s own network averaged with the two npm models, mirrored: the default'],
  ['expression_fer2013_mien', 'mien', 'mien\'s own network (train/expression) alone, mirrored'],
  ['expression_fer2013_average', 'average', 'emotion + face_expression, mirrored (the default before)'],
  ['expression_fer2013_emotion', 'emotion', 'emotion alone, mirrored'],
  ['expression_fer2013_face_expression', 'face_expression', 'face_expression alone, mirrored'],
];
const row = (side, label, m) => p(`| ${side} | ${label} | ${m.images} | ${pct(m.accuracy)} | ` + order.map((c) => pct(m.per_class_recall[c])).join(' | ') + ' |');
p('## Expression (`expression/fer2013`, 48-px grey face crops)');
p();
p('Each picture is one face crop (no detection). `expression/fer2013` is half of FER2013\'s PrivateTest split: the test');
p('set, never trained, tuned or selected on. mien\'s own network is trained on FER2013\'s Training split with model selection');
p('and early stopping on its PublicTest split (`fer2013_val`), `make train-expression`');
p('([models/mien/expression/PROVENANCE.md](../models/mien/expression/PROVENANCE.md)). Targets: ≥ 66 % (mini-Xception\'s');
p('published figure on the whole PrivateTest split), aiming at 70 %.');
p();
p('| side | model (`MIEN_EXPRESSION`) | pictures | accuracy | ' + order.join(' | ') + ' |');
p('|---|---|---:|---:|' + '---:|'.repeat(7));
for (const [name, x, label] of mienRows) {
  const m = read('mien', name);
  if (m) row('mien', `${label} (\`${x}\`)`, m);
}
if (pe) p(`| face-api | face_expression_model | ${pe.counts.images} | ${pct(pe.metrics.accuracy)} | ` + order.map((c) => pct(pe.metrics.per_class[peerName[c]]?.recall)).join(' | ') + ' |');
const ph = read('peer', 'emotion_fer2013');
if (ph) {
  p(`| TF.js | human emotion, as human prepares it | ${ph.images} | ${pct(ph.accuracy)} | ` + order.map((c) => pct(ph.per_class_recall[peerName[c]])).join(' | ') + ' |');
  p(`| TF.js | human emotion, with its mirror image | ${ph.images} | ${pct(ph.accuracy_mirrored)} | ` + order.map(() => '').join(' | ') + ' |');
}
p();
p('Neither npm model reaches the target in its own library: TF.js runs human\'s `emotion` (oarriaga\'s network, whose');
p('66 % was measured on its own validation split) at the accuracy in the TF.js rows, and face-api\'s');
p('`face_expression_model` at the face-api row; averaged (`average`, the default until mien trained its own) they give the');
p('`average` row. mien\'s own network is a compact VGG on 48² grey (' + (train.stages ? train.stages.map((s) => `${s[1]}×${s[0]}`).join(', ') : 'see PROVENANCE.md') + ' 3×3');
p('convolutions, max-pooling between stages, global average pooling, one dense layer).');
const valRows = [['mien', 'mien'], ['mien+average', 'mien+average'], ['mien+emotion', 'mien+emotion'], ['mien+face_expression', 'mien+face_expression'], ['average', 'average']]
  .map(([n, x]) => [x, read('mien', `expression_val_${n}`)]).filter(([, m]) => m);
if (valRows.length) {
  p();
  p('The default was chosen on the validation split (`fer2013_val`, FER2013 PublicTest) and on face-api.js\'s photos (below),');
  p('not on the test half: `mien` alone and `mien+average` are within 0.3 points of each other on the validation split, but');
  p('on whole colour photos, which look more like what a camera gives than FER2013\'s tight grey crops do, `mien` alone is');
  p('right on 3 of 9 and `mien+average` on 6 (the npm models: 5). The issue allows no drop there, so the default is');
  p('`mien+average`, the best on the validation split of the choices without that drop. Both were measured once on the');
  p('test half after the choice (above): `mien` alone would have scored 1.7 points more there.');
  p();
  p('| `MIEN_EXPRESSION` | pictures | accuracy on fer2013_val |');
  p('|---|---:|---:|');
  for (const [x, m] of valRows) p(`| \`${x}\` | ${m.images} | ${pct(m.accuracy)} |`);
}
const matrix = (m) => {
  p();
  p('| | ' + order.join(' | ') + ' |');
  p('|---|' + '---:|'.repeat(7));
  m.confusion_rows_truth_cols_predicted.forEach((r, i) => p(`| ${order[i]} | ${r.join(' | ')} |`));
};
const alone = read('mien', 'expression_fer2013_mien');
if (alone) {
  p();
  p('The confusion matrix of mien\'s network alone (`mien`; rows: truth, columns: predicted, order ' + order.join(', ') + '):');
  matrix(alone);
}
if (me) {
  p();
  p('And of the default (`mien+average`):');
  matrix(me);
}
const photoRows = [['expression_faceapi', '`mien+average` (the default)'], ['expression_faceapi_mien', '`mien`'], ['expression_faceapi_average', '`average`']]
  .map(([n, x]) => [x, read('mien', n)]).filter(([, m]) => m);
if (photoRows.length) {
  p();
  p('face-api.js\'s expression photos (`expression/face-api.js`, 9 colour photos, the whole photo as the face):');
  p();
  p('| `MIEN_EXPRESSION` | pictures | correct | accuracy |');
  p('|---|---:|---:|---:|');
  for (const [x, m] of photoRows) p(`| ${x} | ${m.images} | ${m.correct} | ${pct(m.accuracy)} |`);
}
if (me) {
  p();
  p(`Not yet reached: the 66 % target. The default gives ${pct(me.accuracy)}` + (alone ? `, mien's network alone ${pct(alone.accuracy)}` : '') +
    ' (12 epochs on 2 busy cores; a longer schedule or a wider network is the next step), against ' +
    (read('mien', 'expression_fer2013_average') ? pct(read('mien', 'expression_fer2013_average').accuracy) : 'the') +
    ' for the npm models averaged. `MIEN_EXPRESSION=average` keeps the old behaviour, `mien` runs the network alone.');
}
p();
p('## Commands');
p();
p('```sh');
p('make eval                                   # everything below, then this page');
p('build/mien eval detect ../shared/data/detection');
p('build/mien eval identity ../shared/data/identity/lfw');
p('build/mien eval identity ../shared/data/identity/lfw --embedder face_recognition-v2 --face-px 40   # a small-face run');
p('PARTS=embedders bash scripts/eval.sh         # only the embedder comparison (prints its section)');
p('build/mien eval cluster ../shared/data/identity/lfw --sweep        # grouping: both halves, a sweep of thresholds');
p('build/mien eval negatives ../shared/data/identity/lfw              # "not P": false accepts before and after');
p('PARTS=cluster bash scripts/eval.sh           # only the grouping and negatives (prints its section)');
p('build/mien eval expression ../shared/data/expression/fer2013                       # MIEN_EXPRESSION=average etc.');
p('make train-expression                       # re-trains models/mien/expression (models/mien/expression/PROVENANCE.md)');
p('node bench/peer/faceapi_eval.mjs --mode identity ../shared/data/identity/lfw   # the face-api peer');
p('node bench/peer/human_emotion_eval.mjs ../shared/data/expression/fer2013          # human emotion on TF.js');
p('```');
process.stdout.write(out.join('\n') + '\n');
