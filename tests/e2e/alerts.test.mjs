// alerts.test.mjs — what a security desk watches, against a real `build/mien serve` running the demo camera
// (`make demo`: a clip of face-api's sample photos, 3 s each, sample1.jpg for 3 s of every 18 s) in Debian's
// Chromium through playwright-core:
//   - a watchlist person's alert arrives on an open Alerts page and as a toast (camera by name, face crop) without
//     a reload; the looping clip brings them back every 18 s, and the alert cooldown (default 10 minutes) keeps
//     that one alert, counting the visits;
//   - the face crop opens the snapshot large with the face's box drawn where the labelled face is;
//   - "Acknowledge all" acknowledges the list shown;
//   - the Events page takes new visits live.
// What is expected comes from labels, never from mien: the person is enrolled from a square of sample1.jpg centred
// on one of its faces (the crop box of tests/integration/api.test.mjs), and scripts/demo.sh letterboxes the
// 1920x1280 photo into 1280x720 (scale 0.5625, 100 px bars left and right), so that face's centre is at
// (100 + 940 * 0.5625, 553 * 0.5625) in the camera frame. Screenshots land in build/e2e/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE1, SEED, launchBrowser, shot, signedInPage, startMien } from './harness.mjs';

const CROP = [755, 368, 370, 370]; // sample1.jpg: a square centred on one face
const FRAME = [1280, 720]; // the demo clip's frame
const FACE_CENTRE = [100 + (CROP[0] + CROP[2] / 2) * 0.5625, (CROP[1] + CROP[3] / 2) * 0.5625];
const NAME = 'Ada Lovelace';
const CAMERA = 'Front door';

let mien, browser, person, page;
const api = (...args) => mien.api(...args);

before(async () => {
	mien = await startMien({ name: 'e2e-alerts', demo: true });
	// The demo camera gets a name of our own: every place that shows the camera must show it.
	const cams = (await api('GET', '/cameras')).data.items;
	assert.equal(cams.length, 1, 'the demo camera');
	assert.equal((await api('PATCH', `/cameras/${cams[0].id}`, { json: { name: CAMERA } })).status, 200);
	browser = await launchBrowser();
	page = await signedInPage(browser, mien.base, 'admin', mien.password, { viewport: { width: 1400, height: 900 } });
});

after(async () => {
	if (browser) await browser.close();
	if (mien) await mien.stop();
});

test('a watchlist alert arrives live on the Alerts page and as a toast naming the camera, with the face', async () => {
	await page.getByRole('link', { name: 'Alerts', exact: true }).click();
	await page.getByText('No alerts.').waitFor();
	// Enrolled and put on the watchlist only now, with the page open: what follows must come over the stream.
	const face = join(mien.tmp, 'face.jpg');
	execFileSync(SEED, ['crop', SAMPLE1, ...CROP.map(String), '300', face]);
	person = (await api('POST', '/people', { json: { name: NAME, watchlist: true } })).data;
	const res = await api('POST', `/people/${person.id}/faces`, { body: readFileSync(face), type: 'image/jpeg' });
	assert.equal(res.status, 201, JSON.stringify(res.data));
	const row = page.getByTestId('alert-row').filter({ hasText: NAME });
	await row.first().waitFor({ timeout: 60000 });
	assert.equal(await row.getByTestId('alert-camera').textContent(), CAMERA);
	await page.waitForFunction(() => document.querySelector('[data-testid=alert-row] img.thumb')?.naturalWidth > 0, null, { timeout: 10000 });
	const toast = page.getByTestId('alert-toast').filter({ hasText: NAME });
	await toast.first().waitFor({ timeout: 10000 });
	assert.match(await toast.first().textContent(), new RegExp(`Watchlist\\s*${NAME} at ${CAMERA}`));
	await page.waitForFunction(() => document.querySelector('[data-testid=alert-toast] img')?.naturalWidth > 0, null, { timeout: 10000 });
	await shot(page, 'alerts-live-toast');
});

test('the cooldown: the next visits of the same person at the same camera count on the one alert', async () => {
	// The clip loops every 18 s: wait for the next visit to be counted on the open row (no reload).
	const count = page.getByTestId('alert-row').filter({ hasText: NAME }).getByTestId('alert-count');
	await page.waitForFunction(
		(name) => [...document.querySelectorAll('[data-testid=alert-row]')].some((r) => r.textContent.includes(name) && /[2-9]\d* visits|\d{2,} visits/.test(r.textContent)),
		NAME,
		{ timeout: 60000 },
	);
	assert.match(await count.textContent(), /^\d+ visits, last /);
	assert.equal(await page.getByTestId('alert-row').count(), 1, 'one alert for one person at one camera');
	// The server agrees: one alert, several events of the person, each a visit.
	const alerts = (await api('GET', '/alerts')).data.items;
	assert.equal(alerts.length, 1);
	assert.ok(alerts[0].count >= 2, `count ${alerts[0].count}`);
	const events = (await api('GET', `/events?person=${person.id}`)).data.items;
	assert.ok(events.length >= alerts[0].count, `${events.length} events for ${alerts[0].count} counted visits`);
	await shot(page, 'alerts-cooldown');
});

test("the face crop opens the snapshot large, the face's box drawn on the labelled face", async () => {
	await page.getByTestId('alert-row').first().getByRole('button', { name: /Open the snapshot/ }).click();
	const dialog = page.getByTestId('snapshot-dialog');
	await dialog.waitFor();
	await page.waitForFunction(() => document.querySelector('[data-testid=snapshot-image]')?.naturalWidth > 0, null, { timeout: 10000 });
	await dialog.getByTestId('snapshot-box').waitFor();
	assert.match(await dialog.textContent(), new RegExp(`${NAME} · ${CAMERA}`));
	const g = await page.evaluate(() => {
		const img = document.querySelector('[data-testid=snapshot-image]');
		const i = img.getBoundingClientRect(), b = document.querySelector('[data-testid=snapshot-box]').getBoundingClientRect();
		return { natural: img.naturalWidth, img: [i.left, i.top, i.width, i.height], box: [b.left, b.top, b.width, b.height] };
	});
	// Stored at the default snapshot_width (640), half the frame: the box must still land on the face.
	assert.equal(g.natural, 640, 'the snapshot is stored downscaled');
	assert.ok(g.img[2] > 600, `shown large: ${g.img[2]} px wide`);
	const toFrame = (x, y) => [((x - g.img[0]) / g.img[2]) * FRAME[0], ((y - g.img[1]) / g.img[3]) * FRAME[1]];
	const [cx, cy] = toFrame(g.box[0] + g.box[2] / 2, g.box[1] + g.box[3] / 2);
	await shot(page, 'alerts-snapshot', { fullPage: false });
	if (Math.hypot(cx - FACE_CENTRE[0], cy - FACE_CENTRE[1]) >= 30) {
		const alert = (await api('GET', '/alerts')).data.items[0];
		const events = (await api('GET', `/events?person=${person.id}`)).data.items;
		assert.fail(`box centre (${cx}, ${cy}) against the labelled face at (${FACE_CENTRE}); alert ${JSON.stringify(alert)}; events ${JSON.stringify(events.map((e) => [e.id, e.track_id, e.started_at, e.box, e.frame]))}\nlog:\n${mien.stderr.slice(-4000)}`);
	}
	const side = (g.box[2] / g.img[2]) * FRAME[0];
	assert.ok(side > 50 && side < CROP[2] * 0.5625, `a face-sized box: ${side} frame px wide`);
	await page.keyboard.press('Escape');
	await dialog.waitFor({ state: 'detached' });
});

test('Acknowledge all acknowledges the alerts shown', async () => {
	await page.getByTestId('ack-all').click();
	await page.getByTestId('alert-row').first().getByTestId('acked').waitFor({ timeout: 10000 });
	const alerts = (await api('GET', '/alerts')).data.items;
	assert.ok(alerts.length >= 1 && alerts.every((a) => a.acked_at), JSON.stringify(alerts));
	assert.ok(await page.getByTestId('ack-all').isDisabled(), 'nothing left to acknowledge');
});

test('the Events page takes new visits live, with face crops, the camera by name', async () => {
	await page.getByRole('link', { name: 'Events', exact: true }).click();
	await page.getByTestId('event-row').first().waitFor({ timeout: 10000 });
	const ids = async () => (await page.getByTestId('event-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-event-id')))));
	const top = Math.max(...(await ids()));
	// The clip brings a new face every 3 s; a row above the ones loaded must appear without a reload.
	await page.waitForFunction((t) => [...document.querySelectorAll('[data-testid=event-row]')].some((r) => Number(r.getAttribute('data-event-id')) > t), top, { timeout: 30000 });
	const now = await ids();
	assert.ok(now[0] > top, `the newest row is on top: ${now.slice(0, 5)}`);
	assert.equal(new Set(now).size, now.length, 'no visit listed twice');
	const first = page.getByTestId('event-row').first();
	assert.match(await first.textContent(), new RegExp(CAMERA));
	await page.waitForFunction(() => document.querySelector('[data-testid=event-row] img.thumb')?.naturalWidth > 0, null, { timeout: 10000 });
	await shot(page, 'events-live');
});
