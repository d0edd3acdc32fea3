#!/bin/sh
# Builds the libFuzzer targets fuzz/fuzz_*.c into OUTDIR (default
# build/fuzz), each linked with every object of src/ except main.c.
# Usage: fuzz/build.sh [OUTDIR]; CC, JOBS and V=1 may be set.
set -eu

cd "$(dirname "$0")/.."
out=${1:-build/fuzz}
CC=${CC:-clang}
JOBS=${JOBS:-$(nproc)}
PKGS="libnftnl libmnl yaml-0.1 libcap libcares nettle"

if ! command -v "$CC" >/dev/null; then
	echo "fuzz/build.sh: $CC not found, apt-get install clang libclang-rt-14-dev" >&2
	exit 1
fi

# Coverage and sanitizers go into the objects of src/ too: libFuzzer steers
# only by the edges it sees.  UBSan stays recoverable so that
# fuzz/ubsan.supp can let known cases through; sanitizer-options.c makes
# every other report end the run.
# shellcheck disable=SC2086 # PKGS is a list of words
CFLAGS="-std=gnu11 -g -O1 -fno-omit-frame-pointer -Iinclude
	-fsanitize=address,undefined -Wall -Wextra -Wno-unused-parameter
	$(pkg-config --cflags $PKGS)"
# shellcheck disable=SC2086
LIBS=$(pkg-config --libs $PKGS)
# The quotes are meant literally: they make the macro a C string.
# shellcheck disable=SC2089,SC2090
VERSION_DEF="-DEGRESSD_VERSION=\"$(cat VERSION 2>/dev/null || echo 0.0.0)\""
# shellcheck disable=SC2089
SUPP_DEF="-DUBSAN_SUPP=\"$PWD/fuzz/ubsan.supp\""
# shellcheck disable=SC2090
export CC CFLAGS VERSION_DEF

mkdir -p "$out/obj"
srcs=
objs=
for s in src/*.c; do
	[ "$s" != src/main.c ] || continue
	srcs="$srcs $s"
	objs="$objs $out/obj/$(basename "$s" .c).o"
done

# One compiler per file, JOBS at a time; set -e does not see inside xargs,
# so its exit status is checked here.
# shellcheck disable=SC2016,SC2086 # expanded by the inner shell; word list
printf '%s\n' $srcs | xargs -P "$JOBS" -n 1 sh -c '
	obj="$0/obj/$(basename "$1" .c).o"
	printf "  %-7s %s\n" CC "$obj"
	[ "${V:-0}" != 1 ] || set -x
	exec $CC $CFLAGS "$VERSION_DEF" -fsanitize=fuzzer-no-link -c -o "$obj" "$1"
	' "$out" || { echo "fuzz/build.sh: compiling src/ failed" >&2; exit 1; }

for t in fuzz/fuzz_*.c; do
	bin="$out/$(basename "$t" .c)"
	printf '  %-7s %s\n' LD "$bin"
	[ "${V:-0}" != 1 ] || set -x
	# shellcheck disable=SC2086 # word lists
	$CC $CFLAGS "$VERSION_DEF" "$SUPP_DEF" -fsanitize=fuzzer -o "$bin" "$t" \
		fuzz/sanitizer-options.c $objs $LIBS
	set +x
done
