#!/usr/bin/env bash
# Make pcaps/nanoshare.pcapng (and pcaps/nanoshare-wire.pcap): captures nanoshare made of itself
# in a scripted lab run, with the wire and each guest as interfaces and the nanokernel's
# decision on every frame as its comment (pcaps/README.md says what each shows).
#
# Follows the lab rule: the machine runs inside a network namespace this script creates
# (nsts-obs-$$), its TAP and the host side's address live only there, every process started is
# stopped by PID, and the namespace is deleted on exit, whatever happens.
#
# Traffic, from the namespace's side of the TAP: ARP and 3 pings to each guest, an ARP request
# for an absent address (a broadcast both guests get), a ping to a MAC nobody has (unknown
# unicast, dropped), a frame claiming the rtos's MAC (dropped as a spoof), a UDP echo to each
# guest, and an HTTP GET /status over TCP to the gpos.
#
# Needs root, iproute2, python3, and the built tree (npm ci).
# Usage: sudo scripts/make-sample-pcapng.sh [out-dir]   (default pcaps/)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/pcaps}"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, TAP)" >&2; exit 1; }
for tool in ip python3 node; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

NS="nsts-obs-$$"
work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$NS"
ip -n "$NS" link set lo up
inns() { ip netns exec "$NS" "$@"; }

run_capture() { # $1 = capture file
  ip netns exec "$NS" node --single-threaded-gc "$here/bin/nanoshare" run --capture "$1" \
    --control "$work/ctl.sock" --stats-interval 0 --log-format json 2>"$work/run.log" &
  pids+=("$!")
  machine="$!"
  for _ in $(seq 100); do grep -q '"msg":"ready"' "$work/run.log" && break; sleep 0.1; done
  grep -q '"msg":"ready"' "$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
  sleep 0.3 # the guests' gratuitous ARPs
  inns python3 - <<'PY'
import socket, struct, time, os

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def ping(ip, n, seq0=1):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(1)
    for i in range(n):
        body = struct.pack('!BBHHH', 8, 0, 0, 0x4e53, seq0 + i) + b'nanoshare sample'
        body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
        s.sendto(body, (ip, 0))
        try: s.recvfrom(2048)
        except socket.timeout: pass
        time.sleep(0.05)
    s.close()

ping('10.77.0.10', 3)
ping('10.77.0.11', 3)
ping('10.77.0.99', 1)        # nobody: the ARP request is a broadcast to both guests
os.system('ip neigh replace 10.77.0.98 lladdr 02:4e:53:00:00:99 dev nstap0')
ping('10.77.0.98', 1)        # unknown unicast: dropped by the switch
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind(('nstap0', 0))
ip = bytes.fromhex('4500001c00004000400100000a4d00010a4d000b')
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
icmp = struct.pack('!BBHHH', 8, 0, 0, 0, 0)
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
frame = bytes.fromhex('024e5300000b' '024e5300000a' '0800') + ip + icmp
raw.send(frame + b'\0' * (60 - len(frame)))   # claims the rtos's MAC: dropped as a spoof
raw.close()
for ip in ('10.77.0.10', '10.77.0.11'):     # UDP echo, port 7
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1)
    u.sendto(b'hello from the sample script', (ip, 7))
    try: u.recvfrom(2048)
    except socket.timeout: pass
    u.close()
t = socket.create_connection(('10.77.0.11', 80), timeout=2)   # HTTP over the gpos's TCP
t.sendall(b'GET /status HTTP/1.1\r\nHost: 10.77.0.11\r\nConnection: close\r\n\r\n')
while True:
    try: d = t.recv(4096)
    except socket.timeout: break
    if not d: break
t.close()
time.sleep(0.2)
PY
  kill -TERM "$machine"
  wait "$machine" 2>/dev/null || true
  grep -q '"msg":"stopped"' "$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
}

mkdir -p "$out"
run_capture "$out/nanoshare.pcapng"
echo "wrote $out/nanoshare.pcapng ($(stat -c %s "$out/nanoshare.pcapng") bytes)"
run_capture "$out/nanoshare-wire.pcap"
echo "wrote $out/nanoshare-wire.pcap ($(stat -c %s "$out/nanoshare-wire.pcap") bytes)"
