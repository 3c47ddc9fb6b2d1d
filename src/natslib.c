/* SPDX-License-Identifier: MIT */
/*
 * libnats, loaded at run time: one dlopen() and a dlsym() per function of the list
 * in natslib.h. The library stays loaded until exit (its threads may outlive a
 * dlclose).
 */
#include <dlfcn.h>
#include <stdio.h>

#include "config.h"
#include "fr/util.h"
#include "fr/natslib.h"

#ifdef HAVE_LIBNATS

struct fr_natslib fr_natslib;

int
fr_natslib_load(char *err)
{
	static void *handle;

	if (handle != NULL)
		return 0;
	void *h = dlopen(FR_LIBNATS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, FR_ERR_LEN, "--nats: cannot load %s (Debian: libnats3.4): %s",
		    FR_LIBNATS_SONAME, dlerror());
		return -1;
	}
	/* POSIX dlsym: a void * that holds a function's address, converted back. */
#define FR_NATSLIB_FIND(name) \
	if ((*(void **)&fr_natslib.name = dlsym(h, #name)) == NULL) { \
		snprintf(err, FR_ERR_LEN, "--nats: %s has no %s: too old?", FR_LIBNATS_SONAME, \
		    #name); \
		dlclose(h); \
		fr_natslib = (struct fr_natslib){0}; \
		return -1; \
	}
	FR_NATSLIB_FUNCTIONS(FR_NATSLIB_FIND)
#undef FR_NATSLIB_FIND
	handle = h;
	return 0;
}

#endif /* HAVE_LIBNATS */
