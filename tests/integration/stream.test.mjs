// stream.test.mjs — GET /api/v1/stream end to end: a real `mien serve` on Redis (MIEN_REDIS), with messages
// published by "another node" straight onto the Redis channel (redis-cli), read back as Server-Sent Events by
// users of each role. Run by `make check-integration` under scripts/testdb.sh (MIEN_TEST_REDIS).
//
// What the users may see is written here from DESIGN.md's role rules: recognition users never get expression
// fields, alerts are for admins, nobody gets a camera outside their list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const REDIS = process.env.MIEN_TEST_REDIS;
if (!REDIS) throw new Error('stream.test.mjs needs MIEN_TEST_REDIS (run under scripts/testdb.sh)');
const redisPort = new URL(REDIS).port;
const tmp = mkdtempSync(join(tmpdir(), 'mien-sse-'));

let server, base, stderr = '', stdout = '';
const tok = {};
const cam = {};

async function call(method, path, token, json) {
	const headers = { Authorization: `Bearer ${token}` };
	if (json) headers['Content-Type'] = 'application/json';
	const r = await fetch(base + path, { method, headers, body: json ? JSON.stringify(json) : undefined });
	return { status: r.status, data: r.status === 204 ? null : await r.json() };
}

// Publishes as another node would: the bus frame "<kind> <camera> <node>\n<json>" on the mien:bus channel.
const KINDS = { face: 1, event: 2, alert: 3, camera: 4 };
function publish(kind, camera, obj) {
	// -x: the frame comes on stdin (large ones exceed what one command-line argument may hold).
	execFileSync('redis-cli', ['-p', redisPort, '-x', 'PUBLISH', 'mien:bus'], { input: `${KINDS[kind]} ${camera} other-node\n${JSON.stringify(obj)}` });
}

// The same without blocking the event loop (so that this process's own SSE readers keep reading meanwhile).
function publishAsync(kind, camera, obj) {
	return new Promise((resolve, reject) => {
		const child = execFile('redis-cli', ['-p', redisPort, '-x', 'PUBLISH', 'mien:bus'], (e) => (e ? reject(e) : resolve()));
		child.stdin.end(`${KINDS[kind]} ${camera} other-node\n${JSON.stringify(obj)}`);
	});
}

// An SSE reader: collects parsed messages and comment lines until closed.
function listen(token, lastId) {
	const ctl = new AbortController();
	const got = { messages: [], comments: 0, ended: false, status: 0 };
	const headers = { Authorization: `Bearer ${token}` };
	if (lastId !== undefined) headers['Last-Event-ID'] = String(lastId);
	got.ready = fetch(base + '/api/v1/stream', { headers, signal: ctl.signal }).then(async (res) => {
		got.status = res.status;
		got.type = res.headers.get('content-type');
		const reader = res.body.getReader();
		let text = '';
		(async () => {
			try {
				for (;;) {
					const { value, done } = await reader.read();
					if (done) break;
					text += Buffer.from(value).toString('utf8');
					let cut;
					while ((cut = text.indexOf('\n\n')) >= 0) {
						const block = text.slice(0, cut);
						text = text.slice(cut + 2);
						const m = { data: '' };
						for (const line of block.split('\n')) {
							if (line.startsWith(':')) got.comments++;
							else if (line.startsWith('id: ')) m.id = Number(line.slice(4));
							else if (line.startsWith('event: ')) m.event = line.slice(7);
							else if (line.startsWith('data: ')) m.data += line.slice(6);
						}
						if (m.event) got.messages.push({ ...m, json: JSON.parse(m.data) });
					}
				}
			} catch {
				/* aborted */
			}
			got.ended = true;
		})();
	});
	got.close = () => ctl.abort();
	return got;
}

async function until(cond, ms = 3000) {
	const t0 = Date.now();
	while (!cond()) {
		if (Date.now() - t0 > ms) return false;
		await new Promise((r) => setTimeout(r, 20));
	}
	return true;
}

before(async () => {
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: `sqlite:${join(tmp, 'mien.db')}`,
			MIEN_REDIS: REDIS,
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_LOG_LEVEL: 'info',
			MIEN_SSE_HEARTBEAT_MS: '400',
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (stdout += d));
	server.stderr.on('data', (d) => (stderr += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout)) {
		if (server.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`server did not start:\n${stderr}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	base = `http://127.0.0.1:${/serving on port (\d+)/.exec(stderr)[1]}`;
	const admin = await fetch(base + '/api/v1/auth/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(stdout)[1] }),
	});
	tok.admin = (await admin.json()).token;
	for (const name of ['A', 'B']) cam[name] = (await call('POST', '/api/v1/cameras', tok.admin, { name, url: `rtsp://10.0.0.1/${name}` })).data.id;
	const users = [
		['rec', 'recognition', null],
		['anaA', 'analyst', [cam.A]],
	];
	for (const [username, role, cams] of users) {
		const body = { username, password: `pw-${username}-123`, role };
		if (cams) Object.assign(body, { all_cameras: false, cameras: cams });
		assert.equal((await call('POST', '/api/v1/users', tok.admin, body)).status, 201);
		const r = await fetch(base + '/api/v1/auth/login', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ username, password: `pw-${username}-123` }),
		});
		tok[username] = (await r.json()).token;
	}
	// The server's bus is connected to Redis before the test publishes anything.
	assert.ok(await until(() => /subscribed to redis/.test(stderr), 5000), stderr);
});

after(async () => {
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	assert.equal(server.exitCode, 0, `mien serve exit status:\n${stderr.slice(-3000)}`);
	rmSync(tmp, { recursive: true, force: true });
});

const expression = { neutral: 0.1, happy: 0.8, sad: 0.02, angry: 0.02, fearful: 0.02, disgusted: 0.02, surprised: 0.02 };

test('messages reach each user filtered by role and camera, expressions stripped for recognition', async () => {
	const admin = listen(tok.admin), rec = listen(tok.rec), ana = listen(tok.anaA);
	await Promise.all([admin.ready, rec.ready, ana.ready]);
	assert.equal(admin.status, 200);
	assert.match(admin.type, /^text\/event-stream/);
	const unauth = await fetch(base + '/api/v1/stream');
	assert.equal(unauth.status, 401);
	await new Promise((r) => setTimeout(r, 100));

	publish('event', cam.A, { id: 1, camera_id: cam.A, person: { id: 7, name: 'Ada' }, dominant_expression: 'happy', expression });
	publish('face', cam.B, { camera_id: cam.B, faces: [{ box: [1, 2, 3, 4], track_id: 5, person: null, dominant_expression: 'sad', expression }] });
	publish('alert', cam.A, { id: 3, camera_id: cam.A, kind: 'watchlist' });
	publish('camera', cam.B, { id: cam.B, status: 'offline' });

	assert.ok(await until(() => admin.messages.length >= 4), `admin got ${admin.messages.length}`);
	assert.ok(await until(() => rec.messages.length >= 3), `recognition got ${rec.messages.length}`);
	assert.ok(await until(() => ana.messages.length >= 1));
	await new Promise((r) => setTimeout(r, 300)); // anything that should not come has had time to

	assert.deepEqual(admin.messages.map((m) => m.event), ['event', 'face', 'alert', 'camera']);
	assert.equal(admin.messages[0].json.expression.happy, 0.8);
	// Ids increase, so that Last-Event-ID can name a position.
	for (let i = 1; i < admin.messages.length; i++) assert.ok(admin.messages[i].id > admin.messages[i - 1].id);

	// recognition, all cameras: no alert, and no expression field anywhere.
	assert.deepEqual(rec.messages.map((m) => m.event), ['event', 'face', 'camera']);
	for (const m of rec.messages) assert.ok(!/expression/.test(m.data), `expression leaked: ${m.data}`);
	assert.equal(rec.messages[0].json.person.name, 'Ada');
	assert.deepEqual(rec.messages[1].json.faces[0].box, [1, 2, 3, 4]);

	// analyst limited to camera A: camera A's event with its expression, nothing of B, no alert.
	assert.deepEqual(ana.messages.map((m) => m.event), ['event']);
	assert.equal(ana.messages[0].json.dominant_expression, 'happy');

	for (const c of [admin, rec, ana]) c.close();
});

test('heartbeats keep an idle stream alive; Last-Event-ID replays what was missed', async () => {
	const first = listen(tok.admin);
	await first.ready;
	assert.ok(await until(() => first.comments >= 2, 3000), 'heartbeat comments every MIEN_SSE_HEARTBEAT_MS');
	publish('event', cam.A, { id: 10 });
	assert.ok(await until(() => first.messages.length >= 1));
	const lastSeen = first.messages.at(-1).id;
	first.close();
	publish('event', cam.A, { id: 11 });
	publish('event', cam.B, { id: 12 });
	await new Promise((r) => setTimeout(r, 200));
	const again = listen(tok.admin, lastSeen);
	await again.ready;
	assert.ok(await until(() => again.messages.length >= 2));
	assert.deepEqual(again.messages.map((m) => m.json.id), [11, 12]);
	assert.equal(again.messages[0].id, lastSeen + 1);
	again.close();
	const bad = await fetch(base + '/api/v1/stream', { headers: { Authorization: `Bearer ${tok.admin}`, 'Last-Event-ID': 'abc' } });
	assert.equal(bad.status, 400);
});

test('a client that stops reading is dropped; memory stays bounded and others go on', async () => {
	// A raw connection that sends the request and never reads: its socket buffers fill, then its queue.
	const net = await import('node:net');
	const { port } = new URL(base);
	const stuck = net.connect(Number(port), '127.0.0.1');
	await new Promise((r) => stuck.once('connect', r));
	stuck.write(`GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok.admin}\r\n\r\n`);
	stuck.pause();
	const live = listen(tok.admin);
	await live.ready;
	await new Promise((r) => setTimeout(r, 200));
	const big = 'x'.repeat(20000);
	// 12 MB in all: more than loopback socket buffers (a few MB each way) and the 2 MiB queue hold together;
	// a client that reads keeps up.
	for (let i = 0; i < 600; i++) await publishAsync('event', cam.A, { id: 100 + i, pad: big });
	assert.ok(await until(() => live.messages.length >= 600, 20000), `the reading client got ${live.messages.length}`);
	assert.ok(!live.ended);
	const metrics = await (await fetch(base + '/metrics')).text();
	const dropped = Number(/mien_stream_dropped_total (\d+)/.exec(metrics)[1]);
	assert.ok(dropped >= 1, `no client was dropped:\n${metrics}`);
	stuck.destroy();
	live.close();
	// The server is still fine.
	assert.equal((await fetch(base + '/healthz')).status, 200);
});
