// login.test.mjs — the login limiter against an attacker, on a real `build/mien serve` (SQLite in a temporary
// folder), driven from several loopback source addresses (127.0.0.N) so that the per-address limit is not what
// stops the attacker.
//
// The attacker knows the old limiter: a 1,024-slot table probed at 8 slots from the FNV-1a hash of "u:" + name,
// evicting the oldest probed entry. It crafts names whose hash lands on the victim's slots (computed here
// exactly as src/http/auth.c did) and floods the table with random names. The promise (docs/api.md): the
// victim's name stays limited (429 with Retry-After) for the whole lock-out, its owner still gets in from an
// address it signed in from before, and each lock-out of a name is longer than the one before, up to a cap.
//
// Settings that make it quick (docs/operations.md): MIEN_LOGIN_SLOTS=64 (the table fills with few failures,
// each costing an argon2id verification), and for the growth test a second server with MIEN_LOGIN_LOCK_S=1 and
// MIEN_LOGIN_LOCK_MAX_S=4 (lock-outs of 1, 2, 4, 4 s instead of 1, 2, 4 ... 15 min).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const ROOT = new URL('../../', import.meta.url).pathname;
const MIEN = process.env.MIEN_IT_BIN ? join(ROOT, process.env.MIEN_IT_BIN) : join(ROOT, 'build/mien');
const tmp = mkdtempSync(join(tmpdir(), 'mien-login-'));

// --- helpers ----------------------------------------------------------------------------------------------

function request(port, method, path, { json, token, from = '127.0.0.1' } = {}) {
	return new Promise((resolve, reject) => {
		const body = json === undefined ? null : Buffer.from(JSON.stringify(json));
		const headers = { Connection: 'close' };
		if (body) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': body.length });
		if (token) headers.Authorization = `Bearer ${token}`;
		const req = http.request({ host: '127.0.0.1', port, method, path, headers, localAddress: from }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const text = Buffer.concat(chunks).toString('utf8');
				let data = null;
				try {
					data = text ? JSON.parse(text) : null;
				} catch {
					data = text;
				}
				resolve({ status: res.statusCode, headers: res.headers, data });
			});
		});
		req.on('error', reject);
		if (body) req.write(body);
		req.end();
	});
}

async function startServer(name, extraEnv) {
	const srv = { stderr: '', stdout: '' };
	srv.proc = spawn(MIEN, ['serve'], {
		cwd: ROOT,
		env: {
			...process.env,
			MIEN_DB: `sqlite:${join(tmp, `${name}.db`)}`,
			MIEN_LISTEN: '127.0.0.1:0',
			MIEN_LOG_LEVEL: 'info',
			MIEN_WEB: join(tmp, 'no-dashboard'),
			MIEN_MODELS: join(ROOT, 'models'),
			...extraEnv,
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	srv.proc.stdout.on('data', (d) => (srv.stdout += d));
	srv.proc.stderr.on('data', (d) => (srv.stderr += d));
	const t0 = Date.now();
	while (!/serving on port (\d+)/.test(srv.stderr) || !/password (\S+)/.test(srv.stdout)) {
		if (srv.proc.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`server did not start:\n${srv.stderr}\n${srv.stdout}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	srv.port = Number(/serving on port (\d+)/.exec(srv.stderr)[1]);
	const adminPassword = /password (\S+)/.exec(srv.stdout)[1];
	const r = await request(srv.port, 'POST', '/api/v1/auth/login', { json: { username: 'admin', password: adminPassword } });
	assert.equal(r.status, 200, JSON.stringify(r.data));
	srv.admin = r.data.token;
	srv.login = (username, password, from) => request(srv.port, 'POST', '/api/v1/auth/login', { json: { username, password }, from });
	srv.addUser = async (username, password) => {
		const u = await request(srv.port, 'POST', '/api/v1/users', { token: srv.admin, json: { username, password, role: 'recognition' } });
		assert.equal(u.status, 201, JSON.stringify(u.data));
	};
	return srv;
}

async function stopServer(srv) {
	if (srv && srv.proc.exitCode === null) {
		srv.proc.kill('SIGTERM');
		await new Promise((r) => srv.proc.once('exit', r));
	}
	assert.equal(srv.proc.exitCode, 0, `mien serve exit status:\n${srv.stderr.slice(-4000)}`);
}

// The old limiter's slot: FNV-1a (32 bit) over the key's bytes, modulo its 1,024 slots.
const OLD_SLOTS = 1024;
function fnv1a(text) {
	let h = 2166136261;
	for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 16777619) >>> 0;
	return h;
}

// `count` names whose key "u:<name>" probes exactly the same 8 slots as `victim`'s.
function collidingNames(victim, count) {
	const target = fnv1a(`u:${victim}`) % OLD_SLOTS;
	const names = [];
	for (let i = 0; names.length < count; i++) {
		const name = `x${i.toString(36)}`;
		if (fnv1a(`u:${name}`) % OLD_SLOTS === target) names.push(name);
	}
	return names;
}

const randomName = () => `r${randomBytes(6).toString('hex')}`;

// Fails one login per name, spreading the names over source addresses 127.0.0.<first>.. so that no address
// reaches its own limit (20 a minute); answers are 401 (counted) or 429 (refused: the name's slots are full).
async function failAll(srv, names, first) {
	let addr = first, onAddr = 0;
	for (const name of names) {
		const r = await srv.login(name, 'wrong', `127.0.0.${addr}`);
		assert.ok(r.status === 401 || r.status === 429, `${name} from 127.0.0.${addr}: ${r.status}`);
		if (++onAddr === 10) (addr++, (onAddr = 0));
	}
	return addr + 1;
}

// --- the tests --------------------------------------------------------------------------------------------

let main;
before(async () => {
	main = await startServer('main', { MIEN_LOGIN_SLOTS: '64' });
});

after(async () => {
	await stopServer(main);
	rmSync(tmp, { recursive: true, force: true });
});

test('a locked name stays locked through the whole minute: colliding names and a flood cannot evict it', async () => {
	await main.addUser('victim', 'pw-victim-12345');
	// The owner signs in once from 127.0.0.5: that address is known for 'victim' from now on.
	assert.equal((await main.login('victim', 'pw-victim-12345', '127.0.0.5')).status, 200);

	// The attacker guesses: 5 failures lock the name.
	for (let i = 0; i < 5; i++) assert.equal((await main.login('victim', `guess${i}`, '127.0.0.2')).status, 401);
	const lockedAt = Date.now();
	const first = await main.login('victim', 'guess5', '127.0.0.2');
	assert.equal(first.status, 429);
	assert.ok(Number(first.headers['retry-after']) > 0);

	// Names on the victim's slots, then random names, each from addresses that have not failed yet.
	let next = 10;
	next = await failAll(main, collidingNames('victim', 16), next);
	next = await failAll(main, Array.from({ length: 60 }, randomName), next);

	// Through the whole minute, from fresh addresses: the name stays limited. The lock-out began at the fifth
	// failure, before `lockedAt`; the last check comes at about 56 s (under ASan too, where a round is slower).
	let rounds = 0, lastCheck = 0;
	for (;;) {
		const r = await main.login('victim', `guess-late-${rounds}`, `127.0.0.${next++}`);
		assert.equal(r.status, 429, `after ${Math.round((Date.now() - lockedAt) / 1000)} s the name is no longer limited: ${JSON.stringify(r.data)}`);
		const wait = Number(r.headers['retry-after']);
		assert.ok(wait >= 1 && wait <= 61, `Retry-After ${r.headers['retry-after']}`);
		lastCheck = Date.now() - lockedAt;
		if (lastCheck >= 55000) break;
		if (rounds === 0) {
			// The owner, from the address it signed in from before, still gets in; the lock stays for others.
			assert.equal((await main.login('victim', 'pw-victim-12345', '127.0.0.5')).status, 200, 'the owner is let through');
			assert.equal((await main.login('victim', 'pw-victim-12345', `127.0.0.${next++}`)).status, 429, 'but not from a new address');
		}
		// Keep the pressure on: more names on the old slots and more random ones.
		next = await failAll(main, [...collidingNames('victim', 24).slice(16 + (rounds % 8)), randomName(), randomName()], next);
		rounds++;
		await new Promise((r) => setTimeout(r, Math.min(4000, Math.max(0, 56000 - (Date.now() - lockedAt)))));
	}
	assert.ok(rounds >= 3, `${rounds} rounds, the last check ${lastCheck} ms into the lock-out`);
});

test('lock-outs of a name grow and are capped (MIEN_LOGIN_LOCK_S=1, MIEN_LOGIN_LOCK_MAX_S=4)', async () => {
	const srv = await startServer('growth', { MIEN_LOGIN_LOCK_S: '1', MIEN_LOGIN_LOCK_MAX_S: '4' });
	try {
		await srv.addUser('grower', 'pw-grower-12345');
		let addr = 100;
		for (const want of [1, 2, 4, 4]) {
			const from = `127.0.0.${addr++}`;
			for (let i = 0; i < 5; i++) assert.equal((await srv.login('grower', 'wrong', from)).status, 401, `lock-out ${want} s: failure ${i + 1}`);
			const r = await srv.login('grower', 'pw-grower-12345', from);
			assert.equal(r.status, 429);
			assert.equal(Number(r.headers['retry-after']), want, `Retry-After of this lock-out`);
			await new Promise((res) => setTimeout(res, want * 1000 + 300));
		}
		// After the last lock-out ended, the owner gets in again.
		assert.equal((await srv.login('grower', 'pw-grower-12345', `127.0.0.${addr}`)).status, 200);
	} finally {
		await stopServer(srv);
	}
});
