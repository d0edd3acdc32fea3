#!/bin/bash
# Apply: egressd apply of N elements against nft -f of the text egressd
# plan prints for the same policy, both creating the table from nothing
# in one namespace, runs alternating.  Also the split of egressd's time
# between its own work and the kernel's, and the peak memory of both.
#
#   egb-apply-SUFFIX (lo only)
#   +-----------------------------------------------------------+
#   | A: egressd -v apply POLICY --hosts FILE   (nlstat, timed) |
#   | B: nft -f PLAN                            (nlstat, timed) |
#   | nft delete table inet egressd between runs                |
#   +-----------------------------------------------------------+
#
# The kernel's share is the time spent inside sendmsg() of the batch,
# recorded by bench/nlstat.so: nfnetlink handles the whole transaction
# in that call.  The rest of the wall time is the program's own.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
	SIZES=(100)
else
	SIZES=(1000 10000 100000)
fi
BIG=${SIZES[-1]}
export EGRESSD_LOCK=$TMP/lock

ns_new apply

table_gone() {
	! ip netns exec "$NS" nft list table inet egressd >/dev/null 2>&1
}

# drop_table N: remove the table and give the kernel's deferred freeing
# of its elements time to finish before the next run.
drop_table() {
	nsx "$NS" nft delete table inet egressd || die "nft delete table"
	wait_for 5 table_gone || die "the table is still there"
	sleep "$(awk -v n="$1" 'BEGIN { printf "%.2f", 0.05 + n / 200000 }')"
}

count_elems() {
	ip netns exec "$NS" nft list set inet egressd allow4 | grep -c ' \. tcp \. '
}

# run_egressd N RUN: one apply, then its figures as samples.
run_egressd() {
	local n=$1 out=$TMP/t.out nl=$TMP/nl.out err=$TMP/err batch s
	rm -f "$nl"
	echo "# [$NS] egressd -v apply $TMP/p$n.yaml --hosts $TMP/h$n.hosts" >>"$HELD"
	ip netns exec "$NS" env LD_PRELOAD="$BIN/nlstat.so" NLSTAT_FILE="$nl" \
		"$BIN/timed" "$out" "$EGRESSD" -v apply "$TMP/p$n.yaml" \
		--hosts "$TMP/h$n.hosts" 2>"$err"
	s=$?
	cat "$err" >>"$HELD"
	[ "$s" -eq 0 ] || die "egressd apply N=$n exited $s"
	grep -q "created table inet egressd: .* $((n + 6)) elements" "$err" ||
		die "egressd apply N=$n did not report $((n + 6)) elements"
	batch=$(sed -n 's/.*one batch of .* \([0-9.]*\) s$/\1/p' "$err")
	[ -n "$batch" ] || die "no batch line in egressd -v apply"
	[ -s "$nl" ] || die "bench/nlstat.so recorded no batch"
	read -r kern msgs bytes < <(nl_sum "$nl")
	sample "egd$n" "$(awk -v w="$(field "$out" 1)" 'BEGIN { print w / 1000 }')"
	sample "egd_kern$n" "$(awk -v k="$kern" 'BEGIN { print k / 1000 }')"
	sample "egd_own$n" "$(awk -v w="$(field "$out" 1)" -v k="$kern" 'BEGIN { print (w - k) / 1000 }')"
	sample "egd_build$n" "$(awk -v b="$batch" -v k="$kern" 'BEGIN { print b * 1000 - k / 1000 }')"
	sample "egd_rss$n" "$(awk -v r="$(field "$out" 4)" 'BEGIN { print r / 1024 }')"
	sample "egd_msgs$n" "$msgs"
	sample "egd_bytes$n" "$bytes"
}

run_nft() {
	local n=$1 out=$TMP/t.out nl=$TMP/nl.out
	rm -f "$nl"
	echo "# [$NS] nft -f $TMP/plan$n.nft" >>"$HELD"
	ip netns exec "$NS" env LD_PRELOAD="$BIN/nlstat.so" NLSTAT_FILE="$nl" \
		"$BIN/timed" "$out" nft -f "$TMP/plan$n.nft" >>"$HELD" 2>&1 ||
		die "nft -f of the plan for N=$n failed"
	read -r kern _ _ < <(nl_sum "$nl")
	sample "nft$n" "$(awk -v w="$(field "$out" 1)" 'BEGIN { print w / 1000 }')"
	sample "nft_kern$n" "$(awk -v k="$kern" 'BEGIN { print k / 1000 }')"
	sample "nft_rss$n" "$(awk -v r="$(field "$out" 4)" 'BEGIN { print r / 1024 }')"
}

# Both tools must put the same N elements in allow4, checked once, in a
# warm-up run that is not counted.
check_both() {
	local n=$1 got WARMUP=1
	run_egressd "$n"
	got=$(count_elems)
	[ "$got" -eq "$n" ] || die "egressd apply N=$n: allow4 holds $got elements"
	drop_table "$n"
	run_nft "$n"
	got=$(count_elems)
	[ "$got" -eq "$n" ] || die "nft -f N=$n: allow4 holds $got elements"
	drop_table "$n"
}

for n in "${SIZES[@]}"; do
	shape "$n"
	gen_policy "$TMP/p$n.yaml" "$SHAPE_HOSTS" "$SHAPE_PORTS" 192.0.2.53
	gen_hosts "$TMP/h$n.hosts" "$SHAPE_HOSTS"
	"$EGRESSD" -q plan "$TMP/p$n.yaml" --hosts "$TMP/h$n.hosts" >"$TMP/plan$n.nft" \
		2>>"$HELD" || die "egressd plan N=$n failed"
	progress "N=$n: checking both load $n elements"
	check_both "$n"
	for ((r = 1; r <= RUNS; r++)); do
		progress "N=$n: run $r of $RUNS"
		run_egressd "$n"
		drop_table "$n"
		run_nft "$n"
		drop_table "$n"
	done
done

for n in "${SIZES[@]}"; do
	r=$(ratio "$(median "$TMP/s.egd$n")" "$(median "$TMP/s.nft$n")")
	if [ "$n" = "$BIG" ] && [ "$SMOKE" != 1 ]; then
		row "apply N=$(fmt_n "$n"): egressd apply" ms "egd$n" "${r}x nft -f" \
			"<= 0.25x" "$(verdict "$r" "<=" 0.25)"
	else
		row "apply N=$(fmt_n "$n"): egressd apply" ms "egd$n" "${r}x nft -f"
	fi
	row "apply N=$(fmt_n "$n"): nft -f of the plan" ms "nft$n"
done

b=$(fmt_n "$BIG")
row "apply N=$b: egressd, kernel (batch sendmsg)" ms "egd_kern$BIG" \
	"$(ratio "$(median "$TMP/s.egd_kern$BIG")" "$(median "$TMP/s.egd$BIG")")x of apply"
row "apply N=$b: egressd, own work (wall - kernel)" ms "egd_own$BIG" \
	"$(ratio "$(median "$TMP/s.egd_own$BIG")" "$(median "$TMP/s.egd$BIG")")x of apply"
row "apply N=$b: egressd, of which batch building" ms "egd_build$BIG"
row "apply N=$b: nft -f, kernel (batch sendmsg)" ms "nft_kern$BIG" \
	"$(ratio "$(median "$TMP/s.nft_kern$BIG")" "$(median "$TMP/s.nft$BIG")")x of nft -f"
row "apply N=$b: egressd batch messages" msgs "egd_msgs$BIG"
row "apply N=$b: egressd batch bytes" bytes "egd_bytes$BIG"

r=$(ratio "$(median "$TMP/s.egd_rss$BIG")" "$(median "$TMP/s.nft_rss$BIG")")
if [ "$SMOKE" = 1 ]; then
	row "peak RSS, apply N=$b: egressd" MB "egd_rss$BIG" "${r}x nft -f"
else
	row "peak RSS, apply N=$b: egressd" MB "egd_rss$BIG" "${r}x nft -f" "<= 16 MB" \
		"$(verdict "$(median "$TMP/s.egd_rss$BIG")" "<=" 16)"
fi
row "peak RSS, apply N=$b: nft -f" MB "nft_rss$BIG"

host_clean || die "the host holds an egressd table"
