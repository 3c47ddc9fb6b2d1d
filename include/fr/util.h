/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every module may use: container_of, the error-buffer size and an
 * intrusive doubly-linked list. Header only.
 */
#ifndef FR_UTIL_H
#define FR_UTIL_H

#include <stddef.h>

/* The longest stream name (fr_config_is_valid_stream_name() says which are valid). */
#define FR_STREAM_NAME_MAX 64

/* Room for a one-line error message written by a callee for its caller. */
#define FR_ERR_LEN 512

#define FR_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define FR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A circular list: an empty head points at itself. */
struct fr_list {
	struct fr_list *prev, *next;
};

static inline void
fr_list_init(struct fr_list *head)
{
	head->prev = head->next = head;
}

static inline int
fr_list_is_empty(const struct fr_list *head)
{
	return head->next == head;
}

static inline void
fr_list_append(struct fr_list *head, struct fr_list *node)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

static inline void
fr_list_remove(struct fr_list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->prev = node->next = node;
}

#endif /* FR_UTIL_H */
