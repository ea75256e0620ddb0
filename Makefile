# Makefile - builds the blip tools into bin/, runs their tests and benchmarks.
#
#   make                 every tool, CPU backend
#   make CUDA=1          also the CUDA backend (nvcc -arch=$(CUDA_ARCH); cuBLAS, cuBLASLt,
#                        NCCL) and the GPU checks build/cuda/gpu/* for tests/gpu/run
#   make test            dependencies, build, unit tests (plain and ASan+UBSan), CLI tests
#   make bench           throughput benchmarks (tests/bench/*.sh)
#   make demo            synthetic COCO -> packed shards -> ... (pipelines/demo.mk)
#   make deps            install missing Debian packages (as root) or print the command
#   make install PREFIX=/usr/local
#
# Sources are discovered: tools/NAME.c becomes bin/NAME; libcommon/*.c,
# kernels/*.c and kernels/cpu/*.c (with CUDA=1 also kernels/cuda/*.cu) form
# build/libblip.a; tests/unit/test_*.c become unit tests;
# tests/bench/NAME_bench.c become build/bench/NAME_bench for `make bench`.

PREFIX   ?= /usr/local
CUDA     ?= 0
CUDA_ARCH ?= sm_90
NVCC     ?= nvcc
SHARED   ?= $(abspath ../shared)

OPT      ?= -O3
CFLAGS   ?= $(OPT) -g
WARN      = -Wall -Wextra -Wno-unused-parameter
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -fno-math-errno -pthread -fopenmp -MMD -MP \
             -Ilibcommon -Ikernels $(PKG_CFLAGS) $(CFLAGS)

# Debian packages behind the pkg-config modules the build needs.
PKGS      = libturbojpeg libjpeg libpng jansson libzstd libutf8proc openblas ompi-c
DEB_PKGS  = pkg-config libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libjansson-dev libzstd-dev \
            libutf8proc-dev libopenblas-dev libopenmpi-dev openmpi-bin
# Recursive (=) so pkg-config runs only when a recipe needs it, after `deps`.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# OpenMPI (ompi-c) is compiled against but not linked: libcommon/comm_mpi.c
# loads libmpi when an MPI launcher started the process.
PKG_LIBS   = $(shell pkg-config --libs $(filter-out ompi-c,$(PKGS)) 2>/dev/null)
LIBS       = $(PKG_LIBS) -lm -pthread -fopenmp

# Objects of the CUDA build live apart, so switching CUDA=0/1 relinks bin/.
B = build
ifeq ($(CUDA),1)
B = build/cuda
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC)))
NVCCFLAGS ?= -O2 -g -lineinfo
ALL_NVCCFLAGS = -arch=$(CUDA_ARCH) -std=c++17 -Ilibcommon -Ikernels -MMD -MP \
                -Xcompiler -Wall,-Wextra,-Wno-unused-parameter $(NVCCFLAGS)
CUDA_SRC  = $(wildcard kernels/cuda/*.cu)
CUDA_OBJ  = $(CUDA_SRC:%.cu=$(B)/obj/%.o)
ALL_CFLAGS += -DBLIP_CUDA -I$(CUDA_HOME)/include
# The GPU machine runs a stock CUDA image without Debian's libraries: those
# are linked statically (libgomp and libgfortran too), CUDA's runtime as
# well; cuBLAS, cuBLASLt and NCCL are the image's own shared libraries.
STATIC_PKGS = $(filter-out ompi-c,$(PKGS))
LIBS       = -Wl,--as-needed -Wl,-Bstatic \
             $(filter-out -lm -lpthread -pthread,$(shell pkg-config --static --libs $(STATIC_PKGS) 2>/dev/null)) \
             -lquadmath -lgomp -Wl,-Bdynamic \
             -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/lib -lcublasLt -lcublas -lnccl -lcudart_static \
             -lstdc++ -lm -pthread -ldl -lrt
endif

LIB_SRC   = $(wildcard libcommon/*.c) $(wildcard kernels/*.c) $(wildcard kernels/cpu/*.c)
LIB_OBJ   = $(LIB_SRC:%.c=$(B)/obj/%.o) $(CUDA_OBJ)
TOOL_SRC  = $(wildcard tools/*.c)
TOOLS     = $(TOOL_SRC:tools/%.c=bin/%)
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT      = $(UNIT_SRC:tests/unit/%.c=build/tests/%)
ASAN_LIB_OBJ = $(LIB_SRC:%.c=build/asan/obj/%.o)
ASAN_UNIT = $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)
GPU_SRC   = $(if $(filter 1,$(CUDA)),$(wildcard tests/gpu/*.c))
GPU_BIN   = $(GPU_SRC:tests/gpu/%.c=$(B)/gpu/%)
BENCH_SRC = $(wildcard tests/bench/*_bench.c)
BENCH     = $(BENCH_SRC:tests/bench/%.c=build/bench/%)
ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
MANS      = $(wildcard man/*.1 man/*.5)

.PHONY: FORCE all deps check-deps test unit asan bench demo install clean
.DEFAULT_GOAL := all

all: build/.deps-ok $(TOOLS) $(GPU_BIN)

# --- dependencies -----------------------------------------------------------

# Installs what is missing when run as root, otherwise prints the command.
deps:
	@missing=""; for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all present ($(PKGS))"; exit 0; fi; \
	echo "deps: missing pkg-config modules:$$missing"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "deps: apt-get install $(DEB_PKGS)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS) >/dev/null || exit 1; \
	else \
	  echo "deps: run as root:  apt-get install -y $(DEB_PKGS)"; exit 1; \
	fi

build/.deps-ok: Makefile
	@$(MAKE) --no-print-directory deps
	@mkdir -p build && touch $@

# --- library, tools ---------------------------------------------------------

$(B)/libblip.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(B)/obj/%.o: %.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj/%.o: %.cu | build/.deps-ok
	@mkdir -p $(@D)
	$(NVCC) $(ALL_NVCCFLAGS) -c -o $@ $<

bin/%: $(B)/obj/tools/%.o $(B)/libblip.a build/.bin-config
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS)

# bin/ holds the last configuration built: the stamp changes (and bin/ is
# relinked) only when CUDA= does.
build/.bin-config: FORCE
	@mkdir -p $(@D); echo "CUDA=$(CUDA)" | cmp -s - $@ 2>/dev/null || echo "CUDA=$(CUDA)" > $@

# --- tests ------------------------------------------------------------------

build/tests/%: tests/unit/%.c tests/unit/test.h build/libblip.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< build/libblip.a $(LIBS)

# GPU checks (tests/gpu/run runs them on a GPU machine): CUDA builds only.
$(B)/gpu/%: tests/gpu/%.c tests/unit/test.h $(B)/libblip.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(B)/libblip.a $(LIBS)
$(B)/gpu/ops_parity: tests/gpu/parity.h

build/bench/%: tests/bench/%.c build/libblip.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libblip.a $(LIBS)

build/asan/libblip.a: $(ASAN_LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

build/asan/obj/%.o: %.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ASAN_FLAGS) -O1 -c -o $@ $<

build/asan/tests/%: tests/unit/%.c tests/unit/test.h build/asan/libblip.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ASAN_FLAGS) -O1 -Itests/unit -o $@ $< build/asan/libblip.a $(LIBS)

# The CUDA backend under the CPU emulator (tests/emu/README): kernels/cuda/*.cu
# through tests/emu/launch.sed and g++ against tests/emu/include's stand-in
# CUDA headers; its tests join the unit tests in build/tests/.
EMU_OBJ   = $(patsubst kernels/cuda/%.cu,build/emu/obj/%.o,$(wildcard kernels/cuda/*.cu)) \
            $(patsubst tests/emu/%.cpp,build/emu/obj/%.o,$(wildcard tests/emu/*.cpp)) \
            build/emu/obj/dispatch.o
EMU_TESTS = build/tests/test_cuda_emu build/tests/test_cuda_emu_model
EMU_CXXFLAGS = -std=c++17 -D_GNU_SOURCE $(WARN) -Wno-sign-compare -fno-exceptions -ffp-contract=off \
               -MMD -MP -O1 -g -DBLIP_CUDA -Itests/emu/include -Itests/emu -Ikernels/cuda -Ilibcommon -Ikernels

build/emu/src/%.cpp: kernels/cuda/%.cu tests/emu/launch.sed
	@mkdir -p $(@D)
	sed -E -f tests/emu/launch.sed $< > $@

build/emu/obj/%.o: build/emu/src/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EMU_CXXFLAGS) -c -o $@ $<

build/emu/obj/%.o: tests/emu/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EMU_CXXFLAGS) -c -o $@ $<

build/emu/obj/dispatch.o: kernels/dispatch.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DBLIP_CUDA -c -o $@ $<

# (cuda_scratch() is wrapped: the emulator poisons scratch on every call)
EMU_LIBS  = $(EMU_OBJ) build/libblip.a $(LIBS) -lstdc++ -Wl,--wrap=_Z12cuda_scratchim

build/tests/test_cuda_emu: tests/emu/test_cuda_emu.c tests/unit/test.h tests/gpu/parity.h $(EMU_OBJ) build/libblip.a
	$(CC) $(ALL_CFLAGS) -DBLIP_CUDA -Itests/unit -Itests/gpu -Itests/emu -o $@ $< $(EMU_LIBS)

build/tests/test_cuda_emu_model: tests/gpu/model_fixtures.c tests/unit/test_model.c $(EMU_OBJ) build/libblip.a
	$(CC) $(ALL_CFLAGS) -DBLIP_CUDA -Itests/unit -o $@ $< $(EMU_LIBS)

unit: $(UNIT) $(EMU_TESTS)
asan: $(ASAN_UNIT)

test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory -j$$(nproc) all unit asan
	@BLIP_SHARED=$(SHARED) tests/run

bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory -j$$(nproc) all $(BENCH)
	@for b in tests/bench/*.sh; do BLIP_SHARED=$(SHARED) bash $$b || exit 1; done

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@$(MAKE) --no-print-directory -f pipelines/demo.mk

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	for m in $(MANS); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/; done

clean:
	rm -rf build bin demo

.SECONDARY:
-include $(shell find $(B)/obj $(B)/tests build/asan build/bench build/emu -name '*.d' 2>/dev/null)
