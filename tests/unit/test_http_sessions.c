/*
 * test_http_sessions.c — which open live streams and live views a revocation names (http__holder_revoked): every
 * reply of a user, or those of one session whose user no longer has the rights they began with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

/* A holder of user 7, analyst, limited to cameras 3 and 5, on the session whose hash is all `tag`. */
static void holder(http_holder *h, int64_t cameras[2], uint8_t tag)
{
	memset(h, 0, sizeof(*h));
	memset(h->token_hash, tag, sizeof(h->token_hash));
	h->user_id = 7;
	h->role = STORE_ROLE_ANALYST;
	h->all_cameras = 0;
	h->n_cameras = 2;
	cameras[0] = 3;
	cameras[1] = 5;
	h->cameras = cameras;
}

/* The user as the store has it now: the same rights as the holder began with. */
static void same_user(auth_entry *u)
{
	memset(u, 0, sizeof(*u));
	u->user_id = 7;
	u->role = STORE_ROLE_ANALYST;
	u->n_cameras = 2;
	u->cameras[0] = 5; /* another order is the same list */
	u->cameras[1] = 3;
}

static void test_by_user(void **state)
{
	(void)state;
	http_holder h;
	int64_t cams[2];
	holder(&h, cams, 0xab);
	http_revoke mine = { 7, NULL, NULL }, other = { 8, NULL, NULL };
	assert_int_equal(http__holder_revoked(&h, &mine), 1);
	assert_int_equal(http__holder_revoked(&h, &other), 0);
}

static void test_by_session(void **state)
{
	(void)state;
	http_holder h;
	int64_t cams[2];
	holder(&h, cams, 0xab);
	uint8_t same[STORE_TOKEN_HASH_BYTES], other[STORE_TOKEN_HASH_BYTES];
	memset(same, 0xab, sizeof(same));
	memset(other, 0xab, sizeof(other));
	other[STORE_TOKEN_HASH_BYTES - 1] = 0xac;

	http_revoke gone = { 0, same, NULL };
	assert_int_equal(http__holder_revoked(&h, &gone), 1); /* logout, expiry, deleted, disabled */
	http_revoke gone_other = { 0, other, NULL };
	assert_int_equal(http__holder_revoked(&h, &gone_other), 0); /* another session of the same user */

	auth_entry u;
	same_user(&u);
	http_revoke unchanged = { 0, same, &u };
	assert_int_equal(http__holder_revoked(&h, &unchanged), 0);

	same_user(&u);
	u.role = STORE_ROLE_RECOGNITION; /* demoted */
	assert_int_equal(http__holder_revoked(&h, &unchanged), 1);

	same_user(&u);
	u.cameras[1] = 4; /* one camera swapped */
	assert_int_equal(http__holder_revoked(&h, &unchanged), 1);

	same_user(&u);
	u.n_cameras = 1; /* one camera fewer */
	assert_int_equal(http__holder_revoked(&h, &unchanged), 1);

	same_user(&u);
	u.all_cameras = 1; /* more cameras: closed too, so the new stream carries them */
	assert_int_equal(http__holder_revoked(&h, &unchanged), 1);

	same_user(&u);
	u.user_id = 9; /* the hash now belongs to somebody else: never the same rights */
	assert_int_equal(http__holder_revoked(&h, &unchanged), 1);
}

static void test_all_cameras_holder(void **state)
{
	(void)state;
	http_holder h;
	int64_t cams[2];
	holder(&h, cams, 0x01);
	h.all_cameras = 1;
	h.n_cameras = 0;
	uint8_t hash[STORE_TOKEN_HASH_BYTES];
	memset(hash, 0x01, sizeof(hash));
	auth_entry u;
	same_user(&u);
	u.all_cameras = 1;
	u.n_cameras = 0;
	http_revoke rv = { 0, hash, &u };
	assert_int_equal(http__holder_revoked(&h, &rv), 0);
	u.all_cameras = 0; /* limited from now on */
	assert_int_equal(http__holder_revoked(&h, &rv), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_user),
		cmocka_unit_test(test_by_session),
		cmocka_unit_test(test_all_cameras_holder),
	};
	return cmocka_run_group_tests_name("http/sessions", tests, NULL, NULL);
}
