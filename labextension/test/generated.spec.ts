/**
 * The generated event types match the checked-in JSON Schema (regenerate with `jlpm gen:types`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

describe('events.generated.ts', () => {
  it('is what gen:types makes from src/events.schema.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gms-gen-'));
    try {
      const output = join(dir, 'events.generated.ts');
      execFileSync(process.execPath, [
        join(root, 'scripts', 'gen-types.mjs'),
        join(root, 'src', 'events.schema.json'),
        output
      ]);
      const fresh = readFileSync(output, 'utf8');
      const checkedIn = readFileSync(
        join(root, 'src', 'events.generated.ts'),
        'utf8'
      );
      expect(checkedIn).toBe(fresh);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every server event and client message of the schema', () => {
    const schema = JSON.parse(
      readFileSync(join(root, 'src', 'events.schema.json'), 'utf8')
    );
    const source = readFileSync(
      join(root, 'src', 'events.generated.ts'),
      'utf8'
    );
    const refs = [
      ...schema.$defs.ServerEvent.oneOf,
      ...schema.$defs.ClientMessage.oneOf
    ].map((entry: { $ref: string }) => entry.$ref.split('/').pop());
    for (const name of refs) {
      expect(source).toContain(`export interface ${name} {`);
    }
    expect(source).toContain('export type ServerEvent =');
    expect(source).toContain('export type ClientMessage =');
  });
});
