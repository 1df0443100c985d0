#!/usr/bin/env bash
# Build a local stand-in for the official node:20-slim image, from Debian packages and the
# Node.js of this machine, for machines that cannot pull from Docker Hub (our CI reaches only
# the npm registry and Debian's mirrors).
#
#   scripts/docker-base.sh [IMAGE]        # default nanoshare-base:local; no-op if it exists
#   docker build --build-arg BASE=nanoshare-base:local -t nanoshare .
#
# The layout matches the official image, so the Dockerfile is the same for both:
#   /usr/local/bin/node, /usr/local/include/node (headers for node-gyp),
#   /usr/local/lib/node_modules/npm (+ npm/npx links), a `node` user (uid 1000).
# Debian suite and mirror: those of this machine's apt (override with DEBIAN_SUITE / DEBIAN_MIRROR).
# Extra CA certificates of this machine (/usr/local/share/ca-certificates, e.g. an egress proxy's)
# and its global npmrc are copied in, so npm inside `docker build` reaches the registry the way
# the host does. NANOSHARE_BASE_REBUILD=1 rebuilds even if the image exists.
set -euo pipefail

IMAGE="${1:-nanoshare-base:local}"
log() { printf '[docker-base] %s\n' "$*" >&2; }

if [[ "${NANOSHARE_BASE_REBUILD:-0}" != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists (NANOSHARE_BASE_REBUILD=1 to rebuild)"
  exit 0
fi

# --- what to build from ------------------------------------------------------------------
NODE_BIN="$(node -p process.execPath)"
NODE_PREFIX="$(dirname "$(dirname "$NODE_BIN")")"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
NODE_VERSION="$(node -p process.versions.node)"
[[ "$NODE_MAJOR" -ge 20 ]] || { log "node $NODE_VERSION is too old (need >= 20)"; exit 1; }
NODE_HEADERS="$NODE_PREFIX/include/node"
NPM_DIR="$NODE_PREFIX/lib/node_modules/npm"
[[ -f "$NODE_HEADERS/node_api.h" ]] || { log "no Node headers at $NODE_HEADERS (needed to build the addon)"; exit 1; }
[[ -f "$NPM_DIR/bin/npm-cli.js" ]] || { log "no npm at $NPM_DIR"; exit 1; }

# The suite and mirror this machine's apt uses (deb822 .sources first, then sources.list).
detect_apt() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      /^URIs:/ { uri = $2 } /^Suites:/ { suite = $2 }
      /^$/ { if (uri ~ /debian\/?$/ && suite != "") { print uri, suite; exit } uri = ""; suite = "" }
      END { if (uri ~ /debian\/?$/ && suite != "") print uri, suite }' "$f" | head -n1
  done
  if [[ -f /etc/apt/sources.list ]]; then
    awk '$1 == "deb" && $2 !~ /^\[/ && $2 ~ /debian\/?$/ { print $2, $3; exit }' /etc/apt/sources.list
  fi
}
read -r APT_MIRROR APT_SUITE < <(detect_apt | head -n1; echo) || true
MIRROR="${DEBIAN_MIRROR:-${APT_MIRROR:-http://deb.debian.org/debian}}"
SUITE="${DEBIAN_SUITE:-${APT_SUITE:-bookworm}}"
log "building $IMAGE: debian $SUITE from $MIRROR + node $NODE_VERSION from $NODE_PREFIX"

command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }

# --- the rootfs --------------------------------------------------------------------------
WORK="$(mktemp -d /tmp/nanoshare-base.XXXXXX)"
ROOTFS="$WORK/rootfs"
cleanup() {
  # debootstrap may leave proc/sys mounted inside the rootfs if it fails; unmount before rm.
  local m
  for m in $(awk -v r="$ROOTFS" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  log "debootstrap failed; last lines of its log:"; tail -n 20 "$WORK/debootstrap.log" >&2; exit 1;
}

# Node.js, laid out as in the official image.
install -D -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/include" "$ROOTFS/usr/local/lib/node_modules"
cp -a "$NODE_HEADERS" "$ROOTFS/usr/local/include/node"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# This machine's extra CAs (an egress proxy's, say) and npm's global config (cafile & co).
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
fi
chroot "$ROOTFS" /usr/sbin/update-ca-certificates >/dev/null 2>&1 || log "warning: update-ca-certificates failed in the rootfs"
mkdir -p "$ROOTFS/usr/local/etc"
{
  # Keep only settings that make sense in the image (no host paths other than the CA bundle).
  for rc in "$NODE_PREFIX/etc/npmrc" /etc/npmrc; do
    [[ -f "$rc" ]] && grep -hE '^\s*(cafile|ca|strict-ssl|registry|proxy|https-proxy|noproxy)\s*=' "$rc" || true
  done
  printf 'update-notifier=false\nfund=false\n'
} | awk '!seen[$0]++' >"$ROOTFS/usr/local/etc/npmrc"

# The `node` user of the official image, and a smaller footprint.
chroot "$ROOTFS" /usr/sbin/groupadd --gid 1000 node
chroot "$ROOTFS" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$ROOTFS" /usr/local/bin/node --version >/dev/null || { log "node does not run in the rootfs"; exit 1; }
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/*
for d in proc sys dev; do mountpoint -q "$ROOTFS/$d" && umount -l "$ROOTFS/$d" || true; done

tar --numeric-owner -C "$ROOTFS" -c . | docker import \
  -c "ENV NODE_VERSION=$NODE_VERSION" \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["node"]' \
  -m "nanoshare local base: debian $SUITE + node $NODE_VERSION" \
  - "$IMAGE" >/dev/null
log "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"
