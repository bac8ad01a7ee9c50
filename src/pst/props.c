/*
 * props.c — property types, property names and value decoding.
 *
 * Value encodings handled (all little-endian, as stored):
 *
 *     PtypInteger16/32/64, PtypBoolean, PtypErrorCode    integers of 2/4/8/1/4 bytes
 *     PtypFloating32/64                                   IEEE 754
 *     PtypTime                                            FILETIME: 100 ns ticks since 1601-01-01 UTC
 *     PtypCurrency                                        int64 scaled by 10000
 *     PtypGuid                                            16 bytes (Data1..Data3 little-endian)
 *     PtypString                                          UTF-16LE, no terminator
 *     PtypString8                                         8-bit code page (Windows-1252 assumed)
 *     PtypObject                                          in a PC: subnode NID (4) + size (4)
 *     PtypMultiple* (0x1000 bit)                          fixed: packed array; variable:
 *                                                         ulCount, ulCount offsets, items
 *
 * Invariant: decoders never read past prop->size; a value of the wrong size for its type is
 * reported (or shown as hex), not trusted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

typedef struct type_row {
    uint16_t type;
    uint16_t size;
    const char *name;
} type_row;

static const type_row types[] = {
    {0x0002, 2, "PtypInteger16"},   {0x0003, 4, "PtypInteger32"},  {0x0004, 4, "PtypFloating32"},
    {0x0005, 8, "PtypFloating64"},  {0x0006, 8, "PtypCurrency"},   {0x0007, 8, "PtypFloatingTime"},
    {0x000A, 4, "PtypErrorCode"},   {0x000B, 1, "PtypBoolean"},    {0x000D, 0, "PtypObject"},
    {0x0014, 8, "PtypInteger64"},   {0x001E, 0, "PtypString8"},    {0x001F, 0, "PtypString"},
    {0x0040, 8, "PtypTime"},        {0x0048, 16, "PtypGuid"},      {0x00FB, 0, "PtypServerId"},
    {0x00FD, 0, "PtypRestriction"}, {0x00FE, 0, "PtypRuleAction"}, {0x0102, 0, "PtypBinary"},
    {0x1002, 0, "PtypMultipleInteger16"}, {0x1003, 0, "PtypMultipleInteger32"},
    {0x1004, 0, "PtypMultipleFloating32"}, {0x1005, 0, "PtypMultipleFloating64"},
    {0x1006, 0, "PtypMultipleCurrency"}, {0x1007, 0, "PtypMultipleFloatingTime"},
    {0x1014, 0, "PtypMultipleInteger64"}, {0x101E, 0, "PtypMultipleString8"},
    {0x101F, 0, "PtypMultipleString"}, {0x1040, 0, "PtypMultipleTime"},
    {0x1048, 0, "PtypMultipleGuid"}, {0x1102, 0, "PtypMultipleBinary"},
};

static const type_row *find_type(uint16_t type)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == type) return &types[i];
    return NULL;
}

const char *nth_pst_type_name(uint16_t type)
{
    const type_row *t = find_type(type);
    return t ? t->name : NULL;
}

size_t nth_pst_type_size(uint16_t type)
{
    const type_row *t = find_type(type);
    return t ? t->size : 0;
}

bool pst_value_fits(uint16_t type, const uint8_t *data, size_t size, char *why, size_t n)
{
    const type_row *t = find_type(type);
    nth_pst_prop p = {.type = type, .data = data, .size = size};
    size_t count;
    if (!t)
        snprintf(why, n, "a property type MS-PST does not define");
    else if (t->size && size != t->size)
        snprintf(why, n, "a value of another size than its type's (%zu bytes, not %u)", size, (unsigned)t->size);
    else if ((type & NTH_PST_PT_MV) && nth_pst_prop_mv_count(&p, &count) != NTH_PST_OK)
        snprintf(why, n, "a multi-valued value whose count or offsets do not fit its %zu bytes", size);
    else
        return true;
    return false;
}

typedef struct tag_row {
    uint16_t id;
    const char *name;
} tag_row;

/* Sorted by id. Names from MS-OXPROPS / MS-PST. */
static const tag_row tags[] = {
    {0x0017, "PidTagImportance"},
    {0x001A, "PidTagMessageClass"},
    {0x0026, "PidTagPriority"},
    {0x0036, "PidTagSensitivity"},
    {0x0037, "PidTagSubject"},
    {0x0039, "PidTagClientSubmitTime"},
    {0x003B, "PidTagSentRepresentingSearchKey"},
    {0x0041, "PidTagSentRepresentingEntryId"},
    {0x0042, "PidTagSentRepresentingName"},
    {0x0064, "PidTagSentRepresentingAddressType"},
    {0x0065, "PidTagSentRepresentingEmailAddress"},
    {0x0070, "PidTagConversationTopic"},
    {0x0071, "PidTagConversationIndex"},
    {0x007D, "PidTagTransportMessageHeaders"},
    {0x0C15, "PidTagRecipientType"},
    {0x0C19, "PidTagSenderEntryId"},
    {0x0C1A, "PidTagSenderName"},
    {0x0C1D, "PidTagSenderSearchKey"},
    {0x0C1E, "PidTagSenderAddressType"},
    {0x0C1F, "PidTagSenderEmailAddress"},
    {0x0E02, "PidTagDisplayBcc"},
    {0x0E03, "PidTagDisplayCc"},
    {0x0E04, "PidTagDisplayTo"},
    {0x0E06, "PidTagMessageDeliveryTime"},
    {0x0E07, "PidTagMessageFlags"},
    {0x0E08, "PidTagMessageSize"},
    {0x0E17, "PidTagMessageStatus"},
    {0x0E1B, "PidTagHasAttachments"},
    {0x0E1F, "PidTagRtfInSync"},
    {0x0E20, "PidTagAttachSize"},
    {0x0E34, "PidTagReplVersionhistory"},
    {0x0E38, "PidTagReplFlags"},
    {0x0FF9, "PidTagRecordKey"},
    {0x1000, "PidTagBody"},
    {0x1009, "PidTagRtfCompressed"},
    {0x1013, "PidTagBodyHtml"},
    {0x1035, "PidTagInternetMessageId"},
    {0x3001, "PidTagDisplayName"},
    {0x3002, "PidTagAddressType"},
    {0x3003, "PidTagEmailAddress"},
    {0x3004, "PidTagComment"},
    {0x3007, "PidTagCreationTime"},
    {0x3008, "PidTagLastModificationTime"},
    {0x300B, "PidTagSearchKey"},
    {0x35DF, "PidTagValidFolderMask"},
    {0x35E0, "PidTagIpmSubTreeEntryId"},
    {0x35E2, "PidTagIpmOutboxEntryId"},
    {0x35E3, "PidTagIpmWastebasketEntryId"},
    {0x35E4, "PidTagIpmSentMailEntryId"},
    {0x35E5, "PidTagViewsEntryId"},
    {0x35E6, "PidTagCommonViewsEntryId"},
    {0x35E7, "PidTagFinderEntryId"},
    {0x3602, "PidTagContentCount"},
    {0x3603, "PidTagContentUnreadCount"},
    {0x360A, "PidTagSubfolders"},
    {0x3613, "PidTagContainerClass"},
    {0x3617, "PidTagAssociatedContentCount"},
    {0x3701, "PidTagAttachDataBinary"},
    {0x3703, "PidTagAttachExtension"},
    {0x3704, "PidTagAttachFilename"},
    {0x3705, "PidTagAttachMethod"},
    {0x3707, "PidTagAttachLongFilename"},
    {0x370B, "PidTagRenderingPosition"},
    {0x370E, "PidTagAttachMimeTag"},
    {0x3712, "PidTagAttachContentId"},
    {0x39FE, "PidTagSmtpAddress"},
    {0x3FDE, "PidTagInternetCodepage"},
    {0x3FF1, "PidTagMessageLocaleId"},
    {0x6633, "PidTagPstLrNoRestrictions"},
    {0x66FA, "PidTagLatestPstEnsure"},
    {0x67F2, "PidTagLtpRowId"},
    {0x67F3, "PidTagLtpRowVer"},
    {0x67FF, "PidTagPstPassword"},
    {0x7FFE, "PidTagAttachmentHidden"},
};

const char *nth_pst_tag_name(uint16_t id)
{
    size_t lo = 0, hi = sizeof tags / sizeof tags[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tags[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sizeof tags / sizeof tags[0] && tags[lo].id == id ? tags[lo].name : NULL;
}

nth_pst_status nth_pst_prop_int(const nth_pst_prop *p, int64_t *value)
{
    const uint8_t *d = p->data;
    switch (p->type) {
    case NTH_PST_PT_BOOLEAN:
        if (p->size < 1) break;
        *value = d[0];
        return NTH_PST_OK;
    case NTH_PST_PT_INT16:
        if (p->size != 2) break;
        *value = (int16_t)rd16(d);
        return NTH_PST_OK;
    case NTH_PST_PT_INT32:
    case NTH_PST_PT_ERROR:
        if (p->size != 4) break;
        *value = (int32_t)rd32(d);
        return NTH_PST_OK;
    case NTH_PST_PT_INT64:
    case NTH_PST_PT_TIME:
    case NTH_PST_PT_CURRENCY:
        if (p->size != 8) break;
        *value = (int64_t)rd64(d);
        return NTH_PST_OK;
    default: break;
    }
    return NTH_PST_E_INVALID;
}

/* Windows-1252 0x80..0x9F; 0 marks an unassigned byte (shown as U+FFFD). */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

nth_pst_status nth_pst_prop_utf8(const nth_pst_prop *p, char **text)
{
    *text = NULL;
    if (p->type != NTH_PST_PT_UNICODE && p->type != NTH_PST_PT_STRING8) return NTH_PST_E_INVALID;
    /* at most 3 UTF-8 bytes per input byte (cp1252) or per UTF-16 unit (surrogate pairs give 4
     * bytes for 2 units) */
    char *out = malloc(p->size * 3 + 4);
    if (!out) return NTH_PST_E_NO_MEMORY;
    size_t at = 0;
    const uint8_t *d = p->data;
    if (p->type == NTH_PST_PT_STRING8) {
        for (size_t i = 0; i < p->size; i++) {
            uint32_t c = d[i];
            if (c >= 0x80 && c < 0xA0) c = cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : 0xFFFD;
            at += put_utf8(out + at, c);
        }
    } else {
        size_t n = p->size / 2;
        for (size_t i = 0; i < n; i++) {
            uint32_t c = rd16(d + 2 * i);
            if (c >= 0xD800 && c < 0xDC00 && i + 1 < n) {
                uint32_t c2 = rd16(d + 2 * i + 2);
                if (c2 >= 0xDC00 && c2 < 0xE000) {
                    c = 0x10000 + ((c - 0xD800) << 10) + (c2 - 0xDC00);
                    i++;
                } else {
                    c = 0xFFFD;
                }
            } else if (c >= 0xD800 && c < 0xE000) {
                c = 0xFFFD;
            }
            at += put_utf8(out + at, c);
        }
        if (p->size & 1) at += put_utf8(out + at, 0xFFFD);
    }
    out[at] = 0;
    *text = out;
    return NTH_PST_OK;
}

/* snprintf-like appender: keeps counting past the end of the buffer. */
typedef struct sink {
    char *buf;
    size_t size, len;
} sink;

static void emit(sink *s, const char *fmt, ...) PST_PRINTF(2, 3);

static void emit(sink *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = s->len < s->size ? s->buf + s->len : NULL;
    size_t room = s->len < s->size ? s->size - s->len : 0;
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0) s->len += (size_t)n;
}

static void emit_hex(sink *s, const uint8_t *d, size_t n, size_t max)
{
    size_t shown = max && n > max ? max : n;
    for (size_t i = 0; i < shown; i++) emit(s, "%02x", d[i]);
    if (shown < n) emit(s, "... (%zu bytes)", n);
}

static void emit_time(sink *s, uint64_t ft)
{
    /* FILETIME: 100 ns since 1601-01-01; 11644473600 s separate it from 1970-01-01 */
    int64_t secs = (int64_t)(ft / 10000000u) - 11644473600LL;
    unsigned frac = (unsigned)(ft % 10000000u);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        emit(s, "0x%016llx", (unsigned long long)ft);
        return;
    }
    emit(s, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
         tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (frac) emit(s, ".%07u", frac);
    emit(s, "Z");
}

static void emit_string(sink *s, const nth_pst_prop *p)
{
    char *text;
    if (nth_pst_prop_utf8(p, &text)) {
        emit(s, "(unconvertible)");
        return;
    }
    emit(s, "\"");
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            emit(s, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7F)
            emit(s, "\\x%02x", *c);
        else
            emit(s, "%c", *c);
    }
    emit(s, "\"");
    free(text);
}

size_t nth_pst_prop_format(const nth_pst_prop *p, char *buf, size_t size, size_t max_bytes)
{
    sink s = {buf, size, 0};
    if (size) buf[0] = 0;
    const uint8_t *d = p->data;
    size_t fixed = nth_pst_type_size(p->type);
    int64_t v;
    if (p->where == NTH_PST_WHERE_EMPTY) {
        emit(&s, "(empty)");
    } else if (fixed && p->size != fixed && p->type != NTH_PST_PT_BOOLEAN) {
        emit(&s, "(%zu bytes, expected %zu) ", p->size, fixed);
        emit_hex(&s, d, p->size, max_bytes);
    } else {
        switch (p->type) {
        case NTH_PST_PT_INT16:
        case NTH_PST_PT_INT32:
        case NTH_PST_PT_ERROR:
            nth_pst_prop_int(p, &v);
            emit(&s, "%lld (0x%0*llX)", (long long)v, (int)(2 * p->size),
                 (unsigned long long)(p->size == 2 ? (uint16_t)v : (uint32_t)v));
            break;
        case NTH_PST_PT_INT64:
            nth_pst_prop_int(p, &v);
            emit(&s, "%lld", (long long)v);
            break;
        case NTH_PST_PT_BOOLEAN: emit(&s, "%s", d[0] ? "true" : "false"); break;
        case NTH_PST_PT_FLOAT32: {
            float f;
            uint32_t u = rd32(d);
            memcpy(&f, &u, 4);
            emit(&s, "%g", (double)f);
            break;
        }
        case NTH_PST_PT_FLOAT64:
        case NTH_PST_PT_APPTIME: {
            double f;
            uint64_t u = rd64(d);
            memcpy(&f, &u, 8);
            emit(&s, "%g", f);
            break;
        }
        case NTH_PST_PT_CURRENCY:
            nth_pst_prop_int(p, &v);
            emit(&s, "%lld.%04lld", (long long)(v / 10000), (long long)llabs(v % 10000));
            break;
        case NTH_PST_PT_TIME: emit_time(&s, rd64(d)); break;
        case NTH_PST_PT_GUID:
            emit(&s, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", rd32(d), rd16(d + 4),
                 rd16(d + 6), d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
            break;
        case NTH_PST_PT_STRING8:
        case NTH_PST_PT_UNICODE: emit_string(&s, p); break;
        case NTH_PST_PT_OBJECT:
            if (p->size == 8)
                emit(&s, "subnode NID 0x%X, %u bytes", rd32(d), rd32(d + 4));
            else
                emit_hex(&s, d, p->size, max_bytes);
            break;
        default: {
            size_t count;
            if ((p->type & NTH_PST_PT_MV) && nth_pst_prop_mv_count(p, &count) == NTH_PST_OK) {
                /* item by item; with a byte limit, at most 8 items */
                size_t shown = max_bytes && count > 8 ? 8 : count;
                emit(&s, "[%zu item%s]", count, count == 1 ? "" : "s");
                for (size_t i = 0; i < shown; i++) {
                    nth_pst_prop item;
                    nth_pst_prop_mv_item(p, i, &item);
                    size_t need = nth_pst_prop_format(&item, NULL, 0, max_bytes);
                    char small[256];
                    char *text = need < sizeof small ? small : malloc(need + 1);
                    if (!text) break;
                    nth_pst_prop_format(&item, text, need + 1, max_bytes);
                    emit(&s, "%s%s", i ? ", " : " ", text);
                    if (text != small) free(text);
                }
                if (shown < count) emit(&s, ", ...");
            } else {
                emit_hex(&s, d, p->size, max_bytes);
            }
            break;
        }
        }
    }
    return s.len;
}
