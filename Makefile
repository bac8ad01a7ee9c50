# ntheap — one hand-written GNU Makefile.
#
#   make                 static + shared libraries, the ntheap CLI
#   make check           build and run every test; ends with "N passed, N failed"
#   make demo            build and run the heap demo
#   make bench           build and run the benchmarks against glibc, mimalloc, jemalloc
#   make install PREFIX=/usr/local
#
# Variants: CC=clang, SAN=asan (AddressSanitizer + UBSan), SAN=tsan, DEBUG=1 (precondition and
# lock-rank checks: -DNTH_DEBUG=1). Each variant builds into its own directory (build,
# build-clang, build-asan, build-debug, build-clang-asan-debug, ...), so they never mix objects.
#
# Sources are found by folder, subfolders included, so a new file joins the build by being
# created:
#   src/heap/**.c src/win32/**.c  -> libntheap  (engine, Win32 layer)
#   src/inspect/**.c              -> libntheap-inspect (reads heaps of a process or core file)
#   src/pst/**.c                  -> libntheap-pst   (MS-PST NDB / Heap-on-Node; independent)
#   src/malloc/**.c               -> libntheap-malloc.so (LD_PRELOAD malloc replacement)
#   tools/ntheap/**.c             -> the ntheap CLI
#   tests/<area>/**/test_*.c      -> one test program each; tests/<area>/*.sh run by the runner
#   bench/*.c                     -> benchmark programs (make bench)

CC      ?= cc
SAN     ?=
DEBUG   ?=
PREFIX  ?= /usr/local
OPT     ?= -O2

ifeq ($(origin CC),default)
CC := cc
endif

BUILD_NAME := build$(if $(filter-out cc gcc,$(notdir $(CC))),-$(notdir $(CC)))$(if $(SAN),-$(SAN))$(if $(filter 1,$(DEBUG)),-debug)
BUILD ?= $(BUILD_NAME)

WARN    := -Wall -Wextra -Werror -Wundef -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
SAN_FLAGS_asan := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_FLAGS_tsan := -fsanitize=thread
SAN_FLAGS  := $(SAN_FLAGS_$(SAN))
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -pthread $(WARN) $(CFLAGS) $(SAN_FLAGS) \
              -Iinclude -Isrc -MMD -MP
LDFLAGS_ALL := -pthread $(SAN_FLAGS) $(LDFLAGS)
ifneq ($(SAN),)
ALL_CFLAGS += -DNTH_SANITIZER_BUILD=1
endif
ifeq ($(DEBUG),1)
ALL_CFLAGS += -DNTH_DEBUG=1
endif

# $(call find_c,DIR,PATTERN): files matching PATTERN in DIR and every folder below it.
find_c = $(foreach d,$(wildcard $(1)/*),$(call find_c,$(d),$(2)) $(filter $(subst *,%,$(1)/$(2)),$(d)))

HEAP_SRCS   := $(sort $(call find_c,src/heap,*.c))
LIB_SRCS    := $(HEAP_SRCS) $(sort $(call find_c,src/win32,*.c))
INSPECT_SRCS := $(sort $(call find_c,src/inspect,*.c))
PST_SRCS    := $(sort $(call find_c,src/pst,*.c))
MALLOC_SRCS := $(sort $(call find_c,src/malloc,*.c))
TOOL_SRCS   := $(sort $(call find_c,tools/ntheap,*.c))
TEST_SRCS   := $(sort $(foreach a,$(wildcard tests/*),$(call find_c,$(a),test_*.c)))
BENCH_SRCS  := $(sort $(wildcard bench/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJS    := $(call obj,$(LIB_SRCS))
HEAP_OBJS   := $(call obj,$(HEAP_SRCS))
PST_OBJS    := $(call obj,$(PST_SRCS))
MALLOC_OBJS := $(call obj,$(MALLOC_SRCS))
INSPECT_OBJS := $(call obj,$(INSPECT_SRCS))
TOOL_OBJS   := $(call obj,$(TOOL_SRCS))
TEST_BINS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

LIB_A      := $(BUILD)/libntheap.a
LIB_SO     := $(BUILD)/libntheap.so
PST_A      := $(BUILD)/libntheap-pst.a
PST_SO     := $(BUILD)/libntheap-pst.so
MALLOC_SO  := $(BUILD)/libntheap-malloc.so
MALLOC_A   := $(BUILD)/libntheap-malloc.a
INSPECT_A  := $(BUILD)/libntheap-inspect.a
INSPECT_SO := $(BUILD)/libntheap-inspect.so
TOOL       := $(BUILD)/ntheap

LIBS := $(LIB_A) $(LIB_SO) $(if $(PST_SRCS),$(PST_A) $(PST_SO)) $(if $(MALLOC_SRCS),$(MALLOC_SO) $(MALLOC_A)) \
        $(INSPECT_A) $(INSPECT_SO)

.PHONY: all check demo bench install clean test-bins fuzz-inspect
all: $(LIBS) $(if $(TOOL_SRCS),$(TOOL))

# The engine and the malloc layer export only what their headers mark (NTH_API, libc names).
# Calls between the library's own exported functions bind directly (no PLT).
$(BUILD)/obj/src/heap/%.o $(BUILD)/obj/src/malloc/%.o $(BUILD)/obj/src/inspect/%.o: EXTRA_CFLAGS := -fvisibility=hidden -fno-semantic-interposition

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@rm -f $@; ar rcs $@ $^
$(LIB_SO): $(LIB_OBJS) src/libntheap.map
	@echo "  LD $@"
	@$(CC) -shared $(call so_flags,$@,src/libntheap.map) -o $@.$(NTH_VERSION) $(LIB_OBJS) $(LDFLAGS_ALL)
	@$(call so_links,$@)
$(PST_A): $(PST_OBJS)
	@rm -f $@; ar rcs $@ $^
$(PST_SO): $(PST_OBJS) src/pst/libntheap-pst.map
	@echo "  LD $@"
	@$(CC) -shared $(call so_flags,$@,src/pst/libntheap-pst.map) -o $@.$(NTH_VERSION) $(PST_OBJS) $(LDFLAGS_ALL)
	@$(call so_links,$@)
# The malloc replacement carries its own copy of the engine objects (not the Win32 layer) so
# that it is one file to preload. -Bsymbolic binds its calls to its own engine: a program that
# exports a copy of the engine too (linked with -rdynamic) must not capture them.
$(MALLOC_SO): $(MALLOC_OBJS) $(HEAP_OBJS)
	@echo "  LD $@"
	@$(CC) -shared -Wl,-Bsymbolic -o $@ $^ $(LDFLAGS_ALL)
$(MALLOC_A): $(MALLOC_OBJS)
	@rm -f $@; ar rcs $@ $^
# The inspector: the archive holds its own objects (link libntheap.a after it); the shared
# object carries a private copy of the traversal (engine objects), exporting nth_target_* only.
$(INSPECT_A): $(INSPECT_OBJS)
	@rm -f $@; ar rcs $@ $^
$(INSPECT_SO): $(INSPECT_OBJS) $(HEAP_OBJS) src/inspect/libntheap-inspect.map
	@echo "  LD $@"
	@$(CC) -shared $(call so_flags,$@,src/inspect/libntheap-inspect.map) -o $@.$(NTH_VERSION) $(INSPECT_OBJS) $(HEAP_OBJS) $(LDFLAGS_ALL)
	@$(call so_links,$@)

$(TOOL): $(TOOL_OBJS) $(LIB_A) $(INSPECT_A) $(if $(PST_SRCS),$(PST_A))
	@echo "  LD $@"
	@$(CC) -o $@ $(TOOL_OBJS) $(if $(PST_SRCS),$(PST_A)) $(INSPECT_A) $(LIB_A) $(LDFLAGS_ALL)

# Every test program links both static libraries; unused archive members are not pulled in.
# Tests of ported Windows code (tests/win32) see the <windows.h>/<tchar.h> shims.
TEST_CFLAGS_win32 := -Iinclude/ntheap/compat
# Debug-heap tests name their own functions in stacks (dladdr needs them in the dynamic table).
TEST_CFLAGS_debug := -rdynamic
test_area = $(firstword $(subst /, ,$(patsubst $(BUILD)/tests/%,%,$(1))))
$(BUILD)/tests/%: tests/%.c tests/harness/harness.h $(LIB_A) $(INSPECT_A) $(if $(PST_SRCS),$(PST_A))
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(ALL_CFLAGS) -Itests $(TEST_CFLAGS_$(call test_area,$@)) -o $@ $< \
	    $(if $(PST_SRCS),$(PST_A)) $(INSPECT_A) $(LIB_A) $(LDFLAGS_ALL) -lm

# The inspector's fuzz target (fuzz/inspect_fuzz.c) runs the CLI's views over memory images:
# its smoke test includes it and links the views' objects (cmd_heap*, cmd_address, frames, the emitter,
# target_arg); `make fuzz-inspect` builds it with clang's libFuzzer (not part of check).
FUZZ_TOOL_SRCS := $(wildcard tools/ntheap/cmd_heap*.c) tools/ntheap/cmd_address.c tools/ntheap/emit.c \
                  tools/ntheap/target_arg.c tools/ntheap/frames.c
FUZZ_TOOL_OBJS := $(call obj,$(FUZZ_TOOL_SRCS))
$(BUILD)/tests/inspect/test_inspect_fuzz: tests/inspect/test_inspect_fuzz.c fuzz/inspect_fuzz.c tests/harness/harness.h \
        $(FUZZ_TOOL_OBJS) $(LIB_A) $(INSPECT_A) $(if $(PST_SRCS),$(PST_A))
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(ALL_CFLAGS) -Itests -Itools/ntheap -o $@ $< $(FUZZ_TOOL_OBJS) \
	    $(if $(PST_SRCS),$(PST_A)) $(INSPECT_A) $(LIB_A) $(LDFLAGS_ALL) -lm
fuzz-inspect:
	@command -v clang >/dev/null 2>&1 || { echo "fuzz-inspect: clang is not installed"; exit 0; }; \
	mkdir -p $(BUILD)/fuzz && echo "  CLANG $(BUILD)/fuzz/inspect_fuzz" && \
	clang -std=c11 -D_GNU_SOURCE -pthread -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Iinclude -Isrc -Itools/ntheap -o $(BUILD)/fuzz/inspect_fuzz fuzz/inspect_fuzz.c $(HEAP_SRCS) $(INSPECT_SRCS) \
	    $(FUZZ_TOOL_SRCS) -lm

# The seed lecture's program, built as ported Windows code (the <windows.h> shim); `make demo`
# replays the lecture against it from outside.
LECTURE := $(BUILD)/examples/lec04_growable_heap
$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(ALL_CFLAGS) -Iinclude/ntheap/compat -o $@ $< $(LIB_A) $(LDFLAGS_ALL)

$(BUILD)/bench/%: bench/%.c $(LIB_A) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ibench -o $@ $< $(LIB_A) $(LDFLAGS_ALL) -lm -ldl

test-bins: $(TEST_BINS)

check: all $(TEST_BINS) $(LECTURE)
	@BUILD=$(BUILD) SAN=$(SAN) DEBUG=$(DEBUG) sh tests/harness/run.sh $(BUILD)

# The growable-heap lecture replayed from outside: its program runs as ntheap's child and is
# read through its pid at each step; the heap maps land in $(BUILD)/demo.
demo: all $(LECTURE)
	$(TOOL) demo --lecture $(LECTURE) --out $(BUILD)/demo

bench: all $(BENCH_BINS)
	@BUILD=$(BUILD) sh bench/run.sh $(BUILD)

clean:
	rm -rf build build-*

include mk/packaging.mk

-include $(LIB_OBJS:.o=.d) $(INSPECT_OBJS:.o=.d) $(PST_OBJS:.o=.d) $(MALLOC_OBJS:.o=.d) $(TOOL_OBJS:.o=.d)
-include $(patsubst %,%.d,$(TEST_BINS))
