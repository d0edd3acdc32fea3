#!/bin/bash
# shellcheck disable=SC2015 # A && B || C is meant: C reports A or B failing
# shellcheck disable=SC2016 # jq programs: their $names are jq's, not the shell's
# egressd audit, the reviewer's report, and what status adds for it (the
# apply time, the daemon's state), in namespaces made here:
#
#   egd-audit-SUFFIX   lo only: apply, audit --live, status, nft
#   egd-adns-SUFFIX    lo only: dnsmasq on 127.0.0.1 answers the policy's
#                      names, for an audit that asks DNS
#
# The JSON parses and says what the policy says; its elements are the
# ones `nft list` shows after apply; an audit from a hosts file is the
# same bytes run after run; --live says match, drift (exit 1) and no
# table (exit 7); an edited policy changes the hash audit and status show.
# shellcheck source=netns-tests/lib.sh
. "$(dirname "$0")/lib.sh"

require_netns audit
require_tools audit jq capsh dnsmasq sha256sum cmp

POLICY=$LOGDIR/market.yaml
EDITED=$LOGDIR/edited.yaml
NETS=$LOGDIR/nets.yaml
HOSTS=$LOGDIR/market.hosts
STATE=$LOGDIR/state

cp "$TOP/policy/quantracore-apex.yaml" "$POLICY"
cp "$TOP/tests/plan/market-data.hosts" "$HOSTS"
# One port of one entry changed: api.polygon.io's 443 becomes 8443.
sed '0,/ports: \[443\]/s//ports: [8443]/' "$POLICY" >"$EDITED"
# Networks, ranges, both protocols, a name two entries share, an entry
# inside another, and a purpose a JSON writer must escape.
cat >"$NETS" <<'EOF'
version: 1
resolvers: [192.0.2.53, "2001:db8::53"]
allow:
  - host: api.polygon.io
    proto: both
    ports: [443, "8000-8100"]
    purpose: "a \"quoted\" \\ purpose, é"
  - host: www.alphavantage.co
    ports: [443]
    purpose: "shares an address"
  - cidr: 203.0.113.0/24
    ports: [22, 443]
    purpose: "a network"
  - cidr: 203.0.113.128/25
    ports: [443]
    purpose: "inside the network above"
  - cidr: "2001:db8:99::/48"
    proto: udp
    ports: ["5000-5100"]
    purpose: "an IPv6 network"
EOF
cat >"$LOGDIR/nets.hosts" <<'EOF'
198.51.100.10	api.polygon.io www.alphavantage.co
2001:db8:10::10	api.polygon.io
EOF

NS=$(ns_new audit)

# audit ARGS...: egressd audit in NS; stdout to $LOGDIR/out, exit in RC.
audit() {
	echo "# [$NS] egressd audit $*" >>"$LOGDIR/held"
	ip netns exec "$NS" "$EGRESSD" audit "$@" >"$LOGDIR/out" 2>>"$LOGDIR/held"
	RC=$?
	cat "$LOGDIR/out" >>"$LOGDIR/held"
}

# audit_rc WANT ARGS...: the same, and it exits WANT.
audit_rc() {
	local want=$1
	shift
	audit "$@"
	[ "$RC" -eq "$want" ] || { WHY="audit $* exited $RC, want $want"; return 1; }
}

apply() {
	run "$NS" "$EGRESSD" apply "$@" || { WHY="apply $* failed"; return 1; }
}

# has LINE: the last output has this exact line.
has() {
	grep -qxF -- "$1" "$LOGDIR/out" || { WHY="no line '$1'"; return 1; }
}

# jq_true FILTER: the filter holds on the last output.
jq_true() {
	jq -e "$@" "$LOGDIR/out" >/dev/null ||
		{ WHY="does not hold: $*"; return 1; }
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

case_json_fields() {
	local want_ver
	want_ver=$("$EGRESSD" version | cut -d' ' -f2)
	audit_rc 0 "$POLICY" --hosts "$HOSTS" --json --no-live || return 1
	jq -e . "$LOGDIR/out" >/dev/null || { WHY="jq cannot parse it"; return 1; }
	jq_true --arg h "$(sha "$POLICY")" --arg v "$want_ver" --arg p "$POLICY" \
		--arg src "hosts file $HOSTS" '
		.audit_schema == 1 and .egressd_version == $v and
		.policy == { path: $p, sha256: $h } and
		.addresses_from == $src and .live == null and
		[.allow[] | [.entry, .host, .cidr, .proto, .ports, .purpose]] == [
		  [1, "api.polygon.io", null, ["tcp"], [{from: 443, to: 443}],
		   "Market data: Polygon"],
		  [2, "www.alphavantage.co", null, ["tcp"], [{from: 443, to: 443}],
		   "Market data: Alpha Vantage"],
		  [3, "query1.finance.yahoo.com", null, ["tcp"],
		   [{from: 443, to: 443}], "Market data: Yahoo"]] and
		([.sets[] | select(.name == "allow4" or .name == "allow6")
		  | .elements[] | .sources[]] | length == 7 and
		  all(.resolver == $src and .ttl_s == 3600 and .timeout == "1h10m"
		      and .resolved_at == null and .expires_at == null)) and
		(.chains[] | select(.name == "output") | .hook == "output" and
		 .policy == "drop" and
		 (.rules | index("oifname \"lo\" accept comment \"loopback\"") == 0))'
}

case_json_escapes() {
	local odd=$LOGDIR/$'we"ird\tname\\.yaml'
	cp "$NETS" "$odd"
	audit_rc 0 "$odd" --hosts "$LOGDIR/nets.hosts" --json --no-live || return 1
	jq_true --arg p "$odd" '.policy.path == $p and
		.allow[0].purpose == "a \"quoted\" \\ purpose, é"' || return 1
	# A name two entries share is one element with two sources; a network
	# inside another is not an element of its own.
	jq_true '(.sets[] | select(.name == "allow4") | .elements[]
		  | select(.key == "198.51.100.10 . tcp . 443") | [.sources[].from])
		 == ["api.polygon.io", "www.alphavantage.co"] and
		.allow[3].elements == 0 and .allow[3].dropped_overlaps == 1'
}

# The key of each element, "address . proto . port" in nft words, per set.
NFT_KEYS='
def field: if type == "object" then
	(if .prefix then "\(.prefix.addr)/\(.prefix.len)"
	 elif .range then "\(.range[0])-\(.range[1])" else tostring end)
	else tostring end;
def key: (if type == "object" and has("elem") then .elem.val else . end)
	| if type == "object" and has("concat") then [.concat[] | field] | join(" . ")
	  else field end;
[.nftables[] | .set // empty | { name, keys: ([(.elem // [])[] | key] | sort) }]
| sort_by(.name)'
AUDIT_KEYS='[.sets[] | { name, keys: ([.elements[].key] | sort) }] | sort_by(.name)'

# elements_match POLICY HOSTS: after apply, audit's elements are nft's.
elements_match() {
	local ours theirs
	apply "$1" --hosts "$2" || return 1
	audit_rc 0 "$1" --hosts "$2" --json --no-live || return 1
	ours=$(jq -c "$AUDIT_KEYS" "$LOGDIR/out")
	theirs=$(ip netns exec "$NS" nft -j list table inet egressd | jq -c "$NFT_KEYS")
	echo "audit: $ours" >>"$LOGDIR/held"
	echo "nft:   $theirs" >>"$LOGDIR/held"
	[ "$ours" = "$theirs" ] || { WHY="audit's elements are not nft's"; return 1; }
	[ "$(jq '[.[].keys[]] | length' <<<"$ours")" -gt 4 ] ||
		{ WHY="too few elements to compare"; return 1; }
}

# same_bytes ARGS...: two audits, a second and a time zone apart, agree.
same_bytes() {
	audit_rc 0 "$@" && cp "$LOGDIR/out" "$LOGDIR/first" || return 1
	sleep 1
	TZ=Pacific/Chatham audit_rc 0 "$@" || return 1
	cmp -s "$LOGDIR/first" "$LOGDIR/out" && return 0
	WHY="two runs differ: $(diff "$LOGDIR/first" "$LOGDIR/out" | head -3)"
	return 1
}

case_reproducible() {
	same_bytes "$POLICY" --hosts "$HOSTS" --no-live &&
		same_bytes "$POLICY" --hosts "$HOSTS" --no-live --json &&
		same_bytes "$NETS" --hosts "$LOGDIR/nets.hosts" --no-live --json
}

case_live_match() {
	apply "$POLICY" --hosts "$HOSTS" && audit_rc 0 "$POLICY" --hosts "$HOSTS" --live &&
		has "  verdict: match" || return 1
	audit_rc 0 "$POLICY" --hosts "$HOSTS" --json || return 1
	jq_true --arg h "$(sha "$POLICY")" '.live.verdict == "match" and
		.live.differences == [] and .live.policy_sha256 == $h and
		(.live.applied_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and
		([.live.sets[] | select(.name == "allow4") | .elements[]
		  | select(.timeout_ms == 4200000 and .expires_ms > 0
			   and .expires_ms <= 4200000 and .expires_at != null)]
		 | length == 4)'
}

case_live_drift() {
	apply "$POLICY" --hosts "$HOSTS" &&
		run "$NS" nft delete element inet egressd allow4 \
			'{ 198.51.100.10 . tcp . 443 }' || return 1
	audit_rc 1 "$POLICY" --hosts "$HOSTS" --live &&
		has "  verdict: drift (1 difference)" &&
		has "    missing element allow4 198.51.100.10 . tcp . 443 (api.polygon.io)" ||
		return 1
	audit_rc 1 "$POLICY" --hosts "$HOSTS" --json &&
		jq_true '.live.verdict == "drift" and .live.differences ==
			["missing element allow4 198.51.100.10 . tcp . 443 (api.polygon.io)"]'
}

case_no_table() {
	run "$NS" "$EGRESSD" flush || return 1
	audit_rc 7 "$POLICY" --hosts "$HOSTS" --live && has "  verdict: no table" &&
		audit_rc 7 "$POLICY" --hosts "$HOSTS" --json &&
		jq_true '.live.verdict == "no table" and .live.sets == []' &&
		audit_rc 0 "$POLICY" --hosts "$HOSTS" --no-live --json &&
		jq_true '.live == null'
}

# Without CAP_NET_ADMIN the live table is left out unless --live asks.
case_no_cap() {
	local rc
	ip netns exec "$NS" capsh --drop=cap_net_admin -- -c \
		"$EGRESSD audit '$POLICY' --hosts '$HOSTS' --json" \
		>"$LOGDIR/out" 2>>"$LOGDIR/held"
	rc=$?
	[ "$rc" -eq 0 ] && jq_true '.live == null' ||
		{ WHY="${WHY:-exited $rc, want 0}"; return 1; }
	ip netns exec "$NS" capsh --drop=cap_net_admin -- -c \
		"$EGRESSD audit '$POLICY' --hosts '$HOSTS' --live" \
		>"$LOGDIR/out" 2>>"$LOGDIR/held"
	rc=$?
	[ "$rc" -eq 5 ] || { WHY="--live without CAP_NET_ADMIN exited $rc, want 5"; return 1; }
}

case_hash_changes() {
	local old new
	old=$(sha "$POLICY")
	new=$(sha "$EDITED")
	[ "$old" != "$new" ] || { WHY="the edit changed nothing"; return 1; }
	audit_rc 0 "$EDITED" --hosts "$HOSTS" --json --no-live &&
		jq_true --arg h "$new" '.policy.sha256 == $h and
			.allow[0].ports == [{from: 8443, to: 8443}]' || return 1
	apply "$EDITED" --hosts "$HOSTS" || return 1
	run_out "$NS" "$EGRESSD" status >"$LOGDIR/out"
	grep -q "policy sha256:$new, applied " "$LOGDIR/out" ||
		{ WHY="status does not show the edited policy's hash"; return 1; }
	audit_rc 0 "$EDITED" --hosts "$HOSTS" --json &&
		jq_true --arg h "$new" '.live.policy_sha256 == $h' || return 1
	audit_rc 1 "$POLICY" --hosts "$HOSTS" --live &&
		has "    policy hash differs: live $new, policy $old"
}

case_status_applied() {
	local t0 t1 at
	t0=$(date -u +%s)
	apply "$POLICY" --hosts "$HOSTS" || return 1
	t1=$(date -u +%s)
	run_out "$NS" "$EGRESSD" status --json >"$LOGDIR/out"
	at=$(jq -r .applied_at "$LOGDIR/out")
	jq_true --argjson a "$t0" --argjson b "$t1" '
		.applied_at as $at | ($at | fromdateiso8601) as $t |
		$t >= $a and $t <= $b and (.comment | endswith(" applied \($at)"))' ||
		return 1
	run_out "$NS" "$EGRESSD" status >"$LOGDIR/out"
	grep -q "^table inet egressd: egressd .*, applied $at\$" "$LOGDIR/out" ||
		{ WHY="status text does not show 'applied $at'"; return 1; }
	audit_rc 0 "$POLICY" --hosts "$HOSTS" --json &&
		jq_true --arg at "$at" '.live.applied_at == $at'
}

case_status_state() {
	local soon=$(($(date -u +%s) + 3600)) soon_at row
	soon_at=$(date -u -d "@$soon" +%Y-%m-%dT%H:%M:%SZ)
	cat >"$STATE" <<-EOF
	# egressd state 1
	host api.polygon.io 1764780000 1764780300 timeout a "quoted" error
	addr api.polygon.io 198.51.100.10 $soon
	addr api.polygon.io 2001:db8:10::10 1764780000
	host www.alphavantage.co 0 1764780300 nxdomain
	EOF
	apply "$POLICY" --hosts "$HOSTS" || return 1
	run_out "$NS" "$EGRESSD" status --state "$STATE" --json >"$LOGDIR/out"
	jq_true --arg s "$STATE" --arg soon "$soon_at" '.daemon.state_file == $s and
		.daemon.hosts[0] == { host: "api.polygon.io", status: "timeout",
		  error: "a \"quoted\" error", last_ok_at: "2025-12-03T16:40:00Z",
		  last_attempt_at: "2025-12-03T16:45:00Z",
		  addresses: [{ address: "198.51.100.10", expires_at: $soon },
			      { address: "2001:db8:10::10",
				expires_at: "2025-12-03T16:40:00Z" }] } and
		.daemon.hosts[1].last_ok_at == null' || return 1
	run_out "$NS" "$EGRESSD" status --state "$STATE" >"$LOGDIR/out"
	row="^  api.polygon.io  *198.51.100.10  *$soon_at (in [0-9hms]*)"
	row+="  *2025-12-03T16:40:00Z  *timeout: a \"quoted\" error\$"
	grep -q "$row" "$LOGDIR/out" ||
		{ WHY="status text lacks the daemon's view of api.polygon.io"; return 1; }
	row="^  *2001:db8:10::10  *2025-12-03T16:40:00Z (expired)\$"
	grep -q "$row" "$LOGDIR/out" || { WHY="status text lacks the expired address"; return 1; }
	run_out "$NS" "$EGRESSD" status --state "$LOGDIR/none" --json >"$LOGDIR/out"
	jq_true '.daemon == null'
}

# An audit that asks DNS: times are real, and expiry is resolved + TTL +
# grace.
case_dns() {
	local ns conf=$LOGDIR/dnsmasq.conf
	ns=$(ns_new adns) || return 1
	printf '%s\n' no-resolv no-hosts listen-address=127.0.0.1 bind-interfaces \
		local=/polygon.io/ host-record=api.polygon.io,198.51.100.10,2001:db8:10::10,300 \
		>"$conf"
	ns_spawn "$ns" dnsmasq dnsmasq --keep-in-foreground --conf-file="$conf"
	wait_for 5 ip netns exec "$ns" sh -c 'ss -Hlun | grep -q "127.0.0.1:53 "' ||
		{ WHY="dnsmasq does not listen"; return 1; }
	printf 'version: 1\nresolvers: [127.0.0.1]\nallow:\n  - host: %s\n%s\n%s\n' \
		api.polygon.io '    ports: [443]' '    purpose: "dns"' >"$LOGDIR/dns.yaml"
	echo "# [$ns] egressd audit $LOGDIR/dns.yaml --json --no-live" >>"$LOGDIR/held"
	ip netns exec "$ns" "$EGRESSD" audit "$LOGDIR/dns.yaml" --json --no-live \
		>"$LOGDIR/out" 2>>"$LOGDIR/held" || { WHY="audit failed"; return 1; }
	jq_true '.addresses_from == "dns" and .hosts[0].resolver == "127.0.0.1" and
		[.sets[] | .elements[] | .sources[]] as $s | ($s | length) == 2 and
		($s | all(.resolver == "127.0.0.1" and .ttl_s == 300 and
		  ((.expires_at | fromdateiso8601) - (.resolved_at | fromdateiso8601))
		  == 300 + 600))'
}

check "audit --json parses and says what the policy says" case_json_fields
check "audit --json escapes quotes, backslashes and tabs; shared names, inner networks" \
	case_json_escapes
check "audit's elements are nft's after apply (market data)" \
	elements_match "$POLICY" "$HOSTS"
check "audit's elements are nft's after apply (networks, ranges, shared names)" \
	elements_match "$NETS" "$LOGDIR/nets.hosts"
check "audit from a hosts file is the same bytes run after run" case_reproducible
check "audit --live after apply: verdict match, kernel expiries" case_live_match
check "audit --live after nft deletes an element: drift, exit 1" case_live_drift
check "audit --live without a table: no table, exit 7" case_no_table
check "audit without CAP_NET_ADMIN leaves the live table out; --live exits 5" case_no_cap
check "an edited policy changes the hash audit and status show" case_hash_changes
check "status shows the apply time" case_status_applied
check "status shows the daemon's state per host" case_status_state
check "audit over DNS: resolver, resolved time, expiry" case_dns
assert_host_clean && ok "host namespace holds no egressd table"
