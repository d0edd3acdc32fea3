#!/bin/bash
# Shared helpers for the namespace tests: result lines, namespaces with
# random names that are always removed, polling waits, and a small
# internet of namespaces (topo_up) to point egressd at.  Sourced by every
# netns-tests/t_*.sh.  Nothing here touches the host's own network
# namespace: rules are only ever loaded inside namespaces made here.
#
# The topology.  Every namespace is egd-NAME-$SUFFIX; every address is a
# documentation address (RFC 5737, RFC 3849); no route leads off the box.
#
#  client                 router                  bridge br0, one namespace each
#  +----------------+     +-----------------+
#  | egressd table  |     | forwards v4+v6  |     +- polygon   api.polygon.io
#  | 192.0.2.242/29 |veth | 192.0.2.241     |     |  198.51.100.10  2001:db8:2::10
#  | 2001:db8:ff::2 +-----+ 2001:db8:ff::1  |     +- alpha     www.alphavantage.co
#  +----------------+     |                 |     |  198.51.100.11  2001:db8:2::11
#  resolv.conf:           |             br0 +-----+- yahoo     query1.finance.yahoo.com
#  203.0.113.53           | 198.51.100.1    |     |  198.51.100.12  2001:db8:2::12
#  2001:db8:2::53         | 203.0.113.1     |     +- telemetry telemetry.example.net
#                         | 2001:db8:2::1   |     |  198.51.100.66  2001:db8:2::66  (forbidden)
#                         | probe counters  |     +- resolver  dnsmasq: the client's resolver
#                         +-----------------+     |  203.0.113.53   2001:db8:2::53
#                                                 +- rogue     dnsmasq answering anything,
#                                                    203.0.113.99   2001:db8:2::99  + 443, 853
#
# Endpoint servers listen on TCP 443, 80 and 8443 and on UDP 443 at both
# addresses, and answer ICMP echo, so that "blocked" is the firewall and
# never a closed port.  Each answer names the server ("HOST ADDR PORT/PROTO")
# and each connection or datagram is recorded (hits), so the client side
# and the server side of every probe can be compared.  The router counts
# every packet from the client per destination (router_seen): a blocked
# probe must not reach it at all.

set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EGRESSD=${EGRESSD:-$TOP/build/egressd}
SUFFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
LOGDIR=$(mktemp -d /tmp/egressd-netns.XXXXXX)
NAMESPACES=()
PIDS=()
CLEANUP_HOOKS=()
# The default lock, /run/egressd.lock, would serialise parallel test runs
# and leave a file on the host.
export EGRESSD_LOCK=${EGRESSD_LOCK:-$LOGDIR/lock}

# Namespaces created through $(ns_new ...) run in a subshell and cannot
# add themselves to NAMESPACES, so the suffix finds them as well.
our_namespaces() {
	{
		printf '%s\n' "${NAMESPACES[@]}"
		ip netns list 2>/dev/null | awk '{ print $1 }' | grep -- "-$SUFFIX\$"
	} | grep . | sort -u
}

cleanup() {
	local h ns pid left
	for h in "${CLEANUP_HOOKS[@]}"; do
		"$h" 2>/dev/null || true
	done
	# Background helpers run in their own session: end the whole group.
	for pid in "${PIDS[@]}"; do
		kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	done
	for ns in $(our_namespaces); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	left=$(our_namespaces | tr '\n' ' ')
	if [ -n "$left" ]; then
		result "[FAIL]" "cleanup: namespaces left behind: $left"
	fi
	rm -rf "$LOGDIR"
}
trap cleanup EXIT
# An interrupted run still ends through the EXIT trap.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

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
# only when a case fails, together with the ruleset of every namespace
# that holds an egressd table.
hold_reset() {
	: >"$LOGDIR/held"
}

dump_held() {
	local ns
	if [ -s "$LOGDIR/held" ]; then
		echo "    --- held output ---"
		sed 's/^/    /' "$LOGDIR/held"
	fi
	for ns in $(our_namespaces); do
		if ip netns exec "$ns" nft list tables 2>/dev/null | grep -q "inet egressd"; then
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

# require_tools NAME TOOL...: the same verdict when a tool is missing.
require_tools() {
	local name=$1 t missing=
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	[ -z "$missing" ] && return 0
	if [ "${CI:-}" = true ]; then
		result "[FAIL]" "$name: skipped under CI: missing$missing"
	else
		skip "$name" "missing$missing"
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

# ---------------------------------------------------------------------
# Small helpers for the cases.

# ms_since START: milliseconds since START, a saved $EPOCHREALTIME.
ms_since() {
	local now=${EPOCHREALTIME/./} then=${1/./}
	echo $(((now - then) / 1000))
}

# check NAME FN ARGS...: one case.  FN returns non-zero and sets WHY on
# failure; the held output is shown only then, and check returns 1.  A
# NOTE that FN sets (a time measured, say) is added to the name.
check() {
	local name=$1
	shift
	hold_reset
	WHY=
	NOTE=
	if "$@"; then
		ok "$name${NOTE:+ ($NOTE)}"
	else
		fail "$name${NOTE:+ ($NOTE)}" "$WHY"
		return 1
	fi
}

# ns_spawn NS LOG CMD...: start a long-running CMD in NS, in a session of
# its own so that cleanup ends it with everything it started.
ns_spawn() {
	local ns=$1 log=$2
	shift 2
	echo "# [$ns] $* &" >>"$LOGDIR/held"
	setsid ip netns exec "$ns" "$@" >>"$LOGDIR/$log.log" 2>&1 </dev/null &
	PIDS+=($!)
	SPAWNED=$!
}

# ---------------------------------------------------------------------
# The topology.

# The client's link keeps clear of what example policies name, such as
# the resolver 192.0.2.53 or the network 2001:db8:1::/48, which the
# harness may have to host (RESOLVER_EXTRA, route_to).
CLIENT_LINK4=192.0.2.240/29
CLIENT_LINK6=2001:db8:ff::/64
CLIENT4=192.0.2.242
CLIENT6=2001:db8:ff::2
ROUTER4=192.0.2.241
ROUTER6=2001:db8:ff::1
RESOLVER4=203.0.113.53
RESOLVER6=2001:db8:2::53
ROGUE4=203.0.113.99
ROGUE6=2001:db8:2::99

# label host IPv4 IPv6: the endpoints every shipped policy allows.
ENDPOINTS=(
	"polygon api.polygon.io 198.51.100.10 2001:db8:2::10"
	"alpha www.alphavantage.co 198.51.100.11 2001:db8:2::11"
	"yahoo query1.finance.yahoo.com 198.51.100.12 2001:db8:2::12"
)
# Stands for a telemetry or update host no policy allows.
FORBIDDEN="telemetry telemetry.example.net 198.51.100.66 2001:db8:2::66"
ENDPOINT_TCP_PORTS="443 80 8443"
ENDPOINT_UDP_PORTS="443"

LISTENERS=()		# "ns proto addr port" of every server socket
declare -A NS_OF	# label -> namespace
declare -A HOST_OF	# address -> the name its server answers with

# topo_up: the whole drawing above, every server listening and the
# resolver answering.  CLIENT, ROUTER, RESOLVER and ROGUE name the
# namespaces; NS_OF[label] the servers'.
topo_up() {
	local e
	CLEANUP_HOOKS+=(topo_down)
	mkdir -p "$LOGDIR/hits"
	write_respond
	CLIENT=$(topo_ns client) && ROUTER=$(topo_ns router) || return 1
	router_up || return 1
	client_up || return 1
	resolver_up || return 1
	rogue_up || return 1
	for e in "${ENDPOINTS[@]}" "$FORBIDDEN"; do
		# shellcheck disable=SC2086 # the entry is meant to split into words
		endpoint_up $e || return 1
	done
	kill -HUP "$RESOLVER_PID" || return 1
	topo_wait
}

# topo_ns NAME: a namespace whose interfaces skip duplicate address
# detection: a tentative link-local address holds up neighbour discovery
# for a second or more, and these links are private.
topo_ns() {
	local ns
	ns=$(ns_new "$1") || return 1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 || return 1
	echo "$ns"
}

# topo_down: what `ip netns del` does not remove.
topo_down() {
	local ns
	for ns in $(our_namespaces); do
		rm -rf "/etc/netns/$ns"
	done
	rmdir /etc/netns 2>/dev/null || true
}

router_up() {
	local r=$ROUTER
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 || return 1
	ip -n "$r" link add br0 type bridge mcast_snooping 0 || return 1
	ip -n "$r" addr add 198.51.100.1/24 dev br0
	ip -n "$r" addr add 203.0.113.1/24 dev br0
	ip -n "$r" addr add 2001:db8:2::1/64 dev br0 nodad
	ip -n "$r" link set br0 up
	etc_netns "$r"
	# Counts what the client sent, per destination: a blocked probe must
	# leave no trace here.  IPv4-mapped destinations are counted too.
	ip netns exec "$r" nft -f - <<-'EOF'
	table inet probe {
		set seen4 { type ipv4_addr; size 65535; flags dynamic; counter; }
		set seen6 { type ipv6_addr; size 65535; flags dynamic; counter; }
		chain prerouting {
			type filter hook prerouting priority -300; policy accept;
			iifname "client" add @seen4 { ip daddr }
			iifname "client" add @seen6 { ip6 daddr }
		}
	}
	EOF
}

client_up() {
	local c=$CLIENT
	ip -n "$c" link add eth0 type veth peer name client netns "$ROUTER" || return 1
	ip -n "$ROUTER" link set client up
	ip -n "$ROUTER" addr add "$ROUTER4/${CLIENT_LINK4#*/}" dev client
	ip -n "$ROUTER" addr add "$ROUTER6/${CLIENT_LINK6#*/}" dev client nodad
	ip -n "$c" addr add "$CLIENT4/${CLIENT_LINK4#*/}" dev eth0
	ip -n "$c" addr add "$CLIENT6/${CLIENT_LINK6#*/}" dev eth0 nodad
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via "$ROUTER4"
	ip -n "$c" -6 route add default via "$ROUTER6"
	etc_netns "$c"
}

# etc_netns NS: the resolv.conf and hosts that `ip netns exec NS` shows
# in place of the host's, so names resolve only through the test resolver.
etc_netns() {
	local a
	mkdir -p "/etc/netns/$1" || return 1
	{
		for a in ${CLIENT_NAMESERVERS:-$RESOLVER4 $RESOLVER6}; do
			echo "nameserver $a"
		done
		echo "options timeout:1 attempts:2"
	} >"/etc/netns/$1/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$1/hosts"
}

# lan_attach LABEL ADDR4 ADDR6: a namespace on the router's bridge with
# both addresses and default routes; sets NS_OF[LABEL].
lan_attach() {
	local label=$1 a4=$2 a6=$3 ns gw4=198.51.100.1
	ns=$(topo_ns "$label") || return 1
	NS_OF[$label]=$ns
	[[ $a4 == 203.0.113.* ]] && gw4=203.0.113.1
	ip -n "$ROUTER" link add "$label" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$ROUTER" link set "$label" master br0 up
	ip -n "$ns" addr add "$a4/24" dev eth0
	ip -n "$ns" addr add "$a6/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "$gw4"
	ip -n "$ns" -6 route add default via 2001:db8:2::1
}

# endpoint_up LABEL HOST ADDR4 ADDR6: a server for HOST, in the resolver.
endpoint_up() {
	local label=$1 host=$2 a4=$3 a6=$4 p
	lan_attach "$label" "$a4" "$a6" || return 1
	echo_counters "${NS_OF[$label]}" || return 1
	for p in $ENDPOINT_TCP_PORTS; do
		serve "$label" "$host" tcp "$p" "$a4" "$a6"
	done
	for p in $ENDPOINT_UDP_PORTS; do
		serve "$label" "$host" udp "$p" "$a4" "$a6"
	done
	HOST_OF[$a4]=$host
	HOST_OF[$a6]=$host
	dns_add "$host" "$a4" "$a6"
}

# echo_counters NS: count ICMP echo requests arriving, per family.
echo_counters() {
	ip netns exec "$1" nft -f - <<-'EOF'
	table inet probe {
		counter echo4 { }
		counter echo6 { }
		chain input {
			type filter hook input priority 0; policy accept;
			icmp type echo-request counter name "echo4"
			icmpv6 type echo-request counter name "echo6"
		}
	}
	EOF
}

# serve LABEL HOST PROTO PORT ADDR...: one listener per address.
serve() {
	local label=$1 host=$2 proto=$3 port=$4 ns a listen
	ns=${NS_OF[$label]}
	shift 4
	for a in "$@"; do
		case $proto.$a in
		tcp.*:*) listen="TCP6-LISTEN:$port,bind=[$a],ipv6only=1,fork,reuseaddr";;
		tcp.*) listen="TCP4-LISTEN:$port,bind=$a,fork,reuseaddr";;
		udp.*:*) listen="UDP6-RECVFROM:$port,bind=[$a],ipv6only=1,fork";;
		udp.*) listen="UDP4-RECVFROM:$port,bind=$a,fork";;
		esac
		# socat splits its address at colons: the script gets a_b_c.
		ns_spawn "$ns" "$label" socat "$listen" \
			EXEC:"$LOGDIR/respond ${host//:/_} ${a//:/_} $port $proto"
		LISTENERS+=("$ns $proto $a $port")
	done
}

# The answer of every test server to one connection or datagram: record
# the hit, then name the server.  "STREAM" turns it into an echo.
write_respond() {
	cat >"$LOGDIR/respond" <<-EOF
	#!/bin/bash
	set -- "\${1//_/:}" "\${2//_/:}" "\$3" "\$4"
	echo "\${SOCAT_PEERADDR:-?}" >>"$LOGDIR/hits/\$2.\$3.\$4"
	IFS= read -r line
	case \$line in
	STREAM*)
		echo "\$line"
		exec cat;;
	GET\ *)
		while IFS= read -r l && [ -n "\${l%\$'\r'}" ]; do :; done
		printf 'HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n%s %s %s/%s\n' "\$@";;
	*)
		printf '%s %s %s/%s\n' "\$@";;
	esac
	EOF
	chmod +x "$LOGDIR/respond"
}

# listening NS PROTO ADDR PORT: the socket is bound.
listening() {
	local a=$3
	[[ $a == *:* ]] && a="[$a]"
	ip netns exec "$1" ss -Hln "--$2" | awk '{ print $4 }' | grep -qxF "$a:$4"
}

# hits ADDR PORT PROTO: connections or datagrams the server has seen.
hits() {
	local f="$LOGDIR/hits/$1.$2.$3"
	if [ -f "$f" ]; then
		wc -l <"$f"
	else
		echo 0
	fi
}

# router_seen ADDR: packets from the client to ADDR the router received.
router_seen() {
	local set=seen4 n
	[[ $1 == *:* ]] && set=seen6
	n=$(ip netns exec "$ROUTER" nft -j list set inet probe "$set" |
		jq --arg a "$1" '[.nftables[].set.elem // empty | .[]
			| select(.elem.val == $a) | .elem.counter.packets] | add // 0')
	echo "${n:-0}"
}

# echo_seen LABEL 4|6: ICMP echo requests that reached the server.
echo_seen() {
	ip netns exec "${NS_OF[$1]}" nft -j list counter inet probe "echo$2" |
		jq '.nftables[] | .counter.packets // empty'
}

# ---------------------------------------------------------------------
# DNS: the resolver the client uses, and a rogue one.

# dnsmasq NS LOG ARGS...: a dnsmasq in the foreground, logging queries.
dnsmasq_spawn() {
	local ns=$1 log=$2
	shift 2
	ns_spawn "$ns" "$log" /usr/sbin/dnsmasq --keep-in-foreground \
		--no-resolv --no-hosts --bind-interfaces --user=root \
		--pid-file= --log-queries --log-facility=- "$@"
}

# The resolver also answers at RESOLVER_EXTRA, the addresses a policy
# under test names as its resolvers.
resolver_up() {
	local a listen="$RESOLVER4,$RESOLVER6"
	lan_attach resolver "$RESOLVER4" "$RESOLVER6" || return 1
	RESOLVER=${NS_OF[resolver]}
	for a in ${RESOLVER_EXTRA:-}; do
		route_to resolver "$a" || return 1
		listen+=",$a"
	done
	: >"$LOGDIR/resolver.hosts"
	# Names not listed are NXDOMAIN: nothing is ever asked upstream.  The
	# answers' TTL is dnsmasq's default, 0, unless RESOLVER_TTL says.
	dnsmasq_spawn "$RESOLVER" resolver --server=/#/ \
		--local-ttl="${RESOLVER_TTL:-0}" \
		--addn-hosts="$LOGDIR/resolver.hosts" --listen-address="$listen"
	RESOLVER_PID=$SPAWNED
}

# route_to LABEL ADDR: ADDR on LABEL's loopback, routed there by the
# router, whatever documentation range it is in.
route_to() {
	local ns=${NS_OF[$1]} gw
	if [[ $2 == *:* ]]; then
		ip -n "$ns" addr add "$2/128" dev lo nodad || return 1
		gw=$(first_addr "$ns" -6)
		ip -n "$ROUTER" route add "$2/128" via "$gw"
	else
		ip -n "$ns" addr add "$2/32" dev lo || return 1
		gw=$(first_addr "$ns" -4)
		ip -n "$ROUTER" route add "$2/32" via "$gw"
	fi
}

# first_addr NS -4|-6: the first global address on NS's eth0.
first_addr() {
	ip -n "$1" "$2" -o addr show dev eth0 scope global |
		awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

# The rogue server answers every name with the forbidden host, and takes
# DoH/DoT-style connections on 443 and 853.
rogue_up() {
	local a4 a6 p
	read -r _ _ a4 a6 <<<"$FORBIDDEN"
	lan_attach rogue "$ROGUE4" "$ROGUE6" || return 1
	ROGUE=${NS_OF[rogue]}
	dnsmasq_spawn "$ROGUE" rogue --address="/#/$a4" --address="/#/$a6" \
		--listen-address="$ROGUE4,$ROGUE6"
	for p in 443 853; do
		serve rogue rogue.invalid tcp "$p" "$ROGUE4" "$ROGUE6"
	done
	HOST_OF[$ROGUE4]=rogue.invalid
	HOST_OF[$ROGUE6]=rogue.invalid
}

# dns_add HOST ADDR...: add answers for HOST without waiting.
dns_add() {
	local host=$1 a
	shift
	for a in "$@"; do
		printf '%s %s\n' "$a" "$host" >>"$LOGDIR/resolver.hosts"
	done
}

# dns_answers HOST: what the resolver hands out for HOST, sorted.
dns_answers() {
	ip netns exec "$ROUTER" getent ahosts "$1" | awk '{ print $1 }' | sort -u
}

dns_answers_are() {
	[ "$(dns_answers "$1" | tr '\n' ' ')" = "$2" ]
}

# dns_set_answer HOST ADDR...: from now on the resolver answers HOST with
# exactly ADDR... (none: NXDOMAIN).  Waits until it does.
dns_set_answer() {
	local host=$1 want
	shift
	awk -v h="$host" '$2 != h' "$LOGDIR/resolver.hosts" >"$LOGDIR/resolver.hosts.new"
	mv "$LOGDIR/resolver.hosts.new" "$LOGDIR/resolver.hosts"
	dns_add "$host" "$@"
	kill -HUP "$RESOLVER_PID" || return 1
	want=$(printf '%s\n' "$@" | grep . | sort -u | tr '\n' ' ')
	wait_for 5 dns_answers_are "$host" "$want"
}

# dns_packet NAME: a query for NAME, type A, as printf escapes.
dns_packet() {
	local label out='\x45\x67\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'
	local IFS=.
	for label in $1; do
		out+=$(printf '\\x%02x' "${#label}")$label
	done
	printf '%s%s\n' "$out" '\x00\x00\x01\x00\x01'
}

# dns_query NS SERVER udp|tcp NAME: bytes of the answer (0: none).
dns_query() {
	local ns=$1 server=$2 proto=$3 q len opt
	q=$(dns_packet "$4")
	if [ "$proto" = tcp ]; then
		# shellcheck disable=SC2059 # the packet is printf escapes on purpose
		len=$(printf "$q" | wc -c)
		q=$(printf '\\x00\\x%02x' "$len")$q
	fi
	[[ $server == *:* ]] && server="[$server]"
	opt=
	[ "$proto" = tcp ] && opt=,connect-timeout=1
	# shellcheck disable=SC2059 # the packet is printf escapes on purpose
	printf "$q" | run_out "$ns" socat -T 1 - "${proto^^}:$server:53$opt" | wc -c
}

dns_answering() {
	[ "$(dns_query "$1" "$2" "$3" "$4")" -gt 0 ]
}

# topo_wait: no address still tentative, every listener bound and both
# resolvers answering.
topo_wait() {
	local l h ns
	for ns in $(our_namespaces); do
		wait_for 10 no_tentative "$ns" ||
			{ echo "tentative addresses in $ns" >&2; return 1; }
	done
	for l in "${LISTENERS[@]}"; do
		# shellcheck disable=SC2086 # "ns proto addr port"
		wait_for 10 listening $l || { echo "not listening: $l" >&2; return 1; }
	done
	read -r _ h _ <<<"$FORBIDDEN"
	wait_for 10 dns_answering "$ROUTER" "$RESOLVER4" udp "$h" &&
		wait_for 10 dns_answering "$ROUTER" "$ROGUE4" udp "$h" &&
		wait_for 10 dns_answering "$ROUTER" "$ROGUE6" tcp "$h" &&
		wait_for 10 dns_answers_are "$h" "$(endpoint_addrs "$h")"
}

no_tentative() {
	[ -z "$(ip -n "$1" -6 addr show tentative)" ]
}

# endpoint_addrs HOST: "ADDR4 ADDR6 " as the resolver should hand out.
endpoint_addrs() {
	local e label host a4 a6
	for e in "${ENDPOINTS[@]}" "$FORBIDDEN"; do
		read -r label host a4 a6 <<<"$e"
		[ "$host" = "$1" ] && printf '%s\n%s\n' "$a4" "$a6" | sort | tr '\n' ' '
	done
}

# ---------------------------------------------------------------------
# Probes from the client.  Each records what it did in the held output.

# tcp_try NS TARGET PORT [-4|-6] [TIMEOUT_S]: one HTTP GET with curl.
# Sets TRY (connected, refused, timeout, unresolved, error N), TRY_MS
# and TRY_BODY.
tcp_try() {
	local ns=$1 target=$2 port=$3 fam=${4:-} t=${5:-1} url start rc
	local -a opt=(-sS --connect-timeout "$t" -m $((t + 2)))
	[ -n "$fam" ] && opt+=("$fam")
	url="http://$target:$port/"
	[[ $target == *:* ]] && url="http://[$target]:$port/"
	start=$EPOCHREALTIME
	TRY_BODY=$(run_out "$ns" curl "${opt[@]}" "$url")
	rc=$?
	TRY_MS=$(ms_since "$start")
	case $rc in
	0) TRY=connected;;
	6) TRY=unresolved;;
	7) TRY=refused;;
	28) TRY=timeout;;
	*) TRY="error $rc";;
	esac
	echo "# -> $TRY after $TRY_MS ms: $TRY_BODY" >>"$LOGDIR/held"
}

# udp_try NS ADDR PORT [SPORT]: one datagram; sets TRY (answered,
# silent) and TRY_BODY.
udp_try() {
	local a=$2 sport=
	[[ $a == *:* ]] && a="[$a]"
	[ -n "${4:-}" ] && sport=",sourceport=$4"
	TRY_BODY=$(echo probe | run_out "$1" socat -T 1 - "UDP:$a:$3$sport")
	TRY=silent
	[ -n "$TRY_BODY" ] && TRY=answered
	echo "# -> $TRY: $TRY_BODY" >>"$LOGDIR/held"
}

# icmp_echo NS ADDR: one echo request through a raw socket (no ping in
# the dependencies).  IPv4 needs the checksum; for ICMPv6 the kernel
# computes it.
icmp_echo() {
	local ns=$1 a=$2 pkt
	if [[ $a == *:* ]]; then
		pkt='\x80\x00\x00\x00\x45\x67\x00\x01egressd!'
		# shellcheck disable=SC2059 # printf escapes on purpose
		printf "$pkt" | run "$ns" socat -u - "IP6-SENDTO:[$a]:58"
	else
		pkt=$(icmp4_echo_packet)
		# shellcheck disable=SC2059
		printf "$pkt" | run "$ns" socat -u - "IP4-SENDTO:$a:1"
	fi
}

# An ICMP echo request, id 0x4567 seq 1, payload "egressd!", checksummed.
icmp4_echo_packet() {
	local words=(0x0800 0x4567 0x0001 0x6567 0x7265 0x7373 0x6421) sum=0 w
	for w in "${words[@]}"; do
		sum=$((sum + w))
	done
	sum=$(((sum & 0xffff) + (sum >> 16)))
	sum=$((~sum & 0xffff))
	printf '\\x08\\x00\\x%02x\\x%02x\\x45\\x67\\x00\\x01egressd!' \
		$((sum >> 8)) $((sum & 0xff))
}

# ---------------------------------------------------------------------
# NFLOG: a listener bound to a group, made of socat and a hand-built
# nfnetlink message, since Debian's packages offer no small NFLOG reader.

# nflog_listen NS GROUP: bind to GROUP in NS; what arrives goes to
# $LOGDIR/nflog.GROUP.  Waits for the kernel's acknowledgement.
nflog_listen() {
	local ns=$1 g=$2 out="$LOGDIR/nflog.$2"
	# nlmsghdr (28 bytes, NFULNL_MSG_CONFIG, request|ack), nfgenmsg with
	# the group in network order, attribute NFULA_CFG_CMD = BIND.
	# shellcheck disable=SC2059 # the message is printf escapes on purpose
	printf '\x1c\x00\x00\x00\x01\x04\x05\x00\x01\x00\x00\x00\x00\x00\x00\x00'"$(
		printf '\\x00\\x00\\x%02x\\x%02x' $((g >> 8)) $((g & 255))
		)"'\x05\x00\x01\x00\x01\x00\x00\x00' >"$LOGDIR/nflog.bind.$g"
	: >"$out"
	ns_spawn "$ns" "nflog-listener" socat -t 3600 \
		"OPEN:$LOGDIR/nflog.bind.$g,rdonly!!OPEN:$out,wronly,append" \
		SOCKET-DATAGRAM:16:3:12:x000000000000000000000000
	wait_for 5 nflog_bound "$out"
}

nflog_bound() {
	[ "$(wc -c <"$1")" -ge 36 ]
}

# nflog_count GROUP: packets logged to GROUP with egressd's prefix.
nflog_count() {
	LC_ALL=C grep -ao 'egressd blocked: ' "$LOGDIR/nflog.$1" | wc -l
}

# ---------------------------------------------------------------------
# egressd in the client.

# egressd_in NS ARGS...: run egressd in NS; output held.  A hung egressd
# must not hang the harness: it gets EGRESSD_TIMEOUT seconds (exit 124).
egressd_in() {
	local ns=$1
	shift
	run "$ns" timeout "${EGRESSD_TIMEOUT:-60}" "$EGRESSD" "$@"
}

# blocked_packets NS: the counter of the blocked chain.
blocked_packets() {
	ip netns exec "$1" nft -j list chain inet egressd blocked 2>/dev/null |
		jq '[.nftables[].rule.expr // empty | .[] | .counter.packets // empty] | add // 0'
}

# ---------------------------------------------------------------------
# Expectations: each returns non-zero with WHY set, for check().

# What curl reports of a blocked connect: "refused" under blocked: reject
# (a TCP reset), "timeout" under blocked: drop.
BLOCKED_AS=refused

# expect_allowed TARGET PORT FAMILY ADDR: connected, and to ADDR.
expect_allowed() {
	local target=$1 port=$2 fam=$3 addr=$4 host h0
	h0=$(hits "$addr" "$port" tcp)
	tcp_try "$CLIENT" "$target" "$port" "$fam"
	host=${HOST_OF[$addr]:-?}
	if [ "$TRY" != connected ]; then
		WHY="$target:$port $fam: $TRY after $TRY_MS ms"
	elif [ "$TRY_BODY" != "$host $addr $port/tcp" ]; then
		WHY="$target:$port $fam: answered by '$TRY_BODY', not $host at $addr"
	elif [ "$(hits "$addr" "$port" tcp)" -le "$h0" ]; then
		WHY="$target:$port $fam: the server saw no connection"
	fi
	[ -z "$WHY" ]
}

# expect_blocked TARGET PORT FAMILY ADDR: the connect fails the way the
# policy's blocked action says, and nothing reaches the router or ADDR.
expect_blocked() {
	local target=$1 port=$2 fam=$3 addr=$4 h0 s0
	h0=$(hits "$addr" "$port" tcp)
	s0=$(router_seen "$addr")
	tcp_try "$CLIENT" "$target" "$port" "$fam"
	case $TRY in
	"$BLOCKED_AS") ;;
	connected) WHY="$target:$port $fam: connected: $TRY_BODY";;
	*) WHY="$target:$port $fam: $TRY, want $BLOCKED_AS (not the firewall's doing)";;
	esac
	[ -z "$WHY" ] && no_trace "$addr" "$port" tcp "$h0" "$s0"
}

# no_trace ADDR PORT PROTO HITS0 SEEN0: the server and the router saw
# nothing new for ADDR, watched for a moment since packets take time.
no_trace() {
	if ! stays 200 "$4" hits "$1" "$2" "$3"; then
		WHY="the server at $1 saw it: $(tail -1 "$LOGDIR/hits/$1.$2.$3")"
	elif ! stays 0 "$5" router_seen "$1"; then
		WHY="packets to $1 reached the router"
	fi
	[ -z "$WHY" ]
}

# stays MS VALUE CMD...: CMD prints VALUE, and still does after MS.
stays() {
	local until=$((${EPOCHREALTIME/./} + $1 * 1000)) want=$2
	shift 2
	while :; do
		[ "$("$@")" = "$want" ] || return 1
		[ "${EPOCHREALTIME/./}" -ge "$until" ] && return 0
		sleep 0.05
	done
}

# expect_udp_blocked ADDR PORT [SPORT]
expect_udp_blocked() {
	local addr=$1 port=$2 h0 s0
	h0=$(hits "$addr" "$port" udp)
	s0=$(router_seen "$addr")
	udp_try "$CLIENT" "$addr" "$port" "${3:-}"
	if [ "$TRY" != silent ]; then
		WHY="udp $addr:$port answered: $TRY_BODY"
		return 1
	fi
	no_trace "$addr" "$port" udp "$h0" "$s0"
}

# expect_udp_answer ADDR PORT [SPORT]
expect_udp_answer() {
	udp_try "$CLIENT" "$1" "$2" "${3:-}"
	[ "$TRY" = answered ] || WHY="udp $1:$2: no answer"
	[ -z "$WHY" ]
}

# rogue_queries: queries the rogue resolver has logged.
rogue_queries() {
	grep -c 'query\[' "$LOGDIR/rogue.log"
}

# expect_dns_blocked SERVER udp|tcp: a query to SERVER gets no answer and
# never arrives.
expect_dns_blocked() {
	local server=$1 proto=$2 q0 s0 n
	q0=$(rogue_queries)
	s0=$(router_seen "$server")
	n=$(dns_query "$CLIENT" "$server" "$proto" api.polygon.io)
	if [ "$n" -gt 0 ]; then
		WHY="$server $proto/53 answered ($n bytes)"
	elif ! stays 200 "$q0" rogue_queries; then
		WHY="the rogue resolver logged the query"
	elif ! stays 0 "$s0" router_seen "$server"; then
		WHY="the query to $server reached the router"
	fi
	[ -z "$WHY" ]
}

# expect_dns_answer SERVER udp|tcp
expect_dns_answer() {
	local n
	n=$(dns_query "$CLIENT" "$1" "$2" api.polygon.io)
	[ "$n" -gt 0 ] || WHY="$1 $2/53: no answer"
	[ -z "$WHY" ]
}

# expect_echo_blocked LABEL ADDR: an echo request to ADDR, on server
# LABEL, arrives neither there nor at the router.
expect_echo_blocked() {
	local label=$1 addr=$2 fam=4 e0 s0
	[[ $addr == *:* ]] && fam=6
	e0=$(echo_seen "$label" "$fam")
	s0=$(router_seen "$addr")
	icmp_echo "$CLIENT" "$addr"
	if ! stays 200 "$e0" echo_seen "$label" "$fam"; then
		WHY="the echo request reached $addr"
	elif ! stays 0 "$s0" router_seen "$addr"; then
		WHY="the echo request to $addr reached the router"
	fi
	[ -z "$WHY" ]
}

expect_echo_arrives() {
	local label=$1 addr=$2 fam=4 e0
	[[ $addr == *:* ]] && fam=6
	e0=$(echo_seen "$label" "$fam")
	icmp_echo "$CLIENT" "$addr"
	wait_for 2 echo_grew "$label" "$fam" "$e0" || WHY="echo to $addr did not arrive"
	[ -z "$WHY" ]
}

echo_grew() {
	[ "$(echo_seen "$1" "$2")" -gt "$3" ]
}

# ---------------------------------------------------------------------
# The daemon in the client: shared by t_daemon.sh, t_faults.sh and
# tests/valgrind.  Its log is $LOGDIR/daemon.log (ns_spawn ... daemon).

# gone PID: the process has exited (a zombie counts as gone).
gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# in_set SET ADDR: the client's egressd set SET holds an element for ADDR.
in_set() {
	ip netns exec "$CLIENT" nft list set inet egressd "$1" 2>/dev/null | grep -q "$2 "
}

not_in_set() {
	! in_set "$@"
}

# logged PATTERN: the daemon logged PATTERN since the last log_mark.
LOG_MARK=0
log_mark() {
	LOG_MARK=$(wc -l <"$LOGDIR/daemon.log")
}

logged() {
	tail -n +"$((LOG_MARK + 1))" "$LOGDIR/daemon.log" | grep -q "$1"
}

logged_count() {
	tail -n +"$((LOG_MARK + 1))" "$LOGDIR/daemon.log" | grep -c "$1"
}
