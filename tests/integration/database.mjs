// database.mjs — the database an integration test that needs a first start (the admin password it prints) runs
// on: MIEN_IT_DB=sqlite (the default), a file in the test's temporary folder; MIEN_IT_DB=postgresql, a new empty
// database on the throw-away server of scripts/testdb.sh (MIEN_TEST_PG_NEWDB), since the shared one is past its
// first start.
import { execSync } from 'node:child_process';
import { join } from 'node:path';

export function firstStartDatabase(tmp) {
	if ((process.env.MIEN_IT_DB || 'sqlite') !== 'postgresql') return `sqlite:${join(tmp, 'mien.db')}`;
	if (!process.env.MIEN_TEST_PG_NEWDB) throw new Error('MIEN_IT_DB=postgresql needs MIEN_TEST_PG_NEWDB (run under scripts/testdb.sh)');
	return execSync(process.env.MIEN_TEST_PG_NEWDB, { encoding: 'utf8' }).trim();
}
