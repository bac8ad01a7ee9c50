/*
 * pst_test.h — what the PST test programs share: reading a whole sample file into memory (the
 * tests then damage, re-encode or write back copies of it), writing one out, and re-encoding
 * an image for another bCryptMethod.
 */
#ifndef NTH_PST_TEST_H
#define NTH_PST_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
