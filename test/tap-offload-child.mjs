#!/usr/bin/env node
// Child of the TAP offload system test (src/link/tap.test.ts). Run INSIDE the test's network
// namespace, on a persistent TAP that a previous owner left with the CSUM and TSO4 offloads on
// (as QEMU does):   node test/tap-offload-child.mjs <tap>
// Opens it with the native addon as nanoshare does (virtio-net headers on), makes the kernel send
// a TCP SYN through it (a connect to a static neighbour), and prints one line a TCP frame read:
// `tcp checksum ok` or `tcp checksum bad`. Offloads left on would hand it partial checksums.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';

const require = createRequire(import.meta.url);
const addon = require('../native/build/Release/nanoshare_tap.node');
const tapName = process.argv[2];
if (!tapName) {
  process.stderr.write('usage: tap-offload-child.mjs <tap>\n');
  process.exit(64);
}

const lengths = new Uint32Array(64);
const state = new Uint32Array(1);
const rx = new Uint8Array(64 * 1024);
const sum = (f, from, to, initial) => {
  let s = initial;
  for (let i = from; i < to; i += 2) s += (f[i] << 8) | (i + 1 < to ? f[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
};
const tap = new addon.Tap(
  tapName,
  (count) => {
    let off = state[0];
    for (let i = 0; i < count; i++) {
      const f = rx.subarray(off, off + lengths[i]);
      off += (lengths[i] + 7) & ~7;
      if (f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6) continue;
      const ihl = (f[14] & 15) * 4;
      const len = (f[16] << 8) | f[17];
      // The pseudo-header (addresses, protocol, TCP length) and the segment must sum to 0xffff.
      const pseudo = sum(f, 26, 34, 6 + len - ihl);
      process.stdout.write(`tcp checksum ${sum(f, 14 + ihl, 14 + len, pseudo) === 0xffff ? 'ok' : 'bad'}\n`);
    }
    state[0] = 0;
  },
  (err) => process.stdout.write(`error ${err.code}\n`),
  lengths,
  state,
  1519,
  true,
);
tap.setRxBuffer(rx);
const ip = (...args) => execFileSync('ip', args);
ip('addr', 'add', '10.98.0.1/24', 'dev', tapName);
ip('link', 'set', tapName, 'up');
ip('neigh', 'replace', '10.98.0.2', 'lladdr', '02:4e:53:98:00:02', 'dev', tapName, 'nud', 'permanent');
const s = connect({ host: '10.98.0.2', port: 80 });
s.on('error', () => {});
setTimeout(() => {
  s.destroy();
  tap.close();
  process.exit(0);
}, 1500);
