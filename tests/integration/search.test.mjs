// search.test.mjs — face search over past events (POST /api/v1/search/faces): a real `mien serve` whose demo camera
// plays the clip `make demo` builds from face-api's sample photos, with one face of sample1.jpg enrolled as "Ada"
// before anything is seen (the crop box is the one tests/integration/cameras.test.mjs uses).
//
// - An event's own face (?event=ID) finds that event first, at similarity ~1, and the other visits of its unknown
//   identity; results are best first and above the floor asked for (default: the recognition threshold in force).
// - A picture: the face asked for (?box=, the labelled face) finds the events recognition named Ada — the camera
//   pipeline's enrolled-face gallery, a separate index, says independently who they are; by default the largest face
//   is used; a picture without a face is 422 no_face.
// - Users limited to another camera, or to none, find nothing and cannot search with an event they cannot see;
//   a recognition user sees the names.
// - Bad parameters are 400s that say what was wrong.
// - Events written by another process (`seed event-faces`, 40 days old) appear within the sync interval, and leave
//   search and index once the retention setting purges them.
// Expected values are written here from the issue and docs/api.md, never read back from the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstStartDatabase } from './database.mjs';
import { png } from './pictures.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const CLIP = join(ROOT, 'build/demo/demo.mp4');
if (!existsSync(CLIP)) throw new Error('build/demo/demo.mp4 is missing: `make demo` builds it');
const SAMPLE = join(ROOT, 'models/samples/sample1.jpg');
const ADA_BOX = [755, 368, 370, 370]; // around the labelled face of sample1.jpg
const ADA_FACE = [847, 460, 185, 185].join(','); // its middle half: the face itself, for ?box=
const SYNC_MS = 500;
const tmp = mkdtempSync(join(tmpdir(), 'mien-search-'));
const DB = firstStartDatabase(tmp);

let server, base, token, stderr = '', stdout = '';
let demo, ada, threshold;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function call(method, path, { json, body, type, as = token } = {}) {
	const headers = {};
	if (as) headers.Authorization = `Bearer ${as}`;
	if (json) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(json);
	} else if (type) headers['Content-Type'] = type;
	const r = await fetch(base + path, { method, headers, body });
	const buf = Buffer.from(await r.arrayBuffer());
	const data = (r.headers.get('content-type') || '').startsWith('application/json') && buf.length ? JSON.parse(buf) : null;
	return { status: r.status, data };
}

const search = (query, opts = {}) => call('POST', `/api/v1/search/faces${query ? `?${query}` : ''}`, opts);
const picture = (query, bytes = readFileSync(SAMPLE), as = token) => search(query, { body: bytes, type: 'image/jpeg', as });

async function until(what, cond, ms, step = 500) {
	const t0 = Date.now();
	for (;;) {
		const v = await cond();
		if (v) return v;
		if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms\n${stderr.slice(-2000)}`);
		await sleep(step);
	}
}

async function login(username, password) {
	const r = await call('POST', '/api/v1/auth/login', { json: { username, password }, as: null });
	assert.equal(r.status, 200, JSON.stringify(r.data));
	return r.data.token;
}

// Results are sorted by similarity, best first, each at or above the floor, each with the fields of the contract.
function wellFormed(items, floor) {
	for (let i = 0; i < items.length; i++) {
		const it = items[i];
		assert.ok(Number.isInteger(it.event_id) && Number.isInteger(it.camera_id), JSON.stringify(it));
		assert.match(it.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
		assert.ok(it.person === null || (Number.isInteger(it.person.id) && typeof it.person.name === 'string'));
		assert.ok(it.similarity >= floor - 1e-6 && it.similarity <= 1, `similarity ${it.similarity} below ${floor}`);
		if (i) assert.ok(it.similarity <= items[i - 1].similarity, 'best first');
	}
	assert.equal(new Set(items.map((it) => it.event_id)).size, items.length, 'each event once');
}

before(async () => {
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: DB,
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_LOG_LEVEL: 'debug',
			MIEN_DEMO_CAMERA: CLIP,
			MIEN_MODELS: join(ROOT, 'models'),
			MIEN_GALLERY_SYNC_MS: String(SYNC_MS),
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
	token = await login('admin', /password (\S+)/.exec(stdout)[1]);
	demo = (await call('GET', '/api/v1/cameras')).data.items.find((c) => c.name === 'demo').id;
	threshold = (await call('GET', '/api/v1/settings')).data.recognition_threshold_in_force;
	assert.ok(threshold > 0 && threshold < 1, `threshold ${threshold}`);
	// Ada is enrolled before the clip shows her, so that her visits are named by recognition.
	const face = join(tmp, 'ada.jpg');
	execFileSync(SEED, ['crop', SAMPLE, ...ADA_BOX.map(String), '300', face]);
	ada = (await call('POST', '/api/v1/people', { json: { name: 'Ada' } })).data.id;
	const e = await call('POST', `/api/v1/people/${ada}/faces`, { body: readFileSync(face), type: 'image/jpeg' });
	assert.equal(e.status, 201, JSON.stringify(e.data));
});

after(async () => {
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	assert.equal(server.exitCode, 0, `mien serve exit status:\n${stderr.slice(-3000)}`);
	rmSync(tmp, { recursive: true, force: true });
});

let unknownEvent, identity;

test("an event's face finds that event first and the other visits of its unknown identity", async () => {
	// The clip loops every 18 s: wait for an unknown identity with two finished visits that kept a face.
	identity = await until('an unknown identity seen twice', async () => {
		const r = await call('GET', '/api/v1/unknowns?limit=20');
		return r.data.items.find((u) => u.visits >= 2 && u.camera_ids.includes(demo));
	}, 90000, 1000);
	unknownEvent = identity.event_ids[0];
	// Every visit of the identity (each kept a face when it ended, and was grouped then) is found within the sync
	// interval, above a floor well under the similarity the identities group visits at.
	const r = await until("the identity's visits in the index", async () => {
		const s = await search(`event=${unknownEvent}&min_similarity=0.5&limit=100`);
		assert.equal(s.status, 200, JSON.stringify(s.data));
		const found = new Set(s.data.items.map((it) => it.event_id));
		return identity.event_ids.every((id) => found.has(id)) ? s : null;
	}, 10000);
	const items = r.data.items;
	wellFormed(items, 0.5);
	assert.equal(items[0].event_id, unknownEvent, 'the event itself comes first');
	assert.ok(items[0].similarity > 0.99, `its own face: similarity ${items[0].similarity}`);
	assert.equal(items[0].camera_id, demo);
	assert.equal(items[0].person, null);
	assert.equal(items[0].unknown_id, identity.id);
	assert.deepEqual(r.data.query, { event_id: unknownEvent });
	for (const it of items.filter((x) => identity.event_ids.includes(x.event_id))) assert.equal(it.unknown_id, identity.id);
	// The default floor is the recognition threshold in force.
	const d = await search(`event=${unknownEvent}`);
	assert.equal(d.status, 200);
	assert.ok(Math.abs(d.data.min_similarity - threshold) < 1e-6, `floor ${d.data.min_similarity}`);
	wellFormed(d.data.items, threshold);
	assert.equal(d.data.items[0].event_id, unknownEvent);
	// A visit still going on is searched from with the face it started with; it is not itself among the results
	// until it ends (the index takes finished visits, with their final face).
	const open = await until('a visit going on, with a face', async () => {
		const evs = (await call('GET', '/api/v1/events?limit=30')).data.items.filter((ev) => !ev.ended_at);
		for (const ev of evs) {
			const s = await search(`event=${ev.id}&min_similarity=0.5`);
			if (s.status === 200) return { ev, s };
			assert.equal(s.status, 422, JSON.stringify(s.data)); // a visit whose face was too small to embed
		}
		return null;
	}, 20000, 300);
	wellFormed(open.s.data.items, 0.5);
	assert.ok(!open.s.data.items.some((it) => it.event_id === open.ev.id), 'an open visit is not yet in the index');
	assert.deepEqual(open.s.data.query, { event_id: open.ev.id });
	// limit caps the answer, keeping the best.
	const one = await search(`event=${unknownEvent}&limit=1&min_similarity=0.5`);
	assert.deepEqual(one.data.items.map((it) => it.event_id), [unknownEvent]);
	// Nothing was enrolled by searching.
	const people = (await call('GET', '/api/v1/people')).data.items;
	assert.deepEqual(people.map((p) => p.name), ['Ada']);
	assert.equal((await call('GET', `/api/v1/people/${ada}`)).data.faces, 1);
});

test('a picture: the face asked for finds the events recognition named; no face is 422', async () => {
	// Ada's visits, named by the camera pipeline's own recognition (the enrolled gallery, not the event index).
	const named = await until('a finished visit named Ada', async () => {
		const r = await call('GET', `/api/v1/events?person=${ada}&limit=50`);
		const done = r.data.items.filter((e) => e.ended_at);
		return done.length ? done : null;
	}, 60000, 1000);
	const r = await until('Ada\'s visits in the index', async () => {
		const s = await picture(`box=${ADA_FACE}`);
		assert.equal(s.status, 200, JSON.stringify(s.data));
		return s.data.items.some((it) => it.event_id === named[0].id) ? s : null;
	}, 10000);
	wellFormed(r.data.items, threshold);
	// A visit of her face that ended before she was enrolled stays unknown (person null) and may well be the best
	// hit; the hits recognition named are all hers, by her name.
	assert.ok(r.data.items[0].similarity > 0.95, `best hit ${JSON.stringify(r.data.items[0])}`);
	const hers = r.data.items.filter((it) => it.person);
	assert.ok(hers.length > 0 && hers.every((it) => it.person.id === ada && it.person.name === 'Ada'));
	// Every visit recognition named Ada is among the hits (hits may also hold visits of her face that recognition
	// did not name, such as those that began before she was enrolled).
	const hits = new Set(r.data.items.map((it) => it.event_id));
	for (const e of named) assert.ok(hits.has(e.id), `Ada's visit ${e.id} not found`);
	// The face searched with is the one in the box.
	const q = r.data.query;
	assert.ok(q.box[0] >= ADA_BOX[0] && q.box[1] >= ADA_BOX[1] && q.box[0] + q.box[2] <= ADA_BOX[0] + ADA_BOX[2]);
	// Without a selector the largest face is searched with (sizes from /analyze of the same picture).
	const faces = (await call('POST', '/api/v1/analyze', { body: readFileSync(SAMPLE), type: 'image/jpeg' })).data.faces;
	assert.equal(faces.length, 3);
	const area = (f) => f.box[2] * f.box[3];
	const largest = faces.reduce((best, f, i) => (area(f) > area(faces[best]) ? i : best), 0);
	const d = await picture('');
	assert.equal(d.status, 200, JSON.stringify(d.data));
	assert.equal(d.data.query.face, largest);
	wellFormed(d.data.items, threshold);
	// ?face=N as /analyze numbers faces; another person's face does not find Ada.
	const other = faces.findIndex((f, i) => i !== largest && !(f.box[0] >= ADA_BOX[0] && f.box[0] < ADA_BOX[0] + ADA_BOX[2]));
	const o = await picture(`face=${other}`);
	assert.equal(o.status, 200);
	assert.equal(o.data.query.face, other);
	assert.ok(!o.data.items.some((it) => it.person?.id === ada), 'another face found Ada');
	// A picture with no face, as image/png and as multipart.
	const none = await search('', { body: png(64, 64), type: 'image/png' });
	assert.equal(none.status, 422, JSON.stringify(none.data));
	assert.equal(none.data.error.code, 'no_face');
	const form = new FormData();
	form.append('image', new Blob([png(64, 64)], { type: 'image/png' }), 'grey.png');
	const multi = await call('POST', '/api/v1/search/faces', { body: form });
	assert.equal(multi.status, 422);
	assert.equal(multi.data.error.code, 'no_face');
	// Multipart with a face works like the plain body.
	const withFace = new FormData();
	withFace.append('image', new Blob([readFileSync(SAMPLE)], { type: 'image/jpeg' }), 'sample1.jpg');
	const m = await call('POST', `/api/v1/search/faces?box=${ADA_FACE}`, { body: withFace });
	assert.equal(m.status, 200);
	assert.deepEqual(m.data.query, r.data.query);
	assert.ok(m.data.items.some((it) => it.person?.id === ada));
});

test('users see only the events of their cameras; recognition users see names', async () => {
	const door = await call('POST', '/api/v1/cameras', { json: { name: 'door', url: 'rtsp://viewer:pw@127.0.0.1:9/door', enabled: false } });
	assert.equal(door.status, 201, JSON.stringify(door.data));
	const mk = async (username, cameras) => {
		const body = { username, password: `pw-${username}-123456`, role: 'recognition', all_cameras: false, cameras };
		const r = await call('POST', '/api/v1/users', { json: body });
		assert.equal(r.status, 201, JSON.stringify(r.data));
		return login(username, body.password);
	};
	const elsewhere = await mk('elsewhere', [door.data.id]);
	const nowhere = await mk('nowhere', []);
	const here = await mk('here', [demo]);
	for (const as of [elsewhere, nowhere]) {
		const p = await picture(`box=${ADA_FACE}&min_similarity=-1&limit=200`, readFileSync(SAMPLE), as);
		assert.equal(p.status, 200, JSON.stringify(p.data));
		assert.deepEqual(p.data.items, [], 'events of a camera the user may not see');
		// An event of another camera is one that does not exist.
		const e = await search(`event=${unknownEvent}`, { as });
		assert.equal(e.status, 404);
	}
	const p = await picture(`box=${ADA_FACE}`, readFileSync(SAMPLE), here);
	assert.equal(p.status, 200);
	assert.ok(p.data.items.some((it) => it.person?.name === 'Ada'), 'a recognition user sees the name');
	for (const it of p.data.items) assert.equal(it.camera_id, demo);
	// camera_id, since and until filter the admin's results the same way.
	assert.deepEqual((await search(`event=${unknownEvent}&camera_id=${door.data.id}&min_similarity=-1`)).data.items, []);
	const all = (await search(`event=${unknownEvent}&min_similarity=0.5&limit=200`)).data.items;
	assert.ok(all.length >= 2, `${all.length} visits`);
	const mid = all.map((it) => Date.parse(it.started_at)).sort((a, b) => a - b)[Math.floor(all.length / 2)];
	const later = (await search(`event=${unknownEvent}&min_similarity=0.5&limit=200&since=${mid}`)).data.items;
	const earlier = (await search(`event=${unknownEvent}&min_similarity=0.5&limit=200&until=${new Date(mid).toISOString()}`)).data.items;
	assert.ok(later.length > 0 && later.every((it) => Date.parse(it.started_at) >= mid));
	assert.ok(earlier.length > 0 && earlier.every((it) => Date.parse(it.started_at) < mid));
	// the visits before `mid` are settled: `until` finds exactly them
	const before = all.filter((it) => Date.parse(it.started_at) < mid).map((it) => it.event_id).sort();
	assert.deepEqual(earlier.map((it) => it.event_id).sort(), before);
});

test('bad parameters are 400, other media 415, unknown events 404', async () => {
	const sample = readFileSync(SAMPLE);
	const bad = [
		'limit=0', 'limit=201', 'limit=ten', 'min_similarity=2', 'min_similarity=-1.5', 'min_similarity=high',
		'camera_id=0', 'camera_id=x', 'since=yesterday', 'until=2026-13-45T00:00:00Z', 'since=2000&until=1000',
		'face=-1', 'face=99', 'box=1,2,3', 'face=0&box=1,2,3,4',
	];
	for (const q of bad) {
		const r = await picture(q, sample);
		assert.equal(r.status, 400, `${q}: ${r.status} ${JSON.stringify(r.data)}`);
		assert.equal(r.data.error.code, 'bad_request', q);
	}
	for (const q of ['event=abc', 'event=0', `event=${unknownEvent}&face=0`]) {
		const r = await search(q);
		assert.equal(r.status, 400, `${q}: ${r.status}`);
	}
	assert.equal((await search(`event=${unknownEvent}`, { body: sample, type: 'image/jpeg' })).status, 400, 'both a picture and an event');
	assert.equal((await search('')).status, 400, 'neither a picture nor an event');
	assert.equal((await search('', { body: 'hello', type: 'text/plain' })).status, 415);
	assert.equal((await search('', { body: Buffer.from('not a picture'), type: 'image/jpeg' })).status, 400);
	assert.equal((await search('event=999999999')).status, 404);
	assert.equal((await search(`event=${unknownEvent}`, { as: null })).status, 401);
});

test('events written by another process appear; purged by retention, they are gone from search and index', async () => {
	const made = JSON.parse(execFileSync(SEED, ['event-faces', DB, String(unknownEvent), '40', '3'], { encoding: 'utf8' })).events;
	assert.equal(made.length, 3);
	const r = await until('the other process\'s events in the index', async () => {
		const s = await search(`event=${unknownEvent}&limit=200&min_similarity=0.5`);
		return made.every((id) => s.data.items.some((it) => it.event_id === id)) ? s : null;
	}, 5000, 200);
	for (const id of made) assert.ok(r.data.items.find((it) => it.event_id === id).similarity > 0.99);
	// a pass logs "N event faces added in the store", or "N event faces added and M removed in the store"
	assert.match(stderr, /http: gallery: [1-9]\d* event faces? added (and \d+ removed )?in the store/);
	const removed = () => (stderr.match(/http: gallery: (\d+ event faces? added and [1-9]\d*|[1-9]\d* event faces?) removed in the store/g) || []).length;
	const removedBefore = removed();
	// 30 days' retention purges the 40-day-old events at the camera worker's next pass (at most a minute).
	assert.equal((await call('PATCH', '/api/v1/settings', { json: { retention_days: 30 } })).status, 200);
	await until('the purge', async () => (await call('GET', `/api/v1/events/${made[0]}`)).status === 404, 75000, 1000);
	const s = await search(`event=${unknownEvent}&limit=200&min_similarity=0.5`);
	assert.equal(s.status, 200);
	for (const id of made) assert.ok(!s.data.items.some((it) => it.event_id === id), `purged event ${id} still found`);
	assert.ok(s.data.items.some((it) => it.event_id === unknownEvent), 'the recent event stays');
	await until('the index lets them go', async () => removed() > removedBefore, 5000, 100);
	await sleep(SYNC_MS * 2);
	const again = await search(`event=${unknownEvent}&limit=200&min_similarity=0.5`);
	for (const id of made) assert.ok(!again.data.items.some((it) => it.event_id === id));
});
