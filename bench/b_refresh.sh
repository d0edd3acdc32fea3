#!/bin/bash
# Refresh: what one refresh of `egressd run` costs when DNS changed 1% of
# a 100,000-element table, when it changed nothing, and when another
# program committed to nf_tables in between, against a full re-apply of
# the same table.  Runs alternate: a changed refresh, an unchanged one, a
# re-apply, a refresh after a foreign commit.
#
#   egb-refresh-SUFFIX, lo only              egb-reapply-SUFFIX, lo only
#   +-------------------------------------+  +-----------------------------+
#   | egressd -v run POLICY  (nlstat)     |  | egressd apply POLICY        |
#   |   |  A queries                      |  |   --hosts FILE   (timed)    |
#   |   v                                 |  | replacing the same 100,000  |
#   | 127.0.0.1:53 dnsmasq                |  | elements each run           |
#   |   495 stable hosts, TTL 1 day       |  +-----------------------------+
#   |   5 moving hosts, TTL 3 s, in a     |
#   |   hosts file rewritten + SIGHUP     |
#   +-------------------------------------+
#
# Every host allows 200 ports, so 500 hosts give 100,000 elements and the
# 5 moving hosts 1,000 of them (1%).  Only the moving hosts come due, every
# 3 s; between two refreshes the moving hosts get fresh addresses (1,000
# elements added) or keep them (1,000 elements whose timeout is extended).
# The grace period is 2 s, shorter than the TTL, for two faults of
# egressd's today (docs/performance.md): with a grace period longer than
# the TTL, every refresh also re-sends the elements of addresses the
# answer dropped; without one, elements run out just as the refresh that
# extends them starts, and the drift check calls that tampering.
#
# The cost of a refresh is the CPU time the daemon spent from one idle
# moment to the next (/proc/PID/schedstat: user and kernel, the netlink
# batch included, since nfnetlink runs in the sender's context), and the
# re-apply's is the CPU time of `egressd apply` (user + sys).  The
# messages, bytes and kernel time of the refresh's batch come from
# bench/nlstat.so.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
	HOSTS=5 PORTS=20 MOVING=1
else
	HOSTS=500 PORTS=200 MOVING=5
fi
# The moving hosts' TTL, and a grace shorter than it: an address the
# answer drops has left the daemon's state by the refresh after next, and
# an address it keeps is refreshed well before its element runs out.
TTL=3
GRACE=2
N=$((HOSTS * PORTS))
CHANGED=$((MOVING * PORTS))
POLICY=$TMP/p.yaml
LOG=$TMP/daemon.log
NL=$TMP/nl.out
ROUND=0

ns_new reapply
REAPPLY=$NS
ns_new refresh

# Moving host j of round g answers 203.0.113.(g * MOVING + j + 1).
moving_hosts() {
	local j
	for ((j = 0; j < MOVING; j++)); do
		printf '203.0.113.%d h%04d.bench.test\n' $((ROUND * MOVING + j + 1)) \
			$((HOSTS - MOVING + j))
	done >"$TMP/moving.hosts"
}

dns_records() {
	local i
	printf 'local-ttl=%d\naddn-hosts=%s\n' "$TTL" "$TMP/moving.hosts"
	for ((i = 0; i < HOSTS - MOVING; i++)); do
		printf 'host-record=h%04d.bench.test,%s,86400\n' "$i" "$(host_addr "$i")"
	done
}

# The same table from a hosts file, for the re-apply.
reapply_hosts() {
	gen_hosts "$TMP/all.hosts" $((HOSTS - MOVING))
	awk '{ print $1 "\t" $2 }' "$TMP/moving.hosts" >>"$TMP/all.hosts"
}

# The daemon's summary line, one a refresh.
SUMMARY='refresh: [0-9]* hosts* resolved'

refreshes() {
	grep -c "$SUMMARY" "$LOG"
}

refreshed_since() {
	[ "$(refreshes)" -gt "$1" ]
}

cpu_ns() {
	awk '{ print $1 }' "/proc/$PID/schedstat"
}

# wait_refresh: until the next refresh has ended and the daemon is idle
# again (it writes its state file after the summary line).  IDLE_AT is
# the count of refreshes at that idle moment.
wait_refresh() {
	local c
	c=$(refreshes)
	wait_for $((TTL + 10)) refreshed_since "$c" || die "no refresh within $((TTL + 10)) s"
	sleep 0.2
	IDLE_AT=$(refreshes)
}

# last_refresh FIELD: a count from the last summary line ("added", ...).
last_refresh() {
	grep "$SUMMARY" "$LOG" | tail -n 1 | sed -n "s/.* \([0-9]*\) $1.*/\1/p"
}

# expect KIND: the last refresh did what KIND should: the moving hosts
# resolved and their elements added (changed) or extended (same); after
# a foreign commit, the table read back found nothing to restore.
expect() {
	local added=0 extended=$CHANGED
	[ "$1" = changed ] && added=$CHANGED extended=0
	if [ "$1" = foreign ]; then
		[ "$(last_refresh added)" = 0 ] && [ "$(restored)" = "$RESTORED" ]
		return
	fi
	[ "$(last_refresh "hosts* resolved")" = "$MOVING" ] &&
		[ "$(last_refresh added)" = "$added" ] &&
		[ "$(last_refresh extended)" = "$extended" ] &&
		[ "$(restored)" = "$RESTORED" ]
}

# Times the daemon found its table changed, or had to replace it whole.
restored() {
	grep -c 'behind our back\|refresh: set ' "$LOG"
}

# change KIND: what happens between two refreshes.  "foreign": another
# program commits to nf_tables (adds and removes a table of its own),
# so the daemon reads its table back at the next refresh to check it.
change() {
	case $1 in
	changed)
		ROUND=$((ROUND + 1))
		moving_hosts
		kill -HUP "$DNSMASQ_PID" || die "dnsmasq is gone";;
	foreign)
		nsx "$NS" nft add table inet egb_other || die "the foreign commit failed"
		nsx "$NS" nft delete table inet egb_other || die "the foreign commit failed";;
	esac
}

# measure KIND: make the change in an idle moment, then take the CPU time
# and the netlink traffic of the refresh that follows.  A refresh that
# only let addresses expire (the answers dropped them TTL + grace ago)
# resolves nothing and is passed over, except after a foreign commit,
# where it is the one that reads the table back.
measure() {
	local kind=$1 c0 c1 l0
	[ "$(refreshes)" = "${IDLE_AT:-}" ] || wait_refresh
	RESTORED=$(restored)
	change "$kind"
	for _ in 1 2 3; do
		c0=$(cpu_ns)
		l0=$(wc -l <"$NL")
		wait_refresh
		c1=$(cpu_ns)
		[ "$kind" = foreign ] || [ "$(last_refresh "hosts* resolved")" != 0 ] && break
	done
	[ "${WARMUP:-0}" = 1 ] || expect "$kind" ||
		die "$kind refresh: $(grep "$SUMMARY\|behind\|refresh: set" "$LOG" | tail -n 3)"
	sample "$kind" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print (b - a) / 1e6 }')"
	read -r kern msgs bytes < <(tail -n +$((l0 + 1)) "$NL" | nl_sum /dev/stdin)
	sample "${kind}_kern" "$(awk -v k="$kern" 'BEGIN { print k / 1000 }')"
	sample "${kind}_msgs" "$msgs"
	sample "${kind}_bytes" "$bytes"
}

reapply() {
	local out=$TMP/t.reapply
	EGRESSD_LOCK=$TMP/lock.reapply timed "$REAPPLY" "$out" "$EGRESSD" apply "$POLICY" \
		--hosts "$TMP/all.hosts" || die "egressd apply in $REAPPLY failed"
	sample reapply "$(awk -v u="$(field "$out" 2)" -v s="$(field "$out" 3)" \
		'BEGIN { print (u + s) / 1000 }')"
	sample reapply_wall "$(awk -v w="$(field "$out" 1)" 'BEGIN { print w / 1000 }')"
}

daemon_up() {
	: >"$NL"
	echo "# [$NS] egressd -v run $POLICY --state $TMP/state" >>"$HELD"
	EGRESSD_LOCK=$TMP/lock setsid ip netns exec "$NS" env LD_PRELOAD="$BIN/nlstat.so" \
		NLSTAT_FILE="$NL" "$EGRESSD" -v run "$POLICY" --state "$TMP/state" \
		2>"$LOG" </dev/null &
	PID=$!
	PIDS+=("$PID")
	wait_for 60 grep -q "refresh: $HOSTS hosts resolved, $N added" "$LOG" ||
		die "the daemon did not fill its sets: $(tail -n 2 "$LOG")"
	[ "$(cat "/proc/$PID/comm")" = egressd ] || die "pid $PID is not egressd"
}

gen_policy "$POLICY" "$HOSTS" "$PORTS" 127.0.0.1 \
	"$(printf '  refresh: 1d\n  ttl_floor: 1s\n  ttl_ceiling: 1d\n  grace: %ds' "$GRACE")"
moving_hosts
dns_records >"$TMP/records"
dnsmasq_up "$NS" "$TMP/records"
reapply_hosts
EGRESSD_LOCK=$TMP/lock.reapply nsx "$REAPPLY" "$EGRESSD" apply "$POLICY" \
	--hosts "$TMP/all.hosts" || die "the first apply in $REAPPLY failed"
progress "starting the daemon: $HOSTS hosts, $N elements"
daemon_up
sleep 1
sample rss "$(awk '/^VmRSS:/ { print $2 / 1024 }' "/proc/$PID/status")"

# Not counted, nor checked: the first extension makes the daemon read its
# table back once, to learn how this kernel treats a re-added element, and
# on kernels that keep the old timeout that first extension is lost.
WARMUP=1 measure changed
WARMUP=1 measure same
for ((r = 1; r <= RUNS; r++)); do
	progress "round $r of $RUNS"
	measure changed
	measure same
	reapply
	measure foreign
done

fig="refresh N=$(fmt_n "$N")"
full=$(median "$TMP/s.reapply")
rc=$(ratio "$(median "$TMP/s.changed")" "$full")
rs=$(ratio "$(median "$TMP/s.same")" "$full")
if [ "$SMOKE" = 1 ]; then
	row "$fig: $(fmt_n "$CHANGED") changed, CPU" ms changed "${rc}x re-apply"
else
	row "$fig: 1% ($(fmt_n "$CHANGED")) changed, CPU" ms changed "${rc}x re-apply" "<= 0.02x" \
		"$(verdict "$rc" "<=" 0.02)"
fi
row "$fig: nothing changed ($(fmt_n "$CHANGED") extended), CPU" ms same "${rs}x re-apply"
row "$fig: after a foreign commit, CPU" ms foreign \
	"$(ratio "$(median "$TMP/s.foreign")" "$full")x re-apply"
row "$fig: full re-apply, CPU" ms reapply
row "$fig: full re-apply, wall" ms reapply_wall
row "$fig: changed, kernel (batch sendmsg)" ms changed_kern
row "$fig: changed, netlink messages" msgs changed_msgs
row "$fig: changed, netlink bytes" bytes changed_bytes
row "$fig: nothing changed, netlink messages" msgs same_msgs
row "$fig: nothing changed, netlink bytes" bytes same_bytes
row "daemon RSS, $(fmt_n "$N") elements" MB rss
host_clean || die "the host holds an egressd table"
