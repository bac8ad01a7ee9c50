/*
 * write.c — writing an edited heap back into a file (nth_pst_write_heap), atomically.
 *
 *     original ──read──> image in memory ──patch──> image' ──write──> PATH.XXXXXX ──fsync──>
 *     rename(PATH.XXXXXX, PATH) ──fsync(dir)
 *
 * Patched in the image:
 *     the node's data block:  new bytes, encoded with the file's bCryptMethod (cyclic keyed by
 *                             the BID), padding zeroed, BLOCKTRAILER cb / wSig / dwCRC / bid at
 *                             the end of the new size rounded up to 64 (a shrunk block leaves
 *                             zeroed bytes behind it, still allocated)
 *     its BBTENTRY:           cb, and the CRC of the BBT leaf page that holds it
 * The block keeps its BID, offset and on-disk size, so the NBT, the header, bidNextB and the
 * allocation maps stay exactly right. Before anything is written the patched image is opened
 * again and the node's heap read back and compared with what was asked.
 *
 * Crash safety: the original file is not opened for writing at any point; until the rename
 * it is untouched, and rename(2) replaces it in one step, so a crash leaves either the old or
 * the new file under PATH (at worst plus a stray PATH.XXXXXX). For tests, the environment
 * variable NTH_PST_CRASH_AT=1..5 ends the process with _exit(70) at step 1 (temporary file
 * created), 2 (half written), 3 (written, not synced), 4 (synced, not renamed) or 5 (renamed,
 * directory not synced).
 *
 * Limits (NTH_PST_E_UNSUPPORTED / NTH_PST_E_FULL, nothing written): only NBT nodes whose data
 * is a single block, a block not shared with other nodes (cRef at most 2: the BBT's reference
 * and the node's), and a heap that still fits the block's on-disk size.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static void crash_point(int step)
{
    const char *at = getenv("NTH_PST_CRASH_AT");
    if (at && atoi(at) == step) _exit(70);
}

static nth_pst_status read_all(const char *path, uint8_t **out, size_t *size, mode_t *mode,
                               nth_pst_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "cannot open %s: %s", path,
                        strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "%s is not a regular file", path);
    }
    *mode = sb.st_mode & 07777;
    size_t n = (size_t)sb.st_size, done = 0;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, NULL, NTH_PST_NO_OFFSET, "out of memory");
    }
    while (done < n) {
        ssize_t r = read(fd, buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "reading %s failed", path);
        }
        done += (size_t)r;
    }
    close(fd);
    *out = buf;
    *size = n;
    return NTH_PST_OK;
}

static nth_pst_status write_span(int fd, const uint8_t *d, size_t n, const char *tmp,
                                 nth_pst_error *err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, d + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "writing %s failed: %s",
                            tmp, strerror(errno));
        done += (size_t)w;
    }
    return NTH_PST_OK;
}

/* Writes the image in two halves, with crash point 2 between them. */
static nth_pst_status write_all(int fd, const uint8_t *d, size_t n, const char *tmp,
                                nth_pst_error *err)
{
    nth_pst_status st = write_span(fd, d, n / 2, tmp, err);
    if (st) return st;
    crash_point(2);
    return write_span(fd, d + n / 2, n - n / 2, tmp, err);
}

/* Patches the node's block and BBT entry inside f->mem. */
static nth_pst_status patch(nth_pst_file *f, uint32_t nid, const uint8_t *page, size_t size,
                            nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    nth_pst_node node;
    nth_pst_status st = nth_pst_nbt_lookup(f, nid, &node, err);
    if (st) return st;
    if (node.bid_data == 0 || (node.bid_data & 2))
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "NBTENTRY", node.ib_entry,
                        "node 0x%X's data is %s; only a single data block is rewritten", nid,
                        node.bid_data ? "a data tree of several blocks" : "empty");
    nth_pst_block_entry be;
    if ((st = nth_pst_bbt_lookup(f, node.bid_data, &be, err))) return st;
    if (be.refs > 2)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "BBTENTRY", be.ib_entry,
                        "block 0x%llx has cRef %u: other nodes share it, so it cannot be "
                        "rewritten in place", (unsigned long long)be.bid, be.refs);
    size_t room = (((size_t)be.cb + L->block_trailer + PST_BLOCK_ALIGN - 1) & ~(size_t)(PST_BLOCK_ALIGN - 1));
    size_t need = ((size + L->block_trailer + PST_BLOCK_ALIGN - 1) & ~(size_t)(PST_BLOCK_ALIGN - 1));
    if (need > room)
        return pst_fail(err, NTH_PST_E_FULL, "block", be.ib,
                        "the edited heap needs %zu bytes on disk but block 0x%llx has %zu; "
                        "moving a block is not supported", need, (unsigned long long)be.bid, room);
    if (be.ib > f->size || room > f->size - be.ib)
        return pst_fail(err, NTH_PST_E_CORRUPT, "block", be.ib, "block lies past the end of the file");
    uint8_t *b = f->mem + be.ib;
    memset(b, 0, room);
    memcpy(b, page, size);
    if (f->info.crypt == NTH_PST_CRYPT_PERMUTE)
        nth_pst_permute_encode(b, size);
    else if (f->info.crypt == NTH_PST_CRYPT_CYCLIC)
        nth_pst_cyclic(b, size, (uint32_t)be.bid);
    uint8_t *t = b + need - L->block_trailer; /* readers find the trailer from cb */
    uint32_t crc = nth_pst_crc(0, b, size);
    wr16(t, (uint16_t)size);
    wr16(t + 2, nth_pst_block_signature(be.ib, be.bid));
    if (L->unicode) {
        wr32(t + 4, crc);
        wr32(t + 8, (uint32_t)be.bid);
        wr32(t + 12, (uint32_t)(be.bid >> 32));
    } else {
        wr32(t + 4, (uint32_t)be.bid);
        wr32(t + 8, crc);
    }
    /* the BBT entry's cb, and its page's CRC (pages are 512-byte aligned) */
    wr16(f->mem + be.ib_entry + 2 * L->id_size, (uint16_t)size);
    uint8_t *pg = f->mem + (be.ib_entry & ~(uint64_t)(PST_PAGE_SIZE - 1));
    wr32(pg + L->page_data + (L->unicode ? 4 : 8), nth_pst_crc(0, pg, L->page_data));
    pst_cache_free(&f->cache); /* blocks read before the patch are stale */
    return NTH_PST_OK;
}

/* Reads the node's heap back from the patched image and compares it with `page`. */
static nth_pst_status verify(nth_pst_file *f, uint32_t nid, const uint8_t *page, size_t size,
                             nth_pst_error *err)
{
    nth_pst_node node;
    nth_pst_hn *back;
    nth_pst_status st = nth_pst_nbt_lookup(f, nid, &node, err);
    if (!st) st = nth_pst_hn_load(f, node.bid_data, &back, err);
    if (st) return st;
    size_t n;
    const uint8_t *d = nth_pst_hn_page_data(back, 0, &n);
    bool same = n == size && memcmp(d, page, n) == 0;
    nth_pst_hn_close(back);
    if (!same)
        return pst_fail(err, NTH_PST_E_CORRUPT, "block", NTH_PST_NO_OFFSET,
                        "the patched file does not read back the heap written");
    return NTH_PST_OK;
}

nth_pst_status nth_pst_write_heap(const char *path, uint32_t nid, const nth_pst_hn *hn,
                                  nth_pst_error *err)
{
    if (nth_pst_hn_page_count(hn) != 1)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, NULL, NTH_PST_NO_OFFSET,
                        "the heap has %zu pages; only a one-page heap is written back",
                        nth_pst_hn_page_count(hn));
    size_t size;
    const uint8_t *page = nth_pst_hn_page_data(hn, 0, &size);
    uint8_t *image = NULL;
    size_t image_size = 0;
    mode_t mode = 0600;
    nth_pst_status st = read_all(path, &image, &image_size, &mode, err);
    if (st) return st;
    nth_pst_file *f;
    st = nth_pst_open_memory(image, image_size, &f, err);
    free(image);
    if (st) return st;
    if (nth_pst_hn_is_unicode(hn) != f->lay.unicode) {
        nth_pst_close(f);
        return pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET,
                        "the heap's format (ANSI/Unicode) differs from the file's");
    }
    st = patch(f, nid, page, size, err);
    if (!st) st = verify(f, nid, page, size, err);
    if (st) {
        nth_pst_close(f);
        return st;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    char *dir = malloc(plen + 1);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        nth_pst_close(f);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, NULL, NTH_PST_NO_OFFSET, "out of memory");
    }
    snprintf(tmp, plen + 8, "%s.XXXXXX", path);
    memcpy(dir, path, plen + 1);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "cannot create %s: %s", tmp,
                      strerror(errno));
    } else {
        crash_point(1);
        st = write_all(fd, f->mem, (size_t)f->size, tmp, err);
        crash_point(3);
        if (!st && (fchmod(fd, mode) != 0 || fsync(fd) != 0))
            st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "syncing %s failed: %s",
                          tmp, strerror(errno));
        if (close(fd) != 0 && !st)
            st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "closing %s failed", tmp);
        crash_point(4);
        if (!st && rename(tmp, path) != 0)
            st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "renaming %s to %s failed: %s",
                          tmp, path, strerror(errno));
        if (st) {
            unlink(tmp);
        } else {
            crash_point(5);
            int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
        }
    }
    free(tmp);
    free(dir);
    nth_pst_close(f);
    return st;
}
