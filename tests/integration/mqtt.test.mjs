// mqtt.test.mjs — MQTT and Home Assistant discovery end to end: a real `mien serve` running the demo camera, a real
// `mosquitto` broker on a loopback port (with a password file, so that mien's credentials are used), and
// `mosquitto_sub` as the independent subscriber. The broker is down when mien starts (mien serves and analyses, and
// connects once it comes), is restarted in the middle (mien reconnects and publishes its retained state again, which
// the restarted broker has lost), and a second mien is killed with SIGKILL to see its last will.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { firstStartDatabase } from './database.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const CLIP = join(ROOT, 'build/demo/demo.mp4');
if (!existsSync(CLIP)) throw new Error('build/demo/demo.mp4 is missing: `make demo` builds it');
const tmp = mkdtempSync(join(tmpdir(), 'mien-mqtt-'));
const MQTT_USER = 'mien';
const MQTT_PASSWORD = 'mqtt-pw-Hx61-never-logged';

let brokerPort, broker, brokerLog = '';
let server, base, token, stderr = '', stdout = '';
const extra = []; // other processes to stop at the end

// --- the broker and the subscriber -----------------------------------------------------------------------------

function freePort() {
	return new Promise((resolve) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

function startBroker() {
	const conf = join(tmp, 'mosquitto.conf');
	// `user`: a broker started as root would otherwise switch to the mosquitto user, who cannot read our folder.
	writeFileSync(
		conf,
		`listener ${brokerPort} 127.0.0.1\nallow_anonymous false\npassword_file ${join(tmp, 'passwd')}\npersistence false\nuser ${userInfo().username}\n`,
	);
	broker = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
	broker.stdout.on('data', (d) => (brokerLog += d));
	broker.stderr.on('data', (d) => (brokerLog += d));
	return until(() => new Promise((r) => {
		const s = net.connect(brokerPort, '127.0.0.1', () => (s.destroy(), r(true)));
		s.on('error', () => r(false));
	}), 5000, 50);
}

async function stopBroker() {
	if (!broker || broker.exitCode !== null) return;
	broker.kill('SIGTERM');
	await new Promise((r) => broker.once('exit', r));
}

const SUB = (args) => ['-h', '127.0.0.1', '-p', String(brokerPort), '-u', MQTT_USER, '-P', MQTT_PASSWORD, '-F', '%r\t%t\t%p', ...args];

function parseLine(line) {
	const [retain, topic, ...rest] = line.split('\t');
	const payload = rest.join('\t');
	let json = null;
	try {
		json = JSON.parse(payload);
	} catch {
		/* not JSON */
	}
	return { retain: retain === '1', topic, payload, json, at: Date.now() };
}

// A live subscriber to `filter`: .messages fills as they come.
function subscribe(filter = '#') {
	const p = spawn('mosquitto_sub', SUB(['-t', filter]), { stdio: ['ignore', 'pipe', 'pipe'] });
	const sub = { proc: p, messages: [], buf: '' };
	p.stdout.on('data', (d) => {
		sub.buf += d;
		let nl;
		while ((nl = sub.buf.indexOf('\n')) >= 0) {
			sub.messages.push(parseLine(sub.buf.slice(0, nl)));
			sub.buf = sub.buf.slice(nl + 1);
		}
	});
	extra.push(p);
	sub.stop = () => p.kill('SIGTERM');
	return sub;
}

// What the broker holds retained under `filter` now, as topic -> message.
function retained(filter = '#') {
	let out = '';
	try {
		out = execFileSync('mosquitto_sub', SUB(['-t', filter, '--retained-only', '-W', '1']), {
			encoding: 'utf8',
			timeout: 5000,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
	} catch (e) {
		out = e.stdout || ''; // -W ends it with a non-zero status
	}
	const map = new Map();
	for (const line of out.split('\n').filter(Boolean)) {
		const m = parseLine(line);
		map.set(m.topic, m);
	}
	return map;
}

// --- mien ---------------------------------------------------------------------------------------------------

async function call(method, path, { json, body, type } = {}) {
	const headers = { Authorization: `Bearer ${token}` };
	if (json !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(json);
	} else if (type) headers['Content-Type'] = type;
	const r = await fetch(base + path, { method, headers, body });
	const buf = Buffer.from(await r.arrayBuffer());
	const data = (r.headers.get('content-type') || '').startsWith('application/json') && buf.length ? JSON.parse(buf) : null;
	return { status: r.status, data, buf };
}

async function metric(name) {
	const text = await (await fetch(base + '/metrics')).text();
	const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
	return m ? Number(m[1]) : null;
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

function startMien(env, out) {
	const p = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: { ...process.env, MIEN_LISTEN: '127.0.0.1:0', MIEN_MODELS: join(ROOT, 'models'), ...env },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	p.stdout.on('data', (d) => (out.stdout += d));
	p.stderr.on('data', (d) => (out.stderr += d));
	return p;
}

let demo; // the demo camera

before(async () => {
	brokerPort = await freePort();
	execFileSync('mosquitto_passwd', ['-b', '-c', join(tmp, 'passwd'), MQTT_USER, MQTT_PASSWORD]);
	const out = { stdout: '', stderr: '' };
	server = startMien(
		{
			MIEN_DB: firstStartDatabase(tmp),
			MIEN_LOG_LEVEL: 'debug',
			MIEN_DEMO_CAMERA: CLIP,
			MIEN_MQTT: `mqtt://${MQTT_USER}:${MQTT_PASSWORD}@127.0.0.1:${brokerPort}`,
		},
		out,
	);
	Object.defineProperty(globalThis, '__mienOut', { value: out });
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(out.stderr) || !/password (\S+)/.test(out.stdout)) {
		if (server.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`server did not start:\n${out.stderr}`);
		await sleep(50);
	}
	base = `http://127.0.0.1:${/serving on port (\d+)/.exec(out.stderr)[1]}`;
	const r = await fetch(base + '/api/v1/auth/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(out.stdout)[1] }),
	});
	token = (await r.json()).token;
	demo = (await call('GET', '/api/v1/cameras')).data.items.find((c) => c.name === 'demo');
});

after(async () => {
	const out = globalThis.__mienOut;
	const watcher = broker && broker.exitCode === null ? subscribe('mien/available') : null;
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	if (watcher) await until(() => watcher.messages.some((m) => m.payload === 'offline'), 3000);
	for (const p of extra) if (p.exitCode === null) p.kill('SIGTERM');
	await stopBroker();
	assert.equal(server.exitCode, 0, `mien serve exit status:\n${out.stderr.slice(-3000)}`);
	if (watcher) assert.ok(watcher.messages.some((m) => m.payload === 'offline'), 'a clean stop says offline');
	assert.ok(!out.stderr.includes(MQTT_PASSWORD) && !out.stdout.includes(MQTT_PASSWORD), 'the MQTT password reached the log');
	rmSync(tmp, { recursive: true, force: true });
});

// --- the tests -----------------------------------------------------------------------------------------------

test('with the broker down at start mien serves and analyses, and connects once the broker comes', async () => {
	const out = globalThis.__mienOut;
	assert.equal((await fetch(base + '/readyz')).status, 200, 'MQTT is not needed to be ready');
	assert.ok(await until(async () => (await metric('mien_frames_analysed_total')) > 0, 15000), 'analysis runs');
	assert.equal(await metric('mien_mqtt_connected'), 0);
	const away = await call('GET', '/api/v1/mqtt');
	assert.equal(away.status, 200);
	assert.equal(away.data.configured, true);
	assert.equal(away.data.connected, false);
	assert.equal(away.data.prefix, 'mien');
	assert.equal(away.data.broker, `mqtt://${MQTT_USER}:***@127.0.0.1:${brokerPort}`);
	assert.ok(!JSON.stringify(away.data).includes(MQTT_PASSWORD));
	// Events made meanwhile could not go out: dropped, counted, and nothing grew.
	assert.ok(await until(async () => (await metric('mien_mqtt_dropped_total')) > 0, 15000), 'drops are counted');
	assert.ok(await startBroker(), `the broker did not start:\n${brokerLog}`);
	const connected = await until(async () => (await metric('mien_mqtt_connected')) === 1, 40000, 500);
	assert.ok(connected, `mien did not connect:\n${out.stderr.split('\n').filter((l) => /mqtt/.test(l)).join('\n')}`);
	assert.equal((await call('GET', '/api/v1/mqtt')).data.connected, true);
	assert.match(out.stderr, /mqtt: connected to mqtt:\/\/mien:\*\*\*@127\.0\.0\.1/);
});

test('retained: availability, Home Assistant discovery per camera, camera status and who is in view', async () => {
	const held = await until(() => {
		const r = retained();
		return r.has('mien/demo/people') && r.has('mien/demo/status') ? r : null;
	}, 10000);
	assert.ok(held, `retained topics: ${[...retained().keys()].join(', ')}`);
	assert.equal(held.get('mien/available').payload, 'online');
	const status = held.get('mien/demo/status').json;
	assert.deepEqual(Object.keys(status).sort(), ['error', 'id', 'name', 'status']);
	assert.equal(status.id, demo.id);
	assert.equal(status.status, 'online');
	const people = held.get('mien/demo/people').json;
	assert.equal(people.camera_id, demo.id);
	assert.equal(people.camera, 'demo');
	assert.equal(typeof people.count, 'number');
	assert.ok(Array.isArray(people.people));
	const id = demo.id;
	const configs = {
		last_person: held.get(`homeassistant/sensor/mien/camera_${id}_last_person/config`)?.json,
		people: held.get(`homeassistant/sensor/mien/camera_${id}_people/config`)?.json,
		status: held.get(`homeassistant/sensor/mien/camera_${id}_status/config`)?.json,
		watchlist: held.get(`homeassistant/binary_sensor/mien/camera_${id}_watchlist/config`)?.json,
	};
	for (const [what, c] of Object.entries(configs)) {
		assert.ok(c, `no discovery config for ${what}: ${[...held.keys()].join(', ')}`);
		assert.equal(c.device.name, 'demo');
		assert.deepEqual(c.device.identifiers, [`mien_camera_${id}`]);
		assert.equal(c.availability_topic, 'mien/available');
		assert.equal(c.unique_id, `mien_camera_${id}_${what}`);
		assert.ok(held.has(c.state_topic) || what === 'last_person', `${what}: state topic ${c.state_topic} is retained`);
		assert.equal(typeof c.value_template, 'string');
	}
	assert.equal(configs.people.state_topic, 'mien/demo/people');
	assert.equal(configs.watchlist.state_topic, 'mien/demo/people');
	assert.equal(configs.last_person.state_topic, 'mien/demo/last_person');
	assert.equal(configs.status.state_topic, 'mien/demo/status');
	assert.equal(configs.watchlist.payload_on, 'ON');
	assert.match(configs.watchlist.value_template, /value_json\.watchlist/);
	assert.match(configs.people.value_template, /value_json\.count/);
});

test('every event change on mien/events: the API object plus the camera name; expressions only when allowed', async () => {
	const sub = subscribe('mien/#');
	try {
		const got = await until(() => sub.messages.filter((m) => m.topic === 'mien/events').length >= 3, 15000);
		assert.ok(got, 'events are published');
		const ev = sub.messages.find((m) => m.topic === 'mien/events').json;
		assert.equal(sub.messages.find((m) => m.topic === 'mien/events').retain, false);
		assert.equal(ev.camera, 'demo');
		assert.equal(ev.expression, undefined);
		assert.equal(ev.dominant_expression, undefined);
		const api = (await call('GET', `/api/v1/events/${ev.id}`)).data;
		const keys = Object.keys(api).filter((k) => k !== 'expression' && k !== 'dominant_expression');
		assert.deepEqual(Object.keys(ev).filter((k) => k !== 'camera').sort(), keys.sort());
		assert.equal(ev.camera_id, api.camera_id);
		assert.equal(ev.started_at, api.started_at);
		assert.equal(ev.track_id, api.track_id);
		// An event that started is followed by one that ended, with the same id; and who is in view follows.
		const ended = await until(() => {
			const evs = sub.messages.filter((m) => m.topic === 'mien/events').map((m) => m.json);
			return evs.find((e) => e.ended_at && evs.some((s) => s.id === e.id && !s.ended_at));
		}, 20000);
		assert.ok(ended, 'an event ends');
		const counts = sub.messages.filter((m) => m.topic === 'mien/demo/people').map((m) => m.json);
		assert.ok(counts.length >= 2, 'people updates');
		assert.ok(counts.some((c) => c.count >= 1 && c.unknown >= 1), 'unknown faces are counted in view');
		for (const c of counts) assert.equal(c.count, c.unknown + c.people.length, JSON.stringify(c)); // nobody enrolled twice
		// The setting lets expressions through.
		const patch = await call('PATCH', '/api/v1/mqtt', { json: { expression: true } });
		assert.equal(patch.status, 200);
		assert.equal(patch.data.expression, true);
		const mark = Date.now();
		const withExpr = await until(() => sub.messages.find((m) => m.topic === 'mien/events' && m.at > mark && m.json.expression), 15000);
		assert.ok(withExpr, 'an event with expressions');
		assert.equal(typeof withExpr.json.expression.neutral, 'number');
		assert.equal((await call('PATCH', '/api/v1/mqtt', { json: { expression: false } })).data.expression, false);
	} finally {
		sub.stop();
	}
});

test('alerts go to mien/alerts, and the MQTT filter decides which', async () => {
	const sub = subscribe('mien/alerts');
	try {
		assert.equal((await call('PATCH', `/api/v1/cameras/${demo.id}`, { json: { alert_unknown: true } })).status, 200);
		const first = await until(() => sub.messages[0], 20000);
		assert.ok(first, 'an alert is published');
		assert.equal(first.json.kind, 'unknown');
		assert.equal(first.json.camera, 'demo');
		assert.equal(first.json.camera_id, demo.id);
		const api = (await call('GET', '/api/v1/alerts?limit=50')).data.items.find((a) => a.id === first.json.id);
		assert.ok(api, 'the same alert in the API');
		assert.equal(api.event_id, first.json.event_id);
		// A filter for another camera: alerts go on (the API counts more visits), MQTT hears none.
		const f = await call('PATCH', '/api/v1/mqtt', { json: { filter: { cameras: [demo.id + 1000] } } });
		assert.equal(f.status, 200);
		assert.deepEqual(f.data.filter.cameras, [demo.id + 1000]);
		await sleep(1000);
		const before = sub.messages.length;
		const visits = async () => (await call('GET', '/api/v1/alerts?limit=100')).data.items.reduce((n, a) => n + a.count, 0);
		const v0 = await visits();
		assert.ok(await until(async () => (await visits()) >= v0 + 2, 30000), 'more unknown visits are counted');
		await sleep(500);
		assert.equal(sub.messages.length, before, 'the filter kept them off MQTT');
		// Unknown faces at this camera: through again.
		assert.equal((await call('PATCH', '/api/v1/mqtt', { json: { filter: { cameras: [demo.id], unknown: true } } })).status, 200);
		assert.ok(await until(() => sub.messages.length > before, 30000), 'alerts flow again');
		assert.equal((await call('PATCH', '/api/v1/mqtt', { json: { filter: { cameras: ['x'] } } })).status, 400);
		assert.equal((await call('PATCH', '/api/v1/mqtt', { json: { discovery_prefix: 'home/#' } })).status, 400);
		assert.equal((await call('PATCH', '/api/v1/mqtt', { json: { colour: 1 } })).status, 400);
		assert.equal((await call('PATCH', '/api/v1/mqtt', { json: { filter: null } })).status, 200);
	} finally {
		sub.stop();
		await call('PATCH', `/api/v1/cameras/${demo.id}`, { json: { alert_unknown: false } });
	}
});

test('an enrolled watchlist person: last person seen, and the watchlist sensor turns on', async () => {
	const sub = subscribe('mien/demo/#');
	try {
		const face = join(tmp, 'face.jpg');
		execFileSync(SEED, ['crop', join(ROOT, 'models/samples/sample1.jpg'), '755', '368', '370', '370', '300', face]);
		const p = await call('POST', '/api/v1/people', { json: { name: 'Ada', watchlist: true } });
		assert.equal(p.status, 201);
		assert.equal((await call('POST', `/api/v1/people/${p.data.id}/faces`, { body: readFileSync(face), type: 'image/jpeg' })).status, 201);
		// The clip shows sample1 for 3 s of every 18 s.
		const last = await until(() => sub.messages.find((m) => m.topic === 'mien/demo/last_person' && m.json?.name === 'Ada'), 45000, 500);
		assert.ok(last, 'last person seen: Ada');
		assert.equal(last.json.id, p.data.id);
		assert.equal(last.json.camera, 'demo');
		assert.ok(last.json.similarity > 0.5);
		const onList = sub.messages.find((m) => m.topic === 'mien/demo/people' && m.json.watchlist);
		assert.ok(onList, 'the people topic says a watchlist person is in view');
		assert.ok(onList.json.people.some((x) => x.id === p.data.id && x.name === 'Ada' && x.watchlist));
		assert.equal(retained('mien/demo/last_person').get('mien/demo/last_person')?.json?.name, 'Ada');
	} finally {
		sub.stop();
	}
});

test('a camera renamed moves its topics; a camera deleted leaves no retained topic and no discovery config', async () => {
	const cam = (await call('POST', '/api/v1/cameras', { json: { name: 'Back Door', url: 'rtsp://127.0.0.1:9/none' } })).data;
	const there = await until(() => {
		const r = retained();
		return r.has('mien/back_door/status') && r.has(`homeassistant/sensor/mien/camera_${cam.id}_people/config`) ? r : null;
	}, 10000);
	assert.ok(there, `retained: ${[...retained().keys()].join(', ')}`);
	assert.equal(there.get('mien/back_door/status').json.name, 'Back Door');
	assert.equal(there.get(`homeassistant/sensor/mien/camera_${cam.id}_people/config`).json.device.name, 'Back Door');
	assert.equal((await call('PATCH', `/api/v1/cameras/${cam.id}`, { json: { name: 'Garage' } })).status, 200);
	const moved = await until(() => {
		const r = retained();
		return r.has('mien/garage/status') && !r.has('mien/back_door/status') &&
			r.get(`homeassistant/sensor/mien/camera_${cam.id}_people/config`)?.json.state_topic === 'mien/garage/people'
			? r
			: null;
	}, 10000);
	assert.ok(moved, `after the rename: ${[...retained().keys()].join(', ')}`);
	assert.equal(moved.get(`homeassistant/binary_sensor/mien/camera_${cam.id}_watchlist/config`).json.device.name, 'Garage');
	assert.equal((await call('DELETE', `/api/v1/cameras/${cam.id}`)).status, 204);
	const gone = await until(() => {
		const keys = [...retained().keys()];
		return keys.some((k) => k.includes(`camera_${cam.id}_`) || k.startsWith('mien/garage/')) ? null : keys;
	}, 10000);
	assert.ok(gone, `still retained: ${[...retained().keys()].filter((k) => k.includes(`camera_${cam.id}_`) || k.startsWith('mien/garage'))}`);
	assert.ok(gone.includes('mien/demo/status'), 'the other camera is untouched');
});

test('broker restart: analysis goes on, mien reconnects and publishes its retained state again', async () => {
	const reconnects = await metric('mien_mqtt_reconnects_total');
	await stopBroker();
	assert.ok(await until(async () => (await metric('mien_mqtt_connected')) === 0, 10000), 'the loss is seen');
	const frames = await metric('mien_frames_analysed_total');
	const dropped = await metric('mien_mqtt_dropped_total');
	assert.ok(await until(async () => (await metric('mien_frames_analysed_total')) > frames + 10, 15000), 'analysis goes on without the broker');
	assert.ok(await until(async () => (await metric('mien_mqtt_dropped_total')) > dropped, 15000), 'messages meanwhile are dropped and counted');
	assert.ok(await startBroker(), `the broker did not restart:\n${brokerLog}`);
	assert.ok(await until(async () => (await metric('mien_mqtt_connected')) === 1, 40000, 500), 'reconnected');
	assert.equal(await metric('mien_mqtt_reconnects_total'), reconnects + 1);
	// The restarted broker kept nothing (persistence false): what it holds now came again from mien.
	const held = await until(() => {
		const r = retained();
		return r.get('mien/available')?.payload === 'online' && r.has('mien/demo/status') && r.has('mien/demo/people') &&
			r.has(`homeassistant/sensor/mien/camera_${demo.id}_people/config`) ? r : null;
	}, 10000);
	assert.ok(held, `retained after the restart: ${[...retained().keys()].join(', ')}`);
	const sub = subscribe('mien/events');
	try {
		assert.ok(await until(() => sub.messages.length > 0, 20000), 'events flow again');
	} finally {
		sub.stop();
	}
});

test('last will: a mien killed with SIGKILL is marked offline by the broker', async () => {
	const out = { stdout: '', stderr: '' };
	const second = startMien(
		{
			MIEN_DB: `sqlite:${join(tmp, 'second.db')}`,
			MIEN_MQTT: `mqtt://${MQTT_USER}:${MQTT_PASSWORD}@127.0.0.1:${brokerPort}`,
			MIEN_MQTT_PREFIX: 'second',
			MIEN_ROLE: 'api',
		},
		out,
	);
	extra.push(second);
	const online = await until(() => retained('second/available').get('second/available')?.payload === 'online', 20000);
	assert.ok(online, `the second mien did not come online:\n${out.stderr}`);
	const sub = subscribe('second/available');
	try {
		await until(() => sub.messages.length > 0, 3000); // the retained "online"
		second.kill('SIGKILL');
		const will = await until(() => sub.messages.find((m) => m.payload === 'offline'), 10000);
		assert.ok(will, 'the broker published the last will');
		assert.equal(retained('second/available').get('second/available')?.payload, 'offline', 'and keeps it');
	} finally {
		sub.stop();
	}
	assert.ok(!out.stderr.includes(MQTT_PASSWORD));
});
