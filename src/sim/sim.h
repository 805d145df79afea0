/* sim: the event engine and the fabric's network model.
 *
 * The engine orders events by (time, logical process, sequence number), so a run is
 * deterministic whatever order events were scheduled in at equal times. Handlers may schedule
 * further events.
 *
 * The network moves messages between tiles over the mesh with dimension-ordered (X then Y)
 * routes. A message of B bytes leaves its tile through the ramp (ramp_latency cycles), its head
 * crosses each link in hop_latency cycles (cut-through), and each link it crosses is occupied
 * for B / link_bytes_per_cycle cycles; its tail reaches the destination's ramp that long after
 * the head. Uncontended, B bytes over N hops therefore take
 *     2 * ramp_latency + N * hop_latency + ceil(B / link_bytes_per_cycle)      cycles
 * (N = 0, a tile sending to itself, costs only the ramp round trip and the serialization).
 * A link carries one message at a time: a message that finds a link busy waits until it is free
 * (first come, first served in the order messages were sent), so two equal flows sharing a link
 * take twice as long as one. */
#ifndef WEFT_SIM_H
#define WEFT_SIM_H

#include "program/program.h"

/* ---- the event engine ----
 * Events are plain values addressed to a logical process (an LP: a region of the program, and
 * later links and off-chip memory), with their data inline: the heap holds them by value, no
 * event allocates, and none points at shared state, so bands of the mesh can later run on
 * threads and chips on MPI ranks. One handler receives every event with the state given at
 * creation; observers see every event as it executes. */

typedef struct {
    uint64_t time;
    int32_t lp;                /* the logical process it is addressed to */
    uint16_t kind;             /* what it is, for the handler */
    uint16_t pad;
    int32_t arg[4];            /* inline payload */
} weft_event;

typedef struct weft_engine weft_engine;
typedef void (*weft_event_handler)(void *state, const weft_event *ev, weft_engine *e);
typedef void (*weft_event_observer)(void *ctx, const weft_event *ev);

weft_engine *weft_engine_new(weft_event_handler handler, void *state);  /* NULL: out of memory */
void weft_engine_free(weft_engine *e);
/* Schedules ev (its time not before the current time). */
void weft_engine_at(weft_engine *e, const weft_event *ev);
/* Adds an observer (at most 4). */
void weft_engine_observe(weft_engine *e, weft_event_observer fn, void *ctx);
/* Runs events in (time, lp, seq) order until none is left; returns the time of the last. */
uint64_t weft_engine_run(weft_engine *e);
uint64_t weft_engine_now(const weft_engine *e);
uint64_t weft_engine_events(const weft_engine *e); /* events executed so far */
/* An event could not be scheduled (out of memory): the run stopped there. */
bool weft_engine_failed(const weft_engine *e);

/* ---- the network ---- */

#define WEFT_NET_TAGS 8448  /* multicast tags: 1 + lane * 128 + lanes, lanes <= 64 */

/* One link, one direction: its three figures side by side (one cache line holds two links). */
typedef struct {
    uint64_t free;            /* cycle at which it is free */
    uint64_t bytes;           /* bytes carried, for traffic reports */
    uint64_t busy;            /* cycles occupied */
} weft_link;

typedef struct {
    const weft_arch *arch;
    int width, height;
    weft_link *links;         /* (height, width, 4): every outgoing link, (y * width + x) * 4 + dir */
    uint64_t messages, bytes, byte_hops;
    /* an observer of one link (NULL: none): told each time link `watch` is occupied */
    void (*on_busy)(void *ctx, uint64_t start, uint64_t end);
    void *ctx;
    size_t watch;
    /* the current multicast: the routes its lanes took, each a run of (link, head time) in
     * mc_link / mc_head from mc_start[r] for mc_len[r] hops, with its tag */
    size_t *mc_link;              /* (mc_cap_hops) */
    uint64_t *mc_head;            /* (mc_cap_hops) */
    size_t mc_hops, mc_cap_hops;
    int *mc_start, *mc_len;       /* (mc_cap_routes) */
    uint32_t *mc_tag;             /* (mc_cap_routes) */
    int mc_routes, mc_cap_routes;
    int *mc_cand;                 /* (mc_cap_routes) routes still matching the lane being sent */
    int *mc_prev;                 /* (mc_cap_routes) the route before r with r's tag, -1 */
    bool failed;                  /* a multicast could not be recorded (out of memory) */
    int mc_last[WEFT_NET_TAGS];   /* the last route of each tag, valid when mc_gen[tag] == mc_cur */
    uint32_t mc_gen[WEFT_NET_TAGS], mc_cur;
} weft_net;

/* False when its links cannot be allocated. */
bool weft_net_init(weft_net *n, const weft_arch *a);
void weft_net_free(weft_net *n);
/* Sends `bytes` from tile (x0, y0) to (x1, y1), leaving at cycle t; reserves the links on the
 * way and returns the cycle at which the last byte has arrived in the destination tile. */
uint64_t weft_net_send(weft_net *n, uint64_t t, int x0, int y0, int x1, int y1, uint64_t bytes);
/* The same along a Y-then-X route. */
uint64_t weft_net_send_yx(weft_net *n, uint64_t t, int x0, int y0, int x1, int y1, uint64_t bytes);
/* The same along a lane of a program (X-Y, Y-X, or X-Y-X via a column of its own). */
uint64_t weft_net_send_lane(weft_net *n, uint64_t t, const weft_lane *ln, uint64_t bytes);

/* A multicast (one producer's block to all its consumers) starts: until the next call, a lane
 * sent with a nonzero tag over a link that a lane of the same tag already crossed in this
 * multicast rides the copy already there (a multicast tree occupies a link once); lanes of
 * consumers that split the block the same way carry the same bytes and share a tag. */
void weft_net_multicast_begin(weft_net *n);
/* weft_net_send_lane within the current multicast, with tag (0: shares nothing; else below
 * WEFT_NET_TAGS). */
uint64_t weft_net_send_lane_tagged(weft_net *n, uint64_t t, const weft_lane *ln, uint64_t bytes, uint32_t tag);

/* Hops on the dimension-ordered route. */
int weft_net_hops(int x0, int y0, int x1, int y1);
/* The uncontended cost of weft_net_send, for planning. */
uint64_t weft_net_cost(const weft_arch *a, int hops, uint64_t bytes);

#endif
