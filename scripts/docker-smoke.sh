#!/usr/bin/env bash
# Smoke test of the Docker path: build the image, run both documented modes, ping both guests
# from the host side, capture there with tcpdump and check the capture with pcap-parser, stop
# the container and check what it made is gone.
#
#   scripts/docker-smoke.sh                      # as root; ~1-2 min warm, a few more cold
#
# The lab rule (shared/DESIGN.md): everything runs in a network namespace this script creates
# (nsd-smoke-PID) and deletes. It starts a Docker engine of its own INSIDE that namespace
# (nsenter --net + a private mount namespace, like `ip netns exec` but keeping the cgroup
# mounts dockerd needs; own socket /run/nanoshare-smoke/docker.sock, exec-root and pidfile
# there, a persistent data-root /var/lib/nanoshare-smoke-docker so the base image and the
# layer cache survive between runs) and points every docker command at it with DOCKER_HOST.
# It never uses or touches a dockerd already running on the machine. So whatever Docker makes
# (docker0, the user-defined bridge, veths, addresses, TAPs) lives in the lab namespace, and
# "the host" of a container is that namespace:
# - Mode 1 is the documented command itself: docker run --rm --network host --cap-add NET_ADMIN
#   --device /dev/net/tun IMAGE; nstap0 and 10.77.0.1 appear in the lab namespace, where the
#   host-side commands (ping, ip neigh, tcpdump, the UDP echo) run with `ip netns exec`.
# - Mode 2 (--uplink eth0) runs on a user-defined network (--subnet + a smaller --ip-range)
#   made by that engine, so its bridge is in the lab namespace too; pinged from there.
# - The root namespace's `ip -o link` / `ip -o addr` are recorded before the run, compared
#   during each mode and after the cleanup; any difference fails the run.
# - The engine's flags: --iptables=false (no rules, and no kernel module loads, which would be
#   machine-wide); docker0 and ip_forward are per-namespace, so the defaults stay.
#
# The build: `docker build --network host` now means the lab namespace, which has no route out,
# yet the build needs the npm registry (npm ci) and the Debian mirror (apt-get in both stages).
# The image is built exactly as a user builds it (the Dockerfile is unchanged) through a
# forwarding proxy: a small Node proxy in the root namespace listening on a Unix socket (a file,
# no interface, no address) that only connects to an allow-list of hosts (the npm registry and
# the Debian mirrors; NANOSHARE_BUILD_PROXY_ALLOW adds more), and a relay in the lab namespace
# on 127.0.0.1:3128 that forwards to that socket; the build gets HTTP(S)_PROXY build args
# (Docker's predefined ones, kept out of the image's history). Only TCP streams to those hosts
# leave, opened by a root-namespace process as `npm ci` on the host would; no frame leaves the
# namespace. (Pre-fetching instead, e.g. an npm cache in the context and `npm ci --offline`,
# would still need apt-get, i.e. a Dockerfile with an offline path the users never run.) The
# local base image (scripts/docker-base.sh: debootstrap on the host, then `docker import`) needs
# no network in the namespace.
#
# Environment:
#   NANOSHARE_REQUIRE_DOCKER=1   no root, /dev/net/tun or Docker engine fails instead of skipping
#   NANOSHARE_DOCKER_BASE=IMAGE  base image (default nanoshare-base:local, built by scripts/docker-base.sh
#                                from Debian packages if missing; node:20-slim where Docker Hub is reachable)
#   NANOSHARE_SMOKE_REF=REF      build from `git archive REF` instead of the working tree
#   NANOSHARE_IMAGE=NAME         tag of the image built (default nanoshare:smoke)
#   NANOSHARE_SMOKE_DATA_ROOT=DIR   the engine's --data-root (default /var/lib/nanoshare-smoke-docker;
#                                delete it for a cold run)
#   NANOSHARE_DOCKERD_FLAGS=...  extra flags of the engine (default: --iptables=false)
#   NANOSHARE_BUILD_PROXY_ALLOW="HOST..."  more hosts the build may reach (and their subdomains)
#   KEEP_WORK=1                  keep the work directory (build log, captures, container logs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="$$"
IMAGE="${NANOSHARE_IMAGE:-nanoshare:smoke}"
BASE="${NANOSHARE_DOCKER_BASE:-nanoshare-base:local}"
REQUIRE="${NANOSHARE_REQUIRE_DOCKER:-0}"
DATA_ROOT="${NANOSHARE_SMOKE_DATA_ROOT:-/var/lib/nanoshare-smoke-docker}"
RUNDIR=/run/nanoshare-smoke
NS="nsd-smoke-$TAG"
PROXY_PORT=3128
# The guests' MACs are derived per machine (host identity, TAP, name): wait_ready reads them
# from each container's ready line.
RTOS_MAC=
GPOS_MAC=
export DOCKER_HOST="unix://$RUNDIR/docker.sock" # our engine, never the machine's
unset DOCKER_CONTEXT
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
inns=(ip netns exec "$NS") # run a command in the lab namespace ("the host" of the containers)

# The root namespace's interfaces and addresses, one line each (names, kinds, MACs, addresses).
root_ns_state() {
  {
    ip -o link show | sed -E 's/^[0-9]+: ([^:]+):.*link\/([a-z0-9]+) ?([0-9a-f:]*).*/link \1 \2 \3/'
    ip -o addr show | awk '{ print "addr", $2, $3, $4 }'
  } | sort
}
ROOT_BEFORE=""
# Prints what changed in the root namespace since the start; returns 1 if anything did.
root_ns_diff() {
  [[ -n "$ROOT_BEFORE" ]] || return 0
  local d
  d="$(diff <(printf '%s\n' "$ROOT_BEFORE") <(root_ns_state) | grep -E '^[<>]' || true)"
  [[ -z "$d" ]] && return 0
  sed 's/^/    root namespace: /' <<<"$d"
  return 1
}
root_ns_unchanged() {
  root_ns_diff || fail "$1: the root network namespace changed (above: < gone, > new)"
  log "$1: root namespace unchanged ($(grep -c '^link' <<<"$ROOT_BEFORE") links, $(grep -c '^addr' <<<"$ROOT_BEFORE") addresses, same as before the run)"
}

# ---- cleanup: everything this script made, by name or PID, in order -------------------------
WORK=""
CONTAINERS=()
NETWORKS=()
BG_PIDS=()
RUN_PIDS=()
PROXY_PIDS=()
DOCKERD_PID=""
NS_MADE=0
RUNDIR_MADE=0
cleanup() {
  local rc=$?
  set +e
  for p in "${BG_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [[ -n "$DOCKERD_PID" ]]; then
    if [[ $rc -ne 0 && ${#CONTAINERS[@]} -gt 0 ]]; then
      for c in "${CONTAINERS[@]}"; do
        docker inspect "$c" >/dev/null 2>&1 || continue
        echo "---- last log lines of container $c"
        docker logs --tail 25 "$c" 2>&1 | sed 's/^/    /'
      done
    fi
    for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
    # An attached `docker run` client returns once its container is gone.
    for p in "${RUN_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for n in "${NETWORKS[@]}"; do docker network rm "$n" >/dev/null 2>&1; done
    log "stopping the dockerd of $NS (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  for p in "${PROXY_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PROXY_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [[ $NS_MADE == 1 ]]; then
    # Anything still in the namespace was started by this run (a shim, a container process).
    local left
    left="$(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ')"
    if [[ -n "${left// /}" ]]; then
      log "killing what is left in $NS: pids $left"
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null
      sleep 0.5
    fi
    ip netns del "$NS" 2>/dev/null || log "warning: cannot delete namespace $NS"
    log "namespace $NS deleted"
  fi
  [[ $RUNDIR_MADE == 1 ]] && rm -rf "$RUNDIR"
  if [[ -n "$ROOT_BEFORE" ]]; then
    if root_ns_diff; then
      log "after cleanup: root namespace unchanged"
    else
      log "FAIL: after cleanup: the root network namespace differs from before the run (above)"
      [[ $rc -eq 0 ]] && rc=1
    fi
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
[[ "$(id -u)" == 0 ]] || skip "needs root (it makes a network namespace and starts dockerd in it)"
[[ -c /dev/net/tun ]] || skip "this machine has no /dev/net/tun"
WORK="$(mktemp -d /tmp/nsd-smoke.XXXXXX)"

apt_install() {
  command -v apt-get >/dev/null || return 1
  log "apt-get install $*"
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >"$WORK/apt.log" 2>&1 || { tail -n 5 "$WORK/apt.log"; return 1; }
}
missing=()
for t in ip:iproute2 tcpdump:tcpdump ping:iputils-ping flock:util-linux; do
  command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
[[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}" || fail "cannot install ${missing[*]}"
command -v node >/dev/null || fail "node is needed on the host (the capture checker, the build proxy, the base image's Node)"
if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
  apt_install docker.io || skip "no Docker engine, and apt-get install docker.io failed"
fi

# One run at a time owns the data-root (and $RUNDIR): a lock on the directory, held by this
# shell and inherited by its dockerd.
mkdir -p "$DATA_ROOT"
exec 9<"$DATA_ROOT"
flock -n 9 || fail "$DATA_ROOT is in use by another docker-smoke run (or a dockerd it left: see $RUNDIR/docker.pid)"

ROOT_BEFORE="$(root_ns_state)"

# ---- the lab namespace and its Docker engine ---------------------------------------------------
ip netns add "$NS" 2>"$WORK/netns.log" || skip "cannot create a network namespace: $(head -n 1 "$WORK/netns.log")"
NS_MADE=1
"${inns[@]}" ip link set lo up
rm -rf "$RUNDIR"
mkdir -p "$RUNDIR"
RUNDIR_MADE=1
echo '{}' >"$WORK/daemon.json" # not the machine's /etc/docker/daemon.json
read -r -a dockerd_flags <<<"${NANOSHARE_DOCKERD_FLAGS:---iptables=false}"
log "namespace $NS: starting dockerd ${dockerd_flags[*]} --data-root $DATA_ROOT (log: $WORK/dockerd.log)"
# dockerd gets a mount namespace of its own (mounts made there vanish with it): a sysfs of the
# lab namespace (so /sys/class/net shows its devices, as `ip netns exec` does) with this
# machine's cgroup hierarchy moved back under it, and /run/containerd hidden, so that it starts
# its own containerd (in the lab namespace, under the exec-root) instead of using a system one,
# whose shims would put `--network host` containers in the root namespace.
mkdir -p "$RUNDIR/cgroup"
nsenter --net="/run/netns/$NS" unshare --mount --propagation slave sh -c '
  set -e
  mount --rbind /sys/fs/cgroup "$0"
  mount -t sysfs sysfs /sys
  mount --move "$0" /sys/fs/cgroup
  if [ -d /run/containerd ]; then mount -t tmpfs -o size=64k nanoshare-smoke /run/containerd; fi
  exec "$@"' "$RUNDIR/cgroup" \
  dockerd --config-file "$WORK/daemon.json" --host "$DOCKER_HOST" --exec-root "$RUNDIR/exec" \
  --pidfile "$RUNDIR/docker.pid" --data-root "$DATA_ROOT" "${dockerd_flags[@]}" >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 120); do
  docker version >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || break
  sleep 0.5
done
if ! docker version >/dev/null 2>&1; then
  reason="$(grep -iE 'level=(fatal|error)|^failed to start|unknown flag' "$WORK/dockerd.log" | tail -n 1 | sed -E 's/.*msg="?([^"]*)"?.*/\1/' || true)"
  kill -0 "$DOCKERD_PID" 2>/dev/null || { wait "$DOCKERD_PID" 2>/dev/null || true; DOCKERD_PID=""; }
  [[ -n "$reason" ]] || reason="$(tail -n 1 "$WORK/dockerd.log")"
  skip "dockerd cannot start in a network namespace here: ${reason:-it did not answer within 60 s}"
fi
log "docker engine $(docker version -f '{{.Server.Version}}' 2>/dev/null) ready in $NS (pid $DOCKERD_PID)"
# Left by an earlier run that was killed (the data-root keeps them): remove.
stale_c="$(docker ps -aq --filter name=nsd-smoke- | tr '\n' ' ')"
stale_n="$(docker network ls -q --filter name=nsd-smoke- | tr '\n' ' ')"
# shellcheck disable=SC2086
[[ -z "${stale_c// /}" ]] || { docker rm -f $stale_c >/dev/null; log "removed containers left by an earlier run: $stale_c"; }
# shellcheck disable=SC2086
[[ -z "${stale_n// /}" ]] || { docker network rm $stale_n >/dev/null; log "removed networks left by an earlier run: $stale_n"; }

# ---- the build proxy: lab namespace 127.0.0.1:3128 -> Unix socket -> allow-listed hosts -----------
cat >"$WORK/build-proxy.mjs" <<'JS'
// node build-proxy.mjs serve SOCKET HOST...   (root namespace) HTTP proxy on a Unix socket:
//   CONNECT host:443 and plain http:// requests, to the listed hosts (and subdomains) only.
// node build-proxy.mjs relay PORT SOCKET      (lab namespace) 127.0.0.1:PORT -> SOCKET.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
const [mode, ...args] = process.argv.slice(2);
const quit = () => process.exit(0);
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
if (mode === 'relay') {
  const [port, sock] = args;
  net.createServer((c) => {
    const u = net.connect(sock);
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  }).listen(Number(port), '127.0.0.1', () => console.log('listening'));
} else {
  const [sock, ...allow] = args;
  const allowed = (h) => allow.some((d) => h === d || h.endsWith(`.${d}`));
  const say = (verdict, what) => console.log(`${verdict} ${what}`);
  const server = http.createServer((req, res) => {
    let u;
    try { u = new URL(req.url); } catch { res.writeHead(400).end(); return; }
    if (u.protocol !== 'http:' || !allowed(u.hostname)) {
      say('denied', u.host);
      res.writeHead(403).end(`nanoshare build proxy: ${u.host} is not allowed\n`);
      return;
    }
    say('allowed', u.host);
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const up = http.request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => { if (!res.headersSent) res.writeHead(502).end(String(e)); else res.destroy(); });
    req.pipe(up);
  });
  server.on('connect', (req, c, head) => {
    const m = /^([^:]+):(\d+)$/.exec(req.url ?? '');
    if (!m || m[2] !== '443' || !allowed(m[1])) {
      say('denied', req.url);
      c.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    say('allowed', req.url);
    const up = net.connect(Number(m[2]), m[1], () => {
      c.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(c).pipe(up);
    });
    up.on('error', () => c.destroy());
    c.on('error', () => up.destroy());
  });
  fs.rmSync(sock, { force: true });
  server.listen(sock, () => console.log('listening'));
}
JS
# Wait (up to 10 s) until a background process's log matches PATTERN; fail with WHAT if it dies
# or never does.
wait_for_log() {
  local pattern="$1" logf="$2" pid="$3" what="$4"
  for _ in $(seq 1 40); do
    grep -q "$pattern" "$logf" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  cat "$logf"
  fail "$what did not start"
}
npm_registry_host="$(cd "$ROOT" && npm config get registry 2>/dev/null | sed -E 's#^[a-z]+://([^/:]+).*#\1#')"
read -r -a proxy_allow <<<"${npm_registry_host:-registry.npmjs.org} registry.npmjs.org deb.debian.org security.debian.org ${NANOSHARE_BUILD_PROXY_ALLOW:-}"
[[ -n "${DEBIAN_MIRROR:-}" ]] && proxy_allow+=("$(sed -E 's#^[a-z]+://([^/:]+).*#\1#' <<<"$DEBIAN_MIRROR")")
node "$WORK/build-proxy.mjs" serve "$RUNDIR/build-proxy.sock" "${proxy_allow[@]}" >"$WORK/build-proxy.log" 2>&1 &
PROXY_PIDS+=($!)
wait_for_log '^listening' "$WORK/build-proxy.log" $! "the build proxy's server (root namespace, Unix socket)"
"${inns[@]}" node "$WORK/build-proxy.mjs" relay "$PROXY_PORT" "$RUNDIR/build-proxy.sock" >"$WORK/build-relay.log" 2>&1 &
PROXY_PIDS+=($!)
wait_for_log '^listening' "$WORK/build-relay.log" $! "the build proxy's relay (in $NS)"
log "build proxy: 127.0.0.1:$PROXY_PORT in $NS -> $RUNDIR/build-proxy.sock -> only: ${proxy_allow[*]}"

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
proxy="http://127.0.0.1:$PROXY_PORT"
proxy_args=()
for v in HTTP_PROXY HTTPS_PROXY http_proxy https_proxy; do proxy_args+=(--build-arg "$v=$proxy"); done
log "docker build --network host (= $NS) --build-arg BASE=$BASE -t $IMAGE, through the build proxy (log: $WORK/build.log)"
t=$SECONDS
old_id="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
docker build --force-rm --network host "${proxy_args[@]}" --build-arg "BASE=$BASE" -t "$IMAGE" "$CTX" >"$WORK/build.log" 2>&1 || {
  tail -n 30 "$WORK/build.log"
  grep '^denied' "$WORK/build-proxy.log" | sort | uniq -c | sed 's/^/    build proxy: /'
  fail "docker build failed"
}
proxied="$(grep -E '^(allowed|denied)' "$WORK/build-proxy.log" | sed -E 's/:443$//' | sort | uniq -c | awk '{ printf "%s%s %s x%d", sep, $2, $3, $1; sep = ", " }' || true)"
log "image $IMAGE built in $((SECONDS - t)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }')); build proxy: ${proxied:-no requests (all cached)}"
# The previous run's image, if this build replaced it (no `image prune`: that would also drop
# the build stage's cache, which no tagged image holds).
new_id="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
[[ -z "$old_id" || "$old_id" == "$new_id" ]] || docker rmi "$old_id" >/dev/null 2>&1 || true

COMPOSE=""
for compose in "docker compose" docker-compose; do
  if $compose version >/dev/null 2>&1; then
    COMPOSE="$compose"
    for f in docker-compose.yml examples/compose-vxlan.yaml; do
      (cd "$ROOT" && $compose -f "$f" config -q) || fail "$f does not validate ($compose config)"
      log "$f validates ($compose config)"
    done
    break
  fi
done

# ---- helpers --------------------------------------------------------------------------------
# Start a detached container, remembered for cleanup.
run_container() {
  local name="$1"
  shift
  CONTAINERS+=("$name")
  docker run -d --name "$name" "$@" >/dev/null 2>"$WORK/$name.run.log" || { cat "$WORK/$name.run.log"; fail "docker run $name failed"; }
}

# The MAC the ready line of container $1 gives guest $2.
guest_mac() {
  docker logs "$1" 2>&1 | grep '"msg":"ready"' | head -n1 |
    node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const g=JSON.parse(s).guests.find((x)=>x.name===process.argv[1]);process.stdout.write(g?g.mac:"")})' "$2"
}

# Waits for the "ready" log line. RUN_PID: the `docker run` client of an attached container
# (the container may not exist yet while it starts).
wait_ready() {
  local c="$1" run_pid="${2:-}" state
  for _ in $(seq 1 60); do
    if docker logs "$c" 2>&1 | grep -q '"msg":"ready"'; then
      RTOS_MAC="$(guest_mac "$c" rtos)"
      GPOS_MAC="$(guest_mac "$c" gpos)"
      [[ "$RTOS_MAC" =~ ^[0-9a-f:]{17}$ && "$GPOS_MAC" =~ ^[0-9a-f:]{17}$ ]] || fail "container $c: no guest MACs in its ready line"
      log "$c: ready; rtos $RTOS_MAC, gpos $GPOS_MAC (derived)"
      return 0
    fi
    state="$(docker inspect -f '{{.State.Status}}' "$c" 2>/dev/null)" || state=missing
    case "$state" in
      created | running) ;;
      missing) [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null || fail "container $c is gone before \"ready\"" ;;
      *) fail "container $c is $state (exit code $(docker inspect -f '{{.State.ExitCode}}' "$c")) before \"ready\"" ;;
    esac
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
  wait_for_log 'listening on' "$file.log" "$TCPDUMP_PID" "tcpdump on $iface"
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
// with an echo reply from exactly that MAC. Prints a one-line summary. With NANOSHARE_READER set
// (the repo's built capture reader), that reader must read the same frames, every record whole.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
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
parser.on('end', async () => {
  const bad = [];
  if (linkType !== 1) bad.push(`link type ${linkType}, expected 1 (Ethernet)`);
  if (process.env.NANOSHARE_READER) {
    const { readCapture } = await import(process.env.NANOSHARE_READER);
    const c = readCapture(readFileSync(file));
    if (c.stopped) bad.push(`capture reader: ${c.stopped}`);
    if (c.packets.length !== frames) bad.push(`capture reader read ${c.packets.length} frames, pcap-parser ${frames}`);
  }
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
  local reader=""
  [ -f "$ROOT/dist/capture/reader.js" ] && reader="$ROOT/dist/capture/reader.js"
  out="$(NANOSHARE_READER="$reader" node "$WORK/check-pcap.mjs" "$PCAP_REQ_BASE" "$file" "$@" 2>&1)" || { echo "$out"; fail "$label: the capture does not show both guests answering"; }
  local by="pcap-parser"
  [ -n "$reader" ] && by="pcap-parser and nanoshare's reader"
  log "$label: capture checked with $by: $out"
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

# ---- mode 1: host networking; "the host" is the lab namespace --------------------------------
M1="nsd-smoke-m1-$TAG"
CONTAINERS+=("$M1")
log "mode 1: docker run --rm --network host --cap-add NET_ADMIN --device /dev/net/tun $IMAGE (host = $NS)"
docker run --rm --name "$M1" --network host --cap-add NET_ADMIN --device /dev/net/tun \
  --health-interval 2s --health-timeout 5s "$IMAGE" >"$WORK/$M1.out" 2>&1 &
M1_RUN=$!
RUN_PIDS+=("$M1_RUN")
wait_ready "$M1" "$M1_RUN"
"${inns[@]}" ip link show nstap0 >/dev/null 2>&1 || fail "mode 1: no nstap0 in $NS (the container's host)"
"${inns[@]}" ip -4 addr show dev nstap0 | grep -q '10\.77\.0\.1/24' || fail "mode 1: nstap0 in $NS lacks 10.77.0.1/24"
log "mode 1: nstap0 with 10.77.0.1/24 in $NS"
start_tcpdump "$WORK/mode1.pcap" nstap0 "${inns[@]}"
ping_ok "mode 1" 10.77.0.10 "${inns[@]}"
ping_ok "mode 1" 10.77.0.11 "${inns[@]}"
udp_echo_ok "mode 1" 10.77.0.11 "${inns[@]}"
neigh_ok "mode 1" nstap0 "${inns[@]}"
stop_tcpdump
check_pcap "mode 1" "$WORK/mode1.pcap" "10.77.0.10=$RTOS_MAC" "10.77.0.11=$GPOS_MAC"
wait_healthy "$M1"
root_ns_unchanged "mode 1 (running)"
docker stop -t 15 "$M1" >/dev/null
m1_rc=0
wait "$M1_RUN" || m1_rc=$?
RUN_PIDS=()
[[ $m1_rc == 0 ]] || { tail -n 5 "$WORK/$M1.out"; fail "mode 1: docker run exited with code $m1_rc after docker stop (expected 0)"; }
log "mode 1: docker stop: docker run exited 0"
for _ in $(seq 1 20); do docker inspect "$M1" >/dev/null 2>&1 || break; sleep 0.25; done
if docker inspect "$M1" >/dev/null 2>&1; then fail "mode 1: container $M1 still exists after docker stop (--rm)"; fi
if "${inns[@]}" ip link show nstap0 >/dev/null 2>&1; then fail "mode 1: nstap0 is still in $NS after the container stopped"; fi
if "${inns[@]}" ip -4 addr show | grep -q '10\.77\.0\.1/'; then fail "mode 1: 10.77.0.1 is still in $NS"; fi
log "mode 1: container removed (--rm); nstap0 and 10.77.0.1 gone from $NS"
CONTAINERS=()

# ---- mode 2: the container's own network, --uplink eth0 ---------------------------------------
# Any /24 will do: the lab namespace routes nothing but what this engine makes.
PFX="10.213.$((TAG % 200 + 20))"
NET="nsd-smoke-net-$TAG"
BR="nsdbr$TAG"
BR="${BR:0:15}"
NETWORKS+=("$NET")
docker network create --driver bridge --subnet "$PFX.0/24" --ip-range "$PFX.0/25" --gateway "$PFX.1" \
  -o "com.docker.network.bridge.name=$BR" "$NET" >/dev/null
"${inns[@]}" ip -4 addr show dev "$BR" 2>/dev/null | grep -q "$PFX\.1/24" || fail "mode 2: no bridge $BR with $PFX.1/24 in $NS"
log "mode 2: docker network $NET: subnet $PFX.0/24, Docker allocates from $PFX.0/25, guests at $PFX.200 and $PFX.201, host side $BR ($PFX.1) in $NS"

M2="nsd-smoke-m2-$TAG"
run_container "$M2" --network "$NET" --cap-add NET_ADMIN --device /dev/net/tun --health-interval 2s --health-timeout 5s \
  "$IMAGE" --uplink eth0 --rtos-ip "$PFX.200/24" --gpos-ip "$PFX.201/24" --gateway "$PFX.1"
wait_ready "$M2"
CIP="$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$M2")"
ports="$(docker exec "$M2" ip -o link show | sed -nE 's/^[0-9]+: ([^:@]+)[^ ]* .* master ([^ ]+) .*/\1->\2/p' | tr '\n' ' ')"
grep -qE '(^| )eth0->' <<<"$ports" && grep -qE '(^| )nstap0->' <<<"$ports" || fail "mode 2: eth0 and nstap0 are not both on a bridge in the container: $ports"
log "mode 2: container at $CIP (its address now on its bridge); bridge ports in it: $ports"
start_tcpdump "$WORK/mode2.pcap" "$BR" "${inns[@]}"
ping_ok "mode 2" "$PFX.200" "${inns[@]}"
ping_ok "mode 2" "$PFX.201" "${inns[@]}"
ping_ok "mode 2 (the container itself, its address now on its bridge)" "$CIP" "${inns[@]}"
udp_echo_ok "mode 2" "$PFX.200" "${inns[@]}"
neigh_ok "mode 2" "$BR" "${inns[@]}"
stop_tcpdump
check_pcap "mode 2" "$WORK/mode2.pcap" "$PFX.200=$RTOS_MAC" "$PFX.201=$GPOS_MAC"
wait_healthy "$M2"
root_ns_unchanged "mode 2 (running)"
stop_container "mode 2" "$M2"
docker rm -f "$M2" >/dev/null
CONTAINERS=()
docker network rm "$NET" >/dev/null || fail "mode 2: cannot remove $NET (an endpoint left behind?)"
NETWORKS=()
if "${inns[@]}" ip link show "$BR" >/dev/null 2>&1; then fail "mode 2: $BR still exists in $NS after docker network rm"; fi
log "mode 2: container, network $NET and bridge $BR removed"

# ---- examples/compose-vxlan.yaml: two machines on one Docker network joined by VXLAN -----------
# The Compose file as a user runs it (no NET_ADMIN, no TUN: the links are UDP sockets), on the
# image just built (tagged as the file names it). m1's rtos sends telemetry to m2's gpos UDP echo
# through the overlay; m2 must have echoed some, m1's link must have learned m2's guests.
VX_DONE=""
if [[ -n "$COMPOSE" ]]; then
  VXP="nsd-smoke-vx-$TAG"
  VXF="$ROOT/examples/compose-vxlan.yaml"
  docker tag "$IMAGE" nanoshare
  vx_down() { $COMPOSE -p "$VXP" -f "$VXF" down -t 10 >/dev/null 2>&1 || true; }
  NETWORKS+=("${VXP}_underlay")
  log "compose-vxlan: $COMPOSE -p $VXP -f examples/compose-vxlan.yaml up -d --no-build"
  $COMPOSE -p "$VXP" -f "$VXF" up -d --no-build >"$WORK/compose-vxlan.log" 2>&1 || { cat "$WORK/compose-vxlan.log"; vx_down; fail "compose-vxlan: up failed"; }
  echoed=0
  for _ in $(seq 1 60); do
    echoed="$($COMPOSE -p "$VXP" -f "$VXF" exec -T m2 nanoshare stats --json 2>/dev/null | node -e '
      let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
        try { const s = JSON.parse(t); console.log(s.guests.find((g) => g.name === "gpos")?.echo?.datagrams ?? 0); } catch { console.log(0); }
      });')" || echoed=0
    [[ "${echoed:-0}" -ge 3 ]] && break
    sleep 0.5
  done
  learned="$($COMPOSE -p "$VXP" -f "$VXF" exec -T m1 nanoshare stats --json 2>/dev/null | node -e '
    let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
      try { console.log(JSON.parse(t).link.fdbLearned); } catch { console.log(0); }
    });')" || learned=0
  if [[ "${echoed:-0}" -lt 3 || "${learned:-0}" -lt 1 ]]; then
    $COMPOSE -p "$VXP" -f "$VXF" logs --tail 10 2>&1 | sed 's/^/    /'
    vx_down
    fail "compose-vxlan: m2's gpos echoed ${echoed:-0} telemetry datagrams of m1's rtos (want >= 3), m1's link learned ${learned:-0} MACs"
  fi
  log "compose-vxlan: m2's gpos echoed $echoed datagrams of m1's rtos over VXLAN; m1's link learned $learned MACs behind m2"
  root_ns_unchanged "compose-vxlan (running)"
  vx_down
  NETWORKS=()
  docker rmi nanoshare >/dev/null 2>&1 || true
  VX_DONE=", two machines over VXLAN (Compose)"
else
  log "compose-vxlan: skipped: neither \`docker compose\` nor docker-compose is installed"
fi

log "PASS: both modes, both guests$VX_DONE, in $((SECONDS - T0)) s (then: cleanup and the root namespace check)"
