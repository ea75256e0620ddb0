/* model_fixtures.c - tests/unit/test_model.c on the CUDA backend in fp32:
 * the HuggingFace fixtures' logits, loss and every parameter gradient, 10
 * AdamW steps, save/reload, incremental decoding, dropout replay and its
 * gradient check, with the CPU test's own tolerances. Run by tests/gpu/run.
 *
 *   model_fixtures [FILTER]     BLIP_DEVICE: another device (default cuda;
 *                               cpu-strict checks this program without a GPU) */
#define main test_model_main
#include "test_model.c"
#undef main

#ifdef BLIP_CUDA
#define DEFAULT_DEVICE "cuda"
#else
#define DEFAULT_DEVICE "cpu-strict"
#endif

int main(int argc, char **argv) {
    err_init(argv[0]);
    const char *dev = getenv("BLIP_DEVICE");
    be_open(dev && *dev ? dev : DEFAULT_DEVICE, "fp32");
    /* be_name(): cuda names its precision; the CPU backends are fp32 */
    printf("model_fixtures: %s\n", be_name());
    return test_model_main(argc, argv);
}
