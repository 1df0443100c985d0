// The switch's table by MAC, looked up straight from a frame's bytes. A 48-bit MAC is not a small
// integer, so as a Map key every lookup first boxed it on the heap (one HeapNumber per frame on
// the demux path, and each key a separate object to chase). Here a MAC is two 24-bit halves side
// by side in one flat Int32Array (one cache line per probe), open addressing with linear probing and backward-shift deletion, at most
// half full: a lookup allocates nothing and reads a few adjacent words, whatever the number of
// guests. Keys are the only thing hashed; values sit in a parallel array.
import type { Mac } from '../wire/address.js';

const HALF = 0x100_0000; // 2^24
const EMPTY = -1;

/**
 * A MAC's high 24 bits: a small integer (a 48-bit MAC is a boxed number on the heap). `| 0` makes
 * it an int32 even where the division's result is a double, so a field holding it is not boxed.
 */
export function macHigh(mac: Mac): number {
  return Math.floor(mac / HALF) | 0;
}

/** A MAC's low 24 bits (an int32, as macHigh). */
export function macLow(mac: Mac): number {
  return mac % HALF | 0;
}

/** The high 24 bits of the MAC in buf[off..off+6), read in place (the caller guarantees the bytes). */
export function macHighAt(buf: Uint8Array, off: number): number {
  return (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
}

/** The low 24 bits of the MAC in buf[off..off+6). */
export function macLowAt(buf: Uint8Array, off: number): number {
  return (buf[off + 3]! << 16) | (buf[off + 4]! << 8) | buf[off + 5]!;
}

function hash(hi: number, lo: number, shift: number): number {
  return Math.imul(hi ^ Math.imul(lo, 0x85eb_ca6b), 0x9e37_79b1) >>> shift;
}

export class MacTable<T> {
  /** Slot i's key: keys[2i] the MAC's high 24 bits (EMPTY when free), keys[2i+1] its low 24 bits. */
  private keys: Int32Array;
  private vals: (T | undefined)[];
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(capacity = 8) {
    let bits = 3;
    while (1 << bits < capacity * 2) bits++;
    const n = 1 << bits;
    this.keys = new Int32Array(2 * n).fill(EMPTY);
    this.vals = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
    this.shift = 32 - bits;
  }

  get size(): number {
    return this.count;
  }

  /** The value for the MAC in buf[off..off+6) (the caller guarantees the bytes). */
  getAt(buf: Uint8Array, off: number): T | undefined {
    return this.find(macHighAt(buf, off), macLowAt(buf, off));
  }

  get(mac: Mac): T | undefined {
    return this.find(macHigh(mac), macLow(mac));
  }

  has(mac: Mac): boolean {
    return this.slot(macHigh(mac), macLow(mac)) >= 0;
  }

  set(mac: Mac, value: T): void {
    const h = macHigh(mac);
    const l = macLow(mac);
    const at = this.slot(h, l);
    if (at >= 0) {
      this.vals[at] = value;
      return;
    }
    if ((this.count + 1) * 2 > this.vals.length) this.grow();
    let i = hash(h, l, this.shift);
    while (this.keys[2 * i] !== EMPTY) i = (i + 1) & this.mask;
    this.keys[2 * i] = h;
    this.keys[2 * i + 1] = l;
    this.vals[i] = value;
    this.count++;
  }

  delete(mac: Mac): boolean {
    let i = this.slot(macHigh(mac), macLow(mac));
    if (i < 0) return false;
    this.count--;
    // Backward shift: pull later entries of the probe run into the hole, so lookups never need
    // tombstones and the table never fills with them.
    const keys = this.keys;
    for (let j = (i + 1) & this.mask; keys[2 * j] !== EMPTY; j = (j + 1) & this.mask) {
      const home = hash(keys[2 * j]!, keys[2 * j + 1]!, this.shift);
      // The entry at j may move to i only if its home is not in (i, j] (cyclically).
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      keys[2 * i] = keys[2 * j]!;
      keys[2 * i + 1] = keys[2 * j + 1]!;
      this.vals[i] = this.vals[j];
      i = j;
    }
    keys[2 * i] = EMPTY;
    this.vals[i] = undefined;
    return true;
  }

  private find(h: number, l: number): T | undefined {
    const i = this.slot(h, l);
    return i < 0 ? undefined : this.vals[i];
  }

  private slot(h: number, l: number): number {
    const keys = this.keys;
    for (let i = hash(h, l, this.shift); ; i = (i + 1) & this.mask) {
      const k = keys[2 * i]!;
      if (k === EMPTY) return -1;
      if (k === h && keys[2 * i + 1] === l) return i;
    }
  }

  private grow(): void {
    const { keys, vals } = this;
    const n = vals.length * 2;
    this.keys = new Int32Array(2 * n).fill(EMPTY);
    this.vals = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
    this.shift--;
    this.count = 0;
    for (let i = 0; i < vals.length; i++) if (keys[2 * i] !== EMPTY) this.set(keys[2 * i]! * HALF + keys[2 * i + 1]!, vals[i]!);
  }
}
