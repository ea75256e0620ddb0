# tests/gpu/resources_check.sh - the CUDA kernels' compiler resource report and
# SASS checks (tests/gpu/resources, issue 10): every kernels/cuda/*.cu builds
# for sm_90, no kernel spills, the rules of tests/gpu/sass_rules hold. Needs
# nvcc and cuobjdump, not a GPU; without them it fails, naming what is
# missing. Not in `make test`: cuobjdump is not in Debian's CUDA 13.0 toolkit here and the PyPI wheel (13.2+) prints SASS this parser does not read; run it by hand (bash tests/gpu/resources_check.sh) where CUDA 13.0/13.1 cuobjdump exists (triton ships one). Then the checks themselves, on planted faults: a spilling kernel,
# local memory, a missing instruction, a rule that matches no kernel.
. tests/cli/lib.sh

tests/gpu/resources "$T/res" # its PASS/FAIL lines are this script's

planted=tests/fixtures/cuda_resources
SASS_RULES=$planted/planted_rules tests/gpu/resources "$T/planted" $planted/planted.cu > "$T/planted.out" 2>&1
has resources_catches_spills "$T/planted.out" '^FAIL cuda_resources_no_spills: spill_kernel \([0-9]+/[0-9]+ bytes\)'
has resources_catches_missing_instruction "$T/planted.out" '^FAIL cuda_sass_rule_1 \(require HMMA in spill_kernel\)'
has resources_catches_stale_rule "$T/planted.out" '^FAIL cuda_sass_rule_2 .*no kernel matches'
has resources_catches_local_memory "$T/planted.out" '^FAIL cuda_sass_rule_3 .*local_array_kernel\([0-9]+\)'
has resources_passes_true_rule "$T/planted.out" '^PASS cuda_sass_rule_4 '
has resources_table "$T/res/resources.tsv" '^cuda_layernorm	layernorm_kernel	[0-9]+	'
