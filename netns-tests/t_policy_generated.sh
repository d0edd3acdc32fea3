#!/bin/bash
# Cases generated from a policy (EGRESSD_TEST_POLICY, by default the
# shipped policy/quantracore-apex.yaml): every entry reachable on its ports
# and protocols at the addresses the test resolver hands out, and
# everything else tried blocked: other ports, the other protocol, ICMP
# echo, a forbidden host, a rogue resolver, DoH/DoT to a raw address.
#
# egressd is the parser: the expectations come from `egressd plan --hosts`,
# and only the host names are read from the YAML, to check that the plan
# has each of them.  What the plan allows is expected to get out, what it
# does not is expected to be blocked.  Topology: lib.sh, with the policy's
# hosts on one namespace, "hosts", each with an address of its own.
. "$(dirname "$0")/lib.sh"

require_netns policy
require_tools policy socat curl jq /usr/sbin/dnsmasq

POLICY=${EGRESSD_TEST_POLICY:-$TOP/policy/quantracore-apex.yaml}
POLICY_NAME=${POLICY#"$TOP"/}
MAX_HOSTS=150
RESOLVER_TTL=3600
# Tried against every address the policy allows, besides its own ports.
EXTRA_TCP_PORTS="443 80 8443 22"
EXTRA_UDP_PORTS="443 53"

# ---------------------------------------------------------------------
# Addresses.

ip4_int() {
	local IFS=.
	# shellcheck disable=SC2086 # split into octets
	set -- $1
	echo $((($1 << 24) + ($2 << 16) + ($3 << 8) + $4))
}

int_ip4() {
	echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"
}

# ip6_hex ADDR: the 32 hex digits of an IPv6 address.
ip6_hex() {
	local a=$1 head tail g out='' n i
	if [[ $a == *::* ]]; then
		head=${a%%::*} tail=${a#*::}
		n=0
		for g in ${head//:/ } ${tail//:/ }; do
			n=$((n + 1))
		done
		a=$head
		for ((i = n; i < 8; i++)); do
			a+=:0
		done
		a+=:$tail
		a=${a#:}
		a=${a%:}
	fi
	for g in ${a//:/ }; do
		out+=$(printf '%04x' "0x$g")
	done
	echo "$out"
}

# in_prefix ADDR PREFIX/LEN: ADDR lies in the prefix (same family).
in_prefix() {
	local a=$1 net=${2%/*} len=${2#*/} x y d r
	if [[ $a == *:* ]]; then
		[[ $net == *:* ]] || return 1
		x=$(ip6_hex "$a")
		y=$(ip6_hex "$net")
		d=$((len / 4))
		r=$((len % 4))
		[ "${x:0:d}" = "${y:0:d}" ] || return 1
		[ "$r" -eq 0 ] && return 0
		[ $((0x${x:d:1} >> (4 - r))) -eq $((0x${y:d:1} >> (4 - r))) ]
	else
		[[ $net == *:* ]] && return 1
		[ "$len" -eq 0 ] && return 0
		[ $(($(ip4_int "$a") >> (32 - len))) -eq $(($(ip4_int "$net") >> (32 - len))) ]
	fi
}

is_documentation() {
	in_prefix "$1" 192.0.2.0/24 || in_prefix "$1" 198.51.100.0/24 ||
		in_prefix "$1" 203.0.113.0/24 || in_prefix "$1" 2001:db8::/32
}

# test_addr PREFIX/LEN: a documentation address inside the prefix that
# the harness can host, or nothing.
test_addr() {
	local net=${1%/*} len=${1#*/} a c
	if [[ $net == *:* ]]; then
		if [ "$len" -eq 128 ]; then
			a=$net
		elif [[ $net == *:: ]] && [ "$len" -le 112 ]; then
			a=${net}200
		fi
		for c in "${a:-}" 2001:db8:3::200; do
			[ -n "$c" ] && in_prefix "$c" "$1" && is_documentation "$c" &&
				! in_prefix "$c" "$CLIENT_LINK6" && { echo "$c"; return; }
		done
	else
		if [ "$len" -ge 31 ]; then
			a=$net
		else
			a=$(int_ip4 $(($(ip4_int "$net") + 200 % (1 << (32 - len)))))
		fi
		for c in "$a" 203.0.113.200 198.51.100.200; do
			in_prefix "$c" "$1" && is_documentation "$c" &&
				! in_prefix "$c" "$CLIENT_LINK4" && { echo "$c"; return; }
		done
	fi
}

# ---------------------------------------------------------------------
# What the policy says, through egressd.

# The host names in the YAML, for the cross-check only.
yaml_hosts() {
	sed -n 's/^[[:space:]-]*host:[[:space:]]*//p' "$POLICY" |
		sed -e 's/[[:space:]]#.*//' -e 's/["'\'']//g' -e 's/[[:space:]]*$//' | sort -u
}

# The plan's set elements as "SET ADDR PROTO PORTS COMMENT".
plan_rows() {
	awk '
	/^\tset / { set = $2 }
	/elements = \{/ { inel = 1; sub(/.*elements = \{ */, "") }
	inel {
		line = $0
		last = line !~ /,$/
		sub(/^[ \t]+/, "", line)
		sub(/,$/, "", line)
		if (last)
			sub(/ *\}$/, "", line)
		c = ""
		if (match(line, /comment "[^"]*"/))
			c = substr(line, RSTART + 9, RLENGTH - 10)
		split(line, f, " ")
		print set, f[1], f[3], f[5], c
		if (last)
			inel = 0
	}' "$1"
}

# covered PROTO ADDR PORT [SPORT]: the plan lets this out.
covered() {
	local proto=$1 a=$2 port=$3 sport=${4:-} set net p pr lo hi
	while read -r set net pr p _; do
		case $set in dns4|dns6|allow*) ;; *) continue;; esac
		[ "$pr" = "$proto" ] || continue
		lo=${p%-*} hi=${p#*-}
		{ [ "$port" -ge "$lo" ] && [ "$port" -le "$hi" ]; } || continue
		if [[ $net == */* ]]; then
			in_prefix "$a" "$net" && return 0
		elif [ "$net" = "$a" ]; then
			return 0
		fi
	done <"$LOGDIR/plan.rows"
	[ "$proto" = udp ] || return 1
	[ "$port" = 123 ] && plan_has 'udp dport 123 accept' && return 0
	[ "$port.$sport" = 67.68 ] && plan_has 'udp sport 68 udp dport 67 accept' && return 0
	[ "$port.$sport" = 547.546 ] && plan_has 'udp sport 546 udp dport 547 accept'
}

plan_has() {
	grep -q "$1" "$LOGDIR/plan.nft"
}

# ---------------------------------------------------------------------
# The probes: "PROTO ADDR PORT SPORT TARGET GROUP", one a line, in
# $LOGDIR/probes; TARGET is the name or address to connect to, GROUP the
# result line it belongs to.

probe() {
	echo "$1 $2 $3 ${4:--} $5 $6" >>"$LOGDIR/probes"
}

# probes_for_rows: each element's own ports (both ends of a range), then
# the usual ports and the other protocol.
probes_for_rows() {
	local set net pr p c a target g lo hi q x
	while read -r set net pr p c; do
		case $set in allow*) ;; *) continue;; esac
		if [[ $net == */* ]]; then
			a=$(test_addr "$net")
			if [ -z "$a" ]; then
				echo "$net" >>"$LOGDIR/unhosted"
				continue
			fi
			target=$a
		else
			a=$net
			target=${HOST_OF[$a]:-$a}
		fi
		g="$target $(family "$a")"
		[[ $net == */* ]] && g="$net at $a"
		lo=${p%-*} hi=${p#*-}
		for q in $lo $hi; do
			probe "$pr" "$a" "$q" - "$target" "$g"
		done
		for x in $((lo - 1)) $((hi + 1)); do
			[ "$x" -ge 1 ] && [ "$x" -le 65535 ] &&
				probe "$pr" "$a" "$x" - "$target" "$g"
		done
		for q in $EXTRA_TCP_PORTS; do
			probe tcp "$a" "$q" - "$target" "$g"
		done
		for q in $EXTRA_UDP_PORTS $lo; do
			probe udp "$a" "$q" - "$target" "$g"
		done
		probe tcp "$a" "$lo" - "$target" "$g"
		probe icmp "$a" - - "$target" "$g"
	done <"$LOGDIR/plan.rows"
}

# Hosts the policy does not name: the forbidden one by name and address,
# on every port the policy uses anywhere and the system opt-ins' ports
# (allowed to any address when the policy opts in); the rogue resolver.
probes_forbidden() {
	local t t4 t6 a g q ports
	read -r _ t t4 t6 <<<"$FORBIDDEN"
	ports=$(awk '$1 ~ /^allow/ { split($4, r, "-"); print r[1] }' "$LOGDIR/plan.rows" |
		sort -un)
	for a in "$t4" "$t6"; do
		g="$t $(family "$a")"
		for q in 443 $ports; do
			probe tcp "$a" "$q" - "$t" "$g"
		done
		probe udp "$a" 443 - "$a" "$g"
		probe udp "$a" 123 - "$a" "$g"
	done
	probe udp "$t4" 67 68 "$t4" "$t IPv4"
	probe udp "$t6" 547 546 "$t6" "$t IPv6"
	for a in "$ROGUE4" "$ROGUE6"; do
		g="rogue resolver $(family "$a")"
		probe udp "$a" 53 - "$a" "$g"
		probe tcp "$a" 53 - "$a" "$g"
		probe tcp "$a" 443 - "$a" "$g"
		probe tcp "$a" 853 - "$a" "$g"
	done
}

family() {
	if [[ $1 == *:* ]]; then echo IPv6; else echo IPv4; fi
}

# ---------------------------------------------------------------------
# Servers for every probe: one "hosts" namespace holding every address
# the policy allows, the forbidden server, and the rogue one.

hosts_up() {
	local a4=198.51.100.2 a6=2001:db8:2::2
	lan_attach hosts "$a4" "$a6" && echo_counters "${NS_OF[hosts]}"
}

# Host i gets 198.51.100.(100+i) and 2001:db8:4::i.
assign_addresses() {
	local h i=0
	: >"$LOGDIR/policy.hosts"
	for h in $YAML_HOSTS; do
		i=$((i + 1))
		printf '198.51.100.%d %s\n2001:db8:4::%x %s\n' $((100 + i)) "$h" "$i" "$h" \
			>>"$LOGDIR/policy.hosts"
		HOST_OF[198.51.100.$((100 + i))]=$h
		HOST_OF[2001:db8:4::$(printf %x "$i")]=$h
	done
}

# listen_for_probes: a listener for each TCP and UDP probe, on the
# namespace that owns the address.
listen_for_probes() {
	local pr a p label
	sort -u -k1,3 "$LOGDIR/probes" | while read -r pr a p _; do
		[ "$pr" = icmp ] && continue
		label=$(owner "$a") || continue
		[ "$label" = rogue ] && continue
		listening "${NS_OF[$label]}" "$pr" "$a" "$p" && continue
		serve "$label" "${HOST_OF[$a]:-$a}" "$pr" "$p" "$a"
		echo "${NS_OF[$label]} $pr $a $p" >>"$LOGDIR/listeners"
	done
}

owner() {
	local t4 t6
	read -r _ _ t4 t6 <<<"$FORBIDDEN"
	case $1 in
	"$t4"|"$t6") echo telemetry;;
	"$ROGUE4"|"$ROGUE6") echo rogue;;
	*) echo hosts;;
	esac
}

hosts_addresses() {
	local a
	while read -r a; do
		[ "$(owner "$a")" = hosts ] || continue
		route_to hosts "$a" || return 1
		[ -n "${HOST_OF[$a]:-}" ] || HOST_OF[$a]=$a
	done < <(awk '{ print $2 }' "$LOGDIR/probes" | sort -u)
}

# ---------------------------------------------------------------------
# Running the probes.

# run_probe PROTO ADDR PORT SPORT TARGET: as the plan expects; sets
# EXPECT (allowed or blocked) and WHY.
run_probe() {
	local pr=$1 a=$2 p=$3 sp=$4 target=$5 fam=-4
	[[ $a == *:* ]] && fam=-6
	[ "$target" = "$a" ] && fam=
	[ "$sp" = - ] && sp=
	EXPECT=blocked
	case $pr.$p in
	icmp.*)
		expect_echo_blocked hosts "$a";;
	*.53)
		if covered "$pr" "$a" 53; then
			EXPECT=allowed
			expect_dns_answer "$a" "$pr"
		else
			expect_dns_blocked "$a" "$pr"
		fi;;
	tcp.*)
		if covered tcp "$a" "$p"; then
			EXPECT=allowed
			expect_allowed "$target" "$p" "$fam" "$a"
		else
			expect_blocked "$target" "$p" "$fam" "$a"
		fi;;
	udp.*)
		if covered udp "$a" "$p" "$sp"; then
			EXPECT=allowed
			expect_udp_answer "$a" "$p" "$sp"
		else
			expect_udp_blocked "$a" "$p" "$sp"
		fi;;
	esac
}

# run_probes: every probe once, each result a line of $LOGDIR/results:
# "N|GROUP|EXPECT|WHAT|WHY"; the held output of a failure is kept.
run_probes() {
	local pr a p sp target group n=0 what
	: >"$LOGDIR/results"
	while read -r pr a p sp target group; do
		n=$((n + 1))
		refresh_if_due
		hold_reset
		WHY=
		run_probe "$pr" "$a" "$p" "$sp" "$target" </dev/null
		what=$pr/$p
		[ "$pr" = icmp ] && what=icmp
		[ "$sp" = - ] || what+=" from $sp"
		[ -n "$WHY" ] && cp "$LOGDIR/held" "$LOGDIR/held.$n"
		echo "$n|$group|$EXPECT|$what|$WHY" >>"$LOGDIR/results"
	done <"$LOGDIR/probes"
}

# report: one result line per group and expectation, naming what was
# tried; a failure shows the first failing probe and its held output.
report() {
	local key group exp n what why names first
	while IFS='|' read -r group exp; do
		names='' first=''
		while IFS='|' read -r n _ _ what why; do
			names+=", $what"
			[ -n "$why" ] && [ -z "$first" ] && first=$n
		done < <(awk -F'|' -v g="$group" -v e="$exp" '$2 == g && $3 == e' \
			"$LOGDIR/results")
		key="$exp: $group: ${names#, }"
		if [ -z "$first" ]; then
			ok "$key"
		else
			IFS='|' read -r _ _ _ what why < <(sed -n "${first}p" "$LOGDIR/results")
			cp "$LOGDIR/held.$first" "$LOGDIR/held"
			fail "$key" "$what: $why"
		fi
	done < <(awk -F'|' '!seen[$2 "|" $3]++ { print $2 "|" $3 }' "$LOGDIR/results")
}

# ---------------------------------------------------------------------
# The steps before the probes, each a case.

case_plan() {
	echo "# EGRESSD_RESOLV_CONF=$LOGDIR/resolv.conf $EGRESSD plan $POLICY" \
		"--hosts $LOGDIR/policy.hosts" >>"$LOGDIR/held"
	if ! EGRESSD_RESOLV_CONF=$LOGDIR/resolv.conf "$EGRESSD" plan "$POLICY" \
		--hosts "$LOGDIR/policy.hosts" >"$LOGDIR/plan.nft" 2>>"$LOGDIR/held"; then
		WHY="egressd plan exited $?"
		return 1
	fi
	plan_rows "$LOGDIR/plan.nft" >"$LOGDIR/plan.rows"
	grep -q '^allow' "$LOGDIR/plan.rows" || WHY="the plan allows nothing"
	NOTE="$(grep -c '^allow' "$LOGDIR/plan.rows") elements"
	[ -z "$WHY" ]
}

case_plan_has_hosts() {
	local h
	for h in $YAML_HOSTS; do
		awk '$1 ~ /^allow/' "$LOGDIR/plan.rows" | grep -qF "$h" ||
			WHY="$WHY $h"
	done
	[ -n "$WHY" ] && WHY="no element for:$WHY"
	[ -z "$WHY" ]
}

# The resolvers the plan allows: ours stand in for them, at their
# addresses, and the client asks them.
plan_resolvers() {
	local a
	RESOLVER_EXTRA=
	CLIENT_NAMESERVERS=
	while read -r a; do
		CLIENT_NAMESERVERS+=" $a"
		case $a in
		"$RESOLVER4"|"$RESOLVER6") ;;
		*)
			if ! is_documentation "$a"; then
				WHY="resolver $a is not a documentation address"
				return 1
			fi
			RESOLVER_EXTRA+=" $a";;
		esac
	done < <(awk '$1 ~ /^dns/ { print $2 }' "$LOGDIR/plan.rows" | sort -u)
	[ -n "$CLIENT_NAMESERVERS" ] || WHY="the plan allows no resolver"
	[ -z "$WHY" ]
}

case_topology() {
	local h a
	# The policy's hosts replace the shipped endpoints.
	ENDPOINTS=()
	if ! { topo_up && hosts_up && hosts_addresses; } >>"$LOGDIR/held" 2>&1; then
		WHY="see the held output"
		return 1
	fi
	listen_for_probes
	while read -r a h; do
		dns_add "$h" "$a"
	done <"$LOGDIR/policy.hosts"
	kill -HUP "$RESOLVER_PID"
	while read -r l; do
		# shellcheck disable=SC2086 # "ns proto addr port"
		wait_for 10 listening $l || { WHY="not listening: $l"; return 1; }
	done < <(cat "$LOGDIR/listeners" 2>/dev/null)
	h=$(awk '{ print $2; exit }' "$LOGDIR/policy.hosts")
	[ -z "$h" ] || wait_for 5 dns_answers_are "$h" "$(dns_expected "$h")" ||
		WHY="the resolver does not answer for $h"
	[ -z "$WHY" ]
}

dns_expected() {
	awk -v h="$1" '$2 == h { print $1 }' "$LOGDIR/policy.hosts" | sort | tr '\n' ' '
}

case_apply() {
	egressd_in "$CLIENT" apply "$POLICY" || WHY="egressd apply exited $?"
	APPLIED_AT=$SECONDS
	[ -z "$WHY" ]
}

# A policy may keep elements for as little as its ttl_floor plus grace;
# under blocked: drop the probes take a second each.  Long TTLs from the
# resolver (RESOLVER_TTL) and applying again every 20 s, as the daemon's
# refresh would, keep the addresses in the sets.
refresh_if_due() {
	[ $((SECONDS - APPLIED_AT)) -lt 20 ] && return
	hold_reset
	if ! egressd_in "$CLIENT" apply "$POLICY"; then
		fail "egressd apply $POLICY_NAME again, as a refresh" "exit $?"
	fi
	APPLIED_AT=$SECONDS
}

# What a blocked TCP connect looks like under this policy.
blocked_action() {
	if sed -n '/chain blocked {/,/}/p' "$LOGDIR/plan.nft" | grep -q reject; then
		BLOCKED_AS=refused
	else
		BLOCKED_AS=timeout
	fi
}

# ---------------------------------------------------------------------

printf 'nameserver %s\nnameserver %s\n' "$RESOLVER4" "$RESOLVER6" >"$LOGDIR/resolv.conf"
YAML_HOSTS=$(yaml_hosts)
if [ "$(wc -w <<<"$YAML_HOSTS")" -gt "$MAX_HOSTS" ]; then
	fail "policy $POLICY_NAME" "more than $MAX_HOSTS hosts: the harness stops there"
	exit 0
fi
assign_addresses

hold_reset
if "$EGRESSD" check "$POLICY" >>"$LOGDIR/held" 2>&1; then
	ok "egressd check $POLICY_NAME"
else
	fail "egressd check $POLICY_NAME" "exit $?"
	exit 0
fi
check "egressd plan $POLICY_NAME --hosts (test addresses)" case_plan || exit 0
check "the plan has elements for every host in the policy" case_plan_has_hosts
blocked_action
hold_reset
if ! plan_resolvers; then
	skip "policy $POLICY_NAME" "$WHY"
	exit 0
fi

: >"$LOGDIR/probes"
probes_for_rows
probes_forbidden
awk '!seen[$0]++' "$LOGDIR/probes" >"$LOGDIR/probes.u" && mv "$LOGDIR/probes.u" "$LOGDIR/probes"

# Without the topology or the table, every probe would fail for the
# same reason: the one failure says it.
check "topology: $(wc -w <<<"$YAML_HOSTS") hosts, resolvers$CLIENT_NAMESERVERS" case_topology ||
	exit 0
check "egressd apply $POLICY_NAME" case_apply || exit 0

run_probes
report
if [ -s "$LOGDIR/unhosted" ]; then
	while read -r net; do
		skip "allowed: $net" "no documentation address inside it to put a server on"
	done < <(sort -u "$LOGDIR/unhosted")
fi

hold_reset
assert_host_clean && ok "host namespace holds no egressd table"
