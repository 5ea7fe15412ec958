// brute.mjs — the "NumPy-free brute force" peer: top-5 cosine search in plain Node.js over Float32Arrays.
//
//   node bench/gallery/brute.mjs --n 100000 [--dim 192] [--queries 200] [--k 5] [--event-faces 1]
//
// --event-faces 1 only labels the line for the event-face table (run.sh passes --dim 128 --k 50 with it).
//
// Random unit vectors, one a person; queries are stored vectors plus Gaussian noise (cosine ~0.7), as in
// gallery_bench.c. Prints one JSON line like gallery_bench's (median and p95 per query, in ms).
const args = Object.fromEntries(
	process.argv.slice(2).reduce((pairs, a, i, all) => (i % 2 === 0 ? [...pairs, [a.replace(/^--/, ''), all[i + 1]]] : pairs), []),
);
const n = Number(args.n ?? 10000);
const dim = Number(args.dim ?? 192);
const queries = Number(args.queries ?? 200);
const K = Number(args.k ?? 5);
const eventFaces = args['event-faces'] === '1';

function gauss() {
	const u = Math.random() || 1e-12;
	return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
}

function unit(out, offset) {
	let s = 0;
	for (let d = 0; d < dim; d++) {
		const x = gauss();
		out[offset + d] = x;
		s += x * x;
	}
	const inv = 1 / Math.sqrt(s);
	for (let d = 0; d < dim; d++) out[offset + d] *= inv;
}

const data = new Float32Array(n * dim);
for (let i = 0; i < n; i++) unit(data, i * dim);
const sigma = Math.sqrt((1 / 0.49 - 1) / dim);

const scores = new Float32Array(n);
const best = new Int32Array(K);
function search(q) {
	for (let i = 0, o = 0; i < n; i++, o += dim) {
		let s = 0;
		for (let d = 0; d < dim; d++) s += data[o + d] * q[d];
		scores[i] = s;
	}
	let m = 0;
	for (let i = 0; i < n; i++) {
		if (m === K && scores[i] <= scores[best[K - 1]]) continue;
		let j = m < K ? m++ : K - 1;
		while (j > 0 && scores[best[j - 1]] < scores[i]) {
			best[j] = best[j - 1];
			j--;
		}
		best[j] = i;
	}
	return best[0];
}

const q = new Float32Array(dim);
const times = [];
let found = 0;
for (let r = 0; r < queries + 3; r++) {
	const src = Math.floor(Math.random() * n);
	for (let d = 0; d < dim; d++) q[d] = data[src * dim + d] + sigma * gauss();
	const t0 = process.hrtime.bigint();
	const top = search(q);
	const ms = Number(process.hrtime.bigint() - t0) / 1e6;
	if (r >= 3) { // the first three warm the JIT
		times.push(ms);
		found += top === src;
	}
}
times.sort((a, b) => a - b);
const p95 = times[Math.min(times.length - 1, Math.floor(times.length * 0.95))];
console.log(JSON.stringify({
	method: 'Node.js brute force', n, median_ms: Number(times[times.length >> 1].toFixed(4)), p95_ms: Number(p95.toFixed(4)),
	runs: times.length, bytes_per_id: dim * 4, node: process.version, found_source: found / times.length,
	...(eventFaces ? { event_faces: true, dim, k: K } : {}),
}));
