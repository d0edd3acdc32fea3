#!/bin/bash
# plan's output is real nft syntax: every shipped and test policy, planned
# offline and from a hosts file, must pass `nft -c -f -` inside a namespace
# made here; plan is deterministic; a DNS failure still gives the skeleton.
. "$(dirname "$0")/lib.sh"

require_netns plan
ns=$(ns_new plan)
hosts="$TOP/tests/plan/market-data.hosts"
export EGRESSD_RESOLV_CONF="$LOGDIR/resolv.conf"
echo "nameserver 192.0.2.53" >"$EGRESSD_RESOLV_CONF"

plan_loads() {
	local name=$1
	shift
	hold_reset
	if "$EGRESSD" plan "$@" >"$LOGDIR/plan.nft" 2>>"$LOGDIR/held" &&
	   run "$ns" nft -c -f "$LOGDIR/plan.nft"; then
		ok "$name"
	else
		cat "$LOGDIR/plan.nft" >>"$LOGDIR/held"
		fail "$name" "nft -c refused the plan"
	fi
}

for p in "$TOP"/policy/*.yaml "$TOP"/tests/policy/good/*.yaml; do
	[ -e "$p" ] || continue
	rel=${p#"$TOP"/}
	plan_loads "plan --offline $rel loads with nft -c" "$p" --offline
done
plan_loads "plan --hosts loads with nft -c" "$TOP/policy/quantracore-apex.yaml" --hosts "$hosts"

hold_reset
a=$("$EGRESSD" plan "$TOP/policy/quantracore-apex.yaml" --hosts "$hosts" 2>&1)
b=$("$EGRESSD" plan "$TOP/policy/quantracore-apex.yaml" --hosts "$hosts" 2>&1)
if [ -n "$a" ] && [ "$a" = "$b" ] && grep -q 'api.polygon.io' <<<"$a"; then
	ok "plan is deterministic"
else
	fail "plan is deterministic"
fi

hold_reset
n=$(grep -c '^198.51.100\|^2001:db8' "$hosts")
got=$(grep -c ' \. tcp \. 443 timeout ' <<<"$a")
if [ "$got" -eq "$n" ]; then
	ok "plan --hosts puts every listed address in a set ($n)"
else
	echo "$a" >>"$LOGDIR/held"
	fail "plan --hosts puts every listed address in a set" "want $n, got $got"
fi

# No resolver answers inside this namespace: plan warns per host and still
# prints the table, with the hosts' sets empty.
hold_reset
if ip netns exec "$ns" "$EGRESSD" plan "$TOP/policy/quantracore-apex.yaml" \
	>"$LOGDIR/plan.nft" 2>"$LOGDIR/err" &&
   grep -q 'api.polygon.io' "$LOGDIR/err" && grep -q 'chain output' "$LOGDIR/plan.nft" &&
   ! grep -q '198.51.100' "$LOGDIR/plan.nft"; then
	ok "plan with DNS down warns per host and prints the skeleton"
else
	cat "$LOGDIR/err" "$LOGDIR/plan.nft" >>"$LOGDIR/held"
	fail "plan with DNS down warns per host and prints the skeleton"
fi
assert_host_clean && ok "host namespace holds no egressd table"
