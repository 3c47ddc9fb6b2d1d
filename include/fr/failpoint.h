/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure injection for test builds (-DFR_TESTING), as expat's
 * allocation tests do: a module arms its failpoint to make its Nth allocation from
 * now fail. In other builds the check folds away.
 */
#ifndef FR_FAILPOINT_H
#define FR_FAILPOINT_H

struct fr_failpoint {
	unsigned after;		/* allocations left before one fails; 0: disarmed */
};

/* True when this allocation must fail. */
static inline int
fr_failpoint_hit(struct fr_failpoint *fp)
{
#ifdef FR_TESTING
	if (fp->after == 0)
		return 0;
	return --fp->after == 0;
#else
	(void)fp;
	return 0;
#endif
}

#endif /* FR_FAILPOINT_H */
