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

uint64_t weft_net_send_lane(weft_net *n, uint64_t t, const weft_lane *ln, uint64_t bytes) {
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
        weft_link *k = &n->links[l];
        if (k->free > head) head = k->free;  /* wait for the link */
        if (n->on_busy && l == n->watch) n->on_busy(n->ctx, head, head + ser);
        k->free = head + ser;
        k->bytes += bytes;
        k->busy += ser;
        n->byte_hops += bytes;
        head += (uint64_t)a->hop_latency;
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
