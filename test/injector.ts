// The host-side attacker of the issue-7 system tests and the soak: raw frames built here field by
// field (so each can be whatever an attacker picks: port 0, a source claiming a guest, ARP lies),
// written from a second TAP on the lab bridge by test/inject-child.mjs with the project's addon.
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { waitFor, type Netns } from './lab.js';

/** test/inject-child.mjs, from test/ (vitest) and from dist-bench/test/ (the compiled soak) alike. */
const CHILD = [new URL('./inject-child.mjs', import.meta.url), new URL('../../test/inject-child.mjs', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('./inject-child.mjs', import.meta.url));

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

const mac = (m: string): number[] => m.split(':').map((h) => parseInt(h, 16));
const ip4 = (a: string): number[] => a.split('.').map(Number);
const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];

function sum16(bytes: readonly number[], init = 0): number {
  let s = init;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
const checksum = (bytes: readonly number[], init = 0): number => ~sum16(bytes, init) & 0xffff;

/** Ethernet II: destination, source, EtherType, payload. */
export function ethernet(dst: string, src: string, type: number, payload: readonly number[]): Uint8Array {
  return Uint8Array.from([...mac(dst), ...mac(src), ...u16(type), ...payload]);
}

/** ARP for IPv4 over Ethernet (RFC 826), every field given. */
export function arp(o: { ethDst: string; ethSrc: string; op: 1 | 2; sha: string; spa: string; tha: string; tpa: string }): Uint8Array {
  const body = [...u16(1), ...u16(ETHERTYPE_IPV4), 6, 4, ...u16(o.op), ...mac(o.sha), ...ip4(o.spa), ...mac(o.tha), ...ip4(o.tpa)];
  return ethernet(o.ethDst, o.ethSrc, ETHERTYPE_ARP, body);
}

/** IPv4 (20-byte header, checksum right) + UDP (checksum right, over the pseudo-header). */
export function udp4(o: { ethDst: string; ethSrc: string; src: string; dst: string; srcPort: number; dstPort: number; payload: readonly number[]; id?: number }): Uint8Array {
  const udpLen = 8 + o.payload.length;
  const pseudo = [...ip4(o.src), ...ip4(o.dst), 0, 17, ...u16(udpLen)];
  const udpNoSum = [...u16(o.srcPort), ...u16(o.dstPort), ...u16(udpLen), 0, 0, ...o.payload];
  const c = checksum(udpNoSum, sum16(pseudo));
  const udp = [...udpNoSum.slice(0, 6), ...u16(c === 0 ? 0xffff : c), ...o.payload];
  const hdr = [0x45, 0, ...u16(20 + udpLen), ...u16(o.id ?? 1), 0x40, 0, 64, 17, 0, 0, ...ip4(o.src), ...ip4(o.dst)];
  const h = checksum(hdr);
  hdr[10] = h >> 8;
  hdr[11] = h & 0xff;
  return ethernet(o.ethDst, o.ethSrc, ETHERTYPE_IPV4, [...hdr, ...udp]);
}

/** ICMP echo request in IPv4. */
export function icmpEcho4(o: { ethDst: string; ethSrc: string; src: string; dst: string; id: number; seq: number; payload: readonly number[] }): Uint8Array {
  const icmpNoSum = [8, 0, 0, 0, ...u16(o.id), ...u16(o.seq), ...o.payload];
  const c = checksum(icmpNoSum);
  const icmp = [8, 0, ...u16(c), ...icmpNoSum.slice(4)];
  const hdr = [0x45, 0, ...u16(20 + icmp.length), ...u16(o.seq), 0x40, 0, 64, 1, 0, 0, ...ip4(o.src), ...ip4(o.dst)];
  const h = checksum(hdr);
  hdr[10] = h >> 8;
  hdr[11] = h & 0xff;
  return ethernet(o.ethDst, o.ethSrc, ETHERTYPE_IPV4, [...hdr, ...icmp]);
}

const hex = (f: Uint8Array): string => Buffer.from(f).toString('hex');

/** A received frame as the injector saw it. */
export interface SeenFrame {
  dst: string;
  src: string;
  type: number;
  bytes: Buffer;
}

/** The injector TAP, attached to `bridge` in `ns`. */
export class Injector {
  readonly seen: SeenFrame[] = [];
  private readonly results: Array<{ written: number; refused: number }> = [];

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('sent ')) {
        const [, w, r] = line.split(' ');
        this.results.push({ written: Number(w), refused: Number(r) });
      } else if (line.startsWith('rx ')) {
        const b = Buffer.from(line.slice(3), 'hex');
        const m = (o: number): string => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
        this.seen.push({ dst: m(0), src: m(6), type: b.length >= 14 ? b.readUInt16BE(12) : -1, bytes: b });
      }
    });
  }

  /** Open TAP `name` in `ns` with the addon, attach it to `bridge` and bring it up. */
  static async start(ns: Netns, name: string, bridge: string): Promise<Injector> {
    const child = ns.spawn([process.execPath, CHILD, name], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(`injector TAP ${name}`, () => {
      if (child.exitCode !== null) throw new Error(`injector exited ${child.exitCode}: ${out}`);
      return out.includes(`ready ${name}`);
    });
    const inj = new Injector(child);
    ns.exec(['ip', 'link', 'set', name, 'master', bridge]);
    // The bridge must not learn the sources we forge (a guest's MAC would then be looked for on
    // this port): with learning off, frames to a forged MAC are flooded, so we see them too.
    ns.exec(['ip', 'link', 'set', 'dev', name, 'type', 'bridge_slave', 'learning', 'off']);
    ns.exec(['ip', 'link', 'set', name, 'up']);
    return inj;
  }

  private async command(line: string, timeoutMs = 20_000): Promise<{ written: number; refused: number }> {
    const n = this.results.length;
    this.child.stdin!.write(line + '\n');
    await waitFor('the injector', () => this.results.length > n, timeoutMs, 10);
    return this.results[n]!;
  }

  /** Write each frame once. */
  send(...frames: Uint8Array[]): Promise<{ written: number; refused: number }> {
    return this.command(`send ${frames.map(hex).join(',')}`);
  }

  /** Write `count` frames cycling through `frames`, `perMs` a millisecond. */
  repeat(count: number, perMs: number, ...frames: Uint8Array[]): Promise<{ written: number; refused: number }> {
    return this.command(`repeat ${count} ${perMs} ${frames.map(hex).join(',')}`, 2 * (count / perMs) + 30_000);
  }
}
