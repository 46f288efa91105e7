/* SPDX-License-Identifier: GPL-3.0-or-later */
/* refuse.h -- how planners say why they refuse (internal to the core).
 * The reason goes to the request's `why' (instar/resize.h); the engines
 * print it through instar_engine_refusal (core/image/resize.c). */
#ifndef INSTAR_REFUSE_H
#define INSTAR_REFUSE_H

#include <stdint.h>

#include "instar/resize.h"

/* Clear REQ's refusal: every planner call starts with no reason. */
void instar_refusal_start(const struct instar_resize_request *req);

/* Record REASON (static, names the field) unless a reason stands already;
 * return CODE. */
int instar_refuse(const struct instar_resize_request *req, int code, const char *reason);

/* The same about entry INDEX of TABLE ("L1 entry", 17, "points past the
 * end of the file"). */
int instar_refuse_at(const struct instar_resize_request *req, int code, const char *table,
                     uint64_t index, const char *reason);

#endif
