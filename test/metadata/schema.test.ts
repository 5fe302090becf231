// The committed migrations match metadata/schema.ts: drizzle-kit, run on a copy of drizzle/, finds
// nothing to generate. (After changing the schema, run `npx drizzle-kit generate` and commit drizzle/.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { projectRoot } from '../helpers/paths.js';

test('drizzle/ is up to date with metadata/schema.ts', async () => {
  const root = projectRoot();
  const out = mkdtempSync(join(tmpdir(), 'streamhouse-drizzle-check-'));
  try {
    cpSync(join(root, 'drizzle'), out, { recursive: true });
    const before = readdirSync(out).sort();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [join(root, 'node_modules', 'drizzle-kit', 'bin.cjs'), 'generate', '--dialect=postgresql', '--schema=./metadata/schema.ts', `--out=${relative(root, out)}` /* drizzle-kit wants a relative path */],
        { cwd: root, timeout: 60_000 },
        (err, so, se) => (err ? reject(new Error(`drizzle-kit failed: ${se || err.message}`)) : resolve(`${so}${se}`)),
      );
    });
    assert.match(stdout, /No schema changes/);
    assert.deepEqual(readdirSync(out).sort(), before);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
