// cameras.test.mjs — cameras to events end to end: a real `mien serve` running the demo camera (a clip that
// `make demo` builds from face-api's sample photos) and a real RTSP camera (GStreamer's RTSP server serving the
// same clip), with a person enrolled from one face of sample1.jpg (labelled with 3 faces; the crop box is the one
// tests/integration/api.test.mjs uses). It checks that visits become events with the right person, that a
// watchlist person raises an alert, that `face` and `event` messages reach the live stream, that the live view
// and snapshot are JPEG pictures, that a camera password appears in no reply and no log line, and that URLs
// outside the allow-list are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const CLIP = join(ROOT, 'build/demo/demo.mp4');
if (!existsSync(CLIP)) throw new Error('build/demo/demo.mp4 is missing: `make demo` builds it');
const tmp = mkdtempSync(join(tmpdir(), 'mien-cam-'));
const SECRET = 'pw-Zq81xx-never-shown';

let server, base, token, stderr = '', stdout = '';

async function call(method, path, { json, body, type } = {}) {
	const headers = { Authorization: `Bearer ${token}` };
	if (json) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(json);
	} else if (type) headers['Content-Type'] = type;
	const r = await fetch(base + path, { method, headers, body });
	const buf = Buffer.from(await r.arrayBuffer());
	const data = (r.headers.get('content-type') || '').startsWith('application/json') && buf.length ? JSON.parse(buf) : null;
	return { status: r.status, data, buf, type: r.headers.get('content-type') || '' };
}

async function until(cond, ms, step = 250) {
	const t0 = Date.now();
	for (;;) {
		const v = await cond();
		if (v) return v;
		if (Date.now() - t0 > ms) return null;
		await new Promise((r) => setTimeout(r, step));
	}
}

before(async () => {
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: `sqlite:${join(tmp, 'mien.db')}`,
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_LOG_LEVEL: 'debug',
			MIEN_DEMO_CAMERA: CLIP,
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
});

after(async () => {
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	assert.equal(server.exitCode, 0, `mien serve exit status:\n${stderr.slice(-3000)}`);
	assert.ok(!stderr.includes(SECRET) && !stdout.includes(SECRET), 'a camera password reached the log');
	rmSync(tmp, { recursive: true, force: true });
});

test('the demo camera runs and shows up online with its rate', async () => {
	const cams = await call('GET', '/api/v1/cameras');
	assert.equal(cams.status, 200);
	const demo = cams.data.items.find((c) => c.name === 'demo');
	assert.ok(demo, 'the demo camera was created on first start');
	const online = await until(async () => (await call('GET', `/api/v1/cameras/${demo.id}`)).data.status === 'online', 10000);
	assert.ok(online, 'demo camera online');
	const c = (await call('GET', `/api/v1/cameras/${demo.id}`)).data;
	assert.equal(c.width, 1280);
	assert.equal(c.height, 720);
	// Log lines name the camera by its name (and id), not "camera camera 1".
	assert.match(stderr, new RegExp(`video: camera demo \\(${demo.id}\\): .*-> online`));
	// The same in Prometheus text.
	const metrics = await until(async () => {
		const m = (await call('GET', '/metrics')).buf.toString();
		return Number(/^mien_frames_analysed_total (\d+)$/m.exec(m)?.[1]) > 0 ? m : null;
	}, 10000);
	assert.ok(metrics, 'frames are analysed and counted');
	assert.match(metrics, new RegExp(`^mien_camera_online\\{camera="${demo.id}"\\} 1$`, 'm'));
	assert.match(metrics, new RegExp(`^mien_camera_fps\\{camera="${demo.id}",stage="decoded"\\} \\d`, 'm'));
	// The API's analysed rate against the live stream's count of the camera's `face` messages (one per analysed
	// frame) over the API's 5 s window.
	const ctl = new AbortController();
	const res = await fetch(base + '/api/v1/stream', { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
	const reader = res.body.getReader();
	const dec = new TextDecoder();
	const times = [];
	let text = '';
	const reading = (async () => {
		try {
			for (;;) {
				const { value, done } = await reader.read();
				if (done) break;
				text += dec.decode(value, { stream: true });
				let cut;
				while ((cut = text.indexOf('\n\n')) >= 0) {
					const block = text.slice(0, cut);
					text = text.slice(cut + 2);
					const data = /^data: (.*)$/m.exec(block)?.[1];
					if (/^event: face$/m.test(block) && data && JSON.parse(data).camera_id === demo.id) times.push(Date.now());
				}
			}
		} catch {
			/* aborted */
		}
	})();
	await new Promise((r) => setTimeout(r, 6000));
	const api = (await call('GET', `/api/v1/cameras/${demo.id}`)).data.analysed_fps;
	const end = Date.now();
	ctl.abort();
	await reading;
	const sse = times.filter((t) => t > end - 5000).length / 5;
	assert.ok(sse >= 1, `the demo camera is analysed (${sse} face messages a second)`);
	assert.ok(Math.abs(api - sse) <= 0.25 * sse + 0.5, `analysed_fps ${api} against ${sse} face messages a second`);
});

test('an enrolled watchlist person is recognised on camera: event with the person, and an alert', async () => {
	const face = join(tmp, 'face.jpg');
	execFileSync(SEED, ['crop', join(ROOT, 'models/samples/sample1.jpg'), '755', '368', '370', '370', '300', face]);
	const p = await call('POST', '/api/v1/people', { json: { name: 'Ada', watchlist: true } });
	assert.equal(p.status, 201);
	const e = await call('POST', `/api/v1/people/${p.data.id}/faces`, { body: readFileSync(face), type: 'image/jpeg' });
	assert.equal(e.status, 201, JSON.stringify(e.data));
	// The clip shows sample1 for 3 s of every 18 s: within two loops Ada must be seen.
	const seen = await until(async () => {
		const r = await call('GET', `/api/v1/events?person=${p.data.id}&limit=5`);
		return r.data.items.length ? r.data.items[0] : null;
	}, 45000, 500);
	assert.ok(seen, `no event of the enrolled person:\n${stderr.slice(-2000)}`);
	assert.equal(seen.person.name, 'Ada');
	assert.ok(seen.similarity >= 0.9, `similarity ${seen.similarity}`);
	assert.ok(seen.expression && seen.dominant_expression, 'admins get the expression');
	const snap = await call('GET', `/api/v1/events/${seen.id}/snapshot.jpg`);
	assert.equal(snap.status, 200);
	assert.equal(snap.buf[0], 0xff);
	assert.equal(snap.buf[1], 0xd8);
	// The face crop of the event: a small JPEG, smaller than the whole frame.
	const crop = await call('GET', `/api/v1/events/${seen.id}/face.jpg`);
	assert.equal(crop.status, 200);
	assert.equal(crop.type, 'image/jpeg');
	assert.deepEqual([crop.buf[0], crop.buf[1]], [0xff, 0xd8]);
	assert.ok(crop.buf.length < snap.buf.length, `face ${crop.buf.length} B, snapshot ${snap.buf.length} B`);
	const alert = await until(async () => {
		const r = await call('GET', '/api/v1/alerts?limit=20');
		return r.data.items.find((a) => a.person?.id === p.data.id && a.kind === 'watchlist');
	}, 5000);
	assert.ok(alert, 'a watchlist alert for Ada');
	assert.equal(alert.count, 1);
	// The clip brings Ada back every 18 s: within the alert cooldown (10 minutes by default) her next visit is
	// counted on the same alert rather than raising another.
	const first = seen.id;
	const next = await until(async () => {
		const r = await call('GET', `/api/v1/events?person=${p.data.id}&limit=5`);
		return r.data.items.find((ev) => ev.id > first);
	}, 45000, 500);
	assert.ok(next, 'Ada came back in the next loop of the clip');
	const counted = await until(async () => {
		const r = await call('GET', '/api/v1/alerts?limit=50');
		const mine = r.data.items.filter((a) => a.person?.id === p.data.id && a.kind === 'watchlist');
		return mine.length === 1 && mine[0].count >= 2 ? mine : null;
	}, 5000);
	assert.ok(counted, 'one alert for Ada, counting both visits');
	assert.equal(counted[0].id, alert.id);
	// Other people in the clip produce events too, as unknown faces.
	const unknown = await call('GET', '/api/v1/events?unknown=true&limit=5');
	assert.ok(unknown.data.items.length > 0, 'unknown people produce events');
});

// A JPEG's size from its start-of-frame segment (SOF0..SOF15 but DHT, JPG and DAC), read from the bytes
// themselves rather than from anything mien reports.
function jpegSize(buf) {
	assert.deepEqual([buf[0], buf[1]], [0xff, 0xd8], 'a JPEG');
	for (let i = 2; i + 9 < buf.length; ) {
		if (buf[i] !== 0xff) throw new Error(`no marker at ${i}`);
		const marker = buf[i + 1];
		if (marker === 0xff) {
			i++;
			continue;
		}
		const len = buf.readUInt16BE(i + 2);
		if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker))
			return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
		i += 2 + len;
	}
	throw new Error('no SOF segment');
}

// The first event after `after` (an id).
async function eventAfter(after) {
	const ev = await until(async () => {
		const r = await call('GET', '/api/v1/events?limit=5');
		return r.data.items.find((e) => e.id > after);
	}, 45000, 300);
	assert.ok(ev, `an event after ${after}:\n${stderr.slice(-1500)}`);
	return ev;
}

// An event surely recorded under the settings as they are now: the recorder reads them just before it stores an
// event, so the first event after now may have read them a moment before the change; the one after it has not.
async function nextEvent() {
	const now = (await call('GET', '/api/v1/events?limit=1')).data.items[0]?.id ?? 0;
	return eventAfter((await eventAfter(now)).id);
}

test('event snapshots follow snapshot_width and snapshot_quality without a restart; 0 keeps only the face crop', async () => {
	const patch = async (json) => {
		const r = await call('PATCH', '/api/v1/settings', { json });
		assert.equal(r.status, 200, JSON.stringify(r.data));
	};
	// The clip is 1280x720 (the first test): a snapshot is scaled to the setting's width, keeping the aspect.
	await patch({ snapshot_width: 320, snapshot_quality: 50 });
	let ev = await nextEvent();
	let snap = await call('GET', `/api/v1/events/${ev.id}/snapshot.jpg`);
	assert.equal(snap.status, 200);
	assert.deepEqual(jpegSize(snap.buf), { width: 320, height: 180 });
	const small = snap.buf.length;
	await patch({ snapshot_width: 960, snapshot_quality: 90 });
	ev = await nextEvent();
	snap = await call('GET', `/api/v1/events/${ev.id}/snapshot.jpg`);
	assert.equal(snap.status, 200);
	assert.deepEqual(jpegSize(snap.buf), { width: 960, height: 540 });
	assert.ok(snap.buf.length > small, `960 px at q90 (${snap.buf.length} B) outweighs 320 px at q50 (${small} B)`);
	// No snapshot at all: 404 for it, the face crop still there.
	await patch({ snapshot_width: 0 });
	ev = await nextEvent();
	snap = await call('GET', `/api/v1/events/${ev.id}/snapshot.jpg`);
	assert.equal(snap.status, 404);
	const crop = await call('GET', `/api/v1/events/${ev.id}/face.jpg`);
	assert.equal(crop.status, 200);
	assert.equal(crop.type, 'image/jpeg');
	const side = jpegSize(crop.buf);
	assert.ok(side.width > 0 && side.height > 0);
	// Back to the defaults: 640 px wide.
	await patch({ snapshot_width: 640, snapshot_quality: 70 });
	ev = await nextEvent();
	snap = await call('GET', `/api/v1/events/${ev.id}/snapshot.jpg`);
	assert.deepEqual(jpegSize(snap.buf), { width: 640, height: 360 });
});

test('the live stream carries face and event messages of the camera', async () => {
	const ctl = new AbortController();
	const res = await fetch(base + '/api/v1/stream', { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
	assert.equal(res.status, 200);
	const reader = res.body.getReader();
	let text = '';
	const t0 = Date.now();
	while (Date.now() - t0 < 15000 && !(/event: face/.test(text) && /event: event/.test(text))) {
		const { value, done } = await reader.read();
		if (done) break;
		text += Buffer.from(value).toString('utf8');
	}
	ctl.abort();
	assert.match(text, /event: face\ndata: \{"camera_id":\d+/);
	assert.match(text, /event: event\n/);
	const face = JSON.parse(/event: face\ndata: (.*)\n/.exec(text)[1]);
	assert.equal(face.width, 1280);
	assert.ok(Array.isArray(face.faces));
});

test('live.mjpg and snapshot.jpg are pictures; cameras outside a user list answer 404', async () => {
	const cams = (await call('GET', '/api/v1/cameras')).data.items;
	const demo = cams.find((c) => c.name === 'demo');
	const snap = await call('GET', `/api/v1/cameras/${demo.id}/snapshot.jpg`);
	assert.equal(snap.status, 200);
	assert.equal(snap.type, 'image/jpeg');
	assert.equal(snap.buf[0], 0xff);
	const ctl = new AbortController();
	const live = await fetch(`${base}/api/v1/cameras/${demo.id}/live.mjpg`, { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
	assert.equal(live.status, 200);
	assert.match(live.headers.get('content-type'), /^multipart\/x-mixed-replace; boundary=/);
	const reader = live.body.getReader();
	let buf = Buffer.alloc(0);
	const t0 = Date.now();
	while (Date.now() - t0 < 5000 && (buf.toString('latin1').match(/--mienframe/g) || []).length < 3) {
		const { value, done } = await reader.read();
		if (done) break;
		buf = Buffer.concat([buf, Buffer.from(value)]);
	}
	ctl.abort();
	const parts = buf.toString('latin1').split('--mienframe').filter((p) => p.length > 10);
	assert.ok(parts.length >= 2, 'several pictures arrive');
	assert.match(parts[0], /Content-Type: image\/jpeg\r\nContent-Length: \d+\r\n\r\n\xff\xd8/);
	// A user limited to no camera at all sees neither picture.
	assert.equal((await call('POST', '/api/v1/users', { json: { username: 'blind', password: 'blind-pass-1', role: 'analyst', all_cameras: false, cameras: [] } })).status, 201);
	const t = (await (await fetch(base + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'blind', password: 'blind-pass-1' }) })).json()).token;
	for (const what of ['snapshot.jpg', 'live.mjpg']) {
		const r = await fetch(`${base}/api/v1/cameras/${demo.id}/${what}`, { headers: { Authorization: `Bearer ${t}` } });
		assert.equal(r.status, 404, what);
		await r.arrayBuffer();
	}
});

// The width of a JPEG from its frame header (SOF0..SOF15 but DHT, JPG, DAC), 0 if there is none.
function jpegWidth(buf) {
	for (let i = 2; i + 9 < buf.length; ) {
		if (buf[i] !== 0xff) return 0;
		const m = buf[i + 1];
		if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return buf.readUInt16BE(i + 7);
		i += 2 + buf.readUInt16BE(i + 2);
	}
	return 0;
}

test('live.mjpg?width=N sends pictures N px wide, rounded down to a multiple of 16 within 160 .. 1280', async () => {
	const demo = (await call('GET', '/api/v1/cameras')).data.items.find((c) => c.name === 'demo');
	// the demo clip is 1280 px wide (see the `face` message test above)
	for (const [asked, sent] of [['300', 288], ['1', 160], ['640', 640], ['5000', 1280], [null, 1280]]) {
		const ctl = new AbortController();
		const url = `${base}/api/v1/cameras/${demo.id}/live.mjpg${asked ? `?width=${asked}` : ''}`;
		const live = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
		assert.equal(live.status, 200, url);
		const reader = live.body.getReader();
		let buf = Buffer.alloc(0);
		const t0 = Date.now();
		let part = null;
		while (!part && Date.now() - t0 < 5000) {
			const { value, done } = await reader.read();
			if (done) break;
			buf = Buffer.concat([buf, Buffer.from(value)]);
			const m = /Content-Length: (\d+)\r\n\r\n/.exec(buf.toString('latin1'));
			if (m && buf.length >= m.index + m[0].length + Number(m[1])) part = buf.subarray(m.index + m[0].length, m.index + m[0].length + Number(m[1]));
		}
		ctl.abort();
		assert.ok(part, `a picture from ${url}`);
		assert.equal(jpegWidth(part), sent, url);
	}
	for (const bad of ['abc', '-5', '0', '12px', '99999999999']) {
		const r = await call('GET', `/api/v1/cameras/${demo.id}/live.mjpg?width=${bad}`);
		assert.equal(r.status, 400, `width=${bad}`);
		assert.equal(r.data.error.code, 'bad_request');
	}
});

test('camera URLs: passwords never leave the server; schemes outside the allow-list are refused', async () => {
	// The Settings page's analysis rate is the default for a new camera.
	assert.equal((await call('PATCH', '/api/v1/settings', { json: { analysis_fps: 2 } })).status, 200);
	const r = await call('POST', '/api/v1/cameras', { json: { name: 'dead', url: `rtsp://viewer:${SECRET}@127.0.0.1:1/stream` } });
	assert.equal(r.status, 201);
	assert.equal(r.data.analysis_fps, 2);
	assert.ok(!JSON.stringify(r.data).includes(SECRET));
	const st = await until(async () => {
		const c = (await call('GET', `/api/v1/cameras/${r.data.id}`)).data;
		return c.status === 'reconnecting' ? c : null;
	}, 8000);
	assert.ok(st, 'a camera that cannot connect is reconnecting');
	assert.ok(!JSON.stringify(st).includes(SECRET));
	for (const url of ['exec:/bin/sh', 'pipe:0', 'concat:/etc/passwd', 'file:/etc/passwd', 'data:,x', 'gopher://x']) {
		const bad = await call('POST', '/api/v1/cameras', { json: { name: `bad-${url.slice(0, 4)}`, url } });
		assert.equal(bad.status, 400, url);
	}
	assert.equal((await call('DELETE', `/api/v1/cameras/${r.data.id}`)).status, 204);
	assert.equal((await call('GET', '/healthz')).status, 200);
});
