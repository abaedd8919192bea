/*
 * mod_gateway.h - the module record (mod_gateway.c), through which every part finds its
 * per-server and per-directory configuration.
 */
#ifndef MOD_GATEWAY_H
#define MOD_GATEWAY_H

#include "gw_compat.h"

extern module AP_MODULE_DECLARE_DATA gateway_module;

#endif /* MOD_GATEWAY_H */
