#!/bin/bash
# What really gets out of a client that runs egressd: the three market-data
# endpoints by name over IPv4 and IPv6, and nothing else (other ports, QUIC,
# ICMP echo, a forbidden host, rogue DNS, DoH/DoT to raw addresses,
# IPv4-mapped IPv6), with reject and with drop, counted and logged.  Every
# "blocked" is checked on three sides: the client's error, the server's
# record of connections and the router's packet count.  Topology: lib.sh.
. "$(dirname "$0")/lib.sh"

require_netns traffic
require_tools traffic socat curl jq /usr/sbin/dnsmasq

POLICIES=$TOP/netns-tests/policies
LOG_GROUP=7		# policies/traffic.yaml

# ---------------------------------------------------------------------
# Expectations beyond lib.sh's: each returns non-zero with WHY set.

# each_endpoint FN ARGS...: FN LABEL HOST ADDR4 ADDR6 ARGS for every one.
each_endpoint() {
	local fn=$1 e label host a4 a6
	shift
	for e in "${ENDPOINTS[@]}"; do
		read -r label host a4 a6 <<<"$e"
		"$fn" "$label" "$host" "$a4" "$a6" "$@" || return 1
	done
}

# A packet on the wire to ::ffff:ADDR, sent through a raw IPv6 socket
# (a connect() to a mapped address would go out as IPv4 instead).
mapped_raw_send() {
	printf 'x' | run "$CLIENT" socat -u - "IP6-SENDTO:[::ffff:$1]:6"
}

# ---------------------------------------------------------------------
# The cases.

case_control() {
	local a4 a6 t t4 p
	read -r _ _ a4 a6 <<<"${ENDPOINTS[0]}"
	read -r _ t t4 _ <<<"$FORBIDDEN"
	for p in 80 8443; do
		expect_allowed "$a4" "$p" "" "$a4" && expect_allowed "$a6" "$p" "" "$a6" ||
			return 1
	done
	expect_allowed "$t" 443 -4 "$t4" &&
		expect_allowed "$ROGUE4" 853 "" "$ROGUE4" &&
		expect_udp_answer "$a4" 443 && expect_udp_answer "$a6" 443 &&
		expect_echo_arrives polygon "$a4" && expect_echo_arrives polygon "$a6" &&
		expect_dns_answer "$ROGUE4" udp && expect_dns_answer "$ROGUE6" tcp ||
		return 1
	mapped_raw_send "$a4"
	wait_for 2 router_saw_mapped "$a4" ||
		WHY="a raw IPv6 packet to ::ffff:$a4 never reached the router"
	[ -z "$WHY" ]
}

router_saw_mapped() {
	[ "$(router_seen "::ffff:$1")" -gt 0 ]
}

case_apply() {
	egressd_in "$CLIENT" apply "$1" || { WHY="egressd apply exited $?"; return 1; }
	run "$CLIENT" nft list table inet egressd || WHY="no table inet egressd after apply"
	[ -z "$WHY" ]
}

case_resolver() {
	expect_dns_answer "$RESOLVER4" udp && expect_dns_answer "$RESOLVER4" tcp &&
		expect_dns_answer "$RESOLVER6" udp && expect_dns_answer "$RESOLVER6" tcp
}

case_rogue6() {
	expect_dns_blocked "$ROGUE6" udp && expect_dns_blocked "$ROGUE6" tcp
}

case_raw_rogue() {
	expect_blocked "$ROGUE4" "$1" "" "$ROGUE4" && expect_blocked "$ROGUE6" "$1" "" "$ROGUE6"
}

case_other_ports() {
	local label=$1 host=$2 a4=$3 a6=$4 p
	for p in 80 8443; do
		expect_blocked "$host" "$p" -4 "$a4" && expect_blocked "$host" "$p" -6 "$a6" ||
			return 1
	done
}

case_udp() {
	local fam=$1 e a4 a6
	for e in "${ENDPOINTS[@]}"; do
		read -r _ _ a4 a6 <<<"$e"
		if [ "$fam" = 4 ]; then
			expect_udp_blocked "$a4" 443 || return 1
		else
			expect_udp_blocked "$a6" 443 || return 1
		fi
	done
}

case_echo() {
	each_endpoint echo_one "$1"
}

echo_one() {
	if [ "$5" = 4 ]; then
		expect_echo_blocked "$1" "$3"
	else
		expect_echo_blocked "$1" "$4"
	fi
}

case_mapped_raw() {
	local a4 s0 b0
	read -r _ _ a4 _ <<<"${ENDPOINTS[0]}"
	s0=$(router_seen "::ffff:$a4")
	b0=$(blocked_packets "$CLIENT")
	mapped_raw_send "$a4"
	if ! stays 200 "$s0" router_seen "::ffff:$a4"; then
		WHY="the packet to ::ffff:$a4 reached the router"
	elif [ "$(blocked_packets "$CLIENT")" -le "$b0" ]; then
		WHY="the blocked chain did not count it"
	fi
	[ -z "$WHY" ]
}

case_neighbour_discovery() {
	local host a6 state
	read -r _ host _ a6 <<<"${ENDPOINTS[0]}"
	run "$CLIENT" ip -6 neigh flush dev eth0
	run "$ROUTER" ip -6 neigh flush dev client
	expect_allowed "$host" 443 -6 "$a6" || return 1
	state=$(run_out "$CLIENT" ip -6 neigh show "$ROUTER6" dev eth0)
	echo "# -> $state" >>"$LOGDIR/held"
	case $state in
	*REACHABLE*|*STALE*|*DELAY*|*PROBE*) ;;
	*) WHY="the client has no neighbour entry for $ROUTER6: '$state'";;
	esac
	[ -z "$WHY" ]
}

case_loopback() {
	local a=$1
	NS_OF[loopback]=$CLIENT
	HOST_OF[$a]=localhost
	if ! listening "$CLIENT" tcp "$a" 8080; then
		serve loopback localhost tcp 8080 "$a"
		wait_for 5 listening "$CLIENT" tcp "$a" 8080 ||
			{ WHY="listener on $a:8080 did not come up"; return 1; }
	fi
	expect_allowed "$a" 8080 "" "$a"
}

case_counter() {
	local b0 t a4
	read -r _ t a4 _ <<<"$FORBIDDEN"
	b0=$(blocked_packets "$CLIENT")
	expect_blocked "$t" 443 -4 "$a4" || return 1
	[ "$(blocked_packets "$CLIENT")" -gt "$b0" ] ||
		WHY="blocked counter stayed at $b0"
	[ -z "$WHY" ]
}

# NFLOG: the attempt arrives on the group with egressd's prefix, and the
# logged packet is the one to the forbidden address.
case_nflog() {
	local n0 t a4 hex
	read -r _ t a4 _ <<<"$FORBIDDEN"
	n0=$(nflog_count "$LOG_GROUP")
	expect_blocked "$t" 443 -4 "$a4" || return 1
	if ! wait_for 2 nflog_grew "$LOG_GROUP" "$n0"; then
		WHY="nothing logged to NFLOG group $LOG_GROUP"
		return 1
	fi
	# shellcheck disable=SC2086 # one argument per octet
	hex=$(printf '\\x%02x' ${a4//./ })
	LC_ALL=C grep -qaP "$hex" "$LOGDIR/nflog.$LOG_GROUP" ||
		WHY="the logged packets do not carry $a4"
	[ -z "$WHY" ]
}

nflog_grew() {
	[ "$(nflog_count "$1")" -gt "$2" ]
}

case_reject_fast() {
	local t a4
	read -r _ t a4 _ <<<"$FORBIDDEN"
	expect_blocked "$t" 443 -4 "$a4" || return 1
	[ "$TRY_MS" -lt 1000 ] || WHY="took $TRY_MS ms"
	NOTE="refused after $TRY_MS ms"
	[ -z "$WHY" ]
}

case_drop_timeout() {
	local t a4
	read -r _ t a4 _ <<<"$FORBIDDEN"
	expect_blocked "$t" 443 -4 "$a4" || return 1
	[ "$TRY_MS" -ge 1000 ] || WHY="gave up after $TRY_MS ms, before the 1 s timeout"
	NOTE="gave up after $TRY_MS ms"
	[ -z "$WHY" ]
}

# drop.yaml has log: false: the blocked attempts under it left no trace
# on the NFLOG group, though the listener is still bound.
case_no_log() {
	local n0 t a4
	read -r _ t a4 _ <<<"$FORBIDDEN"
	n0=$(nflog_count "$LOG_GROUP")
	expect_blocked "$t" 443 -4 "$a4" || return 1
	stays 200 "$n0" nflog_count "$LOG_GROUP" || WHY="a blocked attempt was logged"
	[ -z "$WHY" ]
}

case_flush() {
	local t a4
	read -r _ t a4 _ <<<"$FORBIDDEN"
	egressd_in "$CLIENT" flush || { WHY="egressd flush exited $?"; return 1; }
	if run "$CLIENT" nft list table inet egressd; then
		WHY="the table is still there"
		return 1
	fi
	expect_allowed "$t" 443 -4 "$a4"
}

# ---------------------------------------------------------------------

hold_reset
if ! topo_up >>"$LOGDIR/held" 2>&1; then
	fail "topology up" "see the held output"
	exit 0
fi
nflog_listen "$CLIENT" "$LOG_GROUP" || fail "NFLOG listener on group $LOG_GROUP"

check "control: without a policy every probe gets through" case_control
check "apply policies/traffic.yaml (reject, log)" case_apply "$POLICIES/traffic.yaml"

for e in "${ENDPOINTS[@]}"; do
	read -r label host a4 a6 <<<"$e"
	check "allowed: $host:443 over IPv4" expect_allowed "$host" 443 -4 "$a4"
	check "allowed: $host:443 over IPv6" expect_allowed "$host" 443 -6 "$a6"
done
for e in "${ENDPOINTS[@]}"; do
	read -r label host a4 a6 <<<"$e"
	check "blocked: $host on TCP 80 and 8443, IPv4 and IPv6" \
		case_other_ports "$label" "$host" "$a4" "$a6"
done
check "blocked: UDP 443 (QUIC) to every endpoint over IPv4" case_udp 4
check "blocked: UDP 443 (QUIC) to every endpoint over IPv6" case_udp 6
check "blocked: ICMP echo to every endpoint over IPv4" case_echo 4
check "blocked: ICMPv6 echo to every endpoint over IPv6" case_echo 6

read -r _ t t4 t6 <<<"$FORBIDDEN"
check "blocked: $t:443 by name over IPv4" expect_blocked "$t" 443 -4 "$t4"
check "blocked: $t:443 by name over IPv6" expect_blocked "$t" 443 -6 "$t6"
check "blocked: $t4:443 by raw address" expect_blocked "$t4" 443 "" "$t4"
check "blocked: [$t6]:443 by raw address" expect_blocked "$t6" 443 "" "$t6"

check "allowed: DNS to the policy's resolver, UDP and TCP, IPv4 and IPv6" case_resolver
check "blocked: DNS to a rogue resolver over UDP ($ROGUE4)" expect_dns_blocked "$ROGUE4" udp
check "blocked: DNS to a rogue resolver over TCP ($ROGUE4)" expect_dns_blocked "$ROGUE4" tcp
check "blocked: DNS to a rogue resolver over IPv6, UDP and TCP" case_rogue6
check "blocked: DoH-style TCP 443 to a raw address" case_raw_rogue 443
check "blocked: DoT-style TCP 853 to a raw address" case_raw_rogue 853
check "blocked: connect to [::ffff:$t4]:443 (goes out as IPv4)" \
	expect_blocked "::ffff:$t4" 443 "" "$t4"
read -r _ _ p4 _ <<<"${ENDPOINTS[0]}"
check "blocked: IPv6 packet to ::ffff:$p4, an allowed IPv4 address" case_mapped_raw

check "IPv6 neighbour discovery works through the policy" case_neighbour_discovery
check "loopback untouched: 127.0.0.1:8080 in the client" case_loopback 127.0.0.1
check "loopback untouched: [::1]:8080 in the client" case_loopback ::1
check "a blocked attempt increments the blocked chain's counter" case_counter
check "log: true sends the blocked attempt to NFLOG group $LOG_GROUP" case_nflog

check "reject: a blocked TCP connect fails at once" case_reject_fast

check "apply policies/drop.yaml (drop)" case_apply "$POLICIES/drop.yaml"
BLOCKED_AS=timeout
check "drop: a blocked TCP connect runs into its 1 s timeout" case_drop_timeout
read -r _ host a4 _ <<<"${ENDPOINTS[0]}"
check "drop: $host:443 still allowed" expect_allowed "$host" 443 -4 "$a4"
check "drop: UDP 443 blocked" expect_udp_blocked "$a4" 443
check "log: false sends nothing to NFLOG" case_no_log

check "egressd flush removes the table: $t reachable again" case_flush

hold_reset
assert_host_clean && ok "host namespace holds no egressd table"
