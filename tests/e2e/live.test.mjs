// live.test.mjs — the dashboard with a real camera: `build/mien serve` running the demo camera (`make demo`: a
// clip of face-api's sample photos), driven through Debian's Chromium by playwright-core. A person enrolled from
// one face of sample1.jpg (labelled with 3 faces; the crop box of tests/integration/api.test.mjs) must be
// recognised on the Live page (live picture and feed) and on the Events page; a `recognition` user sees the live
// feed with names but no expression. Screenshots land in build/e2e/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE1, SEED, SHOTS, launchBrowser, signedInPage as openPage, startMien } from './harness.mjs';

const EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

let mien, base, browser;
const api = (...args) => mien.api(...args);
const signedInPage = (username, password, viewport = { width: 1280, height: 800 }) => openPage(browser, base, username, password, { viewport });

before(async () => {
	mien = await startMien({ name: 'e2e-live', demo: true });
	base = mien.base;
	browser = await launchBrowser();
	// Ada is enrolled from one face of sample1.jpg, which the demo clip shows for 3 s of every 18 s.
	const face = join(mien.tmp, 'face.jpg');
	execFileSync(SEED, ['crop', SAMPLE1, '755', '368', '370', '370', '300', face]);
	const p = await api('POST', '/people', { json: { name: 'Ada Lovelace' } });
	assert.equal((await api('POST', `/people/${p.data.id}/faces`, { body: readFileSync(face), type: 'image/jpeg' })).status, 201);
	assert.equal((await api('POST', '/users', { json: { username: 'desk', password: 'desk-pass-123', role: 'recognition' } })).status, 201);
});

after(async () => {
	if (browser) await browser.close();
	if (mien) await mien.stop();
});

test('live page: the camera picture plays, and the enrolled person appears in the live feed', async () => {
	const page = await signedInPage('admin', mien.password);
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
	const page = await signedInPage('admin', mien.password);
	await page.getByRole('link', { name: 'Events', exact: true }).click();
	await page.getByTestId('event-row').filter({ hasText: 'Ada Lovelace' }).first().waitFor({ timeout: 20000 });
	await page.screenshot({ path: join(SHOTS, 'events-camera.png'), fullPage: true });
	await page.context().close();
});

// The Seen feed lists visits: Ada's visit is ONE line however many frames are analysed while she is in view, with
// her face crop, the camera's name and, for a recognition user, no expression.
async function adaVisit(page) {
	const ada = page.getByTestId('feed-item').filter({ hasText: 'Ada Lovelace' });
	await ada.first().waitFor({ timeout: 45000 });
	const id = await ada.first().getAttribute('data-event-id');
	// Sample1 shows for 3 s at 5 analysed frames a second (dozens of `face` messages); the line stays one.
	await page.waitForTimeout(3000);
	assert.equal(await page.locator(`[data-testid=feed-item][data-event-id="${id}"]`).count(), 1, 'one line for the visit');
	const line = page.locator(`[data-testid=feed-item][data-event-id="${id}"]`);
	const ids = await page.getByTestId('feed-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-event-id')));
	assert.equal(new Set(ids).size, ids.length, `a visit listed twice: ${ids}`);
	await page.waitForFunction((sel) => document.querySelector(sel)?.naturalWidth > 0, `[data-testid=feed-item][data-event-id="${id}"] img.crop`, { timeout: 10000 });
	assert.match(await line.textContent(), /at demo/);
	assert.match(await line.textContent(), /since \d\d:\d\d:\d\d/);
	return line;
}

test('a recognition user sees each visit once, with its face crop and the camera name, and no expression', async () => {
	const page = await signedInPage('desk', 'desk-pass-123');
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	await adaVisit(page);
	const text = (await page.textContent('body')).toLowerCase();
	for (const e of EXPRESSIONS) assert.ok(!new RegExp(`\\b${e}\\b`).test(text), `"${e}" shown to a recognition user`);
	assert.ok(!text.includes('expression'));
	await page.screenshot({ path: join(SHOTS, 'live-recognition.png'), fullPage: true });
	await page.context().close();
});

test('an analyst sees the expression on the visit line', async () => {
	assert.equal((await api('POST', '/users', { json: { username: 'ana', password: 'ana-pass-1234', role: 'analyst' } })).status, 201);
	const page = await signedInPage('ana', 'ana-pass-1234');
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	const line = await adaVisit(page);
	await page.waitForFunction(
		(id) => document.querySelector(`[data-testid=feed-item][data-event-id="${id}"] .expr`),
		await line.getAttribute('data-event-id'),
		{ timeout: 15000 },
	);
	const expr = (await line.locator('.expr').textContent()).replace(/[·\s]/g, '');
	assert.ok(EXPRESSIONS.includes(expr), `an expression name: ${expr}`);
	await page.context().close();
});

// The width the tile's picture asks for, and the tile's width on screen.
async function tileSizes(page) {
	return page.getByTestId('camera-tile').first().evaluate((el) => ({
		tile: el.getBoundingClientRect().width,
		width: Number(new URL(el.querySelector('img').src).searchParams.get('width')),
		natural: el.querySelector('img').naturalWidth,
	}));
}

test('layouts: 1-up fills the screen, 4-up is about half; the picture asks for the tile width; a tile opens large', async (t) => {
	const page = await signedInPage('admin', mien.password, { width: 1400, height: 900 });
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	const layout = page.getByRole('group', { name: 'Layout' });
	await layout.getByRole('button', { name: /^1\b/ }).click();
	await page.waitForFunction(() => document.querySelector('[data-testid=camera-tile] img')?.naturalWidth > 0, null, { timeout: 20000 });
	const one = await tileSizes(page);
	assert.ok(one.tile > 700, `1-up tile ${one.tile} px wide on a 1400 px screen`);
	assert.ok(one.width <= one.tile && one.width > one.tile - 16, `asks for ${one.width} px for a ${one.tile} px tile`);
	// the server sends that width (the clip is 1280 wide)
	await page.waitForFunction((w) => document.querySelector('[data-testid=camera-tile] img')?.naturalWidth === w, Math.min(one.width, 1280), { timeout: 10000 });
	// never larger than shown: the labels, drawn with font pixels of 2 or more, are at least 14 px tall on screen
	assert.ok((await tileSizes(page)).natural <= one.tile);
	await page.getByTestId('feed-item').first().waitFor({ timeout: 45000 });
	await page.screenshot({ path: join(SHOTS, 'live-1up.png') });

	await layout.getByRole('button', { name: /^2×2/ }).click();
	await page.waitForFunction((w) => document.querySelector('[data-testid=camera-tile]')?.getBoundingClientRect().width < w * 0.7, one.tile);
	await page.waitForFunction(() => document.querySelector('[data-testid=camera-tile] img')?.naturalWidth > 0, null, { timeout: 20000 });
	const four = await tileSizes(page);
	assert.ok(Math.abs(four.tile - one.tile / 2) < one.tile * 0.1, `4-up tile ${four.tile} px, about half of ${one.tile}`);
	assert.ok(four.width <= four.tile && four.width > four.tile - 16, `asks for ${four.width} px for a ${four.tile} px tile`);
	assert.equal(await page.evaluate(() => localStorage.getItem('mien.live.layout')), '4');
	t.diagnostic(`1400x900: 1-up tile ${one.tile} px (picture ${one.width} px), 4-up tile ${four.tile} px (picture ${four.width} px)`);
	await page.screenshot({ path: join(SHOTS, 'live-4up.png') });

	// Enlarge: a dialog filling the viewport, a large picture, Esc returns.
	await page.getByRole('button', { name: 'Enlarge demo' }).click();
	const dialog = page.getByRole('dialog', { name: 'demo, enlarged' });
	await dialog.waitFor();
	const box = await dialog.boundingBox();
	assert.ok(box.width >= 1390 && box.height >= 890, `the enlarged view fills the viewport: ${box.width}x${box.height}`);
	await dialog.getByRole('button', { name: 'Full screen' }).waitFor();
	const src = await dialog.locator('img').getAttribute('src');
	assert.equal(new URL(src, base).searchParams.get('width'), '1280');
	await page.waitForFunction(() => document.querySelector('[role=dialog] img')?.naturalWidth > 0, null, { timeout: 20000 });
	await page.screenshot({ path: join(SHOTS, 'live-enlarged.png') });
	await page.keyboard.press('Escape');
	await dialog.waitFor({ state: 'detached' });
	// and the Close button
	await page.getByTestId('camera-tile').first().locator('img').click();
	await dialog.getByRole('button', { name: 'Close' }).click();
	await dialog.waitFor({ state: 'detached' });
	await page.context().close();
});
