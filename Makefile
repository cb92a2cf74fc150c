# soc: one binary, its tests, its fuzzers and its benchmarks.
# `make demo` and `make test` install missing build dependencies first.

PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MAN1DIR = $(PREFIX)/share/man/man1
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
CC ?= cc
PKGS = sqlite3 libcurl jansson libmd libcrypto libpq

# Each area keeps its own list, so parallel work never edits one line.
CORE_SRCS = soc.c usage.c buf.c path.c hash.c hash_follow.c hash_pieces.c parts.c options.c wire.c wire_scan.c testhook.c beneath.c
CLIENT_SRCS = workspace.c db.c db_hash.c db_pieces.c db_upgrade.c scan.c scan_walk.c ignore.c arena.c quote.c \
	cmd_init.c cmd_add.c cmd_rm.c cmd_status.c link.c
HTTP_SRCS = http.c httpd.c httpd_io.c httpd_park.c httpd_patience.c httpd_signal.c
SERVER_SRCS = sql.c sql_pg.c sql_bulk.c store.c store_big.c store_bind.c store_lock.c store_lost.c store_upgrade.c node.c view_serve.c token.c api.c cmd_serve.c tunnel_serve.c upload_serve.c upload_slots.c txn.c txn_db.c txn_files.c txn_check.c txn_head.c txn_items_lite.c txn_sweep.c stage_follow.c push_body.c tree.c check.c \
	backup.c export.c migrate.c versions.c store_history.c api_history.c fetch_serve.c delta.c
SYNC_SRCS = run.c progress.c rsync.c rsync_connect.c net.c net_versions.c remote.c upgrade.c upload.c cmd_tunnel.c pending.c cmd_push.c push_begin.c push_later.c cmd_pull.c cmd_sync.c cmd_watch.c pull_select.c pull_fetch.c pull_stream.c pull_apply.c pull_durable.c \
	restore_apply.c cmd_log.c cmd_ls.c cmd_restore.c cmd_clone.c history.c
SRCS = $(CORE_SRCS) $(CLIENT_SRCS) $(HTTP_SRCS) $(SERVER_SRCS) $(SYNC_SRCS)
HDRS = $(wildcard *.h)

WARN = -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter -Wstrict-prototypes
BASE_CFLAGS = -std=gnu11 -D_GNU_SOURCE -pthread $(WARN)
CFLAGS ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

TEST_DIR = build/test
UNIT_TESTS = $(patsubst t/unit/%.c,$(TEST_DIR)/unit-%,$(wildcard t/unit/*.c))
# The unit tests link every source but the one holding main().
LIB_SRCS = $(filter-out soc.c,$(SRCS))

.PHONY: all deps demo test unit install uninstall clean fuzz bench soak

all: soc

deps:
	@sh scripts/deps.sh python3 git

soc: $(SRCS) $(HDRS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(SRCS) $(PKG_LIBS)

$(TEST_DIR)/soc: $(SRCS) $(HDRS)
	@mkdir -p $(TEST_DIR)
	$(CC) $(BASE_CFLAGS) -O1 -g -Werror $(SAN) $(PKG_CFLAGS) -o $@ $(SRCS) $(PKG_LIBS)

$(TEST_DIR)/unit-%: t/unit/%.c t/unit/tap.h $(LIB_SRCS) $(HDRS)
	@mkdir -p $(TEST_DIR)
	$(CC) $(BASE_CFLAGS) -O1 -g -Werror $(SAN) $(PKG_CFLAGS) -I. -o $@ $< $(LIB_SRCS) $(PKG_LIBS)

# Sanitizers abort on the first report, so a test can never pass over one.
TEST_ENV = ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	SOC_TEST_BIN=$(CURDIR)/$(TEST_DIR)/soc

test: deps
	@sh scripts/deps.sh nginx caddy openssl systemd-analyze ss mandoc sqlite3 postgresql haproxy lsattr
	@$(MAKE) --no-print-directory $(TEST_DIR)/soc $(UNIT_TESTS)
	$(TEST_ENV) prove -j2 $(UNIT_TESTS) t/[0-9]*.sh
	$(TEST_ENV) SOC_TEST_DB=cluster prove -j2 t/04[0-9][0-9]-*.sh t/05[0-9][0-9]-*.sh

# One test: make check T=t/0001-dispatch.sh
check: deps
	@sh scripts/deps.sh nginx caddy openssl systemd-analyze ss mandoc sqlite3 postgresql haproxy lsattr
	@$(MAKE) --no-print-directory $(TEST_DIR)/soc $(UNIT_TESTS)
	$(TEST_ENV) prove -v $(T)

demo: deps
	@$(MAKE) --no-print-directory soc
	@sh scripts/demo.sh

# Each t/fuzz/NAME.c is a libFuzzer driver, linked with every source but
# soc.c; t/fuzz/NAME-corpus/ seeds it and t/fuzz/NAME.dict guides it when
# present. New inputs go to build/fuzz/NAME-corpus, not into the tree.
FUZZ_SECONDS ?= 30
FUZZ_MAX_LEN = 20000
FUZZ_DIR = build/fuzz
FUZZERS = $(patsubst t/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard t/fuzz/*.c))
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -pthread -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(FUZZ_DIR)/%: t/fuzz/%.c $(LIB_SRCS) $(HDRS)
	@mkdir -p $(FUZZ_DIR)
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) -I. -o $@ $< $(LIB_SRCS) $(PKG_LIBS)

fuzz:
	@sh scripts/deps.sh clang fuzzer
	@$(MAKE) --no-print-directory $(FUZZERS)
	@set -e; for f in $(FUZZERS); do \
		n=$${f##*/}; mkdir -p $(FUZZ_DIR)/$$n-corpus; \
		seeds=; [ -d t/fuzz/$$n-corpus ] && seeds=t/fuzz/$$n-corpus; \
		dict=; [ -f t/fuzz/$$n.dict ] && dict=-dict=t/fuzz/$$n.dict; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
			-print_final_stats=1 $$dict $(FUZZ_DIR)/$$n-corpus $$seeds; \
	done

# The long runs of the reliability suite: more clients for longer, many
# more kill trials. Same tests as make test, bigger numbers.
SOAK_CLIENTS ?= 32
SOAK_SECONDS ?= 300
SOAK_KILL_TRIALS ?= 300
soak: deps
	@$(MAKE) --no-print-directory $(TEST_DIR)/soc
	$(TEST_ENV) SOC_LOAD_CLIENTS=$(SOAK_CLIENTS) SOC_LOAD_SECONDS=$(SOAK_SECONDS) \
		SOC_KILL_TRIALS=$(SOAK_KILL_TRIALS) prove -v t/0520-kill-trials.sh t/0530-load.sh

# Benchmarks beside git, rsync and nginx; they print ratios and assert nothing.
bench: deps
	@sh scripts/deps.sh git wrk nginx sqlite3
	@$(MAKE) --no-print-directory soc
	sh bench/status.sh
	sh bench/sync.sh
	sh bench/big.sh
	sh bench/serve.sh
	sh bench/versions.sh
	sh bench/million.sh
	sh bench/cluster.sh

install: soc
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 soc $(DESTDIR)$(BINDIR)/soc
	for c in $$(./soc --list); do ln -sf soc $(DESTDIR)$(BINDIR)/soc_$$c; done
	install -d $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 soc.1 $(DESTDIR)$(MAN1DIR)/soc.1
	install -m 0644 contrib/soc.bash-completion $(DESTDIR)$(BASHCOMPDIR)/soc
	for c in $$(./soc --list); do ln -sf soc $(DESTDIR)$(BASHCOMPDIR)/soc_$$c; done

uninstall:
	for c in $$(./soc --list); do rm -f $(DESTDIR)$(BINDIR)/soc_$$c $(DESTDIR)$(BASHCOMPDIR)/soc_$$c; done
	rm -f $(DESTDIR)$(BINDIR)/soc $(DESTDIR)$(MAN1DIR)/soc.1 $(DESTDIR)$(BASHCOMPDIR)/soc

clean:
	rm -rf soc build
