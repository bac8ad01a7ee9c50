/*
 * crc.c — the PST CRC-32 and the block signature.
 *
 * The CRC is the reflected CRC-32 of polynomial 0xEDB88320, started at 0 and not inverted at
 * the end (zlib's crc32 without its pre- and post-inversion). Test vectors: "123456789" gives
 * 0x2DFD2D88, the empty string 0.
 *
 * The signature of a block or B-tree page is (ib XOR bid) folded to 16 bits:
 *
 *     v = ib ^ bid;   wSig = (v & 0xFFFF) ^ ((v >> 16) & 0xFFFF)
 */
#include "internal.h"

static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = true;
}

uint32_t nth_pst_crc(uint32_t crc, const void *data, size_t size)
{
    /* Building the table twice from two threads writes the same values; harmless. */
    if (!crc_ready) crc_init();
    const uint8_t *p = data;
    for (size_t i = 0; i < size; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

uint16_t nth_pst_block_signature(uint64_t ib, uint64_t bid)
{
    uint64_t v = ib ^ bid;
    return (uint16_t)((v & 0xFFFF) ^ ((v >> 16) & 0xFFFF));
}
