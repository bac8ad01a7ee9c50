/*
 * cache.c — per-file memory of decoded blocks, sets of IDs, and the work budget of a walk.
 *
 *     nth_pst_file
 *       cache:  open-addressing table, key = BID with bit 0 clear
 *               slot -> { bid, ib, data (decoded), size, status, error }
 *
 * Every block a command needs is read, checked and decoded once: later requests get the same
 * bytes (or the same error) from the table. The table keeps at most `file size + 64 KiB` bytes
 * of block data and one slot per 64 bytes of file (plus a small constant), so a file of N bytes
 * can make it hold O(N) memory at most; past either limit blocks are still read, just not kept.
 *
 * A walk over the whole file (nth_pst_walk, nth_pst_walk_heaps, nth_pst_validate) also arms a
 * work budget: every data-tree block and subnode entry it hands out is charged, and the walk
 * stops with one error once it has handed out more than a fixed multiple of the file size.
 * Shared data trees and shared subnode trees are legal, so this (not a ban on sharing) is
 * what keeps a hostile file from costing more than O(N) time. nth_pst_limit_work arms a budget
 * for the rest of a handle's life instead (the CLI does, so that single-node commands are
 * bounded too); walks then share it.
 *
 * pst_idset is a plain set of 64-bit IDs (BIDs, NIDs) used to detect cycles and repeats.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------------------ id sets */

static size_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static int idset_grow(pst_idset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof *keys);
    if (!keys) return -1;
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t k = s->keys[i];
        if (!k) continue;
        size_t j = mix(k) & (cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = k;
    }
    free(s->keys);
    s->keys = keys;
    s->cap = cap;
    return 0;
}

int pst_idset_add(pst_idset *s, uint64_t id)
{
    if (id == 0) {
        if (s->has_zero) return 0;
        s->has_zero = true;
        return 1;
    }
    if (pst_idset_has(s, id)) return 0;
    if ((s->count + 1) * 4 > s->cap * 3 && idset_grow(s)) return -1;
    size_t j = mix(id) & (s->cap - 1);
    while (s->keys[j]) j = (j + 1) & (s->cap - 1);
    s->keys[j] = id;
    s->count++;
    return 1;
}

bool pst_idset_has(const pst_idset *s, uint64_t id)
{
    if (id == 0) return s->has_zero;
    if (!s->cap) return false;
    for (size_t j = mix(id) & (s->cap - 1); s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (s->keys[j] == id) return true;
    return false;
}

void pst_idset_free(pst_idset *s)
{
    free(s->keys);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------------- block cache */

#define CACHE_SLACK_BYTES (64u * 1024u)
#define CACHE_SLACK_SLOTS 1024u

static pst_cblock *cache_find(const pst_cache *c, uint64_t key)
{
    if (!c->cap) return NULL;
    for (size_t j = mix(key) & (c->cap - 1); c->slots[j].used; j = (j + 1) & (c->cap - 1))
        if (c->slots[j].key == key) return &c->slots[j];
    return NULL;
}

static int cache_grow(pst_cache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 256;
    pst_cblock *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].used) continue;
        size_t j = mix(c->slots[i].key) & (cap - 1);
        while (slots[j].used) j = (j + 1) & (cap - 1);
        slots[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return 0;
}

void pst_cache_free(pst_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        free(c->slots[i].data);
        free(c->slots[i].error);
    }
    free(c->slots);
    memset(c, 0, sizeof *c);
}

/* Copies a cached outcome out to the caller. */
static nth_pst_status cached_result(const pst_cblock *b, pst_block *out, nth_pst_error *err)
{
    if (b->status) {
        if (err) *err = *b->error;
        return b->status;
    }
    out->data = b->data;
    out->size = b->size;
    out->ib = b->ib;
    out->owned = false;
    return NTH_PST_OK;
}

nth_pst_status pst_block_get(nth_pst_file *f, uint64_t bid, pst_block *out, nth_pst_error *err)
{
    memset(out, 0, sizeof *out);
    uint64_t key = bid & ~(uint64_t)1;
    pst_cache *c = &f->cache;
    const pst_cblock *hit = cache_find(c, key | 1); /* stored with bit 0 set so 0 is never a key */
    if (hit) return cached_result(hit, out, err);
    nth_pst_error e;
    uint8_t *data = NULL;
    size_t size = 0;
    uint64_t ib = 0;
    nth_pst_status st = pst_block_read_uncached(f, bid, &data, &size, &ib, &e);
    if (err && st) *err = e;
    uint64_t slot_limit = f->size / PST_BLOCK_ALIGN + CACHE_SLACK_SLOTS;
    bool keep = c->count < slot_limit && (st || c->bytes + size <= f->size + CACHE_SLACK_BYTES);
    if (keep && (c->count + 1) * 4 > c->cap * 3 && cache_grow(c)) keep = false;
    nth_pst_error *saved = NULL;
    if (keep && st && !(saved = malloc(sizeof *saved))) keep = false;
    if (!keep) {
        if (st) return st;
        out->data = data;
        out->size = size;
        out->ib = ib;
        out->owned = true;
        return NTH_PST_OK;
    }
    size_t j = mix(key | 1) & (c->cap - 1);
    while (c->slots[j].used) j = (j + 1) & (c->cap - 1);
    pst_cblock *b = &c->slots[j];
    b->used = true;
    b->key = key | 1;
    b->ib = ib;
    b->status = st;
    b->data = data;
    b->size = size;
    if (saved) *saved = e;
    b->error = saved;
    c->count++;
    c->bytes += size;
    return cached_result(b, out, err);
}

uint64_t pst_block_ib(nth_pst_file *f, uint64_t bid)
{
    const pst_cblock *hit = cache_find(&f->cache, (bid & ~(uint64_t)1) | 1);
    if (hit && !hit->status) return hit->ib;
    nth_pst_block_entry be;
    return nth_pst_bbt_lookup(f, bid, &be, NULL) ? NTH_PST_NO_OFFSET : be.ib;
}

void pst_block_release(pst_block *b)
{
    if (b->owned) free(b->data);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------- work budget */

#define BUDGET_FACTOR 8u
#define BUDGET_SLACK  (16u * 1024u * 1024u)

bool pst_budget_arm(nth_pst_file *f)
{
    if (f->budget_armed) return false;
    f->budget_armed = true;
    f->budget_spent = false;
    f->budget_left = f->size * BUDGET_FACTOR + BUDGET_SLACK;
    return true;
}

void nth_pst_limit_work(nth_pst_file *file, unsigned factor)
{
    file->budget_armed = true;
    file->budget_spent = false;
    file->budget_left = file->size * factor + BUDGET_SLACK;
}

void pst_budget_disarm(nth_pst_file *f, bool armed_here)
{
    if (armed_here) f->budget_armed = false;
}

nth_pst_status pst_budget_charge(nth_pst_file *f, uint64_t bytes, const char *structure,
                                 uint64_t ib, nth_pst_error *err)
{
    if (!f->budget_armed) return NTH_PST_OK;
    if (bytes <= f->budget_left) {
        f->budget_left -= bytes;
        return NTH_PST_OK;
    }
    f->budget_left = 0;
    f->budget_spent = true;
    return pst_fail(err, NTH_PST_E_CORRUPT, structure, ib,
                    "work budget of this file exhausted: data or subnode trees are shared far "
                    "more often than a sound file shares them");
}
