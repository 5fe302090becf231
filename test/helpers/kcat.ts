// Runs the real kcat (librdkafka) binary (scripts/test-prerequisites.mjs installs it), registered with
// the reaper so that it never outlives the test process.
import { killGroup, spawnTracked } from './reaper.js';

export interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function kcat(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => killGroup(child), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    // kcat may exit before reading its stdin (a consumer that reached the end): the exit code and
    // output are what the tests check, not the EPIPE of that write.
    child.stdin!.on('error', () => {});
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** kcat -C -J output lines as objects. */
export interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  broker: number;
  headers?: string[];
  key: string | null;
  payload: string | null;
}

export function parseJsonLines(stdout: string): KcatMessage[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as KcatMessage);
}
