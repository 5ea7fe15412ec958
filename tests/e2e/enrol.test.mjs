// enrol.test.mjs — enrolment on the Person page end to end: a real `build/mien serve` (SQLite in a temporary
// folder, no cameras, MIEN_WEB=web/dist) driven through Debian's Chromium by playwright-core, as
// dashboard.test.mjs does. A group photo offers its faces to pick from (picked here with the keyboard); a face
// unlike the person's own, or like someone else, is enrolled only after "Enroll anyway"; a WebP photo enrols.
//
// What is expected comes from labels: models/samples/sample1.jpg shows 3 faces (face_counts.csv); the square
// (755,368,370,370) is centred on one of them (the integration tests' crop); the faces of one photo are
// different people; a crop at another size or format is the same person. The WebP is made at test time with
// ffmpeg (libwebp), as tests/integration/api.test.mjs does; nothing is committed. Screenshots go to
// build/e2e/screenshots/enrol-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE1, SEED, launchBrowser, shot, signedInPage, startMien } from './harness.mjs';

const SAMPLE1_WIDTH = 1920;
const SAMPLE1_FACES = 3;
const LABELLED_CROP = [755, 368, 370, 370];

const tmp = mkdtempSync(join(tmpdir(), 'mien-e2e-enrol-pictures-'));
let mien, browser;
const ids = {};
const CROP = join(tmp, 'ann.jpg');
const RESCALED = join(tmp, 'ann-200.jpg');
const WEBP = join(tmp, 'ann.webp');

const api = (...args) => mien.api(...args);

const person = async (name) => (await api('POST', '/people', { json: { name } })).data.id;
const faceCount = async (pid) => (await api('GET', `/people/${pid}/faces`)).data.items.length;

async function personPage(pid) {
	const page = await signedInPage(browser, mien.base, 'admin', mien.password, { viewport: { width: 1280, height: 1000 } });
	await page.goto(`${mien.base}/people/${pid}`);
	await page.getByTestId('enroll-input').waitFor();
	return page;
}

before(async () => {
	execFileSync(SEED, ['crop', SAMPLE1, ...LABELLED_CROP.map(String), '300', CROP]);
	execFileSync(SEED, ['crop', SAMPLE1, ...LABELLED_CROP.map(String), '200', RESCALED]);
	execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', RESCALED, '-c:v', 'libwebp', '-quality', '90', WEBP]);
	assert.equal(readFileSync(WEBP).subarray(8, 12).toString(), 'WEBP');
	mien = await startMien({ name: 'e2e-enrol' });
	browser = await launchBrowser();
});

after(async () => {
	if (browser) await browser.close();
	if (mien) await mien.stop();
	rmSync(tmp, { recursive: true, force: true });
});

test('a group photo: its faces are drawn, numbered, and the one picked (with the keyboard) is enrolled', async () => {
	ids.ann = await person('Ann');
	const page = await personPage(ids.ann);
	await page.getByTestId('enroll-input').setInputFiles(SAMPLE1);
	await page.locator('[data-testid=verdict][data-verdict=several_faces]').waitFor({ timeout: 30000 });
	const boxes = page.getByTestId('face-box');
	await boxes.first().waitFor();
	assert.equal(await boxes.count(), SAMPLE1_FACES, 'sample1.jpg is labelled with 3 faces');
	// Which drawn box lies in the labelled square: map its centre from the page back to picture pixels.
	const photo = await page.getByTestId('face-picker').locator('img').boundingBox();
	const scale = SAMPLE1_WIDTH / photo.width;
	let labelled = -1;
	for (let i = 0; i < SAMPLE1_FACES; i++) {
		const b = await boxes.nth(i).boundingBox();
		const cx = (b.x - photo.x + b.width / 2) * scale, cy = (b.y - photo.y + b.height / 2) * scale;
		const [x, y, w, h] = LABELLED_CROP;
		if (cx > x && cx < x + w && cy > y && cy < y + h) labelled = i;
	}
	assert.ok(labelled >= 0, 'one drawn face lies in the labelled square');
	assert.match(await boxes.nth(labelled).textContent(), /^\d+$/, 'numbered');
	await shot(page, 'enrol-pick');
	await boxes.nth(labelled).focus();
	await page.keyboard.press('Enter');
	const ok = page.locator('[data-testid=verdict][data-verdict=enrolled]');
	await ok.waitFor({ timeout: 30000 });
	assert.match(await ok.textContent(), /sample1\.jpg: Enrolled/);
	assert.equal(await page.getByTestId('face-picker').count(), 0, 'the picker is gone');
	await page.getByTestId('face').first().waitFor();
	assert.equal(await page.getByTestId('face').count(), 1);
	// The face enrolled is the labelled one: its crop is identified as Ann.
	const id = await api('POST', '/analyze', { body: readFileSync(CROP), type: 'image/jpeg' });
	assert.equal(id.data.faces[0].identity?.person_id, ids.ann, JSON.stringify(id.data.faces[0].identity));
	await shot(page, 'enrol-picked');
	await page.context().close();
});

test('a WebP photo enrols', async () => {
	const page = await personPage(ids.ann);
	await page.getByTestId('enroll-input').setInputFiles(WEBP);
	const ok = page.locator('[data-testid=verdict][data-verdict=enrolled]');
	await ok.waitFor({ timeout: 30000 });
	assert.match(await ok.textContent(), /ann\.webp: Enrolled/);
	assert.equal(await faceCount(ids.ann), 2, 'the group photo face and this one');
	await shot(page, 'enrol-webp');
	await page.context().close();
});

test('the same face under another person: the warning links to Ann; Cancel stores nothing', async () => {
	ids.cy = await person('Cy');
	const page = await personPage(ids.cy);
	await page.getByTestId('enroll-input').setInputFiles(RESCALED);
	const warning = page.locator('[data-testid=match-warning][data-verdict=matches_other]');
	await warning.waitFor({ timeout: 30000 });
	const link = warning.getByRole('link', { name: 'Ann' });
	assert.equal(await link.getAttribute('href'), `/people/${ids.ann}`);
	await shot(page, 'enrol-matches-other');
	await warning.getByRole('button', { name: 'Cancel' }).click();
	await page.locator('[data-testid=verdict][data-verdict=cancelled]').waitFor();
	assert.equal(await page.getByTestId('match-warning').count(), 0);
	assert.equal(await faceCount(ids.cy), 0);
	await page.context().close();
});

test("a face unlike the person's own: the warning names them; Enroll anyway enrols it", async () => {
	// Bob is another face of the same photo (so another person), enrolled through the API.
	ids.bob = await person('Bob');
	const several = await api('POST', `/people/${ids.bob}/faces`, { body: readFileSync(SAMPLE1), type: 'image/jpeg' });
	const [x, y, w, h] = LABELLED_CROP;
	const other = several.data.found.find((f) => {
		const cx = f.box[0] + f.box[2] / 2, cy = f.box[1] + f.box[3] / 2;
		return !(cx > x && cx < x + w && cy > y && cy < y + h);
	});
	assert.equal((await api('POST', `/people/${ids.bob}/faces?face=${other.index}`, { body: readFileSync(SAMPLE1), type: 'image/jpeg' })).status, 201);
	const page = await personPage(ids.bob);
	await page.getByTestId('enroll-input').setInputFiles(CROP);
	const warning = page.locator('[data-testid=match-warning][data-verdict=mismatch]');
	await warning.waitFor({ timeout: 30000 });
	assert.match(await warning.textContent(), /Bob/);
	assert.equal(await faceCount(ids.bob), 1, 'nothing stored before the confirmation');
	await shot(page, 'enrol-mismatch');
	await warning.getByRole('button', { name: 'Enroll anyway' }).click();
	const ok = page.locator('[data-testid=verdict][data-verdict=enrolled]');
	await ok.waitFor({ timeout: 30000 });
	assert.match(await ok.textContent(), /confirmed/);
	assert.equal(await faceCount(ids.bob), 2);
	await page.context().close();
});
