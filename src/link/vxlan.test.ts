// The VXLAN link over a fake UDP socket: byte layout, flood list, FDB learning/ageing/bounds,
// and every kind of hostile datagram dropped with its own counter.
import type { RemoteInfo } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { parseMac } from '../wire/address.js';
import { VxlanError, VxlanFdb, VxlanLink, type UdpSocketLike } from './vxlan.js';

class FakeSocket implements UdpSocketLike {
  sent: Array<{ bytes: Uint8Array; port: number; addr: string }> = [];
  private onMessage: ((msg: Buffer, rinfo: RemoteInfo) => void) | undefined;
  closed = false;
  send(msg: Uint8Array, port: number, address: string, cb: (err: Error | null) => void): void {
    this.sent.push({ bytes: msg, port, addr: address });
    cb(null);
  }
  on(event: 'message' | 'error', listener: ((msg: Buffer, rinfo: RemoteInfo) => void) | ((err: Error) => void)): this {
    if (event === 'message') this.onMessage = listener as (msg: Buffer, rinfo: RemoteInfo) => void;
    return this;
  }
  close(): void {
    this.closed = true;
  }
  deliver(bytes: Uint8Array, address: string, port = 40000): void {
    this.onMessage!(Buffer.from(bytes), { address, port, family: 'IPv4', size: bytes.length });
  }
}

const A = '10.1.0.1';
const B = '10.1.0.2';
const GUEST = '02:4e:53:00:00:0a';
const PEER = '02:00:00:00:00:99';

function mac(t: string): number[] {
  const m = parseMac(t)!;
  return [0, 1, 2, 3, 4, 5].map((i) => Math.floor(m / 256 ** (5 - i)) % 256);
}
function frame(dst: string, src: string, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst === 'ff' ? [255, 255, 255, 255, 255, 255] : mac(dst), 0);
  f.set(mac(src), 6);
  f.set([0x08, 0x00], 12);
  return f;
}
function vxlan(vni: number, inner: Uint8Array, flags = 0x08): Uint8Array {
  return Uint8Array.from([flags, 0, 0, 0, vni >> 16, (vni >> 8) & 255, vni & 255, 0, ...inner]);
}

function setup(opts: Partial<ConstructorParameters<typeof VxlanLink>[1]> = {}) {
  const sock = new FakeSocket();
  let t = 0;
  const link = new VxlanLink(sock, { vni: 42, remotes: [{ addr: A, port: 4789 }, { addr: B, port: 4790 }], now: () => t, ...opts });
  const got: Uint8Array[][] = [];
  link.attach({ onFrames: (b) => got.push([...b]), onError: () => {} });
  return { sock, link, got, tick: (ms: number) => (t += ms) };
}
const turn = () => new Promise<void>((r) => setImmediate(r));

describe('VxlanLink send', () => {
  it('wraps a frame in the kernel header (I flag, VNI) and floods an unknown destination to every remote', () => {
    const { sock, link } = setup();
    const f = frame(PEER, GUEST);
    expect(link.send(f)).toBe(true);
    expect(sock.sent.map((s) => `${s.addr}:${s.port}`)).toEqual([`${A}:4789`, `${B}:4790`]);
    expect([...sock.sent[0]!.bytes.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0, 0, 42, 0]);
    expect([...sock.sent[0]!.bytes.subarray(8)]).toEqual([...f]);
    expect(link.stats).toMatchObject({ txFrames: 1, txFlooded: 1, txUnicast: 0, txDatagrams: 2 });
  });

  it('sends a learned MAC to its remote only, at the flood list port of that address', async () => {
    const { sock, link } = setup();
    sock.deliver(vxlan(42, frame(GUEST, PEER)), B, 51234); // kernel peers send from a per-flow port
    await turn();
    link.send(frame(PEER, GUEST));
    expect(sock.sent.map((s) => `${s.addr}:${s.port}`)).toEqual([`${B}:4790`]);
    expect(link.stats).toMatchObject({ txUnicast: 1, fdbLearned: 1 });
  });

  it('floods broadcast even when the source is known, and drops runts and oversize frames', () => {
    const { sock, link } = setup();
    link.send(frame('ff', GUEST));
    expect(sock.sent).toHaveLength(2);
    expect(link.send(new Uint8Array(13))).toBe(false);
    expect(link.send(new Uint8Array(1500 + 19))).toBe(false);
    expect(link.stats.txDropped).toBe(2);
  });

  it('with no remote and an unknown destination, drops and counts', () => {
    const { link } = setup({ remotes: [] });
    expect(link.send(frame(PEER, GUEST))).toBe(false);
    expect(link.stats.txDropped).toBe(1);
  });
});

describe('VxlanLink receive', () => {
  it('delivers the inner frames of one turn as one batch, as views', async () => {
    const { sock, got } = setup();
    sock.deliver(vxlan(42, frame(GUEST, PEER)), A);
    sock.deliver(vxlan(42, frame('ff', PEER, 64)), A);
    expect(got).toHaveLength(0);
    await turn();
    expect(got).toHaveLength(1);
    expect(got[0]!.map((f) => f.length)).toEqual([60, 64]);
    expect([...got[0]![0]!.subarray(0, 6)]).toEqual(mac(GUEST));
  });

  it('drops and counts every kind of bad datagram, delivering none', async () => {
    const { sock, link, got } = setup();
    sock.deliver(new Uint8Array(7), A); // short header
    sock.deliver(vxlan(42, frame(GUEST, PEER), 0x00), A); // no I flag
    sock.deliver(vxlan(43, frame(GUEST, PEER)), A); // other VNI
    sock.deliver(vxlan(42, new Uint8Array(13)), A); // runt inner frame
    sock.deliver(vxlan(42, frame(GUEST, PEER, 1519)), A); // oversize inner frame
    await turn();
    expect(got).toHaveLength(0);
    expect(link.stats).toMatchObject({ rxBadHeader: 2, rxWrongVni: 1, rxRunts: 1, rxOversize: 1, rxFrames: 0, fdbLearned: 0 });
  });

  it('accepts other flag bits and reserved bytes (ignored per RFC 7348)', async () => {
    const { sock, got } = setup();
    const d = vxlan(42, frame(GUEST, PEER), 0xff);
    d.set([9, 9, 9], 1);
    d[7] = 9;
    sock.deliver(d, A);
    await turn();
    expect(got.flat()).toHaveLength(1);
  });

  it('does not learn group or zero source MACs', async () => {
    const { sock, link } = setup();
    sock.deliver(vxlan(42, frame(GUEST, '03:00:00:00:00:01')), A);
    sock.deliver(vxlan(42, frame(GUEST, '00:00:00:00:00:00')), A);
    await turn();
    expect(link.fdb.size).toBe(0);
  });

  it('bounds the receive queue', async () => {
    const { sock, link, got } = setup({ rxQueueMax: 3 });
    for (let i = 0; i < 5; i++) sock.deliver(vxlan(42, frame(GUEST, PEER)), A);
    await turn();
    expect(got.flat()).toHaveLength(3);
    expect(link.stats.rxQueueFull).toBe(2);
  });

  it('counts frames before attach, and delivers nothing after close', async () => {
    const sock = new FakeSocket();
    const link = new VxlanLink(sock, { vni: 42, remotes: [] });
    sock.deliver(vxlan(42, frame(GUEST, PEER)), A);
    expect(link.stats.rxUnattached).toBe(1);
    const got: Uint8Array[] = [];
    link.attach({ onFrames: (b) => got.push(...b), onError: () => {} });
    sock.deliver(vxlan(42, frame(GUEST, PEER)), A);
    link.close();
    await turn();
    expect(got).toHaveLength(0);
    expect(sock.closed).toBe(true);
  });
});

describe('VxlanFdb', () => {
  const R1 = { addr: A, port: 4789 };
  const R2 = { addr: B, port: 4789 };
  it('moves a MAC that shows up behind another remote', () => {
    const fdb = new VxlanFdb(10, 1000);
    fdb.learn(1, R1, 0);
    fdb.learn(1, R2, 1);
    expect(fdb.lookup(1, 2)).toEqual(R2);
    expect(fdb.learned).toBe(2);
  });

  it('ages entries out', () => {
    const fdb = new VxlanFdb(10, 1000);
    fdb.learn(1, R1, 0);
    expect(fdb.lookup(1, 1000)).toEqual(R1);
    expect(fdb.lookup(1, 1001)).toBeUndefined();
    expect(fdb.evicted).toBe(1);
    expect(fdb.size).toBe(0);
  });

  it('is bounded: the least recently refreshed entry goes first', () => {
    const fdb = new VxlanFdb(2, 100_000);
    fdb.learn(1, R1, 0);
    fdb.learn(2, R1, 0);
    fdb.learn(1, R1, 5000); // refresh 1: now 2 is the oldest
    fdb.learn(3, R1, 5001);
    expect(fdb.size).toBe(2);
    expect(fdb.lookup(2, 5002)).toBeUndefined();
    expect(fdb.lookup(1, 5002)).toEqual(R1);
    expect(fdb.evicted).toBe(1);
  });

  it('a flood of source MACs never grows it past its bound', () => {
    const fdb = new VxlanFdb(64, 1000);
    for (let m = 2; m < 10_000; m += 2) fdb.learn(m, R1, 0);
    expect(fdb.size).toBe(64);
  });
});

describe('VxlanLink options', () => {
  it('refuses a VNI over 24 bits and a malformed remote, naming the field', () => {
    expect(() => new VxlanLink(new FakeSocket(), { vni: 1 << 24, remotes: [] })).toThrow(VxlanError);
    expect(() => new VxlanLink(new FakeSocket(), { vni: 1, remotes: [{ addr: 'x', port: 1 }] })).toThrow(/remotes\[0\]/);
    expect(() => new VxlanLink(new FakeSocket(), { vni: 1, remotes: [{ addr: A, port: 0 }] })).toThrow(/port/);
  });
});
