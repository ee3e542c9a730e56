# ingot — one non-recursive Makefile.
#
#   make            build build/ingot (CPU; CUDA too when nvcc is found and CUDA != 0)
#   make test       build and run every CPU test (Criterion), then the command-line tests
#   make test-cuda  run the CUDA equivalence tests (they skip, saying so, without a device)
#   make CUDA=1     also build the GPU path (kernels/cuda/*.cu) with nvcc into libingot-cuda.a
#   make tsan-cuda-shim  the CUDA kernels' CPU-shim tests under ThreadSanitizer
#   make config     print what was detected and the flags in use
#   make deps       install the Debian packages the build needs (needs root or sudo)
#   make demo       build, write a seeded demo model, convert it, inspect and check the result
#   make asan|ubsan run the tests under AddressSanitizer / UndefinedBehaviorSanitizer
#   make fuzz       run each libFuzzer harness for FUZZ_SECONDS (default 20)
#   make bench      build the benchmarks
#   V=1 prints full commands; CI=true adds -Werror.

.SUFFIXES:
.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD ?= build
CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

# ---- feature probes (each compiles a tiny program) -----------------------------------
# Each probe compiles and links mk/probe/<name>.c with the flags given. The probes are
# deferred (`=`, not `:=`): they run when a recipe asks for them, not when make reads this
# file, so `make deps demo` probes after `deps` has installed the packages.
probe = $(shell $(CC) -std=c11 mk/probe/$(1).c -o /dev/null $(2) >/dev/null 2>&1 && echo yes || echo no)

HAVE_OPENMP    = $(call probe,openmp,-fopenmp)
HAVE_CRITERION = $(call probe,criterion,-lcriterion)
HAVE_JANSSON   = $(call probe,jansson,-ljansson)
HAVE_XXHASH    = $(call probe,xxhash,-lxxhash)
HAVE_YAML      = $(call probe,yaml,-lyaml)
HAVE_OPENBLAS  = $(call probe,openblas,-lopenblas)
HAVE_LAPACKE   = $(call probe,lapacke,-llapacke -lopenblas)

# nvcc is probed unless CUDA=0; the .cu files are compiled by nvcc only with CUDA=1 (they take
# minutes for the CUDA_ARCH list, longer than the whole CPU build). Without it the cuda_*
# functions are kernels/cuda/cuda_stubs.c's, which refuse with IG_ENODEV.
CUDA ?= auto
CUDA_HOME ?= $(firstword $(wildcard /usr/local/cuda /usr/lib/cuda))
NVCC ?= $(if $(CUDA_HOME),$(wildcard $(CUDA_HOME)/bin/nvcc),$(shell command -v nvcc 2>/dev/null))
ifeq ($(CUDA),0)
HAVE_NVCC := no
else
HAVE_NVCC := $(if $(NVCC),$(shell $(NVCC) --version >/dev/null 2>&1 && echo yes || echo no),no)
endif
CUDA_ARCH ?= 80 86 89 90
HAVE_CUBLAS := $(if $(filter yes,$(HAVE_NVCC)),$(if $(wildcard $(CUDA_HOME)/lib64/libcublas.so*),yes,no),no)
BUILD_CUDA := $(if $(and $(filter 1,$(CUDA)),$(filter yes,$(HAVE_NVCC)),$(filter yes,$(HAVE_CUBLAS))),yes,no)

# C++ (Debian's g++, from build-essential): the CUDA kernels also compile as host C++ through
# kernels/cuda/shim.h, so every build tests them on the CPU.
ifeq ($(origin CXX),default)
CXX := g++
endif
HAVE_CXX = $(shell printf 'int main() { return 0; }\n' | $(CXX) -std=c++17 -x c++ - -o /dev/null >/dev/null 2>&1 && echo yes || echo no)

REQUIRED := OPENMP JANSSON XXHASH YAML OPENBLAS LAPACKE CXX
MISSING = $(foreach f,$(REQUIRED),$(if $(filter no,$(HAVE_$(f))),$(f)))

# ---- flags ----------------------------------------------------------------------------
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN += -Werror
endif
# -fno-math-errno lets sqrtf/roundf inline; it changes no result (no fast-math)
OPT ?= -O3 -g -fno-math-errno
# -ffp-contract=off: a*b+c is never fused behind our back (GCC fuses in GNU modes, clang by
# default, whenever an FMA target is on): sums that decide output bytes use fma()/fmaf() or
# intrinsics where they mean it, so the bytes do not depend on -march (none is set here).
CSTD := -std=c11 -D_GNU_SOURCE -ffp-contract=off
CFLAGS_ALL := $(CSTD) $(OPT) $(WARN) -fopenmp -I. $(EXTRA_CFLAGS)
LDLIBS_ALL := -ljansson -lxxhash -lyaml -llapacke -lopenblas -lm -fopenmp $(EXTRA_LDFLAGS)

# The shim build of kernels/cuda/*.cu and the C++ tests: ISO C++17, no contraction (as CSTD).
CXXWARN := -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter
ifeq ($(CI),true)
CXXWARN += -Werror
endif
CXXFLAGS_ALL := -std=c++17 -ffp-contract=off $(OPT) $(CXXWARN) -pthread -I. $(EXTRA_CXXFLAGS)
# nvcc: every float operation of device code is the IEEE operation the C reference performs
# (no FMA contraction, IEEE division and square root, subnormals kept), so the quantizers'
# bytes are the CPU's by construction; -Xcompiler keeps host code uncontracted too.
NVCC_ARCH := $(if $(filter native,$(CUDA_ARCH)),-arch=native,$(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a)))
NVCC_FLAGS := -std=c++17 -O3 -lineinfo -fmad=false --prec-div=true --prec-sqrt=true -ftz=false $(NVCC_ARCH) \
              -Xcompiler -ffp-contract=off -I. $(if $(filter 1,$(DEBUG)),-DIG_CUDA_DEBUG)

# Saved settings: objects rebuild when the flags change.
SETTINGS := $(BUILD)/settings.txt
SETTINGS_NOW := $(CC) $(CFLAGS_ALL) $(LDLIBS_ALL) | $(CXX) $(CXXFLAGS_ALL) | cuda $(BUILD_CUDA) $(if $(filter yes,$(BUILD_CUDA)),$(NVCC) $(NVCC_FLAGS))
$(shell mkdir -p $(BUILD) && (test -f $(SETTINGS) && test "$$(cat $(SETTINGS))" = '$(SETTINGS_NOW)' || echo '$(SETTINGS_NOW)' > $(SETTINGS)))

# The commit `ingot --version` names ("unknown" outside a git checkout); main.o rebuilds
# when it changes.
INGOT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
COMMIT_STAMP := $(BUILD)/commit.txt
$(shell test "$$(cat $(COMMIT_STAMP) 2>/dev/null)" = '$(INGOT_COMMIT)' || echo '$(INGOT_COMMIT)' > $(COMMIT_STAMP))
$(BUILD)/convert/main.o: $(COMMIT_STAMP)
$(BUILD)/convert/main.o: CFLAGS_ALL += -DINGOT_COMMIT='"$(INGOT_COMMIT)"'

# ---- sources --------------------------------------------------------------------------
LIB_DIRS := common formats tokenizer quantizers kernels/cpu model calib verify batch report
LIB_SRCS := $(sort $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))

# kernels/cuda/*.cu, twice: as host C++ through the shim (tests/unit, every build) and, with
# CUDA=1, by nvcc into libingot-cuda.a, which then replaces the stubs (cuda_stubs.c).
# backend_cuda.cu wraps cuBLAS, which has no shim; cuda_device.c (--device) is C, in every build.
CUDA_SRCS := $(sort $(wildcard kernels/cuda/*.cu))
SHIM_OBJS := $(patsubst kernels/cuda/%.cu,$(BUILD)/kernels/cuda/shim/%.o,$(filter-out kernels/cuda/backend_cuda.cu,$(CUDA_SRCS)))
LIB_SRCS += kernels/cuda/cuda_device.c
NVCC_OBJS := $(CUDA_SRCS:kernels/cuda/%.cu=$(BUILD)/kernels/cuda/nvcc/%.o)
CUDA_LIB := $(BUILD)/libingot-cuda.a
ifeq ($(BUILD_CUDA),yes)
CUDA_DEPS := $(CUDA_LIB)
# the two archives call each other (--device and the launchers' error messages): one group
CUDA_LINK = -Wl,--start-group $(LIB) $(CUDA_LIB) -Wl,--end-group -L$(CUDA_HOME)/lib64 \
             -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
else
LIB_SRCS += kernels/cuda/cuda_stubs.c
CUDA_DEPS :=
CUDA_LINK :=
endif
CLI_SRCS := $(sort $(wildcard convert/*.c))
CLI_LIB_SRCS := $(filter-out convert/main.c,$(CLI_SRCS))
TEST_SRCS := $(sort $(wildcard tests/*.c tests/*/*.c))
TEST_CXX_SRCS := $(sort $(wildcard tests/*/*.cc))
TOOL_SRCS := $(sort $(wildcard tools/*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
CLI_LIB_OBJS := $(CLI_LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)
TEST_CXX_OBJS := $(TEST_CXX_SRCS:%.cc=$(BUILD)/%.o)
LIB := $(BUILD)/libingot.a
CLI_LIB := $(BUILD)/libingot-cli.a   # convert/ without main(), for the tests
INGOT := $(BUILD)/ingot
UNIT := $(BUILD)/tests/unit
TOOLS := $(TOOL_SRCS:tools/%.c=$(BUILD)/tools/%)

.PHONY: all test test-cuda config deps demo asan ubsan tsan-cuda-shim fuzz bench memcheck clean check-deps

all: check-deps $(INGOT) $(TOOLS)

# The check runs as a recipe (after `deps`, when both are asked for), and every object
# waits for it, so a missing package is one clear line rather than a compiler error.
check-deps:
	@missing='$(strip $(MISSING))'; if [ -n "$$missing" ]; then \
	    echo "missing build dependencies: $$missing — run 'make deps' (installs the Debian packages)"; exit 1; fi
	@if [ '$(CUDA)' = 1 ] && [ '$(BUILD_CUDA)' != yes ]; then \
	    echo "CUDA=1 but nvcc $(HAVE_NVCC), cuBLAS $(HAVE_CUBLAS) (NVCC='$(NVCC)', CUDA_HOME='$(CUDA_HOME)')"; exit 1; fi
ifneq ($(filter deps,$(MAKECMDGOALS)),)
check-deps: deps
endif

$(BUILD)/%.o: %.c $(SETTINGS) | check-deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# the shim: kernels/cuda/*.cu as host C++, shim.h force-included (tests only)
$(BUILD)/kernels/cuda/shim/%.o: kernels/cuda/%.cu $(SETTINGS) | check-deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX     $< (shim)")
	$(Q)$(CXX) $(CXXFLAGS_ALL) -x c++ -include kernels/cuda/shim.h -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cc $(SETTINGS) | check-deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(CXXFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/kernels/cuda/nvcc/%.o: kernels/cuda/%.cu $(SETTINGS) | check-deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCC_FLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(CUDA_LIB): $(NVCC_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLI_LIB): $(CLI_LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(INGOT): $(CLI_OBJS) $(LIB) $(CUDA_DEPS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(CLI_OBJS) $(LIB) $(CUDA_LINK) $(LDLIBS_ALL) -o $@

$(BUILD)/tools/%: tools/%.c $(LIB) $(SETTINGS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP $< $(LIB) $(LDLIBS_ALL) -o $@

$(UNIT): $(TEST_OBJS) $(TEST_CXX_OBJS) $(SHIM_OBJS) $(CLI_LIB) $(LIB) $(CUDA_DEPS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(TEST_OBJS) $(TEST_CXX_OBJS) $(SHIM_OBJS) $(CLI_LIB) $(LIB) $(CUDA_LINK) $(LDLIBS_ALL) \
	    -lcriterion -lstdc++ -pthread -o $@

# ---- tests ----------------------------------------------------------------------------
# The unit suite finds ../shared/data through INGOT_DATA (default: beside the checkout) and
# the binary under test through INGOT_BIN.
INGOT_DATA ?= $(abspath ../shared/data)
TEST_JOBS ?= 2
export INGOT_DATA

# tests/run.sh closes with the counts (passed, failed, skipped and why) and the time taken.
test: all $(UNIT)
	$(Q)INGOT_BIN=$(abspath $(INGOT)) INGOT_ROOT=$(abspath .) tests/run.sh $(UNIT) $(BUILD)/test.log -j$(TEST_JOBS) $(TEST_ARGS)

# tests/cuda: the shim's equivalence cases on the GPU (needs CUDA=1 and a device; they skip,
# saying why, otherwise). memcheck runs them under compute-sanitizer.
test-cuda: all $(UNIT)
	$(Q)INGOT_BIN=$(abspath $(INGOT)) INGOT_ROOT=$(abspath .) $(UNIT) --filter 'cuda*/*' $(TEST_ARGS)

COMPUTE_SANITIZER ?= $(firstword $(wildcard $(CUDA_HOME)/bin/compute-sanitizer \
                        $(CUDA_HOME)/compute-sanitizer/compute-sanitizer) compute-sanitizer)
memcheck: all $(UNIT)
	@command -v $(COMPUTE_SANITIZER) >/dev/null || { echo "memcheck: no compute-sanitizer (COMPUTE_SANITIZER=$(COMPUTE_SANITIZER))"; exit 1; }
	$(Q)INGOT_BIN=$(abspath $(INGOT)) INGOT_ROOT=$(abspath .) $(COMPUTE_SANITIZER) --tool memcheck \
	    --target-processes all --error-exitcode 1 $(UNIT) --filter 'cuda*/*' -j1 $(TEST_ARGS)

# ---- sanitizers -----------------------------------------------------------------------
# Criterion counts a test as passed even when LeakSanitizer reports at exit, so the log
# is searched for sanitizer reports as well.
# One test job: with -j2 Criterion's runner (2.4, Debian 12) leaks two 48-byte callocs of its
# own, which LeakSanitizer reports with no frame of ingot's code in them.
asan:
	set -o pipefail; $(MAKE) BUILD=build-asan OPT='-O1 -g -fsanitize=address -fno-omit-frame-pointer' \
	    EXTRA_LDFLAGS='-fsanitize=address' TEST_JOBS=1 test 2>&1 | tee build-asan.log
	@! grep -q 'ERROR: \(Leak\|Address\)Sanitizer' build-asan.log || (echo "asan: sanitizer reports in build-asan.log"; exit 1)

ubsan:
	set -o pipefail; $(MAKE) BUILD=build-ubsan OPT='-O1 -g -fsanitize=undefined,pointer-overflow -fno-sanitize-recover=all' \
	    EXTRA_LDFLAGS='-fsanitize=undefined' test 2>&1 | tee build-ubsan.log
	@! grep -q 'runtime error' build-ubsan.log || (echo "ubsan: reports in build-ubsan.log"; exit 1)

# The shim cases under ThreadSanitizer: in the shim a block's threads are OS threads, so a
# missing __syncthreads or a racy shared write is a report. Criterion cannot start under TSan
# (its arena collides with TSan's shadow memory), so a plain driver runs the cases of
# tests/cuda_shim/cuda_equiv.h. Only the C++ (the kernels and the shim) is instrumented: the C
# library is the single-threaded reference here, and det_gemm.c's ifunc resolvers would run
# instrumented before TSan's runtime starts. The log is searched for reports.
TSAN_BUILD ?= build-tsan
SHIM_TSAN := $(BUILD)/tests/shim_tsan
$(SHIM_TSAN): tests/cuda_shim/tsan/shim_tsan_main.c $(SHIM_OBJS) $(LIB) $(SETTINGS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP $< $(SHIM_OBJS) $(LIB) $(CUDA_LINK) $(LDLIBS_ALL) -lstdc++ -pthread -o $@

tsan-cuda-shim:
	set -o pipefail; $(MAKE) BUILD=$(TSAN_BUILD) CUDA=0 OPT='-O1 -g' EXTRA_CXXFLAGS='-fsanitize=thread' \
	    EXTRA_LDFLAGS='-fsanitize=thread' $(TSAN_BUILD)/tests/shim_tsan 2>&1 | tee $(TSAN_BUILD).log
	set -o pipefail; $(TSAN_BUILD)/tests/shim_tsan 2>&1 | tee -a $(TSAN_BUILD).log
	@! grep -q 'WARNING: ThreadSanitizer' $(TSAN_BUILD).log || (echo "tsan-cuda-shim: reports in $(TSAN_BUILD).log"; exit 1)

# ---- fuzzing (clang libFuzzer) ---------------------------------------------------------
# One harness per reader in fuzz/ (fuzz/<name>.c -> $(BUILD)/fuzz/<name>). The readers are
# compiled once with the harnesses' sanitizers into $(BUILD)/fuzz/obj and linked into each;
# FUZZ_EXTRA_<name> lists sources beyond common/ formats/ tokenizer/ that one harness needs
# (none needs -fopenmp). INGOT_ROOT is this checkout, compiled in, so a harness that reads
# fixtures from tests/data works from any folder; the environment variable overrides it.
# `make fuzz` runs each for FUZZ_SECONDS (FUZZ_ONLY="fuzz_gguf ..." picks some) and prints its
# executions; a crash, leak, timeout or out-of-memory fails it, and the input is kept under
# $(BUILD)/fuzz/artifacts-<name>/ with the whole log in $(BUILD)/fuzz/log-<name>.txt.
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.
FUZZ_DEFS := -DINGOT_ROOT='"$(abspath .)"'
FUZZ_RUN_FLAGS ?= -max_len=65536 -timeout=30 -rss_limit_mb=2048
FUZZ_LIB_SRCS := $(sort $(wildcard common/*.c formats/*.c tokenizer/*.c))
FUZZ_EXTRA_fuzz_corpus := calib/corpus.c
# the type table's reference dequantizers, for quantized tensors (GPTQ and AWQ need LAPACK: left out)
FUZZ_EXTRA_fuzz_gguf_model := model/tensor_f32.c $(filter-out quantizers/awq.c quantizers/gptq.c,$(sort $(wildcard quantizers/*.c)))
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_RUN := $(if $(FUZZ_ONLY),$(filter $(addprefix $(BUILD)/fuzz/,$(FUZZ_ONLY)),$(FUZZ_BINS)),$(FUZZ_BINS))
fuzz_obj = $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(1))
FUZZ_LIB_OBJS := $(call fuzz_obj,$(FUZZ_LIB_SRCS))
FUZZ_ALL_OBJS := $(sort $(FUZZ_LIB_OBJS) $(call fuzz_obj,$(FUZZ_SRCS) $(foreach f,$(FUZZ_SRCS),$(FUZZ_EXTRA_$(basename $(notdir $(f)))))))
FUZZ_SETTINGS := $(BUILD)/fuzz/settings.txt
FUZZ_SETTINGS_NOW := $(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_DEFS)
$(shell mkdir -p $(BUILD)/fuzz && (test "$$(cat $(FUZZ_SETTINGS) 2>/dev/null)" = '$(FUZZ_SETTINGS_NOW)' || echo '$(FUZZ_SETTINGS_NOW)' > $(FUZZ_SETTINGS)))
.SECONDARY: $(FUZZ_ALL_OBJS)   # objects are kept between harness builds

$(BUILD)/fuzz/obj/%.o: %.c $(FUZZ_SETTINGS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_DEFS) -MMD -MP -c $< -o $@

# each harness also depends on its extra objects (listed by the foreach below)
$(BUILD)/fuzz/%: $(BUILD)/fuzz/obj/fuzz/%.o $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $< $(call fuzz_obj,$(FUZZ_EXTRA_$(@F))) $(FUZZ_LIB_OBJS) -ljansson -lxxhash -lm -o $@
$(foreach f,$(FUZZ_SRCS),$(eval $(BUILD)/fuzz/$(basename $(notdir $(f))): $(call fuzz_obj,$(FUZZ_EXTRA_$(basename $(notdir $(f)))))))

# libFuzzer's final stats give the executions; its exit status says whether it found anything.
fuzz: $(FUZZ_BINS)
	$(Q)found=""; \
	for f in $(FUZZ_RUN); do \
	    name=$${f##*/}; corpus=$(BUILD)/fuzz/corpus-$$name; art=$(BUILD)/fuzz/artifacts-$$name/; \
	    log=$(BUILD)/fuzz/log-$$name.txt; seeds=tests/data/fuzz-seeds/$$name; \
	    mkdir -p $$corpus $$art; \
	    $$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_RUN_FLAGS) -print_final_stats=1 -artifact_prefix=$$art \
	        $$corpus $$( [ -d $$seeds ] && echo $$seeds ) >$$log 2>&1; rc=$$?; \
	    execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
	    if [ $$rc -eq 0 ]; then verdict="nothing found"; else \
	        found="$$found $$name"; \
	        verdict="FOUND (exit $$rc): $$(grep -m1 -E '^SUMMARY|ERROR: libFuzzer|deadly signal' $$log || tail -n 1 $$log); $$(grep -m1 -o 'Test unit written to .*' $$log)"; \
	    fi; \
	    printf 'fuzz: %-20s %10s executions in %ss: %s\n' $$name "$${execs:-?}" $(FUZZ_SECONDS) "$$verdict"; \
	done; \
	if [ -n "$$found" ]; then echo "fuzz: FAILED:$$found (logs in $(BUILD)/fuzz/log-<name>.txt)"; exit 1; fi

-include $(FUZZ_ALL_OBJS:.o=.d)

# ---- benchmarks -----------------------------------------------------------------------
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
$(BUILD)/bench/%: bench/%.c $(LIB) $(CUDA_DEPS) $(SETTINGS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $< $(LIB) $(CUDA_LINK) $(LDLIBS_ALL) -o $@
bench: all $(BENCH_BINS)

# ---- the demo: tl3m, a real 3.4M-parameter Llama shipped in examples/ -------------------
# Quantized two ways to Q4_K_M (plain rounding, and GPTQ on a cut of its calibration text),
# each file checked, then both verified against the F16 source on held-out text.
DEMO ?= demo
DEMO_MODEL := examples/tl3m
demo: all
	$(Q)rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== 1. round-to-nearest: $(DEMO_MODEL) -> $(DEMO)/tl3m-Q4_K_M-rtn.gguf"
	$(INGOT) convert $(DEMO_MODEL) -o $(DEMO)/tl3m-Q4_K_M-rtn.gguf --type Q4_K_M
	@echo "== 2. GPTQ, calibrated on 64 windows of $(DEMO_MODEL)/calib.txt -> $(DEMO)/tl3m-Q4_K_M-gptq.gguf"
	$(INGOT) convert $(DEMO_MODEL) -o $(DEMO)/tl3m-Q4_K_M-gptq.gguf --type Q4_K_M \
	    --method gptq --calib $(DEMO_MODEL)/calib.txt --samples 64 --seq-len 256 -q
	@echo "== 3. integrity: every tensor's xxh3-64 (llama.cpp loads these files as they are)"
	$(INGOT) check $(DEMO)/tl3m-Q4_K_M-rtn.gguf
	$(INGOT) check $(DEMO)/tl3m-Q4_K_M-gptq.gguf
	@echo "== 4. what each lost against the F16 source, on held-out text ($(DEMO_MODEL)/eval.txt)"
	$(INGOT) verify $(DEMO)/tl3m-Q4_K_M-rtn.gguf $(DEMO)/tl3m-Q4_K_M-gptq.gguf --source $(DEMO_MODEL) \
	    --eval $(DEMO_MODEL)/eval.txt --ctx 256 --chunks 96 -q
	@echo "== 5. the same as a pipeline step: examples/demo.yaml (5 mixes by rounding + GPTQ, gates, Pareto report)"
	$(INGOT) batch examples/demo.yaml --jobs 2
	@cat build/batch-demo/report.md
	@echo "(charts: build/batch-demo/report.html; a rerun skips every finished job)"

# ---- configuration and dependencies ---------------------------------------------------
DEB_PACKAGES := build-essential g++ clang libxxhash-dev libyaml-dev libcriterion-dev libopenblas-dev \
                liblapacke-dev libjansson-dev

config:
	@echo "CC         $(CC) ($$($(CC) --version | head -n1))"
	@echo "CFLAGS     $(CFLAGS_ALL)"
	@echo "LDLIBS     $(LDLIBS_ALL)"
	@echo "openmp     $(HAVE_OPENMP) (-fopenmp)"
	@echo "criterion  $(HAVE_CRITERION) (-lcriterion)"
	@echo "jansson    $(HAVE_JANSSON) (-ljansson)"
	@echo "xxhash     $(HAVE_XXHASH) (-lxxhash)"
	@echo "libyaml    $(HAVE_YAML) (-lyaml)"
	@echo "openblas   $(HAVE_OPENBLAS) (-lopenblas)"
	@echo "lapacke    $(HAVE_LAPACKE) (-llapacke)"
	@echo "c++        $(HAVE_CXX) ($(CXX): the CUDA kernels' host shim; $(CXXFLAGS_ALL))"
	@echo "nvcc       $(HAVE_NVCC) ($(or $(NVCC),not found); CUDA=$(CUDA))"
	@echo "cuda build $(BUILD_CUDA)$(if $(filter yes,$(BUILD_CUDA)), ($(NVCC_FLAGS)),$(if $(filter yes,$(HAVE_NVCC)), (make CUDA=1 builds the GPU path),))"
	@echo "cublas     $(HAVE_CUBLAS)"
	@echo "cuda arch  $(CUDA_ARCH)"
	@echo "missing    $(or $(strip $(MISSING)),none)"

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo=sudo; fi; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing

clean:
	rm -rf build build-asan build-ubsan build-tsan

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(TEST_CXX_OBJS:.o=.d) $(SHIM_OBJS:.o=.d) $(SHIM_TSAN).d \
         $(if $(filter yes,$(BUILD_CUDA)),$(NVCC_OBJS:.o=.d))
