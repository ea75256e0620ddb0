# tests/cli/cuda_resources.sh - the CUDA kernels' compiler resource report and
# SASS checks (tests/gpu/resources, issue 10): every kernels/cuda/*.cu builds
# for sm_90, no kernel spills, the rules of tests/gpu/sass_rules hold. Needs
# nvcc, not a GPU; cuobjdump comes from the toolkit or, on a fresh machine,
# from the pinned PyPI wheels that tests/gpu/resources pip-installs into
# build/pytools (once; a failed install fails the check). Then the checks
# themselves, on planted faults: a spilling kernel, local memory, a missing
# instruction, a rule that matches no kernel, a SASS listing whose kernels
# are not the ones ptxas built (a changed format), no cuobjdump to be had.
. tests/cli/lib.sh

# the planted file compiles on the second core while cuda_flash.cu takes the
# first (a pip install of cuobjdump is one run's, under a lock, the other's waits)
planted=tests/fixtures/cuda_resources
tests/gpu/resources "$T/res" > "$T/res.out" 2>&1 &
main=$!
SASS_RULES=$planted/planted_rules tests/gpu/resources "$T/planted" $planted/planted.cu > "$T/planted.out" 2>&1
# a cuobjdump whose listing names a kernel demangled
cat > "$T/cuobjdump" <<'SH'
#!/bin/sh
[ "$1" = --version ] && { echo "Cuda compilation tools, release 99.0, V99.0.0"; exit 0; }
printf '\t\tFunction : spill_kernel(float*, float const*, int)\n        /*0000*/      EXIT ;\n'
SH
chmod +x "$T/cuobjdump"
CUOBJDUMP=$T/cuobjdump SASS_RULES=$planted/planted_rules tests/gpu/resources "$T/format" $planted/planted.cu \
  > "$T/format.out" 2>&1
wait $main
cat "$T/res.out" # its PASS/FAIL lines are this script's

has resources_catches_spills "$T/planted.out" '^FAIL cuda_resources_no_spills: spill_kernel \([0-9]+/[0-9]+ bytes\)'
has resources_catches_missing_instruction "$T/planted.out" '^FAIL cuda_sass_rule_1 \(require HMMA in spill_kernel\)'
has resources_catches_stale_rule "$T/planted.out" '^FAIL cuda_sass_rule_2 .*no kernel matches'
has resources_catches_local_memory "$T/planted.out" '^FAIL cuda_sass_rule_3 .*local_array_kernel\([0-9]+\)'
has resources_catches_unread_listing "$T/format.out" \
  '^FAIL cuda_resources_sass_planted: no instructions read .* spill_kernel '
has resources_passes_true_rule "$T/planted.out" '^PASS cuda_sass_rule_4 '
has resources_table "$T/res/resources.tsv" '^cuda_layernorm	layernorm_kernel	[0-9]+	'

# No cuobjdump anywhere (PATH without it, nvcc seen in a folder without it, an
# empty PYTOOLS) and pip offline: one FAIL line naming what is missing, exit 1.
mkdir "$T/nvcc"
ln -s "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" "$T/nvcc/nvcc"
path=$(tr : '\n' <<< "$PATH" | while read -r d; do [ -x "$d/cuobjdump" ] || echo "$d"; done | paste -sd:)
exits resources_no_cuobjdump_fails 1 env -u CUOBJDUMP PATH="$path" NVCC="$T/nvcc/nvcc" PYTOOLS="$T/pytools" \
  PIP_NO_INDEX=1 tests/gpu/resources "$T/none"
has resources_no_cuobjdump_says_why "$T/.out" \
  '^FAIL cuda_resources_toolchain: cuobjdump not found .* pip could not install nvidia-cuda-cuobjdump.*: .+'
