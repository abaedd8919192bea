/*
 * gw_input.h - wsgi.input over gw_reqio.read_body (gw_input.c).
 */
#ifndef GW_INPUT_H
#define GW_INPUT_H

#include "gw_request.h"

extern PyTypeObject GwInput_Type;
PyObject *gw_input_new(gw_reqio *io);
void gw_input_expire(PyObject *input);
/* Ready the type once Python runs (gw_python_init). */
void gw_input_types_ready(void);

#endif /* GW_INPUT_H */
