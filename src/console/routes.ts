// The web console's routes, mounted on the agent's HTTP endpoint next to /metrics: GET only (the
// route table answers any other method 405), nothing here changes anything. Pages are rendered on the
// server; the one script draws the charts with uPlot, served from node_modules by this agent.
import type { ServerResponse } from 'node:http';
import { listAgents } from '../admin/agents.js';
import { AdminError } from '../admin/errors.js';
import { describeGroup, listGroups } from '../admin/groups.js';
import { collectLag } from '../admin/lag.js';
import { listLeases } from '../admin/leases.js';
import { listSegments } from '../admin/segments.js';
import { describeTopic, listTopics } from '../admin/topics.js';
import { get, type HttpRoute } from '../http/server.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { CONSOLE_CSS, CONSOLE_JS, uplotAssets } from './assets.js';
import { agentTarget, costFigures, throughputTotals, type ConsoleDeps } from './data.js';
import type { Html } from './html.js';
import { BASE, groupPage, groupsPage, overviewPage, problemPage, recordsPage, topicPage, topicsPage, type Chrome } from './pages.js';
import { browseRecords, DEFAULT_RECORDS, MAX_RECORDS, type ValueFormat } from './records.js';

/** Scripts only from this agent; the page's data is JSON in non-executed script elements. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function send(res: ServerResponse, status: number, body: string | Html, contentType: string, cache = 'no-store'): void {
  const text = String(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': cache,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

const sendPage = (res: ServerResponse, status: number, page: Html) => send(res, status, page, 'text/html; charset=utf-8');

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : NaN;
}

/** Epoch ms, or an ISO 8601 date. */
function timestampParam(v: string): number {
  if (/^-?\d+$/.test(v.trim())) return Number(v.trim());
  return Date.parse(v);
}

export function consoleRoutes(deps: ConsoleDeps, opts: { sampleMs: number }): HttpRoute[] {
  const target = agentTarget(deps.store);
  const chrome = (title: string, section: Chrome['section']): Chrome => ({ title, section, self: deps.self });
  let uplot: ReturnType<typeof uplotAssets> | undefined;
  const assets: Record<string, () => [string, string]> = {
    'console.css': () => [CONSOLE_CSS, 'text/css; charset=utf-8'],
    'console.js': () => [CONSOLE_JS, 'text/javascript; charset=utf-8'],
    'uPlot.iife.min.js': () => [(uplot ??= uplotAssets()).js, 'text/javascript; charset=utf-8'],
    'uPlot.min.css': () => [(uplot ??= uplotAssets()).css, 'text/css; charset=utf-8'],
  };

  /** A page whose collector may fail with a user-facing AdminError (unknown topic or group): 404. */
  const page = (path: string, section: Chrome['section'], render: (url: URL) => Promise<Html>): HttpRoute =>
    get(path, async (_req, res, url) => {
      try {
        sendPage(res, 200, await render(url));
      } catch (err) {
        if (!(err instanceof AdminError)) throw err;
        sendPage(res, 404, problemPage(chrome('Not found', section), err.message));
      }
    });

  return [
    get('/', (_req, res) => {
      res.writeHead(302, { location: `${BASE}/` }).end();
    }),
    ...Object.entries(assets).map(([name, load]) =>
      get(`${BASE}/static/${name}`, (_req, res) => {
        const [body, type] = load();
        send(res, 200, body, type, 'public, max-age=3600');
      }),
    ),
    ...[BASE, `${BASE}/`].map((path) =>
      page(path, 'overview', async () => {
        const [agents, leases, topics, groups, lag, totals, cost] = await Promise.all([
          listAgents(target, { liveWithinMs: deps.liveWithinMs }),
          listLeases(target),
          listTopics(target),
          listGroups(target),
          collectLag(target),
          throughputTotals(deps.registry),
          costFigures(deps.registry),
        ]);
        return overviewPage(chrome('Cluster overview', 'overview'), { agents, leases, topics, groups, lag, totals, cost, throughput: deps.registry && deps.history.throughput, sampleMs: opts.sampleMs });
      }),
    ),
    page(`${BASE}/topics`, 'topics', async () => topicsPage(chrome('Topics', 'topics'), await listTopics(target))),
    page(`${BASE}/topic`, 'topics', async (url) => {
      const name = url.searchParams.get('name') ?? '';
      const d = await describeTopic(target, name);
      const from = intParam(url, 'segmentsFrom');
      const segments = await listSegments(target, { topic: name, fromOffset: from !== undefined && from >= 0 ? from : undefined });
      return topicPage(chrome(`Topic ${name}`, 'topics'), d, segments);
    }),
    page(`${BASE}/groups`, 'groups', async () => {
      const [groups, lag] = await Promise.all([listGroups(target), collectLag(target)]);
      return groupsPage(chrome('Consumer groups', 'groups'), groups, lag);
    }),
    page(`${BASE}/group`, 'groups', async (url) => {
      const id = url.searchParams.get('id') ?? '';
      const d = await describeGroup(target, id);
      const lag = await collectLag(target, { group: id });
      return groupPage(chrome(`Consumer group ${id}`, 'groups'), d, lag.groups[0], deps.history.lag.get(id), opts.sampleMs);
    }),
    page(`${BASE}/records`, 'topics', async (url) => {
      const topicName = url.searchParams.get('topic') ?? '';
      const topic = await deps.store.getTopic(topicName);
      if (topic === undefined) throw new AdminError(`unknown topic "${topicName}"`);
      const formatParam = url.searchParams.get('format');
      const format: ValueFormat = formatParam === 'json' || formatParam === 'hex' ? formatParam : 'text';
      const partition = intParam(url, 'partition') ?? 0;
      const offset = intParam(url, 'offset');
      const limit = intParam(url, 'limit') ?? DEFAULT_RECORDS;
      const timestampText = (url.searchParams.get('timestamp') ?? '').trim();
      const timestamp = timestampText === '' ? undefined : timestampParam(timestampText);
      const form = { topic: topic.name, partitions: topic.partitionCount, partition, offset: url.searchParams.get('offset') ?? '', timestamp: timestampText, limit, format };
      const c = chrome(`Records of ${topic.name}`, 'topics');
      let problem: string | undefined;
      if (!Number.isSafeInteger(partition) || partition < 0 || partition >= topic.partitionCount) problem = `partition must be 0 to ${topic.partitionCount - 1}`;
      else if (Number.isNaN(offset)) problem = 'offset must be a whole number';
      else if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RECORDS) problem = `records must be 1 to ${MAX_RECORDS}`;
      else if (timestamp !== undefined && !Number.isFinite(timestamp)) problem = 'timestamp must be epoch milliseconds or an ISO 8601 date';
      if (problem !== undefined) return recordsPage(c, { ...form, partition: 0 }, undefined, problem);
      try {
        const records = await browseRecords(deps.partitions, { topic: topic.name, partition, offset, timestamp, limit }, deps.maxDecompressedBytes);
        return recordsPage(c, form, records, undefined);
      } catch (err) {
        if (err instanceof KafkaError && err.code === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
          const d = await describeTopic(target, topic.name);
          const leader = d.partitions[partition]?.leader;
          return recordsPage(c, form, undefined, `this agent does not lead partition ${partition}${leader != null ? `: node ${leader} does; open the console on its HTTP port` : ' (no agent holds its lease right now)'}`);
        }
        throw err;
      }
    }),
  ];
}
