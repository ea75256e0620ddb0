# launch.sed - turns CUDA's kernel launch syntax into C++ for the CPU
# emulator (tests/emu/README):
#   name<<<grid, block, smem, stream>>>(args)
# becomes
#   emu_launch(emu_cfg(grid, block, smem, stream), [](auto... a_) { name(a_...); })(args)
# (a generic lambda, so template kernels deduce their parameters as nvcc
# does; explicit template arguments, name<HD><<<...>>>, are kept). A
# launch's "name<<<...>>>(" must be on one line; the rest of the file
# passes through unchanged.
s/([A-Za-z_][A-Za-z0-9_]*(<[A-Za-z0-9_, ]*>)?)<<<(.*)>>>\(/emu_launch(emu_cfg(\3), [](auto... a_) { \1(a_...); })(/g
