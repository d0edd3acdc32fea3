#!/bin/bash
# egressd run in the client of the harness topology: the sets follow DNS,
# a failing resolver keeps last-known-good for the stale period only, a
# broken policy on SIGHUP changes nothing, a flushed table comes back,
# kill -9 leaves the host closed, and a restart seeds from the state file.
. "$(dirname "$0")/lib.sh"

require_netns daemon
require_tools daemon socat curl jq dnsmasq

POLICY=$LOGDIR/daemon.yaml
STATE=$LOGDIR/state
cp "$TOP/netns-tests/policies/daemon.yaml" "$POLICY"
read -r _ POLYGON P4 _ <<<"${ENDPOINTS[0]}"
read -r _ ALPHA A4 _ <<<"${ENDPOINTS[1]}"
read -r _ TELEMETRY T4 _ <<<"$FORBIDDEN"
DAEMON=

daemon_start() {
	ns_spawn "$CLIENT" daemon "$EGRESSD" -v run "$POLICY" --state "$STATE" "$@"
	DAEMON=$SPAWNED
}

# The daemon's own pid (ns_spawn's setsid and ip netns exec both exec).
daemon_pid() {
	echo "$DAEMON"
}

# elem_names ADDR HOST: ADDR's element in allow4 names HOST.
elem_names() {
	ip netns exec "$CLIENT" nft list set inet egressd allow4 2>/dev/null |
		grep -q "$1 \. tcp \. 443 .*$2"
}

table_there() {
	ip netns exec "$CLIENT" nft list table inet egressd >/dev/null 2>&1
}

case_fills_sets() {
	wait_for 10 in_set allow4 "$P4" || { WHY="$P4 never reached allow4"; return 1; }
	wait_for 5 in_set allow4 "$A4" || { WHY="$A4 never reached allow4"; return 1; }
	expect_allowed "$POLYGON" 443 -4 "$P4" && expect_blocked "$TELEMETRY" 443 -4 "$T4"
}

case_privileges() {
	local pid st
	pid=$(daemon_pid)
	st=$(cat "/proc/$pid/status")
	echo "$st" | grep -E '^(Cap|NoNewPrivs)' >>"$LOGDIR/held"
	grep -q '^CapEff:[[:space:]]*0000000000001000$' <<<"$st" &&
		grep -q '^CapPrm:[[:space:]]*0000000000001000$' <<<"$st" &&
		grep -q '^CapInh:[[:space:]]*0000000000000000$' <<<"$st" &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$st" ||
		{ WHY="want only CAP_NET_ADMIN and NoNewPrivs 1"; return 1; }
}

# api.polygon.io moves to alpha's address: the new one is added at once,
# the old one stays for TTL + grace and then goes.
case_follows_dns() {
	dns_set_answer "$POLYGON" "$A4" || { WHY="resolver did not take the change"; return 1; }
	wait_for 5 elem_names "$A4" "$POLYGON" ||
		{ WHY="$A4 was not added for $POLYGON"; return 1; }
	in_set allow4 "$P4" || { WHY="$P4 left before its grace ran out"; return 1; }
	wait_for 16 not_in_set allow4 "$P4" || { WHY="$P4 never expired"; return 1; }
	dns_set_answer "$POLYGON" "$P4" && wait_for 5 in_set allow4 "$P4"
}

# A silent resolver: last-known-good stays for the stale period, then goes.
case_stale() {
	local t0=$SECONDS
	log_mark
	kill -STOP "$RESOLVER_PID"
	sleep 5
	if ! in_set allow4 "$P4"; then
		WHY="$P4 dropped at once when DNS failed"
		kill -CONT "$RESOLVER_PID"
		return 1
	fi
	wait_for 30 not_in_set allow4 "$P4"
	local rc=$?
	NOTE="expired after $((SECONDS - t0)) s"
	kill -CONT "$RESOLVER_PID"
	[ $rc -eq 0 ] || { WHY="last-known-good never expired"; return 1; }
	# stale is 15 s after the last good answer, which came at most one
	# refresh (about a second) before the resolver stopped
	[ $((SECONDS - t0)) -ge 12 ] || { WHY="expired before the stale period"; return 1; }
	logged "last-known-good" || { WHY="expiry not logged"; return 1; }
	wait_for 20 in_set allow4 "$P4" || WHY="$P4 did not come back with the resolver"
	[ -z "$WHY" ]
}

policy_hash() {
	ip netns exec "$CLIENT" nft list table inet egressd | sed -n 's/.*sha256:\([0-9a-f]*\).*/\1/p'
}

case_bad_reload() {
	local h0
	log_mark
	h0=$(policy_hash)
	echo "allow: [ {host: *.example.com} ]" >"$POLICY.new"
	cp "$POLICY" "$POLICY.good" && mv "$POLICY.new" "$POLICY"
	kill -HUP "$(daemon_pid)"
	wait_for 5 logged "reload: .* is invalid" || WHY="the broken policy was not reported"
	mv "$POLICY.good" "$POLICY"
	[ -z "$WHY" ] || return 1
	[ "$(policy_hash)" = "$h0" ] && in_set allow4 "$P4" ||
		WHY="the running table changed"
	expect_allowed "$POLYGON" 443 -4 "$P4"
}

case_flush_restored() {
	log_mark
	run "$CLIENT" nft flush ruleset
	wait_for 15 in_set allow4 "$P4" || { WHY="the table was not restored"; return 1; }
	logged "removed behind our back" || WHY="the restore was not logged"
	[ -z "$WHY" ]
}

case_kill9_stays_closed() {
	kill -9 "$(daemon_pid)"
	wait_for 5 gone "$(daemon_pid)"
	table_there && in_set allow4 "$P4" || { WHY="table or elements gone"; return 1; }
	expect_blocked "$TELEMETRY" 443 -4 "$T4" && expect_allowed "$POLYGON" 443 -4 "$P4"
}

# Restart with the resolver silent: the state file seeds the sets.
case_seed_from_state() {
	run "$CLIENT" nft delete table inet egressd
	kill -STOP "$RESOLVER_PID"
	log_mark
	daemon_start
	wait_for 5 in_set allow4 "$P4"
	local rc=$?
	kill -CONT "$RESOLVER_PID"
	[ $rc -eq 0 ] || { WHY="$P4 not seeded from $STATE"; return 1; }
	logged "restored from" || WHY="the seeding was not logged"
	[ -z "$WHY" ]
}

case_sigterm_leaves_table() {
	kill -TERM "$(daemon_pid)"
	wait_for 15 gone "$(daemon_pid)" || { WHY="did not stop"; return 1; }
	table_there || WHY="SIGTERM removed the table"
	[ -z "$WHY" ]
}

case_remove_on_exit() {
	log_mark
	daemon_start --remove-on-exit
	# the previous daemon left the table and its elements: wait for this
	# one's own first refresh, not for an element
	wait_for 10 logged "refresh: " || { WHY="did not start"; return 1; }
	kill -TERM "$(daemon_pid)"
	wait_for 15 gone "$(daemon_pid)" || { WHY="did not stop"; return 1; }
	table_there && WHY="the table is still there"
	[ -z "$WHY" ]
}

RESOLVER_EXTRA=
save_daemon_log() { [ -n "${EGRESSD_TEST_KEEP:-}" ] && cp "$LOGDIR"/*.log "$EGRESSD_TEST_KEEP"/; }
CLEANUP_HOOKS+=(save_daemon_log)
topo_up || { fail "daemon: topology" "topo_up failed"; exit 0; }
daemon_start
check "run: the deny skeleton, then the sets fill from DNS" case_fills_sets
check "run: only CAP_NET_ADMIN, NoNewPrivs 1" case_privileges
check "run: a changed answer is followed; the old address keeps its grace" case_follows_dns
check "run: a silent resolver keeps last-known-good for the stale period" case_stale
check "run: SIGHUP with a broken policy keeps the running one" case_bad_reload
check "run: a flushed ruleset is restored" case_flush_restored
check "run: kill -9 leaves the host closed and the sets whole" case_kill9_stays_closed
check "run: a restart seeds the sets from the state file" case_seed_from_state
check "run: SIGTERM leaves the table in place" case_sigterm_leaves_table
check "run: --remove-on-exit removes the table" case_remove_on_exit
assert_host_clean && ok "host namespace holds no egressd table"
