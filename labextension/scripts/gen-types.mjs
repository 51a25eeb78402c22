// Turns the JSON Schema of the event unions (written by the Python side) into src/events.generated.ts.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const input = process.argv[2] ?? join(root, 'src', 'events.schema.json');
const output = process.argv[3] ?? join(root, 'src', 'events.generated.ts');

const BANNER = `/* eslint-disable */
/**
 * GMS event types: generated; do not edit.
 *
 * Source: src/events.schema.json, the JSON Schema of the pydantic unions in gms_lab/events.py.
 * Regenerate with \`jlpm gen:types\` after the Python models change.
 */`;

const SHAPE_KEYS = [
  'type',
  '$ref',
  'anyOf',
  'oneOf',
  'allOf',
  'enum',
  'const',
  'items',
  'properties'
];

const schema = JSON.parse(await readFile(input, 'utf8'));
const defs = schema.$defs ?? {};

// The discriminator has a default in pydantic, so the validation schema leaves it optional; on the
// wire it is always present, and TypeScript needs it required to narrow the unions.
for (const def of Object.values(defs)) {
  if (def && def.properties?.type?.const !== undefined) {
    def.required = Array.from(new Set(['type', ...(def.required ?? [])]));
  }
}

// Property titles ("Taskid", "Seq"…) would each become a type alias of their own; inline them.
for (const def of Object.values(defs)) {
  for (const prop of Object.values(def?.properties ?? {})) {
    delete prop.title;
    // pydantic's `Any` is the empty schema, which would otherwise come out as an object type.
    if (!SHAPE_KEYS.some(key => key in prop)) {
      prop.tsType = 'unknown';
    }
  }
}

// Emit every definition (the unions and each event) as a named export; the root itself is empty.
const wrapper = {
  title: 'GmsEventsSchema',
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(
    ['ServerEvent', 'ClientMessage'].map(name => [
      name,
      { $ref: `#/$defs/${name}` }
    ])
  ),
  $defs: defs
};

const ts = await compile(wrapper, 'GmsEventsSchema', {
  bannerComment: BANNER,
  additionalProperties: false,
  unreachableDefinitions: true,
  strictIndexSignatures: true,
  format: true,
  style: { singleQuote: true, trailingComma: 'none', arrowParens: 'avoid' }
});

// The wrapper only exists to reach the definitions; it is no type of the protocol.
const body = ts.replace(/export interface GmsEventsSchema \{[^}]*\}\n/, '');
await writeFile(output, body);
console.log(`wrote ${output}`);
