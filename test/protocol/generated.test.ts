// The committed tables under protocol/generated/ must be exactly what the generator produces from
// ../shared (when present; the build itself never needs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, sharedDir } from '../helpers/paths.js';
import { renderAll } from '../../scripts/generate-protocol.js';

const shared = sharedDir();

test('regenerating protocol/generated yields the committed files', { skip: shared ? false : 'no ../shared: generator check skipped' }, () => {
  const root = projectRoot();
  const files = renderAll(shared!);
  for (const [rel, text] of files) {
    const path = join(root, rel);
    assert.ok(existsSync(path), `${rel} is not committed; run npm run generate:protocol`);
    assert.equal(readFileSync(path, 'utf8'), text, `${rel} differs from the generator output; run npm run generate:protocol`);
  }
  // No stale file left from an earlier generation.
  const dir = join(root, 'protocol', 'generated', 'messages');
  for (const name of readdirSync(dir)) {
    assert.ok(files.has(`protocol/generated/messages/${name}`), `protocol/generated/messages/${name} is not generated`);
  }
});

test('generated files carry no descriptions from the reference JSON', () => {
  const dir = join(projectRoot(), 'protocol', 'generated', 'messages');
  for (const name of readdirSync(dir)) {
    const text = readFileSync(join(dir, name), 'utf8');
    assert.ok(!/about/i.test(text.replace(/Do not edit\./, '')), `${name} mentions "about"`);
  }
});
