// cli_enrol.test.mjs — a person enrolled with the CLI while `mien serve` runs the demo camera (`make demo`: a clip
// of face-api's sample photos) is recognised on the Live page without a restart: the server's gallery sync picks
// up the face `mien enroll` wrote to the same database. The face is the crop of sample1.jpg used by
// tests/e2e/live.test.mjs; the expected name is the one given to `mien enroll` here. Screenshot in
// build/e2e/screenshots/.
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
const CLIP = join(ROOT, 'build/demo/demo.mp4');
const WEB = process.env.MIEN_WEB || join(ROOT, 'web/dist');
const SHOTS = join(ROOT, 'build/e2e/screenshots');
const CHROMIUM = process.env.MIEN_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(join(ROOT, 'web/package.json'))('playwright-core');
const NAME = 'Grace Hopper';

const tmp = mkdtempSync(join(tmpdir(), 'mien-e2e-cli-'));
const DB = `sqlite:${join(tmp, 'mien.db')}`;
let server, base, browser, password, stderr = '', stdout = '';

before(async () => {
	assert.ok(existsSync(join(WEB, 'index.html')), `no built dashboard in ${WEB}: run make web`);
	assert.ok(existsSync(CLIP), 'no demo clip: run make demo');
	mkdirSync(SHOTS, { recursive: true });
	const env = { ...process.env };
	delete env.MIEN_REDIS;
	delete env.MIEN_GALLERY_SYNC_MS; // the default interval
	server = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: { ...env, MIEN_DB: DB, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_WEB: WEB, MIEN_MODELS: join(ROOT, 'models'), MIEN_DEMO_CAMERA: CLIP },
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
	password = /password (\S+)/.exec(stdout)[1];
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

test('a face enrolled with `mien enroll` while the server runs shows by name on the Live page', async () => {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
	await page.goto(base + '/');
	await page.getByLabel('User name').fill('admin');
	await page.getByLabel('Password').fill(password);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByTestId('role').waitFor();
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	const tile = page.getByTestId('camera-tile').first();
	await tile.locator('[data-testid=camera-status]:text-is("online")').waitFor({ timeout: 20000 });
	// The camera is already analysing faces, all unknown: nobody is enrolled.
	await page.getByTestId('feed-item').first().waitFor({ timeout: 45000 });
	assert.ok(!(await page.textContent('body')).includes(NAME), 'nobody enrolled yet');

	const face = join(tmp, 'face.jpg');
	execFileSync(SEED, ['crop', join(ROOT, 'models/samples/sample1.jpg'), '755', '368', '370', '370', '300', face]);
	const out = execFileSync(MIEN, ['enroll', '--name', NAME, face], {
		cwd: tmp,
		env: { ...process.env, MIEN_DB: DB, MIEN_MODELS: join(ROOT, 'models'), MIEN_LOG_LEVEL: 'warn' },
		encoding: 'utf8',
	});
	assert.equal(JSON.parse(out.trim().split('\n').pop()).verdict, 'enrolled', out);

	// The clip shows sample1.jpg for 3 s of every 18 s: the name appears within a couple of loops, same page, no reload.
	await page.getByTestId('feed-item').filter({ hasText: NAME }).first().waitFor({ timeout: 60000 });
	assert.match(stderr, /watch: gallery: 1 face added by another process/);
	await page.screenshot({ path: join(SHOTS, 'live-cli-enrolled.png'), fullPage: true });
	await ctx.close();
});
