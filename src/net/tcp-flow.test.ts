// TCP's sender as the peer sees it: congestion window (RFC 5681 slow start and congestion
// avoidance), fast retransmit and NewReno recovery (RFC 6582), the RTO estimator (RFC 6298,
// Karn's rule), zero-window probes, silly-window avoidance, window updates, and which segments
// (and only which) each timer sends.
import { describe, expect, it } from 'vitest';
import { TcpFlag } from '../wire/index.js';
import { B_IP, Pair, bytes, established, recorder, seqs } from './tcp-testing.js';

describe('TCP congestion window', () => {
  it('starts at 10 segments on both sides (the SYN is not counted as data acknowledged)', () => {
    const p = new Pair();
    const { client, server } = established(p);
    expect(client.timing.cwnd).toBe(14600);
    expect(server.timing.cwnd).toBe(14600);
    expect(client.timing.ssthresh).toBe(0x7fff_ffff);
  });

  it('slow start adds at most one segment per ACK', () => {
    const p = new Pair();
    const { client } = established(p);
    client.send(bytes(2920));
    p.deliver(); // two full segments: ACKed at once, together
    expect(client.timing.cwnd).toBe(14600 + 1460);
    client.send(bytes(100));
    p.run(10_000);
    expect(client.timing.cwnd).toBe(14600 + 1460 + 100);
  });

  it('a timeout: ssthresh half the flight (at least 2 segments), cwnd one segment; then slow start, then congestion avoidance', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    let drop = true;
    p.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 && drop ? 'drop' : 'pass');
    client.send(bytes(100));
    p.deliver();
    p.log = [];
    p.run(1_000_000);
    expect(p.a.counters.retransmits).toBe(1);
    expect(p.from('a').map((s) => s.payload.length)).toEqual([100]); // the retransmission alone, no extra ACK
    expect(client.timing).toMatchObject({ ssthresh: 2920, cwnd: 1460, rto: 2_000_000 });
    drop = false;
    p.run(2_010_000);
    expect(sr.data.length).toBe(100);
    expect(client.timing.srtt).toBeUndefined(); // Karn: no sample from a retransmission
    expect(client.timing.cwnd).toBe(1560);
    client.send(bytes(1360));
    p.run(10_000);
    expect(client.timing.cwnd).toBe(2920); // below ssthresh: + what was acked; now at ssthresh
    client.send(bytes(1460));
    p.run(10_000);
    expect(client.timing.cwnd).toBe(2920 + Math.floor((1460 * 1460) / 2920)); // congestion avoidance from ssthresh on
  });

  it('a timeout with a large flight halves it for ssthresh', () => {
    const p = new Pair();
    const { client } = established(p);
    p.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 ? 'drop' : 'pass');
    client.send(bytes(14600));
    p.run(1_000_000);
    expect(client.timing).toMatchObject({ ssthresh: 7300, cwnd: 1460 });
  });
});

type Forged = Parameters<Pair['forge']>[1];

/**
 * The server's window set to `window` (a field value, shifted by 3) by a forged ACK, then `n`
 * bytes sent by the client and taken off the wire (their lengths returned). `ack` forges more
 * ACKs from the server with that window.
 */
function sending(window: number, n: number): { p: Pair; client: ReturnType<typeof established>['client']; s: ReturnType<typeof seqs>; sent: number[]; ack: (ack?: number, extra?: Partial<Forged>) => ReturnType<Pair['forge']> } {
  const p = new Pair();
  const { client } = established(p);
  const s = seqs(p);
  const ack = (a = s.cli, extra: Partial<Forged> = {}): ReturnType<Pair['forge']> => p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: a, flags: TcpFlag.Ack, window, ...extra });
  ack();
  expect(client.timing.sndWnd).toBe(window << 3);
  client.send(bytes(n));
  p.a.poll();
  return { p, client, s, sent: p.take('b').map((x) => x.payload.length), ack };
}

describe('TCP fast retransmit and recovery', () => {
  function eightInFlight(): ReturnType<typeof sending> & { dup: (ack?: number, extra?: Partial<Forged>) => void } {
    const f = sending(8192, 1460 * 8);
    expect(f.sent).toEqual(Array(8).fill(1460));
    return { ...f, dup: (a, extra) => void f.ack(a, extra) };
  }

  it('the third duplicate ACK resends the first segment; ssthresh half the flight, cwnd ssthresh + 3', () => {
    const { p, client, s, dup } = eightInFlight();
    dup();
    dup();
    expect(p.take('b')).toEqual([]);
    expect(client.timing.cwnd).toBe(14600);
    dup();
    expect(p.take('b').map((x) => [x.seqNum, x.payload.length])).toEqual([[s.cli, 1460]]);
    expect(p.a.counters).toMatchObject({ fastRetransmits: 1, retransmits: 1 });
    expect(client.timing).toMatchObject({ ssthresh: 5840, cwnd: 5840 + 3 * 1460 });
    expect(p.a.pollAt()).toBe(p.t + 1_000_000);
    // Each further duplicate: one more segment has left the network; nothing is sent again.
    dup();
    expect(client.timing.cwnd).toBe(5840 + 4 * 1460);
    expect(p.take('b')).toEqual([]);
    // A partial ACK: the next hole at once, cwnd deflated by what was acked, plus one segment.
    dup(s.cli + 2920);
    expect(p.take('b').map((x) => [x.seqNum, x.payload.length])).toEqual([[s.cli + 2920, 1460]]);
    expect(client.timing.cwnd).toBe(5840 + 4 * 1460 - 2920 + 1460);
    expect(p.a.counters).toMatchObject({ fastRetransmits: 1, retransmits: 2 });
    // Three more duplicates during recovery: no second fast retransmit, and (counted afresh
    // after the partial ACK) only a fourth inflates cwnd again.
    dup(s.cli + 2920);
    dup(s.cli + 2920);
    dup(s.cli + 2920);
    expect(p.a.counters.fastRetransmits).toBe(1);
    expect(client.timing.cwnd).toBe(5840 + 4 * 1460 - 2920 + 1460);
    dup(s.cli + 2920);
    expect(client.timing.cwnd).toBe(5840 + 4 * 1460 - 2920 + 2 * 1460);
    // The full ACK ends recovery: cwnd back to ssthresh; nothing left to time.
    dup(s.cli + 8 * 1460);
    expect(client.timing.cwnd).toBe(5840);
    expect(client.queued).toBe(0);
    expect(p.a.pollAt()).toBeUndefined();
  });

  it('a small flight still gets ssthresh of two segments', () => {
    const { p, client, ack } = sending(8192, 300);
    for (let i = 0; i < 3; i++) ack();
    expect(p.take('b').map((x) => x.payload.length)).toEqual([300]);
    expect(client.timing).toMatchObject({ ssthresh: 2920, cwnd: 2920 + 3 * 1460 });
  });

  it('ACKs that carry data, a FIN, a new window, or come with nothing outstanding are not duplicates', () => {
    const { p, client, s, dup, ack } = eightInFlight();
    for (let i = 0; i < 3; i++) dup(s.cli, { payload: bytes(1), seq: s.srv + i });
    for (let i = 0; i < 3; i++) dup(s.cli, { window: 9000 + i, seq: s.srv + 3 });
    expect(p.a.counters.fastRetransmits).toBe(0);
    dup(s.cli, { seq: s.srv + 3, window: 9002 });
    dup(s.cli, { seq: s.srv + 3, window: 9002 });
    dup(s.cli, { seq: s.srv + 3, flags: TcpFlag.Ack | TcpFlag.Fin, window: 9002 });
    expect(p.a.counters.fastRetransmits).toBe(0);
    expect(client.timing.cwnd).toBe(14600);
    // Old ACKs (below SND.UNA, reordered on the way) are not duplicates either.
    dup(s.cli + 1460, { seq: s.srv + 4, window: 9002 }); // after their FIN
    for (let i = 0; i < 3; i++) expect(ack(s.cli, { seq: s.srv + 4, window: 9002 })).toBeUndefined();
    expect(p.a.counters.fastRetransmits).toBe(0);
    const q = new Pair();
    const { client: c2 } = established(q);
    const s2 = seqs(q);
    for (let i = 0; i < 4; i++) q.forge('a', { srcPort: 80, dstPort: s2.port, seq: s2.srv, ack: s2.cli, flags: TcpFlag.Ack, window: 8192 });
    expect(q.a.counters.fastRetransmits).toBe(0);
    expect(c2.timing.cwnd).toBe(14600);
  });
});

describe('TCP retransmission timer', () => {
  it('an ACK of part of the flight restarts the timer; an ACK of all of it stops it', () => {
    const { p, client, s, sent, ack } = sending(8192, 2920);
    expect(sent).toEqual([1460, 1460]);
    p.t += 300_000;
    ack(s.cli + 1460);
    expect(client.timing.rto).toBe(300_000 + 4 * 150_000); // the first RTT sample
    expect(p.a.pollAt()).toBe(p.t + 900_000);
    ack(s.cli + 2920);
    expect(p.a.pollAt()).toBeUndefined();
  });
});

describe('TCP RTO estimator (RFC 6298)', () => {
  /** Send two full segments held `us` on the wire; the receiver ACKs them at once. */
  function sample(p: Pair, client: ReturnType<typeof established>['client'], us: number): void {
    p.holdData();
    client.send(bytes(2920));
    p.deliver();
    p.t += us;
    p.release();
  }

  it('first sample: SRTT = R, RTTVAR = R/2; then 7/8 and 3/4 smoothing; RTO = SRTT + 4 RTTVAR', () => {
    const p = new Pair({ rtoMinUs: 1000 });
    const { client } = established(p);
    sample(p, client, 10_000);
    expect(client.timing).toMatchObject({ srtt: 10_000, rto: 10_000 + 4 * 5000 });
    sample(p, client, 20_000);
    const rttvar = 0.75 * 5000 + 0.25 * 10_000;
    const srtt = 0.875 * 10_000 + 0.125 * 20_000;
    expect(client.timing).toMatchObject({ srtt, rto: srtt + 4 * rttvar });
  });

  it('the variance term is at least 1 ms, and the RTO stays within rtoMin..rtoMax', () => {
    const p = new Pair({ rtoMinUs: 10 });
    const { client } = established(p);
    sample(p, client, 100);
    expect(client.timing).toMatchObject({ srtt: 100, rto: 1100 });
    const q = new Pair({ rtoMinUs: 10, rtoMaxUs: 25_000 });
    const c2 = established(q).client;
    sample(q, c2, 10_000);
    expect(c2.timing.rto).toBe(25_000);
  });

  it('one sample at a time: timed from the first new segment, not restarted by later ones', () => {
    const p = new Pair({ rtoMinUs: 1000 });
    const { client } = established(p);
    p.holdData();
    client.send(bytes(1460));
    p.deliver();
    p.t += 5000;
    client.send(bytes(1460));
    p.deliver();
    p.t += 5000;
    p.release();
    expect(client.timing.srtt).toBe(10_000);
  });
});

describe('TCP zero window and silly-window avoidance', () => {
  it('a closed window: probes of one byte with back-off, counted; an opening window sends at once', () => {
    const { p, s, sent, ack } = sending(0, 100);
    expect(sent).toEqual([]);
    expect(p.a.pollAt()).toBe(p.t + 1_000_000);
    p.t += 1_000_000;
    p.a.poll();
    expect(p.take('b').map((x) => [x.seqNum, x.payload.length])).toEqual([[s.cli, 1]]);
    expect(p.a.counters.windowProbes).toBe(1);
    expect(p.a.pollAt()).toBe(p.t + 2_000_000);
    p.t += 2_000_000;
    p.a.poll();
    expect(p.take('b').length).toBe(1);
    expect(p.a.counters.windowProbes).toBe(2);
    expect(p.a.counters.retransmits).toBe(0);
    // The peer opens its window (not acking the probe byte, still in flight): the rest goes at once.
    expect(ack(s.cli, { window: 100 })).toBeUndefined();
    expect(p.take('b').map((x) => [x.seqNum, x.payload.length])).toEqual([[s.cli + 1, 99]]);
  });

  it('no runt while data is in flight; a runt is fine when nothing is', () => {
    const p = new Pair({}, { rxBuffer: 2000 });
    const { client } = established(p);
    client.send(bytes(3000));
    p.a.poll();
    // The SYN-ACK offered 2000 bytes: one full segment, not the 540-byte rest of the window.
    expect(p.take('b').map((x) => x.payload.length)).toEqual([1460]);
    expect(sending(62, 3000).sent).toEqual([62 << 3]); // nothing in flight: 496 bytes go
  });

  it('the SYN-ACK window is not scaled: a peer offering 1000 bytes gets 1000, whatever its shift', () => {
    const p = new Pair();
    const cr = recorder();
    const c = p.a.connect(B_IP, 80, cr);
    const syn = p.take('b')[0]!;
    p.forge('a', { srcPort: 80, dstPort: syn.srcPort, seq: 5000, ack: syn.seqNum + 1, flags: TcpFlag.Syn | TcpFlag.Ack, window: 1000, options: { mss: 1460, windowScale: 7 } });
    expect(c.timing.sndWnd).toBe(1000);
    c.send(bytes(5000));
    p.a.poll();
    expect(p.take('b').reduce((n, x) => n + x.payload.length, 0)).toBe(1000);
  });
});

describe('TCP window updates', () => {
  /** The server, paused, receives `n` bytes and ACKs them; then resumes: what does it send? */
  function resumeAfter(rxBuffer: number, ns: number[]): Array<ReturnType<Pair['from']>> {
    const p = new Pair({}, { rxBuffer });
    const { client, server } = established(p);
    return ns.map((n) => {
      server.pause();
      client.send(bytes(n));
      p.run(10_000);
      expect(p.from('b').at(-1)!.window).toBe(rxBuffer - n);
      p.log = [];
      server.resume();
      p.run(10_000);
      return p.from('b');
    });
  }

  it('after a paused reader resumes: an update once the window grew by 2 segments', () => {
    const [small, big] = resumeAfter(16384, [2000, 2920]);
    expect(small).toEqual([]);
    expect(big).toMatchObject([{ flags: TcpFlag.Ack, window: 16384 }]);
  });

  it('with a small buffer the threshold is half of it', () => {
    const [small, big] = resumeAfter(4000, [1999, 2000]);
    expect(small).toEqual([]);
    expect(big).toMatchObject([{ flags: TcpFlag.Ack, window: 4000 }]);
  });
});

describe('TCP segments the sender emits', () => {
  it('data is sent once with its ACK piggybacked, no extra pure ACK; a FIN alone has no PSH', () => {
    const p = new Pair();
    const { server } = established(p);
    p.log = [];
    server.send(bytes(100));
    p.b.poll();
    expect(p.take('a').map((x) => [x.flags, x.payload.length])).toEqual([[TcpFlag.Ack | TcpFlag.Psh, 100]]);
    p.deliver();
    p.run(10_000);
    server.close();
    p.b.poll();
    expect(p.take('a').map((x) => [x.flags, x.payload.length])).toEqual([[TcpFlag.Ack | TcpFlag.Fin, 0]]);
  });

  it('data and FIN in one segment when they fit', () => {
    const p = new Pair();
    const { server } = established(p);
    server.send(bytes(10));
    server.close();
    p.b.poll();
    expect(p.take('a').map((x) => [x.flags, x.payload.length])).toEqual([[TcpFlag.Ack | TcpFlag.Psh | TcpFlag.Fin, 10]]);
  });

  it('an ACK of our data but not of our FIN leaves FIN_WAIT_1 alone', () => {
    const p = new Pair();
    const { client } = established(p);
    const s = seqs(p);
    client.send(bytes(10));
    client.close();
    p.a.poll();
    p.take('b');
    expect(client.state).toBe('FIN_WAIT_1');
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli + 10, flags: TcpFlag.Ack });
    expect(client.state).toBe('FIN_WAIT_1');
    p.forge('a', { srcPort: 80, dstPort: s.port, seq: s.srv, ack: s.cli + 11, flags: TcpFlag.Ack });
    expect(client.state).toBe('FIN_WAIT_2');
  });

  it('send() works in CLOSE_WAIT and before the handshake completes', () => {
    const p = new Pair();
    const { client, server, sr } = established(p);
    server.close();
    p.deliver();
    expect(client.state).toBe('CLOSE_WAIT');
    expect(client.send(bytes(10))).toBe(10);
    p.deliver();
    expect(sr.data.length).toBe(10);
    expect(client.state).toBe('CLOSE_WAIT');
  });
});

describe('TCP timers fire only what is due', () => {
  it('pollAt() is the earliest of a connection’s timers', () => {
    const p = new Pair({ delayedAckUs: 5_000_000 });
    const { client, server } = established(p);
    p.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 ? 'drop' : 'pass');
    client.send(bytes(10));
    p.deliver();
    const t0 = p.t;
    server.send(bytes(10));
    p.deliver();
    expect(p.a.pollAt()).toBe(t0 + 1_000_000); // the RTO, before the 5 s delayed ACK
  });

  it('a delayed ACK going out does not retransmit early; the RTO does not send a spare ACK', () => {
    const p = new Pair();
    const { client, server } = established(p);
    p.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 ? 'drop' : 'pass');
    client.send(bytes(10));
    p.deliver();
    server.send(bytes(10));
    p.deliver();
    p.log = [];
    p.run(1000);
    expect(p.from('a').map((x) => x.payload.length)).toEqual([0]); // the delayed ACK
    expect(p.a.counters.retransmits).toBe(0);
    p.log = [];
    p.run(1_000_000);
    expect(p.from('a').map((x) => x.payload.length)).toEqual([10]);
  });

  it('giving up on an established connection sends one RST, counted', () => {
    const p = new Pair({ maxRetries: 2 });
    const { client, cr } = established(p);
    p.filter = (f) => (f.to === 'b' ? 'drop' : 'pass');
    client.send(bytes(10));
    p.run(60_000_000);
    expect(cr.closed).toBe('timeout');
    expect(p.a.counters).toMatchObject({ resetsTx: 1, timeouts: 1, retransmits: 2 });
  });
});
