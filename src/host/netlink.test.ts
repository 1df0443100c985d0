// The host's links through rtnetlink (native/netlink.cc, host/netlink.ts): the batch setupHostNet
// runs goes to netlink for the commands it knows and to `ip -batch` for the rest, with the index
// and ip's message of the one that failed either way; and, in a lab namespace, the addon's calls
// against the real kernel: kinds as `ip -d` names them, a change as `ip link set` makes it, an
// address replaced (not added twice), ip's messages on refusal, and link events.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ip, IpBatchError, netlinkBatch, netlinkCommand, type IpBatch } from './hostnet.js';
import { Netns, skipLab } from '../../test/lab.js';

/** A fake netlink: records each call; `refuse` makes the call for that device throw ip's message. */
function fakeNl(refuse?: string) {
  const calls: string[] = [];
  const nl = {
    linkSet: (name: string, mtu: number, master: string, up: boolean) => {
      if (name === refuse) throw new Error('RTNETLINK answers: Operation not permitted');
      calls.push(`set ${name} mtu=${mtu} master=${master} up=${up}`);
    },
    addrReplace: (name: string, addr: number, prefixLen: number) => {
      if (name === refuse) throw new Error('Error: Invalid prefix.');
      calls.push(`addr ${name} ${addr.toString(16)}/${prefixLen}`);
    },
  };
  return { nl, calls };
}

describe('netlinkCommand: the forms setupHostNet makes, as one netlink request each', () => {
  it('does link set with mtu, master and up, and addr replace, and says so', () => {
    const { nl, calls } = fakeNl();
    expect(netlinkCommand(nl, ['link', 'set', 'dev', 't0', 'mtu', '1400'])).toBe(true);
    expect(netlinkCommand(nl, ['link', 'set', 'dev', 't0', 'master', 'br0', 'up'])).toBe(true);
    expect(netlinkCommand(nl, ['link', 'set', 'dev', 't0', 'up'])).toBe(true);
    expect(netlinkCommand(nl, ['link', 'set', 'dev', 't0', 'master', 'br0'])).toBe(true);
    expect(netlinkCommand(nl, ['addr', 'replace', '10.77.0.1/24', 'dev', 't0'])).toBe(true);
    expect(calls).toEqual([
      'set t0 mtu=1400 master= up=false',
      'set t0 mtu=0 master=br0 up=true',
      'set t0 mtu=0 master= up=true',
      'set t0 mtu=0 master=br0 up=false',
      'addr t0 a4d0001/24',
    ]);
  });

  it('does nothing and says false for any other form (ip runs it)', () => {
    const { nl, calls } = fakeNl();
    for (const args of [
      ['link', 'set', 'dev', 't0', 'down'],
      ['link', 'set', 'dev', 't0', 'nomaster'],
      ['link', 'set', 'dev', 't0', 'mtu', '0'],
      ['link', 'set', 'dev', 't0', 'mtu', '14x'],
      ['link', 'set', 'dev', 't0', 'mtu'],
      ['link', 'set', 'dev', 't0', 'master'],
      ['link', 'set', 'dev', 't0'],
      ['link', 'set', 't0', 'up'],
      ['link', 'add', 'dev', 't0', 'up'],
      ['addr', 'replace', '10.77.0.1', 'dev', 't0'],
      ['addr', 'replace', '10.77.0.1/24', 't0', 't0'],
      ['addr', 'replace', '10.77.0.1/24', 'dev', 't0', 'extra'],
      ['addr', 'add', '10.77.0.1/24', 'dev', 't0'],
      ['route', 'replace', '10.77.0.1/24', 'dev', 't0'],
    ]) {
      expect(netlinkCommand(nl, args), args.join(' ')).toBe(false);
    }
    expect(calls).toEqual([]);
  });
});

describe('netlinkBatch', () => {
  /** A fake `ip -batch`: records what it was given; `failAt` stops it there with ip's message. */
  function fakeRest(failAt?: number) {
    const given: string[][] = [];
    const rest: IpBatch = async (commands) => {
      given.push(commands.map((c) => c.join(' ')));
      if (failAt !== undefined) throw new IpBatchError(`ip ${commands[failAt]!.join(' ')}: RTNETLINK answers: File exists`, failAt);
    };
    return { rest, given };
  }

  it('sends what netlink does, and the rest from the first other command on to one ip -batch', async () => {
    const { nl, calls } = fakeNl();
    const { rest, given } = fakeRest();
    await netlinkBatch(nl, rest)([['link', 'set', 'dev', 't0', 'up'], ['link', 'set', 'dev', 't0', 'down'], ['addr', 'replace', '10.0.0.1/8', 'dev', 't0']]);
    expect(calls).toEqual(['set t0 mtu=0 master= up=true']);
    expect(given).toEqual([['link set dev t0 down', 'addr replace 10.0.0.1/8 dev t0']]);
  });

  it('runs no ip at all when netlink does every command', async () => {
    const { nl, calls } = fakeNl();
    const { rest, given } = fakeRest();
    await netlinkBatch(nl, rest)([['link', 'set', 'dev', 't0', 'master', 'br0', 'up'], ['addr', 'replace', '10.0.0.1/8', 'dev', 't0']]);
    expect(calls).toHaveLength(2);
    expect(given).toEqual([]);
  });

  it('stops at a refused command and names it, its index in the whole batch and ip\'s message', async () => {
    const { nl, calls } = fakeNl('t1');
    const { rest, given } = fakeRest();
    const err = await netlinkBatch(nl, rest)([['link', 'set', 'dev', 't0', 'up'], ['link', 'set', 'dev', 't1', 'up'], ['link', 'set', 'dev', 't0', 'mtu', '1400']]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpBatchError);
    expect((err as IpBatchError).index).toBe(1);
    expect((err as IpBatchError).message).toBe('ip link set dev t1 up: RTNETLINK answers: Operation not permitted');
    expect(calls).toEqual(['set t0 mtu=0 master= up=true']);
    expect(given).toEqual([]);
  });

  it('reports any other failure of the ip part (ip missing) at the first command it was given, so those before it are undone', async () => {
    const { nl } = fakeNl();
    const rest: IpBatch = async () => {
      throw new Error('the `ip` command is missing: install iproute2');
    };
    const err = await netlinkBatch(nl, rest)([['link', 'set', 'dev', 't0', 'up'], ['link', 'set', 'dev', 't0', 'down']]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpBatchError);
    expect((err as IpBatchError).index).toBe(1);
    expect((err as IpBatchError).message).toBe('the `ip` command is missing: install iproute2');
  });

  it('reports a failure of the ip part at its index in the whole batch', async () => {
    const { nl } = fakeNl();
    const { rest } = fakeRest(1);
    const err = await netlinkBatch(nl, rest)([['link', 'set', 'dev', 't0', 'up'], ['link', 'set', 'dev', 't0', 'down'], ['link', 'set', 'dev', 't0', 'nomaster']]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpBatchError);
    expect((err as IpBatchError).index).toBe(2);
    expect((err as IpBatchError).message).toBe('ip link set dev t0 nomaster: RTNETLINK answers: File exists');
  });
});

describe('ip', () => {
  it('rejects, and does not throw out of the event loop, when running ip throws at once (an argument Node refuses)', async () => {
    await expect(ip(['link', 'show', 'dev', 'a\0b'])).rejects.toThrow(/null bytes|ERR_INVALID_ARG_VALUE|must be a string without null bytes/);
  });
});

const skip = skipLab();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADDON = join(ROOT, 'native', 'build', 'Release', 'nanoshare_tap.node');
const HOSTNET_JS = join(ROOT, 'dist', 'host', 'hostnet.js');
const REATTACH_JS = join(ROOT, 'dist', 'host', 'reattach.js');

describe.skipIf(skip)('system: the addon\'s netlink calls, in a lab namespace', () => {
  it('names kinds as ip -d does, changes links and addresses as ip does, refuses with ip\'s messages, and reports link events', async () => {
    expect(existsSync(ADDON), 'the addon is missing: run `npm run build:native`').toBe(true);
    expect(existsSync(HOSTNET_JS), 'dist/ is missing: run `npm run build`').toBe(true);
    const ns = Netns.create('netlink');
    try {
      const script = `
        import { createRequire } from 'node:module';
        import { execFileSync } from 'node:child_process';
        const a = createRequire(import.meta.url)(${JSON.stringify(ADDON)});
        const { netlinkBatch } = await import(${JSON.stringify(HOSTNET_JS)});
        const ip = (...args) => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]');
        const out = {};
        execFileSync('ip', ['link', 'add', 'nb0', 'type', 'bridge']);
        execFileSync('ip', ['link', 'add', 'nv0', 'type', 'veth', 'peer', 'name', 'nv1']);
        out.kinds = ['lo', 'nb0', 'nv0', 'none0'].map((n) => a.linkKind(n));
        // A link whose answer is larger than a fixed buffer would be (400 alternative names of 120 characters: ~50 KiB).
        execFileSync('ip', ['link', 'add', 'nbig0', 'type', 'bridge']);
        const alt = Array.from({ length: 400 }, (_, i) => 'link property add dev nbig0 altname ' + String(i).padStart(3, '0') + 'x'.repeat(117)).join('\\n') + '\\n';
        execFileSync('ip', ['-batch', '-'], { input: alt });
        const t0 = Date.now();
        out.bigKind = a.linkKind('nbig0');
        out.bigFast = Date.now() - t0 < 1000;
        let events = 0;
        const monitor = new a.LinkMonitor(() => events++);
        await netlinkBatch(a)([['link', 'set', 'dev', 'nv0', 'mtu', '1400'], ['link', 'set', 'dev', 'nv0', 'master', 'nb0', 'up'],
          ['addr', 'replace', '10.77.0.1/24', 'dev', 'nb0'], ['addr', 'replace', '10.77.0.1/24', 'dev', 'nb0']]);
        const v = ip('link', 'show', 'dev', 'nv0')[0];
        out.nv0 = { mtu: v.mtu, master: v.master, up: v.flags.includes('UP') };
        out.addrs = ip('addr', 'show', 'dev', 'nb0')[0].addr_info.map((x) => x.local + '/' + x.prefixlen);
        out.masters = ['nv0', 'nb0', 'none0'].map((n) => a.linkMaster(n));
        // The same addresses made by ip and by the addon read back the same (scope, broadcast...).
        execFileSync('ip', ['link', 'add', 'nd0', 'type', 'bridge']);
        execFileSync('ip', ['link', 'add', 'nd1', 'type', 'bridge']);
        const strip = (d) => ip('addr', 'show', 'dev', d)[0].addr_info.filter((x) => x.family === 'inet').map(({ label, valid_life_time, preferred_life_time, ...x }) => x);
        for (const cidr of ['10.9.0.1/24', '127.0.0.6/8']) {
          let byIp, byNl;
          try { execFileSync('ip', ['addr', 'replace', cidr, 'dev', 'nd0'], { stdio: 'pipe' }); byIp = 'ok'; } catch (e) { byIp = String(e.stderr).trim(); }
          try { await netlinkBatch(a)([['addr', 'replace', cidr, 'dev', 'nd1']]); byNl = 'ok'; } catch (e) { byNl = e.message; }
          (out.sameAsIp ??= []).push({ cidr, byIp, byNl });
        }
        out.addrIp = strip('nd0');
        out.addrNl = strip('nd1');
        out.errors = [];
        for (const cmd of [['link', 'set', 'dev', 'none0', 'up'], ['link', 'set', 'dev', 'nv0', 'master', 'none1'], ['link', 'set', 'dev', 'nv0', 'mtu', '10'], ['addr', 'replace', '10.77.0.1/24', 'dev', 'none0']]) {
          try { await netlinkBatch(a)([cmd]); out.errors.push('done'); } catch (e) { out.errors.push(e.constructor.name + ' ' + e.index + ' ' + e.message); }
        }
        await new Promise((r) => setTimeout(r, 100));
        out.events = events;
        monitor.close();
        monitor.close();
        execFileSync('ip', ['link', 'set', 'dev', 'nb0', 'down']);
        await new Promise((r) => setTimeout(r, 100));
        out.eventsAfterClose = events;
        console.log(JSON.stringify(out));`;
      const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out.bigKind).toBe('bridge');
      expect(out.bigFast, 'a large answer was read at once, not after the receive timeout').toBe(true);
      expect(out.masters).toEqual(['nb0', '', null]);
      for (const { cidr, byIp, byNl } of out.sameAsIp as Array<{ cidr: string; byIp: string; byNl: string }>) {
        expect(byNl, cidr).toBe(byIp === 'ok' ? 'ok' : `ip addr replace ${cidr} dev nd1: ${byIp}`);
      }
      expect(out.addrNl).toEqual(out.addrIp);
      expect((out.addrIp as unknown[]).length).toBeGreaterThan(0);
      expect(out.kinds).toEqual(['', 'bridge', 'veth', null]);
      expect(out.nv0).toEqual({ mtu: 1400, master: 'nb0', up: true });
      expect(out.addrs).toEqual(['10.77.0.1/24']);
      expect(out.errors).toEqual([
        'IpBatchError 0 ip link set dev none0 up: Cannot find device "none0"',
        'IpBatchError 0 ip link set dev nv0 master none1: Cannot find device "none1"',
        'IpBatchError 0 ip link set dev nv0 mtu 10: Error: mtu less than device minimum.',
        'IpBatchError 0 ip addr replace 10.77.0.1/24 dev none0: Cannot find device "none0"',
      ]);
      expect(out.events as number).toBeGreaterThan(0);
      expect(out.eventsAfterClose).toBe(out.events);

      // What a boot and the bridge watch ask (linkKindsOf, linkExists, masterOf, linkEvents) go
      // through netlink: node:child_process is never loaded.
      const script2 = `
        const { linkKindsOf, linkExists, ipBridgeOps } = await import(${JSON.stringify(HOSTNET_JS)});
        const { linkEvents } = await import(${JSON.stringify(REATTACH_JS)});
        const { createRequire } = await import('node:module');
        const a = createRequire(import.meta.url)(${JSON.stringify(ADDON)});
        const out = {};
        out.kinds = Object.fromEntries(linkKindsOf(['nb0', 'none0', undefined]));
        out.exists = [await linkExists('nb0'), await linkExists('none0')];
        out.master = await ipBridgeOps.masterOf('nv0');
        let events = 0;
        const stop = linkEvents(() => events++);
        a.linkSet('nd0', 1400, '', true);
        await new Promise((r) => setTimeout(r, 100));
        stop();
        out.events = events;
        out.childProcess = process.moduleLoadList.filter((m) => m.includes('child_process'));
        console.log(JSON.stringify(out));`;
      const r2 = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', script2], { encoding: 'utf8', timeout: 20_000 });
      expect(r2.status, r2.stderr).toBe(0);
      const out2 = JSON.parse(r2.stdout) as Record<string, unknown>;
      expect(out2.kinds).toEqual({ nb0: 'bridge' });
      expect(out2.exists).toEqual([true, false]);
      expect(out2.master).toBe('nb0');
      expect(out2.events as number).toBeGreaterThan(0);
      expect(out2.childProcess).toEqual([]);
    } finally {
      await ns.delete();
    }
  });
});
