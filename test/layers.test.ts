// The layer table of docs/DESIGN.md, checked: a layer imports only the layers its row names.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../src');
/** What each layer may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  wire: [],
  link: ['wire'],
  machine: ['wire', 'link'],
  nanokernel: ['wire', 'machine'],
  net: ['wire'],
  os: ['net', 'wire', 'nanokernel'],
  capture: ['wire', 'link'],
  board: ['wire', 'link', 'machine', 'nanokernel', 'net', 'os', 'capture'],
  host: ['wire', 'link', 'machine', 'nanokernel', 'net', 'os', 'capture', 'board'],
  cli: ['wire', 'link', 'machine', 'nanokernel', 'net', 'os', 'capture', 'board', 'host'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Every relative import of the product's sources, as [importing layer, imported layer, file]. */
function imports(): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  for (const f of files(SRC)) {
    const from = relative(SRC, f).split('/')[0]!;
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const to = relative(SRC, resolve(f, '..', m[1]!)).split('/')[0]!;
      out.push([from, to, relative(SRC, f)]);
    }
  }
  return out;
}

describe('layers (docs/DESIGN.md)', () => {
  it('every source folder is a layer of the table', () => {
    const folders = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
    expect(folders.filter((f) => !(f in ALLOWED))).toEqual([]);
  });

  it('a layer imports only what its row names', () => {
    const found = imports();
    expect(found.length).toBeGreaterThan(50);
    const bad = found.filter(([from, to]) => from !== to && !ALLOWED[from]!.includes(to)).map(([from, to, f]) => `${f}: ${from} -> ${to}`);
    expect(bad).toEqual([]);
  });

  it('nothing but cli imports cli, and the tests and benchmarks do not either', () => {
    const bad = imports().filter(([from, to]) => to === 'cli' && from !== 'cli');
    expect(bad).toEqual([]);
    for (const dir of ['test', 'bench']) {
      for (const f of files(resolve(__dirname, '..', dir))) {
        expect(readFileSync(f, 'utf8'), f).not.toMatch(/from '[^']*src\/cli\//);
      }
    }
  });
});
