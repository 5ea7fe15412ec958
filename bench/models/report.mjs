#!/usr/bin/env node
// bench/models/report.mjs — joins `mien bench models --json` lines with the TF.js-wasm peer's lines
// (bench/models/peer.mjs) into one table: stdout as aligned text, --md FILE as markdown.
//
//   node bench/models/report.mjs --mien build/bench/mien.jsonl --peer build/bench/peer.jsonl \
//        [--md build/bench/models.md] [--peak-json build/bench/peak.json] [--peak GFLOPS]
//
// "% of peak" divides mien's 1-thread GFLOP/s by this core's FP32 FMA peak: --peak if given, else the larger
// of avx512_gflops / avx2_gflops in --peak-json (bench/peak/peak.c's output), else 117 GFLOP/s, the figure
// in INFERENCE-NOTES.md. The header names both the measured peak and that figure.
//
// mien lines: {"model","backend":"mien","threads","input":[...],"mmac","median_ms","p10_ms","p90_ms","gflops",...}
// peer lines: {"model","backend":"wasm","median_ms",...}; other lines (and non-JSON) are ignored.
import fs from 'node:fs';
import path from 'node:path';

function parseArgs(argv) {
  const o = { mien: 'build/bench/mien.jsonl', peer: 'build/bench/peer.jsonl', md: '', peak: 0, 'peak-json': '' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in o)) throw new Error(`unknown option ${argv[i]}`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    o[key] = key === 'peak' ? Number(v) : v;
  }
  return o;
}

function readLines(file) {
  if (!file || !fs.existsSync(file)) return [];
  const out = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try { out.push(JSON.parse(t)); } catch { /* a stray log line */ }
  }
  return out;
}

const opt = parseArgs(process.argv.slice(2));
const NOTES_PEAK = 117; // GFLOP/s per core, ../shared/INFERENCE-NOTES.md (hand-written FMA loops, "Zen 4")
const measured = readLines(opt['peak-json']).find((r) => 'avx512_gflops' in r || 'avx2_gflops' in r) || {};
const measuredPeak = Math.max(0, ...[measured.avx512_gflops, measured.avx2_gflops].filter((v) => typeof v === 'number'));
const peak = opt.peak > 0 ? opt.peak : measuredPeak > 0 ? measuredPeak : NOTES_PEAK;
const peakSource = opt.peak > 0 ? '--peak' : measuredPeak > 0 ? 'measured' : 'INFERENCE-NOTES.md, nothing measured';
const g = (v) => (typeof v === 'number' ? `${v.toFixed(1)}` : 'n/a');
const peakLine = `Peak ${peak.toFixed(1)} GFLOP/s (${peakSource}). Measured 1-core FP32 FMA peak (bench/peak): `
  + `AVX-512 ${g(measured.avx512_gflops)}, AVX2 ${g(measured.avx2_gflops)} GFLOP/s; INFERENCE-NOTES.md: ${NOTES_PEAK} GFLOP/s.`;
const mien = readLines(opt.mien).filter((r) => r.backend === 'mien' && r.model);
const peer = readLines(opt.peer).filter((r) => r.backend === 'wasm' && r.model && !r.check);

const order = [];
const rows = new Map();
const row = (model) => {
  if (!rows.has(model)) { rows.set(model, { model }); order.push(model); }
  return rows.get(model);
};
for (const r of mien) {
  const x = row(r.model);
  x.input = r.input;
  x.mmac = r.mmac;
  x[`t${r.threads}`] = r.median_ms;
  if (r.threads === 1) x.gflops1 = r.gflops;
}
for (const r of peer) {
  const x = row(r.model);
  x.wasm = r.median_ms;
  if (!x.input && r.input) x.input = r.input;
}

const fmt = (v, digits = 2) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');
const header = ['model', 'input', 'MMAC', 'mien 1T ms', 'mien 2T ms', 'tfjs-wasm ms', 'speed-up (wasm/mien 1T)',
  'GFLOP/s 1T', `% of ${peak.toFixed(0)} GFLOP/s`];
const table = order.map((m) => {
  const x = rows.get(m);
  const gflops = x.gflops1 ?? (x.t1 && x.mmac ? (2 * x.mmac) / x.t1 : undefined);
  return [
    m,
    Array.isArray(x.input) ? x.input.join('x') : '—',
    fmt(x.mmac, 1),
    fmt(x.t1),
    fmt(x.t2),
    fmt(x.wasm),
    x.wasm && x.t1 ? `${(x.wasm / x.t1).toFixed(2)}x` : '—',
    fmt(gflops, 1),
    gflops !== undefined ? `${((100 * gflops) / peak).toFixed(1)}%` : '—',
  ];
});

const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
console.log(peakLine);
const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
for (const r of table) console.log(line(r));
if (order.length === 0) console.log('(no results: did `mien bench models --json` and the peer run?)');

if (opt.md) {
  const md = [
    '# mien model latency vs TensorFlow.js (wasm)',
    '',
    `Median of timed runs; mien at 1 and 2 threads (XNNPACK, native), tfjs-backend-wasm 1 thread in Node.`,
    `GFLOP/s = 2 x MAC / mien 1T median. Generated ${new Date().toISOString()}.`,
    '',
    peakLine,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...table.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(opt.md), { recursive: true });
  fs.writeFileSync(opt.md, md);
  console.error(`wrote ${opt.md}`);
}
