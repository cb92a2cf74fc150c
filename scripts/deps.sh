#!/bin/sh
# Install what the build and the tests need, only when it is missing, so that
# `make demo` and `make test` work on a fresh Debian machine with no set-up.
set -eu

PKGS=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || PKGS="$PKGS $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || PKGS="$PKGS $2"; }
# PostgreSQL's server programs are off PATH on Debian: initdb is looked for
# where t/lib-pg.sh looks, pg_config's bindir or /usr/lib/postgresql/N/bin.
have_initdb() {
	d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/initdb" ] && return 0
	for f in /usr/lib/postgresql/*/bin/initdb; do
		[ -x "$f" ] && return 0
	done
	return 1
}

need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
	need_pc sqlite3 libsqlite3-dev
	need_pc libcurl libcurl4-openssl-dev
	need_pc jansson libjansson-dev
	need_pc libmd libmd-dev
	need_pc libcrypto libssl-dev
	need_pc libpq libpq-dev
else
	PKGS="$PKGS libsqlite3-dev libcurl4-openssl-dev libjansson-dev libmd-dev libssl-dev libpq-dev"
fi
need_cmd rsync rsync
# soc serve refuses an rsync older than 3.4.0 (RSYNC_VERSION_FLOOR in
# serve.h): an older one is upgraded, as a missing one is installed.
if command -v rsync >/dev/null 2>&1 &&
	rsync --version 2>/dev/null | awk 'NR == 1 { v = $3; sub(/^v/, "", v); split(v, p, ".");
		exit !(p[1] + 0 < 3 || (p[1] + 0 == 3 && p[2] + 0 < 4)) }'; then
	PKGS="$PKGS rsync"
fi
need_cmd curl curl
need_cmd prove perl
need_cmd cc gcc
need_cmd make make
# The tests and benchmarks use these; a missing one is installed, not skipped.
for extra in "$@"; do
	case "$extra" in
	clang) need_cmd clang clang ;;
	fuzzer) ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
		>/dev/null 2>&1 || PKGS="$PKGS libclang-rt-dev" ;;
	python3) need_cmd python3 python3 ;;
	git) need_cmd git git ;;
	wrk) need_cmd wrk wrk ;;
	nginx) need_cmd nginx nginx ;;
	caddy) need_cmd caddy caddy ;;
	openssl) need_cmd openssl openssl ;;
	systemd-analyze) need_cmd systemd-analyze systemd ;;
	ss) need_cmd ss iproute2 ;;
	sqlite3) need_cmd sqlite3 sqlite3 ;;
	mandoc) need_cmd mandoc mandoc ;;
	postgresql) have_initdb || PKGS="$PKGS postgresql" ;;
	haproxy) need_cmd haproxy haproxy ;;
	lsattr) need_cmd lsattr e2fsprogs ;;
	esac
done

[ -z "$PKGS" ] && exit 0

echo "deps: installing$PKGS" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: need root or sudo to install:$PKGS" >&2
		exit 1
	}
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >&2
