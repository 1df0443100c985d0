// virt-tx on its own, on a real NIC over the in-memory cable and the manual clock: the source check
// of every frame a guest sends, local delivery (never out on the wire), broadcast to the other
// ports and the wire, the bounds (budget per run, frames kept in the NIC), the TxSpace interrupt
// and the rate-limit timer.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../machine/clock.js';
import { Nic } from '../machine/nic.js';
import { MemoryLink } from '../link/memory.js';
import { ArpOperation, ArpRepr, IpProtocol, MAC_BROADCAST, parseIpv4, parseMac, type Mac } from '../wire/index.js';
import { arpFrame, ipv4Frame } from '../net/testing.js';
import { Irq } from './guest-interface.js';
import { Port } from './port.js';
import { Switch } from './switch.js';
import { TokenBucket } from './token-bucket.js';
import { VirtTx, type VirtTxOptions } from './virt-tx.js';

const RTOS = { mac: parseMac('02:4e:53:00:00:0a')!, ip: parseIpv4('10.77.0.10')! };
const GPOS = { mac: parseMac('02:4e:53:00:00:0b')!, ip: parseIpv4('10.77.0.11')! };
const HOST = { mac: parseMac('02:00:00:00:00:01')!, ip: parseIpv4('10.77.0.1')! };
const GROUP = parseMac('01:00:5e:00:00:fb')!;

interface Setup {
  sw: Switch;
  rtos: Port;
  gpos: Port;
  nic: Nic;
  link: MemoryLink;
  clock: ManualClock;
  tx: VirtTx;
  events: string[];
  irqs: Array<[string, number]>;
  kicks: number[];
}

function setup(opts: Partial<VirtTxOptions> = {}, nicOpts: { txRing?: number; lineRateBps?: number } = {}, gposBucket?: (now: number) => TokenBucket, txQueue = 8): Setup {
  const clock = new ManualClock();
  const link = new MemoryLink();
  const nic = new Nic(link, clock, nicOpts);
  const sw = new Switch();
  const rtos = new Port('rtos', RTOS.mac, [RTOS.ip], true, 8, txQueue);
  const gpos = new Port('gpos', GPOS.mac, [GPOS.ip], false, 8, txQueue, 1, gposBucket?.(0));
  sw.add(rtos);
  sw.add(gpos);
  const irqs: Array<[string, number]> = [];
  rtos.line = { raise: (l) => irqs.push(['rtos', l]) };
  gpos.line = { raise: (l) => irqs.push(['gpos', l]) };
  const events: string[] = [];
  sw.observer = {
    tx: (_f, from) => events.push(`tx ${from}`),
    local: (_f, from, to) => events.push(`local ${from}->${to}`),
    drop: (reason, _f, port) => events.push(`drop ${reason} ${port ?? '-'}`),
  };
  const kicks: number[] = [];
  const tx = new VirtTx(sw, nic, clock, { policy: 'strict', feed: 64, budget: 64, ...opts }, () => kicks.push(clock.now()));
  tx.start();
  return { sw, rtos, gpos, nic, link, clock, tx, events, irqs, kicks };
}

const udp = (dst: Mac, ethSrc: Mac, src: number, dstIp: number, len = 8): Uint8Array =>
  ipv4Frame(dst, ethSrc, src, dstIp, IpProtocol.Udp, new Uint8Array(len));

describe('VirtTx source check', () => {
  it('sends a frame that speaks as its own port, and counts it on the port and the switch', () => {
    const { sw, gpos, link, tx, events } = setup();
    const f = udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip);
    gpos.enqueueTx(f);
    tx.pump();
    expect(link.sent).toEqual([f]);
    expect(events).toEqual(['tx gpos']);
    expect(gpos.counters.txFrames).toBe(1);
    expect(gpos.counters.txBytes).toBe(f.length);
    expect(sw.counters.txFrames).toBe(1);
    expect(gpos.tx.length).toBe(0);
  });

  it('drops an Ethernet source that is not the port\'s MAC (txSpoofedMac), on the switch and the port', () => {
    const { sw, gpos, link, tx, events } = setup();
    gpos.enqueueTx(udp(HOST.mac, RTOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    expect(link.sent).toEqual([]);
    expect(events).toEqual(['drop txSpoofedMac gpos']);
    expect(gpos.counters.txSpoofedMac).toBe(1);
    expect(sw.counters.txSpoofedMac).toBe(1);
    expect(gpos.counters.txFrames).toBe(0);
    expect(sw.counters.txFrames).toBe(0);
  });

  it('drops an ARP whose sender MAC is another guest\'s, even with the right Ethernet source', () => {
    const { gpos, link, tx, events } = setup();
    gpos.enqueueTx(arpFrame(MAC_BROADCAST, GPOS.mac, new ArpRepr(ArpOperation.Reply, RTOS.mac, GPOS.ip, HOST.mac, HOST.ip)));
    tx.pump();
    expect(link.sent).toEqual([]);
    expect(events).toEqual(['drop txSpoofedMac gpos']);
  });

  it('drops an IPv4 source that is not in the port\'s address set (txSpoofedIp)', () => {
    const { sw, gpos, link, tx, events } = setup();
    gpos.enqueueTx(udp(HOST.mac, GPOS.mac, RTOS.ip, HOST.ip));
    tx.pump();
    expect(link.sent).toEqual([]);
    expect(events).toEqual(['drop txSpoofedIp gpos']);
    expect(gpos.counters.txSpoofedIp).toBe(1);
    expect(sw.counters.txSpoofedIp).toBe(1);
  });

  it('drops a frame whose headers do not parse (txMalformed)', () => {
    const { gpos, link, tx, events } = setup();
    gpos.enqueueTx(new Uint8Array(10));
    tx.pump();
    expect(link.sent).toEqual([]);
    expect(events).toEqual(['drop txMalformed gpos']);
    expect(gpos.counters.txMalformed).toBe(1);
  });
});

describe('VirtTx local delivery', () => {
  it('delivers unicast to another local guest\'s MAC to its port, never to the wire', () => {
    const { sw, rtos, gpos, link, tx, events, irqs } = setup();
    const f = udp(RTOS.mac, GPOS.mac, GPOS.ip, RTOS.ip);
    gpos.enqueueTx(f);
    tx.pump();
    expect(link.sent).toEqual([]);
    expect(rtos.rx.shift()).toBe(f);
    expect(events).toEqual(['local gpos->rtos']);
    expect(irqs).toEqual([['rtos', Irq.NetRx]]);
    expect(gpos.counters.txLocal).toBe(1);
    expect(sw.counters.txLocal).toBe(1);
    expect(gpos.counters.txFrames).toBe(1);
    expect(sw.counters.txFrames).toBe(0);
  });

  it('delivers broadcast to every other port and to the wire, not back to the sender', () => {
    const { sw, rtos, gpos, link, tx, events } = setup();
    const f = arpFrame(MAC_BROADCAST, GPOS.mac, new ArpRepr(ArpOperation.Request, GPOS.mac, GPOS.ip, 0, HOST.ip));
    gpos.enqueueTx(f);
    tx.pump();
    expect(link.sent).toEqual([f]);
    expect(rtos.rx.length).toBe(1);
    expect(gpos.rx.length).toBe(0);
    expect(events).toEqual(['local gpos->rtos', 'tx gpos']);
    expect(sw.counters.txFrames).toBe(1);
    expect(gpos.counters.txLocal).toBe(0);
  });

  it('delivers multicast only to the ports that joined the group, and sends it out', () => {
    const { sw, rtos, gpos, link, tx } = setup();
    gpos.enqueueTx(udp(GROUP, GPOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    expect(rtos.rx.length).toBe(0);
    expect(link.sent.length).toBe(1);
    sw.subscribe(rtos, GROUP);
    gpos.enqueueTx(udp(GROUP, GPOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    expect(rtos.rx.length).toBe(1);
    expect(link.sent.length).toBe(2);
  });

  it('drops a local frame for a halted guest (rxHalted) and a full RX queue (rxQueueFull)', () => {
    const { rtos, gpos, tx, events } = setup({}, {}, undefined, 16);
    rtos.halted = true;
    gpos.enqueueTx(udp(RTOS.mac, GPOS.mac, GPOS.ip, RTOS.ip));
    tx.pump();
    expect(events).toEqual(['drop rxHalted rtos']);
    rtos.halted = false;
    events.length = 0;
    for (let i = 0; i < 9; i++) gpos.enqueueTx(udp(RTOS.mac, GPOS.mac, GPOS.ip, RTOS.ip));
    tx.pump();
    expect(rtos.rx.length).toBe(8);
    expect(events.filter((e) => e === 'drop rxQueueFull rtos')).toHaveLength(1);
  });

  it('delivers a frame a guest addresses to its own MAC back to itself, not to the wire', () => {
    const { gpos, link, tx } = setup();
    gpos.enqueueTx(udp(GPOS.mac, GPOS.mac, GPOS.ip, GPOS.ip));
    tx.pump();
    expect(link.sent).toEqual([]);
    expect(gpos.rx.length).toBe(1);
  });
});

describe('VirtTx bounds', () => {
  it('moves at most `budget` frames per run, the rest on later runs', () => {
    const { gpos, link, tx } = setup({ budget: 3 }, {}, undefined, 16);
    for (let i = 0; i < 7; i++) gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    expect(link.sent.length).toBe(3);
    expect(tx.pending()).toBe(true);
    tx.pump();
    tx.pump();
    expect(link.sent.length).toBe(7);
    expect(tx.pending()).toBe(false);
  });

  it('brackets each run with one hold() and one flush() of the link, so a TAP may join the frames of a run (TSO)', () => {
    for (const lineRateBps of [0, 1e9]) {
      const { gpos, link, tx } = setup({}, { lineRateBps }, undefined, 16);
      const calls: string[] = [];
      const send = link.send.bind(link);
      Object.assign(link, {
        hold: () => calls.push('hold'),
        flush: () => calls.push('flush'),
        send: (f: Uint8Array) => (calls.push('send'), send(f)),
      });
      for (let i = 0; i < 3; i++) gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
      tx.pump();
      // With a line rate the NIC's own drain nests inside the run's bracket and does not flush early.
      expect(calls.filter((c) => c !== 'send'), `line rate ${lineRateBps}`).toEqual(['hold', 'flush']);
      expect(calls[0]).toBe('hold');
      expect(calls.at(-1)).toBe('flush');
      expect(calls.filter((c) => c === 'send').length).toBeGreaterThanOrEqual(1);
    }
  });

  it('flushes the link even when a run ends in a throw, so no frame stays held', () => {
    const { gpos, link, sw, tx } = setup();
    const calls: string[] = [];
    Object.assign(link, { hold: () => calls.push('hold'), flush: () => calls.push('flush') });
    sw.observer = { tx: () => { throw new Error('observer failed'); } };
    gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    expect(() => tx.pump()).toThrow('observer failed');
    expect(calls).toEqual(['hold', 'flush']);
  });

  it('keeps at most `feed` frames in the NIC, and is not pending while the NIC holds that many', () => {
    // 8 kbit/s: a 60-byte frame holds the wire for ~84 ms, so frames wait in the NIC's ring.
    const { gpos, nic, clock, tx } = setup({ feed: 2 }, { lineRateBps: 8000 }, undefined, 16);
    for (let i = 0; i < 6; i++) gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    expect(nic.txPending()).toBe(2); // one on the wire, two waiting for it
    expect(gpos.tx.length).toBe(3);
    expect(tx.pending()).toBe(false);
    clock.advance(1_000_000);
    expect(nic.txPending()).toBe(0);
    expect(tx.pending()).toBe(true);
  });

  it('stops when the NIC\'s TX ring has no space, and is not pending then', () => {
    const { gpos, nic, tx } = setup({ feed: 64 }, { txRing: 2, lineRateBps: 8000 }, undefined, 16);
    for (let i = 0; i < 5; i++) gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    expect(nic.txSpace()).toBe(0);
    expect(nic.counters.txRingFull).toBe(0);
    expect(gpos.tx.length).toBe(2); // one on the wire, two in the ring
    expect(tx.pending()).toBe(false);
  });

  it('raises TxSpace once the queue a guest asked about is at most half full, and only once', () => {
    const { gpos, tx, irqs } = setup({ budget: 1 });
    for (let i = 0; i < 8; i++) gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    gpos.wantTxSpace = true;
    for (let i = 0; i < 3; i++) tx.pump(); // 5 left of 8: more than half
    expect(irqs).toEqual([]);
    tx.pump(); // 4 left: half
    expect(irqs).toEqual([['gpos', Irq.TxSpace]]);
    expect(gpos.wantTxSpace).toBe(false);
    tx.pump();
    expect(irqs).toHaveLength(1);
  });

  it('raises no TxSpace to a guest that did not ask', () => {
    const { gpos, tx, irqs } = setup();
    for (let i = 0; i < 8; i++) gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    expect(irqs).toEqual([]);
  });

  it('does nothing before start() and is not pending', () => {
    const clock = new ManualClock();
    const link = new MemoryLink();
    const sw = new Switch();
    const p = new Port('gpos', GPOS.mac, [GPOS.ip], false, 4, 4);
    sw.add(p);
    const tx = new VirtTx(sw, new Nic(link, clock), clock, { policy: 'weighted', feed: 4, budget: 4 }, () => {});
    p.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    expect(tx.policyName).toBe('weighted');
    expect(tx.pending()).toBe(false);
    tx.pump();
    expect(link.sent).toEqual([]);
    tx.start();
    expect(tx.pending()).toBe(true);
    tx.pump();
    expect(link.sent.length).toBe(1);
  });
});

describe('VirtTx rate limit', () => {
  // 80 kbit/s = 10 bytes per ms; a burst of one 60-byte frame.
  const bucket = (now: number): TokenBucket => new TokenBucket(80_000, 60, now);

  it('holds a rate-limited port\'s frame back and wakes the scheduler when its bucket allows it', () => {
    const { gpos, link, clock, tx, kicks } = setup({}, {}, bucket);
    const f = udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip);
    expect(f.length).toBe(14 + 20 + 8 + 8 + 10); // padded to 60 by the builder
    gpos.enqueueTx(f);
    gpos.enqueueTx(f);
    tx.pump();
    expect(link.sent.length).toBe(1);
    expect(tx.pending()).toBe(false);
    expect(kicks).toEqual([]);
    clock.advance(5_999);
    expect(kicks).toEqual([]);
    clock.advance(1);
    expect(kicks).toEqual([6_000]);
    expect(tx.pending()).toBe(true);
    tx.pump();
    expect(link.sent.length).toBe(2);
  });

  it('arms one timer however many runs find the port limited, and stop() cancels it', () => {
    const { gpos, clock, tx, kicks } = setup({}, {}, bucket);
    const f = udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip);
    gpos.enqueueTx(f);
    gpos.enqueueTx(f);
    tx.pump();
    tx.pump();
    tx.pump();
    clock.advance(10_000);
    expect(kicks).toEqual([6_000]);
    gpos.enqueueTx(f);
    tx.pump(); // sends the second frame, the third waits
    tx.stop();
    clock.advance(100_000);
    expect(kicks).toEqual([6_000]);
  });

  it('arms no timer when no frame is held back', () => {
    const { gpos, clock, tx, kicks } = setup({}, {}, bucket);
    gpos.enqueueTx(udp(HOST.mac, GPOS.mac, GPOS.ip, HOST.ip));
    tx.pump();
    clock.advance(100_000);
    expect(kicks).toEqual([]);
  });
});
