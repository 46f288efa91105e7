/* SPDX-License-Identifier: GPL-3.0-or-later */
/* plan-json.c -- a plan rendered as JSON for `instar-img plan'. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"

void cli_print_plan_json(FILE *out, const struct instar_image_plan *p)
{
    const struct instar_resize_plan *pl = &p->plan;
    struct instar_check_report report;
    size_t nviol = instar_plan_check(pl, &report);

    fprintf(out, "{\n");
    fprintf(out, "  \"format\": \"%s\",\n", instar_format_name(p->format));
    fprintf(out, "  \"action\": \"%s\",\n", instar_action_name(pl->action));
    fprintf(out, "  \"old-virtual-size\": %" PRIu64 ",\n", pl->old_virtual_size);
    fprintf(out, "  \"new-virtual-size\": %" PRIu64 ",\n", pl->new_virtual_size);
    fprintf(out, "  \"total-file-size\": %" PRIu64 ",\n", pl->total_file_size);
    fprintf(out, "  \"prealloc-offset\": %" PRIu64 ",\n", pl->prealloc_offset);
    fprintf(out, "  \"prealloc-length\": %" PRIu64 ",\n", pl->prealloc_length);
    fprintf(out, "  \"invariant-violations\": %zu,\n", nviol);
    fprintf(out, "  \"patches\": [");
    for (size_t i = 0; i < pl->npatches && i < INSTAR_MAX_RESIZE_PATCHES; i++) {
        const struct instar_patch *pt = &pl->patches[i];
        fprintf(out, "%s\n    {\"kind\": \"%s\", \"offset\": %" PRIu64 ", \"length\": %" PRIu64 "}",
                i ? "," : "", instar_patch_kind_name(pt->kind), pt->offset, pt->length);
    }
    fprintf(out, "%s]\n}\n", pl->npatches ? "\n  " : "");
}
