#!/bin/bash
# The daemon: start-up, from the exec of `egressd run` until its deny
# skeleton is committed, and the memory it holds once its N hosts (1,000)
# are resolved and the sets filled.  Start-up is measured for a 3-host
# and an N-host policy, runs alternating, each from a namespace without
# the table.
#
#   egb-daemon-SUFFIX, lo only
#   +------------------------------------------------------------------+
#   | bench/startup: listens to nf_tables events, spawns               |
#   |   egressd -v run POLICY --state FILE --> 127.0.0.1:53 dnsmasq    |
#   | and stops the clock at the first commit that makes the table     |
#   +------------------------------------------------------------------+
#
# The clock starts just before posix_spawn() and stops when the kernel's
# NEWGEN notification closing that commit arrives; the rules are in force
# by then.  The spawn itself (about 0.1 ms) is counted against egressd.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
	N=100
else
	N=1000
fi
SETTLE=1

ns_new daemon
for ((i = 0; i < N; i++)); do
	printf 'host-record=h%04d.bench.test,198.51.100.%d,2001:db8:5::%x,3600\n' \
		"$i" $((i % 250 + 1)) "$i"
done >"$TMP/records"
dnsmasq_up "$NS" "$TMP/records"
gen_policy "$TMP/small.yaml" 3 1 127.0.0.1
gen_policy "$TMP/big.yaml" "$N" 1 127.0.0.1

gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

refreshed() {
	grep -q "refresh: $1 hosts resolved" "$TMP/daemon.log"
}

# start POLICY HOSTS: one start-up, as a sample; leaves PID running
# until its first refresh has resolved every host.
start() {
	local out=$TMP/t.start
	rm -f "$TMP/state" "$out"
	echo "# [$NS] startup egressd -v run $1 --state $TMP/state" >>"$HELD"
	EGRESSD_LOCK=$TMP/lock ip netns exec "$NS" "$BIN/startup" "$out" \
		"$EGRESSD" -v run "$1" --state "$TMP/state" 2>"$TMP/daemon.log" ||
		die "no deny skeleton: $(tail -n 3 "$TMP/daemon.log")"
	read -r START_US PID <"$out"
	PIDS+=("$PID")
	wait_for 30 refreshed "$2" || die "egressd run: $2 hosts never resolved"
	grep -q 'deny skeleton in place' "$TMP/daemon.log" || die "no skeleton log line"
}

stop() {
	kill -TERM "$PID" 2>/dev/null
	wait_for 10 gone "$PID" || die "egressd run did not stop on SIGTERM"
	cat "$TMP/daemon.log" >>"$HELD"
	nsx "$NS" nft delete table inet egressd || die "the table was not there"
}

rss_mb() {
	awk '/^VmRSS:/ { print $2 / 1024 }' "/proc/$1/status"
}

WARMUP=1
start "$TMP/small.yaml" 3
stop
WARMUP=0
for ((r = 1; r <= RUNS; r++)); do
	progress "run $r of $RUNS"
	start "$TMP/small.yaml" 3
	sample small "$(awk -v u="$START_US" 'BEGIN { print u / 1000 }')"
	stop
	start "$TMP/big.yaml" "$N"
	sample big "$(awk -v u="$START_US" 'BEGIN { print u / 1000 }')"
	# Settled: the first refresh is done and its state file written.
	sleep "$SETTLE"
	sample rss "$(rss_mb "$PID")"
	stop
done

goal_row() {
	if [ "$SMOKE" = 1 ]; then
		row "$@"
	else
		row "$@" "<= 10 ms" "$(verdict "$(median "$TMP/s.${3}")" "<=" 10)"
	fi
}
goal_row "start-up to deny skeleton, 3-host policy" ms small "-"
goal_row "start-up to deny skeleton, $(fmt_n "$N")-host policy" ms big "-"
row "daemon RSS, $(fmt_n "$N") hosts resolved" MB rss
host_clean || die "the host holds an egressd table"
