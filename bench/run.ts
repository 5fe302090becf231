// Benchmark dispatcher: npm run bench -- <area> [more areas]. Each area is bench/<area>.ts (protocol,
// storage, metadata, e2e, groups, validation, metrics, …; found by listing this folder) exporting
// `run(args: string[]): Promise<void>`, which prints its figures.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js';
const areas = readdirSync(here)
  .filter((f) => f.endsWith(ext) && !f.startsWith('run.') && !f.endsWith('.d.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -ext.length))
  .sort();

const [area, ...args] = process.argv.slice(2);
if (!area || !areas.includes(area)) {
  console.error(`usage: npm run bench -- <area>\nareas: ${areas.join(', ')}`);
  process.exit(area ? 2 : 0);
}
const mod = (await import(pathToFileURL(`${here}/${area}${ext}`).href)) as { run(args: string[]): Promise<void> };
await mod.run(args);
