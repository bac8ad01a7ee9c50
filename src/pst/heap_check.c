/*
 * heap_check.c — every rule one heap of a file must follow (nth_pst_heap_check): the HN
 * rules, the bClientSig its node's NID type requires, and for a PC or a TC that it opens with
 * every value resolved (and, for a PC, that each value's bytes fit its type). Shared by nth_pst_validate and the per-heap listings of the CLI, so
 * both give the same verdict.
 */
#include "internal.h"

static const char *client_name(uint8_t sig)
{
    return sig == NTH_PST_CLIENT_PC ? "PC" : sig == NTH_PST_CLIENT_TC ? "TC"
         : sig == NTH_PST_CLIENT_BTH ? "BTH" : "other";
}

typedef struct count_ctx {
    nth_pst_problem_fn fn;
    void *ctx;
    size_t problems;
} count_ctx;

static void relay(void *ctx, const nth_pst_error *e, bool hint)
{
    count_ctx *c = ctx;
    if (!hint) c->problems++;
    if (c->fn) c->fn(c->ctx, e, hint);
}

/* Every value of an open PC has bytes its type allows (a reader that trusted the type would
 * read past them, or misread them). */
static void check_values(const nth_pst_pc *pc, uint64_t at, count_ctx *c)
{
    nth_pst_error e;
    for (size_t i = 0; i < nth_pst_pc_count(pc); i++) {
        const nth_pst_prop *p = nth_pst_pc_at(pc, i);
        char why[128];
        if (pst_value_fits(p->type, p->data, p->size, why, sizeof why)) continue;
        pst_fail(&e, NTH_PST_E_CORRUPT, "PC", at, "property 0x%04X of type 0x%04X: %s", p->id, p->type, why);
        relay(c, &e, false);
    }
}

size_t nth_pst_heap_check(nth_pst_file *file, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                          nth_pst_problem_fn fn, void *ctx)
{
    count_ctx c = {fn, ctx, 0};
    nth_pst_hn_validate(hn, relay, &c);
    uint8_t sig = nth_pst_hn_client_sig(hn), want = nth_pst_nid_expected_client(ref->node.nid);
    nth_pst_error e;
    uint64_t at = hn->pages[0].ib;
    if (want && sig != want) {
        char path[128];
        nth_pst_path_format(ref, path, sizeof path);
        pst_fail(&e, NTH_PST_E_CORRUPT, "HNHDR", at,
                 "bClientSig 0x%02X (%s), but %s node %s must hold a %s (0x%02X)", sig,
                 client_name(sig), nth_pst_nid_type_name(ref->node.nid), path, client_name(want),
                 want);
        relay(&c, &e, false);
        return c.problems;
    }
    if (sig == NTH_PST_CLIENT_PC) {
        nth_pst_pc *pc;
        if (pst_pc_open_hn(file, &ref->node, hn, &pc, &e)) {
            relay(&c, &e, false);
        } else {
            check_values(pc, at, &c);
            nth_pst_pc_close(pc);
        }
    } else if (sig == NTH_PST_CLIENT_TC) {
        nth_pst_tc *tc;
        if (pst_tc_open_hn(file, &ref->node, hn, &tc, &e))
            relay(&c, &e, false);
        else
            nth_pst_tc_close(tc);
    }
    return c.problems;
}
