// The TCP state machine on a virtual clock: two TcpLayers joined by a segment wire the test
// controls (drop, hold back, reorder), every transition driven by pollAt()/poll().
import { describe, expect, it } from 'vitest';
import { IpProtocol, TcpFlag, TcpRepr, pseudoHeaderSum } from '../wire/index.js';
import { ip } from './testing.js';
import type { TcpConnection, TcpLayer } from './tcp.js';
import { A_IP, B_IP, Pair, bytes, established, recorder } from './tcp-testing.js';

describe('TCP open', () => {
  it('three-way handshake: SYN (MSS, WS), SYN-ACK, ACK; both ESTABLISHED', () => {
    const p = new Pair();
    const { client, server, cr } = established(p);
    const [syn, ack] = p.from('a');
    const [synAck] = p.from('b');
    expect(syn!.flags).toBe(TcpFlag.Syn);
    expect(syn!.options).toMatchObject({ mss: 1460, windowScale: 3 });
    expect(synAck!.flags).toBe(TcpFlag.Syn | TcpFlag.Ack);
    expect(synAck!.ackNum).toBe((syn!.seqNum + 1) >>> 0);
    expect(synAck!.options).toMatchObject({ mss: 1460, windowScale: 3 });
    expect(ack!.flags).toBe(TcpFlag.Ack);
    expect(ack!.ackNum).toBe((synAck!.seqNum + 1) >>> 0);
    expect(client.state).toBe('ESTABLISHED');
    expect(server.state).toBe('ESTABLISHED');
    expect(cr.connected).toBe(true);
    expect(p.a.counters).toMatchObject({ activeOpens: 1, established: 1 });
    expect(p.b.counters).toMatchObject({ passiveOpens: 1, established: 1 });
  });

  it('without a window-scale option in the SYN, none in the SYN-ACK and windows unscaled', () => {
    const p = new Pair();
    const seen: TcpConnection[] = [];
    p.b.listen(80, { onAccept: (c) => seen.push(c) });
    const syn = new TcpRepr(40000, 80, 1000, 0, TcpFlag.Syn, 8192, { mss: 1200 });
    const buf = new Uint8Array(syn.bufferLen());
    syn.emit(buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, buf.length));
    expect(p.b.process(A_IP, B_IP, buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, buf.length))).toBeUndefined();
    const synAck = p.queue.shift()!.seg;
    expect(synAck.options.windowScale).toBeUndefined();
    expect(synAck.window).toBe(65535);
  });

  it('SYN to a closed port: RST|ACK acking the SYN; a RST to nothing gets no answer', () => {
    const p = new Pair();
    const cr = recorder();
    p.a.connect(B_IP, 81, cr);
    p.deliver();
    const rst = p.from('b')[0]!;
    expect(rst.flags).toBe(TcpFlag.Rst | TcpFlag.Ack);
    expect(rst.ackNum).toBe((p.from('a')[0]!.seqNum + 1) >>> 0);
    expect(cr.closed).toBe('reset');
    expect(p.b.counters.drops['no-listener']).toBe(1);
    expect(p.b.counters.resetsTx).toBe(1);
    expect(p.a.size).toBe(0);
    // b's RST reached a, which had nothing left: no reply to it.
    expect(p.from('a').length).toBe(1);
    const lone = new TcpRepr(5, 6, 1, 0, TcpFlag.Rst, 0);
    const buf = new Uint8Array(20);
    lone.emit(buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20));
    expect(p.b.process(A_IP, B_IP, buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20))).toBe('no-connection');
    expect(p.queue).toEqual([]);
  });

  it('an ACK for no connection is answered with RST at SEQ=SEG.ACK', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    const seg = new TcpRepr(40000, 80, 5, 777, TcpFlag.Ack, 100);
    const buf = new Uint8Array(20);
    seg.emit(buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20));
    expect(p.b.process(A_IP, B_IP, buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20))).toBe('no-connection');
    expect(p.queue[0]!.seg).toMatchObject({ flags: TcpFlag.Rst, seqNum: 777 });
  });

  it('ports 0 are dropped with a reason and never answered', () => {
    const p = new Pair();
    for (const [sp, dp] of [[0, 80], [40000, 0]] as const) {
      const seg = new TcpRepr(sp, dp, 5, 0, TcpFlag.Syn, 100);
      const buf = new Uint8Array(20);
      seg.emit(buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20));
      expect(p.b.process(A_IP, B_IP, buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20))).toBe('port-zero');
    }
    expect(p.b.counters.drops['port-zero']).toBe(2);
    expect(p.queue).toEqual([]);
  });

  it('a bad checksum is a malformed drop, not a reply', () => {
    const p = new Pair();
    const seg = new TcpRepr(1000, 80, 5, 0, TcpFlag.Syn, 100);
    const buf = new Uint8Array(20);
    seg.emit(buf, 0);
    const v = p.b.process(A_IP, B_IP, buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20));
    expect(v).toMatchObject({ protocol: 'tcp', reason: 'bad-checksum' });
    expect(p.b.counters.drops.malformed).toBe(1);
    expect(p.queue).toEqual([]);
  });

  it('a lost SYN is sent again after the initial RTO (1 s), then 2 s later; the connection opens', () => {
    const p = new Pair();
    let drops = 2;
    p.filter = (f) => (f.seg.flags & TcpFlag.Syn && f.to === 'b' && drops-- > 0 ? 'drop' : 'pass');
    const { cr } = (() => {
      const cr = recorder();
      p.b.listen(80, { onAccept: (c) => (c.handler = recorder()) });
      p.a.connect(B_IP, 80, cr);
      return { cr };
    })();
    p.run(999_999);
    expect(p.from('a').length).toBe(1);
    p.run(1);
    expect(p.from('a').length).toBe(2);
    p.run(1_999_999);
    expect(cr.connected).toBe(false);
    p.run(1);
    expect(cr.connected).toBe(true);
    expect(p.a.counters.retransmits).toBe(2);
  });

  it('SYN_RECEIVED answers a repeated SYN with the SYN-ACK again; gives up after 5 retries', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    p.filter = (f) => (f.to === 'a' ? 'drop' : 'pass'); // nothing reaches the client
    p.a.connect(B_IP, 80, recorder());
    p.deliver();
    expect(p.b.size).toBe(1);
    p.run(200_000_000);
    const synAcks = p.from('b').filter((s) => s.flags === (TcpFlag.Syn | TcpFlag.Ack));
    expect(synAcks.length).toBeGreaterThanOrEqual(6);
    expect(p.b.size).toBe(0);
    expect(p.b.counters.timeouts).toBe(1);
    expect(p.a.size).toBe(0);
  });
});

describe('TCP data', () => {
  it('carries bytes both ways in order, PSH on the last segment', () => {
    const p = new Pair();
    const { client, server, cr, sr } = established(p);
    expect(client.send(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'))).toBe(18);
    p.deliver();
    expect(String.fromCharCode(...sr.data)).toBe('GET / HTTP/1.1\r\n\r\n');
    server.send(bytes(5000));
    p.deliver();
    expect(cr.data).toEqual([...bytes(5000)]);
    const segs = p.from('b').filter((s) => s.payload.length > 0);
    expect(segs.map((s) => s.payload.length)).toEqual([1460, 1460, 1460, 620]);
    expect(segs.map((s) => (s.flags & TcpFlag.Psh) !== 0)).toEqual([false, false, false, true]);
  });

  it('a 1 MB transfer uses a scaled window beyond 64 KiB and arrives intact', () => {
    const p = new Pair();
    const { client, server } = established(p);
    const got: Uint8Array[] = [];
    server.handler = { onData: (_c, d) => void got.push(d.slice()) };
    const total = 1024 * 1024;
    const src = bytes(total, 3);
    let off = 0;
    const pump = (): void => {
      while (off < total) {
        const n = client.send(src.subarray(off, Math.min(total, off + 65536)));
        if (n === 0) return;
        off += n;
      }
    };
    client.handler = { onWritable: pump };
    pump();
    p.run(10_000_000);
    const all = new Uint8Array(got.reduce((n, d) => n + d.length, 0));
    got.reduce((off, d) => (all.set(d, off), off + d.length), 0);
    expect(all.length).toBe(total);
    expect(all.every((x, i) => x === src[i])).toBe(true);
    expect(client.timing.sndWnd).toBeGreaterThan(65535);
    expect(p.a.counters.retransmits).toBe(0);
  });

  it('ACKs every second full segment at once, a lone segment after the delayed-ACK time', () => {
    const p = new Pair();
    const { client } = established(p);
    p.log = [];
    client.send(bytes(1460 * 2));
    p.deliver();
    expect(p.from('b').filter((s) => s.payload.length === 0).length).toBe(1);
    p.log = [];
    client.send(bytes(100));
    p.deliver();
    expect(p.from('b')).toEqual([]);
    p.run(999);
    expect(p.from('b')).toEqual([]);
    p.run(1);
    expect(p.from('b').length).toBe(1);
  });

  it('flow control: a paused reader closes the window; the sender stops, probes, and resumes', () => {
    const p = new Pair({}, { rxBuffer: 16384 });
    const { client, server, sr } = established(p);
    server.pause();
    client.send(bytes(40000));
    p.run(100_000);
    expect(sr.data.length).toBe(0);
    const lastAck = p.from('b').at(-1)!;
    expect(lastAck.window).toBe(0);
    const sent = p.from('a').reduce((n, s) => n + s.payload.length, 0);
    expect(sent).toBe(16384);
    // Zero-window probes keep coming, with back-off, and are refused.
    p.run(5_000_000);
    const probes = p.from('a').filter((s) => s.payload.length === 1);
    expect(probes.length).toBeGreaterThanOrEqual(2);
    server.resume();
    p.run(10_000_000);
    expect(sr.data.length).toBe(40000);
    expect(Uint8Array.from(sr.data)).toEqual(bytes(40000));
  });
});

describe('TCP loss and reordering', () => {
  it('a lost segment is sent again after the RTO; the RTO backs off', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    let drop = true;
    p.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 && drop ? 'drop' : 'pass');
    client.send(bytes(100));
    p.run(199_999);
    expect(sr.data.length).toBe(0);
    p.run(1_100_000); // the 1 s initial RTO (no RTT sample yet)
    expect(p.a.counters.retransmits).toBe(1);
    drop = false;
    p.run(2_000_000);
    expect(sr.data).toEqual([...bytes(100)]);
    expect(p.a.counters.retransmits).toBe(2);
  });

  it('gives up with RST after maxRetries retransmissions and reports a timeout', () => {
    const p = new Pair({ maxRetries: 3 });
    const { client, cr } = established(p);
    p.filter = (f) => (f.to === 'b' ? 'drop' : 'pass');
    client.send(bytes(10));
    p.run(60_000_000);
    expect(cr.closed).toBe('timeout');
    expect(p.a.counters.timeouts).toBe(1);
    expect(p.from('a').at(-1)!.flags).toBe(TcpFlag.Rst);
    // Retransmissions at 1, 2, 4 s after the first (exponential backoff).
    const dataTimes = p.log.filter((l) => l.from === 'a' && l.seg.payload.length > 0).length;
    expect(dataTimes).toBe(4);
  });

  it('RTO follows RFC 6298 from measured RTTs, floored at rtoMin', () => {
    const p = new Pair({ rtoMinUs: 50_000 });
    const { client, server } = established(p);
    // Hold each data segment 10 ms on the wire.
    for (let i = 0; i < 5; i++) {
      client.send(bytes(10));
      p.holdData();
      p.deliver();
      p.filter = undefined;
      p.run(10_000);
      p.release();
      p.run(2000);
    }
    const t = client.timing;
    expect(t.srtt).toBeGreaterThanOrEqual(10_000);
    expect(t.srtt).toBeLessThan(12_000);
    expect(t.rto).toBe(50_000);
    expect(server.state).toBe('ESTABLISHED');
  });

  it('three duplicate ACKs trigger a fast retransmit long before the RTO', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    let n = 0;
    p.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 && n++ === 1 ? 'drop' : 'pass');
    client.send(bytes(1460 * 8));
    p.run(5000);
    expect(p.a.counters.fastRetransmits).toBe(1);
    expect(sr.data.length).toBe(1460 * 8);
    // Only the lost segment went twice (SND.NXT did not move back).
    expect(p.from('a').reduce((k, x) => k + x.payload.length, 0)).toBe(1460 * 9);
    expect(Uint8Array.from(sr.data)).toEqual(bytes(1460 * 8));
    expect(p.b.counters.outOfOrder).toBeGreaterThanOrEqual(3);
  });

  it('reordered segments are delivered in order', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    p.holdData();
    client.send(bytes(1460 * 4));
    p.deliver();
    expect(p.held.length).toBe(4);
    p.release([3, 1, 2, 0]);
    expect(sr.data.length).toBe(1460 * 4);
    expect(Uint8Array.from(sr.data)).toEqual(bytes(1460 * 4));
    expect(p.b.counters.outOfOrder).toBe(3);
  });

  it('a duplicated segment is delivered once', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    p.holdData();
    client.send(bytes(300));
    p.deliver();
    p.release([0, 0]);
    expect(sr.data).toEqual([...bytes(300)]);
  });
});

describe('TCP close', () => {
  it('active close: FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT for 2 MSL; passive side CLOSE_WAIT, LAST_ACK, CLOSED', () => {
    const p = new Pair({ mslUs: 1_000_000 });
    const { client, server, cr, sr } = established(p);
    client.close();
    expect(client.state).toBe('ESTABLISHED');
    p.filter = (f) => (f.to === 'a' ? 'hold' : 'pass');
    p.a.poll();
    p.deliver();
    expect(client.state).toBe('FIN_WAIT_1');
    expect(server.state).toBe('CLOSE_WAIT');
    expect(sr.ended).toBe(true);
    p.filter = undefined;
    p.release();
    expect(client.state).toBe('FIN_WAIT_2');
    server.close();
    p.b.poll();
    expect(server.state).toBe('LAST_ACK');
    p.deliver();
    expect(client.state).toBe('TIME_WAIT');
    expect(cr.ended).toBe(true);
    expect(cr.closed).toBe('closed');
    expect(server.state).toBe('CLOSED');
    expect(sr.closed).toBe('closed');
    expect(p.a.size).toBe(1);
    expect(p.a.activeCount).toBe(0);
    p.run(1_999_999);
    expect(p.a.size).toBe(1);
    p.run(1);
    expect(p.a.size).toBe(0);
  });

  it('simultaneous close goes through CLOSING to TIME_WAIT on both sides', () => {
    const p = new Pair();
    const { client, server } = established(p);
    client.close();
    server.close();
    p.filter = (f) => (f.seg.flags & TcpFlag.Fin ? 'hold' : 'pass');
    p.a.poll();
    p.b.poll();
    p.deliver();
    expect(client.state).toBe('FIN_WAIT_1');
    expect(server.state).toBe('FIN_WAIT_1');
    p.filter = undefined;
    p.release();
    expect(client.state).toBe('TIME_WAIT');
    expect(server.state).toBe('TIME_WAIT');
  });

  it('data queued before close() goes out before the FIN', () => {
    const p = new Pair();
    const { client, cr, sr, server } = established(p);
    server.send(bytes(3000));
    server.close();
    p.deliver();
    expect(cr.data.length).toBe(3000);
    expect(cr.ended).toBe(true);
    const last = p.from('b').filter((s) => s.payload.length > 0).at(-1)!;
    expect(last.flags & TcpFlag.Fin).toBe(TcpFlag.Fin);
    expect(client.state).toBe('CLOSE_WAIT');
    void sr;
  });

  it('a lost FIN is retransmitted', () => {
    const p = new Pair();
    const { client, server } = established(p);
    let drop = true;
    p.filter = (f) => (f.seg.flags & TcpFlag.Fin && drop ? ((drop = false), 'drop') : 'pass');
    client.close();
    p.a.poll();
    p.deliver();
    expect(server.state).toBe('ESTABLISHED');
    p.run(1_500_000);
    expect(server.state).toBe('CLOSE_WAIT');
  });

  it('FIN_WAIT_2 without the peer ever closing ends after finWait2Us', () => {
    const p = new Pair({ finWait2Us: 5_000_000 });
    const { client, cr } = established(p);
    client.close();
    p.a.poll();
    p.deliver();
    expect(client.state).toBe('FIN_WAIT_2');
    p.run(5_000_000);
    expect(client.state).toBe('CLOSED');
    expect(cr.closed).toBe('timeout');
  });

  it('a SYN in TIME_WAIT with a higher sequence number opens a new connection', () => {
    const p = new Pair();
    const { client, server } = established(p);
    client.close();
    p.a.poll();
    p.deliver();
    server.close();
    p.b.poll();
    p.deliver();
    expect(client.state).toBe('TIME_WAIT');
    // b (the passive side) closed second, so a holds TIME_WAIT; let b now reconnect to a from 80's port
    p.run(1000); // RFC 6528: the same 4-tuple's next ISS is later on the 4 µs clock
    const accepted: TcpConnection[] = [];
    p.a.listen(client.localPort, { onAccept: (c) => accepted.push(c) });
    p.b.connect(A_IP, client.localPort, recorder(), 80);
    p.deliver();
    expect(accepted.length).toBe(1);
    expect(accepted[0]!.state).toBe('ESTABLISHED');
  });
});

describe('TCP against an attacker', () => {
  it('RST must match RCV.NXT exactly: in-window gets a challenge ACK, exact resets', () => {
    const p = new Pair();
    const { server, sr } = established(p);
    const clientSeq = p.from('a').at(-1)!.seqNum;
    const forge = (seq: number, flags: number): ReturnType<TcpLayer['process']> => {
      const r = new TcpRepr(p.from('a')[0]!.srcPort, 80, seq, 0, flags, 0);
      const buf = new Uint8Array(20);
      r.emit(buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20));
      return p.b.process(A_IP, B_IP, buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20));
    };
    expect(forge((clientSeq + 100) >>> 0, TcpFlag.Rst)).toBe('rst-challenged');
    expect(p.queue.shift()!.seg.flags).toBe(TcpFlag.Ack);
    expect(forge((clientSeq + 10_000_000) >>> 0, TcpFlag.Rst)).toBe('out-of-window');
    expect(p.queue).toEqual([]); // no reply to an out-of-window RST
    expect(forge(clientSeq, TcpFlag.Syn)).toBe('syn-challenged');
    expect(p.queue.shift()!.seg.flags).toBe(TcpFlag.Ack);
    expect(server.state).toBe('ESTABLISHED');
    expect(forge(clientSeq, TcpFlag.Rst)).toBeUndefined();
    expect(server.state).toBe('CLOSED');
    expect(sr.closed).toBe('reset');
  });

  it('an ACK of data never sent is answered with an ACK and dropped', () => {
    const p = new Pair();
    const { server } = established(p);
    const c0 = p.from('a').at(-1)!;
    const r = new TcpRepr(c0.srcPort, 80, c0.seqNum, (c0.ackNum + 5000) >>> 0, TcpFlag.Ack, 100);
    const buf = new Uint8Array(20);
    r.emit(buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20));
    expect(p.b.process(A_IP, B_IP, buf, pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, 20))).toBe('ack-unsent');
    expect(p.queue.shift()!.seg.ackNum).toBe(c0.seqNum);
    expect(server.state).toBe('ESTABLISHED');
  });

  it('a SYN flood keeps at most `backlog` half-open connections and a real client still gets in', () => {
    const p = new Pair();
    const accepted: TcpConnection[] = [];
    p.b.listen(80, { backlog: 8, onAccept: (c) => accepted.push(c) });
    for (let i = 0; i < 1000; i++) {
      const r = new TcpRepr(10000 + i, 80, i * 1000, 0, TcpFlag.Syn, 1000, { mss: 1460 });
      const buf = new Uint8Array(r.bufferLen());
      const src = ip('10.77.0.99');
      r.emit(buf, pseudoHeaderSum(src, B_IP, IpProtocol.Tcp, buf.length));
      p.b.process(src, B_IP, buf, pseudoHeaderSum(src, B_IP, IpProtocol.Tcp, buf.length));
    }
    p.queue = [];
    expect(p.b.size).toBe(8);
    expect(p.b.counters.synEvicted).toBe(992);
    p.a.connect(B_IP, 80, recorder());
    p.deliver();
    expect(accepted.length).toBe(1);
    expect(accepted[0]!.state).toBe('ESTABLISHED');
  });

  it('beyond maxConnections a SYN is answered with RST and counted', () => {
    const p = new Pair({}, { maxConnections: 2 });
    p.b.listen(80, { onAccept: () => {} });
    const rs = [recorder(), recorder(), recorder()];
    for (const r of rs) p.a.connect(B_IP, 80, r);
    p.deliver();
    expect(rs.map((r) => r.connected)).toEqual([true, true, false]);
    expect(rs[2]!.closed).toBe('reset');
    expect(p.b.counters.drops['too-many-connections']).toBe(1);
  });

  it('TIME_WAIT entries are bounded; the oldest go first', () => {
    const p = new Pair({ timeWaitMax: 3 });
    p.b.listen(80, { onAccept: (c) => (c.handler = { onEnd: (x) => x.close() }) });
    for (let i = 0; i < 5; i++) {
      const c = p.a.connect(B_IP, 80, {});
      p.deliver();
      c.close();
      p.a.poll();
      p.deliver();
      p.b.poll();
      p.deliver();
    }
    expect(p.a.size).toBe(3);
    expect(p.a.counters.timeWaitEvicted).toBe(2);
    expect(p.a.connections().every((c) => c.state === 'TIME_WAIT')).toBe(true);
  });

  it('the out-of-order queue is bounded', () => {
    const p = new Pair({}, { oooMax: 2 });
    const { client } = established(p);
    p.holdData();
    client.send(bytes(1460 * 5));
    p.deliver();
    p.release([1, 2, 3, 4]);
    expect(p.b.counters.drops['ooo-full']).toBe(2);
  });
});
