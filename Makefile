# Block-sparse GPT-2 training: every build and test entry point.
#
#   make                 CPU trainer (train_gpt2) and every CUDA target
#   make train_gpt2      CPU fp32 reference trainer (OpenMP)
#   make train_gpt2cu    GPU trainer (needs nvcc; builds on machines without a GPU)
#   make test            CPU tests + compile-and-link of every CUDA target (what CI runs)
#   make test-gpu        GPU tests (needs a GPU)
#   make bench           kernel benchmarks in dev/ (needs a GPU)
#   make data            default corpus shards + tokenizer into data/default/
#   make clean
#   make help            this list
#
# GPU_ARCH: detected from nvidia-smi (compute capability 9.0 -> 90a, H100/H200);
# on a machine without a GPU it defaults to 90a. Override: make GPU_ARCH=80.

CC       ?= gcc
NVCC     ?= nvcc
PYTHON   ?= python3
BUILD    := build

CFLAGS   ?= -O3 -march=native
CFLAGS   += -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -D_POSIX_C_SOURCE=200809L
LDLIBS   := -lm -fopenmp

# ---------------------------------------------------------------- GPU arch
GPU_CC := $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .')
ifeq ($(GPU_ARCH),)
  ifeq ($(GPU_CC),90)
    GPU_ARCH := 90a
  else ifneq ($(GPU_CC),)
    GPU_ARCH := $(GPU_CC)
  else
    GPU_ARCH := 90a
  endif
endif
NVCC_ARCH  := -gencode arch=compute_$(GPU_ARCH),code=sm_$(GPU_ARCH)
NVCCFLAGS  ?= -O3 --use_fast_math
NVCCFLAGS  += -std=c++17 $(NVCC_ARCH) -lineinfo -Xcompiler -fopenmp -Xcompiler -Wall \
              -D_POSIX_C_SOURCE=200809L --expt-relaxed-constexpr
CUDA_LIBS  := -lcublas -lcublasLt -lcudnn -lcusparse -lgomp -lm
HAVE_NVCC  := $(shell command -v $(NVCC) 2>/dev/null)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(realpath $(HAVE_NVCC)))

# ---------------------------------------------------------------- cuDNN attention (optional)
# The cuDNN frontend headers (C++, header-only): .cudnn/include, or where
# `pip install nvidia-cudnn-frontend` put them; CUDNN_FRONTEND_INCLUDE=dir overrides,
# NO_CUDNN=1 builds only our own flash attention.
PY_PLATLIB := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])' 2>/dev/null)
CUDNN_FRONTEND_INCLUDE ?= $(patsubst %/cudnn_frontend.h,%,$(firstword $(wildcard .cudnn/include/cudnn_frontend.h $(PY_PLATLIB)/include/cudnn_frontend.h)))
ifeq ($(NO_CUDNN),)
  ifneq ($(CUDNN_FRONTEND_INCLUDE),)
    NVCCFLAGS += -DHAVE_CUDNN_FRONTEND -I$(CUDNN_FRONTEND_INCLUDE)
  endif
endif

# ---------------------------------------------------------------- NCCL and MPI (multi-GPU)
# NO_MULTI_GPU=1 builds without NCCL, NO_USE_MPI=1 without MPI (then launch with
# -pi tcp or -pi fs); both are also picked automatically when the headers are absent.
ifeq ($(NO_MULTI_GPU),)
  NCCL_H := $(firstword $(wildcard /usr/include/nccl.h /usr/local/include/nccl.h $(CUDA_HOME)/include/nccl.h))
  ifeq ($(NCCL_H),)
    NO_MULTI_GPU := 1
    $(info nccl.h not found: building without multi-GPU support (NO_MULTI_GPU=1))
  endif
endif
ifeq ($(NO_MULTI_GPU),)
  CUDA_LIBS += $(addprefix -L,$(wildcard $(CUDA_HOME)/lib)) -lnccl
  ifeq ($(NO_USE_MPI),)
    MPI_SHOW := $(shell mpicc --showme:compile 2>/dev/null) $(shell mpicc --showme:link 2>/dev/null)
    ifeq ($(strip $(MPI_SHOW)),)
      NO_USE_MPI := 1
      $(info mpicc not found: building without MPI (NO_USE_MPI=1); launch several processes with -pi tcp or -pi fs)
    else
      NVCCFLAGS += $(filter -I%,$(MPI_SHOW))
      CUDA_LIBS += $(filter -L% -l%,$(MPI_SHOW))
    endif
  endif
else
  NVCCFLAGS += -DNO_MULTI_GPU
endif
ifneq ($(NO_USE_MPI),)
  NVCCFLAGS += -DNO_USE_MPI
endif

# ---------------------------------------------------------------- sources
# Host library: every .c under core/, model/, sparse/, layers/, data/, dist/. Compiled twice:
# f32 (the trainer's `real`) and f64 (the finite-difference gradient check).
HOST_SRC   := $(sort $(wildcard core/*.c model/*.c sparse/*.c layers/*.c data/*.c dist/*.c))
HOST_F32   := $(HOST_SRC:%.c=$(BUILD)/f32/%.o)
HOST_F64   := $(HOST_SRC:%.c=$(BUILD)/f64/%.o)
LIB_F32    := $(BUILD)/libhost_f32.a
LIB_F64    := $(BUILD)/libhost_f64.a

# CUDA library: every .cu under core/, layers/, sparse/ and dist/
CU_SRC     := $(sort $(wildcard core/*.cu layers/*.cu sparse/*.cu dist/*.cu))
CU_OBJ     := $(CU_SRC:%.cu=$(BUILD)/cu/%.o)

# Tests: test/test_*.c link the f32 host lib, test/test_*_f64.c the f64 one,
# test/test_*.cu are GPU tests; test/test_*.py run under pytest.
CPU_TEST_SRC := $(sort $(filter-out %_f64.c,$(wildcard test/test_*.c)))
F64_TEST_SRC := $(sort $(wildcard test/test_*_f64.c))
GPU_TEST_SRC := $(sort $(wildcard test/test_*.cu))
CPU_TESTS    := $(CPU_TEST_SRC:test/%.c=$(BUILD)/test/%) $(F64_TEST_SRC:test/%.c=$(BUILD)/test/%)
GPU_TESTS    := $(GPU_TEST_SRC:test/%.cu=$(BUILD)/test/%)
DEV_SRC      := $(sort $(wildcard dev/*.cu))
DEV_BINS     := $(DEV_SRC:dev/%.cu=$(BUILD)/dev/%)

CUDA_TARGETS := $(if $(wildcard train_gpt2.cu),train_gpt2cu) $(GPU_TESTS) $(DEV_BINS)

.PHONY: all cuda test test-cpu test-gpu bench data clean help
all: train_gpt2 cuda

# ---------------------------------------------------------------- host rules
$(BUILD)/f32/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/f64/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DREAL_IS_DOUBLE -c $< -o $@
$(LIB_F32): $(HOST_F32)
	@rm -f $@; ar rcs $@ $^
$(LIB_F64): $(HOST_F64)
	@rm -f $@; ar rcs $@ $^

train_gpt2: train_gpt2.c $(LIB_F32)
	$(CC) $(CFLAGS) $< $(LIB_F32) $(LDLIBS) -o $@

$(BUILD)/test/%_f64: test/%_f64.c $(LIB_F64)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DREAL_IS_DOUBLE $< $(LIB_F64) $(LDLIBS) -o $@
$(BUILD)/test/%: test/%.c $(LIB_F32)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB_F32) $(LDLIBS) -o $@

# ---------------------------------------------------------------- CUDA rules
# ptxas's report of every kernel's resources (registers, stack frame, spills) is kept beside each
# object as %.ptxas: test/test_kernel_resources.py (make test) fails on a spill or on a block-sparse
# kernel whose registers no longer allow the CTAs per SM its tiles were designed for. The compiler's
# other messages (warnings, errors) still reach the terminal.
$(BUILD)/cu/%.o: %.cu $(wildcard */*.h */*.cuh)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) --resource-usage -c $< -o $@ 2> $(@:.o=.ptxas) || { cat $(@:.o=.ptxas) >&2; rm -f $(@:.o=.ptxas); exit 1; }
	@grep -v -e '^ptxas info' -e '^    [0-9]* bytes stack frame' $(@:.o=.ptxas) >&2 || true

train_gpt2cu: train_gpt2.cu $(CU_OBJ) $(LIB_F32)
	$(NVCC) $(NVCCFLAGS) $< $(CU_OBJ) $(LIB_F32) $(CUDA_LIBS) -o $@
$(BUILD)/test/%: test/%.cu $(CU_OBJ) $(LIB_F32)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $< $(CU_OBJ) $(LIB_F32) $(CUDA_LIBS) -o $@
$(BUILD)/dev/%: dev/%.cu $(CU_OBJ) $(LIB_F32) $(wildcard dev/*.cuh)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $< $(CU_OBJ) $(LIB_F32) $(CUDA_LIBS) -o $@

cuda: $(CUDA_TARGETS)
ifeq ($(HAVE_NVCC),)
	$(error nvcc not found: install the CUDA toolkit (nvcc on PATH) or set NVCC=/path/to/nvcc)
endif

# ---------------------------------------------------------------- tests
# make test: build everything (CUDA compile + link included), then run the CPU tests.
test: train_gpt2 cuda test-cpu

test-cpu: train_gpt2 $(if $(wildcard train_gpt2.cu),train_gpt2cu) $(CPU_TESTS)
	@set -e; for t in $(CPU_TESTS); do echo "== $$t"; ./$$t; done
	$(PYTHON) -m pytest -q test
	@echo "all CPU tests passed"

test-gpu: train_gpt2 cuda
	@set -e; for t in $(GPU_TESTS); do echo "== $$t"; ./$$t; done
	@echo "all GPU tests passed"

bench: $(DEV_BINS)
	@set -e; for b in $(DEV_BINS); do echo "== $$b"; ./$$b; done

# ---------------------------------------------------------------- data
data:
	$(PYTHON) data/prepare.py --default-corpus --out data/default

clean:
	rm -rf $(BUILD) train_gpt2 train_gpt2cu

# the header comment of this file, which lists the entry points
help:
	@sed -n '2,/^$$/{/^#/s/^# \{0,1\}//p}' $(firstword $(MAKEFILE_LIST))
