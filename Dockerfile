# nanoshare in a container: the simulated machine, its TAP in the container's network namespace
# (or the host's, with --network host). Needs --cap-add NET_ADMIN --device /dev/net/tun.
#
#   docker build -t nanoshare .
#   docker run --rm --network host --cap-add NET_ADMIN --device /dev/net/tun nanoshare
#   docker run ... nanoshare --uplink eth0 --config /etc/nanoshare/guests.json   # args go to `nanoshare run`
#
# BASE: the official Node 20 slim image by default; any image with the same layout works
# (node, npm and the Node headers under /usr/local), e.g. the one scripts/docker-base.sh builds
# from Debian packages where Docker Hub is out of reach: --build-arg BASE=nanoshare-base:local
ARG BASE=node:20-slim

# ---- build: TypeScript (prepare) and the TAP addon (install script), with everything npm ci does
FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# The addon compiles against the headers of the image's own Node, never downloaded ones.
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
# npm ci proper: reinstalls from the cache filled above, builds the native modules, runs the
# addon build (install) and tsc and the bundle (prepare). Then keep only what runs: the bin requires
# dist/bundle/nanoshare.cjs (scripts/bundle.mjs), never the rest of dist/.
RUN npm ci --prefer-offline \
 && test -f dist/bundle/nanoshare.cjs && test -f dist/bundle/nanoshare.cjs.cache \
 && ls native/build/Release/*.node \
 && npm prune --omit=dev \
 && mkdir -p /out/native/build/Release /out/dist \
 && cp -a package.json package-lock.json bin node_modules /out/ \
 && cp -a dist/bundle /out/dist/ \
 && cp -a native/build/Release/*.node /out/native/build/Release/

# ---- runtime: slim, with iproute2 (the CLI sets up the TAP, bridge and addresses with `ip`)
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/nanoshare
COPY --from=build /out/ ./
RUN ln -s /opt/nanoshare/bin/nanoshare /usr/local/bin/nanoshare \
 && mkdir -p /run/nanoshare
ENV NODE_ENV=production \
    NANOSHARE_CONTROL=/run/nanoshare/control.sock
# The TAP, bridge and addresses need CAP_NET_ADMIN, which a non-root user would not keep.
USER root
# Asks the running machine over its control socket (not just "is the process there"); run and
# stats both default to $NANOSHARE_CONTROL, so this works whatever --tap is given.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["nanoshare", "stats"]
ENTRYPOINT ["nanoshare", "run"]
CMD []
