// defaults.test.mjs — MIEN_MODELS and MIEN_DB default to paths beside the binary, not the working directory:
// build/mien run from a temporary folder finds the repository's models/ and names the repository's
// var/mien.db (the file `make run` uses). Expected paths come from the repository layout; the face count of
// sample1.jpg from its label (3 faces, as in api.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = realpathSync(new URL('../../', import.meta.url).pathname);
const MIEN = join(ROOT, 'build/mien'); // the build tree's binary: its ../models is the repository's
const SAMPLE1 = join(ROOT, 'models/samples/sample1.jpg');

// The environment without any MIEN_* setting, so that only the defaults speak.
function bareEnv() {
	const env = {};
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MIEN_')) env[k] = v;
	return env;
}

test('defaults resolve against the installation from any working directory', () => {
	const elsewhere = mkdtempSync(join(tmpdir(), 'mien-cwd-'));
	try {
		const help = execFileSync(MIEN, ['--help'], { cwd: elsewhere, env: bareEnv(), encoding: 'utf8' });
		assert.match(help, new RegExp(`MIEN_MODELS=${ROOT}/models\\n`), 'MIEN_MODELS: the repository models/');
		assert.match(help, new RegExp(`MIEN_DB=sqlite:${ROOT}/var/mien\\.db\\n`), 'MIEN_DB: the repository var/mien.db');

		// analyze needs the models: run from a folder that has none.
		const out = execFileSync(MIEN, ['analyze', '--json', SAMPLE1], { cwd: elsewhere, env: bareEnv(), encoding: 'utf8' });
		const result = JSON.parse(out);
		assert.equal(result.faces.length, 3, 'sample1.jpg is labelled with 3 faces');

		// A setting still wins over the default.
		const set = execFileSync(MIEN, ['--help'], {
			cwd: elsewhere,
			env: { ...bareEnv(), MIEN_MODELS: '/nowhere/models', MIEN_DB: 'sqlite:/nowhere/x.db' },
			encoding: 'utf8',
		});
		assert.match(set, /MIEN_MODELS=\/nowhere\/models\n/);
		assert.match(set, /MIEN_DB=sqlite:\/nowhere\/x\.db\n/);
	} finally {
		rmSync(elsewhere, { recursive: true, force: true });
	}
});
