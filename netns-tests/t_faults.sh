#!/bin/bash
# shellcheck disable=SC2015 # A && B || C is meant: C reports A or B failing
# Faults injected into egressd run: kill -9 at random moments, two writers
# at once, a resolver that is slow, silent or answers only over TCP, a name
# with 1,000 addresses, the table changed behind the daemon's back, a
# storm of SIGHUPs, and a new policy the kernel refuses.  After each fault
# the table is whole, the forbidden host stays blocked, and what the
# daemon had filled is still there.
#
#  client                   router    br0
#  +-------------------+    +----+    +- polygon, alpha, yahoo (allowed)
#  | egressd run       +----+    +----+- telemetry (forbidden)
#  | faults*.yaml      |    +----+    +- resolver: dnsmasq      203.0.113.53
#  +-------------------+              |            dns-fault.py 203.0.113.54
#                                     +- rogue
. "$(dirname "$0")/lib.sh"

require_netns faults
require_tools faults socat curl jq /usr/sbin/dnsmasq python3

POLICIES=$TOP/netns-tests/policies
POLICY=$LOGDIR/faults.yaml
STATE=$LOGDIR/state
KILLS=${EGRESSD_TEST_KILLS:-100}
WRITER_ROUNDS=10
HELPER4=203.0.113.54
cp "$POLICIES/faults.yaml" "$POLICY"
read -r _ POLYGON P4 P6 <<<"${ENDPOINTS[0]}"
read -r _ ALPHA A4 A6 <<<"${ENDPOINTS[1]}"
read -r _ TELEMETRY T4 T6 <<<"$FORBIDDEN"
DAEMON=
REF_SHAPE=

# ---------------------------------------------------------------------
# The daemon, driven as in t_daemon.sh: ns_spawn's setsid and ip netns
# exec both exec, so $SPAWNED is egressd's own pid.

daemon_start() {
	local policy=$1
	shift
	ns_spawn "$CLIENT" daemon "$EGRESSD" -v run "$policy" --state "$STATE" "$@"
	DAEMON=$SPAWNED
}

daemon_stop() {
	[ -n "$DAEMON" ] || return 0
	kill -TERM "$DAEMON" 2>/dev/null
	wait_for 15 gone "$DAEMON" || return 1
	wait "$DAEMON" 2>/dev/null
	DAEMON=
}

filled() {
	in_set allow4 "$P4" && in_set allow4 "$A4" && in_set allow6 "$P6"
}

# The table without its elements, counters or the time of the apply:
# what must come back whole after every fault.
table_shape() {
	ip netns exec "$CLIENT" nft -t list table inet egressd 2>/dev/null |
		sed -E '/^[[:space:]]*comment "egressd /d
			s/counter packets [0-9]+ bytes [0-9]+/counter/'
}

policy_hash() {
	ip netns exec "$CLIENT" nft list table inet egressd 2>/dev/null |
		sed -n 's/.*sha256:\([0-9a-f]*\).*/\1/p'
}

# table_whole: every set, chain and rule of the reference is there, and
# nothing more, and the forbidden host's addresses are in no set.
table_whole() {
	local now
	now=$(table_shape)
	if [ -z "$now" ]; then
		WHY="there is no table inet egressd"
	elif [ "$now" != "$REF_SHAPE" ]; then
		WHY="the table is not the reference: $(diff <(echo "$REF_SHAPE") \
			<(echo "$now") | grep '^[<>]' | head -3 | tr '\n\t' '  ')"
	elif ip netns exec "$CLIENT" nft list table inet egressd |
		grep -qE "($T4|$T6) "; then
		WHY="the forbidden host is in a set"
	fi
	[ -z "$WHY" ]
}

# blocked_and_allowed [--by-address]: probes by name, so that DNS through
# the table is tested too, or by address when the resolver is down.
blocked_and_allowed() {
	local t=$TELEMETRY p=$POLYGON
	[ "${1:-}" = --by-address ] && t='' p=''
	expect_blocked "${t:-$T4}" 443 -4 "$T4" &&
		expect_blocked "${t:-$T6}" 443 -6 "$T6" &&
		expect_allowed "${p:-$P4}" 443 -4 "$P4"
}

# sleep_us US: a read that times out on a FIFO nobody writes, since
# forking sleep(1) costs as long as the start-up being aimed at.
sleep_us() {
	read -rt "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))" -u "$NEVER_FD"
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ---------------------------------------------------------------------
# kill -9

# One kill at a random moment of one of three phases.  Start-up (the
# skeleton, seeding, the first resolution) takes a few milliseconds and a
# reload about one, so those kills come within 8 and 3 ms; the third
# phase spans the refresh that comes every second.  Returns non-zero when
# the daemon was not running any more.
kill_at_random() {
	local us
	case $(($1 % 3)) in
	0)
		us=$((RANDOM % 8000));;
	1)
		wait_for 5 logged "refresh: " || return 1
		us=$((RANDOM % 1100 * 1000));;
	2)
		wait_for 5 logged "refresh: " || return 1
		kill -HUP "$DAEMON"
		us=$((RANDOM % 3000));;
	esac
	KILL_AT="$(($1 % 3)):$us us"
	sleep_us "$us"
	kill -9 "$DAEMON" 2>/dev/null
}

# kill_phase: where the log says the daemon was when it died.
kill_phase() {
	local log
	log=$(tail -n +"$((LOG_MARK + 1))" "$LOGDIR/daemon.log")
	if ! grep -q "refresh: " <<<"$log"; then
		echo start-up
	elif [ "${KILL_AT%%:*}" != 2 ]; then
		echo refreshes
	else
		awk '/reload: policy/ { r = NR } /refresh: / { f = NR }
			END { print (r && f > r ? "after-reload" : "mid-reload") }' <<<"$log"
	fi
}

case_kill9_loop() {
	local i p t0=$SECONDS empty=0
	local -A phases=()
	for ((i = 1; i <= KILLS; i++)); do
		log_mark
		daemon_start "$POLICY"
		if ! kill_at_random "$i"; then
			WHY="kill $i: the daemon was not running: $(tail -n 2 "$LOGDIR/daemon.log")"
			return 1
		fi
		wait "$DAEMON" 2>/dev/null
		table_whole || { WHY="kill $i ($KILL_AT): $WHY"; return 1; }
		if logged "refresh: [0-9]* hosts\? resolved"; then
			filled || { WHY="kill $i ($KILL_AT): a filled set lost an address"; return 1; }
		elif ! in_set allow4 "$P4"; then
			empty=$((empty + 1))
		fi
		p=$(kill_phase)
		phases[$p]=$((${phases[$p]:-0} + 1))
		if ((i % 25 == 0)) && ! blocked_and_allowed; then
			WHY="kill $i ($KILL_AT): $WHY"
			return 1
		fi
		if [ $((SECONDS - t0)) -gt 150 ]; then
			WHY="over 150 s after $i kills"
			return 1
		fi
	done
	NOTE="$KILLS in $((SECONDS - t0)) s:"
	for i in start-up refreshes mid-reload after-reload; do
		NOTE+=" ${phases[$i]:-0} $i,"
	done
	NOTE+=" $empty left the sets empty"
	if grep -q "state: cannot read" "$LOGDIR/daemon.log"; then
		WHY="a killed daemon left a state file the next could not read"
		return 1
	fi
}

case_after_kills() {
	log_mark
	daemon_start "$POLICY"
	wait_for 10 logged "refresh: " && wait_for 5 filled ||
		{ WHY="the sets did not fill"; return 1; }
	table_whole && blocked_and_allowed
}

# ---------------------------------------------------------------------
# Two writers

# holder_named LOG PID: the refusal in LOG names PID as the holder.
holder_named() {
	local named
	named=$(sed -n 's/.*another egressd (pid \([0-9]*\)) holds.*/\1/p' "$1")
	if [ "$named" != "$2" ]; then
		WHY="the refusal names pid ${named:-none}, the holder is $2: $(cat "$1")"
		return 1
	fi
	grep -q "another egressd (pid $2) holds $EGRESSD_LOCK; use --wait" "$1" ||
		WHY="the refusal does not name the lock: $(cat "$1")"
	[ -z "$WHY" ]
}

# Two daemons started together: one exits 6 at once, the other runs and
# fills the table.  Whether the refusal named the right pid is kept in
# NAMING for the next case.
NAMING=()
two_daemons_once() {
	local r=$1 a b rc loser
	ns_spawn "$CLIENT" "writer-a-$r" "$EGRESSD" run "$POLICY" --state "$STATE"
	a=$SPAWNED
	ns_spawn "$CLIENT" "writer-b-$r" "$EGRESSD" run "$POLICY" --state "$STATE"
	b=$SPAWNED
	if ! wait_for 5 one_gone "$a" "$b"; then
		WHY="round $r: neither daemon refused"
		return 1
	fi
	if gone "$b"; then
		wait "$b"
		rc=$? DAEMON=$a loser=b
	else
		wait "$a"
		rc=$? DAEMON=$b loser=a
	fi
	[ "$rc" -eq 6 ] || { WHY="round $r: the second daemon exited $rc, want 6"; return 1; }
	holder_named "$LOGDIR/writer-$loser-$r.log" "$DAEMON" || NAMING+=("round $r: $WHY")
	WHY=
	sleep 0.5
	gone "$DAEMON" && { WHY="round $r: the winner exited too"; return 1; }
	wait_for 10 filled || { WHY="round $r: the winner did not fill the sets"; return 1; }
	table_whole && daemon_stop
}

one_gone() {
	gone "$1" || gone "$2"
}

case_two_daemons() {
	local r
	for r in $(seq 1 "$WRITER_ROUNDS"); do
		two_daemons_once "$r" || return 1
	done
	NOTE="$WRITER_ROUNDS rounds"
}

case_two_daemons_named() {
	NOTE="$((WRITER_ROUNDS - ${#NAMING[@]})) of $WRITER_ROUNDS named"
	[ ${#NAMING[@]} -eq 0 ] || WHY=$(printf '%s\n    ' "${NAMING[@]}")
	[ -z "$WHY" ]
}

# While the daemon runs, apply and flush are refused with its pid, and
# apply --wait waits: none of them touches the table.
case_run_and_apply() {
	local rc
	log_mark
	daemon_start "$POLICY"
	# The last daemon left its sets filled: wait for this one's refresh.
	wait_for 10 logged "refresh: " && filled ||
		{ WHY="the daemon did not fill the sets"; return 1; }
	ip netns exec "$CLIENT" "$EGRESSD" apply "$POLICY" --offline 2>"$LOGDIR/err"
	rc=$?
	cat "$LOGDIR/err" >>"$LOGDIR/held"
	[ "$rc" -eq 6 ] || { WHY="apply exited $rc, want 6"; return 1; }
	holder_named "$LOGDIR/err" "$DAEMON" || return 1
	ip netns exec "$CLIENT" "$EGRESSD" flush 2>>"$LOGDIR/held"
	rc=$?
	[ "$rc" -eq 6 ] || { WHY="flush exited $rc, want 6"; return 1; }
	ip netns exec "$CLIENT" timeout 2 "$EGRESSD" apply "$POLICY" --offline --wait \
		2>>"$LOGDIR/held"
	rc=$?
	[ "$rc" -eq 124 ] || { WHY="apply --wait exited $rc, want to be still waiting"; return 1; }
	filled || { WHY="a refused writer emptied the sets"; return 1; }
	table_whole && blocked_and_allowed
}

# ---------------------------------------------------------------------
# The table changed behind the daemon's back.  Each change must be undone
# within a refresh or two; the time it took is the note.

# restored WHAT CMD...: make the change, then wait for the whole table.
restored() {
	local what=$1 t0=$EPOCHREALTIME
	shift
	log_mark
	run "$CLIENT" "$@" || { WHY="$what: the change itself failed"; return 1; }
	if ! wait_for 6 table_whole_and_filled; then
		table_whole
		WHY="$what: not restored: ${WHY:-the sets stayed empty}"
		return 1
	fi
	NOTE="${NOTE:+$NOTE, }$(ms_since "$t0") ms"
	logged "behind our back" || { WHY="$what: the restore was not logged"; return 1; }
}

table_whole_and_filled() {
	WHY=
	table_whole && filled
}

output_rule_handle() {
	ip netns exec "$CLIENT" nft -a list chain inet egressd output |
		awk -v pat="$1" 'index($0, pat) { print $NF; exit }'
}

case_table_deleted() {
	restored "delete table" nft delete table inet egressd || return 1
	logged "was removed behind our back" || { WHY="not logged as removed"; return 1; }
	blocked_and_allowed
}

case_rule_deleted() {
	local h
	h=$(output_rule_handle "@allow4 accept")
	[ -n "$h" ] || { WHY="no allow4 rule to delete"; return 1; }
	restored "delete rule" nft delete rule inet egressd output handle "$h" || return 1
	logged "was changed behind our back" || { WHY="not logged as changed"; return 1; }
	blocked_and_allowed
}

case_rule_added() {
	restored "insert rule" nft insert rule inet egressd output ip daddr "$T4" accept &&
		blocked_and_allowed
}

case_element_added() {
	restored "add element" nft add element inet egressd allow4 \
		"{ $T4 . tcp . 443 }" && blocked_and_allowed
}

case_set_flushed() {
	restored "flush set" nft flush set inet egressd allow4 && blocked_and_allowed
}

# ---------------------------------------------------------------------
# SIGHUP storm: a hundred in about a second, while traffic is probed.

case_sighup_storm() {
	local h0 storm t0=$EPOCHREALTIME ms reloads
	h0=$(policy_hash)
	log_mark
	(
		for _ in $(seq 100); do
			kill -HUP "$DAEMON" || exit 1
			sleep 0.005
		done
	) &
	storm=$!
	blocked_and_allowed || { wait "$storm"; WHY="during the storm: $WHY"; return 1; }
	wait "$storm" || { WHY="a SIGHUP could not be delivered"; return 1; }
	ms=$(ms_since "$t0")
	wait_for 20 logged_after_storm || { WHY="no refresh after the storm"; return 1; }
	reloads=$(logged_count "reload: policy sha256")
	NOTE="100 signals in $ms ms, $reloads reloads, rss $(rss_kb "$DAEMON") kB"
	gone "$DAEMON" && { WHY="the daemon died"; return 1; }
	[ "$(policy_hash)" = "$h0" ] || { WHY="the policy hash changed"; return 1; }
	filled && table_whole && blocked_and_allowed
}

# A refresh line after the last reload line.
logged_after_storm() {
	tail -n +"$((LOG_MARK + 1))" "$LOGDIR/daemon.log" |
		awk '/reload: policy sha256/ { r = NR } /refresh: / { f = NR } END { exit !(r && f > r) }'
}

# ---------------------------------------------------------------------
# The resolver

# dnsmasq stopped for longer than a resolution waits: the sets keep
# last-known-good, nothing new opens, and it recovers.
case_resolver_silent() {
	local rc=0
	log_mark
	kill -STOP "$RESOLVER_PID"
	wait_for 12 logged "keeping [0-9]* last-known-good" || { WHY="no failure logged"; rc=1; }
	[ $rc -eq 0 ] && { filled || { WHY="last-known-good was dropped"; rc=1; }; }
	[ $rc -eq 0 ] && { table_whole && blocked_and_allowed --by-address || rc=1; }
	kill -CONT "$RESOLVER_PID"
	[ $rc -eq 0 ] || return 1
	wait_for 15 logged "answering again" || { WHY="no recovery logged"; return 1; }
	filled
}

# helper_start MODE: dns-fault.py at $HELPER4 in the resolver's namespace.
HELPER=
helper_start() {
	[ -n "$HELPER" ] && kill -- "-$HELPER" 2>/dev/null && wait "$HELPER" 2>/dev/null
	: >"$LOGDIR/dns-fault.log"
	ns_spawn "$RESOLVER" dns-fault python3 "$TOP/netns-tests/dns-fault.py" \
		"$HELPER4" "$1" "$LOGDIR/resolver.hosts"
	HELPER=$SPAWNED
	wait_for 5 listening "$RESOLVER" udp "$HELPER4" 53 &&
		wait_for 5 listening "$RESOLVER" tcp "$HELPER4" 53
}

# fresh_daemon POLICY: no table, no state: what fills the sets must come
# from this resolver.
fresh_daemon() {
	daemon_stop || return 1
	run "$CLIENT" nft delete table inet egressd
	rm -f "$STATE"
	log_mark
	daemon_start "$1"
}

case_resolver_slow() {
	local t0
	helper_start delay=1500 || { WHY="dns-fault.py did not start"; return 1; }
	fresh_daemon "$POLICIES/faults-helper.yaml" || { WHY="the daemon did not stop"; return 1; }
	t0=$EPOCHREALTIME
	wait_for 10 filled || { WHY="the sets did not fill from slow answers"; return 1; }
	NOTE="filled after $(ms_since "$t0") ms"
	logged "refresh: 2 hosts resolved.* 0 failed" ||
		{ WHY="a slow answer counted as failed"; return 1; }
	blocked_and_allowed --by-address
}

case_resolver_truncates() {
	helper_start truncate || { WHY="dns-fault.py did not start"; return 1; }
	fresh_daemon "$POLICIES/faults-helper.yaml" || { WHY="the daemon did not stop"; return 1; }
	wait_for 10 filled || { WHY="the sets did not fill from TCP answers"; return 1; }
	grep -q "^udp $POLYGON 1" "$LOGDIR/dns-fault.log" &&
		grep -q "^tcp $POLYGON 1" "$LOGDIR/dns-fault.log" ||
		{ WHY="the query did not go UDP, then TCP"; return 1; }
	blocked_and_allowed --by-address
}

# ---------------------------------------------------------------------
# A name with 150 A and 1,000 AAAA records, under max_addresses: 32.

BULK=bulk.example.net

bulk_answer() {
	local i
	awk -v h="$BULK" '$2 != h' "$LOGDIR/resolver.hosts" >"$LOGDIR/resolver.hosts.new"
	for i in $(seq "$1" "$2"); do
		echo "192.0.2.$i $BULK"
	done >>"$LOGDIR/resolver.hosts.new"
	for i in $(seq 1 1000); do
		printf '2001:db8:3::%x %s\n' "$i" "$BULK"
	done >>"$LOGDIR/resolver.hosts.new"
	mv "$LOGDIR/resolver.hosts.new" "$LOGDIR/resolver.hosts"
	kill -HUP "$RESOLVER_PID"
}

# bulk_elems SET: elements of SET that came from the bulk name.
bulk_elems() {
	ip netns exec "$CLIENT" nft -j list set inet egressd "$1" 2>/dev/null |
		jq --arg h "$BULK" '[.nftables[].set.elem // empty | .[]
			| select((.elem.comment // "") | contains($h))] | length'
}

bulk_filled() {
	[ "$(bulk_elems allow4)" -gt 0 ] && [ "$(bulk_elems allow6)" -gt 0 ]
}

case_bulk_capped() {
	local n4 n6
	bulk_answer 1 150
	fresh_daemon "$POLICIES/faults-bulk.yaml" || { WHY="the daemon did not stop"; return 1; }
	wait_for 15 bulk_filled || { WHY="the bulk name never reached the sets"; return 1; }
	sleep 1.5
	n4=$(bulk_elems allow4) n6=$(bulk_elems allow6)
	NOTE="$n4 IPv4 + $n6 IPv6 elements"
	[ "$n4" -eq 32 ] && [ "$n6" -eq 32 ] || { WHY="want 32 of each family"; return 1; }
	logged "resolve: $BULK: more than 32 IPv[46] addresses, keeping the lowest 32" ||
		{ WHY="the cap was not logged"; return 1; }
	in_set allow4 "$P4" || { WHY="the other host lost its address"; return 1; }
	expect_blocked "$TELEMETRY" 443 -4 "$T4"
}

# The answer moves to 80 new IPv4 addresses: old and new together stay
# within the cap, for ten refreshes.
case_bulk_rotates() {
	local i n most=0 rss
	log_mark
	bulk_answer 151 230
	for i in $(seq 1 20); do
		n=$(bulk_elems allow4)
		[ "$n" -gt "$most" ] && most=$n
		sleep 0.5
	done
	rss=$(rss_kb "$DAEMON")
	NOTE="at most $most IPv4 elements, rss $rss kB"
	[ "$most" -le 32 ] || { WHY="the cap did not hold"; return 1; }
	logged "resolve: $BULK: address cap of 32 reached" ||
		{ WHY="the eviction was not logged"; return 1; }
	in_set allow4 192.0.2.151 || { WHY="the new answer did not go in"; return 1; }
	gone "$DAEMON" && { WHY="the daemon died"; return 1; }
	blocked_and_allowed
}

# ---------------------------------------------------------------------
# A policy the parser takes and the kernel refuses, on SIGHUP: the daemon
# runs with EGRESSD_TEST_FAIL_AT past the messages of its own policy's
# batch, so only the bigger batch of the new policy (forward: true adds a
# chain and its rules) is spoilt.

batch_messages() {
	ip netns exec "$CLIENT" "$EGRESSD" -v apply "$1" --hosts "$LOGDIR/all.hosts" \
		--dry-run 2>&1 | sed -n 's/.*one batch of \([0-9]*\) messages.*/\1/p'
}

case_reload_refused() {
	local old new h0
	daemon_stop || { WHY="the daemon did not stop"; return 1; }
	printf '%s %s\n' "$P4" "$POLYGON" "$P6" "$POLYGON" "$A4" "$ALPHA" "$A6" "$ALPHA" \
		>"$LOGDIR/all.hosts"
	sed 's/^version: 1$/version: 1\nforward: true/' "$POLICY" >"$LOGDIR/forward.yaml"
	old=$(batch_messages "$POLICY") new=$(batch_messages "$LOGDIR/forward.yaml")
	[ -n "$old" ] && [ -n "$new" ] && [ "$new" -gt $((old + 2)) ] ||
		{ WHY="batches of '$old' and '$new' messages leave no room"; return 1; }
	log_mark
	ns_spawn "$CLIENT" daemon env EGRESSD_TEST_FAIL_AT=$((old + 2)) \
		"$EGRESSD" -v run "$POLICY" --state "$STATE"
	DAEMON=$SPAWNED
	wait_for 10 logged "refresh: " && filled ||
		{ WHY="the daemon did not fill the sets"; return 1; }
	h0=$(policy_hash)
	cp "$POLICY" "$POLICY.good"
	cp "$LOGDIR/forward.yaml" "$POLICY"
	kill -HUP "$DAEMON"
	wait_for 10 logged "reload: the kernel refused the new policy; the old table stays"
	local rc=$?
	mv "$POLICY.good" "$POLICY"
	[ $rc -eq 0 ] || { WHY="the refusal was not logged"; return 1; }
	NOTE="message $((old + 2)) of $new spoilt"
	[ "$(policy_hash)" = "$h0" ] || { WHY="the policy hash changed"; return 1; }
	gone "$DAEMON" && { WHY="the daemon died"; return 1; }
	log_mark
	wait_for 5 logged "refresh: " || { WHY="no refresh after the refusal"; return 1; }
	filled && table_whole && blocked_and_allowed
}

# ---------------------------------------------------------------------

stop_all() {
	[ -n "$DAEMON" ] && kill -9 "$DAEMON" 2>/dev/null
	[ -n "$RESOLVER_PID" ] && kill -CONT "$RESOLVER_PID" 2>/dev/null
	true
}
RESOLVER_PID=
CLEANUP_HOOKS+=(stop_all)
save_logs() { [ -n "${EGRESSD_TEST_KEEP:-}" ] && cp "$LOGDIR"/*.log "$EGRESSD_TEST_KEEP"/; }
CLEANUP_HOOKS+=(save_logs)

topo_up || { fail "faults: topology" "topo_up failed"; exit 0; }
route_to resolver "$HELPER4" || { fail "faults: topology" "no route to $HELPER4"; exit 0; }
# The reference table, and a table in place before the first daemon, so
# that every kill finds one to check.
egressd_in "$CLIENT" apply "$POLICY" --offline || { fail "faults: the first apply"; exit 0; }
REF_SHAPE=$(table_shape)
: >"$LOGDIR/daemon.log"
mkfifo "$LOGDIR/never" && exec {NEVER_FD}<>"$LOGDIR/never"

check "kill -9 at random moments: the table stays whole, the sets stay filled" \
	case_kill9_loop
check "after the kills: the sets fill, allowed and forbidden traffic as before" \
	case_after_kills
daemon_stop
check "two daemons at once: one exits 6, the other runs, the table is whole" \
	case_two_daemons
check "two daemons at once: the refusal names the running daemon's pid" \
	case_two_daemons_named
check "run holds the lock: apply and flush exit 6, apply --wait waits" \
	case_run_and_apply
check "table deleted behind the daemon's back: restored" case_table_deleted
check "a rule deleted: restored" case_rule_deleted
check "a rule added that accepts the forbidden host: removed" case_rule_added
check "the forbidden host added to allow4: removed" case_element_added
check "allow4 flushed: refilled" case_set_flushed
check "100 SIGHUPs in a second: the daemon survives, the table stays whole" \
	case_sighup_storm
check "the resolver silent: last-known-good kept, nothing opens" case_resolver_silent
check "a policy the kernel refuses on SIGHUP: the old table stays" case_reload_refused
check "a name with 150 A and 1,000 AAAA records: 32 of each" case_bulk_capped
check "the big answer rotates: the cap holds across refreshes" case_bulk_rotates
check "the resolver answers 1.5 s late: the answers are taken" case_resolver_slow
check "the resolver truncates every UDP answer: TCP fills the sets" case_resolver_truncates
daemon_stop
assert_host_clean && ok "host namespace holds no egressd table"
