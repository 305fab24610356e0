# mlrig: one non-recursive Makefile for both binaries, tests, demo and benchmarks.

PREFIX ?= /usr/local
DESTDIR ?=
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR ?= $(PREFIX)/share/zsh/vendor-completions
BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config

# libcurl: headers only; common/curl-util.c loads it with dlopen() when fetch or DDNS needs it
LIBS_PKGS = libarchive ext2fs com_err fdisk blkid libcrypto libisofs-1 yaml-0.1
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(LIBS_PKGS) libcurl 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(LIBS_PKGS) 2>/dev/null)

WARN = -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2 -g
SANITIZE ?=
ALL_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-DMLRIG_VERSION=\"$(VERSION)\" -DMLRIG_DATADIR=\"$(PREFIX)/share/mlrig\" -DMLRIG_LIBDIR=\"$(PREFIX)/lib/mlrig\" \
	-Icommon -Ibuilder -Ifirstboot $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(SANITIZE)
ALL_LDFLAGS = $(LDFLAGS) $(SANITIZE)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0)

COMMON_SRC := $(sort $(wildcard common/*.c))
BUILDER_SRC := $(filter-out builder/main.c,$(sort $(wildcard builder/*.c)))
FIRSTBOOT_SRC := $(filter-out firstboot/main.c,$(sort $(wildcard firstboot/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/%,$(filter-out tests/unit/test-main.c,$(UNIT_SRC)))

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
BUILDER_OBJ := $(BUILDER_SRC:%.c=$(BUILD)/%.o)
FIRSTBOOT_OBJ := $(FIRSTBOOT_SRC:%.c=$(BUILD)/%.o)

.PHONY: FORCE all check fuzz unit integration boot demo deps install install-man install-completions installcheck deb lint asan bench clean
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/mlrig $(BUILD)/mlrig-firstboot $(BUILD)/compat/mlrig-firstboot

# The flags objects were compiled with: rewritten when they change (PREFIX, CFLAGS),
# so that 'make install PREFIX=/usr' after 'make' does not install /usr/local's paths.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW = $(subst ','\'',$(ALL_CFLAGS) | $(ALL_LDFLAGS) | $(PKG_LIBS))
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D) && printf '%s\n' '$(FLAGS_NOW)' | cmp -s - $@ || printf '%s\n' '$(FLAGS_NOW)' >$@
FORCE:

# -MMD: each object depends on the headers it includes, found by the compiler
$(BUILD)/%.o: %.c Makefile $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/tests/unit/*.d $(BUILD)/tests/fuzz/*.d)

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libbuilder.a: $(BUILDER_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libfirstboot.a: $(FIRSTBOOT_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mlrig: $(BUILD)/builder/main.o $(BUILD)/libbuilder.a $(BUILD)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/mlrig-firstboot: $(BUILD)/firstboot/main.o $(BUILD)/libfirstboot.a $(BUILD)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -ldl

# The agent shipped into rigs: compiled against Debian bullseye's glibc 2.31
# (Ubuntu 20.04's) in a cached sysroot, so it runs there; only libc is linked.
COMPAT_SRC := $(FIRSTBOOT_SRC) firstboot/main.c $(COMMON_SRC)
# CPPFLAGS, CFLAGS and LDFLAGS are the packager's hardening (dpkg-buildflags); not SANITIZE.
$(BUILD)/compat/mlrig-firstboot: $(COMPAT_SRC) $(wildcard common/*.h firstboot/*.h) tools/sysroot.sh Makefile $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@sysroot=$$(bash tools/sysroot.sh) && \
	echo "  CC (glibc 2.31 sysroot) $@" && \
	$(CC) --sysroot=$$sysroot -B$$sysroot/usr/lib/x86_64-linux-gnu/ -L$$sysroot/usr/lib/x86_64-linux-gnu \
		-L$$sysroot/lib/x86_64-linux-gnu -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
		-DMLRIG_VERSION=\"$(VERSION)\" $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -Icommon -Ifirstboot -static-libgcc \
		-o $@ $(COMPAT_SRC) -ldl

$(BUILD)/test-%: $(BUILD)/tests/unit/test-%.o $(BUILD)/tests/unit/test-main.o $(BUILD)/libbuilder.a $(BUILD)/libfirstboot.a $(BUILD)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Fuzz targets (tests/fuzz/fuzz-NAME.c): fuzz-replay-NAME feeds files to one with a plain main
# (make check replays the corpus and the regression inputs through them); fuzzer-NAME is the
# libFuzzer build that make fuzz runs.
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz-%.c,%,$(filter-out tests/fuzz/fuzz-util.c,$(sort $(wildcard tests/fuzz/fuzz-*.c))))
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(BUILD)/fuzz-replay-%)
FUZZ_LIBS = $(BUILD)/tests/fuzz/fuzz-util.o $(BUILD)/libbuilder.a $(BUILD)/libfirstboot.a $(BUILD)/libcommon.a
$(BUILD)/fuzz-replay-%: $(BUILD)/tests/fuzz/fuzz-%.o $(BUILD)/tests/fuzz/replay-main.o $(FUZZ_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl
$(BUILD)/fuzzer-%: $(BUILD)/tests/fuzz/fuzz-%.o $(FUZZ_LIBS)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -ldl

deps:
	@bash tools/deps.sh

unit: all $(UNIT_TESTS) $(FUZZ_REPLAY)
	@bash tests/run.sh unit $(BUILD) $(UNIT_TESTS)

integration: all
	@bash tests/run.sh integration $(BUILD) $(sort $(wildcard tests/integration/test-*.sh))

boot: all
	@bash tests/run.sh boot $(BUILD) $(sort $(wildcard tests/boot/test-*.sh))

# The README's test command: installs what it needs, then every tier.
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(FUZZ_REPLAY)
	@bash tests/run.sh all $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tests/demo.sh $(BUILD)

# The unit and integration tiers under ASan + UBSan (LeakSanitizer included);
# the boot tier boots the glibc 2.31 agent, which is built without them.
ASAN_FLAGS = BUILD=build-asan SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" CFLAGS="-O1 -g"
asan: deps
	@$(MAKE) --no-print-directory $(ASAN_FLAGS) all $(UNIT_TESTS:$(BUILD)/%=build-asan/%) $(FUZZ_REPLAY:$(BUILD)/%=build-asan/%)
	@bash tests/run.sh "unit integration" build-asan

# libFuzzer (clang) with ASan + UBSan: each target for FUZZ_SECONDS, from tests/fuzz/corpus/NAME
# and its dictionary; new inputs go to build-fuzz/corpus/NAME, crashes to build-fuzz/crashes/NAME.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = BUILD=build-fuzz CC=clang CFLAGS="-O1 -g -Wno-string-plus-int" \
	SANITIZE="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_FLAGS) $(FUZZ_TARGETS:%=build-fuzz/fuzzer-%)
	@bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: deps all
	@for b in bench/*.sh; do [ $$b = bench/lib.sh ] && continue; echo "== $$b"; bash $$b $(BUILD) || exit 1; done

lint: deps
	@bash tools/lint.sh

# The agent that goes into rigs is the glibc 2.31 build (it runs on this host too).
install: all install-man install-completions
	install -Dm755 $(BUILD)/mlrig $(DESTDIR)$(PREFIX)/bin/mlrig
	install -Dm755 $(BUILD)/compat/mlrig-firstboot $(DESTDIR)$(PREFIX)/lib/mlrig/mlrig-firstboot
	mkdir -p $(DESTDIR)$(PREFIX)/share/mlrig
	cp -r overlays grub $(DESTDIR)$(PREFIX)/share/mlrig/
	rm -f $(DESTDIR)$(PREFIX)/share/mlrig/overlays/README.md

MAN_PAGES := docs/mlrig.1 $(sort $(wildcard docs/man/*.[0-9]))
install-man:
	for m in $(MAN_PAGES); do install -Dm644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$${m##*/} || exit 1; done

# bash-completion loads completions/NAME for command NAME: one file, and a link for mlrig-firstboot.
install-completions:
	install -Dm644 completions/mlrig.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/mlrig
	ln -sfn mlrig $(DESTDIR)$(BASH_COMPLETION_DIR)/mlrig-firstboot
	install -Dm644 completions/_mlrig $(DESTDIR)$(ZSH_COMPLETION_DIR)/_mlrig

# Installs into a scratch root and checks that the installed mlrig works from its
# installed paths, reading nothing from this source tree.
installcheck: all
	@bash tests/run.sh integration $(BUILD) tests/integration/test-install.sh

# mlrig_VERSION_amd64.deb under $(DEB_OUT), built from a copy of the tracked (and
# untracked, not ignored) files, so the package build's clean never touches this tree.
DEB_OUT ?= $(BUILD)/deb
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb needs dpkg-dev and debhelper (make deps)" >&2; exit 1; }
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/src
	git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | \
		tar -C $(DEB_OUT)/src -xf -
	cd $(DEB_OUT)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b
	rm -rf $(DEB_OUT)/src
	@ls $(DEB_OUT)/*.deb

clean:
	rm -rf build build-asan
