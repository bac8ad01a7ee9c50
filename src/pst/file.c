/*
 * file.c — opening a PST: the HEADER and its ROOT, and bounds-checked reads of the file.
 *
 * HEADER (offsets in bytes; A = ANSI, wVer 14/15; U = Unicode, wVer 23):
 *
 *     0  dwMagic "!BDN"      4  dwCRCPartial       8  wMagicClient "SM"   10 wVer
 *     12 wVerClient          14 bPlatformCreate    15 bPlatformAccess
 *     A: 24 bidNextB(4)  28 bidNextP(4)  32 dwUnique  36 rgnid[32]  164 ROOT(40)
 *        460 bSentinel 0x80  461 bCryptMethod                       (header: 512 bytes)
 *     U: 24 bidUnused(8) 32 bidNextP(8)  40 dwUnique  44 rgnid[32]  180 ROOT(72)
 *        512 bSentinel 0x80  513 bCryptMethod  516 bidNextB(8)  524 dwCRCFull  (564 bytes)
 *
 *     dwCRCPartial = CRC of the 471 bytes at offset 8; dwCRCFull = CRC of the 516 bytes at 8.
 *
 * ROOT (A / U offsets inside the ROOT):
 *
 *     ibFileEof 4/4   ibAMapLast 8/12   cbAMapFree 12/20   cbPMapFree 16/28
 *     BREFNBT 20/36   BREFBBT 28/52     fAMapValid 36/68
 *
 * Invariant: after a successful open, f->lay matches the format and the two B-tree roots lie
 * inside the file; nothing else is trusted until it is read and checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define HEADER_SIZE_ANSI    512u
#define HEADER_SIZE_UNICODE 564u

void pst_layout_init(pst_layout *lay, bool unicode)
{
    lay->unicode = unicode;
    lay->id_size = unicode ? 8 : 4;
    lay->block_trailer = unicode ? 16 : 12;
    lay->page_data = unicode ? 496 : 500;
    lay->bt_entries = unicode ? 488 : 496;
    lay->bt_entry_min = unicode ? 24 : 12;
    lay->bbt_entry_min = unicode ? 24 : 12;
    lay->nbt_entry_min = unicode ? 32 : 16;
    lay->block_data_max = unicode ? NTH_PST_BLOCK_DATA_MAX_UNICODE : NTH_PST_BLOCK_DATA_MAX_ANSI;
}

nth_pst_status pst_read(nth_pst_file *f, uint64_t off, size_t len, void *buf,
                        const char *structure, nth_pst_error *err)
{
    if (off > f->size || len > f->size - off)
        return pst_fail(err, NTH_PST_E_CORRUPT, structure, off,
                        "%zu bytes needed but the file ends at 0x%llx", len,
                        (unsigned long long)f->size);
    if (f->mem) {
        memcpy(buf, f->mem + off, len);
        return NTH_PST_OK;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return pst_fail(err, NTH_PST_E_IO, structure, off, "read failed: %s",
                            n < 0 ? strerror(errno) : "unexpected end of file");
        done += (size_t)n;
    }
    return NTH_PST_OK;
}

static nth_pst_status parse_header(nth_pst_file *f, nth_pst_error *err)
{
    uint8_t h[HEADER_SIZE_UNICODE];
    memset(h, 0, sizeof h);
    if (f->size < HEADER_SIZE_ANSI)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "HEADER", 0,
                        "file of %llu bytes is too small to be a PST",
                        (unsigned long long)f->size);
    nth_pst_status st = pst_read(f, 0, HEADER_SIZE_ANSI, h, "HEADER", err);
    if (st) return st;
    if (memcmp(h, "!BDN", 4) != 0)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "HEADER", 0,
                        "dwMagic is not \"!BDN\": not a PST file");
    uint16_t magic_client = rd16(h + 8);
    if (magic_client != 0x4D53)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "HEADER", 8,
                        "wMagicClient 0x%04X is not \"SM\" (0x4D53): not a PST (OST/PAB?)",
                        magic_client);
    uint16_t ver = rd16(h + 10);
    bool unicode;
    if (ver == 14 || ver == 15)
        unicode = false;
    else if (ver == 23)
        unicode = true;
    else
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "HEADER", 10,
                        "wVer %u is not supported (ANSI is 14 or 15, Unicode is 23)", ver);
    pst_layout_init(&f->lay, unicode);
    if (unicode) {
        st = pst_read(f, 0, HEADER_SIZE_UNICODE, h, "HEADER", err);
        if (st) return st;
    }
    nth_pst_info *in = &f->info;
    memset(in, 0, sizeof *in);
    in->unicode = unicode;
    in->version = ver;
    in->client_version = rd16(h + 12);
    in->file_size = f->size;
    in->crc_partial = rd32(h + 4);
    uint32_t crc = nth_pst_crc(0, h + 8, 471);
    if (crc != in->crc_partial)
        return pst_fail(err, NTH_PST_E_CORRUPT, "HEADER", 4,
                        "dwCRCPartial is 0x%08X but the bytes give 0x%08X", in->crc_partial, crc);
    const uint8_t *root;
    if (unicode) {
        in->crc_full = rd32(h + 524);
        crc = nth_pst_crc(0, h + 8, 516);
        if (crc != in->crc_full)
            return pst_fail(err, NTH_PST_E_CORRUPT, "HEADER", 524,
                            "dwCRCFull is 0x%08X but the bytes give 0x%08X", in->crc_full, crc);
        in->bid_next_page = rd64(h + 32);
        in->unique = rd32(h + 40);
        in->bid_next_block = rd64(h + 516);
        if (h[512] != 0x80)
            return pst_fail(err, NTH_PST_E_CORRUPT, "HEADER", 512,
                            "bSentinel is 0x%02X, not 0x80", h[512]);
        in->crypt = h[513];
        root = h + 180;
        in->file_eof = rd64(root + 4);
        in->amap_last = rd64(root + 12);
        in->amap_free = rd64(root + 20);
        in->pmap_free = rd64(root + 28);
        in->nbt_root.bid = rd64(root + 36);
        in->nbt_root.ib = rd64(root + 44);
        in->bbt_root.bid = rd64(root + 52);
        in->bbt_root.ib = rd64(root + 60);
        in->amap_valid = root[68];
    } else {
        in->bid_next_block = rd32(h + 24);
        in->bid_next_page = rd32(h + 28);
        in->unique = rd32(h + 32);
        if (h[460] != 0x80)
            return pst_fail(err, NTH_PST_E_CORRUPT, "HEADER", 460,
                            "bSentinel is 0x%02X, not 0x80", h[460]);
        in->crypt = h[461];
        root = h + 164;
        in->file_eof = rd32(root + 4);
        in->amap_last = rd32(root + 8);
        in->amap_free = rd32(root + 12);
        in->pmap_free = rd32(root + 16);
        in->nbt_root.bid = rd32(root + 20);
        in->nbt_root.ib = rd32(root + 24);
        in->bbt_root.bid = rd32(root + 28);
        in->bbt_root.ib = rd32(root + 32);
        in->amap_valid = root[36];
    }
    if (in->crypt > NTH_PST_CRYPT_CYCLIC)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "HEADER", unicode ? 513 : 461,
                        "bCryptMethod %u is not none (0), permute (1) or cyclic (2)", in->crypt);
    uint64_t root_off = unicode ? 180 : 164;
    if (in->nbt_root.ib > f->size || f->size - in->nbt_root.ib < PST_PAGE_SIZE)
        return pst_fail(err, NTH_PST_E_CORRUPT, "ROOT", root_off,
                        "BREFNBT points at 0x%llx, outside the file",
                        (unsigned long long)in->nbt_root.ib);
    if (in->bbt_root.ib > f->size || f->size - in->bbt_root.ib < PST_PAGE_SIZE)
        return pst_fail(err, NTH_PST_E_CORRUPT, "ROOT", root_off,
                        "BREFBBT points at 0x%llx, outside the file",
                        (unsigned long long)in->bbt_root.ib);
    return NTH_PST_OK;
}

static nth_pst_status finish_open(nth_pst_file *f, nth_pst_file **out, nth_pst_error *err)
{
    nth_pst_status st = parse_header(f, err);
    if (st) {
        nth_pst_close(f);
        return st;
    }
    *out = f;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_open(const char *path, nth_pst_file **out, nth_pst_error *err)
{
    if (!path || !out) return pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET, "no path or no handle to fill");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "cannot open %s: %s", path,
                        strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "%s is not a regular file",
                        path);
    }
    nth_pst_file *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, NULL, NTH_PST_NO_OFFSET, "out of memory");
    }
    f->fd = fd;
    f->size = (uint64_t)sb.st_size;
    return finish_open(f, out, err);
}

nth_pst_status nth_pst_open_memory(const void *data, size_t size, nth_pst_file **out,
                                   nth_pst_error *err)
{
    if ((!data && size) || !out)
        return pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET, "no bytes or no handle to fill");
    *out = NULL;
    nth_pst_file *f = calloc(1, sizeof *f);
    if (!f) return pst_fail(err, NTH_PST_E_NO_MEMORY, NULL, NTH_PST_NO_OFFSET, "out of memory");
    f->fd = -1;
    f->mem = malloc(size ? size : 1);
    if (!f->mem) {
        free(f);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, NULL, NTH_PST_NO_OFFSET, "out of memory");
    }
    if (size) memcpy(f->mem, data, size);
    f->size = size;
    return finish_open(f, out, err);
}

void nth_pst_close(nth_pst_file *file)
{
    if (!file) return;
    pst_cache_free(&file->cache);
    if (file->mem)
        free(file->mem);
    else if (file->fd >= 0)
        close(file->fd);
    free(file);
}

const nth_pst_info *nth_pst_get_info(const nth_pst_file *file) { return &file->info; }

const char *nth_pst_nid_type_name(uint32_t nid)
{
    static const char *const names[32] = {
        [0x00] = "HID",
        [0x01] = "INTERNAL",
        [0x02] = "NORMAL_FOLDER",
        [0x03] = "SEARCH_FOLDER",
        [0x04] = "NORMAL_MESSAGE",
        [0x05] = "ATTACHMENT",
        [0x06] = "SEARCH_UPDATE_QUEUE",
        [0x07] = "SEARCH_CRITERIA_OBJECT",
        [0x08] = "ASSOC_MESSAGE",
        [0x0A] = "CONTENTS_TABLE_INDEX",
        [0x0B] = "RECEIVE_FOLDER_TABLE",
        [0x0C] = "OUTGOING_QUEUE_TABLE",
        [0x0D] = "HIERARCHY_TABLE",
        [0x0E] = "CONTENTS_TABLE",
        [0x0F] = "ASSOC_CONTENTS_TABLE",
        [0x10] = "SEARCH_CONTENTS_TABLE",
        [0x11] = "ATTACHMENT_TABLE",
        [0x12] = "RECIPIENT_TABLE",
        [0x13] = "SEARCH_TABLE_INDEX",
        [0x1F] = "LTP",
    };
    const char *n = names[nid & 0x1F];
    return n ? n : "?";
}
