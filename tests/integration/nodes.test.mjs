// nodes.test.mjs — two `mien serve` nodes on one PostgreSQL and one Redis (MIEN_TEST_PG, MIEN_TEST_REDIS from
// scripts/testdb.sh): a logout or a user change on one node ends the session on the other at once, even though
// the other had it cached; a face enrolled through one node is recognised by the other without a restart; an
// erasure on one node stops recognition on both; a logout on one node closes the live stream the session had open on
// the other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const DB = process.env.MIEN_TEST_PG;
const REDIS = process.env.MIEN_TEST_REDIS;
if (!DB || !REDIS) throw new Error('nodes.test.mjs needs MIEN_TEST_PG and MIEN_TEST_REDIS (scripts/testdb.sh)');
const tmp = mkdtempSync(join(tmpdir(), 'mien-nodes-'));
const nodes = [];

function start(name) {
	const n = { name, stderr: '', stdout: '' };
	n.proc = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: { ...process.env, MIEN_DB: DB, MIEN_REDIS: REDIS, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_MODELS: join(ROOT, 'models') },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	n.proc.stdout.on('data', (d) => (n.stdout += d));
	n.proc.stderr.on('data', (d) => (n.stderr += d));
	nodes.push(n);
	return n;
}

async function ready(n) {
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(n.stderr) || !/subscribed to redis/.test(n.stderr)) {
		if (n.proc.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`${n.name} did not start:\n${n.stderr}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	n.base = `http://127.0.0.1:${/serving on port (\d+)/.exec(n.stderr)[1]}`;
}

async function call(n, method, path, token, { json, body, type } = {}) {
	const headers = {};
	if (token) headers.Authorization = `Bearer ${token}`;
	if (json) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(json);
	} else if (type) {
		headers['Content-Type'] = type;
	}
	const r = await fetch(n.base + path, { method, headers, body });
	const text = await r.text();
	return { status: r.status, data: text && (r.headers.get('content-type') || '').startsWith('application/json') ? JSON.parse(text) : null };
}

let A, B, adminPassword;

before(async () => {
	// A clean schema, through psql rather than mien.
	execFileSync('psql', ['-q', DB, '-c', 'SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;']);
	A = start('A');
	await ready(A);
	adminPassword = /password (\S+)/.exec(A.stdout)[1];
	B = start('B'); // the second node finds the admin already there
	await ready(B);
	assert.ok(!/password/.test(B.stdout), 'only the first node creates the admin');
});

after(async () => {
	for (const n of nodes) {
		if (n.proc.exitCode === null) {
			n.proc.kill('SIGTERM');
			await new Promise((r) => n.proc.once('exit', r));
		}
		assert.equal(n.proc.exitCode, 0, `${n.name}:\n${n.stderr.slice(-2000)}`);
	}
	rmSync(tmp, { recursive: true, force: true });
});

async function login(n, username, password) {
	const r = await call(n, 'POST', '/api/v1/auth/login', null, { json: { username, password } });
	assert.equal(r.status, 200);
	return r.data.token;
}

test('a logout or a role change on one node takes effect on the other at once', async () => {
	const admin = await login(A, 'admin', adminPassword);
	assert.equal((await call(A, 'POST', '/api/v1/users', admin, { json: { username: 'desk', password: 'desk-pass-1', role: 'analyst' } })).status, 201);
	const desk = await login(A, 'desk', 'desk-pass-1');
	// B caches the session on first use.
	assert.equal((await call(B, 'GET', '/api/v1/me', desk)).status, 200);
	assert.equal((await call(B, 'GET', '/api/v1/me', desk)).status, 200);
	assert.equal((await call(A, 'POST', '/api/v1/auth/logout', desk)).status, 204);
	await new Promise((r) => setTimeout(r, 200)); // the bus message's flight time
	assert.equal((await call(B, 'GET', '/api/v1/me', desk)).status, 401, 'logout on A must end the session on B');

	const again = await login(B, 'desk', 'desk-pass-1');
	assert.equal((await call(A, 'GET', '/api/v1/me', again)).data.role, 'analyst');
	const users = (await call(A, 'GET', '/api/v1/users', admin)).data.items;
	const id = users.find((u) => u.username === 'desk').id;
	assert.equal((await call(B, 'PATCH', `/api/v1/users/${id}`, admin, { json: { role: 'recognition' } })).status, 200);
	await new Promise((r) => setTimeout(r, 200));
	assert.equal((await call(A, 'GET', '/api/v1/me', again)).data.role, 'recognition', 'a role change on B must reach A');
});

test('enrollment on one node is recognised by the other; erasure reaches both', async () => {
	const admin = await login(A, 'admin', adminPassword);
	const face = join(tmp, 'face.jpg');
	// One face of sample1.jpg (labelled with 3 faces): the same crop as tests/integration/api.test.mjs.
	execFileSync(SEED, ['crop', join(ROOT, 'models/samples/sample1.jpg'), '755', '368', '370', '370', '300', face]);
	const img = readFileSync(face);
	// B loads its gallery (empty) before the enrollment, so only a bus message can bring the new face.
	const before = await call(B, 'POST', '/api/v1/analyze', admin, { body: img, type: 'image/jpeg' });
	assert.equal(before.status, 200);
	assert.equal(before.data.faces[0].identity, null);
	const person = (await call(A, 'POST', '/api/v1/people', admin, { json: { name: 'Grace' } })).data;
	const enrolled = await call(A, 'POST', `/api/v1/people/${person.id}/faces`, admin, { body: img, type: 'image/jpeg' });
	assert.equal(enrolled.status, 201, JSON.stringify(enrolled.data));
	await new Promise((r) => setTimeout(r, 300));
	const onB = await call(B, 'POST', '/api/v1/analyze', admin, { body: img, type: 'image/jpeg' });
	assert.equal(onB.data.faces[0].identity?.name, 'Grace', 'B must recognise a face enrolled on A');
	assert.equal((await call(B, 'DELETE', `/api/v1/people/${person.id}`, admin)).status, 204);
	await new Promise((r) => setTimeout(r, 300));
	for (const n of [A, B]) {
		const r = await call(n, 'POST', '/api/v1/analyze', admin, { body: img, type: 'image/jpeg' });
		assert.equal(r.data.faces[0].identity, null, `${n.name} still recognises an erased person`);
	}
});

test('a logout on one node closes the live stream that session opened on the other', async () => {
	const token = await login(A, 'admin', adminPassword);
	const ctl = new AbortController();
	const res = await fetch(`${B.base}/api/v1/stream`, { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
	assert.equal(res.status, 200);
	const reader = res.body.getReader();
	let ended = null;
	const done = (async () => {
		try {
			while (!(await reader.read()).done);
		} catch {
			// aborted below
		}
		ended = Date.now();
	})();
	await new Promise((r) => setTimeout(r, 300));
	assert.equal(ended, null, 'the stream is open');
	const t0 = Date.now();
	assert.equal((await call(A, 'POST', '/api/v1/auth/logout', token)).status, 204);
	await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
	ctl.abort();
	assert.ok(ended !== null && ended - t0 <= 2000, `the stream on B ended ${ended === null ? 'never' : `${ended - t0} ms`} after the logout on A`);
});
