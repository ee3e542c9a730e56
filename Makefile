# ingot — one non-recursive Makefile.
#
#   make            build build/ingot (CPU; CUDA too when nvcc is found and CUDA != 0)
#   make test       build and run every CPU test (Criterion), then the command-line tests
#   make test-cuda  run the CUDA equivalence tests (they skip, saying so, without a device)
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
# Each probe compiles and links mk/probe/<name>.c with the flags given.
probe = $(shell $(CC) -std=c11 mk/probe/$(1).c -o /dev/null $(2) >/dev/null 2>&1 && echo yes || echo no)

HAVE_OPENMP    := $(call probe,openmp,-fopenmp)
HAVE_CRITERION := $(call probe,criterion,-lcriterion)
HAVE_JANSSON   := $(call probe,jansson,-ljansson)
HAVE_XXHASH    := $(call probe,xxhash,-lxxhash)
HAVE_YAML      := $(call probe,yaml,-lyaml)
HAVE_OPENBLAS  := $(call probe,openblas,-lopenblas)
HAVE_LAPACKE   := $(call probe,lapacke,-llapacke -lopenblas)

CUDA ?= 1
CUDA_HOME ?= $(firstword $(wildcard /usr/local/cuda /usr/lib/cuda))
NVCC ?= $(if $(CUDA_HOME),$(wildcard $(CUDA_HOME)/bin/nvcc),$(shell command -v nvcc 2>/dev/null))
ifeq ($(CUDA),0)
HAVE_NVCC := no
else
HAVE_NVCC := $(if $(NVCC),$(shell $(NVCC) --version >/dev/null 2>&1 && echo yes || echo no),no)
endif
CUDA_ARCH ?= 80 86 89 90
HAVE_CUBLAS := $(if $(filter yes,$(HAVE_NVCC)),$(if $(wildcard $(CUDA_HOME)/lib64/libcublas.so*),yes,no),no)

REQUIRED := OPENMP JANSSON XXHASH YAML OPENBLAS LAPACKE
MISSING := $(foreach f,$(REQUIRED),$(if $(filter no,$(HAVE_$(f))),$(f)))

# ---- flags ----------------------------------------------------------------------------
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN += -Werror
endif
# -fno-math-errno lets sqrtf/roundf inline; it changes no result (no fast-math)
OPT ?= -O3 -g -fno-math-errno
CSTD := -std=c11 -D_GNU_SOURCE
CFLAGS_ALL := $(CSTD) $(OPT) $(WARN) -fopenmp -I. $(EXTRA_CFLAGS)
LDLIBS_ALL := -ljansson -lxxhash -lyaml -llapacke -lopenblas -lm -fopenmp $(EXTRA_LDFLAGS)

# Saved settings: objects rebuild when the flags change.
SETTINGS := $(BUILD)/settings.txt
SETTINGS_NOW := $(CC) $(CFLAGS_ALL) $(LDLIBS_ALL)
$(shell mkdir -p $(BUILD) && (test -f $(SETTINGS) && test "$$(cat $(SETTINGS))" = '$(SETTINGS_NOW)' || echo '$(SETTINGS_NOW)' > $(SETTINGS)))

# ---- sources --------------------------------------------------------------------------
LIB_DIRS := common formats quantizers kernels/cpu model calib verify
LIB_SRCS := $(sort $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
CLI_SRCS := $(sort $(wildcard convert/*.c))
CLI_LIB_SRCS := $(filter-out convert/main.c,$(CLI_SRCS))
TEST_SRCS := $(sort $(wildcard tests/*.c tests/*/*.c))
TOOL_SRCS := $(sort $(wildcard tools/*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
CLI_LIB_OBJS := $(CLI_LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libingot.a
CLI_LIB := $(BUILD)/libingot-cli.a   # convert/ without main(), for the tests
INGOT := $(BUILD)/ingot
UNIT := $(BUILD)/tests/unit
TOOLS := $(TOOL_SRCS:tools/%.c=$(BUILD)/tools/%)

.PHONY: all test test-cuda config deps demo asan ubsan fuzz bench memcheck clean check-deps

all: check-deps $(INGOT) $(TOOLS)

check-deps:
ifneq ($(strip $(MISSING)),)
	@echo "missing build dependencies: $(MISSING) — run 'make deps' (installs the Debian packages)"; exit 1
endif

$(BUILD)/%.o: %.c $(SETTINGS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLI_LIB): $(CLI_LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(INGOT): $(CLI_OBJS) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(CLI_OBJS) $(LIB) $(LDLIBS_ALL) -o $@

$(BUILD)/tools/%: tools/%.c $(LIB) $(SETTINGS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP $< $(LIB) $(LDLIBS_ALL) -o $@

$(UNIT): $(TEST_OBJS) $(CLI_LIB) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(TEST_OBJS) $(CLI_LIB) $(LIB) $(LDLIBS_ALL) -lcriterion -o $@

# ---- tests ----------------------------------------------------------------------------
# The unit suite finds ../shared/data through INGOT_DATA (default: beside the checkout) and
# the binary under test through INGOT_BIN.
INGOT_DATA ?= $(abspath ../shared/data)
TEST_JOBS ?= 2
export INGOT_DATA

test: all $(UNIT)
	$(Q)INGOT_BIN=$(abspath $(INGOT)) INGOT_ROOT=$(abspath .) $(UNIT) -j$(TEST_JOBS) $(TEST_ARGS)

test-cuda: all $(UNIT)
	$(Q)INGOT_BIN=$(abspath $(INGOT)) INGOT_ROOT=$(abspath .) $(UNIT) --filter 'cuda*/*' $(TEST_ARGS)

memcheck: test-cuda

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
	set -o pipefail; $(MAKE) BUILD=build-ubsan OPT='-O1 -g -fsanitize=undefined -fno-sanitize-recover=undefined' \
	    EXTRA_LDFLAGS='-fsanitize=undefined' test 2>&1 | tee build-ubsan.log
	@! grep -q 'runtime error' build-ubsan.log || (echo "ubsan: reports in build-ubsan.log"; exit 1)

# ---- fuzzing (clang libFuzzer) ---------------------------------------------------------
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I.
FUZZ_LIB_SRCS := $(sort $(wildcard common/*.c formats/*.c))
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: fuzz/%.c $(FUZZ_LIB_SRCS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_LIB_SRCS) -ljansson -lxxhash -lm -o $@

fuzz: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do \
	    name=$$(basename $$f); corpus=$(BUILD)/fuzz/corpus-$$name; mkdir -p $$corpus; \
	    seeds=tests/data/fuzz-seeds/$$name; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 $$corpus $$( [ -d $$seeds ] && echo $$seeds ) 2>&1 | tail -n 3 || exit 1; \
	done

# ---- benchmarks -----------------------------------------------------------------------
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
$(BUILD)/bench/%: bench/%.c $(LIB) $(SETTINGS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $< $(LIB) $(LDLIBS_ALL) -o $@
bench: all $(BENCH_BINS)

# ---- the demo: a seeded model made here, no download -----------------------------------
DEMO ?= demo
demo: all
	$(Q)rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(INGOT) synth -o $(DEMO)/model --seed 1
	$(INGOT) convert $(DEMO)/model -o $(DEMO)/model-Q4_K_M.gguf --type Q4_K_M -q
	$(INGOT) inspect $(DEMO)/model-Q4_K_M.gguf
	$(INGOT) check $(DEMO)/model-Q4_K_M.gguf
	$(INGOT) verify $(DEMO)/model-Q4_K_M.gguf --source $(DEMO)/model --eval $(DEMO)/model/corpus.txt --ctx 128 --chunks 50 -q

# ---- configuration and dependencies ---------------------------------------------------
DEB_PACKAGES := build-essential clang libxxhash-dev libyaml-dev libcriterion-dev libopenblas-dev \
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
	@echo "nvcc       $(HAVE_NVCC) ($(or $(NVCC),not found); CUDA=$(CUDA))"
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
	rm -rf build build-asan build-ubsan

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d)
