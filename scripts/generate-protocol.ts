// Regenerates the committed tables under protocol/generated/ from ../shared (the Kafka reference
// material). Usage: npm run generate:protocol [-- --check]. With --check it exits 1 on any difference.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderErrorCodes } from './generate-errors.js';
import { renderMessages } from './generate-messages.js';

export function projectRoot(): string {
  let dir = resolve(fileURLToPath(import.meta.url), '..');
  while (!existsSync(join(dir, 'package.json'))) dir = resolve(dir, '..');
  return dir;
}

export function sharedDir(): string {
  return process.env.STREAMHOUSE_SHARED_DIR ?? resolve(projectRoot(), '..', 'shared');
}

/** Every generated file: path relative to the project root → contents. */
export function renderAll(shared = sharedDir()): Map<string, string> {
  const files = new Map<string, string>();
  files.set('protocol/generated/error-codes.ts', renderErrorCodes(shared));
  const messages = renderMessages(join(shared, 'kafka-protocol', 'messages'), join(projectRoot(), 'scripts', 'extra-messages'));
  for (const [path, text] of messages) files.set(path, text);
  return files;
}

function main(): void {
  const check = process.argv.includes('--check');
  const root = projectRoot();
  let differ = 0;
  for (const [rel, text] of renderAll()) {
    const path = join(root, rel);
    const old = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (old === text) continue;
    differ++;
    if (check) console.error(`differs: ${rel}`);
    else {
      mkdirSync(resolve(path, '..'), { recursive: true });
      writeFileSync(path, text);
      console.log(`wrote ${rel}`);
    }
  }
  if (check && differ > 0) process.exit(1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
