import { describe, expect, it } from 'vitest';
import { enhancedPacketLen, interfaceDescriptionBlock, sectionHeaderBlock, writeEnhancedPacket } from './pcapng.js';
import { readCapture } from './reader.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('pcapng blocks', () => {
  it('writes the Section Header Block field by field', () => {
    expect(hex(sectionHeaderBlock('ab'))).toBe(
      '0a0d0d0a' + '28000000' + // type SHB, total length 40
        '4d3c2b1a' + // byte-order magic 1a2b3c4d, little endian
        '0100' + '0000' + // version 1.0
        'ffffffffffffffff' + // section length unknown
        '0400' + '0200' + '61620000' + // shb_userappl "ab", padded to 4
        '00000000' + // opt_endofopt
        '28000000', // total length again
    );
  });

  it('writes an Interface Description Block with name, description and nanosecond resolution', () => {
    expect(hex(interfaceDescriptionBlock({ name: 'rtos', description: 'r', snaplen: 1000 }))).toBe(
      '01000000' + '30000000' + // type IDB, total length 48
        '0100' + '0000' + // LINKTYPE_ETHERNET, reserved
        'e8030000' + // snaplen 1000
        '0200' + '0400' + '72746f73' + // if_name "rtos"
        '0300' + '0100' + '72000000' + // if_description "r", padded
        '0900' + '0100' + '09000000' + // if_tsresol 9: 10^-9 s
        '00000000' + // opt_endofopt
        '30000000',
    );
  });

  it('writes an Enhanced Packet Block with the frame cut to snaplen, direction and comment', () => {
    const frame = Uint8Array.from({ length: 7 }, (_, i) => i + 1);
    const comment = new TextEncoder().encode('tx a');
    const len = enhancedPacketLen(frame.length, 5, comment);
    const out = new Uint8Array(len + 8).fill(0xee); // canary bytes around the block
    expect(writeEnhancedPacket(out, 4, 2, 0x1_0000_0002n, frame, 5, 'out', comment)).toBe(len);
    expect(hex(out.subarray(4, 4 + len))).toBe(
      '06000000' + '3c000000' + // type EPB, total length 60
        '02000000' + // interface 2
        '01000000' + '02000000' + // timestamp high, low
        '05000000' + '07000000' + // captured 5 of 7 bytes
        '0102030405000000' + // data padded to 8
        '0200' + '0400' + '02000000' + // epb_flags: outbound
        '0100' + '0400' + '74782061' + // opt_comment "tx a"
        '00000000' + // opt_endofopt
        '3c000000',
    );
    expect(hex(out.subarray(0, 4))).toBe('eeeeeeee');
    expect(hex(out.subarray(4 + len))).toBe('eeeeeeee');
  });
});

describe('readCapture on pcapng', () => {
  const build = (...blocks: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(blocks));
  const epb = (ifIndex: number, ts: bigint, frame: Uint8Array, dir: 'in' | 'out', comment?: string): Uint8Array => {
    const c = comment === undefined ? undefined : new TextEncoder().encode(comment);
    const out = new Uint8Array(enhancedPacketLen(frame.length, 262144, c));
    writeEnhancedPacket(out, 0, ifIndex, ts, frame, 262144, dir, c);
    return out;
  };

  it('reads back interfaces, timestamps, flags and comments', () => {
    const f1 = new Uint8Array(60).fill(1);
    const f2 = new Uint8Array(61).fill(2);
    const file = build(
      sectionHeaderBlock(),
      interfaceDescriptionBlock({ name: 'wire', description: 'w', snaplen: 262144 }),
      interfaceDescriptionBlock({ name: 'gpos', description: 'g', snaplen: 262144 }),
      epb(0, 1_700_000_000_000_000_001n, f1, 'in', 'rx -> gpos'),
      epb(1, 1_700_000_000_000_000_002n, f2, 'out'),
    );
    const cap = readCapture(file);
    expect(cap.stopped).toBeUndefined();
    expect(cap.format).toBe('pcapng');
    expect(cap.validBytes).toBe(file.length);
    expect(cap.interfaces.map((i) => [i.name, i.description, i.tsUnitNs, i.linktype])).toEqual([['wire', 'w', 1, 1], ['gpos', 'g', 1, 1]]);
    expect(cap.packets.map((p) => [p.ifIndex, p.tsNs, hex(p.data), p.origLen, p.flags, p.comment])).toEqual([
      [0, 1_700_000_000_000_000_001n, hex(f1), 60, 1, 'rx -> gpos'],
      [1, 1_700_000_000_000_000_002n, hex(f2), 61, 2, undefined],
    ]);
  });

  it('numbers interfaces per section: a second section (a concatenated file) starts again at 0', () => {
    const f = new Uint8Array(60).fill(3);
    const section = (name: string): Uint8Array[] => [sectionHeaderBlock(), interfaceDescriptionBlock({ name, description: '', snaplen: 100 }), epb(0, 5n, f, 'in')];
    const cap = readCapture(build(...section('a'), ...section('b')));
    expect(cap.interfaces.map((i) => i.name)).toEqual(['a', 'b']);
    expect(cap.packets.map((p) => cap.interfaces[p.ifIndex]!.name)).toEqual(['a', 'b']);
  });

  it('stops at the last whole block of a cut file and says where', () => {
    const f = new Uint8Array(60).fill(4);
    const whole = build(sectionHeaderBlock(), interfaceDescriptionBlock({ name: 'wire', description: '', snaplen: 100 }), epb(0, 1n, f, 'in'), epb(0, 2n, f, 'in'));
    const last = epb(0, 2n, f, 'in').length;
    for (let cut = whole.length - last + 1; cut < whole.length; cut++) {
      const cap = readCapture(whole.subarray(0, cut));
      expect(cap.packets).toHaveLength(1);
      expect(cap.validBytes).toBe(whole.length - last);
      expect(cap.stopped).toMatch(/cut/);
    }
  });

  it('reads a big-endian section and a microsecond interface', () => {
    // SHB (BE), IDB (BE, if_tsresol absent = microseconds), EPB with ts 3 us, 4-byte frame.
    const be = Buffer.from(
      '0a0d0d0a' + '0000001c' + '1a2b3c4d' + '00010000' + 'ffffffffffffffff' + '0000001c' +
        '00000001' + '00000014' + '00010000' + '00000040' + '00000014' +
        '00000006' + '00000024' + '00000000' + '00000000' + '00000003' + '00000004' + '00000004' + 'deadbeef' + '00000024',
      'hex',
    );
    const cap = readCapture(Uint8Array.from(be));
    expect(cap.stopped).toBeUndefined();
    expect(cap.interfaces[0]).toMatchObject({ name: undefined, tsUnitNs: 1000, snaplen: 64 });
    expect(cap.packets.map((p) => [p.tsNs, hex(p.data)])).toEqual([[3000n, 'deadbeef']]);
  });
});
