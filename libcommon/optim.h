/* optim.h - training the BLIP captioner: AdamW over the model's flat
 * parameter buffer (decoupled weight decay, optionally not on biases, norms
 * and embeddings), global-norm gradient clipping, gradient accumulation, and
 * BLIP's learning-rate schedules. */
#ifndef BLIP_OPTIM_H
#define BLIP_OPTIM_H

#include "model.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
    int decay_all;   /* 1: decay every parameter (salesforce/BLIP); 0: exempt
                        biases, LayerNorms and embeddings */
    float clip;      /* clip the global gradient norm to this (0 = off) */
    int accum;       /* batches whose gradients were summed into m->g */
} adamw_cfg_t;

/* BLIP's caption fine-tuning: betas (0.9, 0.999), eps 1e-8, weight decay
 * 0.05 on all parameters, no clipping, no accumulation. */
void adamw_defaults(adamw_cfg_t *c);

/* Global L2 norm of the gradients in m->g (as summed, before averaging). */
float blip_grad_norm(blip_model_t *m);
/* Sum of squares of m->g[lo, hi) (a ZeRO-1 shard's share of the norm). */
float blip_grad_sumsq(blip_model_t *m, size_t lo, size_t hi);

/* The part [lo, hi) of the flat buffers one AdamW update covers, with its
 * moments mom and var ([hi - lo] floats each, device): the whole buffer and
 * m->m, m->v, or a ZeRO-1 shard and that rank's share of the moments. */
typedef struct {
    size_t lo, hi;
    float *mom, *var;
} adamw_part_t;

/* AdamW step t on part p of the gradients summed over c->accum batches,
 * whose average has the global norm `norm` (clipped by it when c->clip > 0). */
void blip_adamw_part(blip_model_t *m, const adamw_cfg_t *c, float lr, int t, float norm,
                     const adamw_part_t *p);

/* One AdamW step t (>= 1) at learning rate lr on the gradients summed over
 * c->accum batches (they are averaged), clipped when c->clip > 0. Returns the
 * global norm of the averaged gradient. Does not zero the gradients. */
float blip_adamw_step(blip_model_t *m, const adamw_cfg_t *c, float lr, int t);

/* BLIP's per-epoch cosine schedule:
 * (init - min) * 0.5 * (1 + cos(pi * epoch / max_epoch)) + min. */
double lr_cosine(double init, double min, int epoch, int max_epoch);
/* BLIP's linear warmup: min(max_lr, init + (max_lr - init) * step / max(warmup, 1)). */
double lr_warmup(double init, double max_lr, long step, long warmup);

#endif
