# dualsync - one non-recursive Makefile (see README.md).
#   make               build ./dualsync
#   make check         install missing deps, run unit + integration tests against the lab
#   make demo          run the whole job against the lab
#   make SANITIZE=1    ASan + UBSan build (objects in build-san/)
#   make test-bin      ./dualsync-test: the test build, with the hooks of src/testhooks.c
#   make unit          unit tests only (no lab)
#   make TARGET=windows       cross-build dualsync.exe with MinGW-w64 (objects in build-win/);
#                             `make windows` / `make windows-unit` first build its libraries
-include config.mak

CC      ?= cc
PKG_CONFIG ?= pkg-config
PKGS    := ldap lber libsasl2 krb5 libcurl libcjson inih openssl libxml-2.0
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

# The platform: one file per OS-specific job, platform_posix.c or
# platform_win32.c (STYLE.md: no #ifdef _WIN32 elsewhere). The Windows build
# reads AD through wldap32 (ldap_source_win32.c, picked up by WIN32_ONLY) instead
# of OpenLDAP (ldap_source.c); both transports share the reader itself
# (ldap_read.c, ldap_pull.c, ldap_watermark.c). Its libraries come from
# scripts/build-windows.sh (build-win/deps.mak), libxml2 among them: both
# builds read Connect's exported configuration with connect_export.c.
PLATFORM      := posix
POSIX_ONLY    := src/ldap_source.c src/tls_probe.c
WIN32_ONLY    := $(wildcard src/*_win32.c)
EXE           :=
RUN_TEST      :=
UNIT_END      := :
ifeq ($(TARGET),windows)
MINGW         ?= x86_64-w64-mingw32
BUILD         := build-win
PLATFORM      := win32
EXE           := .exe
-include build-win/deps.mak
# The compiler the libraries were built with (deps.mak: the win32 thread
# model by name, not whichever one update-alternatives points at), also as
# windres's preprocessor.
CC            := $(or $(WIN_CC),$(MINGW)-gcc-win32)
WINDRES       := $(MINGW)-windres --preprocessor=$(CC) --preprocessor-arg=-E \
                 --preprocessor-arg=-xc --preprocessor-arg=-DRC_INVOKED
PKG_CONFIG    := PKG_CONFIG_LIBDIR=$(WIN_PKG_CONFIG_LIBDIR) pkg-config --static
PKGS          := libcurl libcjson inih libcrypto tre libxml-2.0
# MinGW's own stdio (C99 formats: %zu, %lld) instead of msvcrt's, and the
# POSIX *_r time functions of its <time.h>
CFLAGS        += -D__USE_MINGW_ANSI_STDIO=1 -D_POSIX_THREAD_SAFE_FUNCTIONS=200112L -DNO_MEMRCHR
# The same dualsync.exe from any clone and any library cache (doc/windows-build.md):
# the debug information names neither the project's directory nor the cache's
# (deps.mak), and the PE header has no link time.
CFLAGS        += -ffile-prefix-map=$(CURDIR)=. $(WIN_PREFIX_MAP)
LDFLAGS       += -Wl,--no-insert-timestamp
# -static: one .exe without MinGW's runtime DLLs beside it
LDFLAGS       += -static
LDLIBS        += -lwldap32 -lcrypt32 -lncrypt -lbcrypt -lwinhttp -lsecur32 -lws2_32 -ladvapi32 -lshell32
# deps.mak changes only with the libraries: then everything is built again
# against their headers (an object left from other libraries would also name
# their directory in its debug information)
.EXTRA_PREREQS := $(wildcard build-win/deps.mak)
# the unit tests get the few POSIX calls they use from a test-only shim
UNIT_CFLAGS   = -include tests/unit/win32/shim.h -Itests/unit/win32/include \
                $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
UNIT_SHIM     := $(BUILD)/unit/shim.o
WINE          ?= wine
WINEPREFIX    ?= $(CURDIR)/$(BUILD)/wine
# no Mono or Gecko in the prefix: the tests need neither, and Wine would
# otherwise look for them (and offer to download them) when it makes the prefix
RUN_TEST      := WINEPREFIX=$(WINEPREFIX) WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml= $(WINE)
# the prefix's wineserver and its services (services.exe, explorer.exe, ...)
# outlive the tests: end them, so that make check leaves no process behind
UNIT_END      := WINEPREFIX=$(WINEPREFIX) wineserver -k 2>/dev/null || :
endif
PLATFORM_O    := $(BUILD)/platform_$(PLATFORM).o $(BUILD)/platform.o
# what tests need from the OS beyond platform.h (tests/unit/testplat.h)
ifeq ($(PLATFORM),win32)
TESTPLAT_O    :=
else
TESTPLAT_O    := $(BUILD)/unit/testplat_posix.o
endif

# Ask pkg-config only when building: `make check` on a fresh machine first
# installs the -dev packages, then re-enters make.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

ifeq ($(PLATFORM),win32)
SRCS    := $(filter-out $(POSIX_ONLY) $(wildcard src/*_posix.c),$(wildcard src/*.c))
else
SRCS    := $(filter-out $(WIN32_ONLY),$(wildcard src/*.c))
endif
OBJS    := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(BUILD)/main.o,$(OBJS))

BIN     := dualsync$(EXE)
ifeq ($(SANITIZE),1)
BIN     := dualsync-san
endif
ifeq ($(PLATFORM),win32)
# the manifest: UTF-8 as the ANSI code page (fopen, getenv), long paths
OBJS    += $(BUILD)/dualsync_res.o
endif

all: $(BIN)

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# The test build (include/testhooks.h): the same objects, but the hooks the
# integration tests, the crash sweep and the demo steer it with are on. Never
# installed; the shipped $(BIN) ignores them.
TEST_BIN := $(patsubst dualsync%,dualsync-test%,$(BIN))

$(BUILD)/testhooks-on.o: src/testhooks.c | $(BUILD)
	$(CC) $(CFLAGS) -DDUALSYNC_TEST_HOOKS $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(TEST_BIN): $(filter-out $(BUILD)/testhooks.o,$(OBJS)) $(BUILD)/testhooks-on.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

test-bin: $(TEST_BIN)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/dualsync_res.o: src/dualsync.rc src/dualsync.exe.manifest | $(BUILD)
	$(WINDRES) -Isrc -o $@ src/dualsync.rc

$(BUILD)/unit/%.o: tests/unit/%.c | $(BUILD)/unit
	$(CC) $(CFLAGS) $(UNIT_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/unit/shim.o: tests/unit/win32/shim.c | $(BUILD)/unit
	$(CC) $(CFLAGS) $(UNIT_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD) $(BUILD)/unit:
	mkdir -p $@

# Unit tests: tests/unit/test_<module>.c links only its module and the
# modules below it, listed here.
# (log.o reads the clock through platform.h, so the platform comes with it)
BASE_OBJS := $(BUILD)/util.o $(BUILD)/log.o $(PLATFORM_O) $(BUILD)/testhooks.o
UNIT_DEPS_adobject := $(BUILD)/adobject.o
UNIT_DEPS_cli      := $(BUILD)/cli.o $(BUILD)/unit/capture.o
UNIT_DEPS_scope    := $(BUILD)/scope.o $(BUILD)/adobject.o
CONFIG_OBJS := $(BUILD)/config.o $(BUILD)/rules.o $(BUILD)/decision.o $(BUILD)/cloud.o \
               $(BUILD)/scope.o $(BUILD)/adobject.o $(PLATFORM_O)
UNIT_DEPS_config   := $(CONFIG_OBJS)
UNIT_DEPS_rules    := $(BUILD)/rules.o $(BUILD)/decision.o
UNIT_DEPS_policy   := $(BUILD)/policy.o $(CONFIG_OBJS)
UNIT_DEPS_planner  := $(BUILD)/planner.o $(BUILD)/mapstore_format.o $(BUILD)/decision.o $(BUILD)/adobject.o
UNIT_DEPS_groups   := $(BUILD)/groups.o
UNIT_DEPS_ldap_watermark := $(BUILD)/ldap_watermark.o $(BUILD)/adobject.o
# the reader's shared part over a fake backend (in the test itself)
UNIT_DEPS_ldap_read := $(BUILD)/ldap_read.o $(BUILD)/ldap_pull.o $(BUILD)/scope.o $(BUILD)/adobject.o
UNIT_DEPS_util     :=
UNIT_DEPS_audit    := $(BUILD)/audit.o $(PLATFORM_O) $(TESTPLAT_O)
UNIT_DEPS_mapstore := $(BUILD)/mapstore.o $(BUILD)/mapstore_format.o $(PLATFORM_O) \
                      $(BUILD)/cloud.o $(BUILD)/decision.o $(BUILD)/unit/capture.o
GRAPH_OBJS := $(BUILD)/graph.o $(BUILD)/graph_auth.o $(BUILD)/graph_check.o $(BUILD)/graph_json.o \
              $(BUILD)/graph_pace.o $(BUILD)/graph_users.o $(BUILD)/cloud.o $(PLATFORM_O)
UNIT_DEPS_graph    := $(GRAPH_OBJS)
REPORT_OBJS := $(BUILD)/report.o $(BUILD)/report_csv.o $(BUILD)/report_json.o $(BUILD)/report_html.o \
               $(BUILD)/report_text.o $(BUILD)/audit.o $(BUILD)/mapstore.o $(BUILD)/mapstore_format.o \
               $(PLATFORM_O) $(BUILD)/cloud.o $(BUILD)/decision.o
UNIT_DEPS_report   := $(REPORT_OBJS) $(BUILD)/tools/report_fixture.o $(TESTPLAT_O)
UNIT_DEPS_platform := $(PLATFORM_O) $(TESTPLAT_O) $(BUILD)/unit/capture.o
UNIT_DEPS_snapshot := $(BUILD)/snapshot.o $(BUILD)/adobject.o $(PLATFORM_O)
UNIT_DEPS_convert  := $(BUILD)/convert_check.o
UNIT_DEPS_b2b_verdict := $(BUILD)/b2b_verdict.o $(BUILD)/cloud.o
UNIT_DEPS_connect_judge := $(BUILD)/connect_judge.o $(BUILD)/adobject.o
UNIT_DEPS_connect_export := $(BUILD)/connect_export.o $(BUILD)/connect_judge.o $(BUILD)/adobject.o \
                            $(BUILD)/connect_tenant.o $(BUILD)/cloud.o $(BUILD)/unit/capture.o
UNIT_DEPS_connect_tenant := $(BUILD)/connect_tenant.o $(BUILD)/connect_judge.o $(BUILD)/adobject.o \
                            $(BUILD)/cloud.o
# world: everything it reads AD and decides with (it stops at the LDAP connect)
UNIT_DEPS_world    := $(filter-out $(BUILD)/main.o $(BUILD)/dualsync_res.o,$(OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%$(EXE),$(UNIT_SRCS))

# test_testhooks twice: with the shipped build's hooks (BASE_OBJS) and the test build's
UNIT_BINS += $(BUILD)/unit/test_testhooks-on$(EXE)
$(BUILD)/unit/test_testhooks-on$(EXE): $(BUILD)/unit/test_testhooks.o $(BUILD)/testhooks-on.o \
                                       $(filter-out $(BUILD)/testhooks.o,$(BASE_OBJS)) $(UNIT_SHIM)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) $(LDLIBS)

.SECONDEXPANSION:
# test_mapstore and test_ldap_read drive a hook through its variable (the
# crash hook, the range size), as the integration tests do: they link the
# test build's hooks
UNIT_HOOKED := $(BUILD)/unit/test_mapstore$(EXE) $(BUILD)/unit/test_ldap_read$(EXE)
$(UNIT_HOOKED): $(BUILD)/unit/test_%$(EXE): $(BUILD)/unit/test_%.o $(BUILD)/testhooks-on.o \
                $(filter-out $(BUILD)/testhooks.o,$(BASE_OBJS)) $$(UNIT_DEPS_$$*) $(UNIT_SHIM)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/unit/test_%$(EXE): $(BUILD)/unit/test_%.o $(BASE_OBJS) $$(UNIT_DEPS_$$*) $(UNIT_SHIM)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) $(LDLIBS)

# Test tools: drivers of one module for the integration tests and benchmarks.
$(BUILD)/tools/%.o: tests/tools/%.c | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(CFLAGS) $(UNIT_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/graphctl: $(BUILD)/tools/graphctl.o $(BASE_OBJS) $(GRAPH_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

tools: $(BUILD)/graphctl

# Windows only: the certificate store's import for test_windows.sh
$(BUILD)/win-import-pfx$(EXE): tests/tools/win_import_pfx.c | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lcrypt32

# The Graph client against the simulator (tests/graphsim).
test-graph: $(BUILD)/graphctl
	tests/integration/test_graph.sh $(BUILD)/graphctl

# The report's fixture (tests/integration/test_report.sh, the benchmark).
$(BUILD)/report-fixture: $(BUILD)/tools/report_fixture_main.o $(BUILD)/tools/report_fixture.o \
                         $(REPORT_OBJS) $(BASE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

tools: $(BUILD)/report-fixture

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do $(RUN_TEST) $$t || fail=1; done; $(UNIT_END); exit $$fail

# The Windows build (doc/deployment.md): the libraries from Debian's source
# packages, cached in /var/cache/dualsync-mingw; the unit tests run under Wine.
windows-deps:
	scripts/build-windows.sh

windows: windows-deps
	$(MAKE) TARGET=windows all build-win/win-import-pfx.exe

windows-unit: windows-deps
	$(MAKE) TARGET=windows unit

# dualsync-test.exe: the Windows test build, which test_windows.sh runs
windows-test-bin: windows-deps
	$(MAKE) TARGET=windows test-bin

deps:
	@scripts/install-deps.sh

# what the tests need besides (headless Chromium for the HTML report)
deps-test:
	@scripts/install-deps.sh --test

# what the benchmarks call besides (valgrind)
deps-bench:
	@scripts/install-deps.sh --bench

# The Windows cross build comes before the integration tests, which run
# dualsync-test.exe under Wine beside the Linux build (test_windows.sh); its
# unit tests under Wine come last. Its libraries are built once from pinned
# Debian source packages (about 3 minutes cold, cached in
# /var/cache/dualsync-mingw; doc/windows-build.md).
# With SANITIZE=1 the integration tests run ./dualsync-test-san; leaks inside
# system libraries are suppressed (tests/lsan.supp), never ours.
check: deps-test
	$(MAKE) all test-bin unit tools fuzz-replay
	$(MAKE) SANITIZE= windows windows-test-bin
	DUALSYNC=$(CURDIR)/$(TEST_BIN) DUALSYNC_SHIPPED=$(CURDIR)/$(BIN) DUALSYNC_EXE=$(CURDIR)/dualsync-test.exe \
	    GRAPHCTL=$(CURDIR)/$(BUILD)/graphctl BUILD_DIR=$(BUILD) \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp tests/integration/run.sh
	$(MAKE) SANITIZE= windows-unit

demo: deps
	$(MAKE) all test-bin
	tests/demo.sh

bench: deps-bench all
	tests/bench/run.sh

# Mapping store benchmark: load and commit 1,000,000 records (tests/bench/RESULTS.md).
MAPSTORE_OBJS := $(BUILD)/mapstore.o $(BUILD)/mapstore_format.o $(BUILD)/platform_posix.o \
                 $(BUILD)/cloud.o $(BUILD)/decision.o $(BASE_OBJS)

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

# The copy of AD kept between runs: 100,000 users and 200 groups applied, saved,
# loaded, handed on, saved again, a delta applied (tests/bench/RESULTS.md).
SNAPSHOT_OBJS := $(BUILD)/snapshot.o $(BUILD)/adobject.o $(BUILD)/platform_posix.o $(BASE_OBJS)

$(BUILD)/bench/bench_snapshot: $(BUILD)/bench/bench_snapshot.o $(SNAPSHOT_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench-snapshot: $(BUILD)/bench/bench_snapshot
	$(BUILD)/bench/bench_snapshot $(BENCH_ARGS)

# libFuzzer on the mapping file and journal parsers (clang; not part of check).
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= -1
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

# Every fuzz target built without libFuzzer, by this compiler from the objects
# the program is made of (tests/fuzz/replay.c), and run over the inputs kept in
# the tree: part of `make check`, so a target that stops building or linking,
# or aborts on an input it once took, fails there, not at the next fuzz run.
FUZZ_TARGETS      := config connect_export graph mapstore snapshot
FUZZ_REPLAY_OBJS  := $(filter-out $(BUILD)/main.o $(BUILD)/dualsync_res.o,$(OBJS))
$(BUILD)/fuzz:
	mkdir -p $@
$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_REPLAY_OBJS) | $(BUILD)/fuzz
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(FUZZ_REPLAY_OBJS) \
	    $(LDFLAGS) $(PKG_LIBS) $(LDLIBS)
# (the targets' own messages about bad input go to $(BUILD)/fuzz/replay.log)
fuzz-replay: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)
	@set -e; log=$(BUILD)/fuzz/replay.log; : > $$log; \
	replay() { "$$@" 2>>$$log || { tail -n 20 $$log; echo "fuzz-replay: $$* failed" >&2; exit 1; }; }; \
	replay $(BUILD)/fuzz/replay_config tests/fuzz/corpus-config; \
	replay $(BUILD)/fuzz/replay_connect_export $(wildcard tests/fixtures/connect/*/*/); \
	for t in graph mapstore snapshot; do replay $(BUILD)/fuzz/replay_$$t; done

# libFuzzer on the config loader and the rule parser (clang; not part of check):
# make fuzz FUZZ_SECONDS=N [FUZZ_RUNS=N] runs tests/fuzz/run.sh (a timeout per
# input and an RSS limit). Everything is compiled again with clang's
# sanitizers into tests/out/fuzz-config/.
FUZZ_CONFIG_SRCS := tests/fuzz/fuzz_config.c src/config.c src/rules.c src/decision.c src/cloud.c \
                    src/scope.c src/adobject.c src/platform_posix.c src/platform.c src/util.c src/log.c src/policy.c
FUZZ_CC ?= clang

fuzz:
	FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run.sh $(FUZZ_SECONDS)

tests/out/fuzz-config/fuzz_config: $(FUZZ_CONFIG_SRCS) $(wildcard include/*.h)
	mkdir -p tests/out/fuzz-config
	$(FUZZ_CC) -g -O1 -std=c11 -Wall -Wextra -Werror -Iinclude -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ $(FUZZ_CONFIG_SRCS) \
	    $(shell $(PKG_CONFIG) --cflags --libs inih libcrypto libcjson)

# libFuzzer on what the Graph client parses from the network (clang; not part of check).
fuzz-graph:
	tests/fuzz/run-graph.sh $(FUZZ_SECONDS)

# libFuzzer on the reader of Entra Connect's exported configuration, one XML
# file per input (clang; not part of check).
fuzz-connect:
	tests/fuzz/run-connect.sh $(FUZZ_SECONDS)

# libFuzzer on the loader of the copy of AD kept between runs (clang; not part of check).
fuzz-snapshot:
	tests/fuzz/run-snapshot.sh $(FUZZ_SECONDS)

# The randomized campaign against the lab at length (tests/campaign/long-run.sh;
# make check runs 500 operations of it): OPS operations, SEED to replay one.
campaign-long: deps-test all test-bin
	tests/campaign/long-run.sh $(or $(OPS),20000) $(SEED)

# Installation (doc/deployment.md). PREFIX for the program, its manual and
# examples; the units go where systemd looks for those of packages
# ($(PREFIX)/lib/systemd/system), and name the installed binary.
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/dualsync
DATADIR     ?= $(PREFIX)/share/dualsync
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL     ?= install
UNITS       := dualsync-watch.service dualsync-run.service dualsync-run.timer

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(DATADIR)
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(BINDIR)/dualsync$(EXE)
	$(INSTALL) -m 644 doc/dualsync.1 $(DESTDIR)$(MANDIR)/man1/dualsync.1
	$(INSTALL) -m 644 doc/dualsync.conf.5 $(DESTDIR)$(MANDIR)/man5/dualsync.conf.5
	$(INSTALL) -m 644 doc/examples/*.conf $(DESTDIR)$(DOCDIR)/examples/
	$(INSTALL) -m 644 doc/config.md doc/mapping-format.md doc/deployment.md $(DESTDIR)$(DOCDIR)/
	for u in $(UNITS); do \
	    sed -e 's|/usr/bin/dualsync|$(BINDIR)/dualsync|g' -e 's|/etc/dualsync|$(SYSCONFDIR)/dualsync|g' \
	        scripts/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	$(INSTALL) -m 644 scripts/systemd/dualsync.sysusers $(DESTDIR)$(SYSUSERSDIR)/dualsync.conf
	sed 's|/etc/dualsync|$(SYSCONFDIR)/dualsync|g' scripts/systemd/dualsync.tmpfiles \
	    > $(DESTDIR)$(TMPFILESDIR)/dualsync.conf
	$(INSTALL) -m 644 scripts/dualsync.bash-completion $(DESTDIR)$(COMPLETIONDIR)/dualsync
	$(INSTALL) -m 644 scripts/Register-DualsyncTask.ps1 $(DESTDIR)$(DATADIR)/Register-DualsyncTask.ps1
	$(INSTALL) -m 644 scripts/New-DualsyncConnectRule.ps1 $(DESTDIR)$(DATADIR)/New-DualsyncConnectRule.ps1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dualsync$(EXE) $(DESTDIR)$(MANDIR)/man1/dualsync.1 \
	    $(DESTDIR)$(MANDIR)/man5/dualsync.conf.5 $(DESTDIR)$(COMPLETIONDIR)/dualsync \
	    $(DESTDIR)$(SYSUSERSDIR)/dualsync.conf $(DESTDIR)$(TMPFILESDIR)/dualsync.conf \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)

clean:
	rm -rf build build-san build-win dualsync dualsync-san dualsync.exe dualsync-test dualsync-test-san dualsync-test.exe

.PHONY: all test-bin unit deps deps-test deps-bench check demo campaign-long bench bench-mapstore bench-policy bench-report bench-snapshot fuzz fuzz-replay \
        fuzz-mapstore fuzz-graph fuzz-connect fuzz-snapshot clean tools test-graph windows windows-deps windows-unit windows-test-bin install uninstall
-include $(OBJS:.o=.d) $(wildcard $(BUILD)/unit/*.d) $(wildcard $(BUILD)/bench/*.d) \
         $(wildcard $(BUILD)/tools/*.d)
