/*
 * pst_test.h — what the PST test programs share: reading a whole sample file into memory (the
 * tests then damage, re-encode or write back copies of it), writing one out, re-encoding an
 * image for another bCryptMethod, private copies of a sample, and a fingerprint of every node's
 * data and subnodes (to show that an edit left the other nodes as they were).
 */
#ifndef NTH_PST_TEST_H
#define NTH_PST_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ntheap/pst.h"

/* The whole file at `path` in a malloc'd buffer (size in *size), or NULL. */
static inline uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n > 0 ? (size_t)n : 0;
    return buf;
}

/* Writes n bytes at d to path; false on any failure. */
static inline bool spit(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(d, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Rewrites a file image for another bCryptMethod: every data block is decoded from permute,
 * re-encoded with `method`, its trailer CRC recomputed; then the header's method byte and CRCs.
 * Written from the format description, independently of the reader. f is the image opened. */
typedef struct reenc {
    uint8_t *img;
    size_t size;
    bool unicode;
    uint8_t method;
} reenc;

static inline void pst_test_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline int reencode_block(void *ctx, const nth_pst_block_entry *e)
{
    reenc *r = ctx;
    if (e->bid & 2) return 0; /* internal blocks are never encoded */
    unsigned trailer = r->unicode ? 16 : 12;
    size_t total = (e->cb + trailer + 63) / 64 * 64;
    if (e->ib + total > r->size) return 0;
    uint8_t *d = r->img + e->ib;
    nth_pst_permute_decode(d, e->cb);
    if (r->method == NTH_PST_CRYPT_PERMUTE) nth_pst_permute_encode(d, e->cb);
    if (r->method == NTH_PST_CRYPT_CYCLIC) nth_pst_cyclic(d, e->cb, (uint32_t)e->bid);
    uint8_t *t = d + total - trailer;
    pst_test_put32(t + (r->unicode ? 4 : 8), nth_pst_crc(0, d, e->cb));
    return 0;
}

static inline void reencode(uint8_t *img, size_t size, bool unicode, nth_pst_file *f, uint8_t method)
{
    reenc r = {img, size, unicode, method};
    nth_pst_bbt_foreach(f, reencode_block, &r, NULL, NULL);
    img[unicode ? 513 : 461] = method;
    pst_test_put32(img + 4, nth_pst_crc(0, img + 8, 471));
    if (unicode) pst_test_put32(img + 524, nth_pst_crc(0, img + 8, 516));
}

/* A private copy of `sample` at path (a mkstemp template). */
static inline bool copy_to(const char *sample, char *path)
{
    int fd = mkstemp(path);
    if (fd < 0) return false;
    close(fd);
    size_t size;
    uint8_t *d = slurp(sample, &size);
    bool ok = d && spit(path, d, size);
    free(d);
    return ok;
}

/* The copy at path re-encoded with `method` (the samples are permute-encoded). */
static inline bool encode_as(const char *path, uint8_t method)
{
    if (method == NTH_PST_CRYPT_PERMUTE) return true;
    size_t size;
    uint8_t *img = slurp(path, &size);
    nth_pst_file *f;
    if (!img || nth_pst_open_memory(img, size, &f, NULL)) {
        free(img);
        return false;
    }
    reencode(img, size, nth_pst_get_info(f)->unicode, f, method);
    nth_pst_close(f);
    bool ok = spit(path, img, size);
    free(img);
    return ok;
}

/* The CRC of every node's data and subnode entries, but `skip`'s. */
typedef struct prints {
    uint32_t nid[128], crc[128];
    size_t count;
    nth_pst_file *f;
    uint32_t skip;
} prints;

static inline int print_node(void *ctx, const nth_pst_node *n)
{
    prints *p = ctx;
    if (n->nid == p->skip || p->count == 128) return 0;
    uint32_t crc = 0;
    uint8_t *d;
    size_t size;
    if (n->bid_data && nth_pst_read_stream(p->f, n->bid_data, &d, &size, NULL) == NTH_PST_OK) {
        crc = nth_pst_crc(0, d, size);
        free(d);
    }
    nth_pst_node *subs;
    size_t ns;
    if (nth_pst_read_subnodes(p->f, n->bid_sub, &subs, &ns, NULL) == NTH_PST_OK) {
        for (size_t i = 0; i < ns; i++) {
            crc = nth_pst_crc(crc, &subs[i].nid, sizeof subs[i].nid);
            if (subs[i].bid_data &&
                nth_pst_read_stream(p->f, subs[i].bid_data, &d, &size, NULL) == NTH_PST_OK) {
                crc = nth_pst_crc(crc, d, size);
                free(d);
            }
        }
        free(subs);
    }
    p->nid[p->count] = n->nid;
    p->crc[p->count++] = crc;
    return 0;
}

static inline void take_prints(const char *path, uint32_t skip, prints *p)
{
    memset(p, 0, sizeof *p);
    p->skip = skip;
    if (nth_pst_open(path, &p->f, NULL)) return;
    nth_pst_nbt_foreach(p->f, print_node, p, NULL, NULL);
    nth_pst_close(p->f);
}

static inline bool same_prints(const prints *a, const prints *b)
{
    return a->count == b->count && memcmp(a->nid, b->nid, sizeof a->nid) == 0 &&
           memcmp(a->crc, b->crc, sizeof a->crc) == 0;
}

#endif
