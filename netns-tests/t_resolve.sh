#!/bin/bash
# Resolution against a real server.  dnsmasq answers with documentation
# addresses inside a namespace of its own; `egressd plan` must put exactly
# those addresses in its sets, bound a CNAME's addresses by the CNAME's
# TTL, report a name that does not exist, resolve 1,000 hosts in a burst
# with nothing dropped, and pay for a silent resolver once, not per host.
#
#   egd-resolve-SUFFIX, lo only
#   +--------------------------------------------------------------+
#   |  egressd plan --- A + AAAA ---> 127.0.0.1:53 dnsmasq          |
#   |                                 --no-resolv --no-hosts        |
#   |               \-------------->  127.0.0.2:53 silent: nft drop |
#   +--------------------------------------------------------------+
. "$(dirname "$0")/lib.sh"

require_netns resolve
require_tools resolve dnsmasq ss
ns=$(ns_new resolve)
N=1000

# dnsmasq_conf: the names and addresses every case below expects.
dnsmasq_conf() {
	local i
	cat <<-EOF
		no-resolv
		no-hosts
		listen-address=127.0.0.1
		bind-interfaces
		local=/example.test/
		host-record=a.example.test,192.0.2.10,2001:db8::10,300
		host-record=edge.example.test,198.51.100.7,2001:db8:1::7,300
		cname=www.example.test,edge.example.test,40
		host-record=v4only.example.test,192.0.2.20,300
	EOF
	for ((i = 0; i < N; i++)); do
		printf 'host-record=h%04d.example.test,203.0.113.%d,2001:db8:2::%x,600\n' \
			"$i" $((i % 250 + 1)) "$i"
	done
}

# policy RESOLVERS HOST...: a policy allowing port 443 to each host.  No
# grace, so an element's timeout is its clamped TTL.
policy() {
	local h
	printf 'version: 1\nresolvers: [%s]\ndefaults:\n  grace: 0s\nallow:\n' "$1"
	shift
	for h in "$@"; do
		printf '  - host: %s\n    ports: [443]\n    purpose: "test"\n' "$h"
	done
}

# plan POLICY: egressd plan inside the namespace; the ruleset goes to
# $LOGDIR/plan.nft, warnings to $LOGDIR/err.
plan() {
	echo "# [$ns] egressd plan $1" >>"$LOGDIR/held"
	ip netns exec "$ns" "$EGRESSD" plan "$1" >"$LOGDIR/plan.nft" 2>"$LOGDIR/err"
	local rc=$?
	cat "$LOGDIR/err" >>"$LOGDIR/held"
	return $rc
}

dnsmasq_conf >"$LOGDIR/dnsmasq.conf"
ns_spawn "$ns" dnsmasq dnsmasq --keep-in-foreground --conf-file="$LOGDIR/dnsmasq.conf"
if ! wait_for 5 ip netns exec "$ns" sh -c 'ss -Hlun | grep -q "127.0.0.1:53 "'; then
	fail "dnsmasq listens on 127.0.0.1:53"
	exit 0
fi
run "$ns" nft -f - <<-EOF
	table inet t_resolve {
		chain in {
			type filter hook input priority 0
			ip daddr 127.0.0.2 udp dport 53 drop
		}
	}
EOF

policy 127.0.0.1 a.example.test www.example.test v4only.example.test \
	nope.example.test >"$LOGDIR/small.yaml"
hosts=()
for ((i = 0; i < N; i++)); do
	hosts+=("$(printf 'h%04d.example.test' "$i")")
done
policy 127.0.0.1 "${hosts[@]}" >"$LOGDIR/many.yaml"
policy "127.0.0.2, 127.0.0.1" "${hosts[@]}" >"$LOGDIR/silent.yaml"

answers_in_sets() {
	local got want
	plan "$LOGDIR/small.yaml" || { WHY="plan failed"; return 1; }
	got=$(grep -oE '(192\.0\.2|198\.51\.100)\.[0-9]+ \. tcp|2001:db8[0-9a-f:]* \. tcp' \
		"$LOGDIR/plan.nft" | sort | tr '\n' ' ')
	want="192.0.2.10 . tcp 192.0.2.20 . tcp 198.51.100.7 . tcp "
	want+="2001:db8:1::7 . tcp 2001:db8::10 . tcp "
	[ "$got" = "$want" ] || { WHY="want: $want; got: $got"; return 1; }
}

cname_ttl_bounds() {
	local want
	for want in '198\.51\.100\.7 \. tcp \. 443 timeout 40s' \
		    '2001:db8:1::7 \. tcp \. 443 timeout 40s' \
		    '192\.0\.2\.10 \. tcp \. 443 timeout 5m'; do
		grep -q "$want" "$LOGDIR/plan.nft" || { WHY="no element $want"; return 1; }
	done
}

nxdomain_reported() {
	grep -q 'nope\.example\.test: Domain name not found' "$LOGDIR/err" ||
		{ WHY="no warning naming nope.example.test"; return 1; }
	! grep -q 'comment "nope\.example\.test"' "$LOGDIR/plan.nft" ||
		{ WHY="nope.example.test got addresses"; return 1; }
}

# resolved_all POLICY LIMIT_MS: every one of the N hosts has both its
# addresses, in less than LIMIT_MS.
resolved_all() {
	local t0 ms n
	t0=$EPOCHREALTIME
	plan "$1" || { WHY="plan failed"; return 1; }
	ms=$(ms_since "$t0")
	NOTE="$ms ms"
	n=$(grep -c '^# h[0-9]*\.example\.test: 2 addresses from dns' "$LOGDIR/plan.nft")
	[ "$n" -eq "$N" ] || { WHY="$n of $N hosts resolved"; return 1; }
	[ "$ms" -lt "$2" ] || { WHY="took $ms ms, limit $2"; return 1; }
}

check "plan puts exactly the answered addresses in the sets" answers_in_sets
check "a CNAME's TTL bounds the addresses behind it" cname_ttl_bounds
check "a name that does not exist is reported and gets nothing" nxdomain_reported
# A dropped query would cost a 2 s retry timeout.
check "$N hosts resolve in one burst, none dropped" resolved_all "$LOGDIR/many.yaml" 2000
check "a silent first resolver costs one timeout, not one per host" \
	resolved_all "$LOGDIR/silent.yaml" 10000
assert_host_clean && ok "host namespace holds no egressd table"
