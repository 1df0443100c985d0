// Why a config document does not follow the schema, in the user's words: the first of TypeBox's
// errors, named by its field. Loaded only when the compiled check (config.ts) refused a document:
// it brings TypeBox and the schema, which a valid config never needs. Importing it tells config.ts
// to use it (cli/ imports it on the first refused document; the tests in their setup).
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, FORMAT, type StringFormat } from './schema.js';
import { describeSchemaErrorsWith } from './config.js';

function jsonType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Whether a value has the JSON type a (non-union) schema asks for, so its error is the one to show. */
function typeFits(s: TSchema, v: unknown): boolean {
  if (s.const !== undefined) return typeof s.const === typeof v;
  if (s.type === 'integer') return typeof v === 'number';
  return s.type === jsonType(v);
}

/** The first thing wrong with a value: [JSON Pointer of the field, one line in the user's words]. */
function describe(e: ValueError): [string, string] {
  const s = e.schema;
  const v = e.value;
  const at = (text: string): [string, string] => [e.path, text];
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return at(`unknown key (known: ${Object.keys(s.properties as object).join(', ')})`);
  if (v === undefined) return at('required');
  if (Array.isArray(s.anyOf)) {
    const members = s.anyOf as TSchema[];
    if (members.every((m) => m.const !== undefined)) return at(`expected ${members.map((m) => JSON.stringify(m.const)).join(' or ')}, got ${JSON.stringify(v)}`);
    const fit = members.filter((m) => m.const === undefined && typeFits(m, v));
    if (fit.length === 1) {
      const inner = Value.Errors(fit[0]!, v).First();
      if (inner) {
        const [path, text] = describe(inner);
        return [e.path + path, text];
      }
    }
    return at(`expected ${members.map((m) => (m.const !== undefined ? JSON.stringify(m.const) : m.type === 'null' ? 'null' : m.type === 'integer' ? 'an integer' : `a ${m.type}`)).join(' or ')}, got ${JSON.stringify(v)}`);
  }
  const fmt = (s as { [FORMAT]?: StringFormat })[FORMAT];
  if (fmt && typeof v === 'string') return at(`malformed ${fmt.what} ${JSON.stringify(v)} (${fmt.hint})`);
  switch (s.type) {
    case 'integer':
    case 'number':
      return at(`expected ${s.type === 'integer' ? 'an integer' : 'a number'} from ${s.minimum} to ${s.maximum}, got ${JSON.stringify(v)}`);
    case 'boolean':
      return at(`expected true or false, got ${JSON.stringify(v)}`);
    case 'object':
      return at('expected an object');
    case 'array':
      if (Array.isArray(v) && typeof s.maxItems === 'number' && v.length > s.maxItems) return at(`at most ${s.maxItems}, found ${v.length}`);
      return at('expected an array');
    case 'string':
      return at(`expected a string, got ${JSON.stringify(v)}`);
    default:
      return at(e.message);
  }
}

/** The first of TypeBox's errors for a document, described; ['', ...] if TypeBox finds none. */
export function firstSchemaError(json: unknown): [string, string] {
  const e = Value.Errors(ConfigSchema, json).First();
  // The compiled check and Value.Errors are TypeBox's two readings of one schema; should they ever
  // disagree, the document is still refused, with a line that says so.
  return e ? describe(e) : ['', 'refused by the compiled schema check, but TypeBox finds no error (run `npm run schema`)'];
}

describeSchemaErrorsWith(firstSchemaError);
