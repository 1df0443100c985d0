import { describe, expect, it } from 'vitest';
import { RxDemux } from './demux.js';
import { Port } from './port.js';
import { MAC_BROADCAST, parseMac, writeMac } from '../wire/address.js';

const A = parseMac('02:4e:53:00:00:0a')!;
const B = parseMac('02:4e:53:00:00:0b')!;
const GROUP = parseMac('01:00:5e:00:00:fb')!; // mDNS's IPv4 multicast MAC

function frameTo(dst: number): Uint8Array {
  const f = new Uint8Array(60);
  writeMac(f, 0, dst);
  return f;
}

function setup(): { demux: RxDemux; a: Port; b: Port } {
  const demux = new RxDemux();
  const a = new Port('rtos', A, undefined, true, 4, 4);
  const b = new Port('gpos', B, undefined, false, 4, 4);
  demux.add(a);
  demux.add(b);
  return { demux, a, b };
}

describe('RxDemux', () => {
  it('sends unicast to its owner only', () => {
    const { demux, a, b } = setup();
    expect(demux.route(frameTo(A))).toBe(a);
    expect(demux.route(frameTo(B))).toBe(b);
  });

  it('sends broadcast to every port', () => {
    const { demux, a, b } = setup();
    expect(demux.route(frameTo(MAC_BROADCAST))).toEqual([a, b]);
  });

  it('sends multicast to subscribers only, and drops a group nobody joined', () => {
    const { demux, b } = setup();
    expect(demux.route(frameTo(GROUP))).toBe('no-subscriber');
    demux.subscribe(b, GROUP);
    expect(demux.route(frameTo(GROUP))).toEqual([b]);
    demux.unsubscribe(b, GROUP);
    expect(demux.route(frameTo(GROUP))).toBe('no-subscriber');
  });

  it('reports unknown unicast for the caller to drop and count', () => {
    const { demux } = setup();
    expect(demux.route(frameTo(parseMac('02:00:00:00:00:99')!))).toBe('unknown-unicast');
  });

  it('refuses a second port with the same MAC', () => {
    const { demux } = setup();
    expect(() => demux.add(new Port('dup', A, undefined, false, 4, 4))).toThrow(/already/);
  });
});
