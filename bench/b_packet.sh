#!/bin/bash
# Packet path: the rate of short-lived TCP connections from a client
# namespace to a server namespace, under each ruleset in the client's
# output hook.  One client namespace per ruleset, all wired to the same
# server, so no ruleset is reloaded between runs; runs rotate through them.
#
#                      egb-srv-SUFFIX: bench/connrate serve 443
#                      (no ruleset, no conntrack)
#        +------------+------------+------------+------------+
#        |            |            |            |            |   veth pairs
#    egb-none     egb-ct       egb-e1       egb-e2      egb-naive
#    no ruleset   conntrack    egressd,     egressd,    1,000 rules
#                 only         1,000        100,000     ip daddr X
#                              elements     elements    tcp dport 443
#
# Link k: the server is 203.0.113.(4k+1), the client 203.0.113.(4k+2).
# Each client runs bench/connrate connect: connect, wait for the server's
# reset, close, again, for a fixed time.  In the egressd and naive
# rulesets the server's address and port come last, so the naive chain
# walks all its rules for every new connection.
#
# The clients forget a connection as soon as it is reset (conntrack's
# close timeout is 0 in their namespaces): otherwise a reused port finds
# its old entry, the SYN passes as "established", and no ruleset is looked
# at beyond its first rule.  The counters of the server's rule or element
# check that every connection took the full path.  Client and server share
# one CPU: on this kind of virtual machine a wake-up on the other CPU
# costs more than the whole connection, and would be all that is measured.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

PORT=443
if [ "$SMOKE" = 1 ]; then
	SECS=0.3
	E1=100
	E2=200
	NAIVE=100
else
	SECS=1.5
	E1=1000
	E2=100000
	NAIVE=1000
fi
CONFIGS=(none ct e1 e2 naive)
declare -A CLIENT SERVER_ADDR

CPU=$(($(nproc) - 1))
ns_new srv
SRV=$NS
ip netns exec "$SRV" taskset -c "$CPU" "$BIN/connrate" serve "$PORT" >>"$HELD" 2>&1 &
PIDS+=($!)

# link K NAME: client namespace NAME on link K.
link() {
	local k=$1 name=$2 s c
	s=203.0.113.$((4 * k + 1))
	c=203.0.113.$((4 * k + 2))
	ns_new "$name"
	CLIENT[$name]=$NS
	# No IPv6 chatter (router and multicast listener messages) in the
	# output hook: only the benchmark's connections pass it.
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || die "sysctl in $NS"
	SERVER_ADDR[$name]=$s
	ip -n "$SRV" link add "v$k" type veth peer name eth0 netns "$NS" || die "veth $k"
	ip -n "$SRV" addr add "$s/30" dev "v$k"
	ip -n "$SRV" link set "v$k" up
	ip -n "$NS" addr add "$c/30" dev eth0
	ip -n "$NS" link set eth0 up
}

ct_only() {
	cat <<-EOF
	table inet ctonly {
		chain output {
			type filter hook output priority filter; policy drop;
			ct state established,related accept
			ct state new accept
		}
	}
	EOF
}

# naive_rules SERVER: the rule per address a hand-written ruleset has,
# the server's address last.
naive_rules() {
	local i
	echo "table inet naive {"
	echo "	chain output {"
	echo "		type filter hook output priority filter; policy drop;"
	echo "		ct state established,related accept"
	for ((i = 0; i < NAIVE - 1; i++)); do
		echo "		ip daddr $(host_addr $((i % MAX_HOSTS))) tcp dport $((PORT + 1 + i / MAX_HOSTS)) accept"
	done
	echo "		ip daddr $1 tcp dport $PORT counter accept"
	echo "	}"
	echo "}"
}

# egressd_table NAME N: an egressd table of N elements, one of them the
# client's server on port 443; its host is the last.
egressd_table() {
	local name=$1 ns=${CLIENT[$1]} n=$2 last
	shape "$n"
	gen_policy "$TMP/$name.yaml" "$SHAPE_HOSTS" "$SHAPE_PORTS" 192.0.2.53
	gen_hosts "$TMP/$name.hosts" "$((SHAPE_HOSTS - 1))"
	last=$(printf 'h%04d.bench.test' $((SHAPE_HOSTS - 1)))
	printf '%s\t%s\n' "${SERVER_ADDR[$name]}" "$last" >>"$TMP/$name.hosts"
	EGRESSD_LOCK=$TMP/lock.$name nsx "$ns" "$EGRESSD" apply "$TMP/$name.yaml" \
		--hosts "$TMP/$name.hosts" || die "egressd apply N=$n"
}

for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
	link "$k" "${CONFIGS[k]}"
done
ct_only >"$TMP/ct.nft"
nsx "${CLIENT[ct]}" nft -f "$TMP/ct.nft" || die "loading the conntrack-only table"
naive_rules "${SERVER_ADDR[naive]}" >"$TMP/naive.nft"
nsx "${CLIENT[naive]}" nft -f "$TMP/naive.nft" || die "loading the naive ruleset"
egressd_table e1 "$E1"
egressd_table e2 "$E2"
for c in "${CONFIGS[@]}"; do
	ip netns exec "${CLIENT[$c]}" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close=0 ||
		die "cannot set conntrack's close timeout in ${CLIENT[$c]}"
done
wait_for 5 ip netns exec "$SRV" ss -Hltn "sport = :$PORT" || die "the server does not listen"

# rate NAME SECONDS: connections a second from client NAME.
rate() {
	local ns=${CLIENT[$1]} out
	echo "# [$ns] connrate connect ${SERVER_ADDR[$1]} $PORT $2" >>"$HELD"
	out=$(ip netns exec "$ns" taskset -c "$CPU" "$BIN/connrate" connect \
		"${SERVER_ADDR[$1]}" "$PORT" "$2" 1000000 2>>"$HELD") ||
		die "connections from $1 failed: $out"
	echo "$out" | awk '{ print $1 }' >>"$TMP/count.$1"
	echo "$out" | awk '{ printf "%.0f\n", $1 / $2 }'
}

# reached NAME PACKETS: the server's rule or element counted at least as
# many new connections as client NAME made, less 1% for the handful a
# clock tick may split.
reached() {
	local made
	made=$(awk '{ n += $1 } END { print n }' "$TMP/count.$1")
	[ "$2" -ge $((made * 99 / 100)) ] ||
		die "$1 made $made connections, its allow path saw $2 new ones"
}

packets() {
	sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | head -n 1
}

for c in "${CONFIGS[@]}"; do
	WARMUP=1 rate "$c" 0.2 >/dev/null
done
for ((r = 1; r <= RUNS; r++)); do
	progress "round $r of $RUNS"
	for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
		c=${CONFIGS[(k + r) % ${#CONFIGS[@]}]}
		sample "$c" "$(rate "$c" "$SECS")"
	done
done
# Every connection went through the full chain to the server's rule or
# element, and nothing went to egressd's "blocked".
for c in e1 e2; do
	ns=${CLIENT[$c]}
	ip netns exec "$ns" nft list chain inet egressd blocked |
		grep -q 'counter packets 0 ' || die "egressd in $c blocked packets"
	reached "$c" "$(ip netns exec "$ns" nft get element inet egressd allow4 \
		"{ ${SERVER_ADDR[$c]} . tcp . $PORT }" | packets)"
done
reached naive "$(ip netns exec "${CLIENT[naive]}" nft list chain inet naive output | packets)"

ct=$(median "$TMP/s.ct")
r1=$(ratio "$(median "$TMP/s.e1")" "$ct")
r2=$(ratio "$(median "$TMP/s.e2")" "$ct")
rs=$(ratio "$(median "$TMP/s.e2")" "$(median "$TMP/s.e1")")
row "connections/s: no ruleset" conn/s none \
	"$(ratio "$(median "$TMP/s.none")" "$ct")x ct only"
row "connections/s: conntrack only" conn/s ct
if [ "$SMOKE" = 1 ]; then
	row "connections/s: egressd, $(fmt_n "$E1") elements" conn/s e1 "${r1}x ct only"
	row "connections/s: egressd, $(fmt_n "$E2") elements" conn/s e2 "${r2}x ct only"
else
	row "connections/s: egressd, $(fmt_n "$E1") elements" conn/s e1 "${r1}x ct only" \
		">= 0.95x" "$(verdict "$r1" ">=" 0.95)"
	row "connections/s: egressd, $(fmt_n "$E2") elements" conn/s e2 "${r2}x ct only" \
		">= 0.95x" "$(verdict "$r2" ">=" 0.95)"
	row "connections/s: egressd, $(fmt_n "$E2") vs $(fmt_n "$E1") elements" \
		conn/s e2 "${rs}x 1k" ">= 0.95x" "$(verdict "$rs" ">=" 0.95)"
fi
row "connections/s: naive, $(fmt_n "$NAIVE") daddr rules" conn/s naive \
	"$(ratio "$(median "$TMP/s.naive")" "$ct")x ct only"
host_clean || die "the host holds an egressd table"
