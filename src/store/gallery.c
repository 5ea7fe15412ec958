/*
 * gallery.c — the face embedding index: rows in one aligned block, scanned by a SIMD kernel per format.
 *
 * A search is a linear scan (every stored vector is scored), which at 1M faces is bound by memory
 * bandwidth, so the compressed formats are what make it fast. Scores come out a block at a time; only a
 * score above the current k-th best distinct person reaches the (rare, O(k)) top-list update.
 */
#include "store/gallery.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/arena.h"
#include "core/log.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define GALLERY_X86 1
#else
#define GALLERY_X86 0
#endif

enum isa {
	ISA_PORTABLE = 0,
	ISA_AVX2 = 1,
	ISA_AVX512 = 2,
};

static const char *const isa_names[] = { "portable", "avx2", "avx512" };

#define ROW_ALIGN  64
#define HUGE_PAGE  ((size_t)2 << 20)
#define SCAN_BLOCK 256 /* rows scored per kernel call; the scores stay in L1 */
/* How far ahead of the rows being scored the SIMD kernels prefetch. The hardware prefetcher alone left
 * the 1M-face int8 scan at ~9 ms against a ~5 ms read of the same 192 MB; 4 KiB ahead brings it to ~5.5. */
#define PREFETCH_AHEAD 4096

/* A query in every form a kernel may want, zero-padded to the row length. */
typedef struct query {
	size_t stride; /* values per row */
	float scale;   /* int8: query dequantisation scale */
	_Alignas(64) float f[GALLERY_MAX_DIM];
	_Alignas(64) int8_t s8[GALLERY_MAX_DIM];   /* int8 format: the query quantised to [-127, 127] */
	_Alignas(64) int16_t s16[GALLERY_MAX_DIM]; /* the same, widened for AVX2 */
	int32_t bias;                              /* 128 * sum(s8): what the rows' +128 offset adds */
} query;

/* Scores `count` rows of `row_bytes` each. `scale` is the int8 per-row scale (NULL otherwise). */
typedef void (*score_fn)(const query *q, const unsigned char *rows, size_t row_bytes, const float *scale, size_t count,
                         float *scores);

/* Open-addressing (linear probing) map from an id to a row; slot < 0 marks an empty entry. */
typedef struct id_entry {
	int64_t key;
	int32_t slot;  /* faces: the face's row; people: the first row of the person's list */
	int32_t count; /* people: how many faces */
} id_entry;

typedef struct id_map {
	id_entry *entries;
	size_t capacity; /* a power of two, or 0 */
	size_t used;
} id_map;

struct gallery {
	pthread_rwlock_t lock;
	char model[GALLERY_MODEL_MAX];
	int dim;
	int format;
	int isa;
	int threads;
	score_fn score;
	size_t stride;    /* values per row: dim rounded up so a row is a multiple of 64 bytes */
	size_t row_bytes; /* stride * value size */
	size_t count;
	size_t capacity;
	unsigned char *rows; /* capacity * row_bytes, 64-byte aligned */
	float *scale;        /* int8 only: per-row scale */
	int64_t *face_id;
	int64_t *person_id;
	int32_t *next; /* doubly linked list of a person's rows; -1 ends it */
	int32_t *prev;
	id_map faces;
	id_map people;
};

/* --- id maps --------------------------------------------------------------------------------------- */

static size_t id_hash(int64_t key)
{
	uint64_t x = (uint64_t)key; /* splitmix64 finaliser: sequential ids spread over the table */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (size_t)x;
}

static id_entry *map_find(const id_map *m, int64_t key)
{
	if (m->capacity == 0)
		return NULL;
	size_t mask = m->capacity - 1;
	for (size_t i = id_hash(key) & mask;; i = (i + 1) & mask) {
		id_entry *e = &m->entries[i];
		if (e->slot < 0)
			return NULL;
		if (e->key == key)
			return e;
	}
}

/* Makes room for `need` entries at a load factor of at most 1/2. MIEN_ENOMEM leaves the map as it was. */
static int map_reserve(id_map *m, size_t need)
{
	if (need * 2 <= m->capacity)
		return MIEN_OK;
	size_t capacity = m->capacity ? m->capacity : 64;
	while (capacity < need * 2)
		capacity *= 2;
	id_entry *entries = malloc(capacity * sizeof(*entries));
	if (entries == NULL)
		return MIEN_ENOMEM;
	for (size_t i = 0; i < capacity; i++)
		entries[i].slot = -1;
	size_t mask = capacity - 1;
	for (size_t i = 0; i < m->capacity; i++) {
		if (m->entries[i].slot < 0)
			continue;
		size_t j = id_hash(m->entries[i].key) & mask;
		while (entries[j].slot >= 0)
			j = (j + 1) & mask;
		entries[j] = m->entries[i];
	}
	free(m->entries);
	m->entries = entries;
	m->capacity = capacity;
	return MIEN_OK;
}

/* Inserts a key known to be absent into a map with room reserved. */
static id_entry *map_insert(id_map *m, int64_t key, int32_t slot, int32_t count)
{
	MIEN_ASSERT(m->capacity > 0 && (m->used + 1) * 2 <= m->capacity);
	size_t mask = m->capacity - 1;
	size_t i = id_hash(key) & mask;
	while (m->entries[i].slot >= 0)
		i = (i + 1) & mask;
	m->entries[i] = (id_entry){ .key = key, .slot = slot, .count = count };
	m->used++;
	return &m->entries[i];
}

/* Deletes by shifting later entries of the probe run back, so that no tombstones build up. */
static void map_erase(id_map *m, id_entry *e)
{
	size_t mask = m->capacity - 1;
	size_t hole = (size_t)(e - m->entries);
	for (size_t j = (hole + 1) & mask; m->entries[j].slot >= 0; j = (j + 1) & mask) {
		size_t home = id_hash(m->entries[j].key) & mask;
		/* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
		int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			m->entries[hole] = m->entries[j];
			hole = j;
		}
	}
	m->entries[hole].slot = -1;
	m->used--;
}

/* --- half precision (bit-exact in every kernel: the rows are written by this one converter) --------- */

static uint16_t float_to_half(float value)
{
	uint32_t x;
	memcpy(&x, &value, sizeof(x));
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	x &= 0x7fffffffu;
	if (x >= 0x47800000u) /* beyond the half range (normalised values never are) */
		return sign | 0x7c00u;
	if (x < 0x38800000u) { /* a half subnormal: round value * 2^24 to nearest even */
		float a;
		memcpy(&a, &x, sizeof(a));
		return sign | (uint16_t)lrintf(a * 16777216.0f);
	}
	x += 0x0fffu + ((x >> 13) & 1u); /* round the 13 dropped mantissa bits to nearest even */
	return sign | (uint16_t)((x - 0x38000000u) >> 13);
}

static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exponent = (h >> 10) & 0x1fu;
	uint32_t mantissa = h & 0x3ffu;
	uint32_t bits;
	if (exponent == 0) {
		float value = ldexpf((float)mantissa, -24);
		return sign ? -value : value;
	}
	if (exponent == 31)
		bits = sign | 0x7f800000u | (mantissa << 13);
	else
		bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
	float value;
	memcpy(&value, &bits, sizeof(value));
	return value;
}

/* --- kernels --------------------------------------------------------------------------------------- */

static void score_f32_portable(const query *q, const unsigned char *rows, size_t row_bytes, const float *scale,
                               size_t count, float *scores)
{
	(void)scale;
	for (size_t i = 0; i < count; i++) {
		const float *x = (const float *)(rows + i * row_bytes);
		float acc[8] = { 0 };
		for (size_t d = 0; d < q->stride; d += 8)
			for (int j = 0; j < 8; j++)
				acc[j] += q->f[d + j] * x[d + j];
		scores[i] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
	}
}

static void score_f16_portable(const query *q, const unsigned char *rows, size_t row_bytes, const float *scale,
                               size_t count, float *scores)
{
	(void)scale;
	for (size_t i = 0; i < count; i++) {
		const uint16_t *x = (const uint16_t *)(rows + i * row_bytes);
		float acc[8] = { 0 };
		for (size_t d = 0; d < q->stride; d += 8)
			for (int j = 0; j < 8; j++)
				acc[j] += q->f[d + j] * half_to_float(x[d + j]);
		scores[i] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
	}
}

/*
 * int8 rows are stored offset by +128 (as unsigned bytes 1..255) because VNNI multiplies unsigned by
 * signed bytes: sum((x + 128) * q) - 128 * sum(q) is the exact signed dot, and the correction is one
 * number per query, not per row. Every int8 kernel computes that same exact int32 dot and then this same
 * float expression, so all of them give the same bits.
 */
static inline float int8_score(int32_t dot, float row_scale, float query_scale)
{
	return (float)dot * row_scale * query_scale;
}

static void score_i8_portable(const query *q, const unsigned char *rows, size_t row_bytes, const float *scale,
                              size_t count, float *scores)
{
	for (size_t i = 0; i < count; i++) {
		const uint8_t *x = rows + i * row_bytes;
		int32_t dot = 0;
		for (size_t d = 0; d < q->stride; d++)
			dot += (int32_t)q->s8[d] * x[d];
		scores[i] = int8_score(dot - q->bias, scale[i], q->scale);
	}
}

#if GALLERY_X86

#define TARGET_AVX2   __attribute__((target("avx2,fma,f16c")))
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni")))

static inline void prefetch_ahead(const unsigned char *rows, size_t bytes)
{
	for (size_t o = 0; o < bytes; o += 64) /* past the end is harmless: a prefetch never faults */
		_mm_prefetch((const char *)rows + PREFETCH_AHEAD + o, _MM_HINT_T0);
}

TARGET_AVX2 static inline float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

TARGET_AVX2 static void score_f32_avx2(const query *q, const unsigned char *rows, size_t row_bytes, const float *scale,
                                       size_t count, float *scores)
{
	(void)scale;
	for (size_t i = 0; i < count; i++) {
		const float *x = (const float *)(rows + i * row_bytes);
		prefetch_ahead((const unsigned char *)x, row_bytes);
		__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
		for (size_t d = 0; d < q->stride; d += 16) { /* stride is a multiple of 16 */
			a0 = _mm256_fmadd_ps(_mm256_load_ps(q->f + d), _mm256_load_ps(x + d), a0);
			a1 = _mm256_fmadd_ps(_mm256_load_ps(q->f + d + 8), _mm256_load_ps(x + d + 8), a1);
		}
		scores[i] = hsum256(_mm256_add_ps(a0, a1));
	}
}

TARGET_AVX2 static void score_f16_avx2(const query *q, const unsigned char *rows, size_t row_bytes, const float *scale,
                                       size_t count, float *scores)
{
	(void)scale;
	for (size_t i = 0; i < count; i++) {
		const unsigned char *x = rows + i * row_bytes;
		prefetch_ahead((const unsigned char *)x, row_bytes);
		__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
		for (size_t d = 0; d < q->stride; d += 16) { /* stride is a multiple of 32 */
			__m256 x0 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(x + 2 * d)));
			__m256 x1 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(x + 2 * d + 16)));
			a0 = _mm256_fmadd_ps(_mm256_load_ps(q->f + d), x0, a0);
			a1 = _mm256_fmadd_ps(_mm256_load_ps(q->f + d + 8), x1, a1);
		}
		scores[i] = hsum256(_mm256_add_ps(a0, a1));
	}
}

/* AVX2's byte madd saturates; widening to int16 and madd_epi16 is exact (255 * 127 * 2 fits). */
TARGET_AVX2 static void score_i8_avx2(const query *q, const unsigned char *rows, size_t row_bytes, const float *scale,
                                      size_t count, float *scores)
{
	for (size_t i = 0; i < count; i++) {
		const unsigned char *x = rows + i * row_bytes;
		prefetch_ahead((const unsigned char *)x, row_bytes);
		__m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
		for (size_t d = 0; d < q->stride; d += 32) { /* stride is a multiple of 64 */
			__m256i x0 = _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(x + d)));
			__m256i x1 = _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(x + d + 16)));
			a0 = _mm256_add_epi32(a0,
			                      _mm256_madd_epi16(x0, _mm256_load_si256((const __m256i *)(q->s16 + d))));
			a1 = _mm256_add_epi32(
			        a1, _mm256_madd_epi16(x1, _mm256_load_si256((const __m256i *)(q->s16 + d + 16))));
		}
		__m256i a = _mm256_add_epi32(a0, a1);
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
		scores[i] = int8_score(_mm_cvtsi128_si32(s) - q->bias, scale[i], q->scale);
	}
}

TARGET_AVX512 static void score_f32_avx512(const query *q, const unsigned char *rows, size_t row_bytes,
                                           const float *scale, size_t count, float *scores)
{
	(void)scale;
	for (size_t i = 0; i < count; i++) {
		const float *x = (const float *)(rows + i * row_bytes);
		prefetch_ahead((const unsigned char *)x, row_bytes);
		__m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
		size_t d = 0;
		for (; d + 32 <= q->stride; d += 32) {
			a0 = _mm512_fmadd_ps(_mm512_load_ps(q->f + d), _mm512_load_ps(x + d), a0);
			a1 = _mm512_fmadd_ps(_mm512_load_ps(q->f + d + 16), _mm512_load_ps(x + d + 16), a1);
		}
		if (d < q->stride) /* stride is a multiple of 16 */
			a0 = _mm512_fmadd_ps(_mm512_load_ps(q->f + d), _mm512_load_ps(x + d), a0);
		scores[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
	}
}

TARGET_AVX512 static void score_f16_avx512(const query *q, const unsigned char *rows, size_t row_bytes,
                                           const float *scale, size_t count, float *scores)
{
	(void)scale;
	for (size_t i = 0; i < count; i++) {
		const unsigned char *x = rows + i * row_bytes;
		prefetch_ahead((const unsigned char *)x, row_bytes);
		__m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
		for (size_t d = 0; d < q->stride; d += 32) { /* stride is a multiple of 32 */
			__m512 x0 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(x + 2 * d)));
			__m512 x1 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(x + 2 * d + 32)));
			a0 = _mm512_fmadd_ps(_mm512_load_ps(q->f + d), x0, a0);
			a1 = _mm512_fmadd_ps(_mm512_load_ps(q->f + d + 16), x1, a1);
		}
		scores[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
	}
}

/* The four int32 sums of a0..a3 (16 lanes each) as one vector: transposing adds instead of four reductions. */
TARGET_AVX512 static inline __m128i reduce4_epi32(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
	__m512i x = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
	__m512i y = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
	__m512i z = _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
	__m256i h = _mm256_add_epi32(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
	return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Four rows at a time keep four independent dot chains in flight and share one reduction. */
TARGET_AVX512 static void score_i8_avx512(const query *q, const unsigned char *rows, size_t row_bytes,
                                          const float *scale, size_t count, float *scores)
{
	const __m512i zero = _mm512_setzero_si512();
	const __m128i bias = _mm_set1_epi32(q->bias);
	size_t i = 0;
	for (; i + 4 <= count; i += 4) {
		const unsigned char *x = rows + i * row_bytes;
		prefetch_ahead(x, 4 * row_bytes);
		__m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
		for (size_t d = 0; d < q->stride; d += 64) {
			__m512i qv = _mm512_load_si512((const void *)(q->s8 + d));
			a0 = _mm512_dpbusd_epi32(a0, _mm512_load_si512((const void *)(x + d)), qv);
			a1 = _mm512_dpbusd_epi32(a1, _mm512_load_si512((const void *)(x + row_bytes + d)), qv);
			a2 = _mm512_dpbusd_epi32(a2, _mm512_load_si512((const void *)(x + 2 * row_bytes + d)), qv);
			a3 = _mm512_dpbusd_epi32(a3, _mm512_load_si512((const void *)(x + 3 * row_bytes + d)), qv);
		}
		/* lane by lane the same IEEE operations as int8_score, so every kernel gives the same bits */
		__m128 dots = _mm_cvtepi32_ps(_mm_sub_epi32(reduce4_epi32(a0, a1, a2, a3), bias));
		__m128 s = _mm_mul_ps(_mm_mul_ps(dots, _mm_loadu_ps(scale + i)), _mm_set1_ps(q->scale));
		_mm_storeu_ps(scores + i, s);
	}
	for (; i < count; i++) {
		const unsigned char *x = rows + i * row_bytes;
		__m512i a = zero;
		for (size_t d = 0; d < q->stride; d += 64) {
			a = _mm512_dpbusd_epi32(a, _mm512_load_si512((const void *)(x + d)),
			                        _mm512_load_si512((const void *)(q->s8 + d)));
		}
		scores[i] = int8_score(_mm512_reduce_add_epi32(a) - q->bias, scale[i], q->scale);
	}
}

#endif /* GALLERY_X86 */

static int cpu_isa(void)
{
#if GALLERY_X86
	__builtin_cpu_init();
	/* Every AVX2 CPU also has F16C (Ivy Bridge and Piledriver came first); clang cannot test "f16c". */
	int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vnni"))
		return ISA_AVX512;
	if (avx2)
		return ISA_AVX2;
#endif
	return ISA_PORTABLE;
}

static score_fn pick_kernel(int format, int isa)
{
	static const score_fn portable[] = { score_f32_portable, score_i8_portable, score_f16_portable };
#if GALLERY_X86
	static const score_fn avx2[] = { score_f32_avx2, score_i8_avx2, score_f16_avx2 };
	static const score_fn avx512[] = { score_f32_avx512, score_i8_avx512, score_f16_avx512 };
	if (isa == ISA_AVX512)
		return avx512[format];
	if (isa == ISA_AVX2)
		return avx2[format];
#endif
	(void)isa;
	return portable[format];
}

/* --- vectors in and out ---------------------------------------------------------------------------- */

/* Writes embedding / |embedding| into out[0..stride) (zero padded). MIEN_EINVAL for zero, NaN or Inf. */
static int normalise(const float *embedding, int dim, size_t stride, float *out, const char *what, mien_error *err)
{
	double sum = 0.0;
	for (int i = 0; i < dim; i++) {
		if (!isfinite(embedding[i]))
			return mien_error_set(err, MIEN_EINVAL, "gallery: %s value %d is not finite", what, i);
		sum += (double)embedding[i] * embedding[i];
	}
	if (!(sum > 0.0) || !isfinite(sum))
		return mien_error_set(err, MIEN_EINVAL, "gallery: %s is a zero vector (or its norm overflows)", what);
	double inv = 1.0 / sqrt(sum);
	for (int i = 0; i < dim; i++)
		out[i] = (float)(embedding[i] * inv);
	for (size_t i = (size_t)dim; i < stride; i++)
		out[i] = 0.0f;
	return MIEN_OK;
}

/* Symmetric int8: the largest magnitude maps to 127; out[i] = round(v[i] / scale) + offset. Returns the
 * scale that maps the integers back (v is a unit vector, so its peak is > 0). */
static float quantise_int8(const float *v, size_t n, int offset, uint8_t *out)
{
	float peak = 0.0f;
	for (size_t i = 0; i < n; i++)
		peak = fmaxf(peak, fabsf(v[i]));
	float inv = 127.0f / peak;
	for (size_t i = 0; i < n; i++) {
		long r = lrintf(v[i] * inv);
		out[i] = (uint8_t)((r > 127 ? 127 : r < -127 ? -127 : r) + offset);
	}
	return peak / 127.0f;
}

static void write_row(gallery *g, size_t slot, const float *v)
{
	unsigned char *row = g->rows + slot * g->row_bytes;
	if (g->format == GALLERY_FLOAT32) {
		memcpy(row, v, g->row_bytes);
	} else if (g->format == GALLERY_FLOAT16) {
		uint16_t *h = (uint16_t *)row;
		for (size_t i = 0; i < g->stride; i++)
			h[i] = float_to_half(v[i]);
	} else {
		g->scale[slot] = quantise_int8(v, g->stride, 128, row);
	}
}

static int check_model(const gallery *g, int dim, const char *model, const char *what, mien_error *err)
{
	if (model == NULL || strcmp(model, g->model) != 0)
		return mien_error_set(err, MIEN_EINVAL,
		                      "gallery: %s comes from model '%s' but the gallery holds '%s' embeddings "
		                      "(embeddings of different models cannot be compared)",
		                      what, model ? model : "(null)", g->model);
	if (dim != g->dim)
		return mien_error_set(err, MIEN_EINVAL, "gallery: %s has %d values, model '%s' gives %d", what, dim,
		                      g->model, g->dim);
	return MIEN_OK;
}

/* --- create / free --------------------------------------------------------------------------------- */

int gallery_create(const char *model, int dim, int format, gallery **out, mien_error *err)
{
	if (out == NULL)
		return mien_error_set(err, MIEN_EINVAL, "gallery: no output pointer");
	*out = NULL;
	if (model == NULL || model[0] == '\0' || strlen(model) >= GALLERY_MODEL_MAX)
		return mien_error_set(err, MIEN_EINVAL, "gallery: model name must be 1..%d bytes",
		                      GALLERY_MODEL_MAX - 1);
	if (dim < 1 || dim > GALLERY_MAX_DIM)
		return mien_error_set(err, MIEN_EINVAL, "gallery: embedding size %d is outside 1..%d", dim,
		                      GALLERY_MAX_DIM);
	if (format != GALLERY_FLOAT32 && format != GALLERY_INT8 && format != GALLERY_FLOAT16)
		return mien_error_set(err, MIEN_EINVAL, "gallery: unknown format %d", format);

	int isa = cpu_isa();
	const char *forced = getenv("MIEN_GALLERY_ISA");
	if (forced != NULL && forced[0] != '\0') {
		int want = -1;
		for (int i = 0; i < (int)MIEN_ARRAY_LEN(isa_names); i++)
			if (strcmp(forced, isa_names[i]) == 0)
				want = i;
		if (want < 0)
			return mien_error_set(err, MIEN_EINVAL,
			                      "gallery: MIEN_GALLERY_ISA=%s is not portable|avx2|avx512", forced);
		if (want < isa)
			isa = want;
	}

	gallery *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return mien_error_set(err, MIEN_ENOMEM, "gallery: out of memory");
	pthread_rwlockattr_t attr;
	int rc = pthread_rwlockattr_init(&attr);
	if (rc == 0) {
		/* Searches arrive continuously; without writer preference an enrolment could wait forever. */
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		rc = pthread_rwlock_init(&g->lock, &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	if (rc != 0) {
		free(g);
		return mien_error_set(err, MIEN_ENOMEM, "gallery: cannot create its lock");
	}
	snprintf(g->model, sizeof(g->model), "%s", model);
	g->dim = dim;
	g->format = format;
	g->isa = isa;
	g->threads = 1;
	g->score = pick_kernel(format, isa);
	size_t value_bytes = format == GALLERY_FLOAT32 ? 4 : format == GALLERY_FLOAT16 ? 2 : 1;
	g->row_bytes = mien_align_up((size_t)dim * value_bytes, ROW_ALIGN);
	g->stride = g->row_bytes / value_bytes;
	MIEN_LOG_DEBUG_("gallery", "model %s, %d values, format %d, kernel %s", model, dim, format, isa_names[isa]);
	*out = g;
	return MIEN_OK;
}

void gallery_free(gallery **g)
{
	if (g == NULL || *g == NULL)
		return;
	gallery *x = *g;
	free(x->people.entries);
	free(x->faces.entries);
	free(x->prev);
	free(x->next);
	free(x->person_id);
	free(x->face_id);
	free(x->scale);
	mien_aligned_free(x->rows);
	pthread_rwlock_destroy(&x->lock);
	free(x);
	*g = NULL;
}

/* --- add / remove (callers hold the write lock) ---------------------------------------------------- */

static int resize_array(void **array, size_t count, size_t size)
{
	void *p = realloc(*array, count * size);
	if (p == NULL)
		return MIEN_ENOMEM;
	*array = p;
	return MIEN_OK;
}

/* Grows every per-row array geometrically. An array that grew before a later one failed simply stays
 * larger; the capacity only moves when all have. */
static int grow(gallery *g)
{
	size_t capacity = g->capacity < 1024 ? 1024 : g->capacity * 2;
	if (capacity > GALLERY_MAX_FACES)
		capacity = GALLERY_MAX_FACES;
	size_t bytes = capacity * g->row_bytes;
	/* A large block goes on 2 MiB pages where the kernel has them: a scan walks hundreds of MB and would
	 * otherwise miss the TLB every 4 KiB. */
	int huge = bytes >= HUGE_PAGE;
	unsigned char *rows =
	        mien_aligned_alloc(huge ? HUGE_PAGE : ROW_ALIGN, huge ? mien_align_up(bytes, HUGE_PAGE) : bytes);
	if (rows == NULL)
		return MIEN_ENOMEM;
#ifdef MADV_HUGEPAGE
	if (huge)
		madvise(rows, mien_align_up(bytes, HUGE_PAGE), MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
	if (resize_array((void **)&g->face_id, capacity, sizeof(int64_t)) ||
	    resize_array((void **)&g->person_id, capacity, sizeof(int64_t)) ||
	    resize_array((void **)&g->next, capacity, sizeof(int32_t)) ||
	    resize_array((void **)&g->prev, capacity, sizeof(int32_t)) ||
	    (g->format == GALLERY_INT8 && resize_array((void **)&g->scale, capacity, sizeof(float)))) {
		mien_aligned_free(rows);
		return MIEN_ENOMEM;
	}
	if (g->count > 0)
		memcpy(rows, g->rows, g->count * g->row_bytes);
	mien_aligned_free(g->rows);
	g->rows = rows;
	g->capacity = capacity;
	return MIEN_OK;
}

/* Moves row `from` into row `to` (an unused row), repointing its list neighbours and its face entry. */
static void move_row(gallery *g, size_t from, size_t to)
{
	memcpy(g->rows + to * g->row_bytes, g->rows + from * g->row_bytes, g->row_bytes);
	if (g->scale != NULL)
		g->scale[to] = g->scale[from];
	g->face_id[to] = g->face_id[from];
	g->person_id[to] = g->person_id[from];
	g->next[to] = g->next[from];
	g->prev[to] = g->prev[from];
	if (g->prev[to] >= 0)
		g->next[g->prev[to]] = (int32_t)to;
	else
		map_find(&g->people, g->person_id[to])->slot = (int32_t)to;
	if (g->next[to] >= 0)
		g->prev[g->next[to]] = (int32_t)to;
	map_find(&g->faces, g->face_id[to])->slot = (int32_t)to;
}

static void remove_row(gallery *g, size_t slot)
{
	id_entry *person = map_find(&g->people, g->person_id[slot]);
	MIEN_ASSERT(person != NULL);
	if (g->prev[slot] >= 0)
		g->next[g->prev[slot]] = g->next[slot];
	else
		person->slot = g->next[slot];
	if (g->next[slot] >= 0)
		g->prev[g->next[slot]] = g->prev[slot];
	if (--person->count == 0)
		map_erase(&g->people, person);
	map_erase(&g->faces, map_find(&g->faces, g->face_id[slot]));
	size_t last = g->count - 1;
	if (slot != last)
		move_row(g, last, slot);
	g->count--;
}

int gallery_add(gallery *g, int64_t face_id, int64_t person_id, const float *embedding, int dim, const char *model,
                mien_error *err)
{
	if (g == NULL || embedding == NULL)
		return mien_error_set(err, MIEN_EINVAL, "gallery: add needs a gallery and an embedding");
	int rc = check_model(g, dim, model, "embedding", err);
	if (rc != MIEN_OK)
		return rc;
	_Alignas(64) float v[GALLERY_MAX_DIM];
	rc = normalise(embedding, dim, g->stride, v, "embedding", err);
	if (rc != MIEN_OK)
		return rc;

	pthread_rwlock_wrlock(&g->lock);
	/* Everything that can fail happens before the first change. */
	id_entry *old = map_find(&g->faces, face_id);
	if (old == NULL) {
		if (g->count >= GALLERY_MAX_FACES) {
			rc = mien_error_set(err, MIEN_ETOOBIG, "gallery: full (%d faces)", GALLERY_MAX_FACES);
			goto done;
		}
		if ((g->count == g->capacity && grow(g) != MIEN_OK) || map_reserve(&g->faces, g->count + 1)) {
			rc = mien_error_set(err, MIEN_ENOMEM, "gallery: out of memory growing to %zu faces",
			                    g->count + 1);
			goto done;
		}
	}
	if (map_reserve(&g->people, g->people.used + 1) != MIEN_OK) {
		rc = mien_error_set(err, MIEN_ENOMEM, "gallery: out of memory adding a person");
		goto done;
	}
	if (old != NULL)
		remove_row(g, (size_t)old->slot);

	size_t slot = g->count++;
	write_row(g, slot, v);
	g->face_id[slot] = face_id;
	g->person_id[slot] = person_id;
	map_insert(&g->faces, face_id, (int32_t)slot, 0);
	/* New rows go to the head of the person's list. */
	id_entry *person = map_find(&g->people, person_id);
	g->prev[slot] = -1;
	if (person == NULL) {
		g->next[slot] = -1;
		map_insert(&g->people, person_id, (int32_t)slot, 1);
	} else {
		g->next[slot] = person->slot;
		g->prev[person->slot] = (int32_t)slot;
		person->slot = (int32_t)slot;
		person->count++;
	}
done:
	pthread_rwlock_unlock(&g->lock);
	return rc;
}

int gallery_remove_face(gallery *g, int64_t face_id)
{
	if (g == NULL)
		return MIEN_EINVAL;
	pthread_rwlock_wrlock(&g->lock);
	id_entry *face = map_find(&g->faces, face_id);
	int rc = MIEN_ENOENT;
	if (face != NULL) {
		remove_row(g, (size_t)face->slot);
		rc = 1;
	}
	pthread_rwlock_unlock(&g->lock);
	return rc;
}

int gallery_remove_person(gallery *g, int64_t person_id)
{
	if (g == NULL)
		return MIEN_EINVAL;
	pthread_rwlock_wrlock(&g->lock);
	int removed = 0;
	/* Looked up afresh each time: erasing entries shifts others within the map. */
	for (id_entry *person; (person = map_find(&g->people, person_id)) != NULL; removed++)
		remove_row(g, (size_t)person->slot);
	pthread_rwlock_unlock(&g->lock);
	return removed > 0 ? removed : MIEN_ENOENT;
}

/* --- search (callers hold the read lock) ----------------------------------------------------------- */

/* The best k distinct people seen so far, best first. */
typedef struct top_list {
	size_t k;
	size_t n;
	float min;            /* rows at or below it never enter (gallery_search_where); -INFINITY = any */
	gallery_keep_fn keep; /* NULL = every row */
	void *keep_ctx;
	gallery_hit hit[GALLERY_MAX_K];
} top_list;

/* The score a row must beat to change the list. */
static inline float top_floor(const top_list *t)
{
	return t->n == t->k ? t->hit[t->n - 1].similarity : t->min;
}

static void top_offer(top_list *t, int64_t person_id, int64_t face_id, float similarity)
{
	size_t i = 0;
	while (i < t->n && t->hit[i].person_id != person_id)
		i++;
	if (i < t->n) { /* the person is listed: keep the better face */
		if (similarity <= t->hit[i].similarity)
			return;
		memmove(&t->hit[i], &t->hit[i + 1], (t->n - i - 1) * sizeof(t->hit[0]));
		t->n--;
	} else if (t->n == t->k) {
		if (similarity <= t->hit[t->n - 1].similarity)
			return;
		t->n--;
	}
	size_t j = t->n;
	while (j > 0 && t->hit[j - 1].similarity < similarity) {
		t->hit[j] = t->hit[j - 1];
		j--;
	}
	t->hit[j] = (gallery_hit){ .person_id = person_id, .face_id = face_id, .similarity = similarity };
	t->n++;
}

static void scan(const gallery *g, const query *q, size_t begin, size_t end, top_list *t)
{
	float scores[SCAN_BLOCK];
	float floor = top_floor(t);
	for (size_t base = begin; base < end; base += SCAN_BLOCK) {
		size_t n = end - base < SCAN_BLOCK ? end - base : SCAN_BLOCK;
		g->score(q, g->rows + base * g->row_bytes, g->row_bytes, g->scale ? g->scale + base : NULL, n, scores);
		for (size_t i = 0; i < n; i++) {
			if (scores[i] > floor) {
				if (t->keep && !t->keep(t->keep_ctx, g->person_id[base + i], g->face_id[base + i]))
					continue;
				top_offer(t, g->person_id[base + i], g->face_id[base + i], scores[i]);
				floor = top_floor(t);
			}
		}
	}
}

typedef struct scan_job {
	const gallery *g;
	const query *q;
	size_t begin, end;
	top_list top;
} scan_job;

static void *scan_thread(void *arg)
{
	scan_job *job = arg;
	scan(job->g, job->q, job->begin, job->end, &job->top);
	return NULL;
}

/* Each slice's list holds its own top k distinct people; a person in the global top k is in the list of the
 * slice holding its best face, so merging the lists (best face per person) gives the global answer. */
static void scan_parallel(const gallery *g, const query *q, top_list *t)
{
	size_t threads = (size_t)g->threads;
	/* Allocated: 64 lists would not sit well on a caller's stack, and starting threads costs more. */
	scan_job *jobs = malloc(threads * sizeof(*jobs));
	if (jobs == NULL) {
		scan(g, q, 0, g->count, t);
		return;
	}
	pthread_t ids[GALLERY_MAX_THREADS];
	int started[GALLERY_MAX_THREADS] = { 0 };
	size_t per = (g->count + threads - 1) / threads;
	per = (per + SCAN_BLOCK - 1) / SCAN_BLOCK * SCAN_BLOCK;
	for (size_t i = 0; i < threads; i++) {
		size_t begin = i * per < g->count ? i * per : g->count;
		size_t end = begin + per < g->count ? begin + per : g->count;
		jobs[i] = (scan_job){ .g = g,
			              .q = q,
			              .begin = begin,
			              .end = end,
			              .top = { .k = t->k, .min = t->min, .keep = t->keep, .keep_ctx = t->keep_ctx } };
		if (i > 0)
			started[i] = pthread_create(&ids[i], NULL, scan_thread, &jobs[i]) == 0;
	}
	scan_thread(&jobs[0]);
	for (size_t i = 1; i < threads; i++) {
		if (started[i])
			pthread_join(ids[i], NULL);
		else /* no thread to spare: scan the slice here */
			scan_thread(&jobs[i]);
	}
	for (size_t i = 0; i < threads; i++)
		for (size_t j = 0; j < jobs[i].top.n; j++)
			top_offer(t, jobs[i].top.hit[j].person_id, jobs[i].top.hit[j].face_id,
			          jobs[i].top.hit[j].similarity);
	free(jobs);
}

static void prepare_query(const gallery *g, query *q)
{
	q->stride = g->stride;
	if (g->format != GALLERY_INT8)
		return;
	/* Row and query values both lie in [-127, 127]; (uint8_t)(v + 256) is v's two's complement byte. */
	q->scale = quantise_int8(q->f, q->stride, 256, (uint8_t *)q->s8);
	int32_t sum = 0;
	for (size_t d = 0; d < q->stride; d++) {
		q->s16[d] = q->s8[d];
		sum += q->s8[d];
	}
	q->bias = 128 * sum;
}

int gallery_search(const gallery *g, const float *query_embedding, int dim, const char *model, size_t k,
                   gallery_hit *out, size_t *count, mien_error *err)
{
	return gallery_search_where(g, query_embedding, dim, model, k, -INFINITY, NULL, NULL, out, count, err);
}

int gallery_search_where(const gallery *g, const float *query_embedding, int dim, const char *model, size_t k,
                         float min_similarity, gallery_keep_fn keep, void *keep_ctx, gallery_hit *out, size_t *count,
                         mien_error *err)
{
	if (g == NULL || query_embedding == NULL || count == NULL || (k > 0 && out == NULL))
		return mien_error_set(err, MIEN_EINVAL, "gallery: search needs a gallery, a query and room for hits");
	*count = 0;
	if (k > GALLERY_MAX_K)
		return mien_error_set(err, MIEN_ERANGE, "gallery: k = %zu is above %d", k, GALLERY_MAX_K);
	int rc = check_model(g, dim, model, "query", err);
	if (rc != MIEN_OK)
		return rc;
	query local; /* ~34 KB of stack (header), so that a search never allocates */
	query *q = &local;
	rc = normalise(query_embedding, dim, g->stride, q->f, "query", err);
	if (rc != MIEN_OK)
		return rc;
	if (k == 0)
		return MIEN_OK;
	prepare_query(g, q);

	if (isnan(min_similarity))
		return mien_error_set(err, MIEN_EINVAL, "gallery: the least similarity is not a number");
	top_list t = { .k = k, .min = min_similarity, .keep = keep, .keep_ctx = keep_ctx };
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&g->lock; /* the lock is not part of the logical state */
	pthread_rwlock_rdlock(lock);
	if (g->threads > 1 && g->count >= GALLERY_PARALLEL_MIN)
		scan_parallel(g, q, &t);
	else
		scan(g, q, 0, g->count, &t);
	pthread_rwlock_unlock(lock);
	memcpy(out, t.hit, t.n * sizeof(t.hit[0]));
	*count = t.n;
	return MIEN_OK;
}

/* --- settings and sizes ---------------------------------------------------------------------------- */

int gallery_set_threads(gallery *g, int threads)
{
	if (g == NULL)
		return MIEN_EINVAL;
	if (threads < 1 || threads > GALLERY_MAX_THREADS)
		return MIEN_ERANGE;
	pthread_rwlock_wrlock(&g->lock);
	g->threads = threads;
	pthread_rwlock_unlock(&g->lock);
	return MIEN_OK;
}

int gallery_face_ids(const gallery *g, int64_t **ids, size_t *count)
{
	if (!g || !ids || !count)
		return MIEN_EINVAL;
	*ids = NULL;
	*count = 0;
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&g->lock;
	pthread_rwlock_rdlock(lock);
	int rc = MIEN_OK;
	if (g->count > 0) {
		*ids = malloc(g->count * sizeof(**ids));
		if (*ids) {
			memcpy(*ids, g->face_id, g->count * sizeof(**ids));
			*count = g->count;
		} else {
			rc = MIEN_ENOMEM;
		}
	}
	pthread_rwlock_unlock(lock);
	return rc;
}

const char *gallery_model(const gallery *g)
{
	return g ? g->model : "";
}

size_t gallery_size(const gallery *g)
{
	if (g == NULL)
		return 0;
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&g->lock;
	pthread_rwlock_rdlock(lock);
	size_t n = g->count;
	pthread_rwlock_unlock(lock);
	return n;
}

size_t gallery_people(const gallery *g)
{
	if (g == NULL)
		return 0;
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&g->lock;
	pthread_rwlock_rdlock(lock);
	size_t n = g->people.used;
	pthread_rwlock_unlock(lock);
	return n;
}

size_t gallery_memory_bytes(const gallery *g)
{
	if (g == NULL)
		return 0;
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&g->lock;
	pthread_rwlock_rdlock(lock);
	size_t per_row = g->row_bytes + 2 * sizeof(int64_t) + 2 * sizeof(int32_t) + (g->scale ? sizeof(float) : 0);
	size_t n = sizeof(*g) + g->capacity * per_row + (g->faces.capacity + g->people.capacity) * sizeof(id_entry);
	pthread_rwlock_unlock(lock);
	return n;
}

const char *gallery_isa(const gallery *g)
{
	return g ? isa_names[g->isa] : isa_names[ISA_PORTABLE];
}

int gallery_identify(const gallery *g, const float *query_embedding, int dim, const char *model, float threshold,
                     gallery_hit *out, mien_error *err)
{
	memset(out, 0, sizeof(*out));
	gallery_hit hits[GALLERY_IDENTIFY_K];
	size_t n = 0;
	int rc = gallery_search(g, query_embedding, dim, model, GALLERY_IDENTIFY_K, hits, &n, err);
	if (rc)
		return rc;
	/* Best first: a person's negatives (person -p) seen before the person's own best face veto the name. */
	for (size_t i = 0; i < n; i++) {
		if (hits[i].person_id < 0)
			continue;
		if (hits[i].similarity < threshold)
			break;
		int vetoed = 0;
		for (size_t j = 0; j < i && !vetoed; j++)
			vetoed = hits[j].person_id == -hits[i].person_id;
		if (!vetoed) {
			*out = hits[i];
			return MIEN_OK;
		}
	}
	return MIEN_OK;
}
