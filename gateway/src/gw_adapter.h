/*
 * gw_adapter.h - the response side of PEP 3333 (gw_adapter.c): start_response, write,
 * iteration, close, wsgi.file_wrapper.
 */
#ifndef GW_ADAPTER_H
#define GW_ADAPTER_H

#include "gw_request.h"

extern PyTypeObject GwAdapter_Type;
extern PyTypeObject GwFileWrapper_Type;

typedef struct {
    gw_reqio *io;
    server_rec *server;             /* for log lines outside a request */
    PyObject *environ;              /* the dict handed to the app (owned by caller) */
    PyObject *application;          /* the callable */
    const char *script;             /* path, for log lines */
    int enable_sendfile;
    int is_head;
} gw_call;

/*
 * Run the WSGI application with the GIL held.  Returns OK when the response
 * was produced (possibly aborted after starting), or an HTTP status (500)
 * when nothing was sent and the caller must answer with that error.
 */
int gw_adapter_run(gw_call *call);
PyObject *gw_file_wrapper_type(void);
/* Ready the types once Python runs (gw_python_init). */
void gw_adapter_types_ready(void);

#endif /* GW_ADAPTER_H */
