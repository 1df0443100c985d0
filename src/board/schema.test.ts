// The shipped JSON Schema is the TypeBox schema, byte for byte, and the example config follows it.
// The schema compiled ahead of time (compiled-schema.ts, what `nanoshare run` checks with) is what
// `npm run schema` writes, and reads every document as TypeBox does: the same verdict as
// Value.Check, the same defaults as Value.Default.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, compiledSchemaModule, schemaDocument } from './schema.js';
import { checkSchema, fillDefaults, withDefaults } from './config.js';
import { DEFAULTS } from './compiled-schema.js';

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

/** The compiled check's verdict on a document (checkSchema throws when it refuses one). */
function compiledAccepts(doc: unknown): boolean {
  try {
    checkSchema(doc);
    return true;
  } catch {
    return false;
  }
}

/** Valid values for some of every kind of key: plain, nullable with a default, unions, nested objects, arrays. */
const validTop = fc.record(
  {
    link: fc.constantFrom('tap:nst1', 'vxlan://192.0.2.2?vni=42', 'pcap:x.pcap'),
    bridge: fc.constantFrom('br0', null),
    hostIp: fc.constantFrom('10.1.2.3/24', null),
    capture: fc.constantFrom('a.pcapng', null),
    capturePrecision: fc.constantFrom('us', 'ns'),
    logLevel: fc.constantFrom('warn', 'debug'),
    lineRate: fc.constantFrom(0, null, 5, '100M'),
    mtu: fc.integer({ min: 576, max: 9000 }),
    scheduler: fc.record({ quantumUs: fc.integer({ min: 10, max: 1000 }), guardUs: fc.integer({ min: 0, max: 100 }) }, { requiredKeys: [] }),
    statsInterval: fc.integer({ min: 0, max: 60 }),
    addressProbe: fc.constantFrom('rfc', 'off', 100),
    guests: fc.array(
      fc.record(
        {
          name: fc.constantFrom('rtos', 'gpos', 'g-2'),
          ipv4: fc.constantFrom('10.77.0.10/24', 'dhcp'),
          os: fc.constantFrom('rtos', 'gpos'),
          weight: fc.constantFrom(0.5, 2),
          rate: fc.constantFrom(null, 1000, '20M'),
          echo: fc.boolean(),
          control: fc.constantFrom(null, {}, { periodUs: 500 }, { telemetry: '10.77.0.1:9000' }, { telemetry: null }),
          load: fc.constantFrom(null, { dst: '10.77.0.1:9' }, { dst: '10.77.0.1:9', size: 64 }),
        },
        { requiredKeys: ['name', 'ipv4'] },
      ),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

/** Values of every JSON type and some near misses, put anywhere in a document. */
const anyValue = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 65536, 1e13, '', 'x', 'tap:', '10.77.0.1/33', '02:4e:53:00:00:0a', '100M', 'dhcp', 'rfc', [], {}, [{}]),
  fc.jsonValue({ maxDepth: 2 }),
);

describe('compiled-schema.ts (the schema compiled ahead of time)', () => {
  it('is what `npm run schema` writes from src/board/schema.ts (run it after changing the schema)', () => {
    expect(readFileSync(new URL('src/board/compiled-schema.ts', root), 'utf8')).toBe(compiledSchemaModule());
  });

  it('accepts and refuses the committed examples and fixtures as Value.Check does', () => {
    const docs: unknown[] = [{}, JSON.parse(readFileSync(new URL('examples/nanoshare.json', root), 'utf8'))];
    const fixtures = new URL('test/fixtures/config/', root);
    for (const f of readdirSync(fixtures).filter((n) => n.endsWith('.json'))) {
      try {
        docs.push(JSON.parse(readFileSync(new URL(f, fixtures), 'utf8')));
      } catch {
        /* not-json.json: not a document */
      }
    }
    const verdicts = docs.map((d) => [compiledAccepts(d), Value.Check(ConfigSchema, d)]);
    expect(verdicts.filter(([a, b]) => a !== b)).toEqual([]);
    expect(verdicts.some(([a]) => a) && verdicts.some(([a]) => !a)).toBe(true);
  });

  test.prop([validTop, fc.array(fc.tuple(fc.constantFrom('', 'guests/0', 'guests/1', 'scheduler', 'guests/0/control', 'guests/0/load'), fc.string({ maxLength: 12 }), anyValue), { maxLength: 3 })])(
    'gives Value.Check\'s verdict on any document: valid ones and ones with keys set to anything',
    (doc, edits) => {
      for (const [at, key, value] of edits) {
        let o: unknown = doc;
        for (const k of at.split('/').filter((x) => x)) o = (o as Record<string, unknown> | undefined)?.[k];
        if (typeof o === 'object' && o !== null) (o as Record<string, unknown>)[key || 'mtu'] = value;
      }
      expect(compiledAccepts(doc)).toBe(Value.Check(ConfigSchema, doc));
    },
  );

  test.prop([validTop])('fills in the same defaults as Value.Default, and leaves the document it was given as it was', (doc) => {
    fc.pre(Value.Check(ConfigSchema, doc));
    const before = structuredClone(doc);
    expect(withDefaults(doc)).toEqual(Value.Default(ConfigSchema, Value.Clone(doc)));
    expect(doc).toEqual(before);
  });

  it('takes a default where the value is missing: a nullable one, a union\'s own, an object\'s and its keys\', an array\'s items\'', () => {
    const d = fillDefaults(DEFAULTS, { guests: [{ name: 'rtos', ipv4: 'dhcp', control: {} }, { name: 'g', ipv4: 'dhcp', control: null }] }) as Record<string, unknown>;
    expect(d.hostIp).toBe('10.77.0.1/24');
    expect(d.lineRate).toBe(0);
    expect(d.scheduler).toEqual(Value.Default(ConfigSchema.properties.scheduler, undefined));
    expect(d.guests).toEqual([
      { name: 'rtos', ipv4: 'dhcp', control: { periodUs: 1000 }, weight: 1, echo: true, onFault: 'reboot', echoRate: 1000 },
      { name: 'g', ipv4: 'dhcp', control: null, weight: 1, echo: true, onFault: 'reboot', echoRate: 1000 },
    ]);
    expect((fillDefaults(DEFAULTS, {}) as { guests: unknown[] }).guests).toHaveLength(2);
    expect((fillDefaults(DEFAULTS, { hostIp: null }) as { hostIp: unknown }).hostIp).toBeNull();
  });
});
