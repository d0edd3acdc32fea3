#!/bin/bash
# Shared helpers for the namespace tests: result lines, namespaces with
# random names that are always removed, and polling waits.  Sourced by
# every netns-tests/t_*.sh.  Nothing here touches the host's own network
# namespace: rules are only ever loaded inside namespaces made here.

set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EGRESSD=${EGRESSD:-$TOP/build/egressd}
SUFFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
LOGDIR=$(mktemp -d /tmp/egressd-netns.XXXXXX)
NAMESPACES=()
PIDS=()
CLEANUP_HOOKS=()

cleanup() {
	local h ns pid
	for h in "${CLEANUP_HOOKS[@]}"; do
		"$h" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for ns in "${NAMESPACES[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$LOGDIR"
}
trap cleanup EXIT

# Result lines: "[ OK ] name", "[FAIL] name", "[SKIP] name: reason".
# A failure prints what the case held back; set by the case in $LOGDIR/held.
result() {
	printf '%-6s %s\n' "$1" "$2"
}

ok() {
	result "[ OK ]" "$1"
}

fail() {
	result "[FAIL]" "$1"
	if [ -n "${2:-}" ]; then
		echo "    $2"
	fi
	dump_held
}

skip() {
	result "[SKIP]" "$1: $2"
}

# Held-back output: commands run through `run` append here; it is printed
# only when a case fails, together with the ruleset of every namespace.
hold_reset() {
	: >"$LOGDIR/held"
}

dump_held() {
	local ns
	if [ -s "$LOGDIR/held" ]; then
		echo "    --- held output ---"
		sed 's/^/    /' "$LOGDIR/held"
	fi
	for ns in "${NAMESPACES[@]}"; do
		if ip netns exec "$ns" nft list tables 2>/dev/null | grep -q .; then
			echo "    --- nft list ruleset in $ns ---"
			ip netns exec "$ns" nft list ruleset 2>&1 | sed 's/^/    /'
		fi
	done
}

# run NS CMD...: run CMD in namespace NS, echoing it to the held output.
run() {
	local ns=$1
	shift
	echo "# [$ns] $*" >>"$LOGDIR/held"
	ip netns exec "$ns" "$@" >>"$LOGDIR/held" 2>&1
}

# Capture: like run, but stdout goes to the caller.
run_out() {
	local ns=$1
	shift
	echo "# [$ns] $*" >>"$LOGDIR/held"
	ip netns exec "$ns" "$@" 2>>"$LOGDIR/held"
}

# Root and nf_tables are needed.  Without them the suite skips; under
# CI=true a skip is a failure, so CI cannot go green by skipping.
require_netns() {
	local why=
	if [ "$(id -u)" -ne 0 ]; then
		why="needs root"
	elif ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
		why="needs nft and ip"
	elif ! unshare -n nft list tables >/dev/null 2>&1; then
		why="nf_tables is not available"
	fi
	[ -z "$why" ] && return 0
	if [ "${CI:-}" = true ]; then
		result "[FAIL]" "${1:-netns}: skipped under CI: $why"
	else
		skip "${1:-netns}" "$why"
	fi
	exit 0
}

# ns_new NAME: create namespace egd-NAME-SUFFIX with lo up; prints its name.
ns_new() {
	local ns="egd-$1-$SUFFIX"
	ip netns add "$ns" || return 1
	NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	echo "$ns"
}

# wait_for TIMEOUT_S CMD...: poll CMD until it succeeds or time runs out.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# The host must never carry the egressd table.
assert_host_clean() {
	if nft list tables 2>/dev/null | grep -q "inet egressd"; then
		fail "host namespace is clean" "the host holds an egressd table"
		return 1
	fi
	return 0
}
