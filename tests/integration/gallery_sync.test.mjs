// gallery_sync.test.mjs — a running `mien serve` notices gallery changes made by another process: a face enrolled
// with `mien enroll` into the same database is identified by POST /analyze within seconds, without a restart,
// and a person erased through a second server on that database (no Redis between them, so no bus message) stops
// being identified. `make check-integration` runs it on SQLite and, under scripts/testdb.sh, on PostgreSQL.
//
// The face is a crop of face-api's labelled demo photo sample1.jpg (as in api.test.mjs); the expected identity is
// the name this test enrols it under, never one read back from the server.
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
const NAME = 'Synced Person';

const tmp = mkdtempSync(join(tmpdir(), 'mien-gsync-'));
const DB = firstStartDatabase(tmp);
const ENV = { ...process.env, MIEN_DB: DB, MIEN_MODELS: join(ROOT, 'models'), MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info' };
delete ENV.MIEN_REDIS; // the point: no bus between the writers
delete ENV.MIEN_GALLERY_SYNC_MS; // the default interval (2 s)

const servers = [];

// Starts `mien serve`; resolves to { proc, base, out, err } once it listens.
async function serve(extra = {}) {
	const s = { out: '', err: '' };
	s.proc = spawn(MIEN, ['serve'], { cwd: tmp, env: { ...ENV, MIEN_WEB: join(tmp, 'no-web'), ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
	s.proc.stdout.on('data', (d) => (s.out += d));
	s.proc.stderr.on('data', (d) => (s.err += d));
	servers.push(s);
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(s.err)) {
		if (s.proc.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`server did not start:\n${s.err}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	s.base = `http://127.0.0.1:${/serving on port (\d+)/.exec(s.err)[1]}`;
	return s;
}

async function call(s, method, path, { token, json, body, type } = {}) {
	const headers = {};
	if (token) headers.Authorization = `Bearer ${token}`;
	if (json !== undefined) {
		body = JSON.stringify(json);
		headers['Content-Type'] = 'application/json';
	} else if (type) headers['Content-Type'] = type;
	const res = await fetch(s.base + path, { method, headers, body });
	const text = await res.text();
	return { status: res.status, data: text && (res.headers.get('content-type') || '').startsWith('application/json') ? JSON.parse(text) : null };
}

let main, token, crop;

before(async () => {
	crop = join(tmp, 'face.jpg');
	execFileSync(SEED, ['crop', SAMPLE1, '755', '368', '370', '370', '300', crop]);
	main = await serve();
	const password = /password (\S+)/.exec(main.out)?.[1];
	assert.ok(password, `the first start prints the admin password:\n${main.out}`);
	const r = await call(main, 'POST', '/api/v1/auth/login', { json: { username: 'admin', password } });
	assert.equal(r.status, 200);
	token = r.data.token;
	main.password = password;
});

after(async () => {
	for (const s of servers.reverse())
		if (s.proc.exitCode === null) {
			s.proc.kill('SIGTERM');
			await new Promise((r) => s.proc.once('exit', r));
			assert.equal(s.proc.exitCode, 0, `mien serve exit status:\n${s.err.slice(-3000)}`);
		}
	rmSync(tmp, { recursive: true, force: true });
});

// The identity POST /analyze gives the one face of the crop (null when unknown).
async function identity() {
	const r = await call(main, 'POST', '/api/v1/analyze', { token, body: readFileSync(crop), type: 'image/jpeg' });
	assert.equal(r.status, 200, JSON.stringify(r.data));
	assert.equal(r.data.faces.length, 1, 'the crop holds one face of sample1.jpg');
	return r.data.faces[0].identity;
}

async function until(what, predicate, ms = 10000) {
	const t0 = Date.now();
	for (;;) {
		const v = await predicate();
		if (v) return Date.now() - t0;
		if (Date.now() - t0 > ms) assert.fail(`${what} within ${ms} ms\nserver log:\n${main.err.slice(-3000)}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

test('a face enrolled by `mien enroll` while the server runs is identified without a restart', async () => {
	// The server's index is loaded (by this first search) before the enrolment: only the sync can bring it in.
	assert.equal(await identity(), null, 'nobody is enrolled yet');
	const out = execFileSync(MIEN, ['enroll', '--name', NAME, crop], { cwd: tmp, env: { ...ENV, MIEN_LOG_LEVEL: 'warn' }, encoding: 'utf8' });
	const line = JSON.parse(out.trim().split('\n').pop());
	assert.equal(line.verdict, 'enrolled', out);
	const took = await until('the CLI enrolment is identified', async () => (await identity())?.name === NAME);
	const id = await identity();
	assert.equal(id.person_id, line.person_id);
	assert.ok(id.similarity > 0.9, `the same crop matches itself closely: ${id.similarity}`);
	assert.ok(took <= 10000, `picked up in ${took} ms`);
	// Both indexes follow: the API's and the camera pipeline's (one log line each).
	await until('both indexes log the addition', () => /http: gallery: 1 face added by another process/.test(main.err) && /watch: gallery: 1 face added by another process/.test(main.err));
});

test('a person erased through another server on the same database stops being identified', async () => {
	const other = await serve({ MIEN_ROLE: 'api' });
	assert.ok(!/password/.test(other.out), 'the second server finds the admin');
	const login = await call(other, 'POST', '/api/v1/auth/login', { json: { username: 'admin', password: main.password } });
	assert.equal(login.status, 200);
	const people = await call(other, 'GET', `/api/v1/people?search=${encodeURIComponent(NAME)}`, { token: login.data.token });
	assert.equal(people.status, 200);
	const person = people.data.items.find((p) => p.name === NAME);
	assert.ok(person, JSON.stringify(people.data));
	assert.equal((await call(other, 'DELETE', `/api/v1/people/${person.id}`, { token: login.data.token })).status, 204);
	await until('the erased person is no longer identified', async () => (await identity()) === null);
	await until('both indexes log the removal', () => /http: gallery: 1 face removed by another process/.test(main.err) && /watch: gallery: 1 face removed by another process/.test(main.err));
});

test("the server's own enrolment is neither undone nor repeated by the sync", async () => {
	const lines = () => (main.err.match(/by another process/g) || []).length;
	const before = lines();
	const p = await call(main, 'POST', '/api/v1/people', { token, json: { name: `${NAME} 3` } });
	assert.equal(p.status, 201);
	const f = await call(main, 'POST', `/api/v1/people/${p.data.id}/faces`, { token, body: readFileSync(crop), type: 'image/jpeg' });
	assert.equal(f.status, 201, JSON.stringify(f.data));
	assert.equal((await identity())?.name, `${NAME} 3`, 'identified at once (the API adds to its own index)');
	await new Promise((r) => setTimeout(r, 4500)); // two polls
	assert.equal((await identity())?.name, `${NAME} 3`, 'still identified after two polls');
	assert.equal(lines(), before, 'the sync found nothing to do');
});
