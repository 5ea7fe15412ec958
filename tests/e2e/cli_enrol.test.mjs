// cli_enrol.test.mjs — a person enrolled with the CLI while `mien serve` runs the demo camera (`make demo`: a clip
// of face-api's sample photos) is recognised on the Live page without a restart: the server's gallery sync picks
// up the face `mien enroll` wrote to the same database. The face is the crop of sample1.jpg used by
// tests/e2e/live.test.mjs; the expected name is the one given to `mien enroll` here. Screenshot in
// build/e2e/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { MIEN, ROOT, SAMPLE1, SEED, launchBrowser, shot, signedInPage, startMien } from './harness.mjs';

const NAME = 'Grace Hopper';
let mien, browser;

before(async () => {
	// No bus between the CLI and the server, and the default sync interval: the gallery sync must find the face.
	mien = await startMien({ name: 'e2e-cli', demo: true, env: { MIEN_REDIS: undefined, MIEN_GALLERY_SYNC_MS: undefined } });
	browser = await launchBrowser();
});

after(async () => {
	if (browser) await browser.close();
	if (mien) await mien.stop();
});

test('a face enrolled with `mien enroll` while the server runs shows by name on the Live page', async () => {
	const page = await signedInPage(browser, mien.base, 'admin', mien.password);
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	const tile = page.getByTestId('camera-tile').first();
	await tile.locator('[data-testid=camera-status]:text-is("online")').waitFor({ timeout: 20000 });
	// The camera is already analysing faces, all unknown: nobody is enrolled.
	await page.getByTestId('feed-item').first().waitFor({ timeout: 45000 });
	assert.ok(!(await page.textContent('body')).includes(NAME), 'nobody enrolled yet');

	const face = join(mien.tmp, 'face.jpg');
	execFileSync(SEED, ['crop', SAMPLE1, '755', '368', '370', '370', '300', face]);
	const out = execFileSync(MIEN, ['enroll', '--name', NAME, face], {
		cwd: mien.tmp,
		env: { ...process.env, MIEN_DB: mien.db, MIEN_MODELS: join(ROOT, 'models'), MIEN_LOG_LEVEL: 'warn' },
		encoding: 'utf8',
	});
	assert.equal(JSON.parse(out.trim().split('\n').pop()).verdict, 'enrolled', out);

	// The clip shows sample1.jpg for 3 s of every 18 s: the name appears within a couple of loops, same page, no reload.
	await page.getByTestId('feed-item').filter({ hasText: NAME }).first().waitFor({ timeout: 60000 });
	assert.match(mien.stderr, /watch: gallery: 1 face added by another process/);
	await shot(page, 'live-cli-enrolled');
	await page.context().close();
});
