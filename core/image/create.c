/* SPDX-License-Identifier: GPL-3.0-or-later */
/* create.c -- create options (qemu-img's -o key=value, typed and worded as
 * qemu 7.2 parses them), the checks before any I/O, and the file step. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/engine.h"
#include "image/qcow2-create.h"
#include "image/vhdx-create.h"
#include "image/vmdk-create.h"
#include "instar/error.h"
#include "instar/image.h"
#include "instar/lock.h"
#include "util/checked.h"

void instar_create_opts_init(struct instar_create_opts *o, enum instar_format fmt)
{
    memset(o, 0, sizeof *o);
    o->format = fmt;
    o->block_state_zero = true;
}

/* qemu's option typing (util/qemu-option.c): each type has its messages. */
static int bad_bool(const char *key, struct instar_diag *diag)
{
    return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                           "Parameter '%s' expects 'on' or 'off'", key);
}

static int parse_bool(const char *key, const char *v, bool *out, struct instar_diag *diag)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return INSTAR_OK;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return INSTAR_OK;
        }
    }
    return bad_bool(key, diag);
}

static int parse_size_opt(const char *key, const char *v, uint64_t *out,
                          struct instar_diag *diag)
{
    int rc = instar_parse_size(v, out);
    if (rc == INSTAR_E_SIZE_RANGE)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Value '%s' is out of range for parameter '%s'", v, key);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Parameter '%s' expects a non-negative number below 2^64\n"
                               "Optional suffix k, M, G, T, P or E means kilo-, mega-, "
                               "giga-, tera-, peta-\nand exabytes, respectively.", key);
    return INSTAR_OK;
}

/* qemu_strtou64 with base 0: strtoull's syntax (octal, hex, a sign,
 * leading blanks; "-1" wraps), the whole string consumed. */
static int parse_number_opt(const char *key, const char *v, uint64_t *out,
                            struct instar_diag *diag)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (end == v || *end != '\0')
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Parameter '%s' expects a number", key);
    if (errno == ERANGE)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Value '%s' is too large for parameter '%s'", v, key);
    *out = (uint64_t)n;
    return INSTAR_OK;
}

/* The message an enumerated value qemu refuses gets: qcow2's options go
 * through QAPI ("does not accept value"), the file layer and vmdk use
 * qemu_opt's "invalid parameter value". */
static int bad_enum(const struct instar_create_opts *o, const char *key, const char *v,
                    struct instar_diag *diag)
{
    bool qapi = o->format == INSTAR_FORMAT_QCOW2
                || (strcmp(key, "subformat") == 0 && o->format != INSTAR_FORMAT_VMDK);
    if (qapi)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Parameter '%s' does not accept value '%s'", key, v);
    return instar_diag_set(diag, INSTAR_E_INVALID_OPTION, "invalid parameter value: %s", v);
}

/* A string option kept for the format's check.  No valid value is
 * anywhere near CAP, so a longer one is refused here. */
static int copy_enum(const struct instar_create_opts *o, const char *key, char *dst,
                     size_t cap, bool *set, const char *v, struct instar_diag *diag)
{
    size_t n = strlen(v);
    if (n >= cap)
        return bad_enum(o, key, v, diag);
    memcpy(dst, v, n + 1);
    *set = true;
    return INSTAR_OK;
}

/* RC, after noting in *SET that the option was given when RC is OK. */
static int note_set(int rc, bool *set)
{
    if (rc == INSTAR_OK)
        *set = true;
    return rc;
}

int instar_create_opts_set(struct instar_create_opts *o, const char *key,
                           const char *value, struct instar_diag *diag)
{
    enum instar_format f = o->format;
    bool q = f == INSTAR_FORMAT_QCOW2, vhd = f == INSTAR_FORMAT_VPC;
    bool vhdx = f == INSTAR_FORMAT_VHDX, vmdk = f == INSTAR_FORMAT_VMDK;

    if (strcmp(key, "size") == 0)
        return note_set(parse_size_opt(key, value, &o->size, diag), &o->size_set);
    if (strcmp(key, "preallocation") == 0) {
        if (instar_prealloc_parse(value, &o->prealloc) != INSTAR_OK)
            return bad_enum(o, key, value, diag);
        return INSTAR_OK;
    }
    if (q && strcmp(key, "cluster_size") == 0)
        return note_set(parse_size_opt(key, value, &o->cluster_size, diag), &o->cluster_size_set);
    if (q && strcmp(key, "extended_l2") == 0)
        return parse_bool(key, value, &o->extended_l2, diag);
    if (q && strcmp(key, "lazy_refcounts") == 0)
        return parse_bool(key, value, &o->lazy_refcounts, diag);
    if (q && strcmp(key, "refcount_bits") == 0)
        return note_set(parse_number_opt(key, value, &o->refcount_bits, diag),
                        &o->refcount_bits_set);
    if (q && strcmp(key, "compat") == 0) {
        /* QAPI names the field "version". */
        if (strcmp(value, "0.10") == 0 || strcmp(value, "v2") == 0)
            o->compat = 2;
        else if (strcmp(value, "1.1") == 0 || strcmp(value, "v3") == 0)
            o->compat = 3;
        else
            return bad_enum(o, "version", value, diag);
        return INSTAR_OK;
    }
    if ((vhd || vhdx || vmdk) && strcmp(key, "subformat") == 0)
        return copy_enum(o, key, o->subformat, sizeof o->subformat, &o->subformat_set,
                         value, diag);
    if (vhd && strcmp(key, "force_size") == 0)
        return parse_bool(key, value, &o->force_size, diag);
    if (vhdx && strcmp(key, "block_size") == 0)
        return parse_size_opt(key, value, &o->block_size, diag);
    if (vhdx && strcmp(key, "log_size") == 0)
        return note_set(parse_size_opt(key, value, &o->log_size, diag), &o->log_size_set);
    if (vhdx && strcmp(key, "block_state_zero") == 0)
        return parse_bool(key, value, &o->block_state_zero, diag);
    if (vmdk && strcmp(key, "adapter_type") == 0)
        return copy_enum(o, key, o->adapter_type, sizeof o->adapter_type,
                         &o->adapter_type_set, value, diag);
    if (vmdk && strcmp(key, "zeroed_grain") == 0)
        return parse_bool(key, value, &o->zeroed_grain, diag);
    return instar_diag_set(diag, INSTAR_E_INVALID_OPTION, "Invalid parameter '%s'", key);
}

/* qemu's get_opt_value: up to the first single ',' with ",," read as one
 * comma.  Returns the end of the value (at the ',' or the '\0'). */
static const char *opt_value(const char *p, char *out)
{
    size_t n = 0;
    for (;;) {
        if (*p == '\0')
            break;
        if (*p == ',') {
            if (p[1] != ',')
                break;
            p++;
        }
        if (out)
            out[n] = *p;
        n++;
        p++;
    }
    if (out)
        out[n] = '\0';
    return p;
}

bool instar_create_option_list_valid(const char *list)
{
    size_t len = strlen(list), i = len;
    if (len == 0 || list[0] == ',')
        return false;
    while (i > 0 && list[i - 1] == ',')
        i--;
    /* An odd run of trailing commas would escape the separator qemu-img
     * puts between two -o lists. */
    return (len - i) % 2 == 0;
}

bool instar_create_option_list_wants_help(const char *list)
{
    size_t len = strlen(list);
    char *buf = malloc(len + 1);
    bool help = false;
    if (buf == NULL)
        return false;
    for (const char *p = list; *p && !help;) {
        p = opt_value(p, buf);
        if (*p)
            p++;
        help = strcmp(buf, "help") == 0 || strcmp(buf, "?") == 0;
    }
    free(buf);
    return help;
}

int instar_create_opts_parse_list(struct instar_create_opts *o, const char *list,
                                  struct instar_diag *diag)
{
    size_t len = strlen(list);
    char *name = malloc(len + 1), *value = malloc(len + 4);
    int rc = INSTAR_OK;
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        return instar_diag_set(diag, INSTAR_E_NOMEM, "%s", instar_strerror(INSTAR_E_NOMEM));
    }
    for (const char *p = list; *p && rc == INSTAR_OK;) {
        size_t n = strcspn(p, "=,");
        memcpy(name, p, n);
        name[n] = '\0';
        p += n;
        if (*p == '=') {
            p = opt_value(p + 1, value);
        } else if (strncmp(name, "no", 2) == 0) {
            /* A bare "noKEY" is KEY=off, a bare "KEY" is KEY=on. */
            memmove(name, name + 2, n - 1);
            strcpy(value, "off");
        } else {
            strcpy(value, "on");
        }
        if (*p == ',')
            p++;
        rc = instar_create_opts_set(o, name, value, diag);
    }
    free(name);
    free(value);
    return rc;
}

typedef int create_check_fn(const struct instar_create_opts *, struct instar_diag *);

static create_check_fn *check_for(enum instar_format fmt)
{
    switch (fmt) {
    case INSTAR_FORMAT_RAW: return instar_raw_create_check;
    case INSTAR_FORMAT_QCOW2: return instar_qcow2_create_check;
    case INSTAR_FORMAT_VPC: return instar_vhd_create_check;
    case INSTAR_FORMAT_VHDX: return instar_vhdx_create_check;
    case INSTAR_FORMAT_VMDK: return instar_vmdk_create_check;
    default: return NULL;
    }
}

/* Rounded as qemu-img create rounds every size: up to 512, silently. */
static int rounded_opts(const struct instar_create_opts *o, struct instar_create_opts *out,
                        const struct instar_format_engine **e, struct instar_diag *diag)
{
    *e = instar_engine_for(o->format);
    if (*e == NULL || (*e)->create == NULL || check_for(o->format) == NULL)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_FORMAT,
                               "Unknown image format '%s'",
                               instar_format_name(o->format));
    *out = *o;
    if (!instar_align_up_u64(o->size, 512, &out->size))
        out->size = UINT64_MAX;     /* past every format's limit */
    return INSTAR_OK;
}

int instar_create_check(const struct instar_create_opts *o, struct instar_diag *diag)
{
    const struct instar_format_engine *e;
    struct instar_create_opts r;
    int rc = rounded_opts(o, &r, &e, diag);
    return rc == INSTAR_OK ? check_for(r.format)(&r, diag) : rc;
}

const char *instar_create_io_reason(const struct instar_io *io, int rc)
{
    if (rc == INSTAR_E_IO && io->sys_errno != 0)
        return strerror(io->sys_errno);
    return instar_strerror(rc);
}

int instar_image_create(struct instar_io *io, const struct instar_create_opts *o,
                        struct instar_diag *diag)
{
    const struct instar_format_engine *e;
    struct instar_create_opts r;
    int rc = rounded_opts(o, &r, &e, diag);
    if (rc == INSTAR_OK)
        rc = check_for(r.format)(&r, diag);
    return rc == INSTAR_OK ? e->create(io, &r, diag) : rc;
}

/* A device node as qemu's host_device driver treats it: never truncated
 * (strace shows no ftruncate on one), and asking it to grow is refused
 * ("Cannot grow device files").  qemu's vmdk driver never asks: on a
 * zero-length device its create succeeds, so ours does too.
 *
 * The engines write images into an empty file and leave what they do not
 * write to read as zeros.  A device holds old data there, so it is made
 * to behave like an emptied file: LOGICAL is the file length so far;
 * writing past it, or lengthening it, zeroes the gap first, and reads
 * past it see zeros. */
struct dev_io {
    struct instar_io io;
    struct instar_fd_io *inner;
    uint64_t length;            /* the device's own length */
    uint64_t logical;           /* the emptied file's length so far */
    bool fixed_length;          /* growing is refused (all but vmdk) */
    bool grow_refused;
};

#define DEV_IO(io) ((struct dev_io *)(io))

static int dev_pass(struct instar_io *io, int rc)
{
    io->sys_errno = DEV_IO(io)->inner->io.sys_errno;
    return rc;
}

/* Make [logical, end) zeros and extend the logical length to END. */
static int dev_extend(struct instar_io *io, uint64_t end)
{
    struct dev_io *d = DEV_IO(io);
    struct instar_io *in = &d->inner->io;
    if (end <= d->logical)
        return INSTAR_OK;
    int rc = dev_pass(io, in->ops->zero(in, d->logical, end - d->logical));
    if (rc == INSTAR_OK)
        d->logical = end;
    return rc;
}

static int dev_pread(struct instar_io *io, void *buf, size_t len, uint64_t off)
{
    struct dev_io *d = DEV_IO(io);
    struct instar_io *in = &d->inner->io;
    uint8_t *p = buf;
    size_t n = off >= d->logical ? 0 : (d->logical - off < len ? (size_t)(d->logical - off) : len);
    memset(p + n, 0, len - n);
    return n == 0 ? INSTAR_OK : dev_pass(io, in->ops->pread(in, p, n, off));
}

static int dev_pwrite(struct instar_io *io, const void *buf, size_t len, uint64_t off)
{
    struct dev_io *d = DEV_IO(io);
    struct instar_io *in = &d->inner->io;
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return dev_pass(io, INSTAR_E_OVERFLOW);
    int rc = dev_extend(io, off);
    if (rc == INSTAR_OK)
        rc = dev_pass(io, in->ops->pwrite(in, buf, len, off));
    if (rc == INSTAR_OK && end > d->logical)
        d->logical = end;
    return rc;
}

static int dev_get_size(struct instar_io *io, uint64_t *size)
{
    *size = DEV_IO(io)->logical;
    return INSTAR_OK;
}

static int dev_set_size(struct instar_io *io, uint64_t size)
{
    struct dev_io *d = DEV_IO(io);
    if (size > d->length && d->fixed_length) {
        d->grow_refused = true;
        io->sys_errno = EINVAL;
        return INSTAR_E_IO;
    }
    if (size <= d->logical) {
        d->logical = size;
        return INSTAR_OK;
    }
    return dev_extend(io, size);
}

static int dev_zero(struct instar_io *io, uint64_t off, uint64_t len)
{
    struct instar_io *in = &DEV_IO(io)->inner->io;
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return dev_pass(io, INSTAR_E_OVERFLOW);
    int rc = dev_extend(io, off);
    if (rc == INSTAR_OK)
        rc = dev_pass(io, in->ops->zero(in, off, len));
    if (rc == INSTAR_OK && end > DEV_IO(io)->logical)
        DEV_IO(io)->logical = end;
    return rc;
}

static int dev_allocate(struct instar_io *io, uint64_t off, uint64_t len)
{
    /* A device's blocks exist already; what matters is that they read
     * as zeros, as a newly allocated file range does. */
    return dev_zero(io, off, len);
}

static int dev_sync(struct instar_io *io)
{
    struct instar_io *in = &DEV_IO(io)->inner->io;
    return dev_pass(io, in->ops->sync(in));
}

/* A device's blocks exist already: there is nothing to reserve or give
 * back, and its length is fixed. */
static int dev_reserve(struct instar_io *io, uint64_t off, uint64_t len)
{
    (void)io;
    (void)off;
    (void)len;
    return INSTAR_OK;
}

static int dev_unreserve(struct instar_io *io, uint64_t length)
{
    (void)io;
    (void)length;
    return INSTAR_OK;
}

static const struct instar_io_ops dev_ops = {
    .pread = dev_pread,
    .pwrite = dev_pwrite,
    .get_size = dev_get_size,
    .set_size = dev_set_size,
    .zero = dev_zero,
    .allocate = dev_allocate,
    .clear = dev_zero,
    .reserve = dev_reserve,
    .unreserve = dev_unreserve,
    .sync = dev_sync,
};

static int open_failed(const char *path, int err, struct instar_diag *diag)
{
    if (diag)
        diag->sys_errno = err;
    return instar_diag_set(diag, INSTAR_E_IO, "Could not create '%s': %s", path, strerror(err));
}

/* Open PATH for writing without truncating it into *FD.  *CREATED is
 * set when this call made the file (O_EXCL decides, not a racy look-up). */
static int open_target(const char *path, int *fd, bool *created, struct instar_diag *diag)
{
    *created = false;
    for (int tries = 0; tries < 8; tries++) {
        *fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (*fd >= 0) {
            *created = true;
            return INSTAR_OK;
        }
        if (errno != EEXIST)
            break;
        *fd = open(path, O_RDWR | O_CLOEXEC);
        if (*fd >= 0)
            return INSTAR_OK;
        if (errno != ENOENT)
            break;
        /* A dangling symlink (or removed in between): qemu creates the
         * target.  What a symlink points at is never ours to remove. */
        *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (*fd >= 0)
            return INSTAR_OK;
        if (errno != ENOENT)
            break;
    }
    return open_failed(path, errno, diag);
}

static int too_large(enum instar_format fmt, struct instar_diag *diag)
{
    /* qemu-img prints this for EFBIG from any layer; the hint is added
     * where the format has a cluster size. */
    return instar_diag_set(diag, INSTAR_E_TOO_LARGE,
                           "The image size is too large for file format '%s'%s",
                           instar_format_name(fmt),
                           fmt == INSTAR_FORMAT_QCOW2 ? " (try using a larger cluster size)" : "");
}

int instar_create_file(const char *path, const struct instar_create_opts *o,
                       struct instar_diag *diag)
{
    struct instar_fd_io fio;
    struct dev_io dev;
    struct instar_io *io = &fio.io;
    struct stat st = {0};       /* st_mode 0 (not regular) if fstat fails */
    bool created, device = false, locked = false;
    struct instar_lock lk;
    uint32_t perm, shared;
    struct instar_create_opts named = *o;
    if (named.path == NULL)
        named.path = path;

    /* Every option and the size first: a refusal leaves PATH alone. */
    int rc = instar_create_check(&named, diag);
    if (rc != INSTAR_OK)
        return rc;
    int fd;
    rc = open_target(path, &fd, &created, diag);
    if (rc != INSTAR_OK)
        return rc;
    instar_fd_io_init(&fio, fd);
    if (fstat(fd, &st) != 0) {
        rc = instar_diag_set(diag, INSTAR_E_IO, "Could not stat '%s': %s", path, strerror(errno));
        goto out;
    }
    /* Like qemu's file driver: take the create locks before emptying
     * anything, so an image a running qemu holds is left exactly as is. */
    instar_lock_init(&lk, fd);
    instar_lock_perms(INSTAR_LOCK_CREATE, o->format, &perm, &shared);
    rc = instar_lock_acquire(&lk, perm, shared, path, diag);
    if (rc != INSTAR_OK) {
        if (diag) {
            char msg[sizeof diag->message];
            memcpy(msg, diag->message, sizeof msg);
            instar_diag_set(diag, rc, "%s: %s", path, msg);
        }
        goto out;
    }
    locked = true;
    device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
    if (device) {
        off_t end = lseek(fd, 0, SEEK_END);
        memset(&dev, 0, sizeof dev);
        dev.io.ops = &dev_ops;
        dev.inner = &fio;
        dev.length = end > 0 ? (uint64_t)end : 0;
        dev.fixed_length = o->format != INSTAR_FORMAT_VMDK;
        /* qemu's generic device create takes no preallocation. */
        if (o->format == INSTAR_FORMAT_RAW && o->prealloc != INSTAR_PREALLOC_OFF) {
            rc = instar_diag_set(diag, INSTAR_E_UNSUPPORTED_PREALLOC,
                                 "Unsupported preallocation mode '%s'",
                                 instar_prealloc_name(o->prealloc));
            goto out;
        }
        io = &dev.io;
    } else {
        /* A raw image's length is its size: grow an existing file to it
         * first, which loses nothing, so a length the filesystem refuses
         * (EFBIG) leaves the file as it was. */
        if (o->format == INSTAR_FORMAT_RAW && S_ISREG(st.st_mode) && !created
            && named.size > (uint64_t)st.st_size) {
            uint64_t len;
            if (!instar_align_up_u64(named.size, 512, &len))
                len = UINT64_MAX;   /* the raw check refused that already */
            rc = io->ops->set_size(io, len);
            if (rc == INSTAR_E_FILE_TOO_LARGE) {
                rc = too_large(o->format, diag);
                goto out;
            }
            if (rc != INSTAR_OK) {
                rc = instar_diag_set(diag, rc, "Could not resize file: %s",
                                     instar_create_io_reason(io, rc));
                goto out;
            }
        }
        /* Emptied as qemu's file driver does it; a FIFO or socket answers
         * with ftruncate's own error, and is left in place. */
        rc = io->ops->set_size(io, 0);
        if (rc != INSTAR_OK) {
            rc = instar_diag_set(diag, rc, "Could not resize file: %s",
                                 instar_create_io_reason(io, rc));
            goto out;
        }
    }
    rc = instar_image_create(io, &named, diag);
    if (rc == INSTAR_E_FILE_TOO_LARGE)
        rc = too_large(o->format, diag);
    else if (rc != INSTAR_OK && device && dev.grow_refused)
        rc = instar_diag_set(diag, rc, "Cannot grow device files");
out:
    if (locked)
        instar_lock_release(&lk);
    if (rc != INSTAR_OK && io->sys_errno != 0 && diag)
        diag->sys_errno = io->sys_errno;
    if (close(fd) != 0 && rc == INSTAR_OK)
        rc = instar_diag_set(diag, INSTAR_E_IO, "Could not close '%s': %s",
                             path, strerror(errno));
    /* qemu-img's qcow2 create deletes a failed image.  Only a regular
     * file this call made is removed, and only while PATH still names it. */
    if (rc != INSTAR_OK && o->format == INSTAR_FORMAT_QCOW2 && created
        && S_ISREG(st.st_mode)) {
        struct stat now;
        if (lstat(path, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
            (void)unlink(path);
    }
    return rc;
}
