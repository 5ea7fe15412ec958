// webhooks.test.mjs — signed webhooks end to end: a real `mien serve` running the demo camera (the clip `make demo`
// builds from face-api's sample photos, whose faces make events within seconds) and real HTTP receivers written here
// with node:http. The signature is checked with node's own crypto (HMAC-SHA256 of the raw body under the secret),
// never with mien's code. Also: retries after a 500, no redirect followed to another address, filters, the delivery
// log, the test button, metrics, and the API's refusals (a non-http URL, unknown kinds, a huge secret, unknown
// fields, non-admins). MIEN_IT_DB=postgresql runs it on a fresh PostgreSQL database (scripts/testdb.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstStartDatabase } from './database.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const CLIP = join(ROOT, 'build/demo/demo.mp4');
if (!existsSync(CLIP)) throw new Error('build/demo/demo.mp4 is missing: `make demo` builds it');
const tmp = mkdtempSync(join(tmpdir(), 'mien-hooks-'));
const SECRET = 'whsec-Qv93-never-logged';
const URL_PASSWORD = 'url-pw-Zk27-never-shown';

let server, base, token, stderr = '', stdout = '';
let receiver, elsewhere; // two HTTP receivers

// --- the receivers ---------------------------------------------------------------------------------------------

// An HTTP server that records every request (method, path, headers, raw body) and answers as `respond` says.
function startReceiver(respond) {
	const got = [];
	const srv = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const raw = Buffer.concat(chunks);
			const rec = { method: req.method, path: req.url, headers: req.headers, raw, at: Date.now() };
			try {
				rec.body = JSON.parse(raw.toString('utf8'));
			} catch {
				rec.body = null;
			}
			got.push(rec);
			const [status, headers = {}] = respond(rec, got);
			res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
			res.end(status < 300 ? 'ok' : 'no');
		});
	});
	return new Promise((resolve) =>
		srv.listen(0, '127.0.0.1', () => resolve({ srv, got, port: srv.address().port, url: (p) => `http://127.0.0.1:${srv.address().port}${p}` })),
	);
}

// Checks a delivery's signature the way a receiver should: HMAC-SHA256 of the exact body bytes, constant time.
function signatureValid(rec, secret) {
	const header = rec.headers['x-mien-signature'] || '';
	const m = /^sha256=([0-9a-f]{64})$/.exec(header);
	if (!m) return false;
	const want = createHmac('sha256', secret).update(rec.raw).digest();
	return timingSafeEqual(Buffer.from(m[1], 'hex'), want);
}

// --- helpers ---------------------------------------------------------------------------------------------------

async function call(method, path, { json, as = token } = {}) {
	const headers = { Authorization: `Bearer ${as}` };
	let body;
	if (json !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = typeof json === 'string' ? json : JSON.stringify(json);
	}
	const r = await fetch(base + path, { method, headers, body });
	const buf = Buffer.from(await r.arrayBuffer());
	const data = (r.headers.get('content-type') || '').startsWith('application/json') && buf.length ? JSON.parse(buf) : null;
	return { status: r.status, data };
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
	// /flaky fails the first attempt of every delivery; /redirect sends elsewhere; the rest answer 200.
	receiver = await startReceiver((rec, got) => {
		if (rec.path === '/flaky') {
			const id = rec.headers['x-mien-delivery'];
			return [got.filter((g) => g.path === '/flaky' && g.headers['x-mien-delivery'] === id).length === 1 ? 500 : 200];
		}
		if (rec.path === '/redirect') return [302, { Location: elsewhere.url('/stolen') }];
		return [200];
	});
	elsewhere = await startReceiver(() => [200]);
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: firstStartDatabase(tmp),
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_LOG_LEVEL: 'debug',
			MIEN_DEMO_CAMERA: CLIP,
			MIEN_MODELS: join(ROOT, 'models'),
			MIEN_WEBHOOK_RETRY_MS: '300',
			MIEN_WEBHOOK_ATTEMPTS: '4',
			MIEN_WEBHOOK_TIMEOUT_MS: '3000',
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (stdout += d));
	server.stderr.on('data', (d) => (stderr += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout)) {
		if (server.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`server did not start:\n${stderr}`);
		await sleep(50);
	}
	base = `http://127.0.0.1:${/serving on port (\d+)/.exec(stderr)[1]}`;
	const r = await fetch(base + '/api/v1/auth/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(stdout)[1] }),
	});
	token = (await r.json()).token;
});

after(async () => {
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	receiver?.srv.close();
	elsewhere?.srv.close();
	assert.equal(server.exitCode, 0, `mien serve exit status:\n${stderr.slice(-3000)}`);
	for (const secret of [SECRET, URL_PASSWORD])
		assert.ok(!stderr.includes(secret) && !stdout.includes(secret), `${secret} reached the log`);
	rmSync(tmp, { recursive: true, force: true });
});

// --- the tests -------------------------------------------------------------------------------------------------

test('bad webhooks are refused with 400 and leave nothing behind', async () => {
	const bad = [
		[{ url: 'ftp://127.0.0.1/x', events: ['event'] }, /http/],
		[{ url: 'file:///etc/passwd', events: ['event'] }, /http/],
		[{ url: 'gopher://127.0.0.1:70/', events: ['event'] }, /http/],
		[{ url: 'http://', events: ['event'] }, /host/],
		[{ url: receiver.url('/x'), events: ['face'] }, /events/],
		[{ url: receiver.url('/x'), events: [] }, /events/],
		[{ url: receiver.url('/x'), events: 'event' }, /events/],
		[{ url: receiver.url('/x'), secret: 'x'.repeat(4096) }, /secret/],
		[{ url: receiver.url('/x'), secret: 'short' }, /secret/],
		[{ url: receiver.url('/x'), secret: 42 }, /secret/],
		[{ url: receiver.url('/x'), colour: 'red' }, /unknown field/],
		[{ url: receiver.url('/x'), filter: { cameras: ['one'] } }, /cameras/],
		[{ url: receiver.url('/x'), filter: { hours: [{ from: '22:00', to: '25:00' }] } }, /HH:MM/],
		[{ url: receiver.url('/x'), filter: { who: 'all' } }, /unknown field/],
		[{ events: ['event'] }, /url/],
		[{ url: `${receiver.url('/x')}?${'a'.repeat(2000)}` }, /url|longer/],
	];
	for (const [json, why] of bad) {
		const r = await call('POST', '/api/v1/webhooks', { json });
		assert.equal(r.status, 400, `${JSON.stringify(json).slice(0, 80)} -> ${r.status} ${JSON.stringify(r.data)}`);
		assert.equal(r.data.error.code, 'bad_request');
		assert.match(r.data.error.message, why);
	}
	assert.equal((await call('POST', '/api/v1/webhooks', { json: '{"url": "http://x/"' })).status, 400);
	// A refused URL never shows its password.
	const r = await call('POST', '/api/v1/webhooks', { json: { url: `ftp://u:${URL_PASSWORD}@127.0.0.1/` } });
	assert.equal(r.status, 400);
	assert.ok(!JSON.stringify(r.data).includes(URL_PASSWORD));
	assert.deepEqual((await call('GET', '/api/v1/webhooks')).data.items, []);
});

test('only admins see or change webhooks and MQTT settings (403 for the other roles)', async () => {
	for (const role of ['analyst', 'recognition']) {
		const u = await call('POST', '/api/v1/users', { json: { username: `hook-${role}`, password: 'hook-pass-123', role } });
		assert.equal(u.status, 201);
	}
	const hook = (await call('POST', '/api/v1/webhooks', { json: { url: receiver.url('/roles'), events: ['alert'], enabled: false } })).data;
	for (const role of ['analyst', 'recognition']) {
		const login = await fetch(base + '/api/v1/auth/login', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ username: `hook-${role}`, password: 'hook-pass-123' }),
		});
		const as = (await login.json()).token;
		for (const [m, p, json] of [
			['GET', '/api/v1/webhooks'],
			['POST', '/api/v1/webhooks', { url: receiver.url('/no') }],
			['GET', `/api/v1/webhooks/${hook.id}`],
			['PATCH', `/api/v1/webhooks/${hook.id}`, { enabled: true }],
			['DELETE', `/api/v1/webhooks/${hook.id}`],
			['POST', `/api/v1/webhooks/${hook.id}/test`],
			['GET', `/api/v1/webhooks/${hook.id}/deliveries`],
			['GET', '/api/v1/mqtt'],
			['PATCH', '/api/v1/mqtt', { expression: true }],
		]) {
			const r = await call(m, p, { json, as });
			assert.equal(r.status, 403, `${m} ${p} as ${role}`);
		}
	}
	assert.ok(!receiver.got.some((g) => g.path === '/roles' || g.path === '/no'), 'nothing was sent for them');
	assert.equal((await call('DELETE', `/api/v1/webhooks/${hook.id}`)).status, 204);
	assert.equal((await call('GET', `/api/v1/webhooks/${hook.id}`)).status, 404);
});

test('events are POSTed signed: signature, delivery id and timestamp check out with node crypto', async () => {
	const url = `http://hook:${URL_PASSWORD}@127.0.0.1:${receiver.port}/events?token=tok-123`;
	const r = await call('POST', '/api/v1/webhooks', { json: { name: 'events', url, events: ['event'], secret: SECRET } });
	assert.equal(r.status, 201, JSON.stringify(r.data));
	const hook = r.data;
	// The reply never carries the secret, and shows the URL redacted.
	assert.equal(hook.has_secret, true);
	assert.equal(hook.secret, undefined);
	assert.ok(!JSON.stringify(hook).includes(SECRET));
	assert.ok(!hook.url.includes(URL_PASSWORD) && !hook.url.includes('tok-123'), hook.url);
	assert.match(hook.url, /^http:\/\/hook:\*\*\*@127\.0\.0\.1:\d+\/events\?token=\*\*\*$/);
	assert.deepEqual(hook.events, ['event']);
	assert.equal(hook.enabled, true);
	assert.equal(hook.expression, false);
	assert.deepEqual(hook.filter, { cameras: [], people: [], watchlist: false, known: false, unknown: false, hours: [] });
	const got = await until(() => receiver.got.filter((g) => g.path.startsWith('/events')).length >= 3, 20000);
	assert.ok(got, `no event delivered:\n${stderr.slice(-2000)}`);
	const deliveries = receiver.got.filter((g) => g.path.startsWith('/events'));
	for (const d of deliveries) {
		assert.equal(d.method, 'POST');
		assert.equal(d.path, '/events?token=tok-123');
		assert.equal(d.headers['content-type'], 'application/json');
		assert.ok(signatureValid(d, SECRET), `signature of ${d.raw.toString().slice(0, 120)}`);
		assert.ok(!signatureValid(d, SECRET + 'x'), 'another secret does not verify');
		// The credentials of the URL go as Basic authentication.
		assert.equal(d.headers.authorization, `Basic ${Buffer.from(`hook:${URL_PASSWORD}`).toString('base64')}`);
		assert.equal(d.headers['x-mien-event'], 'event');
		assert.equal(d.body.type, 'event');
		assert.match(d.headers['x-mien-delivery'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		assert.equal(d.body.delivery, d.headers['x-mien-delivery']);
		assert.equal(String(d.body.timestamp), d.headers['x-mien-timestamp']);
		assert.ok(Math.abs(d.body.timestamp * 1000 - d.at) < 5000, `timestamp ${d.body.timestamp} at ${d.at}`);
		assert.equal(d.body.attempt, 1);
		assert.equal(d.body.camera.name, 'demo');
		assert.equal(d.body.data.camera_id, d.body.camera.id);
		assert.equal(d.body.data.expression, undefined, 'no expression fields unless asked for');
		for (const k of ['id', 'track_id', 'person', 'similarity', 'started_at', 'ended_at', 'box', 'alert']) assert.ok(k in d.body.data, k);
	}
	// The data is the event as the API has it.
	const ev = (await call('GET', `/api/v1/events/${deliveries[0].body.data.id}`)).data;
	assert.equal(ev.started_at, deliveries[0].body.data.started_at);
	assert.equal(ev.track_id, deliveries[0].body.data.track_id);
	// Every delivery id is new.
	assert.equal(new Set(deliveries.map((d) => d.body.delivery)).size, deliveries.length);
	// The log lists them as delivered.
	const log = await until(async () => {
		const l = (await call('GET', `/api/v1/webhooks/${hook.id}/deliveries?limit=100`)).data.items;
		return l.filter((x) => x.status === 'delivered').length >= 3 ? l : null;
	}, 5000);
	assert.ok(log, 'deliveries logged');
	const one = log.find((x) => x.delivery === deliveries[0].body.delivery);
	assert.ok(one, 'the first delivery is in the log');
	assert.equal(one.type, 'event');
	assert.equal(one.status, 'delivered');
	assert.equal(one.http_status, 200);
	assert.equal(one.attempts, 1);
	assert.equal(one.subject, `event ${deliveries[0].body.data.id}`);
	// expression: true adds the expression fields.
	assert.equal((await call('PATCH', `/api/v1/webhooks/${hook.id}`, { json: { expression: true } })).status, 200);
	const mark = Date.now();
	const withExpr = await until(() => receiver.got.find((g) => g.path.startsWith('/events') && g.at > mark + 200 && g.body.data.expression), 20000);
	assert.ok(withExpr, 'an event with its expressions');
	assert.equal(typeof withExpr.body.data.expression.happy, 'number');
	// Disabled: nothing more.
	assert.equal((await call('PATCH', `/api/v1/webhooks/${hook.id}`, { json: { enabled: false } })).status, 200);
	await sleep(1000); /* deliveries already queued may still arrive */
	const count = () => receiver.got.filter((g) => g.path.startsWith('/events')).length;
	const stopped = count();
	await sleep(4000);
	assert.equal(count(), stopped, 'a disabled webhook gets nothing');
	// A PATCH that sends the redacted URL back keeps its secrets.
	const kept = await call('PATCH', `/api/v1/webhooks/${hook.id}`, { json: { url: hook.url, name: 'renamed' } });
	assert.equal(kept.status, 200);
	assert.equal(kept.data.url, hook.url);
	assert.equal((await call('PATCH', `/api/v1/webhooks/${hook.id}`, { json: { url: hook.url.replace('127.0.0.1', 'localhost') } })).status, 400);
});

test('the test button delivers a signed test at once and reports the outcome', async () => {
	const hook = (await call('POST', '/api/v1/webhooks', { json: { url: receiver.url('/button'), events: ['alert'], secret: SECRET } })).data;
	const r = await call('POST', `/api/v1/webhooks/${hook.id}/test`);
	assert.equal(r.status, 200, JSON.stringify(r.data));
	assert.equal(r.data.delivered, true);
	assert.equal(r.data.http_status, 200);
	const got = receiver.got.find((g) => g.path === '/button');
	assert.ok(got, 'the receiver got the test');
	assert.equal(got.body.type, 'test');
	assert.equal(got.body.delivery, r.data.delivery);
	assert.equal(got.body.data.webhook_id, hook.id);
	assert.ok(signatureValid(got, SECRET));
	// Without a secret: no signature header at all.
	assert.equal((await call('PATCH', `/api/v1/webhooks/${hook.id}`, { json: { secret: null } })).data.has_secret, false);
	assert.equal((await call('POST', `/api/v1/webhooks/${hook.id}/test`)).data.delivered, true);
	const unsigned = receiver.got.filter((g) => g.path === '/button').at(-1);
	assert.equal(unsigned.headers['x-mien-signature'], undefined);
	// A receiver that is not there: a failed test, said in a 200, logged.
	const dead = (await call('POST', '/api/v1/webhooks', { json: { url: 'http://127.0.0.1:9/dead', events: ['alert'] } })).data;
	const failed = await call('POST', `/api/v1/webhooks/${dead.id}/test`);
	assert.equal(failed.status, 200);
	assert.equal(failed.data.delivered, false);
	assert.equal(failed.data.http_status, null);
	assert.ok(failed.data.error.length > 0);
	const log = (await call('GET', `/api/v1/webhooks/${dead.id}/deliveries`)).data.items;
	assert.equal(log.length, 1);
	assert.equal(log[0].type, 'test');
	assert.equal(log[0].status, 'failed');
	assert.equal((await call('POST', '/api/v1/webhooks/999999/test')).status, 404);
	assert.equal((await call('GET', '/api/v1/webhooks/999999/deliveries')).status, 404);
	for (const id of [hook.id, dead.id]) assert.equal((await call('DELETE', `/api/v1/webhooks/${id}`)).status, 204);
});

test('a 500 is retried with backoff and the retry is delivered; the log says two attempts', async () => {
	const hook = (await call('POST', '/api/v1/webhooks', { json: { url: receiver.url('/flaky'), events: ['event'], secret: SECRET } })).data;
	const twice = await until(() => {
		const byId = new Map();
		for (const g of receiver.got.filter((x) => x.path === '/flaky')) byId.set(g.body.delivery, [...(byId.get(g.body.delivery) || []), g]);
		return [...byId.values()].find((v) => v.length >= 2);
	}, 20000);
	assert.ok(twice, `no retry seen:\n${stderr.slice(-2000)}`);
	const [first, second] = twice;
	assert.equal(first.body.attempt, 1);
	assert.equal(second.body.attempt, 2);
	assert.ok(second.at - first.at >= 250, `the retry waited ${second.at - first.at} ms (MIEN_WEBHOOK_RETRY_MS=300)`);
	assert.ok(signatureValid(first, SECRET) && signatureValid(second, SECRET), 'each attempt is signed');
	assert.equal(first.body.data.id, second.body.data.id);
	const logged = await until(async () => {
		const l = (await call('GET', `/api/v1/webhooks/${hook.id}/deliveries?limit=100`)).data.items;
		return l.find((x) => x.delivery === first.body.delivery && x.status === 'delivered');
	}, 5000);
	assert.ok(logged, 'the delivery is logged as delivered');
	assert.equal(logged.attempts, 2);
	const metrics = await (await fetch(base + '/metrics')).text();
	assert.ok(Number(/^mien_webhook_deliveries_total\{result="retried"\} (\d+)$/m.exec(metrics)?.[1]) >= 1, 'retries counted');
	assert.ok(Number(/^mien_webhook_deliveries_total\{result="delivered"\} (\d+)$/m.exec(metrics)?.[1]) >= 2, 'deliveries counted');
	assert.match(metrics, /^mien_webhook_queue \d+$/m);
	assert.match(metrics, /^mien_notify_dropped_total 0$/m);
	assert.equal((await call('DELETE', `/api/v1/webhooks/${hook.id}`)).status, 204);
});

test('a redirect elsewhere is not followed: nothing reaches the other address, the delivery fails without retry', async () => {
	const hook = (await call('POST', '/api/v1/webhooks', { json: { url: receiver.url('/redirect'), events: ['event'] } })).data;
	const failed = await until(async () => {
		const l = (await call('GET', `/api/v1/webhooks/${hook.id}/deliveries`)).data.items;
		return l.find((x) => x.status === 'failed');
	}, 20000);
	assert.ok(failed, 'a failed delivery');
	assert.equal(failed.http_status, 302);
	assert.equal(failed.attempts, 1, 'a 3xx is final');
	assert.match(failed.error, /302/);
	assert.ok(receiver.got.some((g) => g.path === '/redirect'));
	assert.equal(elsewhere.got.length, 0, 'the redirect target got nothing');
	assert.equal((await call('DELETE', `/api/v1/webhooks/${hook.id}`)).status, 204);
});

test('filters decide who is told: another camera or a time window that is not now gets nothing', async () => {
	const demo = (await call('GET', '/api/v1/cameras')).data.items.find((c) => c.name === 'demo');
	const now = new Date();
	const hhmm = (d) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
	const later = new Date(now.getTime() + 3 * 3600e3), later2 = new Date(now.getTime() + 4 * 3600e3);
	const mk = async (path, filter) =>
		(await call('POST', '/api/v1/webhooks', { json: { url: receiver.url(path), events: ['event', 'camera'], filter } })).data;
	const other = await mk('/other-camera', { cameras: [demo.id + 1000] });
	const notNow = await mk('/not-now', { hours: [{ from: hhmm(later), to: hhmm(later2) }] });
	const unknowns = await mk('/unknowns-here', { cameras: [demo.id], unknown: true });
	const known = await mk('/known-only', { known: true });
	assert.deepEqual(unknowns.filter.cameras, [demo.id]);
	const seen = await until(() => receiver.got.filter((g) => g.path === '/unknowns-here').length >= 3, 20000);
	assert.ok(seen, 'the matching webhook gets events');
	for (const g of receiver.got.filter((x) => x.path === '/unknowns-here')) assert.equal(g.body.data.person, null);
	await sleep(2000);
	for (const p of ['/other-camera', '/not-now', '/known-only'])
		assert.equal(receiver.got.filter((g) => g.path === p).length, 0, `${p} got nothing (nobody is enrolled)`);
	for (const h of [other, notNow, unknowns, known]) assert.equal((await call('DELETE', `/api/v1/webhooks/${h.id}`)).status, 204);
});

test('camera status goes to webhooks that take "camera"', async () => {
	const hook = (await call('POST', '/api/v1/webhooks', { json: { url: receiver.url('/status'), events: ['camera'] } })).data;
	// A new camera that cannot connect changes status within a moment.
	const cam = await call('POST', '/api/v1/cameras', { json: { name: 'nowhere', url: 'rtsp://127.0.0.1:9/none' } });
	assert.equal(cam.status, 201);
	const got = await until(() => receiver.got.find((g) => g.path === '/status' && g.body.data.id === cam.data.id), 15000);
	assert.ok(got, `no camera message:\n${stderr.slice(-1500)}`);
	assert.equal(got.body.type, 'camera');
	assert.equal(got.body.camera.name, 'nowhere');
	assert.ok(['offline', 'reconnecting', 'online'].includes(got.body.data.status), got.body.data.status);
	assert.ok(!receiver.got.some((g) => g.path === '/status' && g.body.type !== 'camera'));
	assert.equal((await call('DELETE', `/api/v1/cameras/${cam.data.id}`)).status, 204);
	assert.equal((await call('DELETE', `/api/v1/webhooks/${hook.id}`)).status, 204);
});
