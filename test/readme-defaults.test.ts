// The README's defaults table ("Defaults: every key, its flag, and what happens") against the
// config schema: every key a config file can set has a row, no row names a key the schema does
// not have, and where the schema has a simple default the row shows that very value. So a new
// key, or a changed default, is not done until the README says what happens.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../src/board/schema.js';

const README = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');

interface Node {
  properties?: Record<string, Node>;
  items?: Node;
  anyOf?: Node[];
  default?: unknown;
}

/** Every settable key as `a.b` / `guests[].c`, with its schema default when it is a plain value. */
function keys(node: Node, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  for (const [name, raw] of Object.entries(node.properties ?? {})) {
    if (name === '$schema') continue;
    const path = prefix + name;
    const obj = raw.properties ? raw : raw.anyOf?.find((m) => m.properties);
    const arr = raw.items ? raw : raw.anyOf?.find((m) => m.items);
    if (arr?.items) {
      out.set(path, undefined);
      keys(arr.items, `${path}[].`, out);
    } else if (obj) keys(obj, `${path}.`, out);
    else {
      const d = raw.default ?? raw.anyOf?.find((m) => m.default !== undefined)?.default;
      out.set(path, typeof d === 'string' || typeof d === 'number' || typeof d === 'boolean' ? d : undefined);
    }
  }
  return out;
}

/** The table's rows: key -> [default cell, what happens]. */
function table(): Map<string, [string, string]> {
  const start = README.indexOf('### Defaults: every key, its flag, and what happens');
  expect(start, 'the README has the defaults table').toBeGreaterThanOrEqual(0);
  const rows = new Map<string, [string, string]>();
  const lines = README.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('| key'));
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, ''));
    const key = /^`([^`]+)`/.exec(cells[0]!)?.[1];
    expect(key, line).toBeDefined();
    expect(cells[2]!.length, `what happens, for ${key}`).toBeGreaterThan(5);
    rows.set(key!, [cells[1]!, cells[2]!]);
  }
  return rows;
}

describe('README defaults table', () => {
  const schema = keys(ConfigSchema as unknown as Node, '', new Map());
  const rows = table();

  it('has a row for every key of the config schema, and none for a key it does not have', () => {
    expect(schema.size).toBeGreaterThan(30);
    expect([...schema.keys()].filter((k) => !rows.has(k)), 'keys without a row').toEqual([]);
    expect([...rows.keys()].filter((k) => !schema.has(k)), 'rows without a key').toEqual([]);
  });

  it('shows the schema\'s default where the schema has a plain one', () => {
    const checked = [...schema].filter(([, d]) => d !== undefined);
    expect(checked.length).toBeGreaterThan(15);
    for (const [key, d] of checked) expect(rows.get(key)![0], key).toContain(`\`${String(d)}\``);
  });

  it('names each flag of `nanoshare run` beside the key it sets', async () => {
    const { FLAG_KEYS } = await import('../src/cli/args.js');
    const firstCells = [...README.matchAll(/^\| (`[^|]+) \|/gm)].map((m) => m[1]!);
    for (const [flag, key] of Object.entries(FLAG_KEYS)) {
      const path = key.guest ? `guests[].${key.path.join('.')}` : key.path.join('.');
      expect(firstCells.some((c) => c.startsWith(`\`${path}\``) && c.includes(`\`--${flag}\``)), `--${flag} beside ${path}`).toBe(true);
    }
  });
});
