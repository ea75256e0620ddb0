/* cpu_attention.c - CPU backend: multi-head attention, (batch, head) pairs
 * in parallel, each as single-threaded BLAS products on strided views of q,
 * k, v with a masked softmax and optional seeded attention dropout. The
 * attention state is the undropped probabilities [B, H, Tq, Tk]. */
#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "cpu_internal.h"

enum { SCR_ATTN };

static int visible(const attn_shape_t *s, int b, int i, int j) {
    if (s->causal && j > i + s->Tk - s->Tq) return 0;
    return !s->key_mask || s->key_mask[(size_t)b * s->Tk + j] != 0;
}

/* Softmax of each row of S[Tq, Tk] in place over its visible keys. */
static void masked_softmax(float *S, const attn_shape_t *s, int b) {
    int Tq = s->Tq, Tk = s->Tk;
    for (int i = 0; i < Tq; i++) {
        float *row = S + (size_t)i * Tk;
        float mx = -INFINITY;
        for (int j = 0; j < Tk; j++)
            if (visible(s, b, i, j) && row[j] > mx) mx = row[j];
        double sum = 0.0;
        for (int j = 0; j < Tk; j++) {
            float e = visible(s, b, i, j) ? expf(row[j] - mx) : 0.0f;
            row[j] = e;
            sum += e;
        }
        float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
        for (int j = 0; j < Tk; j++) row[j] *= inv;
    }
}

typedef struct {
    size_t qoff, kvoff, ooff; /* offsets of the (b, h) views */
    float *probs;             /* [Tq, Tk] of this (b, h) */
    size_t drop_off;          /* element offset in the dropout sequence */
} bh_view_t;

static bh_view_t view(const attn_shape_t *s, float *probs, int b, int h) {
    bh_view_t v;
    size_t qb = s->q_bstride ? s->q_bstride : (size_t)s->Tq * s->q_stride;
    size_t kb = s->kv_bstride ? s->kv_bstride : (size_t)s->Tk * s->kv_stride;
    v.qoff = (size_t)b * qb + (size_t)h * s->hd;
    v.kvoff = (size_t)(s->kv_group > 1 ? b / s->kv_group : b) * kb + (size_t)h * s->hd;
    v.ooff = (size_t)b * s->Tq * s->H * s->hd + (size_t)h * s->hd;
    v.drop_off = ((size_t)b * s->H + h) * s->Tq * s->Tk;
    v.probs = probs + v.drop_off;
    return v;
}

/* The probabilities that multiply v: probs itself, or a dropped copy in d. */
static const float *dropped_probs(const attn_shape_t *s, const bh_view_t *v, float *d) {
    if (s->p_drop <= 0.0f) return v->probs;
    size_t n = (size_t)s->Tq * s->Tk;
    cpu_be_copy(d, v->probs, n * sizeof(float));
    cpu_dropout_at(d, n, s->p_drop, s->seed, s->stream, v->drop_off);
    return d;
}

/* Per-thread scratch of `per` floats for nslots matrices, sized before the
 * parallel region. */
static float *thread_scratch(size_t per) {
    cpu_blas_single_thread();
    return cpu_scratch(SCR_ATTN, per * (size_t)omp_get_max_threads());
}

size_t cpu_attn_state_floats(const attn_shape_t *s) {
    return (size_t)s->B * s->H * s->Tq * s->Tk;
}

void cpu_op_attention(float *out, float *probs, const float *q, const float *k,
                  const float *v, const attn_shape_t *s) {
    int C = s->H * s->hd;
    float scale = 1.0f / sqrtf((float)s->hd);
    size_t per = (size_t)s->Tq * s->Tk;
    float *scr = thread_scratch(per);
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)s->B * s->H * s->Tq * s->Tk * s->hd >= CPU_PAR_MIN)
    for (int bh = 0; bh < s->B * s->H; bh++) {
        int b = bh / s->H, h = bh % s->H;
        float *pd = scr + per * (size_t)omp_get_thread_num();
        bh_view_t w = view(s, probs, b, h);
        /* S[Tq, Tk] = scale * Q K^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->Tq, s->Tk, s->hd, scale,
                    q + w.qoff, s->q_stride, k + w.kvoff, s->kv_stride, 0.0f, w.probs, s->Tk);
        masked_softmax(w.probs, s, b);
        /* O[Tq, hd] = P V */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->Tq, s->hd, s->Tk, 1.0f,
                    dropped_probs(s, &w, pd), s->Tk, v + w.kvoff, s->kv_stride, 0.0f,
                    out + w.ooff, C);
    }
}

/* out is not needed: the probabilities give every term. */
void cpu_op_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *out, const float *probs, const float *q,
                           const float *k, const float *v, const attn_shape_t *s) {
    (void)out;
    int C = s->H * s->hd, Tq = s->Tq, Tk = s->Tk;
    float scale = 1.0f / sqrtf((float)s->hd);
    size_t per = (size_t)Tq * Tk;
    float *scr = thread_scratch(2 * per);
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)s->B * s->H * Tq * Tk * s->hd >= CPU_PAR_MIN)
    for (int bh = 0; bh < s->B * s->H; bh++) {
        int b = bh / s->H, h = bh % s->H;
        float *dP = scr + 2 * per * (size_t)omp_get_thread_num(), *pd = dP + per;
        bh_view_t w = view(s, (float *)probs, b, h);
        const float *dO = dout + w.ooff;
        /* dV += Pd^T dO */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, s->hd, Tq, 1.0f,
                    dropped_probs(s, &w, pd), Tk, dO, C, 1.0f, dv + w.kvoff, s->kv_stride);
        /* dPd = dO V^T, then through the dropout mask */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, s->hd, 1.0f, dO, C,
                    v + w.kvoff, s->kv_stride, 0.0f, dP, Tk);
        cpu_dropout_at(dP, (size_t)Tq * Tk, s->p_drop, s->seed, s->stream, w.drop_off);
        /* dS = P * (dP - sum_j P dP) * scale */
        for (int i = 0; i < Tq; i++) {
            const float *p = w.probs + (size_t)i * Tk;
            float *d = dP + (size_t)i * Tk;
            double dot = 0.0;
            for (int j = 0; j < Tk; j++) dot += p[j] * d[j];
            for (int j = 0; j < Tk; j++) d[j] = p[j] * (d[j] - (float)dot) * scale;
        }
        /* dQ += dS K; dK += dS^T Q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, s->hd, Tk, 1.0f, dP, Tk,
                    k + w.kvoff, s->kv_stride, 1.0f, dq + w.qoff, s->q_stride);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, s->hd, Tq, 1.0f, dP, Tk,
                    q + w.qoff, s->q_stride, 1.0f, dk + w.kvoff, s->kv_stride);
    }
}
