import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the folder with package.json), whether running from test/ via tsx or from dist/test/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** ../shared next to the project (reference material); undefined when absent (CI may lack it). */
export function sharedDir(): string | undefined {
  const dir = process.env.STREAMHOUSE_SHARED_DIR ?? resolve(projectRoot(), '..', 'shared');
  return existsSync(dir) ? dir : undefined;
}

export function fixturePath(...parts: string[]): string {
  return join(projectRoot(), 'test', 'fixtures', ...parts);
}
