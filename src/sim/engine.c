/* sim: the discrete-event engine, a binary heap of events by value, ordered by (time, lp, seq). */
#include "sim/sim.h"

typedef struct {
    weft_event ev;
    uint64_t seq;
} entry;

#define MAX_OBSERVERS 4

struct weft_engine {
    entry *heap;  /* (cap) binary min-heap */
    size_t n, cap;
    uint64_t now, seq, executed;
    bool failed;  /* an event could not be held (out of memory): the run stops */
    weft_event_handler handler;
    void *state;
    int n_obs;
    weft_event_observer obs[MAX_OBSERVERS];
    void *obs_ctx[MAX_OBSERVERS];
};

static bool before(const entry *a, const entry *b) {
    if (a->ev.time != b->ev.time) return a->ev.time < b->ev.time;
    if (a->ev.lp != b->ev.lp) return a->ev.lp < b->ev.lp;
    return a->seq < b->seq;
}

weft_engine *weft_engine_new(weft_event_handler handler, void *state) {
    weft_engine *e = weft_try_calloc(1, sizeof(weft_engine));
    if (!e) return NULL;
    e->handler = handler;
    e->state = state;
    return e;
}

void weft_engine_free(weft_engine *e) {
    if (!e) return;
    free(e->heap);
    free(e);
}

void weft_engine_observe(weft_engine *e, weft_event_observer fn, void *ctx) {
    WEFT_ASSERT(e->n_obs < MAX_OBSERVERS);
    e->obs[e->n_obs] = fn;
    e->obs_ctx[e->n_obs++] = ctx;
}

void weft_engine_at(weft_engine *e, const weft_event *ev) {
    WEFT_ASSERT(ev->time >= e->now);
    if (e->failed) return;
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 1024;
        entry *heap = weft_try_realloc(e->heap, cap * sizeof *e->heap);
        if (!heap) { e->failed = true; return; }
        e->heap = heap;
        e->cap = cap;
    }
    size_t i = e->n++;
    entry en = {*ev, e->seq++};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&en, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = en;
}

static entry pop(weft_engine *e) {
    entry top = e->heap[0], last = e->heap[--e->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= e->n) break;
        if (c + 1 < e->n && before(&e->heap[c + 1], &e->heap[c])) c++;
        if (!before(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (e->n) e->heap[i] = last;
    return top;
}

uint64_t weft_engine_run(weft_engine *e) {
    while (e->n && !e->failed) {
        entry en = pop(e);
        e->now = en.ev.time;
        e->executed++;
        for (int o = 0; o < e->n_obs; o++) e->obs[o](e->obs_ctx[o], &en.ev);
        e->handler(e->state, &en.ev, e);
    }
    return e->now;
}

uint64_t weft_engine_now(const weft_engine *e) { return e->now; }
bool weft_engine_failed(const weft_engine *e) { return e->failed; }
uint64_t weft_engine_events(const weft_engine *e) { return e->executed; }
