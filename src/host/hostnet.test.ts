// The host side of a TAP as setupHostNet makes it: every change after the TAP is opened in one
// `ip -batch -` (issue 8: each `ip` is a fork and an exec on the way to the first reply), what
// was done undone in reverse on teardown (a TAP that existed before only), and a failed batch
// reported as the one command that failed. A fake ip records the commands; the real `ip -batch`
// runs in a lab namespace (its error format is what batchFailure reads).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { MachineConfig } from '../board/config.js';
import { batchFailure, HostNetError, IpBatchError, listLinks, setupHostNet, type HostNetIp, type LinkKinds } from './hostnet.js';
import { Netns, skipLab } from '../../test/lab.js';

/** The part of a config setupHostNet reads. */
function cfg(over: Partial<Pick<MachineConfig, 'mtu' | 'bridge' | 'uplink' | 'hostIp'>>): MachineConfig {
  return { mtu: 1500, bridge: undefined, uplink: undefined, hostIp: { addr: 0x0a4d0001, prefixLen: 24 }, ...over } as unknown as MachineConfig;
}

/** A fake ip: records each batch and each single command; `failAt` makes a batch stop at that index with ip's message. */
function fakeIp(opts: { failAt?: number; show?: Record<string, string> } = {}) {
  const batches: string[][] = [];
  const singles: string[] = [];
  const run: HostNetIp = {
    ip: async (args) => {
      singles.push(args.join(' '));
      const dev = args.join(' ').match(/^-j -d link show dev (\S+)$/);
      if (dev) {
        const kind = opts.show?.[dev[1]!];
        if (kind === undefined) throw new Error(`Device "${dev[1]}" does not exist.`);
        return JSON.stringify([{ ifname: dev[1], linkinfo: kind ? { info_kind: kind } : undefined }]);
      }
      return '';
    },
    batch: async (commands) => {
      batches.push(commands.map((c) => c.join(' ')));
      if (opts.failAt !== undefined && opts.failAt < commands.length) {
        throw new IpBatchError(`ip ${commands[opts.failAt]!.join(' ')}: RTNETLINK answers: File exists`, opts.failAt);
      }
    },
  };
  return { run, batches, singles };
}

const LINKS: LinkKinds = new Map([['lo', ''], ['br0', 'bridge'], ['eth9', '']]);

describe('batchFailure (ip -batch stderr)', () => {
  it('names the failed command (counted from 1 by ip) and keeps ip\'s message', () => {
    expect(batchFailure('Cannot find device "nonexist"\nCommand failed -:2\n', 3)).toEqual({ index: 1, message: 'Cannot find device "nonexist"' });
    expect(batchFailure('Error: argument "x" is wrong\nhint\nCommand failed -:1', 1)).toEqual({ index: 0, message: 'Error: argument "x" is wrong; hint' });
  });

  it('says nothing when stderr does not name a command of this batch', () => {
    expect(batchFailure('Killed', 2)).toBeUndefined();
    expect(batchFailure('Command failed -:3\n', 2)).toBeUndefined();
    expect(batchFailure('Command failed -:0\n', 2)).toBeUndefined();
  });
});

describe('setupHostNet', () => {
  it('bridge: joins and comes up in one command of one batch, asks nothing more, and undoes nothing for a TAP it created', async () => {
    const f = fakeIp();
    const teardown = await setupHostNet(cfg({ bridge: 'br0' }), 'tap7', false, LINKS, f.run);
    expect(f.batches).toEqual([['link set dev tap7 master br0 up']]);
    await teardown();
    expect(f.singles).toEqual([]);
  });

  it('host address: MTU, up and the address in one batch; a TAP that existed gets them undone in reverse', async () => {
    const f = fakeIp();
    const teardown = await setupHostNet(cfg({ mtu: 9000 }), 'tap7', true, LINKS, f.run);
    expect(f.batches).toEqual([['link set dev tap7 mtu 9000', 'link set dev tap7 up', 'addr replace 10.77.0.1/24 dev tap7']]);
    await teardown();
    expect(f.singles).toEqual(['addr del 10.77.0.1/24 dev tap7', 'link set dev tap7 down']);
  });

  it('bridge on a TAP that existed: leaves the bridge and goes down on teardown', async () => {
    const f = fakeIp();
    const teardown = await setupHostNet(cfg({ bridge: 'br0' }), 'tap7', true, LINKS, f.run);
    await teardown();
    expect(f.singles).toEqual(['link set dev tap7 down', 'link set dev tap7 nomaster']);
  });

  it('a failed batch: the error names the command that failed; what was done before it is undone, nothing after', async () => {
    const f = fakeIp({ failAt: 1 });
    const err = await setupHostNet(cfg({}), 'tap7', true, LINKS, f.run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostNetError);
    expect((err as Error).message).toBe('ip addr replace 10.77.0.1/24 dev tap7: RTNETLINK answers: File exists');
    expect(f.singles).toEqual(['link set dev tap7 down']);
  });

  it('refuses a bridge that is missing or not a bridge (exit 2), from the listing made before the TAP was opened', async () => {
    for (const [bridge, says] of [['br9', '--bridge br9: no such interface'], ['eth9', '--bridge eth9: not a bridge (it is a plain interface)']] as const) {
      const f = fakeIp();
      const err = await setupHostNet(cfg({ bridge }), 'tap7', false, LINKS, f.run).catch((e: unknown) => e);
      expect((err as HostNetError).message).toContain(says);
      expect((err as HostNetError).exitCode).toBe(2);
      expect(f.batches, 'nothing changed').toEqual([]);
      expect(f.singles, 'nothing asked: the listing said').toEqual([]);
    }
  });

  it('without a listing (ip could not list), asks about the bridge on its own', async () => {
    const f = fakeIp({ show: { br0: 'bridge', veth1: 'veth' } });
    await setupHostNet(cfg({ bridge: 'br0' }), 'tap7', false, undefined, f.run);
    expect(f.singles).toEqual(['-j -d link show dev br0']);
    const err = await setupHostNet(cfg({ bridge: 'veth1' }), 'tap7', false, undefined, f.run).catch((e: unknown) => e);
    expect((err as Error).message).toContain('not a bridge (it is veth)');
  });
});

describe('listLinks', () => {
  it('maps every link to its kind, plain ones to \'\'', async () => {
    const links = await listLinks(async () => JSON.stringify([{ ifname: 'lo' }, { ifname: 'br0', linkinfo: { info_kind: 'bridge' } }]));
    expect([...links!]).toEqual([['lo', ''], ['br0', 'bridge']]);
  });

  it('is undefined when ip fails or says something else than JSON', async () => {
    expect(await listLinks(async () => Promise.reject(new Error('the `ip` command is missing')))).toBeUndefined();
    expect(await listLinks(async () => 'Object "link" is unknown')).toBeUndefined();
  });
});

const skip = skipLab();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOSTNET_JS = join(ROOT, 'dist', 'host', 'hostnet.js');

describe.skipIf(skip)('system: the real ip -batch, in a lab namespace', () => {
  it('runs the commands in order in one process, stops at the first that fails and names it with ip\'s message', async () => {
    expect(existsSync(HOSTNET_JS), 'dist/ is missing: run `npm run build`').toBe(true);
    const ns = Netns.create('hostnet');
    try {
      const script = `
        const { ipBatch, listLinks } = await import(${JSON.stringify(HOSTNET_JS)});
        const out = {};
        await ipBatch([['link', 'add', 'hb0', 'type', 'bridge'], ['link', 'set', 'dev', 'hb0', 'up']]);
        out.links = Object.fromEntries(await listLinks());
        try {
          await ipBatch([['link', 'set', 'dev', 'hb0', 'mtu', '1400'], ['link', 'set', 'dev', 'nonexist', 'up'], ['link', 'set', 'dev', 'hb0', 'mtu', '1300']]);
        } catch (e) {
          out.error = { name: e.constructor.name, index: e.index, message: e.message };
        }
        console.log(JSON.stringify(out));`;
      const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { links: Record<string, string>; error: { name: string; index: number; message: string } };
      expect(out.links).toEqual({ lo: '', hb0: 'bridge' });
      expect(out.error).toEqual({ name: 'IpBatchError', index: 1, message: 'ip link set dev nonexist up: Cannot find device "nonexist"' });
      // The first command was done, the third was not run.
      expect(ns.exec(['ip', '-j', 'link', 'show', 'dev', 'hb0'])).toContain('"mtu":1400');
    } finally {
      await ns.delete();
    }
  });
});
