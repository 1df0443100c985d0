#!/usr/bin/env bash
# Make pcaps/sample.pcap: a small real capture for the wire/ tests.
#
# Follows the lab rule: everything happens inside two network namespaces this script creates
# (nsts-pcap-$$-a, nsts-pcap-$$-b) joined by a veth pair created inside them. Addresses live only
# in those namespaces; no host interface is touched. Every process started is stopped by PID, and
# the namespaces are deleted on exit, whatever happens.
#
# Captured on the A side: ARP, ping -c2 (echo request/reply), a UDP datagram to a closed port
# (and the ICMP port-unreachable it provokes), a UDP datagram to a listener, and an ARP + ping over
# 802.1Q VLAN 42 with priority 5. IPv6 is disabled and checksum offload turned off so every
# checksum on the wire is final (a veth with offload captures half-done UDP checksums).
#
# Needs root, iproute2, tcpdump, iputils-ping, netcat-openbsd, ethtool.
# Usage: sudo scripts/make-sample-pcap.sh [output.pcap]   (default pcaps/sample.pcap)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/pcaps/sample.pcap}"

for tool in ip tcpdump ping nc ethtool; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install iproute2 tcpdump iputils-ping netcat-openbsd ethtool)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }

A="nsts-pcap-$$-a"
B="nsts-pcap-$$-b"
work="$(mktemp -d)"
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }

ip netns add "$A"
ip netns add "$B"
for ns in "$A" "$B"; do
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done

# The veth pair is born inside A with its peer moved straight into B: it never exists on the host.
# Fixed, locally administered MACs so the sample is the same from run to run.
inA ip link add va address 02:00:00:99:01:01 type veth peer name vb address 02:00:00:99:01:02 netns "$B"
inA ip addr add 10.99.1.1/24 dev va
inB ip addr add 10.99.1.2/24 dev vb
inA ethtool -K va tx off rx off >/dev/null 2>&1 || true
inB ethtool -K vb tx off rx off >/dev/null 2>&1 || true
inA ip link set va up
inB ip link set vb up
# 802.1Q over a vlan subinterface when the kernel has 8021q; otherwise a tagged frame is injected below.
vlan=0
if inA ip link add link va name va.42 type vlan id 42 egress-qos-map 0:5 2>/dev/null &&
   inB ip link add link vb name vb.42 type vlan id 42 egress-qos-map 0:5 2>/dev/null; then
  vlan=1
  inA ip addr add 10.99.42.1/24 dev va.42
  inB ip addr add 10.99.42.2/24 dev vb.42
  inA ethtool -K va.42 tx off rx off >/dev/null 2>&1 || true
  inB ethtool -K vb.42 tx off rx off >/dev/null 2>&1 || true
  inA ip link set va.42 up
  inB ip link set vb.42 up
fi

# Start the capture and wait until it is really listening. Background processes are started with
# `ip netns exec` itself (it execs), so $! is the tool's own PID; a backgrounded shell function
# would give a subshell's PID, and background jobs ignore SIGINT, so stop them with SIGTERM.
ip netns exec "$A" tcpdump -Z root -U -n -i va -w "$work/cap.pcap" 2>"$work/tcpdump.err" &
pids+=("$!")
tcpdump_pid="$!"
for _ in $(seq 50); do grep -q 'listening on' "$work/tcpdump.err" && break; sleep 0.1; done
grep -q 'listening on' "$work/tcpdump.err" || { cat "$work/tcpdump.err" >&2; exit 1; }

inA ping -c2 -i 0.2 -W 1 10.99.1.2 >/dev/null

# UDP to a closed port: B answers ICMP port unreachable.
inA bash -c 'printf "x" >/dev/udp/10.99.1.2/7'
# UDP to a listener that exits after one datagram.
ip netns exec "$B" nc -u -l -W 1 10.99.1.2 5000 >"$work/nc.out" &
pids+=("$!")
nc_pid="$!"
sleep 0.3
inA bash -c 'printf "hi\n" >/dev/udp/10.99.1.2/5000'
for _ in $(seq 20); do kill -0 "$nc_pid" 2>/dev/null || break; sleep 0.1; done

# 802.1Q: ARP and one ping over VLAN 42, priority 5; without 8021q, send one tagged ARP request
# (VLAN 42, PCP 5, who-has 10.99.42.2 tell 10.99.42.1) from a packet socket on va. B ignores it.
if [ "$vlan" = 1 ]; then
  inA ping -c1 -W 1 10.99.42.2 >/dev/null
elif command -v python3 >/dev/null; then
  inA python3 - <<'PY'
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("va", 0))
src = open("/sys/class/net/va/address").read().strip()
mac = bytes.fromhex(src.replace(":", ""))
frame = (b"\xff" * 6 + mac                     # dst broadcast, src va
         + b"\x81\x00" + b"\xa0\x2a"            # 802.1Q: PCP 5, VID 42
         + b"\x08\x06"                          # ARP
         + b"\x00\x01\x08\x00\x06\x04\x00\x01"  # Ethernet/IPv4, request
         + mac + bytes([10, 99, 42, 1])          # sender
         + b"\x00" * 6 + bytes([10, 99, 42, 2]))  # target
s.send(frame + b"\x00" * (60 - len(frame)))
s.close()
PY
else
  echo "no 8021q and no python3: sample has no 802.1Q frame" >&2
fi

sleep 0.3
kill -TERM "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true

mkdir -p "$(dirname "$out")"
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes); nc received: $(tr -d '\n' <"$work/nc.out")"
tcpdump -n -e -r "$out" 2>/dev/null || true
