#!/bin/bash
# Changing the policy under live traffic: an endpoint added by a new
# policy works and is blocked again once the policy drops it; a changed
# DNS answer is picked up by the next apply; and while the policy is
# replaced 200 times, no connection to a blocked address gets through and
# an established connection keeps flowing without losing one packet.
# Topology: lib.sh, plus api.tiingo.com as a fourth endpoint.
. "$(dirname "$0")/lib.sh"

require_netns reapply
require_tools reapply socat curl jq /usr/sbin/dnsmasq

POLICIES=$TOP/netns-tests/policies
EXTRA="tiingo api.tiingo.com 198.51.100.13 2001:db8:2::13"
REAPPLIES=${EGRESSD_TEST_REAPPLIES:-200}

apply() {
	egressd_in "$CLIENT" apply "$POLICIES/$1" || WHY="egressd apply $1 exited $?"
	[ -z "$WHY" ]
}

# The three shipped endpoints, both families.
endpoints_allowed() {
	local e host a4 a6
	for e in "${ENDPOINTS[@]}"; do
		read -r _ host a4 a6 <<<"$e"
		expect_allowed "$host" 443 -4 "$a4" && expect_allowed "$host" 443 -6 "$a6" ||
			return 1
	done
}

extra_blocked() {
	local host a4 a6
	read -r _ host a4 a6 <<<"$EXTRA"
	expect_blocked "$host" 443 -4 "$a4" && expect_blocked "$host" 443 -6 "$a6"
}

# The resolver moves api.polygon.io to a second address of its server;
# the next apply must allow it.
case_dns_moves() {
	local label host a4 a6 new4=198.51.100.20 new6=2001:db8:2::20
	read -r label host a4 a6 <<<"${ENDPOINTS[0]}"
	ip -n "${NS_OF[$label]}" addr add "$new4/24" dev eth0 &&
		ip -n "${NS_OF[$label]}" addr add "$new6/64" dev eth0 nodad || return 1
	HOST_OF[$new4]=$host
	HOST_OF[$new6]=$host
	serve "$label" "$host" tcp 443 "$new4" "$new6"
	if ! wait_for 5 listening "${NS_OF[$label]}" tcp "$new4" 443 ||
		! wait_for 5 listening "${NS_OF[$label]}" tcp "$new6" 443; then
		WHY="no listener on the new addresses"
		return 1
	fi
	if ! dns_set_answer "$host" "$new4" "$new6"; then
		WHY="the resolver kept the old answer"
		return 1
	fi
	apply base.yaml || return 1
	expect_allowed "$host" 443 -4 "$new4" && expect_allowed "$host" 443 -6 "$new6" || return 1
	dns_set_answer "$host" "$a4" "$a6" && apply base.yaml
}

# ---------------------------------------------------------------------
# The re-apply storm.  Three things run at once: a loop connecting to the
# forbidden host as fast as it can, an established stream to an allowed
# endpoint that carries a line every 10 ms, and egressd apply alternating
# base.yaml and plus.yaml.

# A connect loop in the client, through bash's /dev/tcp: no process per
# attempt, so thousands of attempts land inside the transactions.  Stops
# at the stop file, or after two minutes whatever happens.
start_blocked_loop() {
	rm -f "$LOGDIR/loop.stop" "$LOGDIR/loop.result"
	# shellcheck disable=SC2016 # expanded by the inner shell
	ns_spawn "$CLIENT" loop bash -c '
		stop=$1 result=$2 n=0 ok=0 end=$((SECONDS + 120))
		shift 2
		: >"$result.started"
		while [ ! -e "$stop" ] && [ "$SECONDS" -lt "$end" ]; do
			for a in "$@"; do
				if : 2>/dev/null 3<>"/dev/tcp/$a/443"; then
					ok=$((ok + 1))
					echo "connected to $a"
				fi
				n=$((n + 1))
			done
		done
		echo "$n $ok" >"$result"
	' loop "$LOGDIR/loop.stop" "$LOGDIR/loop.result" "$@"
}

stop_blocked_loop() {
	touch "$LOGDIR/loop.stop"
	wait_for 10 test -s "$LOGDIR/loop.result"
}

# The stream: one TCP connection to api.polygon.io's echo mode, fed from a
# FIFO the test writes marks into.
start_stream() {
	local a4
	read -r _ _ a4 _ <<<"${ENDPOINTS[0]}"
	mkfifo "$LOGDIR/stream.in" || return 1
	# Read-write, so that opening does not wait for the reader.
	exec 7<>"$LOGDIR/stream.in"
	: >"$LOGDIR/stream.out"
	ns_spawn "$CLIENT" stream socat -t 3600 \
		"OPEN:$LOGDIR/stream.in,rdonly!!OPEN:$LOGDIR/stream.out,wronly,append" \
		"TCP:$a4:443"
	echo STREAM >&7
	wait_for 5 grep -qx STREAM "$LOGDIR/stream.out"
}

# A line into the stream every 10 ms, so that packets are in flight while
# the table is replaced; the marks alone would leave it idle then.
start_ticker() {
	(
		end=$((SECONDS + 120))
		while [ ! -e "$LOGDIR/loop.stop" ] && [ "$SECONDS" -lt "$end" ]; do
			echo tick
			sleep 0.01
		done
	) >&7 &
	PIDS+=($!)
}

echoed() {
	grep -qx "$1" "$LOGDIR/stream.out"
}

# stream_socket NS PEER: the established socket to or from PEER, as ss
# shows it with TCP details.
stream_socket() {
	ip netns exec "$1" ss -Htin state established dst "$2"
}

storm() {
	local i p start failed=0
	start=$EPOCHREALTIME
	for ((i = 1; i <= REAPPLIES; i++)); do
		p=base.yaml
		((i % 2)) && p=plus.yaml
		if ! ip netns exec "$CLIENT" timeout "${EGRESSD_TIMEOUT:-60}" \
			"$EGRESSD" apply "$POLICIES/$p" >>"$LOGDIR/storm.log" 2>&1; then
			failed=$((failed + 1))
			echo "# apply $i ($p) failed" >>"$LOGDIR/storm.log"
		fi
		echo "mark $i" >&7
	done
	STORM_MS=$(ms_since "$start")
	STORM_FAILED=$failed
}

case_storm_applies() {
	NOTE="$REAPPLIES applies in $STORM_MS ms, $((STORM_MS / REAPPLIES)) ms each"
	if [ "$STORM_FAILED" -ne 0 ]; then
		tail -20 "$LOGDIR/storm.log" >>"$LOGDIR/held"
		WHY="$STORM_FAILED applies failed"
	fi
	[ -z "$WHY" ]
}

case_storm_no_leak() {
	local n ok a
	if [ ! -s "$LOGDIR/loop.result" ]; then
		WHY="the connect loop did not stop: a connect hung"
		return 1
	fi
	read -r n ok <"$LOGDIR/loop.result"
	NOTE="$n attempts"
	tail -5 "$LOGDIR/loop.log" >>"$LOGDIR/held" 2>/dev/null
	if [ "$ok" -ne 0 ]; then
		WHY="$ok of $n connects got through"
	elif [ "$n" -lt "$REAPPLIES" ]; then
		WHY="only $n attempts: the loop did not cover the re-applies"
	fi
	for a in "$@"; do
		[ -n "$WHY" ] && break
		if [ "$(hits "$a" 443 tcp)" -ne 0 ]; then
			WHY="the server at $a accepted $(hits "$a" 443 tcp) connections"
		elif [ "$(router_seen "$a")" -ne 0 ]; then
			WHY="$(router_seen "$a") packets to $a reached the router"
		fi
	done
	[ -z "$WHY" ]
}

case_stream_marks() {
	local i
	if ! wait_for 5 echoed "mark $REAPPLIES"; then
		WHY="the mark sent after the last apply never came back"
		return 1
	fi
	for ((i = 1; i <= REAPPLIES; i++)); do
		echoed "mark $i" || { WHY="mark $i (after apply $i) is missing"; return 1; }
	done
	[ "$(hits "$STREAM_ADDR" 443 tcp)" -eq "$STREAM_HITS" ] ||
		WHY="the stream was reconnected: the server saw a new connection"
	[ -z "$WHY" ]
}

# Packets of the stream counted as they enter the output hook, before
# egressd's chain, and again in postrouting, after it.  A packet dropped
# during a replacement shows as a difference.  (TCP retransmission
# counters do not: a segment the local firewall drops was never sent, and
# goes out with the next write.)
watch_stream() {
	run "$CLIENT" nft -f - <<-EOF
	table inet watch {
		counter entered { }
		counter left { }
		chain output {
			type filter hook output priority -300; policy accept;
			ip daddr $1 tcp dport 443 counter name "entered"
		}
		chain postrouting {
			type filter hook postrouting priority 300; policy accept;
			ip daddr $1 tcp dport 443 counter name "left"
		}
	}
	EOF
}

watched() {
	ip netns exec "$CLIENT" nft -j list counter inet watch "$1" |
		jq '.nftables[] | .counter.packets // empty'
}

case_stream_no_drop() {
	local entered left
	entered=$(watched entered)
	left=$(watched left)
	NOTE="$entered packets"
	if [ -z "$(stream_socket "$CLIENT" "$STREAM_ADDR")" ]; then
		WHY="the stream is no longer established"
	elif [ "$entered" -lt "$REAPPLIES" ]; then
		WHY="only $entered packets: the stream did not flow"
	elif [ "$entered" != "$left" ]; then
		WHY="$((entered - left)) of its $entered packets were dropped on the way out"
	fi
	[ -z "$WHY" ]
}

# ---------------------------------------------------------------------

hold_reset
# shellcheck disable=SC2086 # the entry is meant to split into words
if ! { topo_up && endpoint_up $EXTRA && kill -HUP "$RESOLVER_PID" &&
	wait_for 5 dns_answers_are api.tiingo.com "198.51.100.13 2001:db8:2::13 "; } \
	>>"$LOGDIR/held" 2>&1; then
	fail "topology up" "see the held output"
	exit 0
fi
read -r _ extra extra4 extra6 <<<"$EXTRA"
read -r _ forbidden f4 f6 <<<"$FORBIDDEN"

check "apply base.yaml (resolvers from resolv.conf)" apply base.yaml
check "base: the three endpoints allowed, IPv4 and IPv6" endpoints_allowed
check "base: $extra:443 blocked, IPv4 and IPv6" extra_blocked
check "apply plus.yaml (adds $extra)" apply plus.yaml
check "plus: $extra:443 allowed over IPv4" expect_allowed "$extra" 443 -4 "$extra4"
check "plus: $extra:443 allowed over IPv6" expect_allowed "$extra" 443 -6 "$extra6"
check "plus: the three endpoints still allowed" endpoints_allowed
check "apply base.yaml again (drops $extra)" apply base.yaml
check "base again: $extra:443 blocked over IPv4" expect_blocked "$extra" 443 -4 "$extra4"
check "base again: $extra:443 blocked over IPv6" expect_blocked "$extra" 443 -6 "$extra6"
check "base again: the three endpoints still allowed" endpoints_allowed
check "a changed DNS answer is allowed after the next apply" case_dns_moves

hold_reset
read -r _ _ STREAM_ADDR _ <<<"${ENDPOINTS[0]}"
if ! start_stream; then
	fail "stream to $STREAM_ADDR:443 established" "no echo of the first line"
	exit 0
fi
STREAM_HITS=$(hits "$STREAM_ADDR" 443 tcp)
if ! watch_stream "$STREAM_ADDR"; then
	fail "counters on the stream's packets" "nft refused the watch table"
	exit 0
fi
start_blocked_loop "$f4" "$f6"
wait_for 5 test -e "$LOGDIR/loop.result.started"
start_ticker
storm
stop_blocked_loop

check "re-apply x$REAPPLIES alternating base and plus: every apply succeeded" \
	case_storm_applies
check "re-apply x$REAPPLIES: no connect to $forbidden ($f4, $f6) got through" \
	case_storm_no_leak "$f4" "$f6"
check "re-apply x$REAPPLIES: the established stream echoed a mark after every apply" \
	case_stream_marks
check "re-apply x$REAPPLIES: not one packet of the established stream was dropped" \
	case_stream_no_drop

hold_reset
assert_host_clean && ok "host namespace holds no egressd table"
