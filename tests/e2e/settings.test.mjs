// settings.test.mjs — the Settings page end to end: a real `build/mien serve` without cameras (SQLite in a
// temporary folder, MIEN_WEB=web/dist) driven through Debian's Chromium by playwright-core, as in
// dashboard.test.mjs. Events with pictures come from build/tests/seed. The page must show the database size and
// the days it will hold (against GET /storage), and the recognition threshold in force as the empty field's
// placeholder: the embedder's calibrated default of docs/accuracy.md, then a set value, then the default again.
// Screenshot: build/e2e/screenshots/settings-storage.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const WEB = process.env.MIEN_WEB || join(ROOT, 'web/dist');
const SHOTS = join(ROOT, 'build/e2e/screenshots');
const CHROMIUM = process.env.MIEN_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(join(ROOT, 'web/package.json'))('playwright-core');
// The calibrated defaults of docs/accuracy.md (0.1 % false accepts on LFW), by embedder.
const MODEL_DEFAULT = { face_recognition: 0.93, 'face_recognition-v2': 0.933, faceres: 0.665 };

const tmp = mkdtempSync(join(tmpdir(), 'mien-e2e-settings-'));
const DB = `sqlite:${join(tmp, 'mien.db')}`;
let server, base, adminPassword, adminToken, browser, stderr = '', stdout = '';

async function api(method, path, json) {
	const headers = { Authorization: `Bearer ${adminToken}` };
	if (json !== undefined) headers['Content-Type'] = 'application/json';
	const res = await fetch(base + '/api/v1' + path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
	const text = await res.text();
	return { status: res.status, data: text && (res.headers.get('content-type') || '').includes('json') ? JSON.parse(text) : null };
}

// "163 MB" -> bytes (1 kB = 1000 B, as the page writes them).
function parseBytes(text) {
	const m = /^([\d.]+) (B|kB|MB|GB|TB)$/.exec(text.trim());
	assert.ok(m, `a size in human units: ${text}`);
	return Number(m[1]) * 1000 ** ['B', 'kB', 'MB', 'GB', 'TB'].indexOf(m[2]);
}

before(async () => {
	assert.ok(existsSync(join(WEB, 'index.html')), `no built dashboard in ${WEB}: run make web`);
	mkdirSync(SHOTS, { recursive: true });
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: { ...process.env, MIEN_DB: DB, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_WEB: WEB, MIEN_MODELS: join(ROOT, 'models') },
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
	adminPassword = /password (\S+)/.exec(stdout)[1];
	const r = await fetch(base + '/api/v1/auth/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: adminPassword }),
	});
	adminToken = (await r.json()).token;
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
	});
});

after(async () => {
	if (browser) await browser.close();
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	rmSync(tmp, { recursive: true, force: true });
});

test('Settings shows the database size, the days it holds and the threshold in force', async () => {
	// A camera that is off, and events of it with pictures, a minute old (so the rate is that of the last 24 h).
	const cam = await api('POST', '/cameras', { name: 'door', url: 'rtsp://10.0.0.9/live', enabled: false });
	assert.equal(cam.status, 201, JSON.stringify(cam.data));
	execFileSync(SEED, ['events', DB, String(cam.data.id), '0', '4'], { encoding: 'utf8' });
	const settings = (await api('GET', '/settings')).data;
	const model = settings.recognition_model;
	assert.ok(model in MODEL_DEFAULT, `embedder ${model}`);
	assert.equal(settings.recognition_threshold, null);

	const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
	page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
	await page.goto(base + '/');
	await page.getByLabel('User name').fill('admin');
	await page.getByLabel('Password').fill(adminPassword);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByTestId('role').waitFor();
	await page.getByRole('link', { name: 'Settings', exact: true }).click();

	// Storage: the page's figures against the API's.
	const size = page.getByTestId('database-size');
	await size.waitFor();
	const st = (await api('GET', '/storage')).data;
	assert.equal(st.events, 4);
	const shown = parseBytes(await size.textContent());
	assert.ok(Math.abs(shown - st.database_bytes) <= 0.02 * st.database_bytes, `page ${shown} B, API ${st.database_bytes} B`);
	assert.ok(st.days_left > 0, `days_left ${st.days_left}`);
	assert.match(await page.getByTestId('days-left').textContent(), /^[\d.]+ (days|years) at the current rate$/);
	const storage = await page.getByLabel('Storage').textContent();
	assert.match(storage, /Events stored4 \(/);
	assert.match(storage, /4 events, [\d.]+ k?B per day \(last 24 h\)/);
	assert.match(storage, new RegExp(`events older than ${st.retention_days} days are deleted`));

	// The threshold in force: the model default while the field is empty.
	const field = page.getByLabel(/Recognition threshold/);
	assert.equal(await field.inputValue(), '');
	assert.equal(await field.getAttribute('placeholder'), `in force: ${MODEL_DEFAULT[model]} (model default)`);
	await page.screenshot({ path: join(SHOTS, 'settings-storage.png'), fullPage: true });
	// A value of one's own is what is in force; emptying the field goes back to the default.
	await field.fill('0.42');
	await page.getByRole('button', { name: 'Save settings' }).click();
	await page.getByRole('status').waitFor();
	assert.equal(await page.getByTestId('threshold-in-force').textContent(), 'in force: 0.42');
	assert.equal((await api('GET', '/settings')).data.recognition_threshold_in_force, 0.42);
	await field.fill('');
	await page.getByRole('button', { name: 'Save settings' }).click();
	await page.getByText(`in force: ${MODEL_DEFAULT[model]} (model default)`, { exact: true }).waitFor();
	const after = (await api('GET', '/settings')).data;
	assert.equal(after.recognition_threshold, null);
	assert.equal(after.recognition_threshold_in_force, MODEL_DEFAULT[model]);
	await page.context().close();
});
