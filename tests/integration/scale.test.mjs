// scale.test.mjs — mien on several nodes: one PostgreSQL and one Redis (MIEN_TEST_PG, MIEN_TEST_REDIS from
// scripts/testdb.sh), one API node (MIEN_ROLE=api), two worker nodes (MIEN_ROLE=worker), four real RTSP cameras
// (GStreamer's RTSP server, tests/integration/rtsp_server.py, serving the demo clip) and an SSE client on the API
// node. Checks: the cameras are split across the workers and never run on both; `kill -9` of a worker moves its
// cameras to the other within the lease time; the SSE client keeps receiving events of all cameras; a person
// enrolled through the API node is recognised on cameras of both workers; every event the stream announced is
// in PostgreSQL afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const CLIP = join(ROOT, 'build/demo/demo.mp4');
const DB = process.env.MIEN_TEST_PG;
const REDIS = process.env.MIEN_TEST_REDIS;
if (!DB || !REDIS) throw new Error('scale.test.mjs needs MIEN_TEST_PG and MIEN_TEST_REDIS (scripts/testdb.sh)');
if (!existsSync(CLIP)) throw new Error('build/demo/demo.mp4 is missing: `make demo` builds it');
const LEASE_MS = 3000;
const tmp = mkdtempSync(join(tmpdir(), 'mien-scale-'));
const procs = [];

// Debian's python3, the one that imports gi (MACHINE-NOTES.md).
const PYTHON = execSync('for p in $(type -ap python3) /usr/bin/python3; do "$p" -c "import gi" 2>/dev/null && { echo "$p"; break; }; done', {
	shell: '/bin/bash',
	encoding: 'utf8',
}).trim();

function freePort() {
	return new Promise((resolve) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

function startNode(name, role) {
	const n = { name, role, stderr: '', stdout: '' };
	n.proc = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: DB,
			MIEN_REDIS: REDIS,
			MIEN_ROLE: role,
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_LOG_LEVEL: 'info',
			MIEN_LEASE_MS: String(LEASE_MS),
			MIEN_MODELS: join(ROOT, 'models'),
			MIEN_THREADS: '1',
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	n.proc.stdout.on('data', (d) => (n.stdout += d));
	n.proc.stderr.on('data', (d) => (n.stderr += d));
	procs.push(n);
	return n;
}

async function ready(n) {
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(n.stderr) || !/subscribed to redis/.test(n.stderr)) {
		if (n.proc.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`${n.name} did not start:\n${n.stderr}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	n.base = `http://127.0.0.1:${/serving on port (\d+)/.exec(n.stderr)[1]}`;
}

function psql(sql) {
	return execFileSync('psql', ['-qAt', DB, '-c', sql], { encoding: 'utf8' }).trim();
}

async function until(cond, ms, step = 200) {
	const t0 = Date.now();
	for (;;) {
		const v = await cond();
		if (v) return v;
		if (Date.now() - t0 > ms) return null;
		await new Promise((r) => setTimeout(r, step));
	}
}

let api, w1, w2, token;
const cameras = [];
const sse = { events: new Map(), cameras: new Set(), ctl: new AbortController(), text: '' };

async function call(method, path, { json, body, type } = {}) {
	const headers = { Authorization: `Bearer ${token}` };
	if (json) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(json);
	} else if (type) headers['Content-Type'] = type;
	const r = await fetch(api.base + path, { method, headers, body });
	const text = await r.text();
	return { status: r.status, data: text && (r.headers.get('content-type') || '').startsWith('application/json') ? JSON.parse(text) : null };
}

before(async () => {
	assert.ok(PYTHON, "Debian's python3 with gi is needed for the RTSP cameras");
	execFileSync('psql', ['-q', DB, '-c', 'SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;']);
	// Four RTSP cameras.
	for (let i = 0; i < 4; i++) {
		const port = await freePort();
		const cam = { port, out: '' };
		cam.proc = spawn(PYTHON, [join(ROOT, 'tests/integration/rtsp_server.py'), String(port), CLIP, 'cam'], { stdio: ['ignore', 'pipe', 'pipe'] });
		cam.proc.stdout.on('data', (d) => (cam.out += d));
		procs.push({ name: `rtsp${i}`, proc: cam.proc, stderr: '' });
		cameras.push(cam);
	}
	for (const c of cameras) assert.ok(await until(() => /ready/.test(c.out), 10000), 'RTSP server ready');
	api = startNode('api', 'api');
	await ready(api);
	const password = /password (\S+)/.exec(api.stdout)[1];
	const r = await fetch(api.base + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
	token = (await r.json()).token;
	for (let i = 0; i < cameras.length; i++) {
		const c = await call('POST', '/api/v1/cameras', { json: { name: `door-${i}`, url: `rtsp://127.0.0.1:${cameras[i].port}/cam`, analysis_fps: 2 } });
		assert.equal(c.status, 201);
		cameras[i].id = c.data.id;
	}
	// The SSE client on the API node, from the start.
	const res = await fetch(api.base + '/api/v1/stream', { headers: { Authorization: `Bearer ${token}` }, signal: sse.ctl.signal });
	assert.equal(res.status, 200);
	(async () => {
		const reader = res.body.getReader();
		try {
			for (;;) {
				const { value, done } = await reader.read();
				if (done) break;
				sse.text += Buffer.from(value).toString('utf8');
				let cut;
				while ((cut = sse.text.indexOf('\n\n')) >= 0) {
					const block = sse.text.slice(0, cut);
					sse.text = sse.text.slice(cut + 2);
					const ev = /^event: (\w+)$/m.exec(block)?.[1];
					const data = /^data: (.*)$/m.exec(block)?.[1];
					if (!ev || !data) continue;
					const msg = JSON.parse(data);
					if (ev === 'event') {
						sse.events.set(msg.id, msg);
						sse.cameras.add(msg.camera_id);
					}
				}
			}
		} catch {
			/* aborted at the end */
		}
	})();
	w1 = startNode('worker1', 'worker');
	w2 = startNode('worker2', 'worker');
	await ready(w1);
	await ready(w2);
});

after(async () => {
	sse.ctl.abort();
	for (const p of procs) {
		if (p.proc.exitCode === null && p.proc.signalCode === null) {
			p.proc.kill('SIGTERM');
			await new Promise((r) => p.proc.once('exit', r));
		}
	}
	rmSync(tmp, { recursive: true, force: true });
});

function holders() {
	const rows = psql(`SELECT camera_id || ' ' || node FROM camera_leases WHERE expires_at >= (extract(epoch from now()) * 1000)::bigint`);
	return new Map(rows ? rows.split('\n').map((l) => l.split(' ')).map(([id, node]) => [Number(id), node]) : []);
}

test('the four cameras run, split across the two workers', async () => {
	const split = await until(() => {
		const h = holders();
		return h.size === 4 && new Set(h.values()).size === 2 ? h : null;
	}, 15000);
	assert.ok(split, `leases: ${JSON.stringify([...holders()])}\n${w1.stderr.slice(-1500)}`);
	// Every camera is online on the worker that holds it, and at no moment running on both workers.
	const running = async (n) => {
		const r = await fetch(n.base + '/api/v1/cameras', { headers: { Authorization: `Bearer ${token}` } });
		return new Set((await r.json()).items.filter((c) => c.status === 'online' || c.status === 'reconnecting').map((c) => c.id));
	};
	const all = await until(async () => {
		const [a, b] = await Promise.all([running(w1), running(w2)]);
		return cameras.every((c) => a.has(c.id) || b.has(c.id));
	}, 20000);
	assert.ok(all, 'every camera runs on a worker');
	for (let i = 0; i < 15; i++) {
		const [a, b] = await Promise.all([running(w1), running(w2)]);
		for (const id of a) assert.ok(!b.has(id), `camera ${id} runs on both workers`);
		await new Promise((r) => setTimeout(r, 200));
	}
});

test('a person enrolled on the API node is recognised on cameras of both workers', async () => {
	const face = join(tmp, 'face.jpg');
	execFileSync(SEED, ['crop', join(ROOT, 'models/samples/sample1.jpg'), '755', '368', '370', '370', '300', face]);
	const p = await call('POST', '/api/v1/people', { json: { name: 'Ada' } });
	const e = await call('POST', `/api/v1/people/${p.data.id}/faces`, { body: readFileSync(face), type: 'image/jpeg' });
	assert.equal(e.status, 201, JSON.stringify(e.data));
	const h = holders();
	const byWorker = await until(async () => {
		const r = await call('GET', `/api/v1/events?person=${p.data.id}&limit=100`);
		const nodes = new Set(r.data.items.map((ev) => h.get(ev.camera_id)));
		return nodes.size === 2 ? nodes : null;
	}, 60000, 1000);
	assert.ok(byWorker, 'Ada recognised on cameras held by both workers');
});

test('kill -9 of a worker: its cameras move to the other within the lease time, the stream goes on', async () => {
	const before = holders();
	const victim = w1;
	const survivor = w2;
	const victimNode = /leased to (\S+)/.exec(victim.stderr)[1];
	const moving = [...before].filter(([, node]) => node === victimNode).map(([id]) => id);
	assert.ok(moving.length >= 1);
	victim.proc.kill('SIGKILL');
	const t0 = Date.now();
	const moved = await until(() => {
		const h = holders();
		return moving.every((id) => h.get(id) && h.get(id) !== victimNode) ? h : null;
	}, LEASE_MS * 3, 100);
	const took = Date.now() - t0;
	assert.ok(moved, `cameras ${moving} did not move: ${JSON.stringify([...holders()])}\n${survivor.stderr.slice(-1500)}`);
	assert.ok(took <= LEASE_MS * 2, `moved after ${took} ms (lease ${LEASE_MS} ms)`);
	process.stdout.write(`# cameras ${moving.join(',')} moved ${took} ms after kill -9 (lease ${LEASE_MS} ms)\n`);
	// Events of the moved cameras keep arriving on the API node's stream.
	const seenBefore = new Set([...sse.events.values()].map((ev) => ev.id));
	const fresh = await until(() => {
		const cams = new Set([...sse.events.values()].filter((ev) => !seenBefore.has(ev.id)).map((ev) => ev.camera_id));
		return moving.every((id) => cams.has(id)) ? cams : null;
	}, 40000, 500);
	assert.ok(fresh, 'new events of the moved cameras reach the SSE client');
});

test('PostgreSQL away: the worker keeps running, is not ready, and catches up when it returns', async () => {
	const ctl = process.env.MIEN_TEST_PG_CTL;
	assert.ok(ctl, 'MIEN_TEST_PG_CTL is needed (scripts/testdb.sh)');
	const ready = async (n) => (await fetch(n.base + '/readyz')).status;
	assert.equal(await ready(w2), 200);
	execSync(`${ctl} stop`);
	try {
		assert.ok(await until(async () => (await ready(w2)) === 503, 5000), 'readyz says not ready while the database is away');
		await new Promise((r) => setTimeout(r, 1500));
		assert.equal(w2.proc.exitCode, null, 'the worker keeps running');
		assert.equal((await fetch(w2.base + '/healthz')).status, 200);
	} finally {
		execSync(`${ctl} start`);
	}
	assert.ok(await until(async () => (await ready(w2)) === 200, 15000), 'ready again once the database is back');
	// It catches up: new events are stored again after the outage.
	const before = Number(psql('SELECT coalesce(max(id), 0) FROM events'));
	assert.ok(await until(() => Number(psql('SELECT coalesce(max(id), 0) FROM events')) > before, 30000, 500), 'events are stored again');
	// And every camera is held again.
	assert.ok(await until(() => holders().size === 4, 15000), `leases after the outage: ${JSON.stringify([...holders()])}`);
});

test('every event the stream announced is in PostgreSQL', async () => {
	assert.ok(sse.events.size > 0);
	for (const c of cameras) assert.ok(sse.cameras.has(c.id), `no event of camera ${c.id} on the stream`);
	const ids = [...sse.events.keys()];
	const stored = new Set(psql(`SELECT id FROM events WHERE id IN (${ids.join(',')})`).split('\n').map(Number));
	const missing = ids.filter((id) => !stored.has(id));
	assert.deepEqual(missing, [], 'events announced but not stored');
});
