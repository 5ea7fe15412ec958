// reembed.test.mjs — a change of embedder keeps every enrolled person recognisable. Three people are enrolled under
// MIEN_EMBEDDER=face_recognition; a server started under the default embedder (face_recognition-v2) embeds their
// faces again from the stored thumbnails in the background (nothing enrolled is lost, every face moves to the new
// model) and recognises all three in the group photo again; `mien reembed --embedder face_recognition` moves them
// back. `make check-integration` runs it on SQLite and, under scripts/testdb.sh, on PostgreSQL.
//
// What is expected comes from labels, not from mien: face-api's demo photo sample1.jpg shows three women side by side
// (face_counts.csv: 3); their face centres, read off the picture by eye, are about (520, 490), (940, 540) and
// (1580, 320) in its 1920x1280 pixels. Each is enrolled from a 370-px square around her centre, and each face POST
// /analyze finds in the whole photo must be named after the centre nearest to it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstStartDatabase } from './database.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const SAMPLE1 = join(ROOT, 'models/samples/sample1.jpg');
const PEOPLE = [
	{ name: 'Left', centre: [520, 490] },
	{ name: 'Middle', centre: [940, 540] },
	{ name: 'Right', centre: [1580, 320] },
];

const tmp = mkdtempSync(join(tmpdir(), 'mien-reembed-'));
const DB = firstStartDatabase(tmp);
const ENV = { ...process.env, MIEN_DB: DB, MIEN_MODELS: join(ROOT, 'models'), MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_WEB: join(tmp, 'no-web') };
delete ENV.MIEN_EMBEDDER;
delete ENV.MIEN_REDIS;
delete ENV.MIEN_REEMBED;

let server = null, password = null;

async function serve(extra = {}) {
	const s = { out: '', err: '' };
	s.proc = spawn(MIEN, ['serve'], { cwd: tmp, env: { ...ENV, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
	s.proc.stdout.on('data', (d) => (s.out += d));
	s.proc.stderr.on('data', (d) => (s.err += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(s.err)) {
		if (s.proc.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`server did not start:\n${s.err}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	s.base = `http://127.0.0.1:${/serving on port (\d+)/.exec(s.err)[1]}`;
	password = password || /password (\S+)/.exec(s.out)?.[1];
	const r = await fetch(s.base + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
	assert.equal(r.status, 200, 'admin signs in');
	s.token = (await r.json()).token;
	return s;
}

async function stop(s) {
	if (s && s.proc.exitCode === null) {
		s.proc.kill('SIGTERM');
		await new Promise((r) => s.proc.once('exit', r));
	}
	assert.equal(s.proc.exitCode, 0, `mien serve exit status:\n${s.err.slice(-3000)}`);
}

async function call(s, method, path, { json, body, type } = {}) {
	const headers = { Authorization: `Bearer ${s.token}` };
	if (json !== undefined) {
		body = JSON.stringify(json);
		headers['Content-Type'] = 'application/json';
	} else if (type) headers['Content-Type'] = type;
	const res = await fetch(s.base + path, { method, headers, body });
	const text = await res.text();
	return { status: res.status, data: text && (res.headers.get('content-type') || '').startsWith('application/json') ? JSON.parse(text) : null };
}

// The name POST /analyze gives each face of sample1, keyed by the labelled person nearest to the face.
async function names(s) {
	const r = await call(s, 'POST', '/api/v1/analyze', { body: readFileSync(SAMPLE1), type: 'image/jpeg' });
	assert.equal(r.status, 200, JSON.stringify(r.data));
	const got = {};
	for (const f of r.data.faces) {
		const [x, y, w, h] = f.box;
		const near = PEOPLE.reduce((a, b) => (Math.hypot(b.centre[0] - x - w / 2, b.centre[1] - y - h / 2) < Math.hypot(a.centre[0] - x - w / 2, a.centre[1] - y - h / 2) ? b : a));
		got[near.name] = f.identity ? f.identity.name : null;
	}
	return got;
}

const expected = Object.fromEntries(PEOPLE.map((p) => [p.name, p.name]));
const ids = {};

before(async () => {
	server = await serve({ MIEN_EMBEDDER: 'face_recognition' });
	for (const p of PEOPLE) {
		const crop = join(tmp, `${p.name}.jpg`);
		execFileSync(SEED, ['crop', SAMPLE1, String(p.centre[0] - 185), String(p.centre[1] - 185), '370', '370', '300', crop]);
		ids[p.name] = (await call(server, 'POST', '/api/v1/people', { json: { name: p.name } })).data.id;
		const r = await call(server, 'POST', `/api/v1/people/${ids[p.name]}/faces`, { body: readFileSync(crop), type: 'image/jpeg' });
		assert.equal(r.status, 201, `${p.name}: ${JSON.stringify(r.data)}`);
		assert.equal(r.data.model, 'face_recognition');
	}
});

after(async () => {
	if (server && server.proc.exitCode === null) await stop(server);
	rmSync(tmp, { recursive: true, force: true });
});

async function models(s) {
	const all = [];
	for (const p of PEOPLE) all.push(...(await call(s, 'GET', `/api/v1/people/${ids[p.name]}/faces`)).data.items.map((f) => f.model));
	return all;
}

test('under the old embedder the three are recognised', async () => {
	assert.deepEqual(await names(server), expected);
	await stop(server);
});

test('a server under the new default embeds them again in the background and still recognises all three', async () => {
	server = await serve(); // MIEN_EMBEDDER unset: the default, face_recognition-v2
	const t0 = Date.now();
	while (!/reembed: face_recognition-v2: 3 faces embedded again, 0 kept as they were/.test(server.err)) {
		assert.ok(Date.now() - t0 < 60000, `the re-embedding did not finish:\n${server.err.slice(-3000)}`);
		await new Promise((r) => setTimeout(r, 200));
	}
	assert.match(server.err, /reembed: 3 enrolled faces are of another embedder than face_recognition-v2/);
	assert.deepEqual(await models(server), ['face_recognition-v2', 'face_recognition-v2', 'face_recognition-v2'], 'every face moved, none lost');
	// The gallery sync brings the moved faces into the API's index within its interval (2 s).
	let got;
	for (let i = 0; i < 40; i++) {
		got = await names(server);
		if (JSON.stringify(got) === JSON.stringify(expected)) break;
		await new Promise((r) => setTimeout(r, 250));
	}
	assert.deepEqual(got, expected);
	await stop(server);
	// A second start finds nothing to do.
	server = await serve();
	await new Promise((r) => setTimeout(r, 500));
	assert.doesNotMatch(server.err, /reembed:/);
	await stop(server);
});

test('`mien reembed --embedder face_recognition` moves them back; MIEN_REEMBED=off leaves them', async () => {
	const out = execFileSync(MIEN, ['reembed', '--embedder', 'face_recognition', '--json'], { cwd: tmp, env: { ...ENV, MIEN_LOG_LEVEL: 'warn' }, encoding: 'utf8' });
	assert.deepEqual(JSON.parse(out), { embedder: 'face_recognition', already: 0, reembedded: 3, failed: 0 });
	server = await serve({ MIEN_REEMBED: 'off' }); // default embedder, but told not to move them
	await new Promise((r) => setTimeout(r, 500));
	assert.doesNotMatch(server.err, /reembed:/);
	assert.deepEqual(await models(server), ['face_recognition', 'face_recognition', 'face_recognition']);
	// Under the default embedder they are not searched until moved: unknown, not wrongly named.
	assert.deepEqual(await names(server), { Left: null, Middle: null, Right: null });
	await stop(server);
	server = await serve({ MIEN_EMBEDDER: 'face_recognition' });
	assert.deepEqual(await names(server), expected);
	// Bad input: an unknown embedder is a usage error that names the choices.
	let failed;
	try {
		execFileSync(MIEN, ['reembed', '--embedder', 'nosuch'], { cwd: tmp, env: ENV, encoding: 'utf8', stdio: 'pipe' });
	} catch (e) {
		failed = e;
	}
	assert.equal(failed?.status, 1);
	assert.match(String(failed.stderr), /unknown embedder nosuch \(face_recognition, face_recognition-v2/);
});
