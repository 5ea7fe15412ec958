// dashboard.test.mjs — the dashboard end to end: a real `build/mien serve` (SQLite in a temporary folder,
// MIEN_WEB=web/dist) driven through Debian's Chromium, headless, by playwright-core (from web/node_modules).
//
// `make check-e2e` runs it after `make web`. Events and alerts come from build/tests/seed (camera workers make
// them in production), as in tests/integration/api.test.mjs. Screenshots of every page land in
// build/e2e/screenshots/ (generated, never committed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE1, SEED, launchBrowser, shot, signIn as signInAt, startMien } from './harness.mjs';

const EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
const XSS = '<img src=x onerror=alert(1)>';

let mien, base, adminPassword, tmp, DB, browser;
const ids = {};
let dialogs = 0;
// Content-Security-Policy violations reported by any page of any test (the last test checks there were none).
const cspViolations = [];

const api = (...args) => mien.api(...args);

const seed = (...args) => execFileSync(SEED, args, { encoding: 'utf8' });

async function newPage(viewport = { width: 1280, height: 800 }) {
	const ctx = await browser.newContext({ viewport, acceptDownloads: true });
	// The page's own report of what its policy blocked, and Chromium's console line for the same.
	await ctx.exposeBinding('__cspViolation', (_source, v) => cspViolations.push(v));
	await ctx.addInitScript(() =>
		document.addEventListener('securitypolicyviolation', (e) =>
			window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`),
		),
	);
	const page = await ctx.newPage();
	page.on('console', (m) => {
		if (/Content Security Policy/i.test(m.text())) cspViolations.push(`console: ${m.text()}`);
	});
	page.on('dialog', async (d) => {
		dialogs++;
		await d.dismiss();
	});
	page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
	return page;
}

const signIn = (page, username, password) => signInAt(page, base, username, password);

before(async () => {
	mien = await startMien({ name: 'e2e' });
	({ base, password: adminPassword, tmp, db: DB } = mien);
	browser = await launchBrowser();
});

after(async () => {
	if (browser) await browser.close();
	if (mien) await mien.stop();
});

test('sign in as admin: the role is shown; a wrong password is refused', async () => {
	const page = await newPage();
	await page.goto(base + '/events'); // a client-side route: the server answers index.html
	await page.getByLabel('User name').fill('admin');
	await page.getByLabel('Password').fill('wrong-password');
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByText('Wrong user name or password.').waitFor();
	await shot(page, 'signin');
	await page.getByLabel('Password').fill(adminPassword);
	await page.getByRole('button', { name: 'Sign in' }).click();
	assert.equal(await page.getByTestId('role').textContent(), 'admin');
	// The session is the HttpOnly cookie: nothing in storage, and scripts cannot read it.
	assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
	assert.equal(await page.evaluate(() => document.cookie), '');
	for (const label of ['Live', 'Events', 'People', 'Cameras', 'Alerts', 'Insights', 'Users', 'Settings'])
		assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).count(), 1, label);
	await page.context().close();
});

test('cameras: add one with a masked password; the list shows it redacted', async () => {
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'Cameras', exact: true }).click();
	await page.getByLabel('Name', { exact: true }).fill('Front door');
	await page.getByLabel('Stream URL (without credentials)').fill('rtsp://127.0.0.1:9/stream1');
	await page.getByLabel('Camera user name').fill('viewer');
	const pw = page.getByLabel('Camera password');
	assert.equal(await pw.getAttribute('type'), 'password');
	await pw.fill('s3cret-pw');
	await page.getByRole('button', { name: 'Add camera' }).click();
	const row = page.getByTestId('camera-row').filter({ hasText: 'Front door' });
	await row.waitFor();
	const text = await row.textContent();
	assert.match(text, /rtsp:\/\/viewer:\*\*\*@127\.0\.0\.1:9\/stream1/);
	assert.ok(!(await page.content()).includes('s3cret-pw'));
	const cams = (await api('GET', '/cameras')).data.items;
	ids.cam = cams.find((c) => c.name === 'Front door').id;
	assert.equal(seed('camera-url', DB, String(ids.cam)).trim(), 'rtsp://viewer:s3cret-pw@127.0.0.1:9/stream1');
	// Disable and enable again.
	await row.getByRole('button', { name: 'Disable' }).click();
	await row.getByRole('button', { name: 'Enable' }).waitFor();
	assert.equal((await api('GET', `/cameras/${ids.cam}`)).data.enabled, false);
	await row.getByRole('button', { name: 'Enable' }).click();
	await row.getByRole('button', { name: 'Disable' }).waitFor();
	await shot(page, 'cameras');
	await page.context().close();
});

test('live: a tile for every camera (status and a placeholder when there is no image), the feed state', async () => {
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	await page.getByTestId('feed-state').waitFor();
	const cams = (await api('GET', '/cameras')).data.items;
	if (cams.length === 0) {
		await page.getByTestId('no-cameras').waitFor();
	} else {
		await page.getByTestId('camera-tile').first().waitFor();
		assert.equal(await page.getByTestId('camera-tile').count(), cams.length);
		for (const c of cams) {
			const tile = page.locator(`[data-testid=camera-tile][data-camera-id="${c.id}"]`);
			assert.ok((await tile.textContent()).includes(c.name));
			assert.match(await tile.getByTestId('camera-status').textContent(), /^(online|reconnecting|offline|unknown|disabled)$/);
			// Either the live view shows frames, or (until it exists, or while the camera is down) the placeholder.
			await page.waitForFunction(
				(id) => {
					const t = document.querySelector(`[data-camera-id="${id}"]`);
					const img = t && t.querySelector('img');
					return t && (t.querySelector('.placeholder') || (img && img.naturalWidth > 0));
				},
				c.id,
				{ timeout: 15000 },
			);
		}
	}
	// The stream may be there or not: either state is shown in words.
	assert.match(await page.getByTestId('feed-state').textContent(), /Live feed connected|Connecting to the live feed|Live feed unavailable/);
	await shot(page, 'live');
	await page.context().close();
});

test('people: create, enroll from a one-face photo (verdict), a three-face photo offers a pick (cancelled), watchlist, thumbnail', async () => {
	const crop = join(tmp, 'face.jpg');
	seed('crop', SAMPLE1, '755', '368', '370', '370', '300', crop); // one face of sample1.jpg (the integration test's box)
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'People', exact: true }).click();
	await page.getByLabel('Name', { exact: true }).fill('Grace Hopper');
	await page.getByRole('button', { name: 'Create person' }).click();
	await page.getByTestId('person-name').filter({ hasText: 'Grace Hopper' }).waitFor();
	ids.grace = Number(/\/people\/(\d+)/.exec(page.url())[1]);
	await page.getByTestId('enroll-input').setInputFiles(crop);
	const ok = page.locator('[data-testid=verdict][data-verdict=enrolled]');
	await ok.waitFor({ timeout: 30000 });
	assert.match(await ok.textContent(), /face\.jpg: Enrolled/);
	await page.getByTestId('enroll-input').setInputFiles(SAMPLE1);
	const several = page.locator('[data-testid=verdict][data-verdict=several_faces]');
	await several.waitFor({ timeout: 30000 });
	assert.match(await several.textContent(), /exactly one.*\(3 faces\)/);
	// The picker offers the three faces (tests/e2e/enrol.test.mjs picks one); cancelling stores nothing.
	const picker = page.getByTestId('face-picker');
	assert.equal(await picker.getByTestId('face-box').count(), 3);
	await picker.getByRole('button', { name: 'Cancel' }).click();
	await page.locator('[data-testid=verdict][data-verdict=cancelled]').waitFor();
	// The enrolled face is listed with its thumbnail, loaded with the session cookie.
	await page.getByTestId('face').first().waitFor();
	assert.equal(await page.getByTestId('face').count(), 1);
	await page.waitForFunction(() => document.querySelector('[data-testid=face] img')?.naturalWidth > 0);
	// Watchlist.
	await page.getByTestId('watchlist').click();
	await page.waitForFunction(() => document.querySelector('[data-testid=watchlist]').checked);
	for (let i = 0; i < 50 && !(await api('GET', `/people/${ids.grace}`)).data.watchlist; i++) await new Promise((r) => setTimeout(r, 100));
	assert.equal((await api('GET', `/people/${ids.grace}`)).data.watchlist, true);
	// Erasure warns about biometric data before it happens.
	await page.getByRole('button', { name: 'Delete person…' }).click();
	assert.match(await page.getByRole('alertdialog').textContent(), /biometric data/);
	await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();
	await shot(page, 'person');
	await page.getByRole('link', { name: '← People' }).click();
	await page.getByRole('searchbox').fill('grace');
	await page.getByRole('button', { name: 'Search' }).click();
	await page.getByTestId('people-list').getByRole('link', { name: 'Grace Hopper' }).waitFor();
	await shot(page, 'people');
	await page.context().close();
});

test('events: seeded events with thumbnails, filters, CSV export', async () => {
	const s = JSON.parse(seed('events', DB, String(ids.cam), String(ids.grace), '3'));
	const u = JSON.parse(seed('events', DB, String(ids.cam), '0', '2'));
	ids.alerts = s.alerts;
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'Events', exact: true }).click();
	await page.getByTestId('event-row').first().waitFor();
	assert.equal(await page.getByTestId('event-row').count(), 5);
	await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=event-row] img.thumb')].every((i) => i.complete && i.naturalWidth > 0));
	assert.equal(await page.locator('[data-testid=event-row] img.thumb').count(), 5);
	assert.equal(await page.getByTestId('event-row').filter({ hasText: 'Grace Hopper' }).count(), 3);
	await page.getByRole('columnheader', { name: 'Expression' }).waitFor();
	// Unknown only.
	await page.getByLabel('Known or unknown').selectOption('unknown');
	await page.getByRole('button', { name: 'Apply filters' }).click();
	await page.waitForFunction(() => document.querySelectorAll('[data-testid=event-row]').length === 2);
	// Expression filter (seeded events are all "happy").
	await page.getByLabel('Known or unknown').selectOption('');
	await page.getByLabel('Expression').selectOption('sad');
	await page.getByRole('button', { name: 'Apply filters' }).click();
	await page.getByText('No events match.').waitFor();
	await page.getByRole('button', { name: 'Reset' }).click();
	await page.waitForFunction(() => document.querySelectorAll('[data-testid=event-row]').length === 5);
	await shot(page, 'events');
	const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
	const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
	assert.match(csv[0], /^id,camera_id,camera,track_id,person_id,person,similarity,started_at,ended_at,alert,dominant_expression,/);
	assert.equal(csv.length, 6);
	assert.ok(csv.some((l) => l.includes('Grace Hopper')));
	assert.ok(u.events.length === 2);
	await page.context().close();
});

test('alerts: acknowledge a watchlist alert', async () => {
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'Alerts', exact: true }).click();
	const row = page.locator(`[data-testid=alert-row][data-alert-id="${ids.alerts[0]}"]`);
	await row.waitFor();
	assert.match(await row.textContent(), /watchlist.*Grace Hopper/);
	await row.getByRole('button', { name: 'Acknowledge' }).click();
	await row.getByTestId('acked').waitFor();
	const a = (await api('GET', '/alerts?limit=100')).data.items.find((x) => x.id === ids.alerts[0]);
	assert.ok(a.acked_at, 'the server has the acknowledgement');
	await shot(page, 'alerts');
	await page.context().close();
});

test('settings and insights (admin)', async () => {
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'Settings', exact: true }).click();
	await page.getByLabel(/Retention of events/).fill('45');
	await page.getByRole('button', { name: 'Save settings' }).click();
	await page.getByText('Saved.').waitFor();
	assert.equal((await api('GET', '/settings')).data.retention_days, 45);
	await shot(page, 'settings');
	await page.getByRole('link', { name: 'Insights', exact: true }).click();
	await page.getByText('Visits per hour of day').waitFor();
	await page.locator('.recharts-surface').first().waitFor();
	await shot(page, 'insights');
	await page.context().close();
});

test('a recognition user sees no expression anywhere, and no admin pages', async () => {
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'Users', exact: true }).click();
	await page.getByLabel('User name').fill('rita');
	await page.getByLabel('Password (8 characters or more)').fill('rita-password-1');
	await page.getByLabel('Role', { exact: true }).selectOption('recognition');
	await page.getByRole('button', { name: 'Create user' }).click();
	await page.getByTestId('user-row').filter({ hasText: 'rita' }).waitFor();
	await shot(page, 'users');
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.getByRole('button', { name: 'Sign in' }).waitFor();

	await signIn(page, 'rita', 'rita-password-1');
	assert.equal(await page.getByTestId('role').textContent(), 'recognition');
	const nav = page.getByRole('navigation', { name: 'Main' });
	for (const label of ['Alerts', 'Insights', 'Users', 'Settings']) assert.equal(await nav.getByRole('link', { name: label }).count(), 0, label);
	const forbidden = new RegExp(`\\b(${EXPRESSIONS.join('|')}|expressions?)\\b`, 'i');
	const check = async (name) => {
		const text = await page.evaluate(() => document.body.textContent);
		assert.doesNotMatch(text, forbidden, `${name}: ${text.match(forbidden)?.[0]}`);
	};
	await page.getByRole('link', { name: 'Live', exact: true }).click();
	await page.getByTestId('feed-state').waitFor();
	await check('live');
	await page.getByRole('link', { name: 'Events', exact: true }).click();
	await page.getByTestId('event-row').first().waitFor();
	await check('events');
	assert.equal(await page.getByLabel('Expression').count(), 0);
	await shot(page, 'events-recognition');
	await page.getByRole('link', { name: 'People', exact: true }).click();
	await page.getByTestId('people-list').getByRole('link').first().waitFor();
	await check('people');
	await page.getByTestId('people-list').getByRole('link', { name: 'Grace Hopper' }).click();
	await page.getByTestId('person-name').waitFor();
	await check('person');
	assert.equal(await page.getByTestId('enroll-input').count(), 0, 'no enrollment for a recognition user');
	await page.getByRole('link', { name: 'Cameras', exact: true }).click();
	await page.getByTestId('camera-row').first().waitFor();
	await check('cameras');
	assert.ok(!(await page.content()).includes('rtsp://'), 'no camera URL below admin');
	// Typing an admin page's address finds nothing there.
	await page.goto(base + '/insights');
	await page.getByRole('heading', { name: 'Not found' }).waitFor();
	await page.goto(base + '/users');
	await page.getByRole('heading', { name: 'Not found' }).waitFor();
	await check('not found');
	await page.context().close();
});

test('a name with markup is rendered as text, never run', async () => {
	const p = await api('POST', '/people', { json: { name: XSS, watchlist: true } });
	assert.equal(p.status, 201);
	seed('events', DB, String(ids.cam), String(p.data.id), '1');
	const page = await newPage();
	await signIn(page, 'admin', adminPassword);
	await page.getByRole('link', { name: 'People', exact: true }).click();
	await page.getByTestId('people-list').getByRole('link', { name: XSS }).waitFor();
	await page.getByRole('link', { name: 'Events', exact: true }).click();
	await page.getByTestId('event-row').filter({ hasText: XSS }).first().waitFor();
	await page.getByRole('link', { name: 'Alerts', exact: true }).click();
	await page.getByTestId('alert-row').filter({ hasText: XSS }).first().waitFor();
	await page.goto(base + `/people/${p.data.id}`);
	assert.equal(await page.getByTestId('person-name').textContent(), XSS);
	assert.equal(await page.locator('img[src="x"]').count(), 0);
	await page.waitForTimeout(300);
	assert.equal(dialogs, 0, 'no dialog was opened');
	await shot(page, 'xss');
	await page.context().close();
});

test('phone-sized screen: the navigation collapses behind a menu button', async () => {
	const page = await newPage({ width: 390, height: 844 });
	await signIn(page, 'admin', adminPassword);
	const toggle = page.getByRole('button', { name: 'Menu' });
	await toggle.waitFor();
	const nav = page.getByRole('navigation', { name: 'Main' });
	assert.equal(await nav.isVisible(), false);
	await shot(page, 'phone-closed');
	await toggle.click();
	assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
	await nav.getByRole('link', { name: 'Events', exact: true }).waitFor({ state: 'visible' });
	await shot(page, 'phone-nav');
	await nav.getByRole('link', { name: 'Events', exact: true }).click();
	await page.getByTestId('event-row').first().waitFor();
	assert.equal(await nav.isVisible(), false, 'the menu closes after navigating');
	// Nothing wider than the screen but the scrollable tables.
	const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
	assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
	await shot(page, 'phone-events');
	await page.context().close();
});

test('every page above ran under a strict Content-Security-Policy without breaking it', async () => {
	const res = await fetch(base + '/');
	const csp = res.headers.get('content-security-policy') || '';
	await res.arrayBuffer();
	assert.match(csp, /script-src 'self'(;|$)/);
	assert.match(csp, /style-src 'self'(;|$)/);
	assert.match(csp, /frame-ancestors 'none'/);
	assert.equal(res.headers.get('x-frame-options'), 'DENY');
	assert.deepEqual(cspViolations, [], 'the dashboard broke its own policy');
	// The listeners do catch a violation, so the empty list above means something.
	const page = await newPage();
	await page.goto(base + '/');
	await page.evaluate(() => {
		const s = document.createElement('script');
		s.textContent = 'window.__inlineRan = true';
		document.body.appendChild(s);
	});
	await page.waitForTimeout(300);
	assert.equal(await page.evaluate(() => window.__inlineRan), undefined, 'an inline script ran');
	assert.ok(cspViolations.some((v) => /script-src/.test(v)), `the blocked inline script was not reported: ${JSON.stringify(cspViolations)}`);
	cspViolations.length = 0;
	await page.context().close();
});
