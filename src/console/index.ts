// The web console (issue 17): pages on the agent's HTTP port under /console, and the in-memory
// history its charts draw. `mountConsole` is all the agent calls.
import { collectLag } from '../admin/lag.js';
import type { Logger } from '../logger.js';
import type { HttpServer } from '../http/server.js';
import { agentTarget, throughputTotals, type ConsoleDeps } from './data.js';
import { ConsoleHistory, MAX_GROUPS } from './history.js';
import { consoleRoutes } from './routes.js';

export { consoleRoutes } from './routes.js';
export type { ConsoleDeps } from './data.js';

export function mountConsole(http: HttpServer, deps: Omit<ConsoleDeps, 'history'>, sampleMs: number, log: Logger): ConsoleHistory {
  const target = agentTarget(deps.store);
  const history = new ConsoleHistory(
    {
      throughput: () => throughputTotals(deps.registry),
      groupLag: async () => (await collectLag(target)).groups.slice(0, MAX_GROUPS),
    },
    (err) => log.debug({ err: (err as Error).message }, 'console: sampling failed; the next sample tries again'),
  );
  http.mount(...consoleRoutes({ ...deps, history }, { sampleMs }));
  history.start(sampleMs);
  return history;
}
