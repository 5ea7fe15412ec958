// integrations.test.mjs — the Settings page's webhooks end to end: a real `build/mien serve` without cameras, a real
// HTTP receiver in this process, Debian's Chromium through playwright-core. A webhook is added through the form with
// a secret, its test button sends a delivery the receiver checks with node's own crypto, the page says what happened,
// the delivery log shows it, and the secret is never on the page. Also the MQTT card when MQTT is not configured.
// Screenshot: build/e2e/screenshots/settings-webhooks.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { launchBrowser, shot, signedInPage, startMien } from './harness.mjs';

const SECRET = 'e2e-secret-Wm52';
let mien, browser, receiver;
const got = [];

before(async () => {
	receiver = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			got.push({ headers: req.headers, raw: Buffer.concat(chunks) });
			res.writeHead(204);
			res.end();
		});
	});
	await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
	mien = await startMien({ name: 'e2e-hooks', env: { MIEN_MQTT: undefined } });
	browser = await launchBrowser();
});

after(async () => {
	if (browser) await browser.close();
	if (mien) await mien.stop();
	receiver?.close();
});

test('a webhook added on the Settings page is tested, signed, logged, and its secret never shown', async () => {
	const page = await signedInPage(browser, mien.base, 'admin', mien.password, { viewport: { width: 1280, height: 1000 } });
	await page.getByRole('link', { name: 'Settings', exact: true }).click();
	const mqtt = page.getByRole('form', { name: 'MQTT' });
	await mqtt.getByTestId('mqtt-state').waitFor();
	assert.match(await mqtt.getByTestId('mqtt-state').textContent(), /^Not configured on this node/);

	const card = page.getByLabel('Webhooks', { exact: true });
	await card.getByText('No webhooks yet.').waitFor();
	const form = card.getByRole('form', { name: 'Add a webhook' });
	await form.getByLabel('Name').fill('receiver');
	await form.getByLabel(/URL/).fill(`http://127.0.0.1:${receiver.address().port}/hook`);
	await form.getByLabel(/Signing secret/).fill(SECRET);
	await form.getByRole('button', { name: 'Add webhook' }).click();
	const item = card.getByRole('listitem', { name: 'Webhook receiver' });
	await item.waitFor();
	assert.match(await item.textContent(), /alert; signed; everything/);

	await item.getByRole('button', { name: 'Test' }).click();
	const outcome = item.getByText(/^Delivered: HTTP 204 in \d+ ms$/);
	await outcome.waitFor();
	assert.equal(got.length, 1, 'the receiver got one delivery');
	const body = JSON.parse(got[0].raw);
	assert.equal(body.type, 'test');
	assert.equal(got[0].headers['x-mien-signature'], `sha256=${createHmac('sha256', SECRET).update(got[0].raw).digest('hex')}`);

	await item.getByRole('button', { name: 'Deliveries' }).click();
	const log = item.getByRole('table', { name: 'Deliveries of receiver' });
	await log.waitFor();
	const row = log.getByRole('row').nth(1);
	assert.match(await row.textContent(), new RegExp(`test.*delivered.*1.*204`));
	await shot(page, 'settings-webhooks');
	assert.ok(!(await page.content()).includes(SECRET), 'the secret is not on the page');
	const listed = (await mien.api('GET', '/webhooks')).data.items;
	assert.equal(listed.length, 1);
	assert.equal(listed[0].has_secret, true);
	assert.equal(listed[0].secret, undefined);
	await page.context().close();
});
