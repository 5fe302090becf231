// Runs one admin command: opens the target, collects the report, prints it (an aligned table, or JSON
// with --json) and closes everything. Failures print one line on stderr, never a stack trace, and set
// a non-zero exit code (1: the request failed; 2: the command line was wrong).
import { describeFailure } from './errors.js';
import { openTarget, type Target, type TargetOptions } from './target.js';

export interface AdminOptions extends TargetOptions {
  json?: boolean;
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

export async function runAdmin<T>(opts: AdminOptions, collect: (target: Target) => Promise<T>, render: (report: T) => string): Promise<never> {
  let target: Target | undefined;
  let code = 0;
  try {
    target = await openTarget(opts);
    const report = await collect(target);
    await write(process.stdout, opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${render(report)}\n`);
    // A partial answer (a broker unreachable) is still printed, with what is missing on stderr.
    const warnings = target.kind === 'broker' ? target.client.warnings : [];
    for (const w of warnings) await write(process.stderr, `streamhouse: warning: ${w}\n`);
  } catch (err) {
    const { message, exitCode } = describeFailure(err);
    code = exitCode;
    await write(process.stderr, `streamhouse: ${message}\n`);
  } finally {
    await target?.close().catch(() => undefined);
  }
  // Every handle is closed by now; exit explicitly so that a stray one (a pool's timer) cannot hold us.
  process.exit(code);
}
