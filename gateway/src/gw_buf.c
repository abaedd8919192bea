/*
 * gw_buf.c - growing a PyMem byte buffer.  See gw_buf.h.
 */
#include "gw_buf.h"

int gw_buf_grow(char **buf, apr_size_t *capp, apr_size_t cap)
{
    char *nb = PyMem_Realloc(*buf, cap);
    if (!nb) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = nb;
    *capp = cap;
    return 0;
}
