// harness.mjs — what every end-to-end test starts with: a real `build/mien serve` on loopback (SQLite in a
// temporary folder, the built dashboard, optionally the demo camera) signed in as its first admin, Debian's Chromium
// driven headless by playwright-core (from web/node_modules), and a screenshot folder (build/e2e/screenshots).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const MIEN = join(ROOT, 'build/mien');
export const SEED = join(ROOT, 'build/tests/seed');
export const CLIP = join(ROOT, 'build/demo/demo.mp4');
export const SAMPLE1 = join(ROOT, 'models/samples/sample1.jpg');
export const WEB = process.env.MIEN_WEB || join(ROOT, 'web/dist');
export const SHOTS = join(ROOT, 'build/e2e/screenshots');
const CHROMIUM = process.env.MIEN_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(join(ROOT, 'web/package.json'))('playwright-core');

/**
 * Starts `mien serve` and signs in as the admin its first start creates. `name` names the temporary folder; `demo`
 * adds the demo camera (`make demo`); `env` adds or (undefined) removes variables. Resolves to
 * { tmp, db, base, password, token, proc, stdout, stderr (live), api(method, path, {json, body, type, token}),
 * stop() } — stop() ends the server, checks it exited cleanly and removes the folder.
 */
export async function startMien({ name = 'e2e', demo = false, env = {} } = {}) {
	assert.ok(existsSync(join(WEB, 'index.html')), `no built dashboard in ${WEB}: run make web`);
	if (demo) assert.ok(existsSync(CLIP), 'no demo clip: run make demo');
	mkdirSync(SHOTS, { recursive: true });
	const tmp = mkdtempSync(join(tmpdir(), `mien-${name}-`));
	const m = { tmp, db: `sqlite:${join(tmp, 'mien.db')}`, stdout: '', stderr: '' };
	const vars = { ...process.env, MIEN_DB: m.db, MIEN_LISTEN: '127.0.0.1:0', MIEN_LOG_LEVEL: 'info', MIEN_WEB: WEB, MIEN_MODELS: join(ROOT, 'models') };
	if (demo) vars.MIEN_DEMO_CAMERA = CLIP;
	for (const [k, v] of Object.entries(env)) {
		if (v === undefined) delete vars[k];
		else vars[k] = v;
	}
	m.proc = spawn(MIEN, ['serve'], { cwd: ROOT, env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
	m.proc.stdout.on('data', (d) => (m.stdout += d));
	m.proc.stderr.on('data', (d) => (m.stderr += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(m.stderr) || !/password (\S+)/.test(m.stdout)) {
		if (m.proc.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`server did not start:\n${m.stderr}\n${m.stdout}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	m.base = `http://127.0.0.1:${/serving on port (\d+)/.exec(m.stderr)[1]}`;
	m.password = /password (\S+)/.exec(m.stdout)[1];
	const r = await fetch(m.base + '/api/v1/auth/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: m.password }),
	});
	assert.equal(r.status, 200, 'the first admin signs in');
	m.token = (await r.json()).token;
	m.api = async (method, path, { json, body, type, token = m.token } = {}) => {
		const headers = { Authorization: `Bearer ${token}` };
		if (json !== undefined) {
			body = JSON.stringify(json);
			headers['Content-Type'] = 'application/json';
		} else if (type) headers['Content-Type'] = type;
		const res = await fetch(m.base + '/api/v1' + path, { method, headers, body });
		const text = await res.text();
		return { status: res.status, data: text && (res.headers.get('content-type') || '').includes('json') ? JSON.parse(text) : null };
	};
	m.stop = async () => {
		if (m.proc.exitCode === null) {
			m.proc.kill('SIGTERM');
			await new Promise((res) => m.proc.once('exit', res));
		}
		rmSync(tmp, { recursive: true, force: true });
		assert.equal(m.proc.exitCode, 0, `mien serve exit status:\n${m.stderr.slice(-3000)}`);
	};
	return m;
}

/** Debian's Chromium, headless, without the network chatter of a desktop browser. */
export function launchBrowser() {
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
	});
}

/** Signs `page` in through the login form and waits for the header's role badge. */
export async function signIn(page, base, username, password) {
	await page.goto(base + '/');
	await page.getByLabel('User name').fill(username);
	await page.getByLabel('Password').fill(password);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByTestId('role').waitFor();
}

/** A new page in its own context, signed in; page errors go to stderr. */
export async function signedInPage(browser, base, username, password, { viewport = { width: 1280, height: 800 } } = {}) {
	const page = await (await browser.newContext({ viewport })).newPage();
	page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
	page.on('dialog', (d) => d.dismiss());
	await signIn(page, base, username, password);
	return page;
}

/** A full-page screenshot build/e2e/screenshots/NAME.png (CI keeps the folder). */
export const shot = (page, name, { fullPage = true } = {}) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
