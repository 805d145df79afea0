# weft build. `make` builds build/libweft.a, build/libweft.so and build/weft; `make test` installs
# what is missing (scripts/deps.sh), builds and runs the whole suite; `make asan` runs it under
# ASan + UBSan; `make install PREFIX=/usr/local [DESTDIR=...]` installs the command, the libraries,
# the header, weft.pc, the man page and the Python package.
CC      ?= cc
BUILD   ?= build
WERROR  ?= $(if $(CI),-Werror,)
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -MMD -MP -fPIC \
           -Iinclude -Isrc -I$(BUILD)/gen
LDLIBS  += -lopenblas -lprotobuf-c -lcjson -lpng -lyaml -lm -lpthread

PROTO   := /usr/include/onnx/onnx.proto
GEN     := $(BUILD)/gen/onnx/onnx.pb-c.c
LIB_SRC := $(wildcard src/core/*.c src/kernels/*.c src/ir/*.c src/arch/*.c src/compile/*.c src/program/*.c src/sim/*.c src/io/*.c src/onnx/*.c src/ref/*.c src/models/*.c src/grad/*.c src/report/*.c src/data/*.c src/train/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx/onnx.pb-c.o
CLI_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/cli/*.c))
TEST_OBJ:= $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/*.c))

EXAMPLES:= $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

# the shared library: its soname carries the major version (include/weft.h's WEFT_VERSION_MAJOR)
VERSION := $(shell sed -n 's/^\#define WEFT_VERSION "\(.*\)"/\1/p' include/weft.h)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libweft.so.$(MAJOR)
SHLIB   := $(BUILD)/libweft.so.$(VERSION)

all: $(BUILD)/weft $(BUILD)/weft-tests $(EXAMPLES) $(BUILD)/libweft.so

examples: $(EXAMPLES)

# Examples use only the public header.
$(BUILD)/examples/%: examples/%.c $(BUILD)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc -I$(BUILD)/gen,$(CFLAGS)) $< $(BUILD)/libweft.a -o $@ $(LDFLAGS) $(LDLIBS)

deps:
	@scripts/deps.sh

$(GEN): $(PROTO)
	@mkdir -p $(BUILD)/gen/onnx
	protoc-c --proto_path=/usr/include --c_out=$(BUILD)/gen onnx/onnx.proto

$(BUILD)/gen/onnx/onnx.pb-c.o: $(GEN)
	$(CC) $(filter-out -Wextra $(WERROR),$(CFLAGS)) -c $< -o $@

$(BUILD)/%.o: %.c | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libweft.a: $(LIB_OBJ)
	ar rcs $@ $^

# the shared library exports the public API (include/weft.h's functions) and nothing else: the
# soname's ABI is the header's
$(BUILD)/libweft.map: include/weft.h
	@mkdir -p $(BUILD)
	{ echo 'WEFT_$(MAJOR) { global:'; grep -oE '^[a-z][a-z0-9_ *]* \**weft_[a-z0-9_]+\(' $< | grep -oE 'weft_[a-z0-9_]+\($$' | \
	  sed 's/($$/;/'; echo 'local: *; };'; } > $@

$(SHLIB): $(LIB_OBJ) $(BUILD)/libweft.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script,$(BUILD)/libweft.map $(LDFLAGS) $(LIB_OBJ) -o $@ $(LDLIBS)

$(BUILD)/libweft.so: $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

PREFIX  ?= /usr/local
PYSITE  ?= $(PREFIX)/lib/python3/dist-packages
install: $(BUILD)/weft $(BUILD)/libweft.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PYSITE)/weft
	install -m 755 $(BUILD)/weft $(DESTDIR)$(PREFIX)/bin/weft
	install -m 644 $(SHLIB) $(BUILD)/libweft.a $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libweft.so
	install -m 644 include/weft.h $(DESTDIR)$(PREFIX)/include/weft.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LDLIBS)|' scripts/weft.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/weft.pc
	install -m 644 docs/weft.1 $(DESTDIR)$(PREFIX)/share/man/man1/weft.1
	install -m 644 python/weft/*.py $(DESTDIR)$(PYSITE)/weft/
	echo 'LIBRARY = "$(PREFIX)/lib/$(SONAME)"' > $(DESTDIR)$(PYSITE)/weft/_installed.py

$(BUILD)/weft: $(CLI_OBJ) $(BUILD)/libweft.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/weft-tests: $(TEST_OBJ) $(BUILD)/libweft.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# The README's test command. Installs missing Debian packages, builds, runs everything.
test: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-tests.sh $(BUILD)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all
	@ASAN_OPTIONS=detect_leaks=1 scripts/run-tests.sh build-asan

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/weft
	@$(BUILD)/weft demo

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/weft
	@bench/run.sh $(BUILD)

# libFuzzer targets, one per reader (clang; not run in CI): ONNX, machine JSON, graph files,
# program files, checkpoints. The library is built once into build-fuzz/ with ASan + UBSan and
# libFuzzer's coverage; scripts/fuzz.sh SECONDS runs each target in turn on its seed corpus.
FUZZ_DIR     := build-fuzz
FUZZ_TARGETS := onnx arch graph program checkpoint
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -Iinclude -Isrc -I$(BUILD)/gen
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o) $(FUZZ_DIR)/gen/onnx/onnx.pb-c.o
.SECONDARY: $(FUZZ_OBJ)  # kept between builds (make would delete them as intermediates of the pattern rule)

$(FUZZ_DIR)/src/%.o: src/%.c | $(GEN)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/gen/onnx/onnx.pb-c.o: $(GEN)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) -o $@ $(LDLIBS)

fuzz: $(GEN) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	@echo "run: scripts/fuzz.sh SECONDS  (each target in turn; findings go to /tmp/weft-fuzz/)"

clean:
	rm -rf build build-asan build-fuzz

.PHONY: install all examples deps test asan demo bench fuzz clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
