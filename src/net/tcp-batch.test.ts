// Receive batches (NetStack.processFrames): the segments of one batch are acknowledged once, as
// the batch ends, where one at a time they are acknowledged every second segment (RFC 9293
// 3.8.6.3). Two stacks on a hand-carried cable, so the test decides what arrives together.
import { describe, expect, it } from 'vitest';
import { EtherType, EthernetFrame, IpProtocol, Ipv4Packet, TcpFlag, TcpPacket, TcpRepr, isWireError } from '../wire/index.js';
import { ManualNow, OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, RecordingDevice } from './testing.js';
import { NetStack } from './stack.js';
import { TCP_SOCKETS, tcpProtocol, type TcpConnection } from './tcp.js';

const MSS = 1460;

/** The TCP segment in a frame, or undefined. */
function segment(frame: Uint8Array): TcpRepr | undefined {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth) || eth.etherType() !== EtherType.Ipv4) return undefined;
  const ip = Ipv4Packet.checked(eth.payload());
  if (isWireError(ip) || ip.protocol() !== IpProtocol.Tcp) return undefined;
  const p = TcpPacket.checked(ip.payload());
  if (isWireError(p)) return undefined;
  const r = TcpRepr.parse(p);
  return isWireError(r) ? undefined : r;
}

/** A sender and a receiver (listening on 9, counting bytes), connected. */
function connected(): { clock: ManualNow; send: RecordingDevice; recv: RecordingDevice; sender: NetStack; receiver: NetStack; conn: TcpConnection; got: () => number } {
  const clock = new ManualNow();
  const send = new RecordingDevice();
  const recv = new RecordingDevice();
  const sender = new NetStack({ mac: PEER_MAC, ipv4: { addr: PEER_IP, prefixLen: 24 } }, send, clock.now);
  const receiver = new NetStack({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 } }, recv, clock.now);
  sender.install(tcpProtocol({ mss: MSS }));
  receiver.install(tcpProtocol({ mss: MSS }));
  let bytes = 0;
  receiver.sockets.require(TCP_SOCKETS).listen(9, { onAccept: (c) => (c.handler = { onData: (_c, d) => (bytes += d.length) }) });
  const conn = sender.sockets.require(TCP_SOCKETS).connect(OUR_IP, 9, {});
  // Carry frames one at a time both ways until the cable is quiet (ARP, then the handshake).
  for (let n = 0; n < 20; n++) {
    const a = send.take();
    const b = recv.take();
    if (a.length === 0 && b.length === 0) break;
    for (const f of a) receiver.processFrame(f);
    for (const f of b) sender.processFrame(f);
  }
  expect(conn.state).toBe('ESTABLISHED');
  return { clock, send, recv, sender, receiver, conn, got: () => bytes };
}

/** The sender's next `n` full data segments, taken off its cable. */
function dataSegments(s: ReturnType<typeof connected>, n: number): Uint8Array[] {
  expect(s.conn.send(new Uint8Array(n * MSS).fill(0x61))).toBe(n * MSS);
  s.sender.poll(); // a send goes out at the end of the sender's unit
  const frames = s.send.take();
  expect(frames.map((f) => segment(f)!.payload.length)).toEqual(Array(n).fill(MSS));
  return frames;
}

function acks(frames: Uint8Array[]): number[] {
  return frames.map((f) => segment(f)!).filter((r) => r.flags & TcpFlag.Ack && r.payload.length === 0).map((r) => r.ackNum);
}

describe('TCP in receive batches', () => {
  it('one frame at a time: an ACK for every second full segment', () => {
    const s = connected();
    for (const f of dataSegments(s, 6)) s.receiver.processFrame(f);
    expect(acks(s.recv.take())).toHaveLength(3);
    expect(s.got()).toBe(6 * MSS);
  });

  it('one batch: a single ACK for all of its segments, sent before processFrames returns', () => {
    const s = connected();
    const frames = dataSegments(s, 6);
    const last = segment(frames[5]!)!;
    let i = 0;
    expect(s.receiver.processFrames(() => frames[i++])).toBe(6);
    expect(acks(s.recv.take())).toEqual([(last.seqNum + MSS) >>> 0]);
    expect(s.got()).toBe(6 * MSS);
  });

  it('a batch of one segment waits for the delayed-ACK timer, as a single frame does', () => {
    const s = connected();
    const [f] = dataSegments(s, 1);
    let i = 0;
    s.receiver.processFrames(() => (i++ === 0 ? f : undefined));
    expect(acks(s.recv.take())).toEqual([]);
    s.clock.advance(1000);
    s.receiver.poll();
    expect(acks(s.recv.take())).toHaveLength(1);
  });

  it('ends the batch even when a frame handler throws, so later frames are answered at once', () => {
    const s = connected();
    const frames = dataSegments(s, 2);
    expect(() =>
      s.receiver.processFrames(() => {
        throw new Error('device gone');
      }),
    ).toThrow('device gone');
    for (const f of frames) s.receiver.processFrame(f);
    expect(acks(s.recv.take())).toHaveLength(1);
  });
});
