/*
 * gw_buf.h - growing the byte buffers wsgi.input and the Log objects keep
 * (gw_buf.c).
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include "gw_compat.h"

/* Reallocate *buf (PyMem, GIL held) to cap bytes, updating *capp.  0, or -1 with
   MemoryError (*buf and *capp unchanged). */
int gw_buf_grow(char **buf, apr_size_t *capp, apr_size_t cap);

#endif /* GW_BUF_H */
