#!/usr/bin/env bash
# Smoke test of the Docker path: build the image, run both documented modes, ping both guests
# from the host side, capture there with tcpdump and check the capture with pcap-parser, stop
# the container and check what it made is gone.
#
#   scripts/docker-smoke.sh                      # as root; a few minutes once the base is cached
#
# Mode 1 (host networking) runs in a stand-in for the host's network namespace: a helper
# container with --network none, whose namespace the machine joins (--network container:),
# exactly as `--network host` joins the host's. The "host side" commands (ping, tcpdump, ip)
# run there with nsenter. So nothing is created in, attached to or sent from this machine's
# own network namespace (the lab rule of shared/DESIGN.md).
# Mode 2 (--uplink eth0) runs on a user-defined Docker network that this script creates (and
# removes), with --ip-range keeping the guests' addresses out of Docker's allocation; the host
# pings the guests through that network's bridge, and only addresses on it.
#
# Environment:
#   NANOSHARE_REQUIRE_DOCKER=1   a missing Docker engine (or root, /dev/net/tun) fails instead of skipping
#   NANOSHARE_DOCKER_BASE=IMAGE  base image (default nanoshare-base:local, built by scripts/docker-base.sh
#                                from Debian packages if missing; node:20-slim where Docker Hub is reachable)
#   NANOSHARE_SMOKE_REF=REF      build from `git archive REF` instead of the working tree
#   NANOSHARE_DOCKER_BUILD_NETWORK=host|default   network of the build's RUN steps (default host)
#   NANOSHARE_IMAGE=NAME         tag of the image built (default nanoshare:smoke)
#   NANOSHARE_DOCKERD_FLAGS=...  flags of the dockerd this script starts when none is running
#                                (default: --bridge=none --iptables=false --ip-forward=false)
#   KEEP_WORK=1                  keep the work directory (build log, captures, container logs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="$$"
IMAGE="${NANOSHARE_IMAGE:-nanoshare:smoke}"
BASE="${NANOSHARE_DOCKER_BASE:-nanoshare-base:local}"
REQUIRE="${NANOSHARE_REQUIRE_DOCKER:-0}"
BUILD_NET="${NANOSHARE_DOCKER_BUILD_NETWORK:-host}"
RTOS_MAC=02:4e:53:00:00:0a
GPOS_MAC=02:4e:53:00:00:0b
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" # the classic builder: works without the buildx plugin
export DEBIAN_FRONTEND=noninteractive
T0=$SECONDS

log() { printf '[docker-smoke %3ds] %s\n' $((SECONDS - T0)) "$*"; }
fail() { log "FAIL: $*"; exit 1; }
skip() {
  if [[ "$REQUIRE" == 1 ]]; then log "FAIL (NANOSHARE_REQUIRE_DOCKER=1): $*"; exit 1; fi
  echo "SKIPPED: $*"
  exit 0
}

# ---- cleanup: everything this script made, by name or PID ---------------------------------
WORK=""
CONTAINERS=()
NETWORKS=()
BG_PIDS=()
DOCKERD_PID=""
cleanup() {
  local rc=$?
  set +e
  for p in "${BG_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [[ $rc -ne 0 && ${#CONTAINERS[@]} -gt 0 ]]; then
    for c in "${CONTAINERS[@]}"; do
      docker inspect "$c" >/dev/null 2>&1 || continue
      echo "---- last log lines of container $c"
      docker logs --tail 25 "$c" 2>&1 | sed 's/^/    /'
    done
  fi
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
  for n in "${NETWORKS[@]}"; do docker network rm "$n" >/dev/null 2>&1; done
  if [[ -n "$DOCKERD_PID" ]]; then
    log "stopping the dockerd this script started (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  if [[ -n "$WORK" ]]; then
    if [[ "${KEEP_WORK:-0}" == 1 || $rc -ne 0 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites -------------------------------------------------------------------------
[[ "$(uname -s)" == Linux ]] || skip "needs Linux"
[[ "$(id -u)" == 0 ]] || skip "needs root (it starts dockerd and captures on the Docker network's bridge)"
[[ -c /dev/net/tun ]] || skip "this machine has no /dev/net/tun"
WORK="$(mktemp -d /tmp/nsd-smoke.XXXXXX)"

apt_install() {
  command -v apt-get >/dev/null || return 1
  log "apt-get install $*"
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >"$WORK/apt.log" 2>&1 || { tail -n 5 "$WORK/apt.log"; return 1; }
}
missing=()
for t in ip:iproute2 tcpdump:tcpdump ping:iputils-ping nsenter:util-linux; do
  command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
[[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}" || fail "cannot install ${missing[*]}"
command -v node >/dev/null || fail "node is needed on the host (the capture checker, and the base image's Node)"

if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
  apt_install docker.io || skip "no Docker engine, and apt-get install docker.io failed"
fi
if ! docker info >/dev/null 2>&1; then
  # An engine of our own leaves nothing on this machine: no docker0, no iptables rules, no
  # ip_forward change. The test needs none of them (builds use --network host, every container
  # names its network, and the host reaches mode 2's guests on the network's own bridge).
  read -r -a dockerd_flags <<<"${NANOSHARE_DOCKERD_FLAGS:---bridge=none --iptables=false --ip-forward=false}"
  log "no Docker engine answering: starting dockerd ${dockerd_flags[*]} (log: $WORK/dockerd.log)"
  dockerd "${dockerd_flags[@]}" >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    reason="$(grep -iE 'level=(fatal|error)' "$WORK/dockerd.log" | tail -n 1 | sed -E 's/.*msg="?([^"]*)"?.*/\1/')"
    kill -0 "$DOCKERD_PID" 2>/dev/null || DOCKERD_PID=""
    skip "a Docker engine cannot be started here: dockerd: ${reason:-did not answer within 30 s}"
  fi
fi
log "docker engine $(docker version -f '{{.Server.Version}}' 2>/dev/null) ready"

# ---- images ----------------------------------------------------------------------------------
if [[ "$BASE" == nanoshare-base:local ]] && ! docker image inspect "$BASE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || apt_install debootstrap || fail "cannot install debootstrap"
  log "building the local base image $BASE (Debian packages + this machine's Node)"
  "$ROOT/scripts/docker-base.sh" "$BASE"
fi

CTX="$ROOT"
if [[ -n "${NANOSHARE_SMOKE_REF:-}" ]]; then
  CTX="$WORK/context"
  mkdir -p "$CTX"
  git -C "$ROOT" archive "$NANOSHARE_SMOKE_REF" | tar -x -C "$CTX"
  log "building from git $NANOSHARE_SMOKE_REF ($(git -C "$ROOT" rev-parse --short "$NANOSHARE_SMOKE_REF"))"
fi
net_args=()
[[ "$BUILD_NET" == default ]] || net_args=(--network "$BUILD_NET")
log "docker build --build-arg BASE=$BASE -t $IMAGE (log: $WORK/build.log)"
t=$SECONDS
docker build --force-rm "${net_args[@]}" --build-arg "BASE=$BASE" -t "$IMAGE" "$CTX" >"$WORK/build.log" 2>&1 || {
  tail -n 30 "$WORK/build.log"
  fail "docker build failed"
}
log "image $IMAGE built in $((SECONDS - t)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"

for compose in "docker compose" docker-compose; do
  if $compose version >/dev/null 2>&1; then
    (cd "$ROOT" && $compose -f docker-compose.yml config -q) || fail "docker-compose.yml does not validate ($compose config)"
    log "docker-compose.yml validates ($compose config)"
    break
  fi
done

# ---- helpers --------------------------------------------------------------------------------
# Start a container, remembered for cleanup.
run_container() {
  local name="$1"
  shift
  CONTAINERS+=("$name")
  # stderr kept aside: an engine without ip_forward warns on every run, which is fine here.
  docker run -d --name "$name" "$@" >/dev/null 2>"$WORK/$name.run.log" || { cat "$WORK/$name.run.log"; fail "docker run $name failed"; }
}

wait_ready() {
  local c="$1"
  for _ in $(seq 1 60); do
    docker logs "$c" 2>&1 | grep -q '"msg":"ready"' && return 0
    [[ "$(docker inspect -f '{{.State.Running}}' "$c")" == true ]] || fail "container $c exited (code $(docker inspect -f '{{.State.ExitCode}}' "$c")) before \"ready\""
    sleep 0.5
  done
  fail "container $c logged no \"ready\" line within 30 s"
}

wait_healthy() {
  local c="$1" s=""
  for _ in $(seq 1 40); do
    s="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c")"
    [[ "$s" == healthy ]] && { log "$c: HEALTHCHECK (nanoshare stats) says healthy"; return 0; }
    [[ "$s" == unhealthy || "$s" == none ]] && break
    sleep 0.5
  done
  docker inspect -f '{{range .State.Health.Log}}exit {{.ExitCode}}: {{.Output}}{{end}}' "$c" 2>/dev/null | tail -n 3
  fail "$c: health is ${s:-unknown}, not healthy (HEALTHCHECK runs: nanoshare stats)"
}

# tcpdump in the background (optionally inside a namespace, through a prefix command); waits
# until it listens. Sets TCPDUMP_PID.
start_tcpdump() {
  local file="$1" iface="$2"
  shift 2
  "$@" tcpdump -i "$iface" -n -U --immediate-mode -s 0 -Z root -w "$file" >"$file.log" 2>&1 &
  TCPDUMP_PID=$!
  BG_PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 1 40); do
    grep -q 'listening on' "$file.log" && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.25
  done
  cat "$file.log"
  fail "tcpdump on $iface did not start"
}

stop_tcpdump() {
  kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  wait "$TCPDUMP_PID" 2>/dev/null || true
  local keep=()
  for p in "${BG_PIDS[@]}"; do [[ "$p" == "$TCPDUMP_PID" ]] || keep+=("$p"); done
  BG_PIDS=("${keep[@]+"${keep[@]}"}")
}

# ping, with the summary line logged; fails the run if a reply is missing.
ping_ok() {
  local label="$1" addr="$2"
  shift 2
  local out
  out="$("$@" ping -c 3 -i 0.2 -W 2 "$addr" 2>&1)" || { echo "$out"; fail "$label: ping $addr failed"; }
  log "$label: ping $addr: $(grep -oE '[0-9]+ received' <<<"$out")/3, rtt $(grep -oE 'min/avg/max/mdev = [^ ]+ ms' <<<"$out" | cut -d' ' -f3) ms (min/avg/max/mdev)"
}

# UDP echo on port 7, from the host side (a two-line node script, so no netcat is needed).
udp_echo_ok() {
  local label="$1" addr="$2"
  shift 2
  "$@" node -e '
    const s = require("node:dgram").createSocket("udp4");
    const t = setTimeout(() => { console.error("no UDP echo from " + process.argv[1]); process.exit(1); }, 3000);
    s.on("message", (m) => { if (m.toString() === "nanoshare-smoke") { clearTimeout(t); s.close(); } });
    s.send("nanoshare-smoke", 7, process.argv[1]);' "$addr" || fail "$label: no UDP echo from $addr:7"
  log "$label: UDP echo from $addr:7"
}

# The neighbour table of the host side must hold both guests' MACs.
neigh_ok() {
  local label="$1" dev="$2"
  shift 2
  local out
  out="$("$@" ip neigh show dev "$dev")"
  grep -qi "$RTOS_MAC" <<<"$out" && grep -qi "$GPOS_MAC" <<<"$out" || { echo "$out"; fail "$label: ip neigh on $dev lacks a guest's MAC"; }
  log "$label: ip neigh on $dev: $(grep -ciE "$RTOS_MAC|$GPOS_MAC" <<<"$out") guest MACs ($RTOS_MAC, $GPOS_MAC)"
}

# The capture checker: pcap-parser from the repo's devDependencies, else installed into $WORK.
PCAP_REQ_BASE="$ROOT/package.json"
if ! node -e 'require("module").createRequire(process.argv[1]).resolve("pcap-parser")' "$PCAP_REQ_BASE" 2>/dev/null; then
  log "pcap-parser not in $ROOT/node_modules: installing it into $WORK"
  (cd "$WORK" && npm install --no-save --no-package-lock --ignore-scripts --silent pcap-parser@^0.2.1 >/dev/null 2>&1) || fail "cannot install pcap-parser"
  PCAP_REQ_BASE="$WORK/package.json"
fi
cat >"$WORK/check-pcap.mjs" <<'EOF'
// node check-pcap.mjs REQUIRE_BASE FILE.pcap IP=MAC...: every IP answered an ICMP echo request
// with an echo reply from exactly that MAC. Prints a one-line summary.
import { createRequire } from 'node:module';
const [base, file, ...want] = process.argv.slice(2);
const pcapp = createRequire(base)('pcap-parser');
const macStr = (b, o) => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ipStr = (b, o) => [...b.subarray(o, o + 4)].join('.');
const replies = new Map(); // "ip mac" -> count
let frames = 0, requests = 0, arp = 0, linkType;
const parser = pcapp.parse(file);
parser.on('globalHeader', (h) => { linkType = h.linkLayerType; });
parser.on('packet', (p) => {
  frames++;
  const d = p.data;
  let off = 12, type = d.readUInt16BE(12);
  if (type === 0x8100) { off += 4; type = d.readUInt16BE(off); }
  off += 2;
  if (type === 0x0806) { arp++; return; }
  if (type !== 0x0800 || d[off + 9] !== 1) return;
  const icmp = off + (d[off] & 0x0f) * 4;
  if (d[icmp] === 8) requests++;
  if (d[icmp] !== 0) return;
  const k = `${ipStr(d, off + 12)} ${macStr(d, 6)}`;
  replies.set(k, (replies.get(k) ?? 0) + 1);
});
parser.on('error', (e) => { console.error(`pcap-parser: ${e.message}`); process.exit(1); });
parser.on('end', () => {
  const bad = [];
  if (linkType !== 1) bad.push(`link type ${linkType}, expected 1 (Ethernet)`);
  for (const w of want) {
    const [ip, mac] = w.split('=');
    const ok = replies.get(`${ip} ${mac}`) ?? 0;
    const other = [...replies.keys()].filter((k) => k.startsWith(`${ip} `) && k !== `${ip} ${mac}`);
    if (ok === 0) bad.push(`no echo reply from ${ip} with MAC ${mac}`);
    if (other.length) bad.push(`echo replies from ${ip} with another MAC: ${other.join(', ')}`);
  }
  const summary = [...replies].map(([k, n]) => `${k.replace(' ', ' from ')} x${n}`).join(', ');
  console.log(`${frames} frames, ${arp} ARP, ${requests} echo requests, replies: ${summary || 'none'}`);
  if (bad.length) { console.error(bad.join('; ')); process.exit(1); }
});
EOF
check_pcap() {
  local label="$1" file="$2"
  shift 2
  local out
  out="$(node "$WORK/check-pcap.mjs" "$PCAP_REQ_BASE" "$file" "$@" 2>&1)" || { echo "$out"; fail "$label: the capture does not show both guests answering"; }
  log "$label: capture checked with pcap-parser: $out"
}

stop_container() {
  local label="$1" c="$2"
  docker stop -t 15 "$c" >/dev/null
  local code
  code="$(docker inspect -f '{{.State.ExitCode}}' "$c")"
  [[ "$code" == 0 ]] || fail "$label: nanoshare exited with code $code after SIGTERM (expected 0)"
  log "$label: docker stop: exit code 0"
}

# ---- the clear errors: no NET_ADMIN, no /dev/net/tun (exit code 2, one line) -----------------
expect_exit2() {
  local what="$1" pattern="$2"
  shift 2
  local out rc=0
  out="$(docker run --rm --network none "$@" "$IMAGE" 2>&1)" || rc=$?
  local msg
  msg="$(grep -v '^{' <<<"$out" | head -n 1)"
  [[ $rc == 2 ]] || { echo "$out" | tail -n 5; fail "without $what: exit code $rc, expected 2"; }
  grep -qE "$pattern" <<<"$out" || { echo "$out" | tail -n 5; fail "without $what: the message does not say $pattern"; }
  log "without $what: exit 2: ${msg:-$(tail -n 1 <<<"$out")}"
}
expect_exit2 "NET_ADMIN" "NET_ADMIN" --device /dev/net/tun
expect_exit2 "/dev/net/tun" "/dev/net/tun" --cap-add NET_ADMIN

# ---- mode 1: host networking, in a stand-in for the host's namespace -------------------------
HOSTNS="nsd-smoke-hostns-$TAG"
run_container "$HOSTNS" --network none --entrypoint sleep "$IMAGE" infinity
HPID="$(docker inspect -f '{{.State.Pid}}' "$HOSTNS")"
[[ "$HPID" =~ ^[0-9]+$ && "$HPID" != 0 ]] || fail "no PID for the helper container $HOSTNS"
inhost=(nsenter -t "$HPID" -n) # run a command in the stand-in host namespace
"${inhost[@]}" ip link set lo up

M1="nsd-smoke-m1-$TAG"
log "mode 1: docker run --network container:$HOSTNS (stands for --network host) --cap-add NET_ADMIN --device /dev/net/tun $IMAGE"
run_container "$M1" --network "container:$HOSTNS" --cap-add NET_ADMIN --device /dev/net/tun --health-interval 2s --health-timeout 5s "$IMAGE"
wait_ready "$M1"
"${inhost[@]}" ip link show nstap0 >/dev/null 2>&1 || fail "mode 1: no nstap0 on the host side"
start_tcpdump "$WORK/mode1.pcap" nstap0 "${inhost[@]}"
ping_ok "mode 1" 10.77.0.10 "${inhost[@]}"
ping_ok "mode 1" 10.77.0.11 "${inhost[@]}"
udp_echo_ok "mode 1" 10.77.0.11 "${inhost[@]}"
neigh_ok "mode 1" nstap0 "${inhost[@]}"
stop_tcpdump
check_pcap "mode 1" "$WORK/mode1.pcap" "10.77.0.10=$RTOS_MAC" "10.77.0.11=$GPOS_MAC"
wait_healthy "$M1"
stop_container "mode 1" "$M1"
if "${inhost[@]}" ip link show nstap0 >/dev/null 2>&1; then fail "mode 1: nstap0 is still there after the container stopped"; fi
if "${inhost[@]}" ip -4 addr show | grep -q '10\.77\.0\.1/'; then fail "mode 1: 10.77.0.1 is still on the host side"; fi
log "mode 1: nstap0 and its address are gone from the host side"
docker rm -f "$M1" "$HOSTNS" >/dev/null

# ---- mode 2: the container's own network, --uplink eth0 ---------------------------------------
# A /24 that nothing on this machine routes yet, from 10.213.0.0/16.
# shellcheck disable=SC2046 # one argument per network id
in_use="$(ip -4 route show table all 2>/dev/null; docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' $(docker network ls -q) 2>/dev/null)"
PFX=""
for i in $(seq 0 199); do
  cand="10.213.$(((TAG + i) % 200 + 20))"
  grep -qF "$cand." <<<"$in_use" || { PFX="$cand"; break; }
done
[[ -n "$PFX" ]] || fail "mode 2: no free /24 in 10.213.0.0/16"
NET="nsd-smoke-net-$TAG"
BR="nsdbr$TAG"
BR="${BR:0:15}"
NETWORKS+=("$NET")
docker network create --driver bridge --subnet "$PFX.0/24" --ip-range "$PFX.0/25" --gateway "$PFX.1" \
  -o "com.docker.network.bridge.name=$BR" "$NET" >/dev/null
log "mode 2: docker network $NET: subnet $PFX.0/24, Docker allocates from $PFX.0/25, guests at $PFX.200 and $PFX.201, host side $BR ($PFX.1)"

M2="nsd-smoke-m2-$TAG"
run_container "$M2" --network "$NET" --cap-add NET_ADMIN --device /dev/net/tun --health-interval 2s --health-timeout 5s \
  "$IMAGE" --uplink eth0 --rtos-ip "$PFX.200/24" --gpos-ip "$PFX.201/24" --gateway "$PFX.1"
wait_ready "$M2"
CIP="$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$M2")"
ports="$(docker exec "$M2" ip -o link show | sed -nE 's/^[0-9]+: ([^:@]+)[^ ]* .* master ([^ ]+) .*/\1->\2/p' | tr '\n' ' ')"
grep -qE '(^| )eth0->' <<<"$ports" && grep -qE '(^| )nstap0->' <<<"$ports" || fail "mode 2: eth0 and nstap0 are not both on a bridge in the container: $ports"
log "mode 2: container at $CIP (its address now on its bridge); bridge ports in it: $ports"
start_tcpdump "$WORK/mode2.pcap" "$BR"
ping_ok "mode 2" "$PFX.200"
ping_ok "mode 2" "$PFX.201"
ping_ok "mode 2 (the container itself, its address now on its bridge)" "$CIP"
udp_echo_ok "mode 2" "$PFX.200"
neigh_ok "mode 2" "$BR"
stop_tcpdump
check_pcap "mode 2" "$WORK/mode2.pcap" "$PFX.200=$RTOS_MAC" "$PFX.201=$GPOS_MAC"
wait_healthy "$M2"
stop_container "mode 2" "$M2"
docker rm -f "$M2" >/dev/null
docker network rm "$NET" >/dev/null || fail "mode 2: cannot remove $NET (an endpoint left behind?)"
NETWORKS=()
if ip link show "$BR" >/dev/null 2>&1; then fail "mode 2: $BR still exists after docker network rm"; fi
log "mode 2: container, network $NET and bridge $BR removed"

log "PASS: both modes, both guests, in $((SECONDS - T0)) s"
