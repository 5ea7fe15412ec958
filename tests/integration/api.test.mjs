// api.test.mjs — the HTTP API end to end: a real `build/mien serve` on a loopback port, driven with Node's own
// fetch and raw sockets (no npm packages).
//
// `make check-integration` runs it twice: MIEN_IT_DB=sqlite (a database in a temporary folder) and
// MIEN_IT_DB=postgresql under scripts/testdb.sh (MIEN_TEST_PG names a throw-away server). Expected statuses
// are written here from DESIGN.md's role rules and docs/api.md, never read back from the server. Face counts
// of the demo photos come from their labels (face_counts.csv: sample1.jpg has 3 faces).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { png } from './pictures.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien'); // MIEN_IT_BIN=build/asan/mien: under ASan
const SEED = join(ROOT, 'build/tests/seed');
const SAMPLE1 = join(ROOT, 'models/samples/sample1.jpg');

const backend = process.env.MIEN_IT_DB || 'sqlite';
const tmp = mkdtempSync(join(tmpdir(), 'mien-it-'));
let DB;
if (backend === 'postgresql') {
	DB = process.env.MIEN_TEST_PG;
	if (!DB) throw new Error('MIEN_IT_DB=postgresql needs MIEN_TEST_PG (run under scripts/testdb.sh)');
} else {
	DB = `sqlite:${join(tmp, 'mien.db')}`;
}

let server, port, base, stderr = '', stdout = '';
let adminPassword;
const tok = {}; // role name -> Bearer token
const ids = {};

// --- helpers ----------------------------------------------------------------------------------------------

async function api(method, path, { token, json, body, type, headers = {}, headersOnly = false } = {}) {
	const h = { ...headers };
	if (token) h.Authorization = `Bearer ${token}`;
	if (json !== undefined) {
		body = typeof json === 'string' ? json : JSON.stringify(json);
		h['Content-Type'] = type ?? 'application/json';
	} else if (type) {
		h['Content-Type'] = type;
	}
	const res = await fetch(base + path, { method, headers: h, body });
	if (headersOnly && res.status === 200) {
		await res.body.cancel(); // a stream: the status is what counts here
		return { status: res.status, data: null, buf: Buffer.alloc(0), headers: res.headers };
	}
	const buf = Buffer.from(await res.arrayBuffer());
	let data = null;
	if ((res.headers.get('content-type') || '').startsWith('application/json') && buf.length) data = JSON.parse(buf);
	return { status: res.status, data, buf, headers: res.headers };
}

// One request written by hand, for what fetch would normalise (dot segments, %2e, huge headers).
function raw(text) {
	return new Promise((resolve, reject) => {
		const s = net.connect(port, '127.0.0.1');
		let got = '';
		s.on('data', (d) => (got += d.toString('latin1')));
		s.on('end', () => resolve(Number((/^HTTP\/1\.1 (\d+)/.exec(got) || [])[1] || 0)));
		s.on('error', (e) => (got ? resolve(Number((/^HTTP\/1\.1 (\d+)/.exec(got) || [])[1] || 0)) : reject(e)));
		s.write(text);
	});
}
const rawGet = (path, extra = '') => raw(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`);

// A PNG whose header claims w x h but carries almost no data.
function pngHeaderOnly(w, h) {
	const full = png(1, 1);
	full.writeUInt32BE(w, 16);
	full.writeUInt32BE(h, 20);
	return full; // the IHDR CRC no longer matches either: any decoder must refuse it without allocating w*h
}

function multipart(field, bytes, type = 'image/jpeg', boundary = 'XyZ123boundary') {
	return {
		body: Buffer.concat([
			Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n`),
			Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="a.jpg"\r\nContent-Type: ${type}\r\n\r\n`),
			bytes,
			Buffer.from(`\r\n--${boundary}--\r\n`),
		]),
		type: `multipart/form-data; boundary=${boundary}`,
	};
}

function seed(...args) {
	return execFileSync(SEED, args, { encoding: 'utf8' });
}

async function login(username, password) {
	const r = await api('POST', '/api/v1/auth/login', { json: { username, password } });
	assert.equal(r.status, 200, `login ${username}: ${JSON.stringify(r.data)}`);
	return r;
}

// --- server life cycle ------------------------------------------------------------------------------------

const web = join(tmp, 'web');
before(async () => {
	mkdirSync(join(web, 'assets'), { recursive: true });
	writeFileSync(join(web, 'index.html'), '<!doctype html><title>dash</title>');
	writeFileSync(join(web, 'assets', 'app.js'), 'console.log(1)');
	writeFileSync(join(tmp, 'secret.txt'), 'outside');
	symlinkSync(join(tmp, 'secret.txt'), join(web, 'leak.txt'));
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: { ...process.env, MIEN_DB: DB, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_WEB: web, MIEN_MODELS: join(ROOT, 'models') },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (stdout += d));
	server.stderr.on('data', (d) => (stderr += d));
	server.on('exit', (code, sig) => {
		if (code || (sig && sig !== 'SIGTERM')) process.stderr.write(`mien serve exited with ${code ?? sig}:\n${stderr}\n`);
	});
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout)) {
		if (server.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`server did not start:\n${stderr}\n${stdout}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	port = Number(/serving on port (\d+)/.exec(stderr)[1]);
	adminPassword = /password (\S+)/.exec(stdout)[1];
	base = `http://127.0.0.1:${port}`;
});

after(async () => {
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	// A clean shutdown (no sanitizer report, no leak) exits 0.
	assert.equal(server.exitCode, 0, `mien serve exit status:\n${stderr.slice(-4000)}`);
	rmSync(tmp, { recursive: true, force: true });
});

// --- the tests, in order (later ones rely on the fixtures of the first) ------------------------------------

test('first start: an admin with a random password, printed once and never logged', async () => {
	assert.match(adminPassword, /^[A-Za-z0-9]{20}$/);
	assert.ok(!stderr.includes(adminPassword), 'the password must not reach the log');
	const r = await login('admin', adminPassword);
	assert.equal(r.data.role, 'admin');
	assert.match(r.data.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
	const cookie = r.headers.get('set-cookie');
	assert.match(cookie, /HttpOnly/);
	assert.match(cookie, /SameSite=Strict/);
	tok.admin = r.data.token;
});

test('fixtures: cameras, users of every role, a person, events and alerts', async () => {
	for (const name of ['A', 'B']) {
		const r = await api('POST', '/api/v1/cameras', { token: tok.admin, json: { name: `cam${name}`, url: `rtsp://viewer:s3cret-${name}@10.0.0.${name === 'A' ? 1 : 2}/live` } });
		assert.equal(r.status, 201, JSON.stringify(r.data));
		ids[`cam${name}`] = r.data.id;
	}
	const users = [
		['rec', 'recognition', null],
		['ana', 'analyst', null],
		['anaA', 'analyst', [ids.camA]],
		['recA', 'recognition', [ids.camA]],
		['admA', 'admin', [ids.camA]],
	];
	for (const [name, role, cams] of users) {
		const body = { username: name, password: `pw-${name}-12345`, role };
		if (cams) Object.assign(body, { all_cameras: false, cameras: cams });
		const r = await api('POST', '/api/v1/users', { token: tok.admin, json: body });
		assert.equal(r.status, 201, JSON.stringify(r.data));
		assert.ok(!('password_hash' in r.data) && !('password' in r.data));
		ids[`user_${name}`] = r.data.id;
		tok[name] = (await login(name, `pw-${name}-12345`)).data.token;
	}
	// A user who never signs in before the rate-limit test locks it.
	const lockme = await api('POST', '/api/v1/users', { token: tok.admin, json: { username: 'lockme', password: 'pw-lockme-12345', role: 'recognition' } });
	assert.equal(lockme.status, 201, JSON.stringify(lockme.data));
	tok.recognition = tok.rec;
	tok.analyst = tok.ana;
	const p = await api('POST', '/api/v1/people', { token: tok.admin, json: { name: 'Ada', note: 'private note', watchlist: true } });
	assert.equal(p.status, 201);
	ids.ada = p.data.id;
	const a = JSON.parse(seed('events', DB, String(ids.camA), String(ids.ada), '3'));
	const b = JSON.parse(seed('events', DB, String(ids.camB), '0', '2'));
	Object.assign(ids, { evA: a.events, alA: a.alerts, evB: b.events, alB: b.alerts });
});

// The calibrated defaults of docs/accuracy.md (the 0.1 % false-accept point on LFW), by embedder.
const MODEL_DEFAULT = { face_recognition: 0.93, 'face_recognition-v2': 0.933, faceres: 0.665 };

test('settings: snapshot size and quality validated; the threshold in force', async () => {
	const A = { token: tok.admin };
	const s0 = await api('GET', '/api/v1/settings', A);
	assert.equal(s0.status, 200);
	assert.equal(s0.data.snapshot_width, 640, 'default snapshot width (docs/storage.md)');
	assert.equal(s0.data.snapshot_quality, 70, 'default snapshot quality');
	const bad = [
		{ snapshot_width: 159 },
		{ snapshot_width: 1 },
		{ snapshot_width: 3841 },
		{ snapshot_width: -1 },
		{ snapshot_width: 640.5 },
		{ snapshot_width: '640' },
		{ snapshot_width: null },
		{ snapshot_quality: 29 },
		{ snapshot_quality: 96 },
		{ snapshot_quality: true },
		{ recognition_threshold_in_force: 0.5 },
		{ recognition_model: 'faceres' },
		{ snapshot_quality: 80, snapshot_width: 100 }, // one bad field: nothing is written
	];
	for (const json of bad) {
		const r = await api('PATCH', '/api/v1/settings', { ...A, json });
		assert.equal(r.status, 400, `${JSON.stringify(json)}: ${r.status} ${JSON.stringify(r.data)}`);
		assert.equal(typeof r.data?.error?.message, 'string');
	}
	assert.equal((await api('GET', '/api/v1/settings', A)).data.snapshot_quality, 70, 'a refused PATCH changes nothing');
	for (const [json, want] of [
		[{ snapshot_width: 0 }, { snapshot_width: 0 }],
		[{ snapshot_width: 160, snapshot_quality: 30 }, { snapshot_width: 160, snapshot_quality: 30 }],
		[{ snapshot_width: 3840, snapshot_quality: 95 }, { snapshot_width: 3840, snapshot_quality: 95 }],
		[{ snapshot_width: 640, snapshot_quality: 70 }, { snapshot_width: 640, snapshot_quality: 70 }],
	]) {
		const r = await api('PATCH', '/api/v1/settings', { ...A, json });
		assert.equal(r.status, 200, JSON.stringify(r.data));
		for (const [k, v] of Object.entries(want)) assert.equal(r.data[k], v, k);
	}
	// Not for the lesser roles.
	for (const role of ['recognition', 'analyst'])
		assert.equal((await api('PATCH', '/api/v1/settings', { token: tok[role], json: { snapshot_width: 320 } })).status, 403);

	// The threshold in force: the model's calibrated default while the setting is null, the setting once set.
	let r = await api('PATCH', '/api/v1/settings', { ...A, json: { recognition_threshold: null } });
	assert.equal(r.status, 200);
	const model = r.data.recognition_model;
	assert.ok(model in MODEL_DEFAULT, `the embedder in use: ${model}`);
	assert.equal(r.data.recognition_threshold, null);
	assert.equal(r.data.recognition_model_default, MODEL_DEFAULT[model]);
	assert.equal(r.data.recognition_threshold_in_force, MODEL_DEFAULT[model]);
	r = await api('PATCH', '/api/v1/settings', { ...A, json: { recognition_threshold: 0.42 } });
	assert.equal(r.data.recognition_threshold, 0.42);
	assert.equal(r.data.recognition_threshold_in_force, 0.42);
	assert.equal((await api('GET', '/api/v1/settings', A)).data.recognition_threshold_in_force, 0.42);
	r = await api('PATCH', '/api/v1/settings', { ...A, json: { recognition_threshold: null } });
	assert.equal(r.data.recognition_threshold_in_force, MODEL_DEFAULT[model]);
});

test('storage: database size, picture bytes, the rate and the days it holds; admins only', async () => {
	for (const [role, want] of [['recognition', 403], ['analyst', 403]])
		assert.equal((await api('GET', '/api/v1/storage', { token: tok[role] })).status, want, role);
	assert.equal((await api('GET', '/api/v1/storage')).status, 401);
	const r = await api('GET', '/api/v1/storage', { token: tok.admin });
	assert.equal(r.status, 200, JSON.stringify(r.data));
	const st = r.data;
	// The pictures counted against the ones the API serves: every event's snapshot and face crop.
	const list = await api('GET', '/api/v1/events?limit=100', { token: tok.admin });
	let bytes = 0;
	for (const e of list.data.items)
		for (const pic of ['snapshot.jpg', 'face.jpg']) {
			const p = await api('GET', `/api/v1/events/${e.id}/${pic}`, { token: tok.admin });
			if (p.status === 200) bytes += p.buf.length;
		}
	assert.equal(st.events, list.data.items.length);
	assert.equal(st.events, 5, 'the five seeded events');
	assert.ok(bytes > 0);
	assert.equal(st.picture_bytes, bytes);
	assert.equal(st.bytes_per_event, Math.floor(bytes / 5));
	assert.ok(Number.isInteger(st.database_bytes) && st.database_bytes > bytes, `database_bytes ${st.database_bytes}`);
	// The seeded events started a minute ago: the rate is that of the last 24 h.
	assert.equal(st.rate_window_days, 1);
	assert.equal(st.events_per_day, 5);
	assert.equal(st.bytes_per_day, bytes);
	assert.equal(st.retention_days, (await api('GET', '/api/v1/settings', { token: tok.admin })).data.retention_days);
	assert.equal(st.retention_bounded, st.retention_days > 0);
	assert.equal(st.retained_bytes, bytes * st.retention_days);
	if (backend === 'sqlite') {
		assert.ok(Number.isInteger(st.free_bytes) && st.free_bytes > 0, `free_bytes ${st.free_bytes}`);
		// free space on a shared disk moves between two reads: within 1 %
		assert.ok(Math.abs(st.days_left - st.free_bytes / bytes) <= 0.01 * st.days_left + 0.1, `days_left ${st.days_left}`);
		assert.equal(st.retention_fits, bytes * st.retention_days <= st.free_bytes + bytes);
	} else {
		assert.equal(st.free_bytes, null, 'a PostgreSQL server\'s disk is not visible here');
		assert.equal(st.days_left, null);
		assert.equal(st.retention_fits, null);
	}
	// Without a retention the pictures are not bounded.
	assert.equal((await api('PATCH', '/api/v1/settings', { token: tok.admin, json: { retention_days: 0 } })).status, 200);
	const unbounded = (await api('GET', '/api/v1/storage', { token: tok.admin })).data;
	assert.equal(unbounded.retention_bounded, false);
	assert.equal(unbounded.retained_bytes, null);
	assert.equal((await api('PATCH', '/api/v1/settings', { token: tok.admin, json: { retention_days: st.retention_days } })).status, 200);
});

test('OpenAPI document and router list the same routes', async () => {
	const r = await api('GET', '/api/v1/openapi.json');
	assert.equal(r.status, 200);
	assert.equal(r.data.openapi.slice(0, 2), '3.');
	const doc = new Set();
	for (const [path, ops] of Object.entries(r.data.paths))
		for (const m of Object.keys(ops)) doc.add(`${m.toUpperCase()} ${path}`);
	const routes = new Set(execFileSync(MIEN, ['serve', '--routes'], { encoding: 'utf8' }).trim().split('\n'));
	assert.deepEqual([...routes].filter((x) => !doc.has(x)), [], 'routes missing from the document');
	assert.deepEqual([...doc].filter((x) => !routes.has(x)), [], 'documented routes the server lacks');
});

test('role x route matrix', async (t) => {
	const roles = ['anon', 'recognition', 'analyst', 'admin'];
	const faceless = png(64, 64);
	// Throw-away targets for the admin's deletions.
	const mk = async (path, json) => (await api('POST', path, { token: tok.admin, json })).data.id;
	const delPerson = await mk('/api/v1/people', { name: 'to-delete' });
	const delCamera = await mk('/api/v1/cameras', { name: 'to-delete', url: 'http://cam/x' });
	const patchUser = await mk('/api/v1/users', { username: 'patchme', password: 'patchme-123', role: 'analyst' });
	const delUser = await mk('/api/v1/users', { username: 'deleteme', password: 'deleteme-123', role: 'analyst' });
	// Webhooks to a port where nothing listens (9, discard): a test delivery fails at once, and says so in a 200.
	const hook = await mk('/api/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['alert'] });
	const delHook = await mk('/api/v1/webhooks', { url: 'http://127.0.0.1:9/other', events: ['event'] });
	let n = 0;
	const D = '401,403,403'; // admin-only routes: anonymous 401, the two lesser roles 403
	const cells = [
		['GET', '/healthz', null, '200,200,200,200'],
		['GET', '/readyz', null, '200,200,200,200'],
		['GET', '/metrics', null, '200,200,200,200'],
		['GET', '/api/v1/openapi.json', null, '200,200,200,200'],
		['POST', '/api/v1/auth/login', () => ({ json: { username: 'ana', password: 'pw-ana-12345' } }), '200,200,200,200'],
		['POST', '/api/v1/auth/logout', 'fresh', '401,204,204,204'],
		['GET', '/api/v1/me', null, '401,200,200,200'],
		['POST', '/api/v1/analyze', () => ({ body: faceless, type: 'image/png' }), '401,200,200,200'],
		['GET', '/api/v1/people', null, '401,200,200,200'],
		['POST', '/api/v1/people', () => ({ json: { name: `matrix-${n++}` } }), `${D},201`],
		['GET', `/api/v1/people/${ids.ada}`, null, '401,200,200,200'],
		['PATCH', `/api/v1/people/${ids.ada}`, () => ({ json: { note: 'private note' } }), `${D},200`],
		['DELETE', `/api/v1/people/${delPerson}`, null, `${D},204`],
		['POST', `/api/v1/people/${ids.ada}/faces`, () => ({ body: faceless, type: 'image/png' }), `${D},422`],
		['GET', `/api/v1/people/${ids.ada}/faces`, null, `${D},200`],
		['DELETE', `/api/v1/people/${ids.ada}/faces/999999`, null, `${D},404`],
		['GET', `/api/v1/people/${ids.ada}/faces/999999/thumbnail.jpg`, null, `${D},404`],
		['GET', '/api/v1/cameras', null, '401,200,200,200'],
		['POST', '/api/v1/cameras', () => ({ json: { name: `matrix-cam-${n++}`, url: 'http://cam/y' } }), `${D},201`],
		['GET', `/api/v1/cameras/${ids.camA}`, null, '401,200,200,200'],
		['PATCH', `/api/v1/cameras/${ids.camA}`, () => ({ json: { enabled: true } }), `${D},200`],
		['DELETE', `/api/v1/cameras/${delCamera}`, null, `${D},204`],
		// camA points at an address where nothing answers: it runs, but has no picture to show yet.
		['GET', `/api/v1/cameras/${ids.camA}/live.mjpg`, null, '401,503,503,503'],
		['GET', `/api/v1/cameras/${ids.camA}/snapshot.jpg`, null, '401,503,503,503'],
		['GET', '/api/v1/events', null, '401,200,200,200'],
		['GET', `/api/v1/events/${ids.evA[0]}`, null, '401,200,200,200'],
		['GET', `/api/v1/events/${ids.evA[0]}/snapshot.jpg`, null, '401,200,200,200'],
		['GET', `/api/v1/events/${ids.evA[0]}/face.jpg`, null, '401,200,200,200'],
		// a picture without a face: every signed-in role may search, and is told there is no face
		['POST', '/api/v1/search/faces', () => ({ body: faceless, type: 'image/png' }), '401,422,422,422'],
		['GET', '/api/v1/alerts', null, `${D},200`],
		['POST', `/api/v1/alerts/${ids.alA[0]}/ack`, null, `${D},200`],
		['GET', '/api/v1/users', null, `${D},200`],
		['POST', '/api/v1/users', () => ({ json: { username: `m${n++}`, password: 'matrix-pass', role: 'recognition' } }), `${D},201`],
		['PATCH', `/api/v1/users/${patchUser}`, () => ({ json: { role: 'recognition' } }), `${D},200`],
		['DELETE', `/api/v1/users/${delUser}`, null, `${D},204`],
		['GET', '/api/v1/settings', null, `${D},200`],
		['PATCH', '/api/v1/settings', () => ({ json: { validated: true } }), `${D},200`],
		['GET', '/api/v1/storage', null, `${D},200`],
		['GET', '/api/v1/audit', null, `${D},200`],
		['GET', '/api/v1/webhooks', null, `${D},200`],
		['POST', '/api/v1/webhooks', () => ({ json: { url: 'http://127.0.0.1:9/x', events: ['event', 'alert'] } }), `${D},201`],
		['GET', `/api/v1/webhooks/${hook}`, null, `${D},200`],
		['PATCH', `/api/v1/webhooks/${hook}`, () => ({ json: { enabled: true } }), `${D},200`],
		['DELETE', `/api/v1/webhooks/${delHook}`, null, `${D},204`],
		['POST', `/api/v1/webhooks/${hook}/test`, null, `${D},200`],
		['GET', `/api/v1/webhooks/${hook}/deliveries`, null, `${D},200`],
		['GET', '/api/v1/mqtt', null, `${D},200`],
		['PATCH', '/api/v1/mqtt', () => ({ json: { expression: false } }), `${D},200`],
		['GET', '/api/v1/stream', () => ({ headersOnly: true }), '401,200,200,200'],
		['GET', '/api/v1/unknowns', null, '401,200,200,200'],
		['GET', '/api/v1/unknowns/999999', null, '401,404,404,404'],
		['DELETE', '/api/v1/unknowns/999999', null, `${D},404`],
		['POST', '/api/v1/unknowns/999999/assign', () => ({ json: { person_id: ids.ada } }), `${D},404`],
		['POST', '/api/v1/unknowns/999999/merge', () => ({ json: { from: 999998 } }), `${D},404`],
		['POST', '/api/v1/unknowns/999999/dismiss', () => ({ json: { dismissed: true } }), `${D},404`],
		['DELETE', '/api/v1/unknowns/999999/events/1', null, `${D},404`],
		['POST', '/api/v1/events/999999/corrections', () => ({ json: { person_id: ids.ada, verdict: 'not' } }), `${D},404`],
		['GET', '/api/v1/corrections', null, `${D},200`],
		['DELETE', '/api/v1/corrections/999999', null, `${D},404`],
		['GET', '/api/v1/alert-rules', null, `${D},200`],
		['POST', '/api/v1/alert-rules', () => ({ json: { kind: 'unknown', from: '22:00', to: '06:00' } }), `${D},201`],
		['PATCH', '/api/v1/alert-rules/999999', () => ({ json: { enabled: false } }), `${D},404`],
		['DELETE', '/api/v1/alert-rules/999999', null, `${D},404`],
	];
	// Every route of the server has a row here.
	const routes = execFileSync(MIEN, ['serve', '--routes'], { encoding: 'utf8' }).trim().split('\n');
	for (const rt of routes) {
		const [m, pattern] = rt.split(' ');
		const re = new RegExp('^' + pattern.replace(/\{[a-z_]+\}/g, '\\d+').replace(/\./g, '\\.') + '$');
		assert.ok(cells.some(([cm, cp]) => cm === m && re.test(cp)), `no matrix row for ${rt}`);
	}
	for (const [method, path, make, expect] of cells) {
		const want = expect.split(',').map(Number);
		for (let i = 0; i < roles.length; i++) {
			const role = roles[i];
			let token = role === 'anon' ? undefined : tok[role];
			if (make === 'fresh' && role !== 'anon') {
				const u = { recognition: ['rec', 'pw-rec-12345'], analyst: ['ana', 'pw-ana-12345'], admin: ['admin', adminPassword] }[role];
				token = (await login(...u)).data.token;
			}
			const opts = typeof make === 'function' ? make() : {};
			const r = await api(method, path, { token, ...opts });
			assert.equal(r.status, want[i], `${method} ${path} as ${role}: ${JSON.stringify(r.data)}`);
			if (r.status >= 400) {
				assert.equal(typeof r.data?.error?.code, 'string', `${method} ${path}: error shape`);
				assert.equal(typeof r.data.error.message, 'string');
			}
		}
	}
	t.diagnostic(`${cells.length} routes x ${roles.length} roles`);
});

test('cameras outside the user list are invisible (404, never in lists)', async () => {
	for (const who of ['anaA', 'recA', 'admA']) {
		const t = tok[who];
		const list = await api('GET', '/api/v1/events?limit=1000', { token: t });
		assert.equal(list.status, 200);
		assert.ok(list.data.items.length >= ids.evA.length);
		assert.ok(list.data.items.every((e) => e.camera_id === ids.camA), `${who} sees only camera A`);
		for (const id of ids.evB) {
			assert.equal((await api('GET', `/api/v1/events/${id}`, { token: t })).status, 404, `${who} event B`);
			assert.equal((await api('GET', `/api/v1/events/${id}/snapshot.jpg`, { token: t })).status, 404);
			assert.equal((await api('GET', `/api/v1/events/${id}/face.jpg`, { token: t })).status, 404);
		}
		const byCam = await api('GET', `/api/v1/events?camera=${ids.camB}`, { token: t });
		assert.deepEqual(byCam.data.items, []);
		assert.equal((await api('GET', `/api/v1/cameras/${ids.camB}`, { token: t })).status, 404);
		const cams = await api('GET', '/api/v1/cameras', { token: t });
		assert.deepEqual(cams.data.items.map((c) => c.id), [ids.camA]);
	}
	const alerts = await api('GET', '/api/v1/alerts?limit=1000', { token: tok.admA });
	assert.ok(alerts.data.items.every((a) => a.camera_id === ids.camA));
	assert.equal((await api('POST', `/api/v1/alerts/${ids.alB[0]}/ack`, { token: tok.admA })).status, 404);
	const all = await api('GET', '/api/v1/events?limit=1000', { token: tok.admin });
	assert.ok(ids.evB.every((id) => all.data.items.some((e) => e.id === id)), 'an unlimited admin sees camera B');
});

test('field filtering: no expression data for recognition users, no notes below admin', async () => {
	const hasExpr = (o) => JSON.stringify(o).includes('expression');
	const ev = await api('GET', '/api/v1/events', { token: tok.rec });
	assert.ok(ev.data.items.length > 0);
	assert.ok(!hasExpr(ev.data), 'events list');
	assert.ok(!hasExpr((await api('GET', `/api/v1/events/${ids.evA[0]}`, { token: tok.rec })).data), 'one event');
	assert.equal((await api('GET', '/api/v1/events?expression=happy', { token: tok.rec })).status, 403);
	const evAna = await api('GET', `/api/v1/events/${ids.evA[0]}`, { token: tok.ana });
	assert.equal(evAna.data.dominant_expression, 'happy');
	assert.equal(Object.keys(evAna.data.expression).length, 7);
	for (const k of ['id', 'camera_id', 'track_id', 'person', 'similarity', 'started_at', 'ended_at', 'box', 'alert'])
		assert.ok(k in evAna.data, `event field ${k}`);
	assert.deepEqual(evAna.data.person, { id: ids.ada, name: 'Ada' });
	const filtered = await api('GET', '/api/v1/events?expression=happy', { token: tok.ana });
	assert.ok(filtered.data.items.length >= ids.evA.length);
	// analyze: a crop around one face of sample1.jpg
	const crop = join(tmp, 'face.jpg');
	seed('crop', SAMPLE1, '755', '368', '370', '370', '300', crop);
	const img = readFileSync(crop);
	const an = await api('POST', '/api/v1/analyze', { token: tok.rec, body: img, type: 'image/jpeg' });
	assert.equal(an.status, 200);
	assert.ok(an.data.faces.length >= 1);
	assert.ok(!hasExpr(an.data), 'analyze output for recognition');
	const an2 = await api('POST', '/api/v1/analyze', { token: tok.ana, body: img, type: 'image/jpeg' });
	assert.ok('expression' in an2.data.faces[0] && 'dominant_expression' in an2.data.faces[0]);
	for (const k of ['box', 'score', 'landmarks', 'identity']) assert.ok(k in an2.data.faces[0]);
	const person = await api('GET', `/api/v1/people/${ids.ada}`, { token: tok.rec });
	assert.deepEqual(person.data, { id: ids.ada, name: 'Ada' });
	const people = await api('GET', '/api/v1/people', { token: tok.ana });
	assert.ok(!JSON.stringify(people.data).includes('private note'));
});

test('CSRF: cookie-authenticated changes need this server origin; Bearer does not', async () => {
	const cookie = `mien_session=${tok.admin}`;
	const body = (n) => JSON.stringify({ name: `csrf-${n}` });
	const post = (headers, n) => api('POST', '/api/v1/people', { json: body(n), headers });
	assert.equal((await post({ Cookie: cookie, Origin: 'http://evil.example' }, 1)).status, 403);
	assert.equal((await post({ Cookie: cookie }, 2)).status, 403, 'no Origin at all');
	assert.equal((await post({ Cookie: cookie, Origin: base }, 3)).status, 201);
	assert.equal((await post({ Authorization: `Bearer ${tok.admin}`, Origin: 'http://evil.example' }, 4)).status, 201);
	assert.equal((await api('GET', '/api/v1/me', { headers: { Cookie: cookie, Origin: 'http://evil.example' } })).status, 200, 'reads are fine');
});

test('enrollment: one face only, thumbnails, identification, erasure', async () => {
	const p = await api('POST', '/api/v1/people', { token: tok.admin, json: { name: 'Enrollee' } });
	const pid = p.data.id;
	const crop = readFileSync(join(tmp, 'face.jpg'));
	const ok = await api('POST', `/api/v1/people/${pid}/faces`, { token: tok.admin, body: crop, type: 'image/jpeg' });
	assert.equal(ok.status, 201, JSON.stringify(ok.data));
	assert.equal(ok.data.verdict, 'enrolled');
	const faceId = ok.data.id;
	const mp = multipart('image', crop);
	const ok2 = await api('POST', `/api/v1/people/${pid}/faces`, { token: tok.admin, body: mp.body, type: mp.type });
	assert.equal(ok2.status, 201, 'multipart upload');
	const several = await api('POST', `/api/v1/people/${pid}/faces`, { token: tok.admin, body: readFileSync(SAMPLE1), type: 'image/jpeg' });
	assert.equal(several.status, 422);
	assert.equal(several.data.verdict, 'several_faces');
	assert.equal(several.data.faces, 3, 'sample1.jpg is labelled with 3 faces');
	const none = await api('POST', `/api/v1/people/${pid}/faces`, { token: tok.admin, body: png(300, 300), type: 'image/png' });
	assert.equal(none.status, 422);
	assert.equal(none.data.verdict, 'no_face');
	const small = join(tmp, 'small.jpg');
	seed('crop', SAMPLE1, '755', '368', '370', '370', '64', small);
	const tiny = await api('POST', `/api/v1/people/${pid}/faces`, { token: tok.admin, body: readFileSync(small), type: 'image/jpeg' });
	assert.equal(tiny.status, 422);
	assert.equal(tiny.data.verdict, 'too_small');
	// WebP, as phones and web pages save photos: enrolled even when named .jpg and sent as image/jpeg (the bytes
	// decide), and the whole photo as image/webp still shows its 3 labelled faces. ffmpeg (libwebp) converts them.
	const webpCrop = join(tmp, 'crop-webp.jpg');
	execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', join(tmp, 'face.jpg'), '-c:v', 'libwebp', '-quality', '90', '-f', 'webp', webpCrop]);
	assert.equal(readFileSync(webpCrop).subarray(8, 12).toString(), 'WEBP');
	const viaWebp = await api('POST', `/api/v1/people/${pid}/faces`, { token: tok.admin, body: readFileSync(webpCrop), type: 'image/jpeg' });
	assert.equal(viaWebp.status, 201, JSON.stringify(viaWebp.data));
	const webpPhoto = join(tmp, 'sample1.webp');
	execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', SAMPLE1, '-c:v', 'libwebp', '-quality', '90', webpPhoto]);
	const wa = await api('POST', '/api/v1/analyze', { token: tok.rec, body: readFileSync(webpPhoto), type: 'image/webp' });
	assert.equal(wa.status, 200, JSON.stringify(wa.data));
	assert.equal(wa.data.faces.length, 3, 'sample1 as WebP: 3 labelled faces');
	const gif = await api('POST', '/api/v1/analyze', { token: tok.rec, body: Buffer.from('GIF89a\x01\x00\x01\x00'), type: 'image/jpeg' });
	assert.equal(gif.status, 400);
	assert.match(gif.data.error.message, /JPEG, PNG or WebP/);
	const text = await api('POST', '/api/v1/analyze', { token: tok.rec, body: 'hello', type: 'text/plain' });
	assert.equal(text.status, 415);
	assert.match(text.data.error.message, /image\/webp/);
	const faces = await api('GET', `/api/v1/people/${pid}/faces`, { token: tok.admin });
	assert.equal(faces.data.items.length, 3);
	const th = await api('GET', `/api/v1/people/${pid}/faces/${faceId}/thumbnail.jpg`, { token: tok.admin });
	assert.equal(th.status, 200);
	assert.equal(th.headers.get('content-type'), 'image/jpeg');
	assert.deepEqual([...th.buf.subarray(0, 2)], [0xff, 0xd8]);
	assert.equal((await api('GET', `/api/v1/people/${ids.ada}/faces/${faceId}/thumbnail.jpg`, { token: tok.admin })).status, 404, "another person's face");
	// The full photo: the enrolled face is recognised, by name.
	const an = await api('POST', '/api/v1/analyze', { token: tok.rec, body: readFileSync(SAMPLE1), type: 'image/jpeg' });
	assert.ok(an.data.faces.some((f) => f.identity && f.identity.person_id === pid && f.identity.name === 'Enrollee'), JSON.stringify(an.data.faces.map((f) => f.identity)));
	// Erasure: faces, thumbnails and events go.
	const ev = JSON.parse(seed('events', DB, String(ids.camA), String(pid), '2'));
	assert.equal((await api('DELETE', `/api/v1/people/${pid}/faces/${ok2.data.id}`, { token: tok.admin })).status, 204);
	assert.equal((await api('DELETE', `/api/v1/people/${pid}`, { token: tok.admin })).status, 204);
	assert.equal((await api('GET', `/api/v1/people/${pid}/faces/${faceId}/thumbnail.jpg`, { token: tok.admin })).status, 404);
	assert.equal((await api('GET', `/api/v1/people/${pid}`, { token: tok.admin })).status, 404);
	for (const id of ev.events) {
		assert.equal((await api('GET', `/api/v1/events/${id}`, { token: tok.admin })).status, 404);
		assert.equal((await api('GET', `/api/v1/events/${id}/snapshot.jpg`, { token: tok.admin })).status, 404);
		assert.equal((await api('GET', `/api/v1/events/${id}/face.jpg`, { token: tok.admin })).status, 404);
	}
	const again = await api('POST', '/api/v1/analyze', { token: tok.rec, body: readFileSync(SAMPLE1), type: 'image/jpeg' });
	assert.ok(again.data.faces.every((f) => !f.identity || f.identity.person_id !== pid), 'erased person no longer identified');
	const audit = await api('GET', '/api/v1/audit?limit=1000', { token: tok.admin });
	const actions = new Set(audit.data.items.map((a) => a.action));
	for (const a of ['login', 'enroll', 'erase', 'create']) assert.ok(actions.has(a), `audit has ${a}`);
});

test('camera passwords: redacted in replies, kept by a PATCH that echoes the redacted URL, never logged', async () => {
	const cam = await api('GET', `/api/v1/cameras/${ids.camA}`, { token: tok.admin });
	assert.equal(cam.data.url, 'rtsp://viewer:***@10.0.0.1/live');
	const patched = await api('PATCH', `/api/v1/cameras/${ids.camA}`, { token: tok.admin, json: { url: cam.data.url, name: 'camA2' } });
	assert.equal(patched.status, 200);
	assert.equal(seed('camera-url', DB, String(ids.camA)).trim(), 'rtsp://viewer:s3cret-A@10.0.0.1/live');
	const changed = await api('PATCH', `/api/v1/cameras/${ids.camA}`, { token: tok.admin, json: { url: 'rtsp://viewer:n3w@10.0.0.1/live' } });
	assert.equal(changed.data.url, 'rtsp://viewer:***@10.0.0.1/live');
	assert.equal(seed('camera-url', DB, String(ids.camA)).trim(), 'rtsp://viewer:n3w@10.0.0.1/live');
	const other = await api('PATCH', `/api/v1/cameras/${ids.camA}`, { token: tok.admin, json: { url: 'rtsp://viewer:***@10.9.9.9/live' } });
	assert.equal(other.status, 400, 'a redacted URL for another host cannot borrow the password');
	const all = JSON.stringify((await api('GET', '/api/v1/cameras', { token: tok.admin })).data);
	assert.ok(!all.includes('s3cret') && !all.includes('n3w'));
	assert.ok(!stderr.includes('s3cret') && !stderr.includes('n3w'));
});

// Hard URLs, each with a secret `S3cr<n>` somewhere an attacker or a camera vendor puts it, and what the API
// must show instead (written by hand from docs/api.md's redaction rules).
const HARD_URLS = [
	['rtsp://u:p@ss/w0rd-S3cr1@10.0.1.1/live', 'rtsp://u:***@10.0.1.1/live'],
	['rtsp://admin%3AS3cr2@10.0.1.2/live', 'rtsp://admin%3A***@10.0.1.2/live'],
	['rtsp://admin%3aS3cr3@10.0.1.3/live', 'rtsp://admin%3a***@10.0.1.3/live'],
	['http://10.0.1.4/video.cgi?user=admin&password=S3cr4&channel=1', 'http://10.0.1.4/video.cgi?user=admin&password=***&channel=1'],
	['http://10.0.1.5/snap?pwd=S3cr5', 'http://10.0.1.5/snap?pwd=***'],
	['https://10.0.1.6/live.m3u8?token=S3cr6#x', 'https://10.0.1.6/live.m3u8?token=***'], // a raw '#' may be part of the token
	['http://10.0.1.7/a?key=S3cr7&auth=S3cr7b&x=1', 'http://10.0.1.7/a?key=***&auth=***&x=1'],
	['http://10.0.1.8/a?pass%77ord=S3cr8', 'http://10.0.1.8/a?pass%77ord=***'],
	['rtsp://10.0.1.9/live;password=S3cr9;transport=tcp', 'rtsp://10.0.1.9/live;password=***;transport=tcp'],
	['rtsp://10.0.1.10/live#token=S3cr10', 'rtsp://10.0.1.10/live#token=***'],
	['http://10.0.1.11/api?src=rtsp%3A%2F%2Fu%3AS3cr11%40cam', 'http://10.0.1.11/api?src=***'],
	['rtsp://u:p?S3cr12@10.0.1.12/live?channel=1', 'rtsp://u:***@10.0.1.12/live?channel=1'],
	['rtsp://u:p%40S3cr13@10.0.1.13/live', 'rtsp://u:***@10.0.1.13/live'],
	['http://10.0.1.14/x?password=S3cr14&S3cr14b&c=1', 'http://10.0.1.14/x?password=***&c=1'],
];

test('camera URLs: one redaction in replies, errors, the log and the audit; the PATCH echo keeps every secret', async () => {
	const A = { token: tok.admin };
	const secrets = HARD_URLS.flatMap(([url]) => url.match(/S3cr\d+b?/g));
	const created = [];
	for (const [url, want] of HARD_URLS) {
		const r = await api('POST', '/api/v1/cameras', { ...A, json: { name: `hard ${created.length}`, url } });
		assert.equal(r.status, 201, `${url}: ${JSON.stringify(r.data)}`);
		assert.equal(r.data.url, want, `POST reply for ${url}`);
		assert.equal((await api('GET', `/api/v1/cameras/${r.data.id}`, A)).data.url, want, `GET for ${url}`);
		created.push(r.data.id);
	}
	const list = JSON.stringify((await api('GET', '/api/v1/cameras?limit=500', A)).data);
	for (const [, want] of HARD_URLS) assert.ok(list.includes(JSON.stringify(want)), `the list shows ${want}`);
	// Errors: a refused URL is named redacted too.
	for (const url of ['//admin:S3cr20@10.0.1.20/live', 'file:/tmp/x.mp4?token=S3cr21', 'gopher://a:S3cr22@h/']) {
		const r = await api('POST', '/api/v1/cameras', { ...A, json: { name: 'refused', url } });
		assert.equal(r.status, 400, url);
		assert.ok(!JSON.stringify(r.data).includes('S3cr'), `error for ${url}: ${JSON.stringify(r.data)}`);
	}
	// The PATCH echo: the redacted URL sent back keeps every stored secret, query secrets included.
	const q = created[6]; // key= and auth=
	const echoed = await api('PATCH', `/api/v1/cameras/${q}`, { ...A, json: { url: HARD_URLS[6][1], name: 'hard echo' } });
	assert.equal(echoed.status, 200, JSON.stringify(echoed.data));
	assert.equal(seed('camera-url', DB, String(q)).trim(), HARD_URLS[6][0]);
	const moved = await api('PATCH', `/api/v1/cameras/${q}`, { ...A, json: { url: 'http://10.9.9.9/a?key=***&auth=***&x=1' } });
	assert.equal(moved.status, 400, 'a marked URL for another host borrows nothing');
	const half = await api('PATCH', `/api/v1/cameras/${q}`, { ...A, json: { url: 'http://10.0.1.7/a?key=new&auth=***&x=1' } });
	assert.equal(half.status, 400, 'a marked URL that changed elsewhere is refused');
	assert.equal(seed('camera-url', DB, String(q)).trim(), HARD_URLS[6][0]);
	const u = created[0];
	assert.equal((await api('PATCH', `/api/v1/cameras/${u}`, { ...A, json: { url: HARD_URLS[0][1] } })).status, 200);
	assert.equal(seed('camera-url', DB, String(u)).trim(), HARD_URLS[0][0]);
	// The audit names each created camera's URL, redacted.
	const audit = await api('GET', '/api/v1/audit?limit=1000', A);
	assert.equal(audit.status, 200);
	const rows = JSON.stringify(audit.data.items);
	for (const [, want] of HARD_URLS) assert.ok(audit.data.items.some((a) => a.action === 'create' && a.detail === `url ${want}`), `audit has ${want}`);
	// The log names the cameras (the readers start and fail to connect), redacted.
	const t0 = Date.now();
	while (!HARD_URLS.every(([, want]) => stderr.includes(want)) && Date.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 100));
	for (const [, want] of HARD_URLS) assert.ok(stderr.includes(want), `the log names ${want}`);
	for (const secret of secrets) {
		assert.ok(!list.includes(secret), `list leaks ${secret}`);
		assert.ok(!rows.includes(secret), `audit leaks ${secret}`);
		assert.ok(!stderr.includes(secret), `log leaks ${secret}`);
	}
	for (const id of created) assert.equal((await api('DELETE', `/api/v1/cameras/${id}`, A)).status, 204);
});

test('sessions: logout, role change, password change and deletion take effect at once', async () => {
	const t1 = (await login('ana', 'pw-ana-12345')).data.token;
	assert.ok('expression' in (await api('GET', `/api/v1/events/${ids.evA[1]}`, { token: t1 })).data);
	// role change: the cached session sees the new role on its next request
	assert.equal((await api('PATCH', `/api/v1/users/${ids.user_ana}`, { token: tok.admin, json: { role: 'recognition' } })).status, 200);
	assert.ok(!('expression' in (await api('GET', `/api/v1/events/${ids.evA[1]}`, { token: t1 })).data));
	assert.equal((await api('GET', '/api/v1/me', { token: t1 })).data.role, 'recognition');
	// camera change
	assert.equal((await api('PATCH', `/api/v1/users/${ids.user_ana}`, { token: tok.admin, json: { all_cameras: false, cameras: [ids.camB] } })).status, 200);
	assert.equal((await api('GET', `/api/v1/events/${ids.evA[1]}`, { token: t1 })).status, 404);
	// password change ends sessions
	assert.equal((await api('PATCH', `/api/v1/users/${ids.user_ana}`, { token: tok.admin, json: { password: 'another-pass-1' } })).status, 200);
	assert.equal((await api('GET', '/api/v1/me', { token: t1 })).status, 401);
	// logout
	const t2 = (await login('ana', 'another-pass-1')).data.token;
	assert.equal((await api('POST', '/api/v1/auth/logout', { token: t2 })).status, 204);
	assert.equal((await api('GET', '/api/v1/me', { token: t2 })).status, 401);
	// deletion
	const t3 = (await login('ana', 'another-pass-1')).data.token;
	assert.equal((await api('GET', '/api/v1/me', { token: t3 })).status, 200);
	assert.equal((await api('DELETE', `/api/v1/users/${ids.user_ana}`, { token: tok.admin })).status, 204);
	assert.equal((await api('GET', '/api/v1/me', { token: t3 })).status, 401);
	assert.equal((await api('DELETE', `/api/v1/users/${ids.user_admin ?? 1}`, { token: tok.admin })).status, 409, 'not yourself');
});

test('malformed requests get the right 4xx and the server stays up', async () => {
	const A = { token: tok.admin };
	const deep = '['.repeat(100) + ']'.repeat(100);
	const jpeg = readFileSync(SAMPLE1);
	const corrupt = Buffer.concat([jpeg.subarray(0, 600), Buffer.alloc(4000, 0x5a)]);
	const mpNoImage = { body: Buffer.from('--b1\r\nContent-Disposition: form-data; name="x"\r\n\r\nhi\r\n--b1--\r\n'), type: 'multipart/form-data; boundary=b1' };
	const mpBadBoundary = { body: multipart('image', jpeg).body, type: 'multipart/form-data; boundary=nope' };
	const cases = [
		['POST', '/api/v1/people', { json: '{' }, 400],
		['POST', '/api/v1/people', { json: '[]' }, 400],
		['POST', '/api/v1/people', { json: { name: 5 } }, 400],
		['POST', '/api/v1/people', { json: { name: 'x', extra: 1 } }, 400],
		['POST', '/api/v1/people', { json: {} }, 400],
		['POST', '/api/v1/people', { json: { name: '' } }, 400],
		['POST', '/api/v1/people', { json: { name: 'n'.repeat(200) } }, 400],
		['POST', '/api/v1/people', { json: '{"name":"a","name":"b"}' }, 400],
		['POST', '/api/v1/people', { json: '{"name":"a\\u0000b"}' }, 400],
		['POST', '/api/v1/people', { json: { name: 'x' }, type: 'text/plain' }, 415],
		['POST', '/api/v1/people', { body: '{"name":"x"}' }, 415],
		['POST', '/api/v1/people', { json: deep }, 400],
		['POST', '/api/v1/people', { json: JSON.stringify({ name: 'x', note: 'n'.repeat(100000) }) }, 413],
		['POST', '/api/v1/people', { json: { name: 'Ada' } }, 409],
		['POST', '/api/v1/cameras', { json: { name: 'camB', url: 'http://x/y' } }, 409],
		['POST', '/api/v1/cameras', { json: { name: 'c', url: 'http://x/y', analysis_fps: 'fast' } }, 400],
		['POST', '/api/v1/analyze', { body: Buffer.alloc(17 << 20, 1), type: 'image/jpeg' }, 413],
		['POST', '/api/v1/analyze', { body: corrupt, type: 'image/jpeg' }, 400],
		['POST', '/api/v1/analyze', { body: jpeg.subarray(0, jpeg.length >> 1), type: 'image/jpeg' }, 400],
		['POST', '/api/v1/analyze', { body: pngHeaderOnly(10000, 6000), type: 'image/png' }, [400, 413]],
		['POST', '/api/v1/analyze', { body: Buffer.from('not an image'), type: 'image/png' }, 400],
		['POST', '/api/v1/analyze', { body: Buffer.alloc(0), type: 'image/jpeg' }, 400],
		['POST', '/api/v1/analyze', { json: { image: 'x' } }, 415],
		['POST', '/api/v1/analyze', mpNoImage, 400],
		['POST', '/api/v1/analyze', mpBadBoundary, 400],
		['GET', "/api/v1/people?search=' OR 1=1 --", {}, 200],
		['GET', '/api/v1/people/-1', {}, 400],
		['GET', '/api/v1/people/1e9', {}, 400],
		['GET', '/api/v1/people/abc', {}, 400],
		['GET', '/api/v1/people/0', {}, 400],
		['GET', '/api/v1/people/1234567890123456789012', {}, 400],
		['GET', '/api/v1/people/999999999', {}, 404],
		['GET', '/api/v1/nope', {}, 404],
		['PUT', '/api/v1/people', {}, 405],
		['DELETE', '/api/v1/people', {}, 405],
		['GET', '/api/v1/events?limit=0', {}, 400],
		['GET', '/api/v1/events?limit=abc', {}, 400],
		['GET', '/api/v1/events?limit=100000', {}, 400],
		['GET', '/api/v1/events?from=yesterday', {}, 400],
		['GET', '/api/v1/events?unknown=maybe', {}, 400],
		['GET', '/api/v1/events?expression=bored', {}, 400],
		['GET', '/api/v1/events?camera=-5', {}, 400],
		['GET', '/api/v1/events?cursor=abc', {}, 400],
		['PATCH', '/api/v1/settings', { json: { recognition_threshold: 'high' } }, 400],
		['PATCH', '/api/v1/settings', { json: { retention_days: -1 } }, 400],
		['PATCH', '/api/v1/settings', { json: { retention_days: 1.5 } }, 400],
		['PATCH', '/api/v1/settings', { json: { colour: 'red' } }, 400],
		['POST', '/api/v1/users', { json: { username: 'x y', password: '12345678', role: 'admin' } }, 400],
		['POST', '/api/v1/users', { json: { username: 'shorty', password: '123', role: 'admin' } }, 400],
		['POST', '/api/v1/users', { json: { username: 'root', password: '12345678', role: 'root' } }, 400],
		['POST', '/api/v1/users', { json: { username: 'cams', password: '12345678', role: 'admin', cameras: ['a'] } }, 400],
		['POST', '/api/v1/users', { json: { username: 'ghost', password: '12345678', role: 'admin', all_cameras: false, cameras: [987654] } }, 400],
		['PATCH', `/api/v1/users/${ids.user_rec}`, { json: { username: 'renamed' } }, 400],
		['POST', `/api/v1/alerts/${ids.alA[0]}/ack`, {}, 409],
		['POST', '/api/v1/auth/login', { json: { username: 1, password: 'x' }, token: null }, 400],
		['GET', '/api/v1/me', { token: 'garbage' }, 401],
		['GET', '/api/v1/me', { token: null, headers: { Authorization: 'Basic YTpi' } }, 401],
	];
	for (const [method, path, opts, want] of cases) {
		const o = { ...A, ...opts };
		if (opts.token === null) delete o.token;
		const r = await api(method, path, o).catch((e) => assert.fail(`${method} ${path.slice(0, 60)}: ${e.cause?.code ?? e}`));
		const ok = Array.isArray(want) ? want.includes(r.status) : r.status === want;
		assert.ok(ok, `${method} ${path.slice(0, 60)}: got ${r.status}, want ${want}: ${JSON.stringify(r.data)}`);
		if (r.status >= 400) assert.equal(typeof r.data?.error?.code, 'string', `${method} ${path}: error JSON`);
	}
	// What fetch would normalise away, by hand.
	const auth = `Authorization: Bearer ${tok.admin}\r\n`;
	const rawCases = [
		['/api/v1/people/1/../../users', 400],
		['/api/v1/people/%2e%2e/%2e%2e/users', 400],
		['/api/v1/people/%2E%2E', 400],
		['/api/v1/people//1', 400],
		['/api/v1/./people', 400],
		['/../../etc/passwd', 400],
		['/%2e%2e/%2e%2e/etc/passwd', 400],
		['/leak.txt', 404], // a symbolic link out of the web folder
		['/api/v1/people/1%00', [400, 404]],
	];
	for (const [path, want] of rawCases) {
		const status = await rawGet(path, auth);
		assert.ok([want].flat().includes(status), `raw GET ${path}: ${status}`);
	}
	const longHeader = await rawGet('/api/v1/me', `${auth}X-Long: ${'a'.repeat(100000)}\r\n`);
	assert.ok([413, 431].includes(longHeader), `overlong header: ${longHeader}`);
	const longUrl = await rawGet('/api/v1/people?search=' + 'a'.repeat(100000), auth);
	assert.ok([413, 414, 431].includes(longUrl), `overlong URL: ${longUrl}`);
	assert.equal((await api('GET', '/healthz')).status, 200, 'still up');
	assert.equal((await api('GET', '/api/v1/people', A)).status, 200);
});

test('static files: the dashboard folder, SPA fallback, no way out of it', async () => {
	const index = await api('GET', '/');
	assert.equal(index.status, 200);
	assert.match(index.buf.toString(), /dash/);
	assert.equal((await api('GET', '/assets/app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
	assert.match((await api('GET', '/people/12')).buf.toString(), /dash/, 'client-side route');
	assert.equal((await api('GET', '/missing.js')).status, 404);
	assert.equal((await api('POST', '/')).status, 405);
});

test('metrics and readiness', async () => {
	const m = (await api('GET', '/metrics')).buf.toString();
	assert.match(m, /mien_http_requests_total\{route="GET \/api\/v1\/events",status="200"\} \d+/);
	assert.match(m, /mien_http_request_duration_seconds_bucket\{route="POST \/api\/v1\/analyze",le="\+Inf"\} \d+/);
	assert.match(m, /mien_analyze_duration_seconds_count\{\} [1-9]\d*/);
	assert.equal((await api('GET', '/readyz')).data.database, backend === 'postgresql' ? 'postgresql' : 'sqlite');
});

test('mien user add/passwd/list (password on stdin) and a second node without a dashboard', async () => {
	const env = { ...process.env, MIEN_DB: DB, MIEN_LOG_LEVEL: 'warn' };
	const out = execFileSync(MIEN, ['user', 'add', '--role', 'analyst', 'cliuser'], { env, input: 'cli-pass-123\n', encoding: 'utf8' });
	assert.match(out, /created user cliuser .*role analyst/);
	assert.equal((await login('cliuser', 'cli-pass-123')).data.role, 'analyst');
	execFileSync(MIEN, ['user', 'passwd', 'cliuser'], { env, input: 'cli-pass-456\n' });
	assert.equal((await api('POST', '/api/v1/auth/login', { json: { username: 'cliuser', password: 'cli-pass-123' } })).status, 401);
	await login('cliuser', 'cli-pass-456');
	assert.match(execFileSync(MIEN, ['user', 'list'], { env, encoding: 'utf8' }), /cliuser\s+analyst/);
	assert.throws(() => execFileSync(MIEN, ['user', 'add', '--role', 'analyst', 'short'], { env, input: 'abc\n', stdio: 'pipe' }), 'short passwords refused');
	// A second server on the same database: no new admin, and the placeholder page without MIEN_WEB.
	const second = spawn(MIEN, ['serve'], { cwd: ROOT, env: { ...env, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_WEB: join(tmp, 'no-such-dir') }, stdio: ['ignore', 'pipe', 'pipe'] });
	let err2 = '', out2 = '';
	second.stderr.on('data', (d) => (err2 += d));
	second.stdout.on('data', (d) => (out2 += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(err2) && Date.now() - t0 < 20000 && second.exitCode === null) await new Promise((r) => setTimeout(r, 50));
	const p2 = Number(/serving on port (\d+)/.exec(err2)[1]);
	const home = await fetch(`http://127.0.0.1:${p2}/`);
	assert.equal(home.status, 200);
	assert.match(await home.text(), /dashboard is not built/);
	assert.equal((await fetch(`http://127.0.0.1:${p2}/app.js`)).status, 404);
	second.kill('SIGTERM');
	await new Promise((r) => second.once('exit', r));
	assert.equal(second.exitCode, 0);
	assert.ok(!/password/.test(out2), 'no second admin');
});

test('audit: a failed login with a long multi-byte name is kept, its name cut on a character boundary', async () => {
	const names = ['\u00e9'.repeat(40), '\u{1F600}'.repeat(20) + 'x', 'a' + '\u20ac'.repeat(30)];
	for (const name of names) assert.equal((await api('POST', '/api/v1/auth/login', { json: { username: name, password: 'wrong' } })).status, 401);
	const audit = await api('GET', '/api/v1/audit?limit=1000', { token: tok.admin });
	assert.equal(audit.status, 200);
	for (const name of names) {
		const row = audit.data.items.find((a) => a.action === 'login_failed' && a.username.length > 0 && name.startsWith(a.username));
		assert.ok(row, `the audit has the failed login of ${name.slice(0, 4)}...: ${JSON.stringify(audit.data.items.slice(0, 5))}`);
		assert.ok(Buffer.byteLength(row.username) <= 63 && Buffer.byteLength(row.username) >= 60, `cut near the field's size: ${Buffer.byteLength(row.username)} bytes`);
		assert.ok(!row.username.includes('\ufffd'));
	}
});

test('database outage: 503 while PostgreSQL is down, back when it returns', async (t) => {
	if (backend !== 'postgresql') {
		t.skip('needs the PostgreSQL run (MIEN_TEST_PG_CTL stops and starts the server)');
		return;
	}
	const ctl = process.env.MIEN_TEST_PG_CTL;
	assert.ok(ctl, 'MIEN_TEST_PG_CTL is set by scripts/testdb.sh');
	execFileSync('bash', ['-c', `${ctl} stop`]);
	try {
		assert.equal((await api('GET', '/readyz')).status, 503);
		const r = await api('GET', '/api/v1/people', { token: tok.admin });
		assert.equal(r.status, 503);
		assert.equal(r.data.error.code, 'unavailable');
		assert.equal((await api('GET', '/healthz')).status, 200, 'the process itself is fine');
	} finally {
		execFileSync('bash', ['-c', `${ctl} start`]);
	}
	let ready = 0;
	for (let i = 0; i < 50 && ready !== 200; i++) {
		ready = (await api('GET', '/readyz')).status;
		if (ready !== 200) await new Promise((r) => setTimeout(r, 200));
	}
	assert.equal(ready, 200);
	assert.equal((await api('GET', '/api/v1/people', { token: tok.admin })).status, 200);
});

// Last: these lock the test's address out of logins for a minute.
test('login rate limiting: per user, then per address; an address the user signed in from before still gets in', async () => {
	// 'lockme' never signed in from here (the fixtures made it): locked, even with the right password.
	for (let i = 0; i < 5; i++)
		assert.equal((await api('POST', '/api/v1/auth/login', { json: { username: 'lockme', password: 'wrong' } })).status, 401);
	const locked = await api('POST', '/api/v1/auth/login', { json: { username: 'lockme', password: 'pw-lockme-12345' } });
	assert.equal(locked.status, 429, 'even the right password while locked');
	assert.ok(Number(locked.headers.get('retry-after')) > 0);
	// 'rec' signed in from this address (the fixtures): its own lock does not keep it out from here.
	for (let i = 0; i < 5; i++)
		assert.equal((await api('POST', '/api/v1/auth/login', { json: { username: 'rec', password: 'wrong' } })).status, 401);
	const owner = await api('POST', '/api/v1/auth/login', { json: { username: 'rec', password: 'pw-rec-12345' } });
	assert.equal(owner.status, 200, `the owner from a known address: ${JSON.stringify(owner.data)}`);
	const other = await api('POST', '/api/v1/auth/login', { json: { username: 'recA', password: 'pw-recA-12345' } });
	assert.equal(other.status, 200, `other users still log in: ${JSON.stringify(other.data)}`);
	let status = 0, tries = 0;
	while (status !== 429 && tries < 30) {
		status = (await api('POST', '/api/v1/auth/login', { json: { username: `nobody${tries}`, password: 'x' } })).status;
		tries++;
	}
	assert.equal(status, 429, 'the address is limited too');
	// The address's 20th failure in a minute locks it: the 21st attempt at most is refused.
	assert.ok(tries <= 21, `refused after ${tries} attempts`);
	const audit = await api('GET', '/api/v1/audit?limit=1000', { token: tok.admin });
	assert.ok(audit.data.items.some((a) => a.action === 'login_failed' && a.username === 'rec'));
	assert.equal((await api('GET', '/healthz')).status, 200);
});
