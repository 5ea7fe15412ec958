// unknowns.test.mjs — unknown visitors end to end: a real `mien serve` watching a real RTSP camera (GStreamer's RTSP
// server, tests/integration/rtsp_server.py) that plays the demo clip three times over (face-api's sample photos,
// 3 s each, an 18-s loop) with nobody enrolled.
//
// What the test knows without asking mien: the clip repeats, so a face seen at the same place at the same moment of
// two loops is the same face, pixel for pixel; and two faces in the same frame at different places are two people.
// From those facts it checks that visits are grouped into unknown identities (repeats together, faces of one frame
// apart), that naming an identity names its past events and the face's next visit, that "not P" stops a false
// match (forced by a very low recognition threshold) on the face's next visit, and that a dismissed identity's
// face makes no more events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { firstStartDatabase } from './database.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const DEMO = join(ROOT, 'build/demo/demo.mp4');
if (!existsSync(DEMO)) throw new Error('build/demo/demo.mp4 is missing: `make demo` builds it');
const LOOP_MS = 18000;
const tmp = mkdtempSync(join(tmpdir(), 'mien-unknowns-'));
const CLIP = join(tmp, 'three-loops.mp4');
// Debian's python, the one with GStreamer's bindings (MACHINE-NOTES.md).
const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => {
	try {
		execFileSync(p, ['-c', 'import gi'], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
});

let server, rtsp, base, token, stderr = '', stdout = '', camera;

async function call(method, path, json) {
	const headers = { Authorization: `Bearer ${token}` };
	if (json) headers['Content-Type'] = 'application/json';
	const r = await fetch(base + path, { method, headers, body: json ? JSON.stringify(json) : undefined });
	const text = await r.text();
	return { status: r.status, data: text && (r.headers.get('content-type') || '').includes('json') ? JSON.parse(text) : null };
}

async function until(cond, ms, step = 500) {
	const t0 = Date.now();
	for (;;) {
		const v = await cond();
		if (v) return v;
		if (Date.now() - t0 > ms) return null;
		await new Promise((r) => setTimeout(r, step));
	}
}

function freePort() {
	return new Promise((resolve) => {
		const s = createServer();
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

async function events() {
	const r = await call('GET', `/api/v1/events?camera=${camera}&limit=1000`);
	assert.equal(r.status, 200);
	return r.data.items.filter((e) => e.ended_at);
}

function iou(a, b) {
	const x0 = Math.max(a[0], b[0]), y0 = Math.max(a[1], b[1]);
	const x1 = Math.min(a[0] + a[2], b[0] + b[2]), y1 = Math.min(a[1] + a[3], b[1] + b[3]);
	const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
	return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

const t = (e) => Date.parse(e.started_at);
// The moment of the clip's loop an event started at, measured from the first event (the loop repeats in real time).
let origin = 0;
const phase = (e) => (((t(e) - origin) % LOOP_MS) + LOOP_MS) % LOOP_MS;
function samePlaceAndMoment(a, b) {
	const d = Math.abs(phase(a) - phase(b));
	return iou(a.box, b.box) > 0.5 && Math.min(d, LOOP_MS - d) < 1500;
}
const overlapInTime = (a, b) => t(a) < Date.parse(b.ended_at) && t(b) < Date.parse(a.ended_at);

before(async () => {
	assert.ok(PYTHON, 'no python3 that imports gi (GStreamer bindings)');
	execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-stream_loop', '2', '-i', DEMO, '-c', 'copy', CLIP]);
	const port = await freePort();
	rtsp = spawn(PYTHON, [join(ROOT, 'tests/integration/rtsp_server.py'), String(port), CLIP, 'cam'], {
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let said = '';
	rtsp.stdout.on('data', (d) => (said += d));
	if (!(await until(() => said.includes('ready'), 15000, 100))) throw new Error('the RTSP server did not start');
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: firstStartDatabase(tmp),
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_MODELS: join(ROOT, 'models'),
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (stdout += d));
	server.stderr.on('data', (d) => (stderr += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout)) {
		if (server.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`server did not start:\n${stderr}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	base = `http://127.0.0.1:${/serving on port (\d+)/.exec(stderr)[1]}`;
	const r = await fetch(base + '/api/v1/auth/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(stdout)[1] }),
	});
	token = (await r.json()).token;
	const cam = await call('POST', '/api/v1/cameras', { name: 'door', url: `rtsp://127.0.0.1:${port}/cam`, analysis_fps: 5 });
	assert.equal(cam.status, 201, JSON.stringify(cam.data));
	camera = cam.data.id;
});

after(async () => {
	for (const p of [server, rtsp]) {
		if (p && p.exitCode === null) {
			p.kill('SIGTERM');
			await new Promise((r) => p.once('exit', r));
		}
	}
	rmSync(tmp, { recursive: true, force: true });
});

test('unknown visits are grouped: repeats of a face together, faces of one frame apart', async () => {
	// A whole loop and a half: every face of the clip seen at least once, most twice.
	const seen = await until(async () => {
		const ev = await events();
		return ev.length && t(ev[0]) - t(ev[ev.length - 1]) > LOOP_MS * 1.4 ? ev : null;
	}, 90000, 1000);
	assert.ok(seen, `no loop and a half of visits in 90 s:\n${stderr.slice(-2000)}`);
	origin = Math.min(...seen.map(t));
	const grouped = seen.filter((e) => e.unknown_id);
	assert.ok(grouped.length >= seen.length * 0.8, `${grouped.length} of ${seen.length} ended visits grouped`);
	assert.ok(grouped.every((e) => e.person === null), 'nobody is enrolled: no visit has a person');

	const list = await call('GET', '/api/v1/unknowns?limit=200');
	assert.equal(list.status, 200);
	const ids = new Set(grouped.map((e) => e.unknown_id));
	for (const id of ids) assert.ok(list.data.items.some((u) => u.id === id), `identity ${id} of an event is listed`);
	assert.ok(list.data.items.length >= 3, 'the clip shows several people');
	for (let i = 1; i < list.data.items.length; i++) assert.ok(list.data.items[i - 1].visits >= list.data.items[i].visits, 'most visits first');
	const top = list.data.items[0];
	assert.ok(top.visits >= 2 && top.camera_ids.includes(camera) && top.best_event_ids.length >= 1);

	// Repeats of the same face (same place, same moment of the loop) share an identity.
	let pairs = 0, agree = 0;
	for (let i = 0; i < grouped.length; i++)
		for (let j = i + 1; j < grouped.length; j++)
			if (Math.abs(t(grouped[i]) - t(grouped[j])) > LOOP_MS / 2 && samePlaceAndMoment(grouped[i], grouped[j])) {
				pairs++;
				agree += grouped[i].unknown_id === grouped[j].unknown_id ? 1 : 0;
			}
	assert.ok(pairs >= 3, `${pairs} repeated faces across loops`);
	assert.ok(agree >= pairs * 0.75, `${agree} of ${pairs} repeats of a face in the same identity`);
	// Two faces in the same frame at different places are two people.
	let together = 0, split = 0;
	for (let i = 0; i < grouped.length; i++)
		for (let j = i + 1; j < grouped.length; j++)
			if (overlapInTime(grouped[i], grouped[j]) && iou(grouped[i].box, grouped[j].box) === 0) {
				together++;
				split += grouped[i].unknown_id !== grouped[j].unknown_id ? 1 : 0;
			}
	assert.ok(together >= 3, `${together} pairs of faces seen together`);
	assert.ok(split >= together * 0.9, `${split} of ${together} pairs of faces in one frame kept apart`);
});

test('naming an identity names its past visits and the next one; "not P" stops a false match; dismiss', async () => {
	const list = (await call('GET', '/api/v1/unknowns?limit=200')).data.items;
	const named = list[0];
	const person = await call('POST', '/api/v1/people', { name: 'Visitor A' });
	assert.equal(person.status, 201);
	const pid = person.data.id;
	const bad = await call('POST', `/api/v1/unknowns/${named.id}/assign`, { person_id: pid, extra: 1 });
	assert.equal(bad.status, 400, 'unknown fields are refused');
	const assign = await call('POST', `/api/v1/unknowns/${named.id}/assign`, { person_id: pid });
	assert.equal(assign.status, 200, JSON.stringify(assign.data));
	assert.ok(assign.data.enrolled_face_ids.length >= 1 && assign.data.enrolled_face_ids.length <= 3);
	assert.equal(assign.data.events, named.visits);
	assert.equal((await call('GET', `/api/v1/unknowns/${named.id}`)).status, 404, 'the identity is gone once named');
	const past = (await call('GET', `/api/v1/events?person=${pid}&limit=1000`)).data.items;
	assert.equal(past.length, named.visits, 'every past visit carries the person');
	const people = await call('GET', `/api/v1/people/${pid}`);
	assert.equal(people.data.faces, assign.data.enrolled_face_ids.length);

	// The face's next visit (same place and moment of the loop, after the naming) is recognised.
	const namedAt = Date.now();
	const next = await until(async () => (await events()).find((e) => t(e) > namedAt && past.some((p) => samePlaceAndMoment(p, e))), LOOP_MS * 2 + 10000, 1000);
	assert.ok(next, 'the named face came back');
	assert.equal(next.person?.id, pid, `the next visit of the named face is ${JSON.stringify(next.person)}`);

	// A false match, forced by a very low recognition threshold: a face elsewhere in the clip named Visitor A.
	assert.equal((await call('PATCH', '/api/v1/settings', { recognition_threshold: 0.3 })).status, 200);
	const lowAt = Date.now() + 6000; // the workers re-read the threshold within seconds
	const wrong = await until(async () => (await events()).find((e) => t(e) > lowAt && e.person?.id === pid && !past.some((p) => samePlaceAndMoment(p, e))), LOOP_MS * 2 + 10000, 1000);
	assert.ok(wrong, 'at threshold 0.3 another face is named Visitor A');
	const not = await call('POST', `/api/v1/events/${wrong.id}/corrections`, { person_id: pid, verdict: 'not' });
	assert.equal(not.status, 201, JSON.stringify(not.data));
	const after1 = await call('GET', `/api/v1/events/${wrong.id}`);
	assert.equal(after1.data.person, null, 'the corrected visit is an unknown face now');
	const notAt = Date.now();
	const again = await until(async () => (await events()).find((e) => t(e) > notAt && samePlaceAndMoment(wrong, e)), LOOP_MS * 2 + 10000, 1000);
	assert.ok(again, 'the wrongly named face came back');
	assert.notEqual(again.person?.id, pid, 'after "not Visitor A" its next visit is not named Visitor A');
	const corrections = await call('GET', `/api/v1/corrections?person_id=${pid}`);
	assert.equal(corrections.data.items[0].verdict, 'not');
	assert.equal((await call('PATCH', '/api/v1/settings', { recognition_threshold: null })).status, 200, 'back to the default');
	await new Promise((r) => setTimeout(r, 6000));

	// Dismiss an identity: its face makes no more events.
	const others = (await call('GET', '/api/v1/unknowns?limit=200')).data.items.filter((u) => u.visits >= 2);
	assert.ok(others.length >= 1, 'another identity with repeat visits');
	const gone = others[0];
	const its = (await call('GET', `/api/v1/events?unknown_id=${gone.id}&limit=1000`)).data.items;
	const d = await call('POST', `/api/v1/unknowns/${gone.id}/dismiss`, { dismissed: true });
	assert.equal(d.status, 200);
	assert.equal(d.data.dismissed, true);
	const dismissedAt = Date.now();
	// A full loop later, events go on for other faces but none at the dismissed face's place and moment.
	const later = await until(async () => {
		const ev = await events();
		return ev.length && t(ev[0]) - dismissedAt > LOOP_MS + 3000 ? ev : null;
	}, LOOP_MS * 2 + 15000, 1000);
	assert.ok(later, 'visits went on after the dismissal');
	const since = later.filter((e) => t(e) > dismissedAt + 2000);
	assert.ok(since.length >= 2, 'other faces still make events');
	const repeats = since.filter((e) => its.some((p) => samePlaceAndMoment(p, e)));
	assert.equal(repeats.length, 0, `the dismissed face made ${repeats.length} events`);
	const listed = (await call('GET', '/api/v1/unknowns?dismissed=true')).data.items;
	assert.ok(listed.some((u) => u.id === gone.id));
});
