/*
 * arena.h — aligned memory: single aligned blocks, and bump arenas with a hard capacity.
 *
 * Inference sizes an arena once (at model load or runtime creation) and then only bumps and resets it,
 * so no malloc happens per frame. Every allocation from an arena is aligned to the arena's alignment
 * (a power of two, at least 16; 64 is a cache line and suits AVX-512). An arena never grows: an
 * allocation beyond its capacity returns NULL.
 */
#ifndef MIEN_CORE_ARENA_H
#define MIEN_CORE_ARENA_H

#include <stddef.h>

/* Allocates `size` bytes aligned to `alignment` (a power of two); NULL on failure or size 0 overflow.
 * Caller frees with mien_aligned_free. */
void *mien_aligned_alloc(size_t alignment, size_t size);
void mien_aligned_free(void *ptr);

/* Rounds `size` up to a multiple of `alignment` (a power of two); returns 0 on overflow. */
size_t mien_align_up(size_t size, size_t alignment);

typedef struct mien_arena {
	unsigned char *base; /* owned; NULL when the arena is empty-capacity */
	size_t capacity;
	size_t used;
	size_t alignment;
} mien_arena;

/* Reserves `capacity` bytes aligned to `alignment`. MIEN_EINVAL for a bad alignment, MIEN_ENOMEM. */
int mien_arena_init(mien_arena *arena, size_t capacity, size_t alignment);

/* Returns `size` bytes (aligned) from the arena, or NULL when it would exceed the capacity.
 * A size of 0 returns a valid, aligned pointer that must not be dereferenced. */
void *mien_arena_alloc(mien_arena *arena, size_t size);

/* Forgets every allocation; the memory stays reserved. */
void mien_arena_reset(mien_arena *arena);

/* Releases the memory; the arena may be initialised again. A zeroed or released arena is a no-op. */
void mien_arena_release(mien_arena *arena);

#endif
