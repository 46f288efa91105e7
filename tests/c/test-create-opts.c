/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-create-opts.c -- create option lists read as qemu-img 7.2 reads
 * them (the answers measured with qemu-img), and the checks that run
 * before any I/O.  Also exercised under ASan: the list parser walks
 * hand-made buffers. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "tap.h"

static int parse(enum instar_format f, const char *list, struct instar_create_opts *o,
                 struct instar_diag *d)
{
    instar_create_opts_init(o, f);
    instar_diag_clear(d);
    return instar_create_opts_parse_list(o, list, d);
}

/* The options TEXT of format F for SIZE bytes, as instar_create_check
 * judges them (parse errors are for test_parse to check). */
static int checked(enum instar_format f, const char *text, uint64_t size,
                   struct instar_create_opts *o, struct instar_diag *d)
{
    parse(f, text, o, d);
    o->size = size;
    return instar_create_check(o, d);
}

static void test_list_syntax(void)
{
    ok(!instar_create_option_list_valid(""), "empty list invalid");
    ok(!instar_create_option_list_valid(","), "',' invalid");
    ok(!instar_create_option_list_valid(",size=1M"), "leading comma invalid");
    ok(!instar_create_option_list_valid("size=1M,"), "one trailing comma invalid");
    ok(instar_create_option_list_valid("size=1M,,"), "',,' at the end is an escape: valid");
    ok(!instar_create_option_list_valid("size=1M,,,"), "three trailing commas invalid");
    ok(instar_create_option_list_valid("a=1,b=2"), "plain list valid");

    ok(instar_create_option_list_wants_help("help"), "help");
    ok(instar_create_option_list_wants_help("?"), "?");
    ok(instar_create_option_list_wants_help("size=1M,help"), "help after an option");
    ok(!instar_create_option_list_wants_help("help=1"), "help=1 is a key, not help");
    ok(!instar_create_option_list_wants_help("a=x,,help"), "escaped ',,help' is part of a value");
}

static void test_parse(void)
{
    struct instar_create_opts o;
    struct instar_diag d;

    ok(parse(INSTAR_FORMAT_QCOW2, "lazy_refcounts", &o, &d) == INSTAR_OK && o.lazy_refcounts,
       "bare key is key=on");
    ok(parse(INSTAR_FORMAT_QCOW2, "lazy_refcounts=on,nolazy_refcounts", &o, &d) == INSTAR_OK
       && !o.lazy_refcounts, "bare noKEY is key=off, later wins");
    ok(parse(INSTAR_FORMAT_RAW, "nofoo", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Invalid parameter 'foo'") == 0, "nofoo names 'foo' (%s)", d.message);
    ok(parse(INSTAR_FORMAT_RAW, "=1M", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Invalid parameter ''") == 0, "empty key");
    ok(parse(INSTAR_FORMAT_QCOW2, "compat=1.1,,", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Parameter 'version' does not accept value '1.1,'") == 0,
       "',,' is a comma in the value (%s)", d.message);
    ok(parse(INSTAR_FORMAT_QCOW2, "cluster_size=64k,cluster_size=4k", &o, &d) == INSTAR_OK
       && o.cluster_size == 4096 && o.cluster_size_set, "duplicated key: the last wins");
    ok(parse(INSTAR_FORMAT_QCOW2, "size=abc,size=1M", &o, &d) == INSTAR_E_INVALID_OPTION,
       "a bad element stops the parse even if a later one is good");
    ok(parse(INSTAR_FORMAT_RAW, "size=1M", &o, &d) == INSTAR_OK && o.size_set
       && o.size == 1048576, "size= sets the size and says so");
    ok(parse(INSTAR_FORMAT_QCOW2, "refcount_bits=010", &o, &d) == INSTAR_OK
       && o.refcount_bits == 8, "numbers are strtoull base 0 (010 is 8)");
    ok(parse(INSTAR_FORMAT_QCOW2, "refcount_bits=18446744073709551616", &o, &d)
       == INSTAR_E_INVALID_OPTION
       && strstr(d.message, "is too large for parameter 'refcount_bits'") != NULL,
       "number out of range (%s)", d.message);
    ok(parse(INSTAR_FORMAT_QCOW2, "refcount_bits=16k", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Parameter 'refcount_bits' expects a number") == 0, "not a number");
    ok(parse(INSTAR_FORMAT_QCOW2, "cluster_size=16E", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Value '16E' is out of range for parameter 'cluster_size'") == 0,
       "size out of range");
    ok(parse(INSTAR_FORMAT_QCOW2, "extended_l2=ON", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Parameter 'extended_l2' expects 'on' or 'off'") == 0,
       "booleans are case-sensitive");
    ok(parse(INSTAR_FORMAT_VPC, "force_size=y", &o, &d) == INSTAR_OK && o.force_size, "y is on");
    ok(parse(INSTAR_FORMAT_VMDK, "preallocation=bogus", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "invalid parameter value: bogus") == 0, "file-layer enum wording");
    ok(parse(INSTAR_FORMAT_QCOW2, "preallocation=OFF", &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Parameter 'preallocation' does not accept value 'OFF'") == 0,
       "qcow2 enum wording");
}

/* The checks before I/O: what qemu refuses only after truncating. */
static void test_check(void)
{
    struct instar_create_opts o;
    struct instar_diag d;

    ok(checked(INSTAR_FORMAT_VHDX, "log_size=0", 1 << 20, &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "Log size must be a multiple of 1 MB") == 0,
       "vhdx log_size=0 refused (%s)", d.message);
    ok(checked(INSTAR_FORMAT_VHDX, "log_size=1", 1 << 20, &o, &d) == INSTAR_OK,
       "vhdx log_size=1 rounds up to 1 MiB");
    ok(checked(INSTAR_FORMAT_VHDX, "subformat=", 1 << 20, &o, &d) == INSTAR_E_INVALID_OPTION,
       "vhdx explicit empty subformat");
    ok(checked(INSTAR_FORMAT_VMDK, "adapter_type=", 1 << 20, &o, &d) == INSTAR_E_INVALID_OPTION
       && strcmp(d.message, "invalid parameter value: ") == 0, "vmdk explicit empty adapter");
    ok(checked(INSTAR_FORMAT_VMDK, "subformat=monolithicFlat", 1 << 20, &o, &d)
       == INSTAR_E_UNSUPPORTED_SUBFORMAT, "vmdk monolithicFlat");
    ok(checked(INSTAR_FORMAT_QCOW2, "cluster_size=3000", 1 << 20, &o, &d)
       == INSTAR_E_INVALID_OPTION, "qcow2 bad cluster size");
    ok(checked(INSTAR_FORMAT_QCOW2, "", UINT64_C(1) << 63, &o, &d) != INSTAR_OK
       && strcmp(d.message, "Could not resize image: Image size cannot be negative") == 0,
       "qcow2 8E (%s)", d.message);
    ok(checked(INSTAR_FORMAT_RAW, "", UINT64_C(1) << 63, &o, &d) != INSTAR_OK
       && strcmp(d.message, "Could not resize file: Invalid argument") == 0,
       "raw 8E: what ftruncate would say (%s)", d.message);
    /* rounding up to 512 overflows */
    ok(checked(INSTAR_FORMAT_RAW, "", UINT64_MAX, &o, &d) != INSTAR_OK,
       "raw 2^64-1 refused, no wrap to 0");
}

int main(void)
{
    test_list_syntax();
    test_parse();
    test_check();
    return tap_done();
}
