// live.test.mjs — the dashboard with a real camera: `build/mien serve` running the demo camera (`make demo`: a
// clip of face-api's sample photos), driven through Debian's Chromium by playwright-core. A person enrolled from
// one face of sample1.jpg (labelled with 3 faces; the crop box of tests/integration/api.test.mjs) must be
// recognised on the Live page (live picture and feed) and on the Events page; a `recognition` user sees the live
// feed with names but no expression. Screenshots land in build/e2e/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = join(ROOT, 'build/mien');
const SEED = join(ROOT, 'build/tests/seed');
const CLIP = join(ROOT, 'build/demo/demo.mp4');
const WEB = process.env.MIEN_WEB || join(ROOT, 'web/dist');
const SHOTS = join(ROOT, 'build/e2e/screenshots');
const CHROMIUM = process.env.MIEN_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(join(ROOT, 'web/package.json'))('playwright-core');
const EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

const tmp = mkdtempSync(join(tmpdir(), 'mien-e2e-live-'));
let server, base, token, browser, stderr = '', stdout = '';

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

async function signedInPage(username, password) {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
	await page.goto(base + '/');
	await page.getByLabel('User name').fill(username);
	await page.getByLabel('Password').fill(password);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByTestId('role').waitFor();
	return page;
}

before(async () => {
	assert.ok(existsSync(join(WEB, 'index.html')), `no built dashboard in ${WEB}: run make web`);
	assert.ok(existsSync(CLIP), 'no demo clip: run make demo');
	mkdirSync(SHOTS, { recursive: true });
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: `sqlite:${join(tmp, 'mien.db')}`,
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_LOG_LEVEL: 'info',
			MIEN_WEB: WEB,
			MIEN_MODELS: join(ROOT, 'models'),
			MIEN_DEMO_CAMERA: CLIP,
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (stdout += d));
	server.stderr.on('data', (d) => (stderr += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(stderr) || !/password (\S+)/.test(stdout)) {
		if (server.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`server did not start:\n${stderr}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	base = `http://127.0.0.1:${/serving on port (\d+)/.exec(stderr)[1]}`;
	const r = await fetch(base + '/api/v1/auth/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(stdout)[1] }),
	});
	token = (await r.json()).token;
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
	});
	// Ada is enrolled from one face of sample1.jpg, which the demo clip shows for 3 s of every 18 s.
	const face = join(tmp, 'face.jpg');
	execFileSync(SEED, ['crop', join(ROOT, 'models/samples/sample1.jpg'), '755', '368', '370', '370', '300', face]);
	const p = await api('POST', '/people', { json: { name: 'Ada Lovelace' } });
	assert.equal((await api('POST', `/people/${p.data.id}/faces`, { body: readFileSync(face), type: 'image/jpeg' })).status, 201);
	assert.equal((await api('POST', '/users', { json: { username: 'desk', password: 'desk-pass-123', role: 'recognition' } })).status, 201);
});

after(async () => {
	if (browser) await browser.close();
	if (server && server.exitCode === null) {
		server.kill('SIGTERM');
		await new Promise((r) => server.once('exit', r));
	}
	rmSync(tmp, { recursive: true, force: true });
});

test('live page: the camera picture plays, and the enrolled person appears in the live feed', async () => {
	const page = await signedInPage('admin', /password (\S+)/.exec(stdout)[1]);
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	const tile = page.getByTestId('camera-tile').first();
	await tile.waitFor();
	// Real pictures from live.mjpg.
	await page.waitForFunction(() => document.querySelector('[data-testid=camera-tile] img')?.naturalWidth > 0, null, { timeout: 20000 });
	// Status and an fps figure from GET /cameras (polled every 5 s), not only after a stream message.
	await tile.locator('[data-testid=camera-status]:text-is("online")').waitFor({ timeout: 10000 });
	await tile.getByTestId('camera-fps').waitFor({ timeout: 10000 });
	assert.match(await tile.getByTestId('camera-fps').textContent(), /\d+\.\d fps/);
	await page.getByTestId('feed-item').filter({ hasText: 'Ada Lovelace' }).first().waitFor({ timeout: 45000 });
	await page.screenshot({ path: join(SHOTS, 'live-camera.png'), fullPage: true });
	await page.context().close();
});

test('events page: a camera event of the enrolled person', async () => {
	const page = await signedInPage('admin', /password (\S+)/.exec(stdout)[1]);
	await page.getByRole('link', { name: 'Events', exact: true }).click();
	await page.getByTestId('event-row').filter({ hasText: 'Ada Lovelace' }).first().waitFor({ timeout: 20000 });
	await page.screenshot({ path: join(SHOTS, 'events-camera.png'), fullPage: true });
	await page.context().close();
});

test('a recognition user sees the live feed with names and no expression', async () => {
	const page = await signedInPage('desk', 'desk-pass-123');
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	await page.getByTestId('feed-item').nth(3).waitFor({ timeout: 30000 });
	const text = (await page.textContent('body')).toLowerCase();
	for (const e of EXPRESSIONS) assert.ok(!new RegExp(`\\b${e}\\b`).test(text), `"${e}" shown to a recognition user`);
	assert.ok(!text.includes('expression'));
	await page.screenshot({ path: join(SHOTS, 'live-recognition.png'), fullPage: true });
	await page.context().close();
});
