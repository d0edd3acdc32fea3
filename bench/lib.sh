#!/bin/bash
# Shared by the benchmarks (bench/b_*.sh): namespaces with random names
# that are always removed, polling waits, policy generators, statistics,
# and the result rows that bench/run turns into a table.  Nothing here
# touches the host's own network namespace: every ruleset is loaded in a
# namespace made here, and every address is a documentation address.
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EGRESSD=${EGRESSD:-$TOP/build/egressd}
BIN=${BENCH_BIN:?bench/run builds the helpers and sets BENCH_BIN}
ROWS=${BENCH_ROWS:?bench/run sets BENCH_ROWS}
SMOKE=${BENCH_SMOKE:-0}
# shellcheck disable=SC2034 # read by the benchmarks that source this file
RUNS=${BENCH_RUNS:-5}
SUFFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
TMP=$(mktemp -d /tmp/egressd-bench.XXXXXX)
NAMESPACES=()
PIDS=()
BENCH=$(basename "$0" .sh)
BENCH=${BENCH#b_}

cleanup() {
	local pid ns
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for ns in "${NAMESPACES[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		rm -rf "/etc/netns/$ns"
	done
	# Only when this run made it, and only if nobody else uses it now.
	[ -z "${ETC_NETNS_MADE:-}" ] || rmdir /etc/netns 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Every command run in a namespace is written here, with the namespace,
# and shown only when the benchmark breaks.
HELD=$TMP/held
: >"$HELD"

progress() {
	echo "# $BENCH: $*" >&2
}

# die WHY: the benchmark itself broke; show what it ran and end.
die() {
	echo "[FAIL] $BENCH: $1" >&2
	if [ -s "$HELD" ]; then
		echo "    --- held output ---" >&2
		tail -n 40 "$HELD" | sed 's/^/    /' >&2
	fi
	exit 1
}

# ns_new NAME: namespace egb-NAME-SUFFIX with lo up; sets NS.
ns_new() {
	NS="egb-$1-$SUFFIX"
	ip netns add "$NS" || die "ip netns add $NS"
	NAMESPACES+=("$NS")
	ip -n "$NS" link set lo up
}

# nsx NS CMD...: CMD in NS, echoed to the held output with its output.
nsx() {
	local ns=$1
	shift
	echo "# [$ns] $*" >>"$HELD"
	ip netns exec "$ns" "$@" >>"$HELD" 2>&1
}

# wait_for SECONDS CMD...: poll CMD until it succeeds or time runs out.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.02
	done
}

# The host must never carry the egressd table.
host_clean() {
	! nft list tables 2>/dev/null | grep -q "inet egressd"
}

# ---------------------------------------------------------------------
# Policies.  Host i gets one address: 192.0.2.1-250 for the first 250,
# 198.51.100.1-250 for the next; ports are 443 and then every other port
# from 1000, so no two merge into a range and each host gives exactly
# PORTS elements.

MAX_HOSTS=500

host_addr() {
	if [ "$1" -lt 250 ]; then
		echo "192.0.2.$(($1 + 1))"
	else
		echo "198.51.100.$(($1 - 249))"
	fi
}

port_list() {
	local ports=443
	[ "$1" -gt 1 ] && ports+=", $(seq -s ', ' 1000 2 $((1000 + 2 * ($1 - 2))))"
	echo "$ports"
}

# gen_policy FILE HOSTS PORTS RESOLVER [DEFAULTS_YAML]: HOSTS entries
# h0000.bench.test ... each allowing PORTS tcp ports.
gen_policy() {
	local file=$1 hosts=$2 ports i
	ports=$(port_list "$3")
	{
		printf 'version: 1\nresolvers: [%s]\n' "$4"
		[ -n "${5:-}" ] && printf 'defaults:\n%s\n' "$5"
		printf 'allow:\n'
		for ((i = 0; i < hosts; i++)); do
			printf '  - host: h%04d.bench.test\n    ports: [%s]\n' "$i" "$ports"
			printf '    purpose: "benchmark load"\n'
		done
	} >"$file"
}

# gen_hosts FILE HOSTS: a hosts(5) file giving host i its address.
gen_hosts() {
	local i
	for ((i = 0; i < $2; i++)); do
		printf '%s\th%04d.bench.test\n' "$(host_addr "$i")" "$i"
	done >"$1"
}

# shape N: hosts and ports giving N elements; sets SHAPE_HOSTS and
# SHAPE_PORTS (200 ports a host, as the apply tests use).
shape() {
	if [ "$1" -ge 200 ]; then
		SHAPE_HOSTS=$(($1 / 200))
		SHAPE_PORTS=200
	else
		SHAPE_HOSTS=1
		SHAPE_PORTS=$1
	fi
	[ "$((SHAPE_HOSTS * SHAPE_PORTS))" -eq "$1" ] || die "no shape for N=$1"
	[ "$SHAPE_HOSTS" -le "$MAX_HOSTS" ] || die "N=$1 needs more than $MAX_HOSTS hosts"
}

# ---------------------------------------------------------------------
# dnsmasq on 127.0.0.1 in a namespace, answering only from its own
# records: nothing is ever asked upstream.

# dnsmasq_up NS CONF_LINES_FILE: start it, wait until it answers.
dnsmasq_up() {
	local ns=$1 conf=$TMP/dnsmasq-$1.conf
	{
		printf 'no-resolv\nno-hosts\nlisten-address=127.0.0.1\nbind-interfaces\n'
		printf 'user=root\npid-file=\nlocal=/bench.test/\n'
		cat "$2"
	} >"$conf"
	echo "# [$ns] dnsmasq --conf-file=$conf &" >>"$HELD"
	ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file="$conf" \
		>>"$TMP/dnsmasq.log" 2>&1 </dev/null &
	PIDS+=($!)
	# shellcheck disable=SC2034 # the benchmarks signal and watch it
	DNSMASQ_PID=$!
	wait_for 10 dnsmasq_listening "$ns" || die "dnsmasq does not listen in $ns"
}

dnsmasq_listening() {
	ip netns exec "$1" ss -Hlun 2>/dev/null | grep -q '127\.0\.0\.1:53 '
}

# resolv_conf NS: what `ip netns exec NS` shows as /etc/resolv.conf and
# /etc/hosts, so that getaddrinfo asks the namespace's dnsmasq only.
resolv_conf() {
	[ -d /etc/netns ] || ETC_NETNS_MADE=1
	mkdir -p "/etc/netns/$1" || die "mkdir /etc/netns/$1"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' >"/etc/netns/$1/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$1/hosts"
}

# ---------------------------------------------------------------------
# Measuring.

# timed NS OUT CMD...: CMD in NS under bench/timed; OUT gets
# "wall_us user_us sys_us maxrss_kb status".  Output goes to the held log.
timed() {
	local ns=$1 out=$2
	shift 2
	echo "# [$ns] $*" >>"$HELD"
	ip netns exec "$ns" "$BIN/timed" "$out" "$@" >>"$HELD" 2>&1
}

# field FILE N: the Nth number of a one-line result file.
field() {
	awk -v n="$2" '{ print $n; exit }' "$1"
}

# nl_sum FILE: "duration_us messages bytes" over every batch recorded.
nl_sum() {
	awk '{ d += $2; m += $3; b += $4 } END { printf "%d %d %d\n", d, m, b }' "$1"
}

# stats FILE: "median min max" of the numbers in FILE, one a line.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 }
		END {
			if (!NR) exit 1
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%s %s %s\n", m, v[1], v[NR]
		}'
}

median() {
	stats "$1" | awk '{ print $1 }'
}

# sample NAME VALUE: one run's value of a figure.  A warm-up run
# (WARMUP=1) is checked but not counted.
sample() {
	[ "${WARMUP:-0}" = 1 ] && return
	echo "$2" >>"$TMP/s.$1"
}

# row FIGURE UNIT SAMPLES [RATIO GOAL VERDICT]: one line of the table,
# from the samples of one figure.  bench/run prints and formats it.
row() {
	local s
	s=$(stats "$TMP/s.$3") || die "no samples for $3"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$s" "${4:--}" "${5:--}" "${6:--}" |
		awk -F'\t' -v OFS='\t' '{ split($3, s, " "); print $1, $2, s[1], s[2], s[3], $4, $5, $6 }' \
		>>"$ROWS"
}

# fmt_n N: N with thousands separators, as the figures' names show it.
fmt_n() {
	echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}

# ratio A B: A/B to three places.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.3f\n", a / b }'
}

# verdict RATIO OP GOAL: "met" or "missed"; "-" in smoke mode, where
# no goal is checked.
verdict() {
	[ "$SMOKE" = 1 ] && { echo "-"; return; }
	awk -v r="$1" -v op="$2" -v g="$3" 'BEGIN {
		ok = op == "<=" ? r <= g : r >= g
		print ok ? "met" : "missed"
	}'
}
