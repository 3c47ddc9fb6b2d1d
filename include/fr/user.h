/* SPDX-License-Identifier: MIT */
/*
 * --user: the account to run as once the sockets are bound. Looked up before
 * anything is bound, so a typo exits 2 like any bad option; switched to after
 * binding, so ports below 1024 and root-only files still work.
 */
#ifndef FR_USER_H
#define FR_USER_H

#include <sys/types.h>

/* The longest USER[:GROUP] --user takes. */
#define FR_USER_LEN 64

struct fr_user {
	char name[FR_USER_LEN + 1];
	uid_t uid;
	gid_t gid;		/* the named group, or the user's primary group */
};

/* Resolves "USER[:GROUP]" (names or numbers). Returns 0, or -1 with one line in err. */
int fr_user_lookup(struct fr_user *u, const char *spec, char *err);

/*
 * Sets the supplementary groups, gid and uid, in that order, and checks that root
 * cannot be regained. Returns 0, or -1 with one line in err.
 */
int fr_user_switch(const struct fr_user *u, char *err);

#endif /* FR_USER_H */
