#!/usr/bin/env node
// The table of bench/cameras/run.sh: medians over repeats per stream count, then the per-frame peer.
//   node bench/cameras/table.mjs build/bench/cameras.jsonl build/bench/cameras-peer.jsonl
import { readFileSync, existsSync } from 'node:fs';

const [runsFile, peerFile] = process.argv.slice(2);
const lines = (f) => (f && existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const med = (a) => {
  const s = a.filter((v) => v != null).sort((x, y) => x - y);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f1 = (v) => (v == null ? '–' : (Math.round(v * 10) / 10).toString());
const f0 = (v) => (v == null ? '–' : Math.round(v).toString());

const runs = lines(runsFile);
const byN = new Map();
for (const r of runs) byN.set(r.n, [...(byN.get(r.n) || []), r]);
const out = [];
out.push(`mien serve, MIEN_THREADS=${runs[0]?.threads ?? '?'} (as many single-thread analysis workers), MIEN_SCAN_MS ${process.env.MIEN_SCAN_MS || 'default (2000)'}; streams 1080p H.264 15 fps over RTSP, analysis_fps 5; ` +
  `medians over ${Math.max(0, ...[...byN.values()].map((v) => v.length))} run(s) of ${runs[0]?.seconds ?? '?'} s per N.`);
out.push('');
out.push('| streams | analysed fps/camera min (median) | decoded fps/camera min (median) | total analysed fps | lag p50 / p95 ms | p50 1st → 2nd half ms | CPU mien % (readers + rest) | reader ms/decoded frame | rest ms CPU/analysed frame | RTSP server % | other load on the machine % | sustained |');
out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--:|');
for (const [n, rs] of [...byN].sort((a, b) => a[0] - b[0])) {
  const m = (k) => med(rs.map((r) => r[k]));
  const sus = rs.filter((r) => r.sustained).length;
  out.push(
    `| ${n} | ${f1(m('analysed_fps_min'))} (${f1(m('analysed_fps_median'))}) | ${f1(m('decoded_fps_min'))} (${f1(m('decoded_fps_median'))}) | ${f1(m('analysed_fps_total'))} | ` +
      `${f0(m('lag_p50_ms'))} / ${f0(m('lag_p95_ms'))} | ${f0(m('lag_p50_first_half_ms'))} → ${f0(m('lag_p50_second_half_ms'))} | ` +
      `${f0(m('cpu_mien_pct'))} (${f0(m('cpu_readers_pct'))} + ${f0(m('cpu_other_pct'))}) | ${f1(m('reader_ms_per_decoded_frame'))} | ${f0(m('other_ms_per_analysed_frame'))} | ` +
      `${f1(m('cpu_rtsp_server_pct'))} | ${f0(m('cpu_foreign_pct'))} | ${sus}/${rs.length} |`,
  );
}
const names = new Set(runs.flatMap((r) => r.thread_names || []));
const metricLines = new Set(runs.flatMap((r) => r.metrics_camera_lines || []));
out.push('');
out.push(`Thread names seen in /proc/PID/task/*/comm: ${[...names].join(', ') || '–'}. Readers = the threads that appeared when the cameras were created (one per camera); "rest" = every other mien thread (the analysis workers, the event recorder; HTTP and SSE are negligible).`);
out.push(`/metrics camera or analysis counters: ${metricLines.size ? [...metricLines].join('; ') : 'none (the watch stats are not exported; rates come from the cameras API and the SSE stream)'}.`);

const peer = lines(peerFile);
if (peer.length) {
  const frames = [...new Set(peer.map((p) => p.frame))];
  const pick = (peerName, threads) => peer.filter((p) => p.peer === peerName && (threads == null || p.threads === threads));
  out.push('');
  out.push('Per-frame cost on decoded 1080p frames of the same clip (decode excluded; median ms per frame, wall time):');
  out.push('');
  out.push('| frame | faces mien / face-api | mien 1 thread | mien 2 threads | 2 workers x 1 thread at once (each) | face-api TF.js wasm 1 thread | TF.js / mien (1 thread) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  const rows = [];
  for (const fr of frames) {
    const g = (name, t) => peer.filter((p) => p.frame === fr && p.peer === name && (t == null || p.threads === t));
    const m1 = g('mien', 1)[0];
    const m2 = g('mien', 2)[0];
    const w2 = med(g('mien-2workers').map((p) => p.median_ms));
    const tf = g('faceapi-tfjs-wasm')[0] || g('faceapi-tfjs-cpu')[0];
    rows.push({ m1: m1?.median_ms, m2: m2?.median_ms, w2, tf: tf?.median_ms });
    out.push(`| ${fr} | ${m1?.faces ?? '–'} / ${tf?.faces ?? '–'} | ${f1(m1?.median_ms)} | ${f1(m2?.median_ms)} | ${f1(w2)} | ${f1(tf?.median_ms)} | ${tf && m1 ? f1(tf.median_ms / m1.median_ms) + '×' : '–'} |`);
  }
  const M = (k) => med(rows.map((r) => r[k]));
  out.push(`| **median** | | **${f1(M('m1'))}** | **${f1(M('m2'))}** | **${f1(M('w2'))}** | **${f1(M('tf'))}** | **${M('tf') && M('m1') ? f1(M('tf') / M('m1')) + '×' : '–'}** |`);
  if (M('m2') && M('w2'))
    out.push(`\nAnalysis throughput on two cores: 1 worker x 2 threads ≈ ${f1(1000 / M('m2'))} frames/s; 2 workers x 1 thread ≈ ${f1(2000 / M('w2'))} frames/s (from the medians above).`);
  void pick;
}
process.stdout.write(`${out.join('\n')}\n`);
