/*
 * write.c — writing an edited heap back into a file (nth_pst_write_heap), atomically.
 *
 *     original ──read──> image in memory ──validate──> patch ──read back + validate──> image'
 *     ──write──> PATH.XXXXXX ──fsync──> rename(PATH.XXXXXX, PATH) ──fsync(dir)
 *
 * The image must validate sound before it is touched (the edit trusts its BBT, NBT and
 * allocation maps) and again after; otherwise nothing is written.
 *
 * Patched in the image, one of two ways:
 *   in place   a one-page heap whose node has one data block of its own (cRef <= 2) with room
 *              for the new bytes on disk: the block is rewritten where it is (encoded with
 *              bCryptMethod, cyclic keyed by the BID; padding zeroed; BLOCKTRAILER at the end
 *              of the new size rounded up to 64, zeroes behind it, still allocated) and its
 *              BBTENTRY's cb and the leaf page's CRC follow. BID, offset, NBT, header and maps
 *              stay as they are.
 *   moved      anything else -- a heap that outgrew its block, a block shared with other
 *              nodes, a heap of several pages: tree_write.c writes the pages as a new data
 *              tree (new blocks only for pages that changed, an XBLOCK over several pages,
 *              BBT inserts with page splits, space from the AMaps or a new AMap span); the
 *              NBT entry is pointed at it; the old tree is released (cRef - 1, blocks nobody
 *              references leave the BBT, their bytes zeroed and freed); then the header
 *              (bidNextB, bidNextP, ROOT, both CRCs) is stored.
 * Before anything is written the patched image is opened again, the node's heap read back
 * page by page and compared with what was asked, and the whole image validated.
 *
 * Crash safety: the original file is not opened for writing at any point; until the rename
 * it is untouched, and rename(2) replaces it in one step, so a crash leaves either the old or
 * the new file under PATH (at worst plus a stray PATH.XXXXXX). For tests, the environment
 * variable NTH_PST_CRASH_AT=N ends the process with _exit(70) at step N, in the order they
 * happen: (9-12: a value put in a subnode, set.c), 6 (moved: new tree written), 7 (NBT
 * repointed), 8 (old tree released), then 1 (temporary file created), 2 (half written), 3
 * (written, not synced), 4 (synced, not renamed), 5 (renamed, directory not synced).
 *
 * The steps are also used by nth_pst_set_property (set.c), which edits subnodes in between:
 * pst_image_open, pst_heap_patch, pst_heap_verify, pst_must_be_sound, pst_image_commit.
 *
 * Limits (NTH_PST_E_UNSUPPORTED, nothing written): a node in a subnode tree (its SLBLOCK would
 * need rewriting), a node without data, a heap of more than one XBLOCK's worth of pages
 * (an XXBLOCK), and a file that would need growing past 128 AMaps (FMap pages).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edit.h"

void pst_crash_point(int step)
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
    pst_crash_point(2);
    return write_span(fd, d + n / 2, n - n / 2, tmp, err);
}

/* Rewrites the node's one block where it is, when that is possible: a single data block the
 * node does not share (cRef <= 2) whose on-disk size holds the new page. *done says whether it
 * was. */
static nth_pst_status patch_in_place(nth_pst_file *f, const nth_pst_node *node,
                                     const uint8_t *page, size_t size, bool *done,
                                     nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    *done = false;
    if (node->bid_data & 2) return NTH_PST_OK;
    nth_pst_block_entry be;
    nth_pst_status st = nth_pst_bbt_lookup(f, node->bid_data, &be, err);
    if (st) return st;
    size_t room = pst_block_total(L, be.cb), need = pst_block_total(L, size);
    if (be.refs > PST_BLOCK_REF_ONE || need > room) return NTH_PST_OK;
    if (be.ib > f->size || room > f->size - be.ib)
        return pst_fail(err, NTH_PST_E_CORRUPT, "block", be.ib, "block lies past the end of the file");
    uint8_t *enc = malloc(size ? size : 1);
    if (!enc) return pst_fail(err, NTH_PST_E_NO_MEMORY, "block", be.ib, "out of memory");
    memcpy(enc, page, size);
    if (f->info.crypt == NTH_PST_CRYPT_PERMUTE)
        nth_pst_permute_encode(enc, size);
    else if (f->info.crypt == NTH_PST_CRYPT_CYCLIC)
        nth_pst_cyclic(enc, size, (uint32_t)be.bid);
    memset(f->mem + be.ib, 0, room); /* a shrunk block leaves zeroes, still allocated */
    pst_block_put(f, be.ib, be.bid, enc, size); /* readers find the trailer from cb */
    free(enc);
    /* the BBT entry's cb, and its page's CRC (pages are 512-byte aligned) */
    wr16(f->mem + be.ib_entry + 2 * L->id_size, (uint16_t)size);
    uint8_t *pg = f->mem + (be.ib_entry & ~(uint64_t)(PST_PAGE_SIZE - 1));
    wr32(pg + L->page_data + (L->unicode ? 4 : 8), nth_pst_crc(0, pg, L->page_data));
    pst_cache_free(&f->cache); /* blocks read before the patch are stale */
    *done = true;
    return NTH_PST_OK;
}

nth_pst_status pst_node_with_data(nth_pst_file *f, uint32_t nid, nth_pst_node *node,
                                  nth_pst_error *err)
{
    nth_pst_status st = nth_pst_nbt_lookup(f, nid, node, err);
    if (st) return st;
    if (node->bid_data == 0)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "NBTENTRY", node->ib_entry,
                        "node 0x%X has no data", nid);
    return NTH_PST_OK;
}

nth_pst_status pst_heap_patch(nth_pst_file *f, uint32_t nid, const nth_pst_hn *hn,
                            nth_pst_error *err)
{
    nth_pst_node node;
    nth_pst_status st = pst_node_with_data(f, nid, &node, err);
    if (st) return st;
    bool done = false;
    if (hn->count == 1) {
        st = patch_in_place(f, &node, hn->pages[0].data, hn->pages[0].size, &done, err);
        if (st || done) return st;
    }
    uint64_t tree;
    if ((st = pst_tree_write(f, hn, node.bid_data, &tree, err))) return st;
    pst_crash_point(6);
    if ((st = pst_nbt_set_data(f, nid, tree, err))) return st;
    pst_crash_point(7);
    if ((st = pst_tree_release(f, node.bid_data, err))) return st;
    pst_crash_point(8);
    pst_header_store(f);
    return NTH_PST_OK;
}

typedef struct first_problem {
    nth_pst_error e;
    bool have;
} first_problem;

static void keep_first(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e, bool hint)
{
    first_problem *fp = ctx;
    (void)ref;
    if (hint || fp->have) return;
    fp->e = *e;
    fp->have = true;
}

nth_pst_status pst_must_be_sound(nth_pst_file *f, const char *when, nth_pst_error *err)
{
    first_problem fp = {.have = false};
    nth_pst_report r;
    nth_pst_validate(f, keep_first, &fp, &r);
    pst_cache_free(&f->cache);
    if (r.sound) return NTH_PST_OK;
    return pst_fail(err, NTH_PST_E_CORRUPT, NULL, NTH_PST_NO_OFFSET,
                    "%s is not sound (%zu problem%s, the first: %s); nothing written", when,
                    (size_t)r.problems, r.problems == 1 ? "" : "s", fp.have ? fp.e.message : "?");
}

nth_pst_status pst_heap_verify(nth_pst_file *f, uint32_t nid, const nth_pst_hn *hn,
                             nth_pst_error *err)
{
    nth_pst_node node;
    nth_pst_hn *back;
    nth_pst_status st = nth_pst_nbt_lookup(f, nid, &node, err);
    if (!st) st = nth_pst_hn_load(f, node.bid_data, &back, err);
    if (st) return st;
    bool same = nth_pst_hn_page_count(back) == hn->count;
    for (size_t i = 0; same && i < hn->count; i++) {
        size_t n;
        const uint8_t *d = nth_pst_hn_page_data(back, i, &n);
        same = n == hn->pages[i].size && memcmp(d, hn->pages[i].data, n) == 0;
    }
    nth_pst_hn_close(back);
    if (!same)
        return pst_fail(err, NTH_PST_E_CORRUPT, "block", NTH_PST_NO_OFFSET,
                        "the patched file does not read back the heap written");
    return NTH_PST_OK;
}

nth_pst_status pst_image_open(const char *path, nth_pst_file **out, unsigned *mode,
                              nth_pst_error *err)
{
    if (!path) return pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET, "no path");
    uint8_t *image = NULL;
    size_t image_size = 0;
    mode_t m = 0600;
    nth_pst_status st = read_all(path, &image, &image_size, &m, err);
    if (st) return st;
    *mode = (unsigned)m;
    st = nth_pst_open_memory(image, image_size, out, err);
    free(image);
    if (st) return st;
    st = pst_must_be_sound(*out, "the file", err);
    if (st) {
        nth_pst_close(*out);
        *out = NULL;
    }
    return st;
}

nth_pst_status pst_image_commit(nth_pst_file *f, const char *path, unsigned mode,
                                nth_pst_error *err)
{
    nth_pst_status st;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    char *dir = malloc(plen + 1);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, NULL, NTH_PST_NO_OFFSET, "out of memory");
    }
    snprintf(tmp, plen + 8, "%s.XXXXXX", path);
    memcpy(dir, path, plen + 1);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "cannot create %s: %s", tmp,
                      strerror(errno));
    } else {
        pst_crash_point(1);
        st = write_all(fd, f->mem, (size_t)f->size, tmp, err);
        pst_crash_point(3);
        if (!st && (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0))
            st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "syncing %s failed: %s",
                          tmp, strerror(errno));
        if (close(fd) != 0 && !st)
            st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "closing %s failed", tmp);
        pst_crash_point(4);
        if (!st && rename(tmp, path) != 0)
            st = pst_fail(err, NTH_PST_E_IO, NULL, NTH_PST_NO_OFFSET, "renaming %s to %s failed: %s",
                          tmp, path, strerror(errno));
        if (st) {
            unlink(tmp);
        } else {
            pst_crash_point(5);
            int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
        }
    }
    free(tmp);
    free(dir);
    return st;
}

nth_pst_status nth_pst_write_heap(const char *path, uint32_t nid, const nth_pst_hn *hn,
                                  nth_pst_error *err)
{
    nth_pst_file *f;
    unsigned mode;
    nth_pst_status st = pst_image_open(path, &f, &mode, err);
    if (st) return st;
    if (nth_pst_hn_is_unicode(hn) != f->lay.unicode)
        st = pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET,
                      "the heap's format (ANSI/Unicode) differs from the file's");
    if (!st) st = pst_heap_patch(f, nid, hn, err);
    if (!st) st = pst_heap_verify(f, nid, hn, err);
    if (!st) st = pst_must_be_sound(f, "the edited file", err);
    if (!st) st = pst_image_commit(f, path, mode, err);
    nth_pst_close(f);
    return st;
}
