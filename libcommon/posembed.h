/* posembed.h - resampling a ViT position embedding to another grid size, as
 * BLIP's interpolate_pos_embed does when a 224 px checkpoint (14x14 patches)
 * is loaded into a 384 px model (24x24): the class entry is kept and the
 * patch grid is resized bicubically like torch.nn.functional.interpolate(
 * mode='bicubic', align_corners=False). */
#ifndef BLIP_POSEMBED_H
#define BLIP_POSEMBED_H

/* src [1 + g_old^2, C] -> dst [1 + g_new^2, C] (host memory). */
void posembed_resize(float *dst, const float *src, int g_old, int g_new, int C);

#endif
