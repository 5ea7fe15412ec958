/*
 * test_arena.c — aligned blocks and bump arenas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "core/arena.h"
#include "core/result.h"

static void test_align_up(void **state)
{
	(void)state;
	assert_int_equal(mien_align_up(0, 64), 0);
	assert_int_equal(mien_align_up(1, 64), 64);
	assert_int_equal(mien_align_up(64, 64), 64);
	assert_int_equal(mien_align_up(65, 64), 128);
	assert_int_equal(mien_align_up(17, 16), 32);
	/* Overflow and a non-power-of-two alignment give 0. */
	assert_int_equal(mien_align_up(SIZE_MAX - 3, 64), 0);
	assert_int_equal(mien_align_up(10, 48), 0);
	assert_int_equal(mien_align_up(10, 0), 0);
}

static void test_aligned_alloc(void **state)
{
	(void)state;
	size_t alignments[] = { 1, 8, 16, 64, 256, 4096 };
	for (size_t i = 0; i < MIEN_ARRAY_LEN(alignments); i++) {
		unsigned char *p = mien_aligned_alloc(alignments[i], 1000);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % alignments[i], 0);
		memset(p, 0xab, 1000); /* ASan checks the whole block is ours */
		mien_aligned_free(p);
	}
	assert_null(mien_aligned_alloc(64, 0));
	assert_null(mien_aligned_alloc(48, 100));
	assert_null(mien_aligned_alloc(64, SIZE_MAX));
	mien_aligned_free(NULL);
}

static void test_arena_alignment_of_every_pointer(void **state)
{
	(void)state;
	mien_arena arena;
	assert_int_equal(mien_arena_init(&arena, 10000, 64), MIEN_OK);
	size_t sizes[] = { 1, 3, 64, 65, 7, 200, 1 };
	unsigned char *prev = NULL;
	for (size_t i = 0; i < MIEN_ARRAY_LEN(sizes); i++) {
		unsigned char *p = mien_arena_alloc(&arena, sizes[i]);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 64, 0);
		if (prev != NULL)
			assert_true(p >= prev + sizes[i - 1]);
		memset(p, (int)i, sizes[i]);
		prev = p;
	}
	mien_arena_release(&arena);
	assert_null(arena.base);
	assert_int_equal(arena.capacity, 0);
}

static void test_arena_capacity_exhaustion(void **state)
{
	(void)state;
	mien_arena arena;
	assert_int_equal(mien_arena_init(&arena, 256, 64), MIEN_OK);
	void *a = mien_arena_alloc(&arena, 100); /* takes 128 */
	void *b = mien_arena_alloc(&arena, 128); /* up to 256 */
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal((unsigned char *)b, (unsigned char *)a + 128);
	assert_null(mien_arena_alloc(&arena, 1));
	assert_int_equal(arena.used, 256);

	/* A size 0 allocation is a valid aligned pointer even when full. */
	void *z = mien_arena_alloc(&arena, 0);
	assert_non_null(z);
	assert_int_equal((uintptr_t)z % 64, 0);

	/* Reset makes the whole capacity available again, at the same addresses. */
	mien_arena_reset(&arena);
	assert_int_equal(arena.used, 0);
	assert_ptr_equal(mien_arena_alloc(&arena, 256), a);
	assert_null(mien_arena_alloc(&arena, 1));

	mien_arena_reset(&arena);
	assert_null(mien_arena_alloc(&arena, 257));
	assert_null(mien_arena_alloc(&arena, SIZE_MAX));
	mien_arena_release(&arena);
}

static void test_arena_unaligned_capacity(void **state)
{
	(void)state;
	/* The capacity counts bytes asked for: 100 bytes fit a capacity of 100 exactly. */
	mien_arena arena;
	assert_int_equal(mien_arena_init(&arena, 100, 16), MIEN_OK);
	unsigned char *p = mien_arena_alloc(&arena, 100);
	assert_non_null(p);
	memset(p, 1, 100);
	assert_null(mien_arena_alloc(&arena, 1));
	mien_arena_release(&arena);

	assert_int_equal(mien_arena_init(&arena, 100, 16), MIEN_OK);
	assert_non_null(mien_arena_alloc(&arena, 90)); /* takes 96 */
	assert_null(mien_arena_alloc(&arena, 5));
	assert_non_null(mien_arena_alloc(&arena, 4));
	assert_null(mien_arena_alloc(&arena, 1));
	mien_arena_release(&arena);
}

static void test_arena_bad_init_and_release(void **state)
{
	(void)state;
	mien_arena arena;
	assert_int_equal(mien_arena_init(&arena, 100, 8), MIEN_EINVAL);
	assert_int_equal(mien_arena_init(&arena, 100, 48), MIEN_EINVAL);
	assert_int_equal(mien_arena_init(&arena, 100, 0), MIEN_EINVAL);
	assert_int_equal(mien_arena_init(NULL, 100, 64), MIEN_EINVAL);
	assert_int_equal(mien_arena_init(&arena, SIZE_MAX, 64), MIEN_ENOMEM);
	assert_null(arena.base);

	/* Empty capacity: nothing but size-0 allocations. */
	assert_int_equal(mien_arena_init(&arena, 0, 32), MIEN_OK);
	assert_null(arena.base);
	assert_null(mien_arena_alloc(&arena, 1));
	void *z = mien_arena_alloc(&arena, 0);
	assert_non_null(z);
	assert_int_equal((uintptr_t)z % 32, 0);
	mien_arena_release(&arena);

	/* Releasing twice and releasing a zeroed arena are no-ops; a released arena can be reused. */
	mien_arena zeroed = { 0 };
	mien_arena_release(&zeroed);
	mien_arena_release(&zeroed);
	assert_null(mien_arena_alloc(&zeroed, 1));
	assert_int_equal(mien_arena_init(&zeroed, 64, 64), MIEN_OK);
	assert_non_null(mien_arena_alloc(&zeroed, 64));
	mien_arena_release(&zeroed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_align_up),
		cmocka_unit_test(test_aligned_alloc),
		cmocka_unit_test(test_arena_alignment_of_every_pointer),
		cmocka_unit_test(test_arena_capacity_exhaustion),
		cmocka_unit_test(test_arena_unaligned_capacity),
		cmocka_unit_test(test_arena_bad_init_and_release),
	};
	return cmocka_run_group_tests_name("core/arena", tests, NULL, NULL);
}
