import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { writeMac, type Mac } from '../wire/address.js';
import { MacTable, macHigh, macHighAt, macLow, macLowAt } from './mac-table.js';

const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
// Few distinct keys, so sets, overwrites and deletes meet each other and probe runs collide.
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), mac: fc.constantFrom(...Array.from({ length: 40 }, (_, i) => (i % 5) * 2 ** 40 + (i % 8))), value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), mac: fc.constantFrom(...Array.from({ length: 40 }, (_, i) => (i % 5) * 2 ** 40 + (i % 8))) }),
  fc.record({ kind: fc.constant('set' as const), mac, value: fc.integer() }),
);

function bytesOf(m: Mac, at = 3): Uint8Array {
  const b = new Uint8Array(at + 6 + 2).fill(0xee);
  writeMac(b, at, m);
  return b;
}

describe('MacTable', () => {
  test.prop([fc.array(op, { maxLength: 300, size: 'max' }), fc.array(mac, { maxLength: 20 })], { numRuns: 150 })('behaves as a Map<Mac, value> under any mix of set, overwrite and delete', (ops, probes) => {
    const t = new MacTable<number>(2);
    const model = new Map<Mac, number>();
    for (const o of ops) {
      if (o.kind === 'set') {
        t.set(o.mac, o.value);
        model.set(o.mac, o.value);
      } else {
        expect(t.delete(o.mac)).toBe(model.delete(o.mac));
      }
      expect(t.size).toBe(model.size);
    }
    for (const m of [...model.keys(), ...probes, ...ops.map((o) => o.mac)]) {
      expect(t.get(m)).toBe(model.get(m));
      expect(t.has(m)).toBe(model.has(m));
      expect(t.getAt(bytesOf(m), 3)).toBe(model.get(m));
    }
  });

  // A small table (8 slots, at most 4 keys) with keys drawn at random: probe runs that wrap past
  // the last slot, and deletes inside them, happen in most cases.
  const small = fc.uniqueArray(mac, { minLength: 2, maxLength: 4 }).chain((keys) =>
    fc.tuple(fc.constant(keys), fc.shuffledSubarray(keys), fc.shuffledSubarray(keys)),
  );
  test.prop([small], { numRuns: 2000 })('finds every key left after deletes in any order, in a table that stays small', ([keys, gone, back]) => {
    const t = new MacTable<number>(2);
    const model = new Map<Mac, number>();
    keys.forEach((k, i) => (t.set(k, i), model.set(k, i)));
    for (const k of gone) expect(t.delete(k)).toBe(model.delete(k));
    for (const k of back) (t.set(k, -1), model.set(k, -1));
    for (const k of keys) expect(t.getAt(bytesOf(k), 3)).toBe(model.get(k));
    expect(t.size).toBe(model.size);
  });

  it('reads the six bytes at the offset it is given, and only those', () => {
    const t = new MacTable<string>();
    t.set(0x02_4e_53_00_00_0a, 'a');
    t.set(0xff_ff_ff_ff_ff_ff, 'all ones');
    t.set(0, 'zero');
    expect(t.getAt(bytesOf(0x02_4e_53_00_00_0a, 0), 0)).toBe('a');
    expect(t.getAt(bytesOf(0x02_4e_53_00_00_0a, 5), 5)).toBe('a');
    expect(t.getAt(bytesOf(0x02_4e_53_00_00_0a, 5), 4)).toBeUndefined();
    expect(t.getAt(bytesOf(0x02_4e_53_00_00_0b, 0), 0)).toBeUndefined();
    expect(t.getAt(bytesOf(0x03_4e_53_00_00_0a, 0), 0)).toBeUndefined(); // same low half, other high half
    expect(t.getAt(new Uint8Array(6).fill(0xff), 0)).toBe('all ones');
    expect(t.getAt(new Uint8Array(6), 0)).toBe('zero');
  });

  it('grows past its first size and keeps every entry', () => {
    const t = new MacTable<number>(1);
    for (let i = 0; i < 1000; i++) t.set(0x02_4e_53_00_00_00 + i * 7919, i);
    expect(t.size).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(t.get(0x02_4e_53_00_00_00 + i * 7919)).toBe(i);
    for (let i = 0; i < 1000; i += 2) expect(t.delete(0x02_4e_53_00_00_00 + i * 7919)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(t.get(0x02_4e_53_00_00_00 + i * 7919)).toBe(i % 2 === 0 ? undefined : i);
    expect(t.size).toBe(500);
  });
});

describe('MAC halves', () => {
  test.prop([mac])('the high and low 24 bits, of a number or read in place, put back together make the MAC', (m) => {
    const b = bytesOf(m);
    expect([macHighAt(b, 3), macLowAt(b, 3)]).toEqual([macHigh(m), macLow(m)]);
    expect(macHigh(m) * 2 ** 24 + macLow(m)).toBe(m);
    expect(macHigh(m)).toBeLessThan(2 ** 24);
    expect(macLow(m)).toBeLessThan(2 ** 24);
  });

  it('splits at the third byte', () => {
    expect([macHigh(0x0a0b0c_0d0e0f), macLow(0x0a0b0c_0d0e0f)]).toEqual([0x0a0b0c, 0x0d0e0f]);
  });
});
