/* sim: the discrete-event engine, a binary heap ordered by (time, tile, seq). */
#include "sim/sim.h"

typedef struct {
    uint64_t time, seq;
    int32_t tile;
    weft_event_fn fn;
    void *data;
} event;

struct weft_engine {
    event *heap;  /* (cap) binary min-heap */
    size_t n, cap;
    uint64_t now, seq, executed;
};

static bool before(const event *a, const event *b) {
    if (a->time != b->time) return a->time < b->time;
    if (a->tile != b->tile) return a->tile < b->tile;
    return a->seq < b->seq;
}

weft_engine *weft_engine_new(void) { return weft_xcalloc(1, sizeof(weft_engine)); }

void weft_engine_free(weft_engine *e) {
    if (!e) return;
    free(e->heap);
    free(e);
}

void weft_engine_at(weft_engine *e, uint64_t time, int32_t tile, weft_event_fn fn, void *data) {
    WEFT_ASSERT(time >= e->now);
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 1024;
        e->heap = weft_xrealloc(e->heap, e->cap * sizeof *e->heap);
    }
    size_t i = e->n++;
    event ev = {time, e->seq++, tile, fn, data};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&ev, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = ev;
}

static event pop(weft_engine *e) {
    event top = e->heap[0], last = e->heap[--e->n];
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
    while (e->n) {
        event ev = pop(e);
        e->now = ev.time;
        e->executed++;
        ev.fn(e, ev.time, ev.tile, ev.data);
    }
    return e->now;
}

uint64_t weft_engine_now(const weft_engine *e) { return e->now; }
uint64_t weft_engine_events(const weft_engine *e) { return e->executed; }
