// The watchdog started by reaper.ts, one per test process, in its own session (signals sent to the
// terminal's process group do not reach it). It reads registrations from its stdin, a pipe from the test
// process; end of file means the test process is gone, however it ended: then it stops everything
// still registered and exits. Under test/run.mjs it also keeps a list of what it holds in the run
// directory, so that the runner can finish the job if the watchdog itself is killed.
import { createInterface } from 'node:readline';
import { reapEntry, removeWatchdogFile, RUN_DIR_ENV, watchdogFile, writeWatchdogFile, type ReapEntry } from './reaper.js';

const entries = new Map<number, ReapEntry>();
const runDir = process.env[RUN_DIR_ENV];
const file = runDir ? watchdogFile(runDir, process.pid) : undefined;
if (file) writeWatchdogFile(file, []);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  try {
    const message = JSON.parse(line) as { op: 'add'; id: number; entry: ReapEntry } | { op: 'del'; id: number };
    if (message.op === 'add') entries.set(message.id, message.entry);
    else entries.delete(message.id);
    if (file) writeWatchdogFile(file, entries.values());
  } catch {
    // a line cut short by the test process dying mid-write: nothing complete to register
  }
});
lines.on('close', () => {
  // Processes first (an agent may be using the database), then PostgreSQL clusters.
  const all = [...entries.values()].sort((a, b) => Number(a.kind === 'postgres') - Number(b.kind === 'postgres'));
  for (const entry of all) reapEntry(entry);
  if (file) removeWatchdogFile(file);
  process.exit(0);
});
// Our parent's terminal or session ending must not stop us before we have done our job.
process.on('SIGHUP', () => undefined);
