/* sim: the mesh network: dimension-ordered routes, cut-through hops, links occupied for the
 * serialization time of each message (see sim.h for the cost model). */
#include "sim/sim.h"

#include <string.h>

void weft_net_init(weft_net *n, const weft_arch *a) {
    memset(n, 0, sizeof *n);
    n->arch = a;
    n->width = a->width;
    n->height = a->height;
    size_t links = (size_t)a->width * (size_t)a->height * 4;
    n->link_free = weft_xcalloc(links, sizeof(uint64_t));
    n->link_bytes = weft_xcalloc(links, sizeof(uint64_t));
    n->link_busy = weft_xcalloc(links, sizeof(uint64_t));
}

void weft_net_free(weft_net *n) {
    free(n->link_free);
    free(n->link_bytes);
    free(n->link_busy);
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

static uint64_t send(weft_net *n, uint64_t t, int x0, int y0, int x1, int y1, uint64_t bytes, bool yx) {
    WEFT_ASSERT(x0 >= 0 && x0 < n->width && y0 >= 0 && y0 < n->height);
    WEFT_ASSERT(x1 >= 0 && x1 < n->width && y1 >= 0 && y1 < n->height);
    const weft_arch *a = n->arch;
    uint64_t ser = serialization(a, bytes);
    uint64_t head = t + (uint64_t)a->ramp_latency;  /* head at the source router */
    int x = x0, y = y0;
    n->messages++;
    n->bytes += bytes;
    while (x != x1 || y != y1) {
        int dir = yx && y != y1 ? (y < y1 ? WEFT_DIR_SOUTH : WEFT_DIR_NORTH)
                : x < x1 ? WEFT_DIR_EAST : x > x1 ? WEFT_DIR_WEST : y < y1 ? WEFT_DIR_SOUTH : WEFT_DIR_NORTH;
        size_t l = ((size_t)y * (size_t)n->width + (size_t)x) * 4 + (size_t)dir;
        if (n->link_free[l] > head) head = n->link_free[l];  /* wait for the link */
        n->link_free[l] = head + ser;
        n->link_bytes[l] += bytes;
        n->link_busy[l] += ser;
        n->byte_hops += bytes;
        head += (uint64_t)a->hop_latency;
        x += dir == WEFT_DIR_EAST ? 1 : dir == WEFT_DIR_WEST ? -1 : 0;
        y += dir == WEFT_DIR_SOUTH ? 1 : dir == WEFT_DIR_NORTH ? -1 : 0;
    }
    return head + ser + (uint64_t)a->ramp_latency;  /* tail through the destination ramp */
}

uint64_t weft_net_send(weft_net *n, uint64_t t, int x0, int y0, int x1, int y1, uint64_t bytes) {
    return send(n, t, x0, y0, x1, y1, bytes, false);
}

uint64_t weft_net_send_yx(weft_net *n, uint64_t t, int x0, int y0, int x1, int y1, uint64_t bytes) {
    return send(n, t, x0, y0, x1, y1, bytes, true);
}
