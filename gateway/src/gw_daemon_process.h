/*
 * gw_daemon_process.h - one daemon process's set-up, from fork to serving
 * (gw_daemon_process.c).
 */
#ifndef GW_DAEMON_PROCESS_H
#define GW_DAEMON_PROCESS_H

#include "gw_daemon_state.h"

/* In the child of fork(): set up process `slot` of rt's group and serve until it must stop;
   never returns.  parent_pid: Apache's parent (the back-off ends if it goes); main_server:
   this generation's, for the scripts preloaded from WSGIScriptAlias. */
void gw_daemon_main(gw_daemon_rt *rt, int slot, pid_t parent_pid, server_rec *main_server)
    __attribute__((noreturn));

#endif /* GW_DAEMON_PROCESS_H */
