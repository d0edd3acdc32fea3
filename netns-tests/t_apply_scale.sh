#!/bin/bash
# shellcheck disable=SC2015 # A && B || C is meant: C reports A or B failing
# 100,000 set elements in one apply, in namespaces made here: the batch is
# split into element messages well under the 64 KiB attribute limit and
# sent as one transaction; the time is reported next to `nft -f` of the
# same plan text; the set then holds every element and verify agrees.
#
#   egd-scale-*   egressd apply, verify, replace under a second writer
#   egd-nftf-*    nft -f of the plan, for the time to compare with
# shellcheck source=netns-tests/lib.sh
. "$(dirname "$0")/lib.sh"

require_netns apply-scale

N_HOSTS=500
N_PORTS=200			# non-adjacent ports, so none merge to a range
POLICY=$LOGDIR/big.yaml
HOSTS=$LOGDIR/big.hosts

# Host i gets one documentation address: 192.0.2.1-250, 198.51.100.1-250.
make_policy() {
	local i ports
	ports=$(seq -s ', ' 1000 2 $((1000 + 2 * (N_PORTS - 1))))
	{
		printf 'version: 1\nresolvers: [192.0.2.53]\nallow:\n'
		for ((i = 0; i < N_HOSTS; i++)); do
			printf '  - host: h%04d.example.com\n    ports: [%s]\n' "$i" "$ports"
			printf '    purpose: "load"\n'
		done
	} >"$POLICY"
	for ((i = 0; i < N_HOSTS; i++)); do
		if [ "$i" -lt 250 ]; then
			printf '192.0.2.%d\th%04d.example.com\n' $((i + 1)) "$i"
		else
			printf '198.51.100.%d\th%04d.example.com\n' $((i - 249)) "$i"
		fi
	done >"$HOSTS"
}

make_policy
WANT=$((N_HOSTS * N_PORTS))
NS=$(ns_new scale)
NFT_NS=$(ns_new nftf)

case_apply_100k() {
	local t0 ms n
	t0=$EPOCHREALTIME
	run "$NS" "$EGRESSD" -v apply "$POLICY" --hosts "$HOSTS" || { WHY="apply failed"; return 1; }
	ms=$(ms_since "$t0")
	n=$(ip netns exec "$NS" nft list set inet egressd allow4 | grep -c ' \. tcp \. ')
	NOTE="$n elements in ${ms} ms"
	[ "$n" -eq "$WANT" ] || { WHY="nft list set counts $n, want $WANT"; return 1; }
	grep -q "one batch of" "$LOGDIR/held" || { WHY="no batch summary"; return 1; }
}

case_nft_f() {
	local t0
	"$EGRESSD" plan "$POLICY" --hosts "$HOSTS" >"$LOGDIR/plan.nft" 2>>"$LOGDIR/held" ||
		{ WHY="plan failed"; return 1; }
	t0=$EPOCHREALTIME
	run "$NFT_NS" nft -f "$LOGDIR/plan.nft" || { WHY="nft -f failed"; return 1; }
	NOTE="nft -f of the same plan: $(ms_since "$t0") ms"
}

case_verify_100k() {
	local t0
	t0=$EPOCHREALTIME
	run "$NS" "$EGRESSD" verify "$POLICY" --hosts "$HOSTS" || { WHY="verify found drift"; return 1; }
	NOTE="$(ms_since "$t0") ms"
}

# Replacing the full table while another writer waits for the lock: both
# finish and the table stays whole.
case_replace_100k() {
	local a b t0
	t0=$EPOCHREALTIME
	ip netns exec "$NS" "$EGRESSD" apply "$POLICY" --hosts "$HOSTS" --wait 2>>"$LOGDIR/held" &
	a=$!
	ip netns exec "$NS" "$EGRESSD" apply "$POLICY" --hosts "$HOSTS" --wait 2>>"$LOGDIR/held" &
	b=$!
	wait "$a" && wait "$b" || { WHY="an apply failed"; return 1; }
	NOTE="two replacements in $(ms_since "$t0") ms"
	run "$NS" "$EGRESSD" verify "$POLICY" --hosts "$HOSTS" || { WHY="verify found drift"; return 1; }
}

check "apply puts 100,000 elements in one transaction" case_apply_100k
check "nft -f loads the same plan" case_nft_f
check "verify reads 100,000 elements back and finds no drift" case_verify_100k
check "two writers replace the 100,000-element table in turn" case_replace_100k
assert_host_clean && ok "host namespace holds no egressd table"
