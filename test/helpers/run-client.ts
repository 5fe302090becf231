// Runs a client program written in another language (sarama in Go, kafka-python) that prints one JSON
// object per line, and collects those lines. The client runs in its own process group (go build forks
// compilers), killed as a whole on timeout and when the test process ends.
import { killGroup, spawnTracked } from './reaper.js';

export interface ClientRun {
  code: number | null;
  /** Every stdout line that parsed as a JSON object, in order. */
  events: Array<Record<string, unknown>>;
  stdout: string;
  stderr: string;
}

export function runClient(command: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => killGroup(child), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, events, stdout, stderr });
    });
  });
}

/** A readable summary of a run for assertion messages. */
export function describeRun(r: ClientRun): string {
  return `exit ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`;
}
