import { describe, expect, it } from 'vitest';
import { NetStack } from '../../net/index.js';
import type { NetDevice } from '../../net/index.js';
import { ManualNow, OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, ip, stackKnowingPeer, udpFrame } from '../../net/testing.js';
import { EchoService } from './echo.js';

const A = { mac: 0x02_4e_53_00_00_0a, ip: ip('10.77.0.10') };
const B = { mac: 0x02_4e_53_00_00_0b, ip: ip('10.77.0.11') };

/** Two stacks on one cable, frames delivered synchronously: a loop would run until the valve. */
function pair(valve = 1000) {
  const clock = new ManualNow();
  let sent = 0;
  let a!: NetStack;
  let b!: NetStack;
  const cable = (to: () => NetStack): NetDevice => ({
    transmit: (f) => {
      if (++sent > valve) return false;
      to().processFrame(f);
      return true;
    },
  });
  a = new NetStack({ mac: A.mac, ipv4: { addr: A.ip, prefixLen: 24 } }, cable(() => b), clock.now);
  b = new NetStack({ mac: B.mac, ipv4: { addr: B.ip, prefixLen: 24 } }, cable(() => a), clock.now);
  return { clock, a, b, sent: () => sent };
}

describe('EchoService', () => {
  it('echoes a datagram back to its sender, counting it', () => {
    const { clock, a, b } = pair();
    const echo = new EchoService(b, clock.now);
    const got: string[] = [];
    const client = a.udpBind(40000, (d) => got.push(new TextDecoder().decode(d.payload)));
    client.send(B.ip, 7, new TextEncoder().encode('hi'));
    expect(got).toEqual(['hi']);
    expect(echo.counters).toMatchObject({ datagrams: 1, bytes: 2, replyDropped: 0, reflector: { answered: 1 } });
    echo.close();
    client.send(B.ip, 7, new TextEncoder().encode('gone'));
    expect(got).toEqual(['hi']);
    expect(b.counters.udpNoPort).toBe(1);
  });

  it('two echo services cannot be made to answer each other (source port 7 to port 7)', () => {
    const { clock, a, b, sent } = pair();
    const ea = new EchoService(a, clock.now);
    const eb = new EchoService(b, clock.now);
    // The forged datagram: from A's echo port to B's echo port.
    a.sendUdp(7, B.ip, 7, new Uint8Array(8));
    expect(eb.counters.datagrams).toBe(1);
    expect(eb.counters.reflector.reflectorPort).toBe(1);
    expect(ea.counters.datagrams).toBe(0);
    expect(sent()).toBe(3); // ARP request, ARP reply, the datagram: no echo
  });

  it('a loop with a reflector on another port is bounded by the per-source rate limit', () => {
    const { clock, a, b, sent } = pair(100_000);
    const ea = new EchoService(a, clock.now, { port: 5000, limits: { perSecond: 100, burst: 5 } });
    const eb = new EchoService(b, clock.now, { port: 4000, limits: { perSecond: 100, burst: 5 } });
    // Echo services on ports no list names answer each other until one runs out of tokens.
    b.sendUdp(4000, A.ip, 5000, new Uint8Array(8));
    const loop = ea.counters.datagrams + eb.counters.datagrams;
    expect(loop).toBeLessThanOrEqual(2 * 5 + 1);
    expect(ea.counters.reflector.rateLimited + eb.counters.reflector.rateLimited).toBe(1);
    expect(sent()).toBeLessThan(20);
    // A second later the tokens are back, and a new datagram is answered again, still bounded.
    clock.advance(1_000_000);
    b.sendUdp(4000, A.ip, 5000, new Uint8Array(8));
    expect(ea.counters.datagrams + eb.counters.datagrams - loop).toBeLessThanOrEqual(2 * 5 + 1);
  });

  it('counts a reply the stack could not send', () => {
    const { dev, clock, stack } = stackKnowingPeer();
    const echo = new EchoService(stack, clock.now);
    dev.accept = false;
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 40000, 7, new Uint8Array(4)));
    expect(echo.counters.datagrams).toBe(1);
    expect(echo.counters.replyDropped).toBe(1);
    dev.accept = true;
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 40000, 7, new Uint8Array(4)));
    expect(dev.take()).toHaveLength(1);
    expect(echo.counters.replyDropped).toBe(1);
  });
});
