/* word2vec's inner loop for the torch engine on the CPU: one job's centres, trained in order, in place.

   The torch engine prepares a job (the subsampled ids of whole sentences, their sentence numbers, the
   learning-rate range) and hands the weight tensors' memory here. This loop is word2vec's own: each
   centre draws its shrunk window and its negatives from word2vec's generator and unigram table, and
   every update is applied at once, as in word2vec.c and gensim (no batching, so no row damping).
   Skip-gram either shares a centre's negatives among its context words (each pair still sees
   `negative` negatives from the right distribution; the centre's output rows then stay in cache while
   its context words are trained, which is where this beats a loop that draws fresh rows per pair), or,
   with per_pair, draws `negative` fresh ones for every (centre, context) pair, as word2vec.c and gensim
   do. CBOW trains one example per centre, so there the two are the same.

   The arithmetic order is fixed by the source (eight partial sums, no FMA contraction), so the same
   job gives the same bits on any x86-64 or ARM CPU. Called through ctypes, which releases the GIL:
   several Python threads run jobs at once on shared weights (Hogwild, as in word2vec). */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LANES 8

static inline float dot(const float *a, const float *b, int64_t d) {
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= d; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += a[i + k] * b[i + k];
    float s = 0.0f;
    for (int k = 0; k < LANES; k++) s += acc[k];
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

static inline void axpy(float g, const float *x, float *y, int64_t d) {
    for (int64_t i = 0; i < d; i++) y[i] += g * x[i];
}

/* Ask for a row's cache lines ahead of use: the loop is bound by the latency of random rows. */
static inline void prefetch_row(const float *row, int64_t d) {
#if defined(__GNUC__)
    for (int64_t i = 0; i < d; i += 16) __builtin_prefetch(row + i, 1, 3);
#else
    (void)row; (void)d;
#endif
}

/* x % d for x < 2^53 without a 64-bit division: the double quotient is off by at most one, which one
   correction fixes, so the slot is exactly word2vec's. */
static inline int64_t draw_slot(uint64_t x, int64_t d, double inv_d) {
    int64_t q = (int64_t)((double)x * inv_d);
    int64_t r = (int64_t)x - q * d;
    if (r < 0) r += d;
    else if (r >= d) r -= d;
    return r;
}

static inline uint64_t next_random(uint64_t *state) {
    *state = *state * (uint64_t)25214903917ULL + 11;
    return *state;
}

/* word2vec's negative draw: the unigram-table slot the generator's next number gives. One place for the
   slot, so that the prefetch below, which runs the generator ahead on a copy, reads the slots the draws will. */
static inline int64_t negative_slot(uint64_t *state, int64_t table_size, double inv_table) {
    return draw_slot(next_random(state) >> 16, table_size, inv_table);
}

/* The loss, -Σ log p over pairs (p = σ(f) for the target, σ(-f) for a negative), kept as a running
   product of the p's with a log taken only when it nears underflow: one multiply a pair instead of
   one log a pair (a fifth of CBOW's time). */
typedef struct { double loss, product; } loss_tally;

static inline void add_pair_loss(loss_tally *t, float sig, int label) {
    double p = (double)(label ? sig : 1.0f - sig);
    t->product *= p > 1e-30 ? p : 1e-30;
    if (t->product < 1e-250) {
        t->loss -= log(t->product);
        t->product = 1.0;
    }
}

/* One (input row h, output row o, label) step; returns σ(h·o) and adds its error to neu1e. */
static inline float sgns_pair(const float *h, float *o, float *neu1e, int label, float lr, int64_t d,
                              int skip_saturated) {
    float f = dot(h, o, d);
    float sig = 1.0f / (1.0f + expf(-f));
    if (skip_saturated && (f >= 6.0f || f <= -6.0f)) return sig;
    float g = ((float)label - sig) * lr;
    axpy(g, o, neu1e, d);
    axpy(g, h, o, d);
    return sig;
}

/* Train one job. Word w's rows are w_in[w * stride .. + dim) and w_out[...]: the caller pads each row to a
   whole number of 32-byte vectors and aligns the arrays, so that no vector load splits a cache line (a
   padded 300-d row took 7-12% less time a centre than a packed one). ids[n] and sentence[n]: the job's
   words after subsampling, in order. lr falls linearly from lr_start (first centre) to lr_end (last).
   table[table_size]: word2vec's unigram^0.75 table. work: 2*stride floats (aligned the same way) and
   negs: 2*`negative` ids of scratch (this centre's negatives and the
   next one's, drawn a centre ahead so that their rows can be prefetched; with per_pair, skip-gram draws
   each pair's into the first half instead). out[0] += loss, out[1] += training examples, out[2] +=
   negatives drawn. */
void w2v_train(int sg, float *w_in, float *w_out, int64_t dim, int64_t stride, const int64_t *ids,
               const int64_t *sentence, int64_t n, int64_t window, int64_t negative, const int32_t *table,
               int64_t table_size, float lr_start, float lr_end, uint64_t seed, int skip_saturated, int per_pair, float *work,
               int64_t *negs, double *out) {
    uint64_t state = seed;
    double inv_table = 1.0 / (double)table_size;
    float *neu1e = work, *hidden = work + stride;
    loss_tally tally = {0.0, 1.0};
    int64_t examples = 0, drawn = 0;
    int shared = !(sg && per_pair);  /* a centre's draw serves all its examples */
    if (shared)
        for (int64_t k = 0; k < negative; k++) negs[k] = table[negative_slot(&state, table_size, inv_table)];
    for (int64_t i = 0; i < n; i++) {
        int64_t *cur = shared ? negs + (i & 1) * negative : negs, *next = negs + ((i + 1) & 1) * negative;
        if (i + 1 < n) {  /* the next centre's negatives, and the rows it and the word entering the window need */
            if (shared)
                for (int64_t k = 0; k < negative; k++) {
                    next[k] = table[negative_slot(&state, table_size, inv_table)];
                    prefetch_row(w_out + next[k] * stride, dim);
                }
            prefetch_row(w_out + ids[i + 1] * stride, dim);
            if (i + 1 + window < n) prefetch_row(w_in + ids[i + 1 + window] * stride, dim);
        }
        float lr = n > 1 ? lr_start + (lr_end - lr_start) * (float)i / (float)(n - 1) : lr_start;
        int64_t b = (int64_t)(next_random(&state) % (uint64_t)window);
        if (shared && i + 2 < n) {
            /* The table slots the next centre will draw for the one after it, found by running the generator
               ahead on a copy: their loads start now, a centre early. The table (40 MB) missed the cache on
               nearly every draw, and the next centre's row prefetches waited on those loads (a sampling
               profile put 42% of a CBOW epoch there; this made CBOW 17-30% faster, the same bits). */
            uint64_t ahead = state;
            for (int64_t k = 0; k < negative; k++)
                __builtin_prefetch(table + negative_slot(&ahead, table_size, inv_table), 0, 3);
        }
        int64_t reach = window - b, centre = ids[i];
        int64_t lo = i - reach < 0 ? 0 : i - reach, hi = i + reach >= n ? n - 1 : i + reach;
        while (sentence[lo] != sentence[i]) lo++;
        while (sentence[hi] != sentence[i]) hi--;
        if (lo == hi) continue;  /* a one-word sentence: no context */
        float *o_centre = w_out + centre * stride;
        if (sg) {
            /* every context word predicts the centre, against the centre's shared negatives or its own */
            if (shared) drawn += negative;
            for (int64_t j = lo; j <= hi; j++) {
                if (j == i) continue;
                if (!shared) {  /* this pair's negatives: their rows load while the positive pair trains */
                    for (int64_t k = 0; k < negative; k++) {
                        cur[k] = table[negative_slot(&state, table_size, inv_table)];
                        prefetch_row(w_out + cur[k] * stride, dim);
                    }
                    drawn += negative;
                }
                float *h = w_in + ids[j] * stride;
                for (int64_t t = 0; t < dim; t++) neu1e[t] = 0.0f;
                add_pair_loss(&tally, sgns_pair(h, o_centre, neu1e, 1, lr, dim, skip_saturated), 1);
                for (int64_t k = 0; k < negative; k++) {
                    if (cur[k] == centre) continue;
                    add_pair_loss(&tally, sgns_pair(h, w_out + cur[k] * stride, neu1e, 0, lr, dim, skip_saturated),
                                  0);
                }
                axpy(1.0f, neu1e, h, dim);
                examples++;
            }
        } else {
            /* the mean of the context vectors predicts the centre; the error goes to every context */
            int64_t count = hi - lo;
            drawn += negative;
            for (int64_t t = 0; t < dim; t++) hidden[t] = 0.0f, neu1e[t] = 0.0f;
            for (int64_t j = lo; j <= hi; j++)
                if (j != i) axpy(1.0f, w_in + ids[j] * stride, hidden, dim);
            float inv = 1.0f / (float)count;
            for (int64_t t = 0; t < dim; t++) hidden[t] *= inv;
            add_pair_loss(&tally, sgns_pair(hidden, o_centre, neu1e, 1, lr, dim, skip_saturated), 1);
            for (int64_t k = 0; k < negative; k++) {
                if (cur[k] == centre) continue;
                add_pair_loss(&tally, sgns_pair(hidden, w_out + cur[k] * stride, neu1e, 0, lr, dim, skip_saturated),
                              0);
            }
            for (int64_t j = lo; j <= hi; j++)
                if (j != i) axpy(1.0f, neu1e, w_in + ids[j] * stride, dim);
            examples++;
        }
    }
    out[0] += tally.loss - log(tally.product);
    out[1] += (double)examples;
    out[2] += (double)drawn;
}


/* ---- The corpus scan: tokens to first-seen ids, in one pass, with no Python object per token ----

   Why here: looking every token up in a Python dict took longer than a CBOW epoch (measured: 2.5 s of
   an 11 s run on 5M tokens). The caller hands over blocks of whole lines, valid UTF-8, each line ended
   by '\n'. A token is a run of characters between whitespace as Python's str.split() defines it (the
   ASCII blanks, \x1c-\x1f and the Unicode spaces below), so the ids are those of the Python scan it
   replaces. Each line gives one sentence, cut into pieces of at most max_words tokens (gensim's limit);
   an empty line is a sentence of no words. Words keep their first-seen order: id k is the k-th distinct
   word, its bytes at arena[offsets[k]:offsets[k + 1]]. */

typedef struct {
    char *arena;           /* the distinct words' bytes, back to back */
    int64_t arena_size, arena_cap;
    int64_t *offsets;      /* word k: arena[offsets[k] .. offsets[k + 1]) */
    int64_t words, words_cap;
    int32_t *slots;        /* open addressing: word id + 1, 0 = empty; capacity a power of two */
    uint64_t *hashes;      /* each word's hash, by id, to grow the table without hashing again */
    int64_t hashes_cap, slot_cap;
} w2v_scan_state;

static uint64_t hash_bytes(const unsigned char *p, int64_t n) {  /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (int64_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Bytes of the whitespace character at p (0 if none): those for which Python's str.isspace() holds. */
static inline int space_at(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    if (c < 0x80) return (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)) ? 1 : 0;
    if (c == 0xC2 && p + 1 < end) return (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (p + 2 >= end) return 0;
    if (c == 0xE1) return (p[1] == 0x9A && p[2] == 0x80) ? 3 : 0;       /* U+1680 */
    if (c == 0xE2 && p[1] == 0x80)                                      /* U+2000-200A, 2028, 2029, 202F */
        return (p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF) ? 3 : 0;
    if (c == 0xE2) return (p[1] == 0x81 && p[2] == 0x9F) ? 3 : 0;       /* U+205F */
    if (c == 0xE3) return (p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;       /* U+3000 */
    return 0;
}

void *w2v_scan_new(void) { return calloc(1, sizeof(w2v_scan_state)); }

void w2v_scan_free(void *handle) {
    w2v_scan_state *s = handle;
    if (!s) return;
    free(s->arena); free(s->offsets); free(s->slots); free(s->hashes); free(s);
}

static int grow(void **buffer, int64_t *cap, int64_t need, size_t item) {
    if (need <= *cap) return 0;
    int64_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need) cap2 *= 2;
    void *p = realloc(*buffer, (size_t)cap2 * item);
    if (!p) return -1;
    *buffer = p;
    *cap = cap2;
    return 0;
}

static int rehash(w2v_scan_state *s, int64_t cap) {
    int32_t *slots = calloc((size_t)cap, sizeof(int32_t));
    if (!slots) return -1;
    for (int64_t k = 0; k < s->words; k++) {
        uint64_t j = s->hashes[k] & (uint64_t)(cap - 1);
        while (slots[j]) j = (j + 1) & (uint64_t)(cap - 1);
        slots[j] = (int32_t)(k + 1);
    }
    free(s->slots);
    s->slots = slots;
    s->slot_cap = cap;
    return 0;
}

/* The word's id, adding it as the next one when new; -1 when memory runs out. */
static int64_t word_id(w2v_scan_state *s, const unsigned char *p, int64_t n) {
    if (2 * (s->words + 1) > s->slot_cap && rehash(s, s->slot_cap ? 2 * s->slot_cap : 1 << 16)) return -1;
    uint64_t h = hash_bytes(p, n), mask = (uint64_t)(s->slot_cap - 1), j = h & mask;
    for (int32_t slot; (slot = s->slots[j]); j = (j + 1) & mask) {
        int64_t k = slot - 1, start = s->offsets[k];
        if (s->hashes[k] == h && s->offsets[k + 1] - start == n && !memcmp(s->arena + start, p, (size_t)n)) return k;
    }
    int64_t k = s->words;
    if (grow((void **)&s->arena, &s->arena_cap, s->arena_size + n, 1)
        || grow((void **)&s->offsets, &s->words_cap, k + 2, sizeof(int64_t))
        || grow((void **)&s->hashes, &s->hashes_cap, k + 1, sizeof(uint64_t)))
        return -1;
    if (k == 0) s->offsets[0] = 0;
    memcpy(s->arena + s->arena_size, p, (size_t)n);
    s->arena_size += n;
    s->offsets[k + 1] = s->arena_size;
    s->hashes[k] = h;
    s->words = k + 1;
    s->slots[j] = (int32_t)(k + 1);
    return k;
}

/* Scan text[0:size) (whole lines, each ended by '\n'): ids[] gets each token's first-seen id, lengths[]
   each sentence piece's token count. ids must hold a token per two bytes plus one, lengths a piece per
   line plus one per max_words tokens. counts[0] = ids written, counts[1] = lengths written. Returns 0,
   or -1 when memory ran out. */
int w2v_scan_block(void *handle, const char *text, int64_t size, int64_t max_words, int32_t *ids,
                   int32_t *lengths, int64_t *counts) {
    w2v_scan_state *s = handle;
    const unsigned char *p = (const unsigned char *)text, *end = p + size;
    int64_t n_ids = 0, n_lengths = 0, piece = 0;
    while (p < end) {
        if (*p == '\n') {  /* the line's last piece, or the empty line's one sentence */
            lengths[n_lengths++] = (int32_t)piece;
            piece = 0;
            p++;
            continue;
        }
        int w = space_at(p, end);
        if (w) { p += w; continue; }
        const unsigned char *start = p;
        while (p < end && *p != '\n' && !space_at(p, end)) p++;
        int64_t k = word_id(s, start, p - start);
        if (k < 0) return -1;
        if (piece == max_words) {  /* a long line: its next piece */
            lengths[n_lengths++] = (int32_t)piece;
            piece = 0;
        }
        ids[n_ids++] = (int32_t)k;
        piece++;
    }
    counts[0] = n_ids;
    counts[1] = n_lengths;
    return 0;
}

/* The distinct words so far: their count, and the arena's size in bytes. */
void w2v_scan_sizes(void *handle, int64_t *out) {
    w2v_scan_state *s = handle;
    out[0] = s->words;
    out[1] = s->arena_size;
}

/* Copy the arena (arena_size bytes) and the words' offsets (words + 1 of them) out. */
void w2v_scan_words(void *handle, char *arena, int64_t *offsets) {
    w2v_scan_state *s = handle;
    if (s->arena_size) memcpy(arena, s->arena, (size_t)s->arena_size);
    offsets[0] = 0;
    if (s->words) memcpy(offsets + 1, s->offsets + 1, (size_t)s->words * sizeof(int64_t));
}
