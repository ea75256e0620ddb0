/* model_internal.h - what model.c, model_params.c and model_decode.c share
 * beyond model.h. */
#ifndef BLIP_MODEL_INTERNAL_H
#define BLIP_MODEL_INTERNAL_H

#include "model.h"

/* Fill m->params and the parameter offsets from m->cfg. */
void blip_params_build(blip_model_t *m);

#endif
