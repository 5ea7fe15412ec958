/*
 * arena.c — aligned blocks and fixed-capacity bump arenas.
 */
#include "core/arena.h"

#include "core/result.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int is_power_of_two(size_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

size_t mien_align_up(size_t size, size_t alignment)
{
	if (!is_power_of_two(alignment))
		return 0;
	if (size > SIZE_MAX - (alignment - 1))
		return 0;
	return (size + alignment - 1) & ~(alignment - 1);
}

void *mien_aligned_alloc(size_t alignment, size_t size)
{
	if (size == 0 || !is_power_of_two(alignment))
		return NULL;
	/* No object may exceed PTRDIFF_MAX; refusing early also keeps sanitizer allocators from aborting. */
	if (size > (size_t)PTRDIFF_MAX - alignment)
		return NULL;
	/* posix_memalign needs a multiple of sizeof(void *). */
	if (alignment < sizeof(void *))
		alignment = sizeof(void *);
	void *ptr = NULL;
	if (posix_memalign(&ptr, alignment, size) != 0)
		return NULL;
	return ptr;
}

void mien_aligned_free(void *ptr)
{
	free(ptr);
}

int mien_arena_init(mien_arena *arena, size_t capacity, size_t alignment)
{
	if (arena == NULL)
		return MIEN_EINVAL;
	memset(arena, 0, sizeof(*arena));
	if (!is_power_of_two(alignment) || alignment < 16)
		return MIEN_EINVAL;
	size_t rounded = mien_align_up(capacity, alignment);
	if (capacity != 0 && rounded == 0)
		return MIEN_ENOMEM;
	arena->alignment = alignment;
	if (capacity == 0)
		return MIEN_OK;
	arena->base = mien_aligned_alloc(alignment, rounded);
	if (arena->base == NULL)
		return MIEN_ENOMEM;
	arena->capacity = capacity;
	return MIEN_OK;
}

void *mien_arena_alloc(mien_arena *arena, size_t size)
{
	if (arena == NULL || arena->alignment == 0)
		return NULL;
	if (size == 0) {
		/* A valid, aligned address never dereferenced: the current end (possibly one past the block),
		 * or the alignment itself for an arena with no memory. */
		if (arena->base == NULL)
			return (void *)(uintptr_t)arena->alignment;
		return arena->base + arena->used;
	}
	/* The block is reserved rounded up to the alignment, and `used` advances by whole alignment units,
	 * so every pointer handed out is aligned; only the `size` bytes asked for must fit the capacity. */
	if (arena->used > arena->capacity || size > arena->capacity - arena->used)
		return NULL;
	void *ptr = arena->base + arena->used;
	arena->used += mien_align_up(size, arena->alignment);
	return ptr;
}

void mien_arena_reset(mien_arena *arena)
{
	if (arena != NULL)
		arena->used = 0;
}

void mien_arena_release(mien_arena *arena)
{
	if (arena == NULL)
		return;
	mien_aligned_free(arena->base);
	memset(arena, 0, sizeof(*arena));
}
