// sse_fanout.mjs — the live stream's fan-out (issue 5's proof): N concurrent authenticated Server-Sent-Events
// clients on GET /api/v1/stream of a real `build/mien serve`, and M `event` messages published at R per second
// through Redis as another node would (the bus frame "2 <camera> <node>\n<json>" on channel mien:bus). Each
// message carries its publish time; each client notes when each message arrives. Reports delivery latency
// p50/p95/p99/max over every (client, message) pair and whether every client got every message.
//
//   node bench/api/sse_fanout.mjs [--clients 1000] [--messages 200] [--rate 20] [--workers 2] [--json FILE]
//
// Node 20, no npm packages. Starts its own redis-server (random loopback port) and mien (sqlite in a temporary
// folder). Clients are raw sockets (HTTP/1.1, chunked bodies decoded here), spread over --workers worker threads
// so that one JavaScript thread parsing 1,000 sockets does not itself add the latency it measures. Publishing is
// a RESP PUBLISH on one raw socket to Redis. All clocks are performance.timeOrigin + performance.now() (one
// machine, one process): latency = arrival of the chunk holding the message - the moment before the PUBLISH.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- a client worker -------------------------------------------------------------------------------------------
// One SSE connection: status, then chunked body; collects [messageNo, latencyMs] per `event` message.
function openClient(port, token, onReady) {
	const c = { status: 0, lat: [], closed: false, error: null };
	const s = net.connect(port, '127.0.0.1');
	s.setNoDelay(true);
	let head = Buffer.alloc(0), inBody = false, chunked = false;
	let raw = Buffer.alloc(0); // chunked bytes not decoded yet
	let text = ''; // decoded SSE text not parsed yet
	let readyCalled = false;
	const ready = () => {
		if (!readyCalled) (readyCalled = true), onReady(c);
	};
	const sse = (t) => {
		text += t;
		let cut;
		while ((cut = text.indexOf('\n\n')) >= 0) {
			const block = text.slice(0, cut);
			text = text.slice(cut + 2);
			let ev = '', data = '';
			for (const line of block.split('\n')) {
				if (line.startsWith('event: ')) ev = line.slice(7);
				else if (line.startsWith('data: ')) data += line.slice(6);
			}
			if (ev === 'event' && data) {
				const j = JSON.parse(data);
				if (j.bench_no !== undefined) c.lat.push([j.bench_no, c.at - j.bench_t]);
			}
		}
	};
	const body = (b) => {
		if (!chunked) return sse(b.toString('utf8'));
		raw = raw.length ? Buffer.concat([raw, b]) : b;
		let out = '';
		for (;;) {
			const eol = raw.indexOf('\r\n');
			if (eol < 0) break;
			const size = parseInt(raw.subarray(0, eol).toString('latin1'), 16);
			if (raw.length < eol + 2 + size + 2) break;
			out += raw.subarray(eol + 2, eol + 2 + size).toString('utf8');
			raw = raw.subarray(eol + 2 + size + 2);
			if (size === 0) break;
		}
		if (out) sse(out);
	};
	s.on('data', (d) => {
		c.at = now(); // the arrival time of every message in this chunk
		if (inBody) return body(d);
		head = Buffer.concat([head, d]);
		const end = head.indexOf('\r\n\r\n');
		if (end < 0) return;
		const h = head.subarray(0, end).toString('latin1');
		c.status = Number((/^HTTP\/1\.[01] (\d+)/.exec(h) || [])[1] || 0);
		chunked = /\r\ntransfer-encoding:\s*chunked/i.test(h);
		inBody = true;
		ready();
		const rest = head.subarray(end + 4);
		if (rest.length) body(rest);
	});
	s.on('error', (e) => {
		c.error = e.code || String(e);
		ready();
	});
	s.on('close', () => {
		c.closed = true;
		ready();
	});
	s.write(`GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
	c.socket = s;
	return c;
}

async function workerMain() {
	const { port, token, count } = workerData;
	const clients = [];
	let settled = 0;
	// Open in batches of 50 so that the listen backlog never overflows.
	for (let i = 0; i < count; i += 50) {
		const batch = [];
		for (let k = i; k < Math.min(count, i + 50); k++)
			batch.push(new Promise((r) => clients.push(openClient(port, token, (c) => (settled++, r(c))))));
		await Promise.race([Promise.all(batch), sleep(1000)]);
	}
	parentPort.postMessage({ type: 'opened', settled });
	parentPort.on('message', (m) => {
		if (m.type !== 'report') return;
		const per = clients.map((c) => ({ status: c.status, error: c.error, closed: c.closed, lat: c.lat }));
		for (const c of clients) c.socket.destroy();
		parentPort.postMessage({ type: 'report', clients: per });
	});
}

// --- the main thread -------------------------------------------------------------------------------------------
function args() {
	const a = { clients: 1000, messages: 200, rate: 20, workers: 2, json: null };
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i += 2) {
		const k = v[i].replace(/^--/, '');
		if (!(k in a)) throw new Error(`unknown option ${v[i]}`);
		a[k] = k === 'json' ? v[i + 1] : Number(v[i + 1]);
	}
	return a;
}

function freePort() {
	return new Promise((resolve) => {
		const srv = net.createServer().listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

// A minimal RESP client: one connection, commands in order, replies matched in order.
function resp(port) {
	const s = net.connect(port, '127.0.0.1');
	s.setNoDelay(true);
	const waiting = [];
	let buf = '';
	s.on('data', (d) => {
		buf += d.toString('latin1');
		let eol;
		while ((eol = buf.indexOf('\r\n')) >= 0) {
			const line = buf.slice(0, eol);
			buf = buf.slice(eol + 2);
			const w = waiting.shift();
			if (w) line[0] === '-' ? w.reject(new Error(line)) : w.resolve(line);
		}
	});
	const ready = new Promise((r, j) => (s.once('connect', r), s.once('error', j)));
	const cmd = (...parts) =>
		new Promise((resolve, reject) => {
			waiting.push({ resolve, reject });
			const bufs = [Buffer.from(`*${parts.length}\r\n`)];
			for (const p of parts) {
				const b = Buffer.isBuffer(p) ? p : Buffer.from(String(p));
				bufs.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
			}
			s.write(Buffer.concat(bufs));
		});
	return { ready, cmd, close: () => s.destroy() };
}

function pct(sorted, p) {
	if (!sorted.length) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
	// Raise this process's open-file limit to the hard limit (1,000 client sockets here, as many in mien, which
	// inherits it): Node cannot call setrlimit, so re-run under a shell that does.
	if (process.env.SSE_FANOUT_ULIMIT !== '1') {
		const r = spawnSync('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; exec "$0" "$@"', process.execPath, ...process.argv.slice(1)], {
			stdio: 'inherit',
			env: { ...process.env, SSE_FANOUT_ULIMIT: '1' },
		});
		process.exit(r.status ?? 1);
	}
	const a = args();
	const ROOT = new URL('../../', import.meta.url).pathname;
	const tmp = mkdtempSync(join(tmpdir(), 'mien-sse-bench-'));
	const redisPort = await freePort();
	const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
		stdio: 'ignore',
	});
	let mien = null;
	const stop = async () => {
		for (const p of [mien, redis])
			if (p && p.exitCode === null && p.signalCode === null) {
				p.kill('SIGTERM');
				await new Promise((r) => p.once('exit', r));
			}
		rmSync(tmp, { recursive: true, force: true });
	};
	try {
		// Redis answers PING.
		let pub;
		for (let t0 = Date.now(); ; await sleep(50)) {
			try {
				pub = resp(redisPort);
				await pub.ready;
				if ((await pub.cmd('PING')) === '+PONG') break;
			} catch {
				if (Date.now() - t0 > 5000) throw new Error('redis-server did not start');
			}
		}
		let stderr = '', stdout = '';
		mien = spawn(join(ROOT, 'build/mien'), ['serve'], {
			cwd: ROOT,
			env: { ...process.env, MIEN_DB: `sqlite:${join(tmp, 'mien.db')}`, MIEN_REDIS: `redis://127.0.0.1:${redisPort}`, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info' },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		mien.stdout.on('data', (d) => (stdout += d));
		mien.stderr.on('data', (d) => (stderr += d));
		for (const t0 = Date.now(); !/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout) || !/subscribed to redis/.test(stderr); await sleep(50))
			if (mien.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`mien did not start:\n${stderr}`);
		const port = Number(/serving on port (\d+)/.exec(stderr)[1]);
		const base = `http://127.0.0.1:${port}`;
		const login = await fetch(base + '/api/v1/auth/login', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(stdout)[1] }),
		});
		const token = (await login.json()).token;
		const camRes = await fetch(base + '/api/v1/cameras', {
			method: 'POST',
			headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
			body: JSON.stringify({ name: 'bench', url: 'rtsp://10.0.0.1/bench', enabled: false }),
		});
		const camera = (await camRes.json()).id;

		// Open the clients, spread over the workers.
		const t0 = now();
		const workers = [];
		for (let w = 0; w < a.workers; w++) {
			const count = Math.floor(a.clients / a.workers) + (w < a.clients % a.workers ? 1 : 0);
			const worker = new Worker(new URL(import.meta.url), { workerData: { port, token, count } });
			workers.push({ worker, opened: new Promise((r) => worker.on('message', (m) => m.type === 'opened' && r(m))) });
		}
		const opened = await Promise.all(workers.map((w) => w.opened));
		const openMs = now() - t0;
		await sleep(500); // let the last streams get their first bytes out
		// Is the server still answering other requests while the streams are open?
		let healthz;
		const h0 = now();
		try {
			healthz = String((await fetch(base + '/healthz', { signal: AbortSignal.timeout(3000) })).status);
		} catch {
			healthz = 'no answer in 3 s';
		}
		healthz += ` (${Math.round(now() - h0)} ms)`;

		// Publish at the rate, on an absolute schedule (a late tick does not delay the rest).
		const every = 1000 / a.rate;
		const start = now() + 50;
		let subscribers = new Set();
		for (let i = 0; i < a.messages; i++) {
			const due = start + i * every;
			const wait = due - now();
			if (wait > 1) await sleep(wait - 1);
			while (now() < due) ; // the last millisecond, busy
			const t = now();
			const frame = `2 ${camera} bench-node\n${JSON.stringify({ id: 100000 + i, camera_id: camera, person: null, bench_no: i, bench_t: t })}`;
			subscribers.add(await pub.cmd('PUBLISH', 'mien:bus', frame));
		}
		await sleep(2000); // the slowest delivery has arrived by now, or is late beyond any target
		// With every connection slot taken by a stream, new requests may get no answer: ask with a deadline.
		let dropped = 'no answer in 3 s';
		try {
			const metrics = await (await fetch(base + '/metrics', { signal: AbortSignal.timeout(3000) })).text();
			dropped = Number((/mien_stream_dropped_total (\d+)/.exec(metrics) || [])[1] ?? NaN);
		} catch {}

		// Collect.
		const reports = await Promise.all(
			workers.map(
				({ worker }) =>
					new Promise((r) => {
						worker.on('message', (m) => m.type === 'report' && r(m.clients));
						worker.postMessage({ type: 'report' });
					}),
			),
		);
		for (const { worker } of workers) await worker.terminate();
		pub.close();
		const clients = reports.flat();
		const statuses = {};
		for (const c of clients) {
			const k = c.status ? String(c.status) : c.error ? `error ${c.error}` : c.closed ? 'closed, no reply' : 'no reply';
			statuses[k] = (statuses[k] || 0) + 1;
		}
		const ok = clients.filter((c) => c.status === 200);
		const lat = [];
		let complete = 0, dupes = 0;
		for (const c of ok) {
			const seen = new Set();
			for (const [no, ms] of c.lat) {
				if (seen.has(no)) dupes++;
				seen.add(no);
				lat.push(ms);
			}
			if (seen.size === a.messages) complete++;
		}
		lat.sort((x, y) => x - y);
		const expected = a.clients * a.messages;
		const summary = {
			clients: a.clients,
			connected_200: ok.length,
			statuses,
			open_ms: Math.round(openMs),
			messages: a.messages,
			rate_per_s: a.rate,
			redis_subscribers: [...subscribers].join(','),
			deliveries: lat.length,
			expected_deliveries: expected,
			clients_with_every_message: complete,
			duplicates: dupes,
			stream_dropped_total: dropped,
			healthz_while_streaming: healthz,
			p50_ms: +pct(lat, 50).toFixed(2),
			p95_ms: +pct(lat, 95).toFixed(2),
			p99_ms: +pct(lat, 99).toFixed(2),
			max_ms: +(lat.at(-1) ?? NaN).toFixed(2),
			mien_rss_mb: null,
		};
		try {
			const status = (await import('node:fs')).readFileSync(`/proc/${mien.pid}/status`, 'utf8');
			summary.mien_rss_mb = Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
		} catch {}
		console.log(`SSE fan-out: ${a.clients} clients requested (${a.workers} worker threads), ${a.messages} event messages at ${a.rate}/s via Redis`);
		console.log(`  connections: ${JSON.stringify(statuses)} (opened in ${summary.open_ms} ms); mien RSS ${summary.mien_rss_mb} MB`);
		console.log(`  deliveries: ${lat.length} of ${expected} (${((100 * lat.length) / expected).toFixed(1)}%); clients with every message: ${complete} of ${a.clients}; dropped by the server: ${dropped}`);
		console.log(`  GET /healthz while the streams were open: ${healthz}`);
		console.log(`  latency ms: p50 ${summary.p50_ms}  p95 ${summary.p95_ms}  p99 ${summary.p99_ms}  max ${summary.max_ms}  (target p95 <= 50: ${summary.p95_ms <= 50 ? 'met' : 'MISSED'})`);
		const all = complete === a.clients && lat.length === expected;
		console.log(`  every client got every message: ${all ? 'yes' : 'NO'}`);
		console.log('SSEJSON ' + JSON.stringify(summary));
		if (a.json) writeFileSync(a.json, JSON.stringify(summary) + '\n');
		if (!/stopping/.test(stderr) && /ERROR|WARN/.test(stderr)) console.log('  mien stderr (warnings):\n' + stderr.split('\n').filter((l) => /ERROR|WARN/.test(l)).slice(0, 10).join('\n'));
		await stop();
		process.exitCode = all && summary.p95_ms <= 50 ? 0 : 1;
	} catch (e) {
		await stop();
		throw e;
	}
}

if (isMainThread) await main();
else await workerMain();
