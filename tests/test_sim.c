/* Tests of the event engine and the network model against answers known on paper. */
#include "arch/arch.h"
#include "compile/compile.h"
#include "sim/run.h"
#include "sim/sim.h"
#include "test.h"
#include "train/train.h"

typedef struct { int order[16]; int n; int observed; } trace;

enum { RECORD, CHAIN };

static void handle(void *state, const weft_event *ev, weft_engine *e) {
    trace *tr = state;
    tr->order[tr->n++] = ev->arg[0];
    if (ev->kind == CHAIN && ev->arg[0] < 3) {
        weft_event next = *ev;
        next.time += 10;
        next.arg[0]++;
        weft_engine_at(e, &next);
    }
}

static void count(void *ctx, const weft_event *ev) { (void)ev; ((trace *)ctx)->observed++; }

TEST(sim_engine_orders_by_time_lp_seq) {
    trace tr = {0};
    weft_engine *e = weft_engine_new(handle, &tr);
    weft_engine_observe(e, count, &tr);
    weft_engine_at(e, &(weft_event){.time = 5, .lp = 2, .kind = RECORD, .arg = {1}});
    weft_engine_at(e, &(weft_event){.time = 5, .lp = 1, .kind = RECORD, .arg = {2}});  /* same time, lower lp: first */
    weft_engine_at(e, &(weft_event){.time = 1, .lp = 9, .kind = RECORD, .arg = {3}});
    weft_engine_at(e, &(weft_event){.time = 5, .lp = 1, .kind = RECORD, .arg = {4}});  /* same time and lp: in scheduling order */
    weft_engine_at(e, &(weft_event){.time = 7, .lp = 0, .kind = CHAIN, .arg = {0}});
    CHECK_INT(weft_engine_run(e), 37);
    int want[] = {3, 2, 4, 1, 0, 1, 2, 3};
    CHECK_INT(tr.n, 8);
    for (int i = 0; i < 8; i++) CHECK_INT(tr.order[i], want[i]);
    CHECK_INT(weft_engine_events(e), 8);
    CHECK_INT(tr.observed, 8);  /* the observer saw every event */
    weft_engine_free(e);
}

TEST(sim_message_cost_on_paper) {
    weft_arch a;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("mesh-32x32", &a, &err), &err);
    weft_net n;
    weft_net_init(&n, &a);
    /* B bytes over N hops: 2 * ramp + N * hop + B / link rate */
    uint64_t B = 4096;
    int N = 10 + 7;
    uint64_t want = 2 * (uint64_t)a.ramp_latency + (uint64_t)N * (uint64_t)a.hop_latency + B / (uint64_t)a.link_bytes_per_cycle;
    CHECK_INT(weft_net_send(&n, 100, 3, 4, 13, 11, B) - 100, want);
    CHECK_INT(weft_net_cost(&a, N, B), want);
    CHECK_INT(weft_net_hops(3, 4, 13, 11), N);
    CHECK_INT(n.byte_hops, B * (uint64_t)N);
    weft_net_free(&n);
}

/* A multicast occupies a shared link once: two consumers east of the same tile, the second
 * further, take their copies over the common route together; without a tag (two messages) the
 * second waits behind the first. */
TEST(sim_multicast_shares_the_common_route) {
    weft_arch a;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("mesh-32x32", &a, &err), &err);
    uint64_t B = 1 << 16, ser = B / (uint64_t)a.link_bytes_per_cycle;
    weft_lane near = {.x0 = 0, .y0 = 3, .x1 = 8, .y1 = 3}, far = {.x0 = 0, .y0 = 3, .x1 = 12, .y1 = 6};
    weft_net n;
    weft_net_init(&n, &a);
    weft_net_multicast_begin(&n);
    uint64_t t1 = weft_net_send_lane_tagged(&n, 0, &near, B, 7);
    uint64_t t2 = weft_net_send_lane_tagged(&n, 0, &far, B, 7);
    uint64_t alone = weft_net_cost(&a, 12 + 3, B);
    CHECK_INT(t2, alone);  /* as if it were alone: the first 8 links carried its copy already */
    CHECK(t1 < t2);
    uint64_t busy = 0;
    for (size_t l = 0; l < (size_t)a.width * a.height * 4; l++) busy += n.links[l].busy;
    CHECK_INT(busy, (12 + 3) * ser);  /* each link of the tree once */
    weft_net_free(&n);
    weft_net_init(&n, &a);
    weft_net_send_lane(&n, 0, &near, B);
    CHECK(weft_net_send_lane(&n, 0, &far, B) >= alone + ser);  /* two messages: it queues */
    weft_net_free(&n);
}

TEST(sim_two_flows_sharing_a_link_take_twice_as_long) {
    weft_arch a;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("mesh-32x32", &a, &err), &err);
    uint64_t B = 1 << 16, ser = B / (uint64_t)a.link_bytes_per_cycle;
    weft_net n;
    weft_net_init(&n, &a);
    uint64_t one = weft_net_send(&n, 0, 0, 0, 8, 0, B);
    weft_net_free(&n);
    weft_net_init(&n, &a);
    /* two flows whose routes share the links from x=2 to x=8 on row 0 */
    uint64_t f1 = weft_net_send(&n, 0, 0, 0, 8, 0, B);
    uint64_t f2 = weft_net_send(&n, 0, 2, 0, 10, 0, B);
    CHECK_INT(f1, one);
    /* the second waits for the first's serialization on the shared link */
    uint64_t last = f1 > f2 ? f1 : f2;
    CHECK_NEAR((double)last / (double)one, 2.0, 0.01);
    CHECK(f2 >= ser * 2);
    weft_net_free(&n);
    /* disjoint routes do not interfere */
    weft_net_init(&n, &a);
    weft_net_send(&n, 0, 0, 0, 8, 0, B);
    CHECK_INT(weft_net_send(&n, 0, 0, 1, 8, 1, B), one);
    weft_net_free(&n);
}

/* What a pipelined training step sends over the off-chip link, seen by the transfer observer:
 * the updated parameters and optimizer state stay in their regions (nothing leaves an update
 * beside its parameter); the step is not bound by the off-chip link. (Graph inputs under
 * back-pressure: tests/test_fullsize.c, ResNet-50 at batch 64.) */
typedef struct { const weft_program *p; int64_t out_of_updates; } offchip_count;

static void count_transfer(void *ctx, int src, int dst, uint64_t bytes, uint64_t sent, uint64_t arrived) {
    (void)sent, (void)arrived;
    offchip_count *c = ctx;
    if (dst == -1 && src >= 0 && c->p->k[src].host >= 0) c->out_of_updates += (int64_t)bytes;
}

TEST(sim_pipelined_training_keeps_parameters_in_their_regions) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2-mini", &a, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.arch = &a;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16,shapes_only=1", &c, &t, &err), &err);
    if (!t) return;
    weft_program *p = NULL;
    weft_compile_opts co = {.timing_only = true, .mode = "pipelined"};
    CHECK_OK(weft_compile(t->gu, &a, &co, &p, &err), &err);
    if (p) {
        offchip_count cnt = {p, 0};
        struct weft_sim_detail d = {.ctx = &cnt, .transfer = count_transfer, .watch_link = -1};
        weft_sim_opts o = {.timing_only = true, .passes = 2, .detail = &d};
        weft_sim_stats st;
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, t->gu->n_outputs, &o, &st, &err), &err);
        int hosted = 0;
        for (int i = 0; i < p->n; i++) hosted += p->k[i].host >= 0;
        CHECK(hosted > 0);
        CHECK_INT(cnt.out_of_updates, 0);
        CHECK(st.bottleneck != WEFT_BOTTLENECK_OFFCHIP);
    }
    weft_program_free(p);
    weft_train_free(t);
}
