// enrol.test.mjs — enrolment from a group photo (?face=N, ?box=x,y,w,h) and the verdicts that guard the
// gallery (mismatch, matches_other, ?confirm=true), against a real `build/mien serve` on a loopback port.
//
// `make check-integration` runs it against SQLite (MIEN_IT_DB=sqlite, a temporary folder) and PostgreSQL
// (MIEN_IT_DB=postgresql under scripts/testdb.sh). What is expected comes from labels, not from mien:
// sample1.jpg shows 3 faces (face_counts.csv); the box (755,368,370,370) holds one of them (the one the other
// integration tests crop); the three faces of one photo are three different people; and the same crop at
// another size is, by construction, the same person.
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
const LABELLED_CROP = [755, 368, 370, 370]; // a square of sample1.jpg centred on one of its faces
// Its middle 60 %: about the face itself (the crop leaves a margin round it), as a user would draw a box.
const LABELLED_BOX = [755 + 74, 368 + 74, 222, 222];
const SAMPLE1_FACES = 3; // face_counts.csv

const tmp = mkdtempSync(join(tmpdir(), 'mien-enrol-'));
const DB = firstStartDatabase(tmp);

let server, base, token, stderr = '', stdout = '';

async function api(method, path, { json, body, type } = {}) {
	const headers = { Authorization: `Bearer ${token}` };
	if (json !== undefined) {
		body = JSON.stringify(json);
		headers['Content-Type'] = 'application/json';
	} else if (type) headers['Content-Type'] = type;
	const res = await fetch(base + '/api/v1' + path, { method, headers, body });
	const text = await res.text();
	return { status: res.status, data: text && (res.headers.get('content-type') || '').includes('json') ? JSON.parse(text) : null };
}

const enrol = (pid, query, bytes) => api('POST', `/people/${pid}/faces${query}`, { body: bytes, type: 'image/jpeg' });
const person = async (name) => (await api('POST', '/people', { json: { name } })).data.id;

function iou(a, b) {
	const x0 = Math.max(a[0], b[0]), y0 = Math.max(a[1], b[1]);
	const x1 = Math.min(a[0] + a[2], b[0] + b[2]), y1 = Math.min(a[1] + a[3], b[1] + b[3]);
	const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
	return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

before(async () => {
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: { ...process.env, MIEN_DB: DB, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_MODELS: join(ROOT, 'models') },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (stdout += d));
	server.stderr.on('data', (d) => (stderr += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout)) {
		if (server.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`server did not start:\n${stderr}\n${stdout}`);
		await new Promise((r) => setTimeout(r, 50));
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
	assert.equal(server.exitCode, 0, `mien serve exit status:\n${stderr.slice(-4000)}`);
	rmSync(tmp, { recursive: true, force: true });
});

const photo = () => readFileSync(SAMPLE1);
const ids = {};
let labelled; // the index, in /analyze's order, of the face inside LABELLED_BOX
let others; // the indexes of the other two faces

test('a group photo without a selector: several_faces lists the faces found, in /analyze order', async () => {
	ids.ann = await person('Ann');
	const an = await api('POST', '/analyze', { body: photo(), type: 'image/jpeg' });
	assert.equal(an.status, 200);
	assert.equal(an.data.faces.length, SAMPLE1_FACES);
	const r = await enrol(ids.ann, '', photo());
	assert.equal(r.status, 422);
	assert.equal(r.data.verdict, 'several_faces');
	assert.equal(r.data.faces, SAMPLE1_FACES);
	assert.equal(r.data.found.length, SAMPLE1_FACES, 'sample1.jpg is labelled with 3 faces');
	r.data.found.forEach((f, i) => {
		assert.equal(f.index, i);
		assert.equal(f.box.length, 4);
		assert.ok(f.score > 0 && f.score <= 1);
		for (let k = 0; k < 4; k++) assert.ok(Math.abs(f.box[k] - an.data.faces[i].box[k]) < 0.01, `face ${i} box as /analyze gives it`);
	});
	const overlaps = r.data.found.map((f) => iou(f.box, LABELLED_BOX));
	labelled = overlaps.indexOf(Math.max(...overlaps));
	assert.ok(overlaps[labelled] >= 0.3, `one face lies in the labelled box: ${overlaps}`);
	others = [0, 1, 2].filter((i) => i !== labelled);
	assert.equal((await api('GET', `/people/${ids.ann}/faces`)).data.items.length, 0, 'nothing stored');
});

test('malformed or out-of-range selectors: 400 with a clear message', async () => {
	for (const q of ['?face=abc', '?face=-1', '?face=1.5', '?face=', '?face=99999', '?box=1,2,3', '?box=a,b,c,d', '?box=0,0,0,10',
		'?box=1,2,3,4,5', '?box=-5,0,10,10', '?face=0&box=0,0,10,10', '?confirm=maybe']) {
		const r = await enrol(ids.ann, q, photo());
		assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.data)}`);
		assert.ok(r.data.error.message.length > 10, q);
	}
	const out = await enrol(ids.ann, `?face=${SAMPLE1_FACES}`, photo());
	assert.equal(out.status, 400, 'one past the 3 labelled faces');
	assert.match(out.data.error.message, /3 faces/);
	const crop = join(tmp, 'ann.jpg');
	execFileSync(SEED, ['crop', SAMPLE1, ...LABELLED_CROP.map(String), '300', crop]);
	const corner = await enrol(ids.ann, '?box=0,0,20,20', readFileSync(crop));
	assert.equal(corner.status, 422, 'a 20 px corner of a 300 px face crop holds no face');
	assert.equal(corner.data.verdict, 'no_face_at_box');
	assert.equal(corner.data.found.length, 1);
	assert.equal((await api('GET', `/people/${ids.ann}/faces`)).data.items.length, 0, 'nothing stored');
});

test('?box= and ?face= enrol the chosen face of the group photo', async () => {
	const byBox = await enrol(ids.ann, `?box=${LABELLED_BOX.join(',')}`, photo());
	assert.equal(byBox.status, 201, JSON.stringify(byBox.data));
	assert.equal(byBox.data.face, labelled);
	assert.equal(byBox.data.confirmed, false);
	assert.ok(iou(byBox.data.box, LABELLED_BOX) >= 0.3);
	// The face enrolled from the group photo is the one the crop shows: the crop is identified as Ann.
	const crop = readFileSync(join(tmp, 'ann.jpg'));
	const id = await api('POST', '/analyze', { body: crop, type: 'image/jpeg' });
	assert.equal(id.data.faces.length, 1);
	assert.equal(id.data.faces[0].identity?.person_id, ids.ann, JSON.stringify(id.data.faces[0].identity));
	// Another face of the same photo is another person: Bob, picked by index.
	ids.bob = await person('Bob');
	const byIndex = await enrol(ids.bob, `?face=${others[0]}`, photo());
	assert.equal(byIndex.status, 201, JSON.stringify(byIndex.data));
	assert.equal(byIndex.data.face, others[0]);
	assert.ok(iou(byIndex.data.box, LABELLED_BOX) < 0.3, 'not the labelled face');
	const all = await api('POST', '/analyze', { body: photo(), type: 'image/jpeg' });
	assert.equal(all.data.faces[labelled].identity?.person_id, ids.ann);
	assert.equal(all.data.faces[others[0]].identity?.person_id, ids.bob);
	assert.equal(all.data.faces[others[1]].identity, null, 'the third person is enrolled nowhere');
});

test('the same face under a second person: matches_other names the first', async () => {
	const rescaled = join(tmp, 'ann-200.jpg');
	execFileSync(SEED, ['crop', SAMPLE1, ...LABELLED_CROP.map(String), '200', rescaled]);
	ids.cy = await person('Cy');
	const r = await enrol(ids.cy, '', readFileSync(rescaled));
	assert.equal(r.status, 422, JSON.stringify(r.data));
	assert.equal(r.data.verdict, 'matches_other');
	assert.deepEqual(r.data.person, { id: ids.ann, name: 'Ann' });
	assert.ok(r.data.similarity >= r.data.threshold);
	assert.match(r.data.error.message, /Ann/);
	assert.equal((await api('GET', `/people/${ids.cy}/faces`)).data.items.length, 0, 'nothing stored');
	// The same face again under Ann herself is welcome.
	const again = await enrol(ids.ann, '', readFileSync(rescaled));
	assert.equal(again.status, 201, JSON.stringify(again.data));
});

test("a face unlike the person's own: mismatch, then enrolled with confirm=true (and audited)", async () => {
	const r = await enrol(ids.bob, '', readFileSync(join(tmp, 'ann.jpg')));
	assert.equal(r.status, 422, JSON.stringify(r.data));
	assert.equal(r.data.verdict, 'mismatch');
	assert.deepEqual(r.data.person, { id: ids.bob, name: 'Bob' });
	assert.ok(r.data.similarity < r.data.threshold);
	assert.match(r.data.error.message, /Bob/);
	assert.equal((await api('GET', `/people/${ids.bob}/faces`)).data.items.length, 1, 'nothing stored');
	const ok = await enrol(ids.bob, '?confirm=true', readFileSync(join(tmp, 'ann.jpg')));
	assert.equal(ok.status, 201, JSON.stringify(ok.data));
	assert.equal(ok.data.confirmed, true);
	assert.equal(ok.data.warning, 'mismatch');
	assert.equal((await api('GET', `/people/${ids.bob}/faces`)).data.items.length, 2);
	const audit = await api('GET', '/audit?limit=50');
	assert.ok(JSON.stringify(audit.data).includes(`face ${ok.data.id} (confirmed despite mismatch)`), 'the audit says it was confirmed');
});
