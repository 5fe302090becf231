// The default agent id: a random id created once in the data directory (next to its LOCK) and read
// back on every start. Unique per data directory, stable across restarts, and independent of the
// advertised address, so two hosts started with the same defaults (`localhost:9092`) no longer share
// leases, epochs and a node id. Deployments on PostgreSQL + S3 still have a local data directory for
// the lock and this file. `--agent-id` overrides it.
//
// Called while holding the data-directory lock, so no other agent writes the file at the same time;
// it is written to a temporary file, synced and linked into place, so a crash never leaves a
// half-written id (an empty file, which a machine crash could still leave, is replaced by a new id).
import { randomUUID } from 'node:crypto';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const AGENT_ID_FILE_NAME = 'agent-id';

/** What an agent id in the file may look like (ours are `agent-<uuid>`); anything else is refused. */
const AGENT_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,200}$/;

export class AgentIdFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentIdFileError';
  }
}

/** The agent id stored in `dataDir`, created (`agent-<uuid>`) when the directory has none yet. */
export async function dataDirAgentId(dataDir: string): Promise<{ agentId: string; created: boolean }> {
  const file = join(dataDir, AGENT_ID_FILE_NAME);
  const existing = await readId(file);
  if (existing !== undefined && existing !== '') return { agentId: existing, created: false };
  if (existing === '') await unlink(file);
  const agentId = `agent-${randomUUID()}`;
  const tmp = `${file}.${process.pid}.${randomUUID()}`;
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(`${agentId}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, file);
  } catch (err) {
    // Created meanwhile (only possible without the lock): the file that is there wins.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = await readId(file);
    if (!other) throw err;
    return { agentId: other, created: false };
  } finally {
    await unlink(tmp).catch(() => {});
  }
  return { agentId, created: true };
}

/** The id in the file; '' for an empty file, undefined when there is none. */
async function readId(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const id = text.trim();
  if (id !== '' && !AGENT_ID_PATTERN.test(id)) {
    throw new AgentIdFileError(`${file} does not hold an agent id (${JSON.stringify(id.slice(0, 60))}); remove it to have a new id created, or set --agent-id`);
  }
  return id;
}
