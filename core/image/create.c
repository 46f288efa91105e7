/* create.c -- create options (qemu-img's -o key=value) and dispatch. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/engine.h"
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

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0) {
        *out = true;
        return INSTAR_OK;
    }
    if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0) {
        *out = false;
        return INSTAR_OK;
    }
    return INSTAR_E_INVALID_OPTION;
}

static int parse_u32_size(const char *v, uint32_t *out)
{
    uint64_t n;
    if (instar_parse_size(v, &n) != INSTAR_OK || n > UINT32_MAX)
        return INSTAR_E_INVALID_OPTION;
    *out = (uint32_t)n;
    return INSTAR_OK;
}

static int copy_string(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap)
        return INSTAR_E_INVALID_OPTION;
    memcpy(dst, v, n + 1);
    return INSTAR_OK;
}

int instar_create_opts_set(struct instar_create_opts *o, const char *key,
                           const char *value, struct instar_diag *diag)
{
    int rc = INSTAR_E_INVALID_OPTION;
    enum instar_format f = o->format;
    bool q = f == INSTAR_FORMAT_QCOW2, vpc = f == INSTAR_FORMAT_VPC;
    bool vhdx = f == INSTAR_FORMAT_VHDX, vmdk = f == INSTAR_FORMAT_VMDK;

    if (strcmp(key, "size") == 0) {
        rc = instar_parse_size(value, &o->size);
    } else if (strcmp(key, "preallocation") == 0) {
        rc = instar_prealloc_parse(value, &o->prealloc);
        if (rc != INSTAR_OK)
            return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                                   "Invalid parameter '%s'", value);
    } else if (q && strcmp(key, "cluster_size") == 0) {
        rc = parse_u32_size(value, &o->cluster_size);
        o->cluster_size_set = rc == INSTAR_OK;
    } else if (q && strcmp(key, "extended_l2") == 0) {
        rc = parse_bool(value, &o->extended_l2);
    } else if (q && strcmp(key, "lazy_refcounts") == 0) {
        rc = parse_bool(value, &o->lazy_refcounts);
    } else if (q && strcmp(key, "refcount_bits") == 0) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (errno == 0 && *end == '\0' && end != value && v <= UINT32_MAX) {
            o->refcount_bits = (uint32_t)v;
            o->refcount_bits_set = true;
            rc = INSTAR_OK;
        }
    } else if (q && strcmp(key, "compat") == 0) {
        if (strcmp(value, "0.10") == 0 || strcmp(value, "v2") == 0) {
            o->compat = 2;
            rc = INSTAR_OK;
        } else if (strcmp(value, "1.1") == 0 || strcmp(value, "v3") == 0) {
            o->compat = 3;
            rc = INSTAR_OK;
        } else {
            return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                                   "Invalid parameter '%s'", value);
        }
    } else if ((vpc || vhdx || vmdk) && strcmp(key, "subformat") == 0) {
        rc = copy_string(o->subformat, sizeof o->subformat, value);
    } else if (vpc && strcmp(key, "force_size") == 0) {
        rc = parse_bool(value, &o->force_size);
    } else if (vhdx && strcmp(key, "block_size") == 0) {
        rc = parse_u32_size(value, &o->block_size);
    } else if (vhdx && strcmp(key, "log_size") == 0) {
        rc = parse_u32_size(value, &o->log_size);
    } else if (vhdx && strcmp(key, "block_state_zero") == 0) {
        rc = parse_bool(value, &o->block_state_zero);
    } else if (vmdk && strcmp(key, "adapter_type") == 0) {
        rc = copy_string(o->adapter_type, sizeof o->adapter_type, value);
    } else if (vmdk && strcmp(key, "zeroed_grain") == 0) {
        rc = parse_bool(value, &o->zeroed_grain);
    } else {
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Invalid parameter '%s'", key);
    }
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Parameter '%s' expects a valid value, not '%s'", key, value);
    return INSTAR_OK;
}

int instar_image_create(struct instar_io *io, const struct instar_create_opts *o,
                        struct instar_diag *diag)
{
    const struct instar_format_engine *e = instar_engine_for(o->format);
    struct instar_create_opts rounded = *o;
    if (e == NULL || e->create == NULL)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_FORMAT,
                               "Unknown image format '%s'",
                               instar_format_name(o->format));
    /* qemu-img create rounds every size up to 512, silently. */
    if (o->size > (uint64_t)INT64_MAX || !instar_align_up_u64(o->size, 512, &rounded.size)
        || rounded.size > (uint64_t)INT64_MAX)
        return instar_diag_set(diag, INSTAR_E_INVALID_SIZE,
                               "Invalid image size specified. Must be between 0 and %" PRId64 ".",
                               INT64_MAX);
    return e->create(io, &rounded, diag);
}

int instar_create_file(const char *path, const struct instar_create_opts *o,
                       struct instar_diag *diag)
{
    struct instar_fd_io fio;
    const struct instar_format_engine *e = instar_engine_for(o->format);
    if (e == NULL || e->create == NULL)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_FORMAT,
                               "Unknown image format '%s'",
                               instar_format_name(o->format));
    /* No O_TRUNC: like qemu's file driver, take the create locks first
     * and empty the file only once nobody else has it open. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (diag)
            diag->sys_errno = errno;
        return instar_diag_set(diag, INSTAR_E_IO, "Could not create '%s': %s",
                               path, strerror(errno));
    }
    struct instar_lock lk;
    uint32_t perm, shared;
    instar_lock_init(&lk, fd);
    instar_lock_perms(INSTAR_LOCK_CREATE, o->format, &perm, &shared);
    int lrc = instar_lock_acquire(&lk, perm, shared, path, diag);
    if (lrc != INSTAR_OK) {
        /* Someone else's image: leave it exactly as it is. */
        if (diag) {
            char msg[sizeof diag->message];
            memcpy(msg, diag->message, sizeof msg);
            instar_diag_set(diag, lrc, "%s: %s", path, msg);
        }
        close(fd);
        return lrc;
    }
    while (ftruncate(fd, 0) != 0) {
        if (errno == EINTR)
            continue;
        int err = errno;
        if (diag)
            diag->sys_errno = err;
        close(fd);
        return instar_diag_set(diag, INSTAR_E_IO, "Could not create '%s': %s",
                               path, strerror(err));
    }
    instar_fd_io_init(&fio, fd);
    struct instar_create_opts named = *o;
    if (named.path == NULL)
        named.path = path;
    int rc = instar_image_create(&fio.io, &named, diag);
    instar_lock_release(&lk);
    if (close(fd) != 0 && rc == INSTAR_OK)
        rc = instar_diag_set(diag, INSTAR_E_IO, "Could not close '%s': %s",
                             path, strerror(errno));
    /* qemu-img's qcow2 create deletes the file when it fails (options
     * refused, size too large, I/O error), so no half-made image remains. */
    if (rc != INSTAR_OK && o->format == INSTAR_FORMAT_QCOW2)
        (void)unlink(path);
    return rc;
}
