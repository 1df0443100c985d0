// The shipped JSON Schema is the TypeBox schema, byte for byte, and the example config follows it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, schemaDocument } from './schema.js';

const root = new URL('../../', import.meta.url);

describe('schema/nanoshare.schema.json', () => {
  it('is what `npm run schema` writes from src/board/schema.ts (run it after changing the schema)', () => {
    const committed = readFileSync(new URL('schema/nanoshare.schema.json', root), 'utf8');
    expect(committed).toBe(`${JSON.stringify(schemaDocument(), null, 2)}\n`);
  });

  it('documents every key with a description', () => {
    const undocumented: string[] = [];
    const walk = (s: Record<string, unknown>, at: string): void => {
      const props = s.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [k, v] of Object.entries(props ?? {})) {
        if (typeof v.description !== 'string' || v.description.length === 0) undocumented.push(`${at}${k}`);
        for (const inner of [v, ...((v.anyOf as Array<Record<string, unknown>> | undefined) ?? []), (v.items as Record<string, unknown> | undefined) ?? {}]) walk(inner, `${at}${k}.`);
      }
    };
    walk(schemaDocument() as Record<string, unknown>, '');
    expect(undocumented).toEqual([]);
  });

  it('examples/nanoshare.json names the schema and follows it', () => {
    const example = JSON.parse(readFileSync(new URL('examples/nanoshare.json', root), 'utf8')) as Record<string, unknown>;
    expect(example.$schema).toBe('../schema/nanoshare.schema.json');
    expect([...Value.Errors(ConfigSchema, example)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
  });
});
