# Top-level build. `make` builds everything into $(O) (out/ by default);
# `make SAN=1` builds with AddressSanitizer + UndefinedBehaviorSanitizer into
# out-san/. `make run` / `make stop` / `make test`: see README.
#
# The Apache modules are compiled with the flags apxs reports for the
# system Apache (apache2-dev) and linked as shared objects exporting only
# their module record.

SAN ?= 0
ifeq ($(SAN),1)
O ?= out-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
O ?= out
SANFLAGS =
endif

CC ?= cc
APXS ?= $(shell command -v apxs || command -v apxs2)
APR_CFLAGS := $(shell apr-1-config --cppflags --includes 2>/dev/null)
APR_LIBS := $(shell apr-1-config --link-ld --libs 2>/dev/null)
APU_CFLAGS := $(shell apu-1-config --includes 2>/dev/null)
APU_LIBS := $(shell apu-1-config --link-ld 2>/dev/null)
PG_CFLAGS := -I$(shell pg_config --includedir 2>/dev/null)
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
XML_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null)
HTTPD_CFLAGS := -I$(shell $(APXS) -q INCLUDEDIR 2>/dev/null) $(shell $(APXS) -q EXTRA_CPPFLAGS 2>/dev/null)
# GMime 3 (lib/xc_mime only); -isystem keeps our warnings off GLib's headers
GMIME_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags gmime-3.0 2>/dev/null))
GMIME_LIBS := $(shell pkg-config --libs gmime-3.0 2>/dev/null)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) $(SANFLAGS) -fPIC -D_GNU_SOURCE -MMD -MP -Ilib
LDFLAGS_ALL = $(SANFLAGS)

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(O)/%.o)
LIBXC = $(O)/lib/libxc.a

SD_SRC = storaged/sd_main.c storaged/sd_conf.c storaged/sd_log.c storaged/sd_db.c \
         storaged/sd_map.c storaged/sd_auth.c storaged/sd_ops.c storaged/sd_conn.c \
         storaged/sd_state.c storaged/sd_store.c storaged/sd_query.c \
         storaged/sd_folder.c storaged/sd_mime.c storaged/sd_stream.c \
         storaged/sd_perm.c storaged/sd_index.c storaged/sd_queue.c \
         storaged/sd_imap.c
SD_OBJ = $(SD_SRC:%.c=$(O)/%.o)
SD_LIBS = -lpq -largon2 -lcrypto -lpthread -lm $(GMIME_LIBS)

MOD_EXCHANGE_SRC = $(wildcard modules/exchange/*.c)
MOD_ADISC_SRC = $(wildcard modules/autodiscover/*.c)
MODS = $(O)/modules/mod_exchange.so $(O)/modules/mod_autodiscover.so

UNIT_SRC = $(wildcard t/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:t/unit/%.c=$(O)/t/%)

BENCH_BIN = $(O)/bench/sd_bench

MT_SRC = $(wildcard mta/*.c)
MT_OBJ = $(MT_SRC:%.c=$(O)/%.o)

all: $(LIBXC) $(O)/storaged/storaged $(O)/mta/mtad $(O)/bin/xc-passwd $(O)/bin/xc-mail $(MODS) $(UNIT_BIN) $(BENCH_BIN) $(if $(filter 1,$(SAN)),$(O)/.sanitized)

# marks a sanitizer build (build/stack.sh preloads the runtime into httpd)
$(O)/.sanitized:
	@mkdir -p $(@D)
	@touch $@

# keep objects of pattern rules (unit tests) for incremental builds
.SECONDARY:

$(O)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(XML_CFLAGS) -c $< -o $@

$(O)/lib/xc_mime.o: ALL_CFLAGS += $(GMIME_CFLAGS)

$(LIBXC): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(O)/storaged/%.o: storaged/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PG_CFLAGS) -c $< -o $@

$(O)/storaged/storaged: $(SD_OBJ) $(LIBXC)
	$(CC) $(LDFLAGS_ALL) -o $@ $(SD_OBJ) $(LIBXC) $(SD_LIBS)

# mtad: the companion MTA (mta/)
$(O)/mta/%.o: mta/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/mta/mtad: $(MT_OBJ) $(LIBXC)
	$(CC) $(LDFLAGS_ALL) -o $@ $(MT_OBJ) $(LIBXC) -lssl -lcrypto -lresolv -lidn2 -lpthread

$(O)/bin/xc-passwd: $(O)/storaged/xc_passwd.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $< -largon2

# Apache modules: APR + httpd headers; only the module record is exported.
$(O)/modules/%.o: modules/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(HTTPD_CFLAGS) $(APR_CFLAGS) $(APU_CFLAGS) $(XML_CFLAGS) -Imodules/exchange -c $< -o $@

$(O)/modules/mod_exchange.so: $(MOD_EXCHANGE_SRC:%.c=$(O)/%.o) $(LIBXC)
	$(CC) -shared $(LDFLAGS_ALL) -Wl,--version-script=build/module.map -o $@ $(filter %.o,$^) $(LIBXC) -lcrypto

$(O)/modules/mod_autodiscover.so: $(MOD_ADISC_SRC:%.c=$(O)/%.o) $(LIBXC)
	$(CC) -shared $(LDFLAGS_ALL) -Wl,--version-script=build/module.map -o $@ $(filter %.o,$^) $(LIBXC) $(XML_LIBS)

# unit tests: one binary per t/unit/test_*.c, linked with the pure code
$(O)/t/%.o: t/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(XML_CFLAGS) $(APR_CFLAGS) -Imodules/autodiscover -Istoraged -c $< -o $@

$(O)/t/test_%: $(O)/t/test_%.o $(O)/storaged/sd_map.o $(O)/modules/autodiscover/adisc_parse.o $(LIBXC)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(XML_LIBS) $(APR_LIBS) $(GMIME_LIBS)

$(O)/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/bench/sd_bench: $(O)/bench/sd_bench.o $(LIBXC)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ -lpthread

# admin tools that speak the wire protocol
$(O)/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/bin/xc-mail: $(O)/tools/xc_mail.o $(LIBXC)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ -lpthread

# libFuzzer targets (clang); see t/fuzz/
FUZZ_SRC = $(wildcard t/fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:t/fuzz/%.c=out-fuzz/%)
fuzz: $(FUZZ_BIN)
out-fuzz/fuzz_%: t/fuzz/fuzz_%.c $(LIB_SRC) modules/autodiscover/adisc_parse.c
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(WARN) -D_GNU_SOURCE -Ilib -Imodules/autodiscover $(XML_CFLAGS) $(APR_CFLAGS) $(GMIME_CFLAGS) \
	    -o $@ $< $(LIB_SRC) modules/autodiscover/adisc_parse.c $(XML_LIBS) $(APR_LIBS) $(GMIME_LIBS) -lcrypto

deps:
	build/deps.sh run

run: deps
	$(MAKE) all
	build/run.sh start

stop:
	build/run.sh stop

test:
	build/deps.sh test
	$(MAKE) all
	$(MAKE) SAN=1 all
	t/run.sh

bench: all
	bench/run.sh

clean:
	rm -rf out out-san out-fuzz

.PHONY: all fuzz deps run stop test bench clean
-include $(shell find $(O) -name '*.d' 2>/dev/null)
