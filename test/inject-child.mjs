#!/usr/bin/env node
// The injector of the issue-7 system tests and the soak: a second TAP on the lab bridge, opened with
// the project's own TAP link (dist/link/tap.js over the native addon), that writes raw Ethernet
// frames chosen by the test (spoofed sources, port 0, ARP claiming a guest) and reports what the
// bridge forwards to it. Run INSIDE the test's network namespace (a TAP lives in the namespace of
// the process that opens /dev/net/tun):
//   node test/inject-child.mjs <tap>
// stdin, one command a line:
//   send HEX[,HEX...]                     write each frame once
//   repeat COUNT PERMS HEX[,HEX...]       write COUNT frames (cycling the list), PERMS per millisecond of wall clock
//   seen                                  report `seen <frames received so far>`
// stdout, one event a line: `ready <ifname>`, `sent <written> <refused>` after each command,
// `rx <hex>` for each frame received (the first 4096 received frames only: bounded).
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The compiled TAP link: dist/ next to test/ (vitest), or two levels up from dist-bench/test/.
const candidates = ['../dist/link/tap.js', '../../dist/link/tap.js'].map((p) => new URL(p, import.meta.url));
const tapModule = candidates.find((u) => existsSync(fileURLToPath(u)));
if (!tapModule) {
  process.stderr.write('inject-child: dist/link/tap.js is missing: run `npm run build`\n');
  process.exit(1);
}
const { TapLink } = await import(tapModule.href);

const [tapName] = process.argv.slice(2);
if (!tapName) {
  process.stderr.write('usage: inject-child.mjs <tap>\n');
  process.exit(64);
}
const say = (line) => process.stdout.write(line + '\n');
const RX_REPORT_MAX = 4096;
let rxSeen = 0;

const tap = TapLink.open(tapName, { mtu: 1500 });
tap.attach({
  onFrames: (frames) => {
    for (const f of frames) {
      rxSeen++;
      if (rxSeen <= RX_REPORT_MAX) say(`rx ${Buffer.from(f.buffer, f.byteOffset, f.length).toString('hex')}`);
    }
  },
  onError: (err) => say(`error ${err.code} ${err.message}`),
});
say(`ready ${tap.name}`);

const parseFrames = (list) => list.split(',').map((h) => Uint8Array.from(Buffer.from(h, 'hex')));

// Commands run one after the other, so `sent` lines come in order.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(() => run(line.trim().split(/\s+/)));
});

async function run([cmd, ...args]) {
  if (cmd === 'send') {
    let ok = 0;
    let refused = 0;
    for (const f of parseFrames(args[0] ?? '')) tap.send(f) ? ok++ : refused++;
    say(`sent ${ok} ${refused}`);
  } else if (cmd === 'repeat') {
    const count = Math.min(Number(args[0]), 10_000_000);
    const perMs = Math.max(1, Math.min(Number(args[1]), 10_000));
    const frames = parseFrames(args[2] ?? '');
    let ok = 0;
    let refused = 0;
    let i = 0;
    const t0 = Date.now();
    await new Promise((resolve) => {
      // Paced by the clock, not by the timer's ticks (which run late under load): after t ms,
      // t * PERMS frames are due, at most 10 ticks' worth at once.
      const timer = setInterval(() => {
        const due = Math.min(count, Math.floor((Date.now() - t0 + 1) * perMs), i + 10 * perMs);
        for (; i < due; i++) tap.send(frames[i % frames.length]) ? ok++ : refused++;
        if (i >= count) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    say(`sent ${ok} ${refused}`);
  } else if (cmd === 'seen') {
    say(`seen ${rxSeen}`);
  } else if (cmd) {
    say(`error EINVAL unknown command ${cmd}`);
  }
}

const quit = () => {
  tap.close();
  process.exit(0);
};
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
process.stdin.on('end', () => queue.then(quit));
// Never outlive a test that lost track of us.
setTimeout(quit, 15 * 60_000).unref();
