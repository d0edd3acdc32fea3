#!/bin/bash
# Resolution: N hosts (1,000) against a dnsmasq in a namespace, by egressd
# and by a loop of getaddrinfo() calls, both asking A and AAAA.  egressd's
# resolution is `egressd plan` minus `egressd plan --offline` of the same
# policy, run back to back: the same load, compile and print, without the
# DNS.  Runs alternate.
#
#   egb-resolve-SUFFIX, lo only
#   +----------------------------------------------------------------+
#   | egressd plan POLICY ------+                                    |
#   | egressd plan --offline    +--> 127.0.0.1:53 dnsmasq            |
#   | bench/getaddrinfo NAMES --+    N host-records, A + AAAA        |
#   |   (resolv.conf: /etc/netns/egb-resolve-SUFFIX/)                |
#   +----------------------------------------------------------------+
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
	N=100
else
	N=1000
fi

ns_new resolve
for ((i = 0; i < N; i++)); do
	printf 'host-record=h%04d.bench.test,198.51.100.%d,2001:db8:5::%x,600\n' \
		"$i" $((i % 250 + 1)) "$i"
done >"$TMP/records"
dnsmasq_up "$NS" "$TMP/records"
resolv_conf "$NS"
gen_policy "$TMP/p.yaml" "$N" 1 127.0.0.1
for ((i = 0; i < N; i++)); do
	printf 'h%04d.bench.test\n' "$i"
done >"$TMP/names"

# The resolver's CPU time in ms: how much of a resolution is spent
# waiting for dnsmasq rather than in the client.
server_ms() {
	awk '{ print $1 / 1e6 }' "/proc/$DNSMASQ_PID/schedstat"
}

# plan_dns: every host resolved to both its addresses.
plan_dns() {
	local out=$TMP/t.plan got
	echo "# [$NS] egressd -q plan $TMP/p.yaml" >>"$HELD"
	SERVER0=$(server_ms)
	ip netns exec "$NS" "$BIN/timed" "$out" "$EGRESSD" -q plan "$TMP/p.yaml" \
		>"$TMP/plan.nft" 2>>"$HELD" || die "egressd plan failed"
	SERVER1=$(server_ms)
	got=$(grep -c '^# h[0-9]*\.bench\.test: 2 addresses from dns' "$TMP/plan.nft")
	[ "$got" -eq "$N" ] || die "egressd plan resolved $got of $N hosts"
}

plan_offline() {
	echo "# [$NS] egressd -q plan --offline $TMP/p.yaml" >>"$HELD"
	ip netns exec "$NS" "$BIN/timed" "$TMP/t.off" "$EGRESSD" -q plan --offline \
		"$TMP/p.yaml" >/dev/null 2>>"$HELD" || die "egressd plan --offline failed"
}

loop_getaddrinfo() {
	local out=$TMP/t.gai
	echo "# [$NS] getaddrinfo $TMP/names" >>"$HELD"
	ip netns exec "$NS" "$BIN/timed" "$out" "$BIN/getaddrinfo" "$TMP/names" \
		>"$TMP/gai.out" 2>>"$HELD" || die "getaddrinfo failed: $(cat "$TMP/gai.out")"
	[ "$(cat "$TMP/gai.out")" = "$N $((2 * N)) 0" ] ||
		die "getaddrinfo: want '$N $((2 * N)) 0', got '$(cat "$TMP/gai.out")'"
}

us() {
	awk -v a="$(field "$1" 1)" 'BEGIN { print a / 1000 }'
}

# The dnsmasq cache and the page cache are warm for every counted run.
WARMUP=1 plan_dns
WARMUP=1 loop_getaddrinfo
for ((r = 1; r <= RUNS; r++)); do
	progress "run $r of $RUNS"
	plan_dns
	plan_offline
	loop_getaddrinfo
	sample plan "$(us "$TMP/t.plan")"
	sample offline "$(us "$TMP/t.off")"
	sample egd "$(awk -v a="$(us "$TMP/t.plan")" -v b="$(us "$TMP/t.off")" 'BEGIN { print a - b }')"
	sample gai "$(us "$TMP/t.gai")"
	sample server "$(awk -v a="$SERVER0" -v b="$SERVER1" 'BEGIN { print b - a }')"
	sample egd_cpu "$(awk -v a="$(cat "$TMP/t.plan")" -v b="$(cat "$TMP/t.off")" 'BEGIN {
		split(a, x, " "); split(b, y, " "); print (x[2] + x[3] - y[2] - y[3]) / 1000 }')"
done

r=$(ratio "$(median "$TMP/s.egd")" "$(median "$TMP/s.gai")")
fig="resolve N=$(fmt_n "$N") hosts"
row "$fig: egressd (plan - plan --offline)" ms egd "${r}x getaddrinfo" "<= 0.1x" \
	"$(verdict "$r" "<=" 0.1)"
row "$fig: sequential getaddrinfo" ms gai
row "$fig: egressd, its own CPU for it" ms egd_cpu
row "$fig: dnsmasq CPU answering egressd" ms server
row "$fig: egressd plan, whole" ms plan
row "$fig: egressd plan --offline" ms offline
host_clean || die "the host holds an egressd table"
