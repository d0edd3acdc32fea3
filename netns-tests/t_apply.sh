#!/bin/bash
# shellcheck disable=SC2015 # A && B || C is meant: C reports A or B failing
# egressd apply, flush and status against the kernel, each case in
# namespaces made here:
#
#   egd-apply-*   apply / flush / status run here, one case after another
#   egd-nft-*     the same plan loaded with `nft -f`, the oracle to match
#
# The netlink builder must give the table nft gives for the plan text; a
# batch the kernel refuses (EGRESSD_TEST_FAIL_AT) or a dry run leaves the
# ruleset byte for byte as it was; flush touches no other table; without
# CAP_NET_ADMIN every command says so and exits 5; two writers never
# interleave.  No packet leaves the namespaces.
# shellcheck source=netns-tests/lib.sh
. "$(dirname "$0")/lib.sh"

require_netns apply
require_tools apply capsh flock jq

POLICY=$LOGDIR/hosts.yaml
NETS=$LOGDIR/nets.yaml
HOSTS=$LOGDIR/hosts
WANT_PERM="CAP_NET_ADMIN is needed to change the egressd table (run as root)"

cat >"$POLICY" <<'EOF'
version: 1
resolvers: [192.0.2.53, "2001:db8::53"]
defaults:
  blocked: reject
allow:
  - host: api.polygon.io
    ports: [443]
    purpose: "market data"
  - host: www.alphavantage.co
    ports: [443, 8443]
    purpose: "market data"
  - cidr: 203.0.113.0/24
    ports: ["8000-8100"]
    purpose: "a network"
EOF
# No host names: no element times out, so `nft list ruleset` is stable.
cat >"$NETS" <<'EOF'
version: 1
resolvers: [192.0.2.53]
defaults:
  blocked: drop
  log: true
  log_group: 3
system:
  dhcp: true
  ntp: true
forward: true
allow:
  - cidr: 198.51.100.0/24
    ports: [514, 162]
    proto: udp
    purpose: "syslog"
  - cidr: "2001:db8:100::/48"
    ports: ["1-1024"]
    purpose: "management"
  - cidr: 203.0.113.10/32
    ports: [9090]
    purpose: "metrics"
EOF
cat >"$HOSTS" <<'EOF'
198.51.100.10	api.polygon.io
2001:db8:10::10	api.polygon.io
198.51.100.20	www.alphavantage.co
EOF

# egd NS ARGS...: egressd inside NS, output to the held log.
egd() {
	local ns=$1
	shift
	run "$ns" "$EGRESSD" "$@"
}

# Stable text of a listing: no expiry times, no counter values, no apply
# time in the table's comment (plan leaves it out), element lists one per
# line and sorted (hash sets dump in no fixed order).
normalise() {
	sed -E 's/ expires [0-9a-z.]+//g; s/counter packets [0-9]+ bytes [0-9]+/counter/g
		s/ applied [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"$/"/' |
		awk '/elements = \{/ { fflush(); blk = 1; sub(/elements = \{ /, "") }
		     blk { e = $0; sub(/^[ \t]+/, "", e); end = e ~ / }$/
			   sub(/,$/, "", e); sub(/ }$/, "", e)
			   print "\t\telement " e | "sort"
			   if (end) { close("sort"); blk = 0 }
			   next }
		     { print }'
}

# same_as_nft TAG POLICY: apply in one namespace, load the plan with nft
# in another, and compare the two listings.
same_as_nft() {
	local p=$2 a b
	a=$(ns_new "mine$1") && b=$(ns_new "nft$1") || { WHY="no namespace"; return 1; }
	"$EGRESSD" plan "$p" --hosts "$HOSTS" >"$LOGDIR/plan.nft" 2>>"$LOGDIR/held" &&
		run "$b" nft -f "$LOGDIR/plan.nft" || { WHY="nft refused the plan"; return 1; }
	egd "$a" apply "$p" --hosts "$HOSTS" || { WHY="apply failed"; return 1; }
	ip netns exec "$a" nft list ruleset >"$LOGDIR/mine.raw"
	grep -qE '^	comment "egressd .* applied [0-9]{4}-[0-9-]{5}T[0-9:]{8}Z"$' \
		"$LOGDIR/mine.raw" || { WHY="the table's comment has no apply time"; return 1; }
	normalise <"$LOGDIR/mine.raw" >"$LOGDIR/mine"
	ip netns exec "$b" nft list ruleset | normalise >"$LOGDIR/oracle"
	ip netns del "$a"
	ip netns del "$b"
	diff -u "$LOGDIR/oracle" "$LOGDIR/mine" >>"$LOGDIR/held" ||
		{ WHY="the applied table differs from the nft-loaded plan"; return 1; }
}

case_same_hosts() { same_as_nft 1 "$POLICY"; }
case_same_nets() { same_as_nft 2 "$NETS"; }
case_same_shipped() { same_as_nft 3 "$TOP/policy/quantracore-apex.yaml"; }

NS=$(ns_new apply)

# A second table that egressd must never touch.
other_table() {
	run "$NS" nft add table inet bystander &&
		run "$NS" nft add chain inet bystander c &&
		run "$NS" nft add rule inet bystander c ip daddr 192.0.2.1 counter drop
}

snapshot() {
	ip netns exec "$NS" nft "$@" list ruleset
}

# refused N WANT: spoil message N; apply must exit 4 with WANT in its
# words and leave the ruleset byte-identical.
refused() {
	local n=$1 want=$2 before after
	before=$(snapshot -s)
	EGRESSD_TEST_FAIL_AT=$n ip netns exec "$NS" "$EGRESSD" apply "$POLICY" \
		--hosts "$HOSTS" 2>"$LOGDIR/err"
	local rc=$?
	cat "$LOGDIR/err" >>"$LOGDIR/held"
	after=$(snapshot -s)
	[ "$rc" -eq 4 ] || { WHY="message $n: exit $rc, want 4"; return 1; }
	grep -qF "$want" "$LOGDIR/err" || { WHY="message $n: no '$want'"; return 1; }
	[ "$before" = "$after" ] || { WHY="message $n: the ruleset changed"; return 1; }
}

case_refused_batch() {
	egd "$NS" apply "$POLICY" --hosts "$HOSTS" && other_table || return 1
	# Messages: 1-3 table, 4-10 sets, 11-16 elements (allow6_net has
	# none), 17-18 chains, then rules.
	refused 2 "apply: removing the old table inet egressd: Invalid argument" &&
		refused 4 "apply: set dns4: Invalid argument" &&
		refused 14 "apply: set allow4: element 198.51.100.10 . tcp . 443 (api.polygon.io): File exists" &&
		refused 16 "apply: set allow4_net: element 203.0.113.0/24 . tcp . 8000-8100" &&
		refused 18 "apply: chain output: Invalid argument" &&
		refused 21 "apply: chain blocked: rule 3 (reject with icmpx admin-prohibited)"
}

# Without timeouts the whole listing, counters and all, must not move.
case_refused_bytes() {
	local before after
	egd "$NS" apply "$NETS" || return 1
	before=$(snapshot)
	EGRESSD_TEST_FAIL_AT=12 egd "$NS" apply "$NETS" && { WHY="apply succeeded"; return 1; }
	after=$(snapshot)
	[ "$before" = "$after" ] || { WHY="nft list ruleset changed"; return 1; }
}

case_dry_run() {
	local before after
	egd "$NS" apply "$NETS" || return 1
	before=$(snapshot)
	egd "$NS" apply "$POLICY" --hosts "$HOSTS" --dry-run ||
		{ WHY="a good dry run failed"; return 1; }
	EGRESSD_TEST_FAIL_AT=14 egd "$NS" apply "$POLICY" --hosts "$HOSTS" --dry-run &&
		{ WHY="the dry run missed the kernel's error"; return 1; }
	grep -q "set allow4: element .*File exists" "$LOGDIR/held" ||
		{ WHY="the dry run did not name the element"; return 1; }
	after=$(snapshot)
	[ "$before" = "$after" ] || { WHY="a dry run changed the ruleset"; return 1; }
}

case_flush() {
	local before after
	egd "$NS" flush && egd "$NS" apply "$NETS" || return 1
	run "$NS" nft add table ip keep && run "$NS" nft add chain ip keep c &&
		run "$NS" nft add rule ip keep c tcp dport 22 accept || return 1
	before=$(snapshot | awk '/^table inet egressd/ { skip = 1 } !skip; /^}/ { skip = 0 }')
	egd "$NS" flush || { WHY="flush failed"; return 1; }
	after=$(snapshot)
	[ "$before" = "$after" ] || { WHY="flush touched another table"; return 1; }
	ip netns exec "$NS" "$EGRESSD" flush 2>"$LOGDIR/err" ||
		{ WHY="flush of an absent table failed"; return 1; }
	grep -q "there is no table inet egressd" "$LOGDIR/err" ||
		{ WHY="flush did not say the table was absent"; return 1; }
}

# capsh drops CAP_NET_ADMIN from the bounding set before running egressd.
no_cap() {
	ip netns exec "$NS" capsh --drop=cap_net_admin -- -c "$EGRESSD $*" 2>"$LOGDIR/err"
}

case_no_cap() {
	local cmd rc before after
	egd "$NS" apply "$NETS" || return 1
	before=$(snapshot)
	no_cap apply "$NETS"
	rc=$?
	cat "$LOGDIR/err" >>"$LOGDIR/held"
	[ "$rc" -eq 5 ] || { WHY="apply exited $rc, want 5"; return 1; }
	grep -qxF "egressd: apply: $WANT_PERM" "$LOGDIR/err" || { WHY="wrong message"; return 1; }
	for cmd in flush "verify $NETS" status; do
		no_cap "$cmd"
		rc=$?
		[ "$rc" -eq 5 ] || { WHY="$cmd exited $rc, want 5"; return 1; }
		grep -q "CAP_NET_ADMIN is needed" "$LOGDIR/err" || { WHY="$cmd: no reason"; return 1; }
	done
	after=$(snapshot)
	[ "$before" = "$after" ] || { WHY="the ruleset changed"; return 1; }
}

# A waiting apply keeps CAP_NET_ADMIN alone, with no_new_privs set.
caps_of() {
	grep -E '^(CapEff|CapPrm|NoNewPrivs)' "/proc/$1/status" | awk '{ print $2 }' | tr '\n' ' '
}

case_lock() {
	local holder pid rc
	# flock(1) holds the lock as another egressd would.
	# shellcheck disable=SC2016 # expanded by the inner shell
	flock "$EGRESSD_LOCK" sh -c 'echo $$ >"$0"; sleep 30' "$EGRESSD_LOCK" &
	holder=$!
	wait_for 5 test -s "$EGRESSD_LOCK" || { WHY="the holder did not start"; return 1; }
	ip netns exec "$NS" "$EGRESSD" apply "$NETS" 2>"$LOGDIR/err"
	rc=$?
	cat "$LOGDIR/err" >>"$LOGDIR/held"
	[ "$rc" -eq 6 ] || { WHY="apply exited $rc, want 6"; kill "$holder"; return 1; }
	grep -q "another egressd (pid [0-9]*) holds $EGRESSD_LOCK; use --wait to wait" \
		"$LOGDIR/err" || { WHY="no pid in the refusal"; kill "$holder"; return 1; }
	ip netns exec "$NS" "$EGRESSD" apply "$NETS" --wait 2>>"$LOGDIR/held" &
	pid=$!
	sleep 0.3
	local caps
	caps=$(caps_of "$pid")
	kill "$holder"
	wait "$pid" || { WHY="apply --wait failed"; return 1; }
	[ "$caps" = "0000000000001000 0000000000001000 1 " ] ||
		{ WHY="a waiting apply holds capabilities '$caps'"; return 1; }
}

# Two writers at once with a big element list: each either waits or is
# refused, and the table that stays is whole.
case_concurrent() {
	local a b ra rb
	ip netns exec "$NS" "$EGRESSD" apply "$POLICY" --hosts "$HOSTS" 2>>"$LOGDIR/held" &
	a=$!
	ip netns exec "$NS" "$EGRESSD" apply "$NETS" --wait 2>>"$LOGDIR/held" &
	b=$!
	wait "$a"
	ra=$?
	wait "$b"
	rb=$?
	[ "$ra" -eq 0 ] || [ "$ra" -eq 6 ] || { WHY="first apply exited $ra"; return 1; }
	[ "$rb" -eq 0 ] || { WHY="apply --wait exited $rb"; return 1; }
	egd "$NS" verify "$NETS" || { WHY="the final table is not whole"; return 1; }
}

# Traffic out of a veth pair with no one at the other end: counted by the
# element it matched or by chain blocked, then dropped by nobody there.
case_status() {
	local js
	egd "$NS" flush || return 1
	ip netns exec "$NS" "$EGRESSD" status >>"$LOGDIR/held" 2>&1
	[ $? -eq 7 ] || { WHY="status without a table did not exit 7"; return 1; }
	egd "$NS" apply "$POLICY" --hosts "$HOSTS" || return 1
	ip -n "$NS" link add v0 type veth peer name v1 && ip -n "$NS" link set v0 up &&
		ip -n "$NS" link set v1 up &&
		ip -n "$NS" addr add 198.51.100.1/24 dev v0 || return 1
	ip netns exec "$NS" timeout 2 bash -c 'echo >/dev/tcp/198.51.100.10/443' 2>/dev/null
	ip netns exec "$NS" timeout 2 bash -c 'echo >/dev/tcp/198.51.100.99/80' 2>/dev/null
	js=$(run_out "$NS" "$EGRESSD" status --json) || { WHY="status failed"; return 1; }
	echo "$js" >>"$LOGDIR/held"
	jq -e '.present and (.sets[] | select(.name == "allow4") | .elements == 3)' \
		<<<"$js" >/dev/null || { WHY="wrong set counts"; return 1; }
	jq -e '.allowed[] | select(.host == "api.polygon.io") | .packets > 0' \
		<<<"$js" >/dev/null || { WHY="no packets counted for api.polygon.io"; return 1; }
	jq -e '.blocked.packets > 0' <<<"$js" >/dev/null || { WHY="nothing counted as blocked"; return 1; }
	egd "$NS" status || { WHY="text status failed"; return 1; }
	return 0
}

check "apply gives the table nft gives for the plan (hosts, cidr, reject)" case_same_hosts
check "apply gives the table nft gives for the plan (drop, log, dhcp, ntp, forward)" case_same_nets
check "apply gives the table nft gives for the plan (shipped policy)" case_same_shipped
check "a refused batch names the object and changes nothing (nft -s list ruleset)" \
	case_refused_batch
check "a refused batch leaves nft list ruleset byte-identical" case_refused_bytes
check "apply --dry-run changes nothing but catches a kernel error" case_dry_run
check "flush removes the egressd table and nothing else" case_flush
check "without CAP_NET_ADMIN every command exits 5 and says why" case_no_cap
check "a second writer is refused with the holder's pid, or waits" case_lock
check "two concurrent applies leave a whole table" case_concurrent
check "status counts elements, allowed and blocked packets; --json is valid" case_status
assert_host_clean && ok "host namespace holds no egressd table"
