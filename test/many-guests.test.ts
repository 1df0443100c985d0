// System test (issue 11): a 16-guest machine from a config file, on a real TAP in a namespace of
// its own; every guest answers ICMP echo from the host side, each from its own MAC.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns, probe, skipLab } from './lab.js';
import { startMachine, terminate, type Running } from './machine-process.js';

const skip = skipLab();
const N = 16;

describe.skipIf(skip)('system: 16 guests behind one TAP', () => {
  it('every guest answers ping, and the host sees 16 MACs', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-scale-many-'));
    const ns = Netns.create('scale-many');
    let m: Running | undefined;
    try {
      const guests = Array.from({ length: N }, (_, i) => ({
        name: i === 0 ? 'rtos' : `g${i}`,
        os: i === 0 ? 'rtos' : i % 2 === 0 ? 'rtos' : 'gpos',
        ...(i === 0 ? { primary: true } : {}),
        mac: `02:4e:53:00:01:${(i + 16).toString(16)}`,
        ipv4: `10.77.0.${20 + i}/24`,
      }));
      const cfg = join(tmp, 'many.json');
      writeFileSync(cfg, JSON.stringify({ $schema: '../schema/nanoshare.schema.json', guests }));
      m = await startMachine(ns, ['--config', cfg, '--control', join(tmp, 'ctl.sock')]);
      expect(m.ready.guests).toHaveLength(N);
      for (const g of guests) {
        const r = probe(ns, g.ipv4.split('/')[0]!, { count: 2, intervalMs: 100, timeoutMs: 2000 });
        expect(r.received, `echo replies from ${g.name} ${g.ipv4}: ${JSON.stringify(r)}`).toBe(2);
      }
      const neigh = ns.exec(['ip', 'neigh', 'show', 'dev', 'nstap0']);
      for (const g of guests) expect(neigh).toMatch(new RegExp(`^${g.ipv4.split('/')[0]!.replace(/\./g, '\\.')} lladdr ${g.mac}\\b`, 'm'));
      expect((await terminate(m)).code).toBe(0);
      m = undefined;
    } finally {
      if (m) await terminate(m).catch(() => undefined);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});
