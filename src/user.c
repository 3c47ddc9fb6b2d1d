/* SPDX-License-Identifier: MIT */
/*
 * Dropping root: initgroups, setgid, setuid, in that order (setuid first would
 * leave no right to change the groups), then a check that setuid(0) now fails.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fr/user.h"
#include "fr/util.h"

/* A whole decimal number, for "--user 1000:1000". */
static int
parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return *end == '\0' && errno == 0 ? 0 : -1;
}

int
fr_user_lookup(struct fr_user *u, const char *spec, char *err)
{
	char user[sizeof u->name];
	const char *group = NULL;
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	unsigned long id;

	if (n == 0 || n >= sizeof user) {
		snprintf(err, FR_ERR_LEN, "'%.80s': expected USER or USER:GROUP", spec);
		return -1;
	}
	memcpy(user, spec, n);
	user[n] = '\0';
	if (colon != NULL)
		group = colon + 1;

	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL && parse_id(user, &id) == 0)
		pw = getpwuid((uid_t)id);
	if (pw == NULL) {
		snprintf(err, FR_ERR_LEN, "%.64s: no such user", user);
		return -1;
	}
	snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (group != NULL) {
		struct group *gr = getgrnam(group);

		if (gr == NULL && parse_id(group, &id) == 0)
			gr = getgrgid((gid_t)id);
		if (gr == NULL) {
			snprintf(err, FR_ERR_LEN, "%.64s: no such group", group);
			return -1;
		}
		u->gid = gr->gr_gid;
	}
	return 0;
}

int
fr_user_switch(const struct fr_user *u, char *err)
{
	if (initgroups(u->name, u->gid) < 0 || setgid(u->gid) < 0 || setuid(u->uid) < 0) {
		snprintf(err, FR_ERR_LEN, "cannot switch to user %s: %s", u->name, strerror(errno));
		return -1;
	}
	if (u->uid != 0 && setuid(0) == 0) {
		snprintf(err, FR_ERR_LEN, "switched to user %s but could regain root", u->name);
		return -1;
	}
	return 0;
}
