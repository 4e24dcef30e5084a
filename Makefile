# papo: builds the C library, header, pkg-config file and C examples into build/,
# installs them, and runs the C tests. GNU make.
#
#   make                      cargo build --release, then build/{lib,include,bin}
#   make run                  the above and papo-server, then starts it: the chat on
#                             127.0.0.1:18000, the browser client on http://127.0.0.1:18080/
#   make install PREFIX=/usr/local [DESTDIR=/tmp/pkg]
#   make uninstall PREFIX=/usr/local
#   make test-c               the C API test as C99 and C++11, shared and static; a 0.1
#                             program against the new library; handles and fork
#   make test-c-asan          the same C tests under AddressSanitizer + UBSan
#   make test-c-valgrind      the same C tests under Valgrind (memcheck)
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
CARGO   ?= cargo
CC      ?= cc
CXX     ?= g++

# The flags every C file of papo compiles with (ARCHITECTURE.md, "Tests").
STRICT_C   = -std=c99 -Wall -Wextra -Wpedantic -Werror
STRICT_CXX = -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror
# What the static library needs besides libc (cargo rustc --release --lib
# --crate-type staticlib -- --print native-static-libs); also in papo.pc.in.
STATIC_LIBS = -lgcc_s -lutil -lrt -lpthread -lm -ldl

VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
CARGO_OUT := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)/release

BUILD  := build
LIBDIR := $(BUILD)/lib
BINDIR := $(BUILD)/bin
SO_REAL := libpapo.so.$(VERSION)
SONAME  := libpapo.so.$(MAJOR)

EXAMPLES := $(BINDIR)/servidor $(BINDIR)/cliente

.PHONY: all lib server run install uninstall test-c test-c-asan test-c-valgrind clean

all: lib $(BUILD)/include/papo.h $(LIBDIR)/pkgconfig/papo.pc $(EXAMPLES)

# cargo decides what to rebuild; the copies keep their timestamps when unchanged.
lib:
	$(CARGO) build --release --lib
	@mkdir -p $(LIBDIR)
	cp -p $(CARGO_OUT)/libpapo.so $(LIBDIR)/$(SO_REAL)
	ln -sf $(SO_REAL) $(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(LIBDIR)/libpapo.so
	cp -p $(CARGO_OUT)/libpapo.a $(LIBDIR)/libpapo.a

$(BUILD)/include/papo.h: include/papo.h
	@mkdir -p $(@D)
	cp $< $@

# papo.pc for the build tree (PKG_CONFIG_PATH=build/lib/pkgconfig).
$(LIBDIR)/pkgconfig/papo.pc: papo.pc.in Cargo.toml
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(CURDIR)/$(BUILD)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# The examples find libpapo.so.$(MAJOR) next to them in build/lib ($ORIGIN/../lib).
$(BINDIR)/%: examples/c/%.c $(BUILD)/include/papo.h lib
	@mkdir -p $(@D)
	$(CC) $(STRICT_C) -I$(BUILD)/include $< -o $@ -L$(LIBDIR) -lpapo -Wl,-rpath,'$$ORIGIN/../lib'

# The main job: a server a person can join (build/bin/cliente, or nc 127.0.0.1 18000).
run: all server
	$(BINDIR)/papo-server --address 127.0.0.1 --port 18000 --http-port 18080

# The server program (src/bin/papo-server): flags, config file, logs, HTTP.
server:
	$(CARGO) build --release --bin papo-server
	@mkdir -p $(BINDIR)
	cp -p $(CARGO_OUT)/papo-server $(BINDIR)/papo-server

install: lib $(BUILD)/include/papo.h
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(LIBDIR)/$(SO_REAL) $(DESTDIR)$(PREFIX)/lib/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libpapo.so
	install -m 644 $(LIBDIR)/libpapo.a $(DESTDIR)$(PREFIX)/lib/libpapo.a
	install -m 644 $(BUILD)/include/papo.h $(DESTDIR)$(PREFIX)/include/papo.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' papo.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/papo.pc
	@echo "Installed under $(DESTDIR)$(PREFIX); run ldconfig if $(PREFIX)/lib is a system directory."

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/$(SO_REAL) $(DESTDIR)$(PREFIX)/lib/$(SONAME) \
		$(DESTDIR)$(PREFIX)/lib/libpapo.so $(DESTDIR)$(PREFIX)/lib/libpapo.a \
		$(DESTDIR)$(PREFIX)/include/papo.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/papo.pc

# The C API test program, three ways: C99 and C++11 against libpapo.so, and
# C99 against libpapo.a. Each must exit 0. The release library has no test
# hooks (cargo feature `test-hooks`), so test_api.c is compiled without
# PAPO_TEST_HOOKS and its forced-panic checks are left out here;
# `cargo test --test c_api` and scripts/sanitizers.sh run them against a
# library built with the feature.
TESTDIR := $(BUILD)/tests
TEST_SRC := tests/c/test_api.c
# A program written for 0.1, compiled against the 0.1 header kept in
# tests/c/compat/, run against this library (binary compatibility).
COMPAT_SRC := tests/c/compat/old_program.c
COMPAT_INC := -Itests/c/compat
# Handles used after Desconecta_*, twice freed, of the wrong kind, made up;
# and a forked child's calls on inherited handles.
HANDLES_SRC := tests/c/test_handles.c
# The descriptors and wake-ups for event loops, and the asynchronous requests.
POLL_SRC := tests/c/test_poll.c
# Rooms, message ids and history (1.1); it takes a scratch directory.
ROOMS_SRC := tests/c/test_rooms.c
# Reconnection through a proxy thread that cuts the connection (1.1).
RESUME_SRC := tests/c/test_resume.c
# Clusters' options and events, from a scripted server thread (1.2).
CLUSTER_SRC := tests/c/test_cluster.c
SHARED_LINK = -L$(LIBDIR) -lpapo -pthread -Wl,-rpath,'$$ORIGIN/../lib'
ASAN_FLAGS = -g -fsanitize=address,undefined -fno-omit-frame-pointer
VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full --show-possibly-lost=no \
	--errors-for-leak-kinds=definite --suppressions=tests/c/valgrind.supp

test-c: all
	@mkdir -p $(TESTDIR)
	$(CC) $(STRICT_C) $(COMPAT_INC) $(COMPAT_SRC) -o $(TESTDIR)/old_program $(SHARED_LINK)
	$(CC) $(STRICT_C) -I$(BUILD)/include $(HANDLES_SRC) -o $(TESTDIR)/test_handles $(SHARED_LINK)
	$(CC) $(STRICT_C) -I$(BUILD)/include $(POLL_SRC) -o $(TESTDIR)/test_poll $(SHARED_LINK)
	$(CC) $(STRICT_C) -I$(BUILD)/include $(ROOMS_SRC) -o $(TESTDIR)/test_rooms $(SHARED_LINK)
	$(CC) $(STRICT_C) -I$(BUILD)/include $(RESUME_SRC) -o $(TESTDIR)/test_resume $(SHARED_LINK)
	$(CC) $(STRICT_C) -I$(BUILD)/include $(CLUSTER_SRC) -o $(TESTDIR)/test_cluster $(SHARED_LINK)
	$(CC) $(STRICT_C) -I$(BUILD)/include $(TEST_SRC) -o $(TESTDIR)/test_api \
		-L$(LIBDIR) -lpapo -pthread -Wl,-rpath,'$$ORIGIN/../lib'
	$(CXX) $(STRICT_CXX) -I$(BUILD)/include $(TEST_SRC) -o $(TESTDIR)/test_api_cxx \
		-L$(LIBDIR) -lpapo -pthread -Wl,-rpath,'$$ORIGIN/../lib'
	$(CC) $(STRICT_C) -I$(BUILD)/include $(TEST_SRC) -o $(TESTDIR)/test_api_static \
		$(LIBDIR)/libpapo.a -pthread $(STATIC_LIBS)
	$(TESTDIR)/test_api
	$(TESTDIR)/test_api_cxx
	$(TESTDIR)/test_api_static
	$(TESTDIR)/old_program
	$(TESTDIR)/test_handles
	$(TESTDIR)/test_poll
	rm -rf $(TESTDIR)/rooms-scratch && mkdir -p $(TESTDIR)/rooms-scratch
	$(TESTDIR)/test_rooms $(TESTDIR)/rooms-scratch
	$(TESTDIR)/test_resume
	$(TESTDIR)/test_cluster

# The same test under AddressSanitizer/UndefinedBehaviorSanitizer (C side) and Valgrind.
test-c-asan: all
	@mkdir -p $(TESTDIR)
	$(CC) $(STRICT_C) -g -fsanitize=address,undefined -fno-omit-frame-pointer -I$(BUILD)/include \
		$(TEST_SRC) -o $(TESTDIR)/test_api_asan -L$(LIBDIR) -lpapo -pthread -Wl,-rpath,'$$ORIGIN/../lib'
	$(CC) $(STRICT_C) $(ASAN_FLAGS) $(COMPAT_INC) $(COMPAT_SRC) -o $(TESTDIR)/old_program_asan \
		$(SHARED_LINK)
	$(CC) $(STRICT_C) $(ASAN_FLAGS) -I$(BUILD)/include $(HANDLES_SRC) -o $(TESTDIR)/test_handles_asan \
		$(SHARED_LINK)
	$(CC) $(STRICT_C) $(ASAN_FLAGS) -I$(BUILD)/include $(POLL_SRC) -o $(TESTDIR)/test_poll_asan \
		$(SHARED_LINK)
	$(TESTDIR)/test_api_asan
	$(TESTDIR)/old_program_asan
	$(TESTDIR)/test_handles_asan
	$(TESTDIR)/test_poll_asan

# The fork child runs without leak checking: it exits holding what the
# parent's threads (absent in the child) had allocated, which Valgrind would
# count as lost; its memory errors are still errors.
test-c-valgrind: test-c
	$(VALGRIND) $(TESTDIR)/test_api
	$(VALGRIND) $(TESTDIR)/old_program
	$(VALGRIND) $(TESTDIR)/test_handles handles
	$(VALGRIND) --leak-check=no $(TESTDIR)/test_handles fork
	$(VALGRIND) $(TESTDIR)/test_poll

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
