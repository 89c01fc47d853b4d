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

static inline uint64_t next_random(uint64_t *state) {
    *state = *state * (uint64_t)25214903917ULL + 11;
    return *state;
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

/* Train one job. ids[n] and sentence[n]: the job's words after subsampling, in order. lr falls
   linearly from lr_start (first centre) to lr_end (last). table[table_size]: word2vec's unigram^0.75
   table. work: 2*dim floats and negs: 2*`negative` ids of scratch (this centre's negatives and the
   next one's, drawn a centre ahead so that their rows can be prefetched; with per_pair, skip-gram draws
   each pair's into the first half instead). out[0] += loss, out[1] += training examples, out[2] +=
   negatives drawn. */
void w2v_train(int sg, float *w_in, float *w_out, int64_t dim, const int64_t *ids, const int64_t *sentence,
               int64_t n, int64_t window, int64_t negative, const int32_t *table, int64_t table_size,
               float lr_start, float lr_end, uint64_t seed, int skip_saturated, int per_pair, float *work,
               int64_t *negs, double *out) {
    uint64_t state = seed;
    float *neu1e = work, *hidden = work + dim;
    loss_tally tally = {0.0, 1.0};
    int64_t examples = 0, drawn = 0;
    int shared = !(sg && per_pair);  /* a centre's draw serves all its examples */
    if (shared)
        for (int64_t k = 0; k < negative; k++) negs[k] = table[(next_random(&state) >> 16) % (uint64_t)table_size];
    for (int64_t i = 0; i < n; i++) {
        int64_t *cur = shared ? negs + (i & 1) * negative : negs, *next = negs + ((i + 1) & 1) * negative;
        if (i + 1 < n) {  /* the next centre's negatives, and the rows it and the word entering the window need */
            if (shared)
                for (int64_t k = 0; k < negative; k++) {
                    next[k] = table[(next_random(&state) >> 16) % (uint64_t)table_size];
                    prefetch_row(w_out + next[k] * dim, dim);
                }
            prefetch_row(w_out + ids[i + 1] * dim, dim);
            if (i + 1 + window < n) prefetch_row(w_in + ids[i + 1 + window] * dim, dim);
        }
        float lr = n > 1 ? lr_start + (lr_end - lr_start) * (float)i / (float)(n - 1) : lr_start;
        int64_t b = (int64_t)(next_random(&state) % (uint64_t)window);
        int64_t reach = window - b, centre = ids[i];
        int64_t lo = i - reach < 0 ? 0 : i - reach, hi = i + reach >= n ? n - 1 : i + reach;
        while (sentence[lo] != sentence[i]) lo++;
        while (sentence[hi] != sentence[i]) hi--;
        if (lo == hi) continue;  /* a one-word sentence: no context */
        float *o_centre = w_out + centre * dim;
        if (sg) {
            /* every context word predicts the centre, against the centre's shared negatives or its own */
            if (shared) drawn += negative;
            for (int64_t j = lo; j <= hi; j++) {
                if (j == i) continue;
                if (!shared) {  /* this pair's negatives: their rows load while the positive pair trains */
                    for (int64_t k = 0; k < negative; k++) {
                        cur[k] = table[(next_random(&state) >> 16) % (uint64_t)table_size];
                        prefetch_row(w_out + cur[k] * dim, dim);
                    }
                    drawn += negative;
                }
                float *h = w_in + ids[j] * dim;
                for (int64_t t = 0; t < dim; t++) neu1e[t] = 0.0f;
                add_pair_loss(&tally, sgns_pair(h, o_centre, neu1e, 1, lr, dim, skip_saturated), 1);
                for (int64_t k = 0; k < negative; k++) {
                    if (cur[k] == centre) continue;
                    add_pair_loss(&tally, sgns_pair(h, w_out + cur[k] * dim, neu1e, 0, lr, dim, skip_saturated),
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
                if (j != i) axpy(1.0f, w_in + ids[j] * dim, hidden, dim);
            float inv = 1.0f / (float)count;
            for (int64_t t = 0; t < dim; t++) hidden[t] *= inv;
            add_pair_loss(&tally, sgns_pair(hidden, o_centre, neu1e, 1, lr, dim, skip_saturated), 1);
            for (int64_t k = 0; k < negative; k++) {
                if (cur[k] == centre) continue;
                add_pair_loss(&tally, sgns_pair(hidden, w_out + cur[k] * dim, neu1e, 0, lr, dim, skip_saturated),
                              0);
            }
            for (int64_t j = lo; j <= hi; j++)
                if (j != i) axpy(1.0f, neu1e, w_in + ids[j] * dim, dim);
            examples++;
        }
    }
    out[0] += tally.loss - log(tally.product);
    out[1] += (double)examples;
    out[2] += (double)drawn;
}
