// TCP as the application and the stack see it: configuration checks, listen/connect arguments,
// ephemeral ports, initial sequence numbers, send/close/abort/pause/resume, counters, timers as
// pollAt() reports them, and the IPv4 glue (tcpProtocol/processTcp) on a NetStack.
import { describe, expect, it } from 'vitest';
import { IPV4_HEADER_LEN, IpProtocol, MAC_BROADCAST, TcpFlag, TcpPacket, TcpRepr, internetChecksum, isWireError, pseudoHeaderSum } from '../wire/index.js';
import type { IpAddr } from '../wire/index.js';
import { TCP_DROP_REASONS, TCP_SOCKETS, TcpLayer, tcpProtocol } from './tcp.js';
import type { TcpConfig, TcpConnection } from './tcp.js';
import { A_IP, B_IP, Pair, bytes, established, recorder } from './tcp-testing.js';
import { OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, ip, ipv4Frame, stackKnowingPeer } from './testing.js';

/** A layer alone, on a clock the test sets, keeping every segment it sends. */
function lone(cfg: Partial<TcpConfig> = {}, clock = { t: 1_000_000 }): { layer: TcpLayer; sent: TcpRepr[]; clock: { t: number } } {
  const sent: TcpRepr[] = [];
  const layer = new TcpLayer(
    {
      now: () => clock.t,
      send: (dst: IpAddr, len, emit) => {
        const buf = new Uint8Array(len);
        const sum = pseudoHeaderSum(A_IP, dst as number, IpProtocol.Tcp, len);
        emit(buf, sum);
        const p = TcpPacket.checked(buf, sum);
        if (isWireError(p)) throw new Error(p.message);
        sent.push(TcpRepr.parse(p) as TcpRepr);
        return true;
      },
    },
    () => A_IP,
    { mss: 1460, random: () => 0x1234_5678, ...cfg },
  );
  return { layer, sent, clock };
}

describe('TCP configuration', () => {
  it('refuses counts that are not positive integers, naming the field', () => {
    for (const k of ['maxConnections', 'backlog', 'timeWaitMax', 'rxBuffer', 'txBuffer', 'maxRetries', 'oooMax'] as const) {
      for (const bad of [0, -1, 1.5]) expect(() => lone({ [k]: bad })).toThrow(new RangeError(`TcpConfig: ${k} must be an integer >= 1`));
      expect(() => lone({ [k]: 1 })).not.toThrow();
    }
  });

  it('refuses an MSS outside 64..65535 and takes both ends', () => {
    expect(() => lone({ mss: 63 })).toThrow(new RangeError('TcpConfig: mss must be 64..65535'));
    expect(() => lone({ mss: 65536 })).toThrow(new RangeError('TcpConfig: mss must be 64..65535'));
    expect(() => lone({ mss: 0 })).toThrow(new RangeError('TcpConfig: mss must be an integer >= 1'));
    expect(() => lone({ mss: 64 })).not.toThrow();
    expect(() => lone({ mss: 65535 })).not.toThrow();
  });

  it('the window-scale shift in the SYN is the smallest that fits the receive buffer in 16 bits', () => {
    for (const [rxBuffer, ws] of [
      [65535, 0],
      [65536, 1],
      [131070, 1],
      [131071, 2],
      [1 << 20, 5],
    ] as const) {
      const { layer, sent } = lone({ rxBuffer });
      layer.connect(B_IP, 80, {});
      expect(sent[0]!.options.windowScale).toBe(ws);
      expect(sent[0]!.window).toBe(Math.min(rxBuffer, 65535));
    }
  });

  it('the shift is capped at 14 (RFC 7323 2.3) for a buffer beyond 1 GiB', () => {
    const raw: Uint8Array[] = [];
    const layer = new TcpLayer(
      {
        now: () => 1_000_000,
        send: (_dst, len, emit) => {
          const buf = new Uint8Array(len);
          emit(buf, 0);
          raw.push(buf);
          return true;
        },
      },
      () => A_IP,
      { mss: 1460, rxBuffer: 2 ** 31, random: () => 1 },
    );
    layer.connect(B_IP, 80, {});
    // Options: MSS (kind 2, 4 bytes), then NOP, window scale (kind 3, length 3, shift).
    expect([...raw[0]!.subarray(24, 28)]).toEqual([1, 3, 3, 14]);
  });

  it('by default TIME_WAIT lasts 2 x 30 s and FIN_WAIT_2 60 s', () => {
    const p = new Pair({ random: undefined }, {});
    const { client } = established(p);
    client.close();
    p.deliver();
    expect(client.state).toBe('FIN_WAIT_2');
    p.run(59_999_999);
    expect(client.state).toBe('FIN_WAIT_2');
    p.run(1);
    expect(client.state).toBe('CLOSED');

    const q = new Pair();
    const c2 = established(q);
    c2.client.close();
    q.deliver();
    c2.server.close();
    q.deliver();
    expect(c2.client.state).toBe('TIME_WAIT');
    q.run(59_999_999);
    expect(c2.client.state).toBe('TIME_WAIT');
    q.run(1);
    expect(c2.client.state).toBe('CLOSED');
  });
});

describe('TCP listen and connect arguments', () => {
  it('listen takes ports 1..65535 once each; a bad or taken port is a caller error', () => {
    const { layer } = lone();
    for (const bad of [0, -1, 65536, 1.5]) expect(() => layer.listen(bad, { onAccept: () => {} })).toThrow(new RangeError(`tcp port ${bad} out of range 1..65535`));
    expect(layer.listen(1, { onAccept: () => {} }).port).toBe(1);
    expect(layer.listen(65535, { onAccept: () => {} }).port).toBe(65535);
    expect(() => layer.listen(1, { onAccept: () => {} })).toThrow(new Error('tcp port 1 in use'));
  });

  it('connect takes destination ports 1..65535', () => {
    const { layer, sent } = lone();
    for (const bad of [0, 65536, 2.5]) expect(() => layer.connect(B_IP, bad, {})).toThrow(new RangeError(`tcp destination port ${bad} out of range 1..65535`));
    layer.connect(B_IP, 1, {});
    layer.connect(B_IP, 65535, {});
    expect(sent.map((s) => s.dstPort)).toEqual([1, 65535]);
  });

  it('connect refuses beyond maxConnections and a 4-tuple already in use', () => {
    const { layer } = lone({ maxConnections: 2 });
    layer.connect(B_IP, 80, {}, 5000);
    expect(() => layer.connect(B_IP, 80, {}, 5000)).toThrow(new Error(`tcp: connection to ${String(B_IP)}:80 from port 5000 exists`));
    layer.connect(B_IP, 80, {}, 5001);
    expect(layer.activeCount).toBe(2);
    expect(() => layer.connect(B_IP, 80, {})).toThrow(new Error('tcp: too many connections'));
  });

  it('ephemeral ports count up from 49152 and skip listeners and used 4-tuples', () => {
    const { layer } = lone();
    layer.listen(49153, { onAccept: () => {} });
    layer.connect(B_IP, 80, {}, 49155);
    const ports = [0, 1, 2].map(() => layer.connect(B_IP, 80, {}).localPort);
    expect(ports).toEqual([49152, 49154, 49156]);
    // The same local port may serve another destination.
    expect(layer.connect(B_IP, 81, {}, 49152).localPort).toBe(49152);
  });

  it('ephemeral ports wrap after 65535 and run out', () => {
    const { layer } = lone();
    for (let port = 49153; port < 65535; port++) layer.listen(port, { onAccept: () => {} });
    expect(layer.connect(B_IP, 80, {}).localPort).toBe(49152);
    expect(layer.connect(B_IP, 80, {}).localPort).toBe(65535);
    expect(() => layer.connect(B_IP, 80, {})).toThrow(new Error('tcp: no free ephemeral port'));
    expect(layer.connect(B_IP, 81, {}).localPort).toBe(49152); // wrapped
  });

  it('a closed listener stops taking SYNs, aborts its half-open connections, and leaves a newer listener alone', () => {
    const p = new Pair();
    const l = p.b.listen(80, { onAccept: () => {} });
    p.filter = (f) => (f.to === 'a' ? 'drop' : 'pass'); // the SYN-ACK never arrives: b stays half-open
    p.a.connect(B_IP, 80, recorder());
    p.deliver();
    expect(p.b.connections().map((c) => c.state)).toEqual(['SYN_RECEIVED']);
    p.filter = undefined;
    p.log = [];
    l.close();
    expect(p.b.size).toBe(0);
    expect(p.from('b').map((s) => s.flags)).toEqual([TcpFlag.Rst]);
    const l2 = p.b.listen(80, { onAccept: () => {} });
    l.close(); // the old handle again: must not remove the new listener
    const cr = recorder();
    p.queue = [];
    p.a.connect(B_IP, 80, cr);
    p.deliver();
    expect(cr.connected).toBe(true);
    l2.close();
    const cr2 = recorder();
    p.a.connect(B_IP, 80, cr2);
    p.deliver();
    expect(cr2.closed).toBe('reset');
    expect(p.b.counters.drops['no-listener']).toBe(1);
  });

  it('a listener with backlog 0 still takes one SYN at a time', () => {
    const p = new Pair();
    const got: TcpConnection[] = [];
    p.b.listen(80, { backlog: 0, onAccept: (c) => got.push(c) });
    p.a.connect(B_IP, 80, {});
    p.deliver();
    expect(got.length).toBe(1);
    expect(p.b.counters.synEvicted).toBe(0);
  });

  it('connections() lists every connection with its state and ports', () => {
    const p = new Pair();
    const { client } = established(p);
    expect(p.a.connections()).toEqual([{ state: 'ESTABLISHED', local: client.localPort, remote: String(B_IP), remotePort: 80 }]);
    expect(p.b.connections()).toEqual([{ state: 'ESTABLISHED', local: 80, remote: String(A_IP), remotePort: client.localPort }]);
  });
});

describe('TCP initial sequence numbers (RFC 6528)', () => {
  it('differ per 4-tuple and advance one per 4 µs for the same one', () => {
    const { layer, sent, clock } = lone();
    layer.connect(B_IP, 80, {}, 5000).abort();
    layer.connect(B_IP, 81, {}, 5000).abort();
    layer.connect(B_IP, 80, {}, 5001).abort();
    layer.connect(ip('10.77.0.12'), 80, {}, 5000).abort();
    const first = sent.map((s) => s.seqNum);
    expect(new Set(first).size).toBe(4);
    clock.t += 4000;
    layer.connect(B_IP, 80, {}, 5000);
    expect(sent.at(-1)!.seqNum).toBe((first[0]! + 1000) >>> 0);
  });

  it('the same source and clock give the same ISS; a different fraction of a µs at boot changes it', () => {
    const iss = (t0: number): number => {
      const { layer, sent, clock } = lone({}, { t: t0 });
      clock.t = 2_000_000;
      layer.connect(B_IP, 80, {}, 5000);
      return sent[0]!.seqNum;
    };
    expect(iss(1000.25)).toBe(iss(1000.25));
    expect(iss(1000.25)).not.toBe(iss(1000.75));
    expect(iss(1000)).not.toBe(iss(1004));
  });
});

describe('TCP application API', () => {
  it('send() takes what fits, onWritable follows only a short send, and nothing after close()', () => {
    const p = new Pair({ txBuffer: 1000 });
    const { client } = established(p);
    let writable = 0;
    client.handler = { onWritable: () => writable++ };
    expect(client.sendSpace).toBe(1000);
    expect(client.send(bytes(600))).toBe(600);
    expect(client.queued).toBe(600);
    expect(client.sendSpace).toBe(400);
    p.deliver();
    p.run(10_000);
    expect(client.queued).toBe(0);
    expect(writable).toBe(0); // no short send yet
    expect(client.send(bytes(1500))).toBe(1000);
    expect(client.sendSpace).toBe(0);
    p.run(10_000);
    expect(writable).toBe(1);
    expect(client.sendSpace).toBe(1000);
    client.send(bytes(10)); // taken whole: no onWritable for its ACK
    p.run(10_000);
    expect(writable).toBe(1);
    client.close();
    expect(client.sendSpace).toBe(0);
    expect(client.send(bytes(10))).toBe(0);
    expect(client.queued).toBe(0);
  });

  it('an established client does not hear onWritable from the handshake', () => {
    const p = new Pair();
    let writable = 0;
    p.b.listen(80, { onAccept: () => {} });
    p.a.connect(B_IP, 80, { onWritable: () => writable++ });
    p.deliver();
    expect(writable).toBe(0);
  });

  it('an empty send(), a resume() without pause() and a second close() schedule nothing', () => {
    const p = new Pair({ finWait2Us: 7_000_000 });
    const { client } = established(p);
    expect(p.a.pollAt()).toBeUndefined();
    expect(client.send(new Uint8Array(0))).toBe(0);
    expect(p.a.pollAt()).toBeUndefined();
    client.resume();
    expect(p.a.pollAt()).toBeUndefined();
    client.close();
    p.deliver();
    expect(client.state).toBe('FIN_WAIT_2');
    expect(p.a.pollAt()).toBe(p.t + 7_000_000);
    client.close();
    expect(p.a.pollAt()).toBe(p.t + 7_000_000);
  });

  it('close() and abort() on a connection the peer reset do nothing', () => {
    const p = new Pair();
    const { client, server, cr } = established(p);
    server.abort();
    p.deliver();
    expect(cr.closed).toBe('reset');
    expect(p.a.counters.resetsRx).toBe(1);
    p.log = [];
    client.close();
    client.abort();
    expect(p.a.pollAt()).toBeUndefined();
    expect(p.from('a')).toEqual([]);
    expect(p.a.counters.resetsTx).toBe(0);
  });

  it('close() while the SYN is out forgets the connection quietly', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    const cr = recorder();
    const c = p.a.connect(B_IP, 80, cr);
    p.queue = [];
    c.close();
    expect(c.state).toBe('CLOSED');
    expect(cr.closed).toBe('closed');
    expect(p.a.size).toBe(0);
    expect(p.a.pollAt()).toBeUndefined();
    expect(p.queue).toEqual([]);
  });

  it('abort() sends one RST at SND.NXT and reports "aborted"; the peer hears "reset"', () => {
    const p = new Pair();
    const { client, cr, sr, server } = established(p);
    client.send(bytes(100));
    p.deliver();
    p.log = [];
    client.abort();
    client.abort();
    const rst = p.from('a');
    expect(rst.length).toBe(1);
    expect(rst[0]).toMatchObject({ flags: TcpFlag.Rst, seqNum: p.from('a')[0]!.seqNum });
    expect(p.a.counters.resetsTx).toBe(1);
    expect(cr.closed).toBe('aborted');
    p.deliver();
    expect(server.state).toBe('CLOSED');
    expect(sr.closed).toBe('reset');
    expect(p.b.counters.resetsRx).toBe(1);
  });

  it('abort() in SYN_SENT or TIME_WAIT sends nothing', () => {
    const p = new Pair();
    const c = p.a.connect(B_IP, 80, {});
    p.queue = [];
    p.log = [];
    c.abort();
    expect(p.from('a')).toEqual([]);
    const { client, server } = established(p);
    client.close();
    p.deliver();
    server.close();
    p.deliver();
    expect(client.state).toBe('TIME_WAIT');
    p.log = [];
    client.abort();
    expect(client.state).toBe('CLOSED');
    expect(p.a.size).toBe(0);
    expect(p.from('a')).toEqual([]);
    expect(p.a.counters.resetsTx).toBe(0);
  });

  it('the sender uses the MSS the peer announced when it is smaller than ours', () => {
    const p = new Pair({}, { mss: 500 });
    const { client, sr } = established(p);
    client.send(bytes(1200));
    p.deliver();
    expect(p.from('a').filter((s) => s.payload.length > 0).map((s) => s.payload.length)).toEqual([500, 500, 200]);
    expect(sr.data.length).toBe(1200);
  });
});

describe('TCP receive batches', () => {
  it('segments of one batch are ACKed once, as the batch ends', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    p.holdData();
    client.send(bytes(1460 * 4));
    p.deliver();
    const held = p.held;
    p.held = [];
    p.log = [];
    p.b.batch(true);
    for (const f of held) p.inject(f);
    expect(p.from('b')).toEqual([]);
    expect(sr.data.length).toBe(1460 * 4);
    p.b.batch(false);
    expect(p.from('b').map((x) => [x.flags, x.payload.length])).toEqual([[TcpFlag.Ack, 0]]);
    expect(p.from('b')[0]!.ackNum).toBe((held[3]!.seg.seqNum + 1460) >>> 0);
    // Outside a batch, every second segment is ACKed at once again.
    p.holdData();
    client.send(bytes(1460 * 2));
    p.deliver();
    const two = p.held;
    p.held = [];
    p.log = [];
    for (const f of two) p.inject(f);
    expect(p.from('b').length).toBe(1);
  });
});

describe('TCP counters and timers', () => {
  it('counts segments each way, and only known drop reasons', () => {
    const p = new Pair();
    const { client } = established(p);
    client.send(bytes(10));
    p.run(10_000);
    const aTx = p.from('a').length;
    const bTx = p.from('b').length;
    expect(p.a.counters.txSegments).toBe(aTx);
    expect(p.b.counters.rxSegments).toBe(aTx);
    expect(p.b.counters.txSegments).toBe(bTx);
    expect(p.a.counters.rxSegments).toBe(bTx);
    expect(Object.keys(p.a.counters.drops)).toEqual([...TCP_DROP_REASONS]);
    expect(Object.keys(p.b.counters.drops)).toEqual([...TCP_DROP_REASONS]);
    expect(Object.values(p.b.counters.drops).every((n) => n === 0)).toBe(true);
  });

  it('a refused segment is counted and sent again 200 µs later', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    p.refuse.a = true;
    client.send(bytes(100));
    p.a.poll();
    expect(p.a.counters.txFailed).toBe(1);
    expect(p.a.pollAt()).toBe(p.t + 200);
    p.refuse.a = false;
    p.t += 199;
    p.a.poll();
    expect(p.queue).toEqual([]);
    p.t += 1;
    p.a.poll();
    expect(p.queue.length).toBe(1);
    p.deliver();
    expect(sr.data).toEqual([...bytes(100)]);
    expect(p.a.counters.txFailed).toBe(1);
  });

  it('after a refusal nothing is sent before the 200 µs are up, even when more data is queued', () => {
    const p = new Pair();
    const { client, sr } = established(p);
    p.refuse.a = true;
    client.send(bytes(100));
    p.a.poll();
    p.refuse.a = false;
    p.t += 100;
    client.send(bytes(100, 2));
    p.a.poll();
    expect(p.queue).toEqual([]);
    p.t += 100;
    p.a.poll();
    p.deliver();
    expect(sr.data).toEqual([...bytes(100), ...bytes(100, 2)]);
  });

  it('a refused SYN is retried 200 µs later, not after the RTO', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    p.refuse.a = true;
    const cr = recorder();
    p.a.connect(B_IP, 80, cr);
    expect(p.a.counters.txFailed).toBe(1);
    expect(p.a.pollAt()).toBe(p.t + 200);
    p.refuse.a = false;
    p.run(200);
    expect(cr.connected).toBe(true);
  });

  it('pollAt() is the earliest deadline of all connections', () => {
    const { layer, clock } = lone();
    layer.connect(B_IP, 80, {});
    clock.t += 300_000;
    layer.connect(B_IP, 81, {});
    expect(layer.pollAt()).toBe(1_000_000 + 1_000_000);
    // An idle established connection (no deadline) visited after one with a deadline.
    const p = new Pair();
    const c = p.a.connect(B_IP, 9, {});
    p.queue = [];
    const t0 = p.t;
    p.t += 500;
    const { client } = established(p);
    expect([c.state, client.state]).toEqual(['SYN_SENT', 'ESTABLISHED']);
    expect(p.a.pollAt()).toBe(t0 + 1_000_000);
  });
});

describe('TCP on a NetStack (tcpProtocol, processTcp)', () => {
  function synFrame(ethDst: number, dst: number, port: number): Uint8Array {
    const r = new TcpRepr(40000, port, 1000, 0, TcpFlag.Syn, 8192, { mss: 1460 });
    const l4 = new Uint8Array(r.bufferLen());
    r.emit(l4, pseudoHeaderSum(PEER_IP, dst, IpProtocol.Tcp, l4.length));
    return ipv4Frame(ethDst, PEER_MAC, PEER_IP, dst, IpProtocol.Tcp, l4);
  }
  function tcpOut(frame: Uint8Array): TcpRepr {
    const eth = 14;
    const totalLen = (frame[eth + 2]! << 8) | frame[eth + 3]!;
    const l4 = frame.subarray(eth + IPV4_HEADER_LEN, eth + totalLen);
    const p = TcpPacket.checked(l4, pseudoHeaderSum(OUR_IP, PEER_IP, IpProtocol.Tcp, l4.length));
    if (isWireError(p)) throw new Error(p.message);
    return TcpRepr.parse(p) as TcpRepr;
  }

  it('answers a SYN to a listener with a SYN-ACK from our address, MSS from the MTU', () => {
    const { stack, dev } = stackKnowingPeer();
    stack.install(tcpProtocol());
    const tcp = stack.sockets.require(TCP_SOCKETS);
    expect(tcp.localAddr()).toBe(OUR_IP);
    tcp.listen(80, { onAccept: () => {} });
    stack.processFrame(synFrame(OUR_MAC, OUR_IP, 80));
    expect(stack.counters.rxHandled).toBeGreaterThan(0);
    expect(stack.counters.rxDropped.tcp).toBe(0);
    const frames = dev.take();
    expect(frames.length).toBe(1);
    const synAck = tcpOut(frames[0]!);
    expect(synAck.flags).toBe(TcpFlag.Syn | TcpFlag.Ack);
    expect(synAck.ackNum).toBe(1001);
    expect(synAck.options.mss).toBe(1500 - 20 - 20);
    expect(tcp.connections()[0]).toMatchObject({ state: 'SYN_RECEIVED', remote: String(PEER_IP), remotePort: 40000 });
  });

  it('is installed under the name tcp', () => {
    const { stack } = stackKnowingPeer();
    stack.install(tcpProtocol());
    expect(stack.protocols).toContain('tcp');
    expect(stack.sockets.names()).toContain('tcp');
  });

  it('takes its configuration over the defaults', () => {
    const { stack } = stackKnowingPeer();
    stack.install(tcpProtocol({ mss: 1000, backlog: 3 }));
    expect(stack.sockets.require(TCP_SOCKETS).cfg).toMatchObject({ mss: 1000, backlog: 3 });
  });

  it('a refused segment counts as a tcp drop; a SYN to a closed port is answered with RST', () => {
    const { stack, dev } = stackKnowingPeer();
    stack.install(tcpProtocol());
    const tcp = stack.sockets.require(TCP_SOCKETS);
    stack.processFrame(synFrame(OUR_MAC, OUR_IP, 81));
    expect(stack.counters.rxDropped.tcp).toBe(1);
    expect(tcp.counters.drops['no-listener']).toBe(1);
    expect(tcpOut(dev.take()[0]!).flags).toBe(TcpFlag.Rst | TcpFlag.Ack);
  });

  it('a segment to a broadcast address, in a link-layer broadcast or not, is dropped as not-unicast, unanswered', () => {
    const { stack, dev } = stackKnowingPeer();
    stack.install(tcpProtocol());
    const tcp = stack.sockets.require(TCP_SOCKETS);
    tcp.listen(80, { onAccept: () => {} });
    const before = stack.counters.rxHandled;
    stack.processFrame(synFrame(MAC_BROADCAST, ip('10.77.0.255'), 80));
    stack.processFrame(synFrame(OUR_MAC, ip('10.77.0.255'), 80));
    expect(tcp.counters.drops['not-unicast']).toBe(2);
    expect(stack.counters.rxDropped.tcp).toBe(2);
    expect(stack.counters.rxHandled).toBe(before);
    expect(tcp.size).toBe(0);
    expect(dev.take()).toEqual([]);
  });

  it('a segment with a bad checksum is counted as malformed', () => {
    const { stack, dev } = stackKnowingPeer();
    stack.install(tcpProtocol());
    const f = synFrame(OUR_MAC, OUR_IP, 80);
    f[14 + 20 + 16] ^= 0xff;
    stack.processFrame(f);
    expect(stack.counters.rxDropped.malformed).toBe(1);
    expect(stack.counters.rxMalformed['tcp:bad-checksum']).toBe(1);
    expect(stack.sockets.require(TCP_SOCKETS).counters.drops.malformed).toBe(1);
    expect(dev.take()).toEqual([]);
  });

  it('a segment with malformed options is a malformed drop, never answered', () => {
    const p = new Pair();
    p.b.listen(80, { onAccept: () => {} });
    const r = new TcpRepr(40000, 80, 1000, 0, TcpFlag.Syn, 8192, { mss: 1460 });
    const buf = new Uint8Array(r.bufferLen());
    r.emit(buf, 0);
    buf[21] = 3; // MSS option length 3: not 4
    buf[16] = buf[17] = 0;
    const sum = pseudoHeaderSum(A_IP, B_IP, IpProtocol.Tcp, buf.length);
    const ck = internetChecksum(buf, sum);
    buf[16] = ck >> 8;
    buf[17] = ck & 0xff;
    const v = p.b.process(A_IP, B_IP, buf, sum);
    expect(v).toMatchObject({ protocol: 'tcp', reason: 'bad-option' });
    expect(p.b.counters.drops.malformed).toBe(1);
    expect(p.b.counters.rxSegments).toBe(0);
    expect(p.b.size).toBe(0);
    expect(p.queue).toEqual([]);
  });
});

describe('TCP delivery to the application', () => {
  it('while paused nothing is delivered, not even the end; resume() gives the data, then onEnd, once', () => {
    const p = new Pair();
    const { client, server, sr } = established(p);
    const events: string[] = [];
    server.handler = { onData: (_c, d) => void events.push(`data ${d.length}`), onEnd: () => void events.push('end') };
    server.pause();
    client.send(bytes(300));
    client.close();
    p.deliver();
    expect(server.state).toBe('CLOSE_WAIT');
    expect(events).toEqual([]);
    server.resume();
    expect(events).toEqual(['data 300', 'end']);
    server.pause();
    server.resume();
    expect(events).toEqual(['data 300', 'end']);
    void sr;
  });

  it('bytes that arrive before the application sets onData are kept for it, before newer ones', () => {
    const p = new Pair();
    const { client, server } = established(p);
    server.handler = {};
    client.send(bytes(200));
    p.deliver();
    const got: number[] = [];
    server.handler = { onData: (_c, d) => void got.push(...d) };
    client.send(bytes(50, 9));
    p.deliver();
    expect(got).toEqual([...bytes(200), ...bytes(50, 9)]);
  });

  it('a FIN alone while paused: onEnd only after resume()', () => {
    const p = new Pair();
    const { client, server, sr } = established(p);
    server.pause();
    client.close();
    p.deliver();
    expect(server.state).toBe('CLOSE_WAIT');
    expect(sr.ended).toBe(false);
    server.resume();
    expect(sr.ended).toBe(true);
  });

  it('onEnd waits for the bytes before the FIN, even when no onData is there to take them', () => {
    const p = new Pair();
    const { client, server } = established(p);
    let ended = 0;
    server.handler = { onEnd: () => void ended++ };
    client.send(bytes(20));
    client.close();
    p.deliver();
    expect(ended).toBe(0);
    const got: number[] = [];
    server.handler = { onData: (_c, d) => void got.push(...d), onEnd: () => void ended++ };
    server.pause();
    server.resume();
    expect(got.length).toBe(20);
    expect(ended).toBe(1);
  });

  it('a half-closed connection still receives: data after our FIN reaches us in FIN_WAIT_1 and FIN_WAIT_2', () => {
    const p = new Pair();
    const { client, server, cr } = established(p);
    client.close();
    p.filter = (f) => (f.to === 'a' && f.seg.payload.length === 0 ? 'drop' : 'pass'); // our FIN stays unacked
    p.a.poll();
    server.send(bytes(50));
    p.deliver();
    expect(client.state).toBe('FIN_WAIT_1');
    expect(cr.data).toEqual([...bytes(50)]);
    p.filter = undefined;
    p.run(2_000_000);
    expect(client.state).toBe('FIN_WAIT_2');
    server.send(bytes(70, 3));
    p.deliver();
    expect(cr.data).toEqual([...bytes(50), ...bytes(70, 3)]);
  });

  it('send() after the connection is gone takes nothing', () => {
    const p = new Pair();
    const { client, server } = established(p);
    server.abort();
    p.deliver();
    expect(client.state).toBe('CLOSED');
    expect(client.send(bytes(10))).toBe(0);
    expect(client.sendSpace).toBe(0);
  });

  it('destroy() twice tells the application once and frees one slot', () => {
    const p = new Pair();
    const { client, cr } = established(p);
    const closes: string[] = [];
    client.handler = { onClose: (_c, why) => void closes.push(why) };
    client.destroy('aborted');
    client.destroy('aborted');
    expect(closes).toEqual(['aborted']);
    expect(p.a.activeCount).toBe(0);
    expect(p.a.size).toBe(0);
    void cr;
  });

  it('a short send() with a handler that has no onWritable is fine', () => {
    const p = new Pair({ txBuffer: 100 });
    const { client, sr } = established(p);
    client.handler = {};
    expect(client.send(bytes(150))).toBe(100);
    p.run(10_000);
    expect(sr.data.length).toBe(100);
    expect(client.sendSpace).toBe(100);
  });

  it('a buffer filled before the handshake: onWritable only once data is acked, not for the SYN', () => {
    const p = new Pair({ txBuffer: 100 });
    p.b.listen(80, { onAccept: (c) => (c.handler = recorder()) });
    let writable = 0;
    const c = p.a.connect(B_IP, 80, { onWritable: () => writable++ });
    expect(c.send(bytes(150))).toBe(100);
    p.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 ? 'drop' : 'pass');
    p.deliver();
    expect(c.state).toBe('ESTABLISHED');
    expect(writable).toBe(0);
    p.filter = undefined;
    p.run(2_000_000);
    expect(writable).toBe(1);
  });

  it('no onWritable after close(), even when acked', () => {
    const p = new Pair({ txBuffer: 100 });
    const { client } = established(p);
    let writable = 0;
    client.handler = { onWritable: () => writable++ };
    client.send(bytes(150));
    client.close();
    p.run(10_000);
    expect(client.state).toBe('FIN_WAIT_2');
    expect(writable).toBe(0);
  });
});
