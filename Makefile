# dualsync - one non-recursive Makefile (see README.md).
#   make               build ./dualsync
#   make check         install missing deps, run unit + integration tests against the lab
#   make demo          run the whole job against the lab
#   make SANITIZE=1    ASan + UBSan build (objects in build-san/)
#   make unit          unit tests only (no lab)
-include config.mak

CC      ?= cc
PKG_CONFIG ?= pkg-config
PKGS    := ldap lber libsasl2 krb5 libcurl libcjson inih openssl
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
           -Wno-missing-field-initializers -Iinclude
LDLIBS  := -lm

ifeq ($(SANITIZE),1)
BUILD   := build-san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
BUILD   := build
endif

# Ask pkg-config only when building: `make check` on a fresh machine first
# installs the -dev packages, then re-enters make.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

SRCS    := $(wildcard src/*.c)
OBJS    := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(BUILD)/main.o,$(OBJS))

BIN     := dualsync
ifeq ($(SANITIZE),1)
BIN     := dualsync-san
endif

all: $(BIN)

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/unit/%.o: tests/unit/%.c | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD):
	mkdir -p $(BUILD)/unit

# Unit tests: tests/unit/test_<module>.c links only its module and the
# modules below it, listed here.
BASE_OBJS := $(BUILD)/util.o $(BUILD)/log.o
UNIT_DEPS_adobject := $(BUILD)/adobject.o
UNIT_DEPS_scope    := $(BUILD)/scope.o $(BUILD)/adobject.o
CONFIG_OBJS := $(BUILD)/config.o $(BUILD)/rules.o $(BUILD)/decision.o $(BUILD)/cloud.o \
               $(BUILD)/scope.o $(BUILD)/adobject.o $(BUILD)/platform_posix.o
UNIT_DEPS_config   := $(CONFIG_OBJS)
UNIT_DEPS_rules    := $(BUILD)/rules.o $(BUILD)/decision.o
UNIT_DEPS_policy   := $(BUILD)/policy.o $(CONFIG_OBJS)
UNIT_DEPS_planner  := $(BUILD)/planner.o $(BUILD)/mapstore_format.o $(BUILD)/decision.o $(BUILD)/adobject.o
UNIT_DEPS_groups   := $(BUILD)/groups.o
UNIT_DEPS_util     :=
UNIT_DEPS_audit    := $(BUILD)/audit.o $(BUILD)/platform_posix.o
UNIT_DEPS_mapstore := $(BUILD)/mapstore.o $(BUILD)/mapstore_format.o $(BUILD)/platform_posix.o \
                      $(BUILD)/cloud.o
GRAPH_OBJS := $(BUILD)/graph.o $(BUILD)/graph_auth.o $(BUILD)/graph_check.o $(BUILD)/graph_json.o \
              $(BUILD)/graph_pace.o $(BUILD)/graph_users.o $(BUILD)/cloud.o $(BUILD)/platform_posix.o
UNIT_DEPS_graph    := $(GRAPH_OBJS)
REPORT_OBJS := $(BUILD)/report.o $(BUILD)/report_csv.o $(BUILD)/report_json.o $(BUILD)/report_html.o \
               $(BUILD)/report_text.o $(BUILD)/audit.o $(BUILD)/mapstore.o $(BUILD)/mapstore_format.o \
               $(BUILD)/platform_posix.o $(BUILD)/cloud.o
UNIT_DEPS_report   := $(REPORT_OBJS) $(BUILD)/tools/report_fixture.o

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.SECONDEXPANSION:
$(BUILD)/unit/test_%: $(BUILD)/unit/test_%.o $(BASE_OBJS) $$(UNIT_DEPS_$$*)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) $(LDLIBS)

# Test tools: drivers of one module for the integration tests and benchmarks.
$(BUILD)/tools/%.o: tests/tools/%.c | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/graphctl: $(BUILD)/tools/graphctl.o $(BASE_OBJS) $(GRAPH_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

tools: $(BUILD)/graphctl

# The Graph client against the simulator (tests/graphsim).
test-graph: $(BUILD)/graphctl
	tests/integration/test_graph.sh $(BUILD)/graphctl

# The report's fixture (tests/integration/test_report.sh, the benchmark).
$(BUILD)/report-fixture: $(BUILD)/tools/report_fixture_main.o $(BUILD)/tools/report_fixture.o \
                         $(REPORT_OBJS) $(BASE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

tools: $(BUILD)/report-fixture

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

deps:
	@scripts/install-deps.sh

# what the tests need besides (headless Chromium for the HTML report)
deps-test:
	@scripts/install-deps.sh --test

check: deps-test
	$(MAKE) all unit tools
	tests/integration/run.sh

demo: deps
	$(MAKE) all
	tests/demo.sh

bench: deps all
	tests/bench/run.sh

# Mapping store benchmark: load and commit 1,000,000 records (tests/bench/RESULTS.md).
MAPSTORE_OBJS := $(BUILD)/mapstore.o $(BUILD)/mapstore_format.o $(BUILD)/platform_posix.o \
                 $(BUILD)/cloud.o $(BASE_OBJS)

$(BUILD)/bench/%.o: tests/bench/%.c | $(BUILD)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/bench/bench_mapstore: $(BUILD)/bench/bench_mapstore.o $(MAPSTORE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench-mapstore: $(BUILD)/bench/bench_mapstore
	$(BUILD)/bench/bench_mapstore $(BENCH_ARGS)

# The report benchmark: 100,000 audit entries, each format (tests/bench/RESULTS.md).
$(BUILD)/bench/bench_report: $(BUILD)/bench/bench_report.o $(BUILD)/tools/report_fixture.o \
                             $(REPORT_OBJS) $(BASE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

bench-report: $(BUILD)/bench/bench_report all
	tests/bench/bench_report.sh $(BUILD)/bench/bench_report $(BENCH_ARGS)

# libFuzzer on the mapping file and journal parsers (clang; not part of check).
FUZZ_SECONDS ?= 60
fuzz-mapstore:
	tests/fuzz/run-mapstore.sh $(FUZZ_SECONDS)

# The policy benchmark (tests/bench/RESULTS.md): 1M synthetic objects, one core.
BENCH_POLICY_OBJS := $(BUILD)/policy.o $(CONFIG_OBJS) $(BASE_OBJS)
BENCH_POLICY_CONFIGS := tests/bench/policy-3-tenants.conf doc/examples/defense-contractor.conf \
                        doc/examples/mesh-four-subsidiaries.conf
TASKSET = $(shell command -v taskset >/dev/null 2>&1 && echo taskset -c 0)

$(BUILD)/bench/bench_policy: $(BUILD)/bench/bench_policy.o $(BENCH_POLICY_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench-policy: $(BUILD)/bench/bench_policy
	$(TASKSET) $(BUILD)/bench/bench_policy $(BENCH_POLICY_CONFIGS)

# libFuzzer on the config loader and the rule parser (clang; not part of check):
# tests/fuzz/run.sh SECONDS runs it. Everything is compiled again with clang's
# sanitizers into tests/out/fuzz-config/.
FUZZ_CONFIG_SRCS := tests/fuzz/fuzz_config.c src/config.c src/rules.c src/decision.c src/cloud.c \
                    src/scope.c src/adobject.c src/platform_posix.c src/util.c src/log.c src/policy.c
FUZZ_CC ?= clang

fuzz: tests/out/fuzz-config/fuzz_config

tests/out/fuzz-config/fuzz_config: $(FUZZ_CONFIG_SRCS) $(wildcard include/*.h)
	mkdir -p tests/out/fuzz-config
	$(FUZZ_CC) -g -O1 -std=c11 -Wall -Wextra -Werror -Iinclude -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ $(FUZZ_CONFIG_SRCS) \
	    $(shell $(PKG_CONFIG) --cflags --libs inih libcrypto)

# libFuzzer on what the Graph client parses from the network (clang; not part of check).
fuzz-graph:
	tests/fuzz/run-graph.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-san dualsync dualsync-san

.PHONY: all unit deps deps-test check demo bench bench-mapstore bench-policy bench-report fuzz \
        fuzz-mapstore fuzz-graph clean tools test-graph
-include $(OBJS:.o=.d) $(wildcard $(BUILD)/unit/*.d) $(wildcard $(BUILD)/bench/*.d) \
         $(wildcard $(BUILD)/tools/*.d)
