// settings.test.mjs — the Settings page end to end: a real `build/mien serve` without cameras (SQLite in a
// temporary folder, MIEN_WEB=web/dist) driven through Debian's Chromium by playwright-core, as in
// dashboard.test.mjs. Events with pictures come from build/tests/seed. The page must show the database size and
// the days it will hold (against GET /storage), and the recognition threshold in force as the empty field's
// placeholder: the embedder's calibrated default of docs/accuracy.md, then a set value, then the default again.
// Screenshot: build/e2e/screenshots/settings-storage.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SEED, launchBrowser, shot, signedInPage, startMien } from './harness.mjs';

// The calibrated defaults of docs/accuracy.md (0.1 % false accepts on LFW), by embedder.
const MODEL_DEFAULT = { face_recognition: 0.93, 'face_recognition-v2': 0.933, faceres: 0.665 };

let mien, browser;
const api = (method, path, json) => mien.api(method, path, { json });

// "163 MB" -> bytes (1 kB = 1000 B, as the page writes them).
function parseBytes(text) {
	const m = /^([\d.]+) (B|kB|MB|GB|TB)$/.exec(text.trim());
	assert.ok(m, `a size in human units: ${text}`);
	return Number(m[1]) * 1000 ** ['B', 'kB', 'MB', 'GB', 'TB'].indexOf(m[2]);
}

before(async () => {
	mien = await startMien({ name: 'e2e-settings' });
	browser = await launchBrowser();
});

after(async () => {
	if (browser) await browser.close();
	if (mien) await mien.stop();
});

test('Settings shows the database size, the days it holds and the threshold in force', async () => {
	// A camera that is off, and events of it with pictures, a minute old (so the rate is that of the last 24 h).
	const cam = await api('POST', '/cameras', { name: 'door', url: 'rtsp://10.0.0.9/live', enabled: false });
	assert.equal(cam.status, 201, JSON.stringify(cam.data));
	execFileSync(SEED, ['events', mien.db, String(cam.data.id), '0', '4'], { encoding: 'utf8' });
	const settings = (await api('GET', '/settings')).data;
	const model = settings.recognition_model;
	assert.ok(model in MODEL_DEFAULT, `embedder ${model}`);
	assert.equal(settings.recognition_threshold, null);

	const page = await signedInPage(browser, mien.base, 'admin', mien.password, { viewport: { width: 1280, height: 900 } });
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
	await shot(page, 'settings-storage');
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
