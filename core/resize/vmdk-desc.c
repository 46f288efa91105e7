/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-desc.c -- read and rewrite the embedded VMDK descriptor text.
 *
 * A resize changes exactly three values: the CID, the extent line's sector
 * count and ddb.geometry.cylinders.  Everything else (comments, the disk
 * database, unknown keys, CRLF line ends) is kept byte for byte, because
 * VMware tools keep state in the DDB that we have no business dropping. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/vmdk-format.h"

static bool starts(const uint8_t *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n >= k && memcmp(s, lit, k) == 0;
}

/* Parse decimal digits at S[*i..n); false on none or on u64 overflow. */
static bool parse_dec(const uint8_t *s, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        (*i)++;
    }
    *out = v;
    return *i > start;
}

static size_t skip_blank(const uint8_t *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* Does line S (N bytes) set KEY exactly: KEY, blanks, then '='?  A
 * prefix is not enough: "ddb.geometry.headsX" is another key, and taking
 * it for the heads put a wrong cylinder count in the resized image. */
static bool key_is(const uint8_t *s, size_t n, const char *key)
{
    size_t k = strlen(key);
    if (!starts(s, n, key))
        return false;
    k = skip_blank(s, n, k);
    return k < n && s[k] == '=';
}

/* For `key = "value"' lines: the value's range inside the quotes. */
static bool quoted_value(const uint8_t *s, size_t n, size_t *vs, size_t *ve)
{
    const uint8_t *eq = memchr(s, '=', n);
    if (eq == NULL)
        return false;
    size_t i = skip_blank(s, n, (size_t)(eq - s) + 1);
    if (i >= n || s[i] != '"')
        return false;
    const uint8_t *close = memchr(s + i + 1, '"', n - i - 1);
    if (close == NULL)
        return false;
    *vs = i + 1;
    *ve = (size_t)(close - s);
    return true;
}

static bool value_is(const uint8_t *s, size_t vs, size_t ve, const char *lit)
{
    return ve - vs == strlen(lit) && memcmp(s + vs, lit, ve - vs) == 0;
}

int instar_vmdk_desc_parse(const uint8_t *text, size_t len, struct instar_vmdk_desc *d,
                           const char **why)
{
    const uint8_t *nul = memchr(text, 0, len);
    size_t n = nul ? (size_t)(nul - text) : len;
    bool ide = true, have_adapter = false, have_heads = false, have_sectors = false;
    size_t pos = 0;

    memset(d, 0, sizeof *d);
    d->text_len = n;
    while (pos < n) {
        const uint8_t *nl = memchr(text + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - text) : n;
        size_t ls = skip_blank(text, end, pos);
        const uint8_t *l = text + ls;
        size_t ll = end - ls, vs, ve;
        if (ll > 0 && l[ll - 1] == '\r')
            ll--;

        if (starts(l, ll, "CID=")) {
            size_t i = 4;
            while (i < ll && ((l[i] >= '0' && l[i] <= '9') || (l[i] >= 'a' && l[i] <= 'f')
                              || (l[i] >= 'A' && l[i] <= 'F')))
                i++;
            if (i == 4 || d->has_cid) {
                *why = "descriptor CID line is malformed or repeated";
                return INSTAR_E_PARSE;
            }
            d->has_cid = true;
            d->cid_start = ls + 4;
            d->cid_end = ls + i;
        } else if (starts(l, ll, "parentCID=")) {
            if (!(ll >= 18 && (memcmp(l + 10, "ffffffff", 8) == 0
                               || memcmp(l + 10, "FFFFFFFF", 8) == 0)))
                d->has_parent = true;
        } else if (starts(l, ll, "parentFileNameHint")) {
            d->has_parent = true;
        } else if (starts(l, ll, "createType")) {
            if (!quoted_value(l, ll, &vs, &ve)) {
                *why = "descriptor createType line is malformed";
                return INSTAR_E_PARSE;
            }
            d->monolithic_sparse = value_is(l, vs, ve, "monolithicSparse");
        } else if (starts(l, ll, "RW ") || starts(l, ll, "RDONLY ")
                   || starts(l, ll, "NOACCESS ")) {
            size_t i = (size_t)((const uint8_t *)memchr(l, ' ', ll) - l);
            uint64_t sectors;
            i = skip_blank(l, ll, i);
            size_t ns = i;
            if (!parse_dec(l, ll, &i, &sectors) || i >= ll || (l[i] != ' ' && l[i] != '\t')) {
                *why = "descriptor extent line is malformed";
                return INSTAR_E_PARSE;
            }
            d->n_extents++;
            d->rw_start = ls + ns;
            d->rw_end = ls + i;
            d->rw_sectors = sectors;
            i = skip_blank(l, ll, i);
            if (!starts(l + i, ll - i, "SPARSE ") && !starts(l + i, ll - i, "SPARSE\t"))
                d->non_sparse_extent = true;
        } else if (key_is(l, ll, "ddb.geometry.cylinders")) {
            if (!quoted_value(l, ll, &vs, &ve) || d->has_cyl) {
                *why = "descriptor cylinders line is malformed or repeated";
                return INSTAR_E_PARSE;
            }
            d->has_cyl = true;
            d->cyl_start = ls + vs;
            d->cyl_end = ls + ve;
        } else if (key_is(l, ll, "ddb.geometry.heads") || key_is(l, ll, "ddb.geometry.sectors")) {
            bool heads = key_is(l, ll, "ddb.geometry.heads");
            uint64_t v;
            size_t i;
            /* A repeated line is ambiguous: which one would a reader take? */
            if (!quoted_value(l, ll, &vs, &ve) || (i = vs, !parse_dec(l, ve, &i, &v))
                || i != ve || v == 0 || v > 1024 || (heads ? have_heads : have_sectors)) {
                *why = "descriptor geometry line is malformed or repeated";
                return INSTAR_E_PARSE;
            }
            if (heads)
                d->heads = v, have_heads = true;
            else
                d->sectors = v, have_sectors = true;
        } else if (key_is(l, ll, "ddb.adapterType")) {
            /* The adapter picks the default heads (16 for ide, else 255):
             * an unreadable or repeated line leaves the cylinders to write
             * unknown, so it is refused rather than taken for ide. */
            if (!quoted_value(l, ll, &vs, &ve) || have_adapter) {
                *why = "descriptor adapterType line is malformed or repeated";
                return INSTAR_E_PARSE;
            }
            have_adapter = true;
            ide = value_is(l, vs, ve, "ide");
        }
        pos = end + 1;
    }
    /* qemu's defaults when a line is missing: 16 heads for ide, else 255. */
    if (!have_heads)
        d->heads = ide ? 16 : 255;
    if (!have_sectors)
        d->sectors = 63;
    if (!d->has_cid) {
        *why = "descriptor has no CID line";
        return INSTAR_E_PARSE;
    }
    return INSTAR_OK;
}

uint64_t instar_vmdk_cylinders(uint64_t bytes, uint64_t heads, uint64_t sectors)
{
    uint64_t per = heads * sectors * 512;   /* heads, sectors <= 1024: no overflow */
    return per ? bytes / per : 0;
}

static size_t fmt_u64(char *buf, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t n = 0, k = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n)
        buf[k++] = tmp[--n];
    return k;
}

struct repl {
    size_t start, end;
    char text[24];
    size_t len;
};

int instar_vmdk_desc_rewrite(const uint8_t *text, const struct instar_vmdk_desc *d,
                             uint32_t new_cid, uint64_t new_sectors,
                             uint8_t *out, size_t out_cap)
{
    struct repl r[3];
    size_t nr = 0, pos = 0, o = 0;

    r[nr].start = d->cid_start, r[nr].end = d->cid_end;
    r[nr].len = fmt_u64(r[nr].text, new_cid, 16), nr++;
    r[nr].start = d->rw_start, r[nr].end = d->rw_end;
    r[nr].len = fmt_u64(r[nr].text, new_sectors, 10), nr++;
    if (d->has_cyl) {
        uint64_t c = instar_vmdk_cylinders(new_sectors * 512, d->heads, d->sectors);
        r[nr].start = d->cyl_start, r[nr].end = d->cyl_end;
        r[nr].len = fmt_u64(r[nr].text, c, 10), nr++;
    }
    /* Order the replacements by position (there are at most three). */
    for (size_t i = 1; i < nr; i++)
        for (size_t j = i; j > 0 && r[j].start < r[j - 1].start; j--) {
            struct repl t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    memset(out, 0, out_cap);
    for (size_t i = 0; i < nr; i++) {
        size_t keep = r[i].start - pos;
        if (r[i].start < pos || keep > out_cap - o || r[i].len > out_cap - o - keep)
            return INSTAR_E_TOO_LARGE;
        memcpy(out + o, text + pos, keep);
        o += keep;
        memcpy(out + o, r[i].text, r[i].len);
        o += r[i].len;
        pos = r[i].end;
    }
    if (d->text_len - pos > out_cap - o)
        return INSTAR_E_TOO_LARGE;
    memcpy(out + o, text + pos, d->text_len - pos);
    return INSTAR_OK;
}
