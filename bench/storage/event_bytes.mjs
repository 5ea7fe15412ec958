// event_bytes.mjs — bytes stored per event, before and after the snapshot settings of issue 15.
//
//   node bench/storage/event_bytes.mjs [SECONDS]          (default 60 s per setting)
//
// For each setting (the old 1280 px at quality 85, the new defaults 640 px at 70, and 0 = face crop only) it
// starts `build/mien serve` on a fresh SQLite database with the demo clip (build/demo/demo.mp4, `make demo`) as
// its file camera, sets snapshot_width and snapshot_quality through the API before the camera is online, lets it
// run SECONDS, then reads back every event's snapshot and face crop through the API and the database size
// through GET /storage. It prints, per setting: events, events per minute, mean snapshot and face-crop bytes,
// picture bytes per event, MB of pictures per hour at the measured event rate, and the database's size at the end
// (SQLite file plus its write-ahead log, which keeps its high-water size of a few MB between checkpoints, so on a
// one-minute run it says little per event); then the ratio of the old to the new bytes per event.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = join(ROOT, 'build/mien');
const CLIP = join(ROOT, 'build/demo/demo.mp4');
const SECONDS = Number(process.argv[2] || 60);
const RUNS = [
	{ name: 'before (1280 px, q85)', snapshot_width: 1280, snapshot_quality: 85 },
	{ name: 'after (640 px, q70)', snapshot_width: 640, snapshot_quality: 70 },
	{ name: 'face crop only (0)', snapshot_width: 0, snapshot_quality: 70 },
];
if (!existsSync(CLIP)) throw new Error('build/demo/demo.mp4 is missing: `make demo` builds it');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(setting) {
	const tmp = mkdtempSync(join(tmpdir(), 'mien-bytes-'));
	let stderr = '', stdout = '';
	const server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: { ...process.env, MIEN_DB: `sqlite:${join(tmp, 'mien.db')}`, MIEN_LISTEN: '127.0.0.1:0', MIEN_DEMO_CAMERA: CLIP, MIEN_MODELS: join(ROOT, 'models') },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (stdout += d));
	server.stderr.on('data', (d) => (stderr += d));
	try {
		const t0 = Date.now();
		while (!/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout)) {
			if (server.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`server did not start:\n${stderr}`);
			await sleep(50);
		}
		const base = `http://127.0.0.1:${/serving on port (\d+)/.exec(stderr)[1]}`;
		const login = await fetch(base + '/api/v1/auth/login', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(stdout)[1] }),
		});
		const token = (await login.json()).token;
		const call = async (method, path, json) => {
			const r = await fetch(base + path, {
				method,
				headers: { Authorization: `Bearer ${token}`, ...(json ? { 'Content-Type': 'application/json' } : {}) },
				body: json ? JSON.stringify(json) : undefined,
			});
			return { status: r.status, buf: Buffer.from(await r.arrayBuffer()) };
		};
		const set = await call('PATCH', '/api/v1/settings', { snapshot_width: setting.snapshot_width, snapshot_quality: setting.snapshot_quality });
		if (set.status !== 200) throw new Error(`PATCH /settings: ${set.status} ${set.buf}`);
		const before = JSON.parse((await call('GET', '/api/v1/events?limit=1')).buf).items[0]?.id ?? 0;
		const start = Date.now();
		await sleep(SECONDS * 1000);
		const elapsed = (Date.now() - start) / 1000;
		const events = [];
		let cursor = null;
		do {
			const page = JSON.parse((await call('GET', `/api/v1/events?limit=100${cursor ? `&cursor=${cursor}` : ''}`)).buf);
			events.push(...page.items.filter((e) => e.id > before));
			cursor = page.next_cursor;
		} while (cursor);
		let snap = 0, face = 0;
		for (const e of events) {
			const s = await call('GET', `/api/v1/events/${e.id}/snapshot.jpg`);
			const f = await call('GET', `/api/v1/events/${e.id}/face.jpg`);
			if (s.status === 200) snap += s.buf.length;
			if (f.status === 200) face += f.buf.length;
		}
		const storage = JSON.parse((await call('GET', '/api/v1/storage')).buf);
		const n = events.length || 1;
		const perEvent = (snap + face) / n;
		const perHour = (events.length / elapsed) * 3600;
		return {
			setting: setting.name,
			events: events.length,
			events_per_min: +((events.length / elapsed) * 60).toFixed(1),
			snapshot_B: Math.round(snap / n),
			face_B: Math.round(face / n),
			pictures_B_per_event: Math.round(perEvent),
			db_MB: +(storage.database_bytes / 1e6).toFixed(1),
			MB_per_hour: +((perEvent * perHour) / 1e6).toFixed(1),
		};
	} finally {
		server.kill('SIGTERM');
		await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r)));
		rmSync(tmp, { recursive: true, force: true });
	}
}

const rows = [];
for (const s of RUNS) {
	process.stderr.write(`${s.name}: ${SECONDS} s …\n`);
	rows.push(await run(s));
}
console.table(rows);
const ratio = rows[0].pictures_B_per_event / rows[1].pictures_B_per_event;
console.log(`bytes per event, before / after: ${ratio.toFixed(2)}x (${rows[0].pictures_B_per_event} B -> ${rows[1].pictures_B_per_event} B)`);
