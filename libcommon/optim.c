/* optim.c - AdamW steps with clipping and accumulation, LR schedules. */
#include "optim.h"

#include <math.h>

#include "ops.h"

void adamw_defaults(adamw_cfg_t *c) {
    *c = (adamw_cfg_t){.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.05f,
                       .decay_all = 1, .clip = 0.0f, .accum = 1};
}

float blip_grad_sumsq(blip_model_t *m, size_t lo, size_t hi) {
    float ss;
    op_sumsq(m->dscalar, m->g + lo, hi - lo);
    be_download(&ss, m->dscalar, sizeof ss);
    return ss;
}

float blip_grad_norm(blip_model_t *m) { return sqrtf(blip_grad_sumsq(m, 0, m->nfloats)); }

void blip_adamw_part(blip_model_t *m, const adamw_cfg_t *c, float lr, int t, float norm,
                     const adamw_part_t *p) {
    float gscale = 1.0f / (float)(c->accum > 0 ? c->accum : 1);
    if (c->clip > 0.0f && norm > c->clip) gscale *= c->clip / (norm + 1e-6f);
    adamw_args_t a = {.lr = lr, .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
                      .weight_decay = c->weight_decay, .gscale = gscale, .t = t};
    if (c->decay_all) {
        op_adamw(m->w + p->lo, m->g + p->lo, p->mom, p->var, p->hi - p->lo, &a);
        return;
    }
    for (size_t i = 0; i < m->nparams; i++) { /* each parameter's overlap with the part */
        const blip_param_t *q = &m->params[i];
        size_t lo = q->off > p->lo ? q->off : p->lo, hi = q->off + q->n < p->hi ? q->off + q->n : p->hi;
        if (lo >= hi) continue;
        a.weight_decay = q->kind == PK_WEIGHT ? c->weight_decay : 0.0f;
        op_adamw(m->w + lo, m->g + lo, p->mom + (lo - p->lo), p->var + (lo - p->lo), hi - lo, &a);
    }
}

float blip_adamw_step(blip_model_t *m, const adamw_cfg_t *c, float lr, int t) {
    float norm = blip_grad_norm(m) * (1.0f / (float)(c->accum > 0 ? c->accum : 1));
    blip_adamw_part(m, c, lr, t, norm, &(adamw_part_t){0, m->nfloats, m->m, m->v});
    return norm;
}

double lr_cosine(double init, double min, int epoch, int max_epoch) {
    return (init - min) * 0.5 * (1.0 + cos(M_PI * epoch / max_epoch)) + min;
}

double lr_warmup(double init, double max_lr, long step, long warmup) {
    double lr = init + (max_lr - init) * (double)step / (double)(warmup > 1 ? warmup : 1);
    return lr < max_lr ? lr : max_lr;
}
