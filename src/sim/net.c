/* sim: the mesh network: dimension-ordered routes, cut-through hops, links occupied for the
 * serialization time of each message (see sim.h for the cost model). */
#include "sim/sim.h"
#include "program/program.h"

#include <string.h>

void weft_net_init(weft_net *n, const weft_arch *a) {
    memset(n, 0, sizeof *n);
    n->arch = a;
    n->width = a->width;
    n->height = a->height;
    size_t links = (size_t)a->width * (size_t)a->height * 4;
    n->links = weft_xcalloc(links, sizeof *n->links);
}

void weft_net_free(weft_net *n) {
    free(n->links);
    free(n->mc_key);
    free(n->mc_head);
    free(n->mc_gen);
    memset(n, 0, sizeof *n);
}

int weft_net_hops(int x0, int y0, int x1, int y1) { return abs(x1 - x0) + abs(y1 - y0); }

static uint64_t serialization(const weft_arch *a, uint64_t bytes) {
    double c = (double)bytes / a->link_bytes_per_cycle;
    uint64_t k = (uint64_t)c;
    return k + ((double)k < c);
}

uint64_t weft_net_cost(const weft_arch *a, int hops, uint64_t bytes) {
    return 2 * (uint64_t)a->ramp_latency + (uint64_t)hops * (uint64_t)a->hop_latency + serialization(a, bytes);
}

void weft_net_multicast_begin(weft_net *n) {
    n->mc_used = 0;
    if (++n->mc_cur == 0) {  /* generations wrapped: forget every entry */
        if (n->mc_gen) memset(n->mc_gen, 0, n->mc_cap * sizeof *n->mc_gen);
        n->mc_cur = 1;
    }
}

static size_t mc_slot(const weft_net *n, uint64_t key) {
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (n->mc_cap - 1);
    while (n->mc_gen[i] == n->mc_cur && n->mc_key[i] != key) i = (i + 1) & (n->mc_cap - 1);
    return i;
}

static void mc_grow(weft_net *n) {
    size_t old_cap = n->mc_cap;
    uint64_t *key = n->mc_key, *head = n->mc_head;
    uint32_t *gen = n->mc_gen;
    n->mc_cap = old_cap ? 2 * old_cap : 4096;
    n->mc_key = weft_xcalloc(n->mc_cap, sizeof *n->mc_key);
    n->mc_head = weft_xcalloc(n->mc_cap, sizeof *n->mc_head);
    n->mc_gen = weft_xcalloc(n->mc_cap, sizeof *n->mc_gen);
    for (size_t i = 0; i < old_cap; i++)
        if (gen[i] == n->mc_cur) {
            size_t j = mc_slot(n, key[i]);
            n->mc_key[j] = key[i], n->mc_head[j] = head[i], n->mc_gen[j] = n->mc_cur;
        }
    free(key), free(head), free(gen);
}

uint64_t weft_net_send_lane(weft_net *n, uint64_t t, const weft_lane *ln, uint64_t bytes) {
    return weft_net_send_lane_tagged(n, t, ln, bytes, 0);
}

uint64_t weft_net_send_lane_tagged(weft_net *n, uint64_t t, const weft_lane *ln, uint64_t bytes, uint32_t tag) {
    WEFT_ASSERT(ln->x0 >= 0 && ln->x0 < n->width && ln->y0 >= 0 && ln->y0 < n->height);
    WEFT_ASSERT(ln->x1 >= 0 && ln->x1 < n->width && ln->y1 >= 0 && ln->y1 < n->height);
    const weft_arch *a = n->arch;
    uint64_t ser = serialization(a, bytes);
    uint64_t head = t + (uint64_t)a->ramp_latency;  /* head at the source router */
    int x = ln->x0, y = ln->y0;
    n->messages++;
    n->bytes += bytes;
    for (int dir; (dir = weft_lane_step(ln, x, y)) >= 0;) {
        size_t l = ((size_t)y * (size_t)n->width + (size_t)x) * 4 + (size_t)dir;
        size_t slot = 0;
        if (tag) {
            if (2 * (n->mc_used + 1) > n->mc_cap) mc_grow(n);
            uint64_t key = (uint64_t)l << 24 | tag;
            slot = mc_slot(n, key);
            if (n->mc_gen[slot] == n->mc_cur) {
                /* this multicast's copy already crossed the link: ride it */
                head = n->mc_head[slot] + (uint64_t)a->hop_latency;
                goto next;
            }
            n->mc_key[slot] = key, n->mc_gen[slot] = n->mc_cur;
            n->mc_used++;
        }
        {
            weft_link *k = &n->links[l];
            if (k->free > head) head = k->free;  /* wait for the link */
            if (n->on_busy && l == n->watch) n->on_busy(n->ctx, head, head + ser);
            k->free = head + ser;
            k->bytes += bytes;
            k->busy += ser;
            n->byte_hops += bytes;
            if (tag) n->mc_head[slot] = head;
            head += (uint64_t)a->hop_latency;
        }
    next:
        x += dir == WEFT_DIR_EAST ? 1 : dir == WEFT_DIR_WEST ? -1 : 0;
        y += dir == WEFT_DIR_SOUTH ? 1 : dir == WEFT_DIR_NORTH ? -1 : 0;
    }
    return head + ser + (uint64_t)a->ramp_latency;  /* tail through the destination ramp */
}

uint64_t weft_net_send(weft_net *n, uint64_t t, int x0, int y0, int x1, int y1, uint64_t bytes) {
    weft_lane l = {.x0 = x0, .y0 = y0, .x1 = x1, .y1 = y1};
    return weft_net_send_lane(n, t, &l, bytes);
}

uint64_t weft_net_send_yx(weft_net *n, uint64_t t, int x0, int y0, int x1, int y1, uint64_t bytes) {
    weft_lane l = {.x0 = x0, .y0 = y0, .x1 = x1, .y1 = y1, .yx = true};
    return weft_net_send_lane(n, t, &l, bytes);
}
