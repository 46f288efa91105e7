/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report.h -- how the fuzz targets turn a broken plan into a finding.
 *
 * One place for the message format, so deduplication (core/fuzz/triage.sh)
 * and the tests read the same lines: first a stable signature (target and
 * invariant, no numbers), then one line per violation naming the patches. */
#ifndef INSTAR_FUZZ_REPORT_H
#define INSTAR_FUZZ_REPORT_H

#include <stdio.h>
#include <stdlib.h>

#include "fuzz/plan-rules.h"
#include "instar/plan.h"

static inline void instar_fuzz_check_or_abort(const char *target, const char *what,
                                              const struct instar_resize_plan *plan)
{
    struct instar_check_report rep;
    char line[256];
    long bad;
    if (instar_plan_check(plan, &rep) == 0) {
        if ((bad = instar_fuzz_plan_rules(what, plan)) < 0)
            return;
        fprintf(stderr, "INSTAR-FINDING: %s/%s: rule qcow2 header fields\n", target, what);
        fprintf(stderr, "  patch %ld writes [%llu, %llu): part of a header field\n", bad,
                (unsigned long long)plan->patches[bad].offset,
                (unsigned long long)(plan->patches[bad].offset + plan->patches[bad].length));
        fflush(stderr);
        abort();
    }
    size_t n = rep.nviolations < INSTAR_MAX_VIOLATIONS ? rep.nviolations : INSTAR_MAX_VIOLATIONS;
    fprintf(stderr, "INSTAR-FINDING: %s/%s: invariant %s\n", target, what,
            instar_invariant_name(rep.violations[0].invariant));
    for (size_t i = 0; i < n; i++) {
        instar_violation_format(plan, &rep.violations[i], line, sizeof line);
        fprintf(stderr, "  %s\n", line);
    }
    if (rep.nviolations > n)
        fprintf(stderr, "  ... %zu violations in all\n", rep.nviolations);
    fflush(stderr);
    abort();
}

#endif
