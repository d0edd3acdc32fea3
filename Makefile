# egressd - an egress allowlist compiled to an nftables table.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/egressd
POLICYDIR ?= /etc/egressd
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
PKGS := libnftnl libmnl yaml-0.1 libcap libcares nettle

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wpointer-arith -Wformat=2 -Wno-unused-parameter
ifeq ($(CI),true)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 $(WARN) -Iinclude -DEGRESSD_VERSION='"$(VERSION)"' \
	-DEGRESSD_MANIFEST='"$(DOCDIR)/PROVENANCE.manifest"' \
	$(PKG_CFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS)

B := build
SRCS := $(sort $(wildcard src/*.c))
OBJS := $(SRCS:src/%.c=$(B)/obj/%.o)
LIB_OBJS := $(filter-out $(B)/obj/main.o,$(OBJS))
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(B)/tests/%)

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

.PHONY: all deps check unit-test netns-test demo install install-files uninstall clean \
	bench bench-smoke fuzz sbom provenance artefacts-test

all: $(B)/egressd

$(B)/egressd: $(OBJS)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(OBJS) $(ALL_LDFLAGS) $(PKG_LIBS)

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DTESTS_DIR='"$(CURDIR)/tests"' -o $@ $< $(LIB_OBJS) \
		$(ALL_LDFLAGS) $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# Installs the Debian packages that building and testing need, when any is
# missing.  Idempotent; a no-op when everything is there.
deps:
	@./contrib/install-deps

unit-test: $(B)/egressd $(TEST_BINS)
	@for t in $(TEST_BINS); do $$t || exit 1; done

netns-test: $(B)/egressd
	@./netns-tests/run

# The one test command: unit tests, then the namespace harness, then one
# summary line.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory $(TEST_BINS)
	@B=$(B) ./tests/check $(TEST_BINS)

demo: deps
	@$(MAKE) --no-print-directory all
	@./netns-tests/demo

# What the project ships about itself: docs/audit.md.
sbom: $(B)/egressd
	@PKGS="$(PKGS)" ./contrib/sbom $(B)/egressd SBOM.json

provenance: $(B)/egressd
	@./contrib/provenance "" PROVENANCE.manifest

artefacts-test: $(B)/egressd
	@B=$(B) ./tests/artefacts/run

# The manifest is written from the files just installed; install-files is
# the install without it, which contrib/provenance stages to learn the set.
# Benchmarks in network namespaces (docs/performance.md); `bench` rewrites
# bench/results.md, `bench-smoke` only proves the benchmark code runs.
bench: $(B)/egressd
	@B=$(B) ./bench/run

bench-smoke: $(B)/egressd
	@B=$(B) ./bench/run --smoke

# libFuzzer targets (clang): see fuzz/README.md.  CI runs fuzz/run 30.
FUZZ_SECONDS ?= 30
fuzz:
	@FUZZ_OUT=$(B)/fuzz ./fuzz/run $(FUZZ_SECONDS)

install: install-files
	@./contrib/provenance "$(DESTDIR)/" "$(DESTDIR)$(DOCDIR)/PROVENANCE.manifest"

install-files: $(B)/egressd
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DOCDIR)/policy
	install -m 0755 $(B)/egressd $(DESTDIR)$(SBINDIR)/egressd
	install -m 0644 policy/*.yaml $(DESTDIR)$(DOCDIR)/policy/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/egressd
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf $(B)

-include $(OBJS:.o=.d) $(TEST_BINS:=.d)
