/* SPDX-License-Identifier: MIT */
/*
 * The self-contained status page served at GET /: every stream live, with its
 * counters refreshed from /stats. No external assets.
 */
#ifndef FR_PAGE_H
#define FR_PAGE_H

extern const char fr_page_html[];

#endif /* FR_PAGE_H */
