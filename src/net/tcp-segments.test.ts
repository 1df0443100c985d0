// TCP segment by segment: what each state does with segments a peer or an attacker chooses
// (RFC 9293 3.10.7, RFC 5961): SYN_SENT and SYN_RECEIVED checks, simultaneous open, the
// acceptability test, overlapping and trimmed data, out-of-order FINs, TIME_WAIT, and the
// ACKs each case must (or must not) send.
import { describe, expect, it } from 'vitest';
import { TcpFlag } from '../wire/index.js';
import type { TcpConnection } from './tcp.js';
import { B_IP, Pair, bytes, established, recorder, seqs } from './tcp-testing.js';

describe('TCP segments to a listener with no connection', () => {
  it('SYN-ACK to a listener: RST at SEQ=SEG.ACK, bad-flags', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 10, ack: 5555, flags: TcpFlag.Syn | TcpFlag.Ack })).toBe('bad-flags');
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Rst, seqNum: 5555, srcPort: 80, dstPort: 4000 }]);
    expect(p.b.counters.drops['bad-flags']).toBe(1);
    expect(p.b.size).toBe(0);
  });

  it('SYN-FIN to a listener: dropped as bad-flags, unanswered', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 10, flags: TcpFlag.Syn | TcpFlag.Fin })).toBe('bad-flags');
    expect(p.take('a')).toEqual([]);
    expect(p.b.size).toBe(0);
  });

  it('data with FIN and no ACK: RST|ACK acking every byte and the FIN', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 100, flags: TcpFlag.Fin, payload: bytes(7) })).toBe('no-connection');
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Rst | TcpFlag.Ack, seqNum: 0, ackNum: 108 }]);
  });

  it('an ACK to a port nobody listens on is no-connection (not no-listener) and gets a RST', () => {
    const p = new Pair();
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 100, ack: 9, flags: TcpFlag.Ack })).toBe('no-connection');
    expect(p.b.counters.drops['no-listener']).toBe(0);
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Rst, seqNum: 9 }]);
  });
});

describe('TCP SYN_SENT', () => {
  function syns(): { p: Pair; c: TcpConnection; iss: number; port: number; cr: ReturnType<typeof recorder> } {
    const p = new Pair();
    const cr = recorder();
    const c = p.a.connect(B_IP, 80, cr);
    const syn = p.take('b')[0]!;
    return { p, c, iss: syn.seqNum, port: syn.srcPort, cr };
  }

  it('an ACK of anything but our SYN gets a RST and leaves the connection waiting', () => {
    const { p, c, iss, port } = syns();
    for (const ack of [iss, iss + 2, iss - 1000]) {
      expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7, ack, flags: TcpFlag.Syn | TcpFlag.Ack })).toBe('bad-ack');
      expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Rst, seqNum: ack >>> 0 }]);
    }
    expect(c.state).toBe('SYN_SENT');
    expect(p.a.counters.drops['bad-ack']).toBe(3);
  });

  it('a RST with a bad ACK is dropped unanswered; a RST without ACK is ignored', () => {
    const { p, c, iss, port, cr } = syns();
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7, ack: iss + 5, flags: TcpFlag.Rst | TcpFlag.Ack })).toBe('bad-ack');
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7, flags: TcpFlag.Rst })).toBe('no-ack');
    expect(p.take('b')).toEqual([]);
    expect(c.state).toBe('SYN_SENT');
    expect(cr.closed).toBeUndefined();
    expect(p.a.counters.resetsRx).toBe(2);
  });

  it('a RST acking our SYN refuses the connection', () => {
    const { p, c, iss, port, cr } = syns();
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 0, ack: iss + 1, flags: TcpFlag.Rst | TcpFlag.Ack })).toBeUndefined();
    expect(c.state).toBe('CLOSED');
    expect(cr.closed).toBe('reset');
    expect(p.take('b')).toEqual([]);
  });

  it('a plain ACK of our SYN (no SYN of theirs) is no-ack', () => {
    const { p, c, iss, port, cr } = syns();
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7, ack: iss + 1, flags: TcpFlag.Ack })).toBe('no-ack');
    expect(c.state).toBe('SYN_SENT');
    expect(cr.connected).toBe(false);
    expect(p.take('b')).toEqual([]);
  });

  it('the SYN-ACK: ESTABLISHED, onConnect, and an ACK of their SYN at once', () => {
    const { p, c, iss, port, cr } = syns();
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7000, ack: iss + 1, flags: TcpFlag.Syn | TcpFlag.Ack, window: 1000, options: { mss: 1000 } })).toBeUndefined();
    expect(c.state).toBe('ESTABLISHED');
    expect(cr.connected).toBe(true);
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: iss + 1, ackNum: 7001 }]);
    expect(c.timing.sndWnd).toBe(1000);
    expect(c.timing.cwnd).toBe(10 * 1000);
  });

  it('data queued before the handshake goes out after it, once; the SYN is not sent twice', () => {
    const { p, c, iss, port } = syns();
    expect(c.send(bytes(300))).toBe(300);
    p.a.poll();
    expect(p.take('b')).toEqual([]);
    p.forge('a', { srcPort: 80, dstPort: port, seq: 7000, ack: iss + 1, flags: TcpFlag.Syn | TcpFlag.Ack, options: { mss: 1460 } });
    const out = p.take('b');
    expect(out.map((s) => [s.flags & ~TcpFlag.Psh, s.seqNum, s.payload.length])).toEqual([[TcpFlag.Ack, iss + 1, 300]]);
  });

  it('simultaneous open: their SYN without ACK gets our SYN-ACK, then their SYN-ACK completes it', () => {
    const { p, c, iss, port, cr } = syns();
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7000, flags: TcpFlag.Syn, window: 5000, options: { mss: 1460, windowScale: 2 } })).toBeUndefined();
    expect(c.state).toBe('SYN_RECEIVED');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Syn | TcpFlag.Ack, seqNum: iss, ackNum: 7001 }]);
    expect(c.timing.sndWnd).toBe(5000);
    expect(c.send(bytes(10))).toBe(10); // queued until the handshake completes
    p.a.poll();
    expect(p.take('b')).toEqual([]);
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7001, ack: iss + 1, flags: TcpFlag.Ack, window: 100 })).toBeUndefined();
    expect(c.state).toBe('ESTABLISHED');
    expect(c.timing.sndWnd).toBe(400);
    expect(p.take('b').map((x) => [x.seqNum, x.payload.length])).toEqual([[iss + 1, 10]]);
    expect(cr.closed).toBeUndefined();
    expect(p.a.counters.established).toBe(1);
  });

  it('simultaneous open, then a RST: the application hears the connection was refused', () => {
    const { p, c, port, cr } = syns();
    p.forge('a', { srcPort: 80, dstPort: port, seq: 7000, flags: TcpFlag.Syn, options: { mss: 1460 } });
    p.take('b');
    expect(p.forge('a', { srcPort: 80, dstPort: port, seq: 7001, flags: TcpFlag.Rst })).toBeUndefined();
    expect(c.state).toBe('CLOSED');
    expect(cr.closed).toBe('reset');
  });

  it('gives up after 5 SYN retransmissions without sending a RST', () => {
    const { p, c, cr } = syns();
    p.filter = () => 'drop';
    p.run(200_000_000);
    expect(c.state).toBe('CLOSED');
    expect(cr.closed).toBe('timeout');
    expect(p.from('a').length).toBe(6);
    expect(p.from('a').every((s) => s.flags === TcpFlag.Syn)).toBe(true);
    expect(p.a.counters).toMatchObject({ timeouts: 1, resetsTx: 0, retransmits: 5 });
  });

  it('offers window scaling (shift 0) even with a receive buffer that needs none', () => {
    const p = new Pair({ rxBuffer: 60000 });
    p.a.connect(B_IP, 80, {});
    expect(p.take('b')[0]!.options).toMatchObject({ windowScale: 0, mss: 1460 });
  });

  it('the SYN window is the receive buffer, unscaled, at most 65535', () => {
    const p = new Pair();
    p.a.connect(B_IP, 80, {});
    const syn = p.take('b')[0]!;
    expect(syn.window).toBe(65535);
    expect(syn.options.windowScale).toBe(3);
  });
});

describe('TCP SYN_RECEIVED', () => {
  function halfOpen(): { p: Pair; got: TcpConnection[]; iss: number } {
    const p = new Pair();
    const got: TcpConnection[] = [];
    p.b.listen(80, { onAccept: (c) => got.push(c) });
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1000, flags: TcpFlag.Syn, options: { mss: 1460, windowScale: 0 } })).toBeUndefined();
    const synAck = p.take('a')[0]!;
    expect(synAck.flags).toBe(TcpFlag.Syn | TcpFlag.Ack);
    expect(synAck.options.windowScale).toBe(3); // they offered shift 0: scaling is on, ours is 3
    return { p, got, iss: synAck.seqNum };
  }

  it('the same SYN again: the same SYN-ACK again, at once', () => {
    const { p, iss } = halfOpen();
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1000, flags: TcpFlag.Syn, options: { mss: 1460 } })).toBeUndefined();
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Syn | TcpFlag.Ack, seqNum: iss, ackNum: 1001 }]);
    expect(p.b.counters.drops['syn-challenged']).toBe(0);
    expect(p.b.counters.retransmits).toBe(0);
  });

  it('a different SYN or a SYN-ACK is challenged with a plain ACK', () => {
    const { p, iss } = halfOpen();
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1001, flags: TcpFlag.Syn })).toBe('syn-challenged');
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: iss + 1, ackNum: 1001 }]);
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1, flags: TcpFlag.Syn | TcpFlag.Ack })).toBe('syn-challenged');
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Ack }]);
    // Their SYN-ACK at the first SYN's sequence number: below RCV.NXT, answered with an ACK, not our SYN-ACK.
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1000, ack: iss + 1, flags: TcpFlag.Syn | TcpFlag.Ack })).toBe('out-of-window');
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Ack, ackNum: 1001 }]);
    expect(p.b.connections()[0]!.state).toBe('SYN_RECEIVED');
  });

  it('an ACK that does not ack our SYN gets a RST; the right one establishes', () => {
    const { p, got, iss } = halfOpen();
    for (const ack of [iss, iss + 2]) {
      expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1001, ack, flags: TcpFlag.Ack })).toBe('bad-ack');
      expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Rst, seqNum: ack >>> 0 }]);
    }
    expect(got).toEqual([]);
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1, flags: TcpFlag.Ack, window: 3000 })).toBeUndefined();
    expect(got.length).toBe(1);
    expect(got[0]!.timing.sndWnd).toBe(3000);
  });

  it('a segment without ACK is dropped as no-ack', () => {
    const { p, got } = halfOpen();
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1001, flags: TcpFlag.Psh, payload: bytes(10) })).toBe('no-ack');
    expect(got).toEqual([]);
  });

  it('a RST at their SYN\'s own sequence number is out-of-window, unanswered', () => {
    const { p } = halfOpen();
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1000, flags: TcpFlag.Rst })).toBe('out-of-window');
    expect(p.take('a')).toEqual([]);
    expect(p.b.connections()[0]!.state).toBe('SYN_RECEIVED');
  });

  it('a RST at RCV.NXT forgets the half-open connection without telling the listener', () => {
    const { p, got } = halfOpen();
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1001, flags: TcpFlag.Rst })).toBeUndefined();
    expect(p.b.size).toBe(0);
    expect(p.b.activeCount).toBe(0);
    expect(got).toEqual([]);
    expect(p.take('a')).toEqual([]);
  });

  it('the accepting ACK may carry data, delivered to the handler set in onAccept', () => {
    const p = new Pair();
    const r = recorder();
    p.b.listen(80, { onAccept: (c) => (c.handler = r) });
    p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1000, flags: TcpFlag.Syn, options: { mss: 1460 } });
    const iss = p.take('a')[0]!.seqNum;
    expect(p.forge('b', { srcPort: 4000, dstPort: 80, seq: 1001, ack: iss + 1, flags: TcpFlag.Ack, payload: bytes(20) })).toBeUndefined();
    expect(r.data).toEqual([...bytes(20)]);
  });
});

describe('TCP acceptability and trimming (ESTABLISHED)', () => {
  it('a segment entirely before RCV.NXT is out-of-window and answered with an ACK of RCV.NXT', () => {
    const p = new Pair();
    const { cr } = established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) })).toBeUndefined();
    p.t += 10_000;
    p.a.poll();
    expect(p.take('b')).toMatchObject([{ ackNum: s.srv + 100 }]);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) })).toBe('out-of-window');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, ackNum: s.srv + 100 }]);
    expect(cr.data.length).toBe(100);
  });

  it('data far beyond the window is out-of-window and ACKed', () => {
    const p = new Pair();
    established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1_000_000, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(10) })).toBe('out-of-window');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, ackNum: s.srv }]);
  });

  it('a retransmission overlapping what we have delivers only the new bytes', () => {
    const p = new Pair();
    const { cr } = established(p);
    const s = seqs(p);
    const src = bytes(300, 9);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: src.subarray(0, 200) });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack, payload: src.subarray(100, 300) });
    expect(cr.data).toEqual([...src]);
  });

  it('an old last byte with a new FIN: the FIN is taken, nothing delivered twice', () => {
    const p = new Pair();
    const { client, cr } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(10) });
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 9, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin, payload: bytes(1, 64) })).toBeUndefined();
    expect(cr.data).toEqual([...bytes(10)]);
    expect(cr.ended).toBe(true);
    expect(client.state).toBe('CLOSE_WAIT');
    expect(p.take('b').at(-1)).toMatchObject({ flags: TcpFlag.Ack, ackNum: s.srv + 11 });
  });

  it('a segment running past our window is trimmed to it, and its FIN dropped', () => {
    const p = new Pair({ rxBuffer: 1000 });
    const { client, cr } = established(p);
    client.pause();
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin, payload: bytes(1500) })).toBeUndefined();
    expect(client.state).toBe('ESTABLISHED');
    expect(p.take('b').at(-1)).toMatchObject({ ackNum: s.srv + 1000, window: 0 });
    client.resume();
    expect(cr.data).toEqual([...bytes(1000)]);
    expect(cr.ended).toBe(false);
  });

  it('data exactly filling the window keeps its FIN', () => {
    const p = new Pair({ rxBuffer: 1000 });
    const { client, cr } = established(p);
    client.pause();
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin, payload: bytes(1000) })).toBeUndefined();
    expect(client.state).toBe('CLOSE_WAIT');
    client.resume();
    expect(cr.data.length).toBe(1000);
    expect(cr.ended).toBe(true);
  });

  it('with the window closed, data is refused but a pure ACK at RCV.NXT is taken', () => {
    const p = new Pair({ rxBuffer: 1000 });
    const { client } = established(p);
    client.pause();
    const s = seqs(p);
    client.send(bytes(50));
    p.a.poll();
    p.take('b');
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(1000) });
    p.take('b');
    // A zero-window probe: refused, answered with an ACK still showing the closed window.
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1000, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(1) })).toBe('out-of-window');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, ackNum: s.srv + 1000, window: 0 }]);
    // Their ACK of our 50 bytes, at RCV.NXT: taken.
    expect(client.queued).toBe(50);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1000, ack: s.cli + 50, flags: TcpFlag.Ack })).toBeUndefined();
    expect(client.queued).toBe(0);
    // A pure ACK elsewhere: not acceptable while the window is closed.
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1001, ack: s.cli + 50, flags: TcpFlag.Ack })).toBe('out-of-window');
  });

  it('a pure ACK ahead of RCV.NXT (their earlier data was lost) still acknowledges our data', () => {
    const p = new Pair();
    const { client } = established(p);
    const s = seqs(p);
    client.send(bytes(50));
    p.a.poll();
    p.take('b');
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 3000, ack: s.cli + 50, flags: TcpFlag.Ack })).toBeUndefined();
    expect(client.queued).toBe(0);
    expect(p.a.counters.outOfOrder).toBe(0);
    expect(p.a.pollAt()).toBeUndefined();
  });

  it('a segment without ACK in ESTABLISHED is dropped as no-ack, its data unread', () => {
    const p = new Pair();
    const { cr } = established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, flags: TcpFlag.Psh, payload: bytes(5) })).toBe('no-ack');
    expect(cr.data).toEqual([]);
  });

  it('data after the peer FIN is ignored', () => {
    const p = new Pair();
    const { cr, client } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin });
    expect(client.state).toBe('CLOSE_WAIT');
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(5) });
    expect(cr.data).toEqual([]);
  });

  it('an older segment (lower SEQ) or an older ACK does not move the send window back', () => {
    const p = new Pair();
    const { client } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, window: 5000, payload: bytes(10) });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 10, ack: s.cli, flags: TcpFlag.Ack, window: 6000, payload: bytes(10) });
    expect(client.timing.sndWnd).toBe(6000 << 3);
    // A segment sent before the last one (lower SEQ) that still brings new bytes: its window is stale.
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, window: 10, payload: bytes(30) })).toBeUndefined();
    expect(client.timing.sndWnd).toBe(6000 << 3);
    // Same SEQ as the last update, same ACK: a window update.
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 30, ack: s.cli, flags: TcpFlag.Ack, window: 7000 });
    expect(client.timing.sndWnd).toBe(7000 << 3);
    // Same SEQ, an older ACK: stale.
    client.send(bytes(100));
    p.a.poll();
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 30, ack: s.cli + 100, flags: TcpFlag.Ack, window: 7000 });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 30, ack: s.cli + 50, flags: TcpFlag.Ack, window: 20 });
    expect(client.timing.sndWnd).toBe(7000 << 3);
  });
});

describe('TCP against forged segments on an established connection', () => {
  it('their first SYN again (below RCV.NXT) is out-of-window: a plain ACK, never a SYN-ACK', () => {
    const p = new Pair();
    const { client } = established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv - 1, ack: s.cli, flags: TcpFlag.Syn | TcpFlag.Ack })).toBe('out-of-window');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: s.cli, ackNum: s.srv }]);
    expect(client.state).toBe('ESTABLISHED');
    // The same for the passive side and the client's first SYN.
    expect(p.forge('b', { srcPort: s.port, dstPort: 80, seq: s.cli - 1, flags: TcpFlag.Syn })).toBe('out-of-window');
    expect(p.take('a')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: s.srv, ackNum: s.cli }]);
  });

  it('a SYN or a segment without ACK inside the window neither resets nor reopens the connection', () => {
    const p = new Pair();
    const { client, cr } = established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, flags: TcpFlag.Syn })).toBe('syn-challenged');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, ackNum: s.srv }]);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, flags: TcpFlag.Psh, payload: bytes(4) })).toBe('no-ack');
    expect(client.state).toBe('ESTABLISHED');
    expect(cr.closed).toBeUndefined();
    expect(p.a.size).toBe(1);
  });

  it('a RST inside the window but not at RCV.NXT gets a challenge ACK', () => {
    const p = new Pair();
    const { client } = established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, flags: TcpFlag.Rst })).toBe('rst-challenged');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: s.cli, ackNum: s.srv }]);
    expect(client.state).toBe('ESTABLISHED');
  });

  it('a RST or a SYN just outside the window is out-of-window', () => {
    const p = new Pair({ rxBuffer: 1000 });
    const { client } = established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv - 1, flags: TcpFlag.Rst })).toBe('out-of-window');
    expect(p.take('b')).toEqual([]);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1000, flags: TcpFlag.Syn })).toBe('out-of-window');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, ackNum: s.srv }]);
    expect(client.state).toBe('ESTABLISHED');
  });

  it('an ACK of data never sent is answered with an ACK of where we are', () => {
    const p = new Pair();
    const { client } = established(p);
    const s = seqs(p);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli + 10, flags: TcpFlag.Ack })).toBe('ack-unsent');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: s.cli, ackNum: s.srv }]);
    expect(client.state).toBe('ESTABLISHED');
  });

  it('data within the window we can offer is taken even before our window update went out', () => {
    const p = new Pair({ rxBuffer: 2000 });
    const { client, cr } = established(p);
    const s = seqs(p);
    client.pause();
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(2000) });
    p.t += 1000;
    p.a.poll();
    expect(p.take('b').at(-1)).toMatchObject({ ackNum: s.srv + 2000, window: 0 });
    client.resume(); // the update is due at the next poll
    // A pure ACK from further on (their data before it was lost) is acceptable again.
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 2100, ack: s.cli, flags: TcpFlag.Ack })).toBeUndefined();
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 2000, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(500, 2) })).toBeUndefined();
    expect(cr.data).toEqual([...bytes(2000), ...bytes(500, 2)]);
  });
});

describe('TCP out-of-order segments', () => {
  it('keeps a copy: the receive buffer may be reused before the hole is filled', () => {
    const p = new Pair();
    const { cr } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100, 5) });
    p.lastForged!.fill(0); // the driver reuses its buffer
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100, 3) });
    expect(cr.data).toEqual([...bytes(100, 3), ...bytes(100, 5)]);
  });

  it('a longer segment at the same place as a kept one is kept too', () => {
    const p = new Pair();
    const { cr } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(50, 5) });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100, 5) });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100, 3) });
    expect(cr.data).toEqual([...bytes(100, 3), ...bytes(100, 5)]);
  });

  it('two holes: each fill delivers only up to the next hole', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    p.holdData();
    client.send(bytes(1460 * 4));
    p.deliver();
    const h = p.held;
    p.held = [];
    p.filter = undefined;
    p.queue.push(h[1]!, h[3]!);
    p.deliver();
    expect(sr.data).toEqual([]);
    p.queue.push(h[0]!);
    p.deliver();
    expect(sr.data).toEqual([...bytes(1460 * 2)]);
    p.queue.push(h[2]!);
    p.deliver();
    expect(sr.data).toEqual([...bytes(1460 * 4)]);
  });

  it('a segment kept out of order and then covered by a larger in-order one is not delivered twice', () => {
    const p = new Pair();
    const { cr } = established(p);
    const s = seqs(p);
    let calls = 0;
    const onData = cr.onData!;
    cr.onData = (c, d) => {
      calls++;
      onData(c, d);
    };
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100, 2).subarray(0, 100) });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(200) });
    expect(cr.data).toEqual([...bytes(200)]);
    expect(calls).toBe(1);
    expect(cr.ended).toBe(false);
    expect(p.a.connections()[0]!.state).toBe('ESTABLISHED');
  });

  it('a FIN on a kept segment is ignored when data beyond it arrives in order', () => {
    const p = new Pair();
    const { client, cr } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin, payload: bytes(100) });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(300) });
    expect(cr.data.length).toBe(300);
    expect(cr.ended).toBe(false);
    expect(client.state).toBe('ESTABLISHED');
  });

  it('an out-of-order segment running past the window keeps only what fits', () => {
    const p = new Pair({ rxBuffer: 1000 });
    const { cr } = established(p);
    const s = seqs(p);
    const src = bytes(1200, 6);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 600, ack: s.cli, flags: TcpFlag.Ack, payload: src.subarray(600, 1200) });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: src.subarray(0, 600) });
    expect(cr.data).toEqual([...src.subarray(0, 1000)]);
    p.t += 1000;
    p.a.poll();
    expect(p.take('b').at(-1)).toMatchObject({ ackNum: s.srv + 1000 });
  });

  it('the same out-of-order segment twice takes one slot', () => {
    const p = new Pair({ oooMax: 1 });
    established(p);
    const s = seqs(p);
    for (let i = 0; i < 2; i++) p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(50) });
    expect(p.a.counters.drops['ooo-full']).toBe(0);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 300, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(50) });
    expect(p.a.counters.drops['ooo-full']).toBe(1);
  });

  it('a FIN on an out-of-order segment is taken when the hole is filled', () => {
    const p = new Pair();
    const { client, cr } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin, payload: bytes(50, 4) });
    expect(client.state).toBe('ESTABLISHED');
    p.take('b');
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) });
    expect(cr.data).toEqual([...bytes(100), ...bytes(50, 4)]);
    expect(cr.ended).toBe(true);
    expect(client.state).toBe('CLOSE_WAIT');
    expect(p.take('b').at(-1)).toMatchObject({ ackNum: s.srv + 151 });
  });

  it('a lone FIN out of order is taken when the data before it arrives', () => {
    const p = new Pair();
    const { client, cr } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin });
    expect(p.a.counters.outOfOrder).toBe(1);
    expect(cr.ended).toBe(false);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) });
    expect(cr.ended).toBe(true);
    expect(client.state).toBe('CLOSE_WAIT');
    expect(p.take('b').at(-1)).toMatchObject({ ackNum: s.srv + 101 });
  });

  it('an in-order segment that leaves a hole behind it is ACKed at once', () => {
    const p = new Pair();
    established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 200, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) });
    expect(p.take('b')).toMatchObject([{ ackNum: s.srv }]);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) });
    expect(p.take('b')).toMatchObject([{ ackNum: s.srv + 100 }]);
  });
});

describe('TCP ACK timing', () => {
  it('a pure ACK is never ACKed', () => {
    const p = new Pair();
    const { client } = established(p);
    client.send(bytes(10));
    p.run(100_000);
    p.log = [];
    p.run(10_000_000);
    expect(p.log).toEqual([]);
  });

  it('a FIN is ACKed at once', () => {
    const p = new Pair({ delayedAckUs: 50_000 });
    established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack | TcpFlag.Fin });
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, ackNum: s.srv + 1 }]);
  });

  it('a paused reader ACKs a small segment at once; a running one delays it', () => {
    const p = new Pair({ delayedAckUs: 50_000 });
    const { client } = established(p);
    const s = seqs(p);
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) });
    expect(p.take('b')).toEqual([]);
    expect(p.a.pollAt()).toBe(p.t + 50_000);
    client.pause();
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 100, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(100) });
    expect(p.take('b')).toMatchObject([{ ackNum: s.srv + 200 }]);
  });

  it('a paused reader does not answer a pure ACK', () => {
    const p = new Pair();
    const { client } = established(p);
    const s = seqs(p);
    client.pause();
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, window: 4000 })).toBeUndefined();
    p.t += 10_000;
    p.a.poll();
    expect(p.take('b')).toEqual([]);
  });

  it('a full-sized segment to a paused reader waits for the delayed ACK', () => {
    const p = new Pair({ delayedAckUs: 50_000 });
    const { client } = established(p);
    const s = seqs(p);
    client.pause();
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(1460) });
    expect(p.take('b')).toEqual([]);
    p.t += 49_999;
    p.a.poll();
    expect(p.take('b')).toEqual([]);
    p.t += 1;
    p.a.poll();
    expect(p.take('b')).toMatchObject([{ ackNum: s.srv + 1460, window: (1 << 18) - 1460 >> 3 }]);
  });

  it('the delayed-ACK deadline is set by the first unACKed segment, not pushed back', () => {
    const p = new Pair({ delayedAckUs: 50_000 });
    established(p);
    const s = seqs(p);
    const t0 = p.t;
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli, flags: TcpFlag.Ack, payload: bytes(10) });
    p.t += 20_000;
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 10, ack: s.cli, flags: TcpFlag.Ack });
    expect(p.a.pollAt()).toBe(t0 + 50_000);
  });
});

describe('TCP TIME_WAIT', () => {
  function timeWait(): { p: Pair; client: TcpConnection; s: ReturnType<typeof seqs> } {
    const p = new Pair({ mslUs: 1_000_000 });
    const { client, server } = established(p);
    const s = seqs(p);
    client.close();
    p.deliver();
    server.close();
    p.deliver();
    expect(client.state).toBe('TIME_WAIT');
    return { p, client, s };
  }

  it('their FIN again is ACKed (an old duplicate: the timer runs on)', () => {
    const { p, client, s } = timeWait();
    p.log = [];
    p.run(1_500_000);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli + 1, flags: TcpFlag.Ack | TcpFlag.Fin })).toBe('out-of-window');
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: s.cli + 1, ackNum: s.srv + 1 }]);
    p.run(500_000);
    expect(client.state).toBe('CLOSED');
  });

  it('a FIN at RCV.NXT is ACKed and restarts the 2 MSL timer', () => {
    const { p, client, s } = timeWait();
    p.run(1_500_000);
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1, ack: s.cli + 1, flags: TcpFlag.Ack | TcpFlag.Fin })).toBeUndefined();
    expect(p.take('b')).toMatchObject([{ flags: TcpFlag.Ack, seqNum: s.cli + 1, ackNum: s.srv + 1 }]);
    p.run(1_999_999);
    expect(client.state).toBe('TIME_WAIT');
    p.run(1);
    expect(client.state).toBe('CLOSED');
  });

  it('a FIN without ACK ahead of RCV.NXT neither reopens nor ends it', () => {
    const { p, client, s } = timeWait();
    p.a.listen(s.port, { onAccept: () => {} });
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 10, flags: TcpFlag.Fin })).toBe('no-ack');
    expect(client.state).toBe('TIME_WAIT');
    expect(p.a.size).toBe(1);
  });

  it('a plain ACK in TIME_WAIT is not answered', () => {
    const { p, s } = timeWait();
    expect(p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 1, ack: s.cli + 1, flags: TcpFlag.Ack })).toBeUndefined();
    expect(p.take('b')).toEqual([]);
  });

  it('a SYN that also carries ACK does not reopen it', () => {
    const { p, client, s } = timeWait();
    p.a.listen(s.port, { onAccept: () => {} });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv + 5000, ack: s.cli + 1, flags: TcpFlag.Syn | TcpFlag.Ack });
    expect(client.state).toBe('TIME_WAIT');
    expect(p.a.size).toBe(1);
  });

  it('a SYN below the old sequence space does not reopen it', () => {
    const { p, client, s } = timeWait();
    p.a.listen(s.port, { onAccept: () => {} });
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv - 5000, flags: TcpFlag.Syn });
    expect(client.state).toBe('TIME_WAIT');
  });

  it('is not cut short by another connection’s timers', () => {
    const { p, client } = timeWait();
    p.a.connect(B_IP, 80, {}); // its SYN is lost: a retransmission timer 1 s from now
    p.queue = [];
    p.filter = () => 'drop';
    p.run(1_000_000);
    expect(p.a.counters.retransmits).toBe(1);
    expect(client.state).toBe('TIME_WAIT');
    p.run(1_000_000);
    expect(client.state).toBe('CLOSED');
  });
});

