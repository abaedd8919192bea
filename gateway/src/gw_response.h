/*
 * gw_response.h - start_response's status and headers, checked per profile
 * (gw_response.c).
 */
#ifndef GW_RESPONSE_H
#define GW_RESPONSE_H

#include "gw_request.h"

/* The status `o`: its code and its line (copied to pool).  0, or -1 with a Python exception. */
int gw_response_status(apr_pool_t *pool, PyObject *o, int *code, const char **line);
/* The header list: an array of gw_header in pool, and the Content-Length it gives (-1 when
   none).  0, or -1 with a Python exception. */
int gw_response_headers(apr_pool_t *pool, PyObject *headers, apr_array_header_t **out,
                        apr_off_t *clen);

#endif /* GW_RESPONSE_H */
