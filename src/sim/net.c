/* sim: the mesh network: dimension-ordered routes, cut-through hops, links occupied for the
 * serialization time of each message (see sim.h for the cost model). */
#include "sim/sim.h"
#include "program/program.h"

#include <string.h>

bool weft_net_init(weft_net *n, const weft_arch *a) {
    memset(n, 0, sizeof *n);
    n->arch = a;
    n->width = a->width;
    n->height = a->height;
    size_t links = (size_t)a->width * (size_t)a->height * 4;
    n->links = weft_try_calloc(links, sizeof *n->links);
    return n->links != NULL;
}

void weft_net_free(weft_net *n) {
    free(n->links);
    free(n->mc_link);
    free(n->mc_head);
    free(n->mc_start);
    free(n->mc_len);
    free(n->mc_tag);
    free(n->mc_cand);
    free(n->mc_prev);
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

/* Grows *p to n elements of `size` bytes; false (and *p as it was) when out of memory. */
static bool grow(void **p, size_t n, size_t size) {
    void *q = weft_try_realloc(*p, n * size);
    if (q) *p = q;
    return q != NULL;
}

void weft_net_multicast_begin(weft_net *n) {
    n->mc_hops = 0;
    n->mc_routes = 0;
    if (++n->mc_cur == 0) {  /* generations wrapped: forget every tag */
        memset(n->mc_gen, 0, sizeof n->mc_gen);
        n->mc_cur = 1;
    }
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
    /* within a multicast: the earlier lanes of this tag whose routes this one follows so far (a
     * dimension-ordered route that leaves another does not meet it again, so a shared prefix is
     * all there is to share) */
    int cands = 0, route = -1;
    if (tag && n->mc_routes == n->mc_cap_routes) {
        size_t cap = n->mc_cap_routes ? 2 * (size_t)n->mc_cap_routes : 64;
        bool ok = grow((void **)&n->mc_start, cap, sizeof *n->mc_start) && grow((void **)&n->mc_len, cap, sizeof *n->mc_len) &&
                  grow((void **)&n->mc_tag, cap, sizeof *n->mc_tag) && grow((void **)&n->mc_cand, cap, sizeof *n->mc_cand) &&
                  grow((void **)&n->mc_prev, cap, sizeof *n->mc_prev);
        if (ok) n->mc_cap_routes = (int)cap;
        else n->failed = true, tag = 0;  /* sent without sharing; the run reports the failure */
    }
    if (tag) {
        WEFT_ASSERT(tag < WEFT_NET_TAGS);
        int last = n->mc_cur && n->mc_gen[tag] == n->mc_cur ? n->mc_last[tag] : -1;  /* 0: no multicast begun */
        for (int r = last; r >= 0; r = n->mc_prev[r]) n->mc_cand[cands++] = r;
        route = n->mc_routes++;
        n->mc_prev[route] = last;
        n->mc_last[tag] = route;
        n->mc_gen[tag] = n->mc_cur;
        n->mc_start[route] = (int)n->mc_hops;
        n->mc_len[route] = 0;
        n->mc_tag[route] = tag;
    }
    for (int dir, step = 0; (dir = weft_lane_step(ln, x, y)) >= 0; step++) {
        size_t l = ((size_t)y * (size_t)n->width + (size_t)x) * 4 + (size_t)dir;
        int kept = 0, ride = -1;
        for (int c = 0; c < cands; c++) {
            int r = n->mc_cand[c];
            if (step < n->mc_len[r] && n->mc_link[n->mc_start[r] + step] == l) {
                if (ride < 0) ride = r;
                n->mc_cand[kept++] = r;
            }
        }
        cands = kept;
        if (ride >= 0) {
            head = n->mc_head[n->mc_start[ride] + step];  /* this multicast's copy crossed it: ride it */
        } else {
            weft_link *k = &n->links[l];
            if (k->free > head) head = k->free;  /* wait for the link */
            if (n->on_busy && l == n->watch) n->on_busy(n->ctx, head, head + ser);
            k->free = head + ser;
            k->bytes += bytes;
            k->busy += ser;
            n->byte_hops += bytes;
        }
        if (route >= 0 && n->mc_hops == n->mc_cap_hops) {
            size_t cap = n->mc_cap_hops ? 2 * n->mc_cap_hops : 4096;
            if (grow((void **)&n->mc_link, cap, sizeof *n->mc_link) && grow((void **)&n->mc_head, cap, sizeof *n->mc_head)) n->mc_cap_hops = cap;
            else n->failed = true, route = -1;
        }
        if (route >= 0) {
            n->mc_link[n->mc_hops] = l;
            n->mc_head[n->mc_hops++] = head;
            n->mc_len[route]++;
        }
        head += (uint64_t)a->hop_latency;
        weft_dir_step(dir, &x, &y);
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
