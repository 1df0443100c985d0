#!/usr/bin/env node
// Child of the TAP system test (src/link/tap.test.ts). Run INSIDE the test's network namespace:
// a TAP lives in the namespace of the process that opens /dev/net/tun.
//   node test/tap-netns-child.mjs <tap> <our-ipv4> <our-mac> [stallOnEchoMs]
// Opens the TAP with the native addon, answers ARP requests for <our-ipv4> from <our-mac>, and
// reports on stdout, one event a line: `ready <ifname>`, `ebusy <code>`, `batch <n>`,
// `arp-reply <asker-ip>`, `echo <seq>`. On the first ICMP echo request with sequence number 2 (the
// third of a burst from test/icmp-probe.mjs, which numbers from 0; a single probe never sends one) it blocks its own event loop for
// stallOnEchoMs, so the kernel queues the rest of the burst and the addon reads it as one batch.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const addon = require('../native/build/Release/nanoshare_tap.node');

const [tapName, ourIp, ourMac, stallArg] = process.argv.slice(2);
if (!tapName || !ourIp || !ourMac) {
  process.stderr.write('usage: tap-netns-child.mjs <tap> <ipv4> <mac> [stallOnEchoMs]\n');
  process.exit(64);
}
const stallOnEchoMs = Number(stallArg ?? 0);
const ipBytes = Uint8Array.from(ourIp.split('.').map(Number));
const macBytes = Uint8Array.from(ourMac.split(':').map((h) => parseInt(h, 16)));

// Ethernet II + ARP for IPv4 over Ethernet (RFC 826), offsets from the start of the frame.
const ETH_DST = 0, ETH_SRC = 6, ETH_TYPE = 12, ETH_LEN = 14;
const ARP_OP = ETH_LEN + 6, ARP_SHA = ETH_LEN + 8, ARP_SPA = ETH_LEN + 14, ARP_TPA = ETH_LEN + 24;
const ARP_LEN = 28;
const ETHERTYPE_ARP = 0x0806, ETHERTYPE_IPV4 = 0x0800;
const IP_PROTO = ETH_LEN + 9, IP_DST = ETH_LEN + 16; // ICMP follows the IHL-sized header

const say = (line) => process.stdout.write(line + '\n');
const u16 = (b, o) => (b[o] << 8) | b[o + 1];
const sameBytes = (b, o, want) => want.every((v, i) => b[o + i] === v);

let stalled = false;

// The addon reads frames into our receive buffer at rxState[0] and reports how many (native/tap.cc).
const READ_MAX = 1500 + 18 + 1;
const rxLengths = new Uint32Array(64);
const rxState = new Uint32Array(1);
let rxBuffer = new Uint8Array(64 * 1024);
const takeFrames = (count) => {
  const frames = [];
  let off = rxState[0];
  for (let i = 0; i < count; i++) {
    frames.push(rxBuffer.subarray(off, off + rxLengths[i]));
    off += (rxLengths[i] + 7) & ~7;
  }
  if (rxBuffer.length - off < READ_MAX) {
    rxBuffer = new Uint8Array(64 * 1024);
    tap.setRxBuffer(rxBuffer);
    off = 0;
  }
  rxState[0] = off;
  return frames;
};

const tap = new addon.Tap(
  tapName,
  (count) => {
    const frames = takeFrames(count);
    say(`batch ${frames.length}`);
    for (const f of frames) {
      const type = f.length >= ETH_LEN ? u16(f, ETH_TYPE) : -1;
      if (type === ETHERTYPE_ARP && f.length >= ETH_LEN + ARP_LEN && u16(f, ARP_OP) === 1 && sameBytes(f, ARP_TPA, ipBytes)) {
        const reply = new Uint8Array(ETH_LEN + ARP_LEN);
        reply.set(f.subarray(ARP_SHA, ARP_SHA + 6), ETH_DST);
        reply.set(macBytes, ETH_SRC);
        reply.set([ETHERTYPE_ARP >> 8, ETHERTYPE_ARP & 0xff], ETH_TYPE);
        reply.set([0, 1, 8, 0, 6, 4, 0, 2], ETH_LEN); // htype 1, ptype IPv4, hlen 6, plen 4, op reply
        reply.set(macBytes, ARP_SHA);
        reply.set(ipBytes, ARP_SPA);
        reply.set(f.subarray(ARP_SHA, ARP_SHA + 10), ETH_LEN + 18); // their sha+spa become tha+tpa
        const ok = tap.write(reply);
        say(`arp-reply ${Array.from(f.subarray(ARP_SPA, ARP_SPA + 4)).join('.')} ${ok ? 'sent' : 'dropped'}`);
      } else if (type === ETHERTYPE_IPV4 && f.length >= ETH_LEN + 20 && f[IP_PROTO] === 1 && sameBytes(f, IP_DST, ipBytes)) {
        const icmp = ETH_LEN + (f[ETH_LEN] & 0x0f) * 4;
        if (f.length < icmp + 8 || f[icmp] !== 8) continue; // echo request: type 8, seq at +6
        const seq = u16(f, icmp + 6);
        say(`echo ${seq}`);
        if (seq === 2 && !stalled && stallOnEchoMs > 0) {
          stalled = true;
          const until = Date.now() + stallOnEchoMs;
          while (Date.now() < until) {
            /* busy: the kernel queues the next frames meanwhile */
          }
        }
      }
    }
  },
  (err) => say(`error ${err.code} ${err.message}`),
  rxLengths,
  rxState,
  READ_MAX,
);
tap.setRxBuffer(rxBuffer);

// A second opener of the same (non-multiqueue) TAP must get the addon's EBUSY error.
try {
  new addon.Tap(tapName, () => {}, () => {}, new Uint32Array(64), new Uint32Array(1), READ_MAX).close();
  say('ebusy none');
} catch (e) {
  say(`ebusy ${e.code}`);
}

say(`ready ${tap.name}`);

const quit = () => {
  tap.close();
  tap.close(); // idempotent
  process.exit(0);
};
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
// Never outlive a test that lost track of us.
setTimeout(quit, 60_000).unref();
