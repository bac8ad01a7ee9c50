# mk/packaging.mk — the package version, shared-library names, installation and man pages.
# Included once, at the end of the Makefile.
#
# One version for everything: the VERSION file (MAJOR.MINOR.PATCH). The headers
# (NTH_VERSION_* in include/ntheap.h), debian/changelog and `ntheap --version` must agree with
# it; tests/packaging/version_agrees.sh checks that they do.
#
# Shared libraries follow the usual ELF scheme; the SONAME carries the major version only:
#
#   build/libntheap.so  ->  libntheap.so.0  ->  libntheap.so.0.1.0   (the real file)
#         (link time)        (SONAME, run time)
#
# and each exports exactly the names of its version script (src/libntheap.map,
# src/pst/libntheap-pst.map); tests/abi/abi_symbols.sh pins the exported set.
#
# Installation layout (PREFIX=/usr/local by default; Debian passes LIBDIR=/usr/lib/<triplet>):
#   $(BINDIR)/ntheap                       $(LIBDIR)/libntheap{,-pst,-inspect}.so.0.1.0 + symlinks
#   $(INCLUDEDIR)/ntheap.h, ntheap/...     $(LIBDIR)/libntheap{,-pst,-malloc}.a
#   $(LIBDIR)/pkgconfig/ntheap{,-pst,-inspect}.pc   $(PRELOADDIR)/libntheap-malloc.so
#   $(MANDIR)/man{1,3,7}/...              (generated into $(BUILD)/man/)

NTH_VERSION := $(strip $(file <VERSION))
NTH_SOMAJOR := $(firstword $(subst ., ,$(NTH_VERSION)))

BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PRELOADDIR ?= $(LIBDIR)
# `ntheap run` looks for the malloc replacement there when it is not beside the binary.
$(BUILD)/obj/tools/ntheap/cmd_run.o: EXTRA_CFLAGS = -DNTH_PRELOADDIR='"$(PRELOADDIR)"'

# Distribution build flags (e.g. -D_FORTIFY_SOURCE from dpkg-buildflags) reach every compile.
ALL_CFLAGS += $(CPPFLAGS)

# so_flags(LIB.so, MAP): link flags giving LIB.so.MAJOR as the SONAME and MAP as the export list.
so_flags = -Wl,-soname,$(notdir $(1)).$(NTH_SOMAJOR) -Wl,--version-script=$(2)
# so_links(DIR/LIB.so): after LIB.so.X.Y.Z is linked, point LIB.so.X at it and LIB.so at LIB.so.X.
so_links = ln -sfn $(notdir $(1)).$(NTH_VERSION) $(1).$(NTH_SOMAJOR) && \
           ln -sfn $(notdir $(1)).$(NTH_SOMAJOR) $(1)

# install_so(DIR/LIB.so): install the real file and recreate both symlinks in $(LIBDIR).
install_so = install -m 644 $(1).$(NTH_VERSION) $(DESTDIR)$(LIBDIR)/ && \
             ln -sfn $(notdir $(1)).$(NTH_VERSION) $(DESTDIR)$(LIBDIR)/$(notdir $(1)).$(NTH_SOMAJOR) && \
             ln -sfn $(notdir $(1)).$(NTH_SOMAJOR) $(DESTDIR)$(LIBDIR)/$(notdir $(1))

pc_subst = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
               -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(NTH_VERSION)|g'

# Manual pages are generated from their templates (man/PAGE.in) and the sources they describe
# (include/ntheap.h, src/heap/options.def, the commands' help texts) by man/gen-man.sh.
MAN_PAGES := $(patsubst man/%.in,$(BUILD)/man/%,$(sort $(wildcard man/*.[137].in)))
all: $(MAN_PAGES)
$(BUILD)/man/%: man/%.in man/gen-man.sh include/ntheap.h src/heap/options.def VERSION $(TOOL)
	@mkdir -p $(dir $@)
	@echo "  MAN $@"
	@CC="$(CC)" TOOL=$(TOOL) sh man/gen-man.sh $< $@

.PHONY: install abi-symbols
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PRELOADDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/ntheap/compat
	install -m 644 include/ntheap.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(wildcard include/ntheap/*.h) $(DESTDIR)$(INCLUDEDIR)/ntheap/
	install -m 644 $(wildcard include/ntheap/compat/*.h) $(DESTDIR)$(INCLUDEDIR)/ntheap/compat/
	install -m 644 $(filter %.a,$(LIBS)) $(DESTDIR)$(LIBDIR)/
	$(call install_so,$(LIB_SO))
	$(pc_subst) ntheap.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ntheap.pc
	$(if $(PST_SRCS),$(call install_so,$(PST_SO)))
	$(if $(PST_SRCS),$(pc_subst) ntheap-pst.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ntheap-pst.pc)
	$(call install_so,$(INSPECT_SO))
	$(pc_subst) ntheap-inspect.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ntheap-inspect.pc
	$(if $(MALLOC_SRCS),install -m 644 $(MALLOC_SO) $(DESTDIR)$(PRELOADDIR)/)
	$(if $(TOOL_SRCS),install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/)
	for page in $(MAN_PAGES); do \
	    section=$${page##*.}; \
	    install -d $(DESTDIR)$(MANDIR)/man$$section && \
	    install -m 644 $$page $(DESTDIR)$(MANDIR)/man$$section/ || exit 1; \
	done

# Rewrites the checked-in lists of exported names from the libraries just built; run it when an
# export is added or removed on purpose, and commit the result with the change.
abi-symbols: $(LIB_SO) $(INSPECT_SO) $(if $(PST_SRCS),$(PST_SO))
	sh tests/abi/abi_symbols.sh --update $(BUILD)
