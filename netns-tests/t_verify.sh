#!/bin/bash
# shellcheck disable=SC2015 # A && B || C is meant: C reports A or B failing
# egressd verify reads the live table back and names every drift, in one
# namespace made here (egd-verify-*): a clean apply matches; an element
# deleted or added with nft, a rule added with nft, a chain's policy
# changed, and an edited policy file each make it exit 1 with the
# difference on a line of its own; no table exits 7.  plan --diff reads
# the same table and says what an apply would change.
# shellcheck source=netns-tests/lib.sh
. "$(dirname "$0")/lib.sh"

require_netns verify

POLICY=$LOGDIR/policy.yaml
EDITED=$LOGDIR/edited.yaml
HOSTS=$LOGDIR/hosts

cat >"$POLICY" <<'EOF'
version: 1
resolvers: [192.0.2.53]
allow:
  - host: api.polygon.io
    ports: [443]
    purpose: "market data"
  - host: www.alphavantage.co
    ports: [443]
    purpose: "market data"
  - cidr: 203.0.113.0/24
    ports: ["8000-8100"]
    purpose: "a network"
EOF
sed 's/ports: \[443\]/ports: [443, 8443]/' "$POLICY" >"$EDITED"
cat >"$HOSTS" <<'EOF'
198.51.100.10	api.polygon.io
2001:db8:10::10	api.polygon.io
198.51.100.20	www.alphavantage.co
EOF

NS=$(ns_new verify)

# verify_says RC LINE... : verify exits RC and prints every LINE.
verify_says() {
	local want=$1 rc line
	shift
	ip netns exec "$NS" "$EGRESSD" verify "${ARGS[@]}" >"$LOGDIR/out" 2>>"$LOGDIR/held"
	rc=$?
	cat "$LOGDIR/out" >>"$LOGDIR/held"
	[ "$rc" -eq "$want" ] || { WHY="verify exited $rc, want $want"; return 1; }
	for line in "$@"; do
		grep -qxF "$line" "$LOGDIR/out" || { WHY="no line '$line'"; return 1; }
	done
}

fresh() {
	ARGS=("$POLICY" --hosts "$HOSTS")
	run "$NS" "$EGRESSD" apply "${ARGS[@]}" || { WHY="apply failed"; return 1; }
}

case_absent() {
	ARGS=("$POLICY" --hosts "$HOSTS")
	verify_says 7
}

case_clean() {
	fresh && verify_says 0 && [ ! -s "$LOGDIR/out" ] ||
		{ WHY="${WHY:-a clean table printed differences}"; return 1; }
}

case_offline() {
	fresh || return 1
	ARGS=("$POLICY" --offline)
	verify_says 0
}

case_element_deleted() {
	fresh && run "$NS" nft delete element inet egressd allow4 \
		'{ 198.51.100.10 . tcp . 443 }' || return 1
	verify_says 1 "missing element allow4 198.51.100.10 . tcp . 443 (api.polygon.io)"
}

case_element_added() {
	fresh && run "$NS" nft add element inet egressd allow4_net \
		'{ 192.0.2.0/24 . udp . 53 comment "by hand" }' || return 1
	verify_says 1 "unexpected element allow4_net 192.0.2.0/24 . udp . 53 (by hand)"
}

case_rule_added() {
	fresh && run "$NS" nft insert rule inet egressd output \
		ip daddr 192.0.2.99 accept || return 1
	verify_says 1 "unexpected rule output: ip daddr 192.0.2.99/32 accept"
}

case_chain_changed() {
	fresh && run "$NS" nft chain inet egressd output '{ policy accept; }' || return 1
	verify_says 1 "changed chain output: type filter hook output priority 0 policy accept,"\
" wanted type filter hook output priority 0 policy drop"
}

case_policy_edited() {
	fresh || return 1
	ARGS=("$EDITED" --hosts "$HOSTS")
	verify_says 1 "missing element allow4 198.51.100.10 . tcp . 8443 (api.polygon.io)" \
		"missing element allow6 2001:db8:10::10 . tcp . 8443 (api.polygon.io)" &&
		grep -q "^policy hash differs: live [0-9a-f]\{64\}, policy [0-9a-f]\{64\}$" \
			"$LOGDIR/out" || { WHY="${WHY:-no policy hash line}"; return 1; }
}

# plan_diff_says RC LINE...: plan --diff exits RC and prints every LINE.
plan_diff_says() {
	local want=$1 rc line
	shift
	ip netns exec "$NS" "$EGRESSD" plan "$POLICY" --hosts "$HOSTS" --diff \
		>"$LOGDIR/out" 2>>"$LOGDIR/held"
	rc=$?
	cat "$LOGDIR/out" >>"$LOGDIR/held"
	[ "$rc" -eq "$want" ] || { WHY="plan --diff exited $rc, want $want"; return 1; }
	for line in "$@"; do
		grep -qxF "$line" "$LOGDIR/out" || { WHY="no line '$line'"; return 1; }
	done
}

case_plan_diff() {
	run "$NS" "$EGRESSD" flush || return 1
	plan_diff_says 1 "+ table inet egressd (7 sets, 10 elements)" || return 1
	fresh && plan_diff_says 0 || return 1
	[ ! -s "$LOGDIR/out" ] || { WHY="no change, yet plan --diff printed some"; return 1; }
	run "$NS" nft delete element inet egressd allow4 '{ 198.51.100.10 . tcp . 443 }' &&
		run "$NS" nft replace rule inet egressd output handle \
			"$(ip netns exec "$NS" nft -a list chain inet egressd output |
				sed -n 's/.*"loopback" # handle //p')" \
			oifname "lo" drop comment "loopback" || return 1
	plan_diff_says 1 "+ element allow4 198.51.100.10 . tcp . 443 (api.polygon.io)" \
		"~ rule output: oifname \"lo\" accept comment \"loopback\""\
" (live: oifname \"lo\" drop comment \"loopback\")"
}

check "verify without a table exits 7" case_absent
check "verify after apply matches and prints nothing" case_clean
check "verify --offline skips the elements of host names" case_offline
check "verify names an element deleted with nft" case_element_deleted
check "verify names an element added with nft" case_element_added
check "verify names a rule added with nft, in nft words" case_rule_added
check "verify names a chain whose policy changed" case_chain_changed
check "verify names what an edited policy file changes" case_policy_edited
check "plan --diff says what an apply would add, remove and change" case_plan_diff
assert_host_clean && ok "host namespace holds no egressd table"
