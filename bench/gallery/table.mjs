// table.mjs — turns build/bench/gallery.jsonl (gallery_bench and brute.mjs lines) into markdown tables.
//
//   node bench/gallery/table.mjs build/bench/gallery.jsonl
//
// Latency ratios are against the naive C loop measured in the same run at the same size.
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const events = lines.filter((l) => l.event_faces || l.recall_event_faces);
lines.splice(0, lines.length, ...lines.filter((l) => !l.event_faces && !l.recall_event_faces));
const sizes = [...new Set(lines.filter((l) => l.method).map((l) => l.n))].sort((a, b) => a - b);
const fmt = (x, d = 2) => (x >= 100 ? x.toFixed(0) : x.toFixed(d));
const out = [];

out.push('| identities | method | median ms | p95 ms | speed-up vs naive C | bytes / identity |');
out.push('|---:|---|---:|---:|---:|---:|');
for (const n of sizes) {
	const rows = lines.filter((l) => l.method && l.n === n);
	const naive = rows.find((l) => l.method === 'naive C loop');
	for (const r of rows) {
		const ratio = naive ? `${(naive.median_ms / r.median_ms).toFixed(1)}x` : '-';
		const label = r.isa ? `${r.method} (${r.isa})` : r.method;
		out.push(`| ${n.toLocaleString('en')} | ${label} | ${fmt(r.median_ms, 3)} | ${fmt(r.p95_ms, 3)} | ${ratio} | ${r.bytes_per_id.toFixed(0)} |`);
	}
}
out.push('');
out.push('| identities | format | recall@1 vs exact, noisy queries (cos ~0.7) | recall@1 vs exact, random queries | queries each |');
out.push('|---:|---|---:|---:|---:|');
for (const r of lines.filter((l) => l.recall)) {
	out.push(`| ${r.n.toLocaleString('en')} | ${r.recall} | ${(100 * r.noisy).toFixed(2)} % | ${(100 * r.random).toFixed(2)} % | ${r.queries} |`);
}
out.push('');
out.push('| identities | format | build time (gallery_add, 1 thread) | adds / s |');
out.push('|---:|---|---:|---:|');
for (const r of lines.filter((l) => l.build_ms !== undefined)) {
	out.push(`| ${r.n.toLocaleString('en')} | ${r.method.replace('mien ', '')} | ${fmt(r.build_ms / 1000, 3)} s | ${Math.round(r.adds_per_s).toLocaleString('en')} |`);
}
if (events.length) {
	// The face search's index (src/http/search.c): top k over event faces, ratios against the naive C loop's top k.
	out.push('');
	out.push('| event faces | dim | top | method | median ms | p95 ms | CPU ms (median) | speed-up vs naive C | bytes / event |');
	out.push('|---:|---:|---:|---|---:|---:|---:|---:|---:|');
	for (const n of [...new Set(events.filter((l) => l.method).map((l) => l.n))].sort((a, b) => a - b)) {
		const rows = events.filter((l) => l.method && l.n === n);
		const naive = rows.find((l) => l.method === 'naive C loop');
		for (const r of rows) {
			const ratio = naive ? `${(naive.median_ms / r.median_ms).toFixed(1)}x` : '-';
			const label = r.isa ? `${r.method} (${r.isa})` : r.method;
			const cpu = r.cpu_median_ms !== undefined ? fmt(r.cpu_median_ms, 3) : '-';
			out.push(`| ${n.toLocaleString('en')} | ${r.dim} | ${r.k} | ${label} | ${fmt(r.median_ms, 3)} | ${fmt(r.p95_ms, 3)} | ${cpu} | ${ratio} | ${r.bytes_per_id.toFixed(0)} |`);
		}
	}
	out.push('');
	out.push('| event faces | top | recall@top vs exact | the visitor\'s own visits found | queries |');
	out.push('|---:|---:|---:|---:|---:|');
	for (const r of events.filter((l) => l.recall_event_faces)) {
		out.push(`| ${r.n.toLocaleString('en')} | ${r.k} | ${(100 * r.recall).toFixed(2)} % | ${(100 * r.visits_found).toFixed(2)} % | ${r.queries} |`);
	}
}
console.log(out.join('\n'));
