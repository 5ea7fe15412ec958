// table.mjs RESULTS.jsonl — medians of run.sh's wrk runs per label, and the ratio mien/Django for the events list.
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const by = new Map();
for (const r of rows) if (r.run > 0) (by.get(r.label) ?? by.set(r.label, []).get(r.label)).push(r);
const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stat = (label) => {
	const rs = by.get(label);
	if (!rs) return null;
	const errs = rs.reduce((n, r) => n + r.r.err_connect + r.r.err_read + r.r.err_write + r.r.err_status + r.r.err_timeout, 0);
	return {
		n: rs.length,
		rps: median(rs.map((r) => r.r.rps)),
		rpsAll: rs.map((r) => (r.r.rps >= 100 ? r.r.rps.toFixed(0) : r.r.rps.toFixed(2))).join(' / '),
		p50: median(rs.map((r) => r.r.p50_us)) / 1000,
		p99: median(rs.map((r) => r.r.p99_us)) / 1000,
		p99All: rs.map((r) => (r.r.p99_us / 1000).toFixed(1)).join(' / '),
		bytes: rs[0].r.bytes / rs[0].r.requests,
		errs,
		wrk: rs[0].wrk.replace(/ -s .*/, ''),
	};
};
const pad = (s, n) => String(s).padEnd(n);
const line = (cells) => '| ' + cells.map((c, i) => pad(c, [24, 11, 20, 9, 9, 22, 8, 6][i])).join(' | ') + ' |';
console.log(line(['route / server', 'req/s (med)', 'req/s (runs)', 'p50 ms', 'p99 ms', 'p99 ms (runs)', 'B/resp', 'errors']));
console.log(line(['---', '---', '---', '---', '---', '---', '---', '---']));
const show = (name, s) =>
	s && console.log(line([name, s.rps >= 100 ? s.rps.toFixed(0) : s.rps.toFixed(2), s.rpsAll, s.p50.toFixed(2), s.p99.toFixed(1), s.p99All, s.bytes.toFixed(0), s.errs]));
const m = stat('events-mien'), d = stat('events-django');
show('events: mien', m);
show('events: Django+DRF', d);
const analyze = [...by.keys()].filter((k) => k.startsWith('analyze-mien')).sort();
for (const k of analyze) show(`analyze: mien ${k.replace('analyze-mien-', '')}`, stat(k));
if (m && d) {
	console.log(`\nevents list, wrk ${m.wrk}, medians of ${m.n} runs:`);
	console.log(`  throughput mien/Django = ${(m.rps / d.rps).toFixed(2)}x (target >= 10x: ${m.rps / d.rps >= 10 ? 'met' : 'MISSED'})`);
	const pairs = by.get('events-mien').map((r, i) => r.r.rps / by.get('events-django')[i].r.rps);
	console.log(`  per interleaved pair: ${pairs.map((x) => x.toFixed(2) + 'x').join(' / ')} (median ${median(pairs).toFixed(2)}x)`);
	console.log(`  p99 latency Django/mien = ${(d.p99 / m.p99).toFixed(2)}x (lower is better for mien)`);
}
for (const k of analyze) {
	const a = stat(k);
	console.log(`analyze, wrk ${a.wrk}: ${a.rps.toFixed(2)} req/s, p50 ${a.p50.toFixed(0)} ms, p99 ${a.p99.toFixed(0)} ms (medians of ${a.n})`);
}
