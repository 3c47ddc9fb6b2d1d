/* SPDX-License-Identifier: MIT */
/*
 * The part of nats.c (the NATS C client, libnats) that --nats uses, loaded with
 * dlopen() when --nats is given: a daemon built with NATS support needs libnats at
 * run time only when it federates. Call through fr_natslib.NAME(...) once
 * fr_natslib_load() succeeded. Only in builds with HAVE_LIBNATS.
 */
#ifndef FR_NATSLIB_H
#define FR_NATSLIB_H

/* The includer includes the build's config.h first: it says whether HAVE_LIBNATS. */
#ifdef HAVE_LIBNATS
#include <nats/nats.h>

/* Every function called, by name: the table below is built from this list. */
#define FR_NATSLIB_FUNCTIONS(X) \
	X(nats_GetVersion) X(nats_CloseAndWait) X(natsStatus_GetText) X(nats_GetLastError) \
	X(natsOptions_Create) X(natsOptions_Destroy) X(natsOptions_SetServers) \
	X(natsOptions_SetName) X(natsOptions_SetTimeout) X(natsOptions_SetMaxReconnect) \
	X(natsOptions_SetReconnectWait) X(natsOptions_SetCustomReconnectDelay) \
	X(natsOptions_SetRetryOnFailedConnect) X(natsOptions_SetDisconnectedCB) \
	X(natsOptions_SetReconnectedCB) X(natsOptions_SetClosedCB) \
	X(natsOptions_SetErrorHandler) X(natsOptions_SetSendAsap) \
	X(natsOptions_SetUserCredentialsFromFiles) X(natsOptions_SetToken) \
	X(natsOptions_SetSecure) X(natsOptions_LoadCATrustedCertificates) \
	X(natsOptions_LoadCertificatesChain) X(natsOptions_SetReconnectBufSize) \
	X(natsOptions_SetPingInterval) X(natsOptions_SetMaxPingsOut) X(natsOptions_SetIOBufSize) \
	X(natsConnection_Connect) X(natsConnection_Close) X(natsConnection_Destroy) \
	X(natsConnection_GetMaxPayload) X(natsConnection_GetConnectedUrl) \
	X(natsConnection_PublishMsg) X(natsConnection_Subscribe) X(natsConnection_JetStream) \
	X(natsSubscription_SetPendingLimits) X(natsSubscription_SetOnCompleteCB) \
	X(natsSubscription_Unsubscribe) X(natsSubscription_Destroy) \
	X(natsMsg_Create) X(natsMsg_Destroy) X(natsMsg_GetData) X(natsMsg_GetDataLength) \
	X(natsMsgHeader_Set) X(natsMsgHeader_Get) \
	X(jsCtx_Destroy) X(js_AddStream) X(js_GetStreamInfo) X(js_GetLastMsg) \
	X(jsStreamInfo_Destroy) \
	X(jsStreamConfig_Init) X(js_Subscribe) X(jsSubOptions_Init)

#define FR_NATSLIB_POINTER(name) __typeof__(name) *name;

struct fr_natslib {
	FR_NATSLIB_FUNCTIONS(FR_NATSLIB_POINTER)
};

/* Filled by fr_natslib_load(); all NULL before. */
extern struct fr_natslib fr_natslib;

/*
 * Loads libnats (FR_LIBNATS_SONAME) and finds every function of the list; again
 * after a success does nothing. Returns 0, or -1 with one line in err (FR_ERR_LEN
 * bytes): the library is missing or lacks a function.
 */
int fr_natslib_load(char *err);

#endif /* HAVE_LIBNATS */
#endif /* FR_NATSLIB_H */
