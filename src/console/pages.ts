// The console's pages: plain functions from collected data to Html. Every value a client or another
// agent supplied goes through html`` (escaped); only the template text is markup.
import type { AgentList } from '../admin/agents.js';
import type { GroupDescription, GroupList } from '../admin/groups.js';
import type { GroupLag, LagReport } from '../admin/lag.js';
import type { LeaseReport } from '../admin/leases.js';
import type { SegmentReport } from '../admin/segments.js';
import { formatBytes, formatRanges, formatRelative, formatTime } from '../admin/table.js';
import type { TopicDescription, TopicList } from '../admin/topics.js';
import type { CostFigures } from './data.js';
import type { Ring } from './history.js';
import { href, html, jsonData, type Html } from './html.js';
import { formatValue, MAX_RECORDS, type RecordPage, type ValueFormat } from './records.js';

export const BASE = '/console';

const dash = (v: unknown) => (v === null || v === undefined || v === '' ? html`<span class="muted">-</span>` : v);
const num = (v: number | null | undefined) => (v === null || v === undefined ? dash(v) : v.toLocaleString('en-US'));
const usd = (v: number | undefined) => (v === undefined ? dash(v) : `$${v < 0.01 && v > 0 ? v.toPrecision(2) : v.toFixed(4)}`);

export interface Chrome {
  title: string;
  section: 'overview' | 'topics' | 'groups';
  self: { nodeId: number; agentId: string };
}

export function layout(c: Chrome, body: Html): Html {
  const nav = (s: Chrome['section'], path: string, label: string) => html`<a href="${path}" class="${c.section === s ? 'current' : ''}">${label}</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${c.title} · StreamHouse</title>
<link rel="stylesheet" href="${BASE}/static/uPlot.min.css"><link rel="stylesheet" href="${BASE}/static/console.css">
</head><body>
<header><span class="brand">StreamHouse</span><nav>${nav('overview', BASE, 'Overview')}${nav('topics', `${BASE}/topics`, 'Topics')}${nav('groups', `${BASE}/groups`, 'Consumer groups')}</nav>
<span class="agent">served by node ${c.self.nodeId} · agent ${c.self.agentId} · read-only</span></header>
<main><h1>${c.title}</h1>
${body}
</main>
<script src="${BASE}/static/uPlot.iife.min.js"></script><script src="${BASE}/static/console.js"></script>
</body></html>
`;
}

function card(label: string, value: unknown, id?: string): Html {
  return html`<div class="card"${id ? html` id="${id}"` : ''}><div class="label">${label}</div><div class="value">${value}</div></div>`;
}

function chart(id: string, title: string, labels: string[], ring: Ring | undefined, empty: string): Html {
  const columns = ring?.columns(labels.length) ?? [[], ...labels.map(() => [])];
  return jsonData(id, { title, labels, columns, empty });
}

export interface OverviewData {
  agents: AgentList;
  leases: LeaseReport;
  topics: TopicList;
  groups: GroupList;
  lag: LagReport;
  throughput: Ring | undefined;
  totals: { bytesIn: number; messagesIn: number; bytesOut: number } | undefined;
  cost: CostFigures;
  sampleMs: number;
}

export function overviewPage(c: Chrome, d: OverviewData): Html {
  const now = d.agents.databaseTime ?? Date.now();
  const last = d.throughput?.size ? d.throughput.columns(3).map((col) => col[col.length - 1]) : undefined;
  const validPartitionLeases = d.leases.partitionLeases.filter((l) => l.valid);
  const validShards = d.leases.coordinatorLeases.filter((l) => l.valid && l.kind === 'shard');
  const holders = new Map<string, { node: number | null; partitions: number; shards: number }>();
  for (const l of validPartitionLeases) {
    const h = holders.get(l.holder) ?? { node: l.holderNode, partitions: 0, shards: 0 };
    h.partitions++;
    holders.set(l.holder, h);
  }
  for (const l of validShards) {
    const h = holders.get(l.holder) ?? { node: l.holderNode, partitions: 0, shards: 0 };
    h.shards++;
    holders.set(l.holder, h);
  }
  const totalLag = d.lag.groups.reduce((a, g) => a + g.totalLag, 0);
  return layout(
    c,
    html`<div class="cards">
${card('Live agents', `${d.agents.agents.filter((a) => a.live).length} of ${d.agents.agents.length}`, 'card-agents')}
${card('Topics', d.topics.topics.length, 'card-topics')}
${card('Partitions', d.topics.topics.reduce((a, t) => a + t.partitions, 0), 'card-partitions')}
${card('Consumer groups', d.groups.groups.length, 'card-groups')}
${card('Total consumer lag', num(totalLag), 'card-lag')}
${card('Bytes in/s (this agent)', last ? formatBytes(Math.round(last[1]!)) : dash(null), 'card-bytes-in')}
${card('Records in/s (this agent)', last ? num(Math.round(last[2]!)) : dash(null), 'card-records-in')}
${card('Bytes out/s (this agent)', last ? formatBytes(Math.round(last[3]!)) : dash(null), 'card-bytes-out')}
</div>
<h2>Agents</h2>
<table id="agents"><thead><tr><th class="num">Node</th><th>Agent id</th><th>Address</th><th>Rack</th><th>Status</th><th>Last heartbeat</th><th>Started</th><th class="num">Partition leases</th><th class="num">Coordinator shards</th></tr></thead><tbody>
${d.agents.agents.map((a) => html`<tr><td class="num">${a.nodeId}</td><td class="mono">${dash(a.agentId)}${a.agentId === c.self.agentId ? html` <span class="muted">(this agent)</span>` : ''}</td><td class="mono">${a.host}:${a.port}</td><td>${dash(a.rack)}</td><td class="status-${a.status}">${a.status}</td><td>${dash(formatRelative(a.lastHeartbeat, now))}</td><td>${dash(formatTime(a.startedAt))}</td><td class="num">${a.partitionLeases}</td><td class="num">${num(a.coordinatorShards)}</td></tr>`)}
</tbody></table>
<h2>Leases</h2>
<p class="note">Unexpired leases on the database clock: ${validPartitionLeases.length} partition leases of ${d.leases.partitionLeases.length}, ${validShards.length} coordinator shards held.</p>
<table id="leases"><thead><tr><th>Holder</th><th class="num">Node</th><th class="num">Partitions led</th><th class="num">Coordinator shards</th></tr></thead><tbody>
${[...holders].map(([holder, h]) => html`<tr><td class="mono">${holder}</td><td class="num">${num(h.node)}</td><td class="num">${h.partitions}</td><td class="num">${h.shards}</td></tr>`)}
</tbody></table>
<h2>Throughput (this agent)</h2>
${d.totals ? html`<p class="note">Since the agent started: ${formatBytes(d.totals.bytesIn)} in (${num(d.totals.messagesIn)} records), ${formatBytes(d.totals.bytesOut)} out. Sampled every ${d.sampleMs / 1000} s, the last hour kept in memory.</p>` : html`<p class="note">Metrics are off (--http-port 0).</p>`}
${chart('chart-throughput', 'Throughput per second', ['bytes in/s', 'records in/s', 'bytes out/s'], d.throughput, 'No samples yet: the first rate needs two samples.')}
<h2>Object store cost (estimated, this agent)</h2>
<div class="cards">
${card('Request cost so far', usd(d.cost.requestUsd), 'card-request-cost')}
${card('PUT / GET requests', `${num(d.cost.putRequests)} / ${num(d.cost.getRequests)}`)}
${card('Request cost per GiB written', usd(d.cost.usdPerGiBWritten))}
${card('Stored (bucket listing, every 5 min)', dash(formatBytes(d.cost.storedBytes)))}
${card('Storage per month', usd(d.cost.storageUsdPerMonth))}
</div>
<p class="note">From the price settings (--price-put-per-1000, --price-get-per-1000, --price-storage-gb-month); the same figures as /metrics.</p>`,
  );
}

export function topicsPage(c: Chrome, list: TopicList): Html {
  return layout(
    c,
    html`<table id="topics"><thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Records</th><th class="num">Size</th><th class="num">Stored</th><th class="num">Segments</th></tr></thead><tbody>
${list.topics.map((t) => html`<tr data-topic="${t.name}"><td><a href="${href(`${BASE}/topic`, { name: t.name })}">${t.name}</a></td><td class="num">${t.partitions}</td><td class="num">${num(t.records)}</td><td class="num">${dash(formatBytes(t.sizeBytes))}</td><td class="num">${dash(formatBytes(t.storedBytes))}</td><td class="num">${num(t.segments)}</td></tr>`)}
</tbody></table>
${list.topics.length === 0 ? html`<p class="muted">No topics.</p>` : ''}`,
  );
}

export function topicPage(c: Chrome, d: TopicDescription, segments: SegmentReport): Html {
  const now = d.databaseTime ?? Date.now();
  const overrides = Object.entries(d.configOverrides ?? {});
  return layout(
    c,
    html`<div class="cards">
${card('Partitions', d.partitionCount, 'card-partitions')}
${card('Records', num(d.partitions.reduce((a, p) => a + (p.records ?? 0), 0)))}
${card('Size', dash(formatBytes(d.partitions.reduce((a, p) => a + (p.sizeBytes ?? 0), 0))))}
${card('Stored', dash(formatBytes(d.partitions.reduce((a, p) => a + (p.storedBytes ?? 0), 0))))}
${card('Segments', num(d.partitions.reduce((a, p) => a + (p.segments ?? 0), 0)))}
</div>
<p class="note">Topic id <span class="mono">${dash(d.topicId)}</span>, created ${dash(formatTime(d.createdAt))}. Config overrides: ${overrides.length === 0 ? 'none' : overrides.map(([k, v], i) => html`${i ? ', ' : ''}<code>${k}=${v}</code>`)}.</p>
<h2>Partitions</h2>
<table id="partitions"><thead><tr><th class="num">Partition</th><th class="num">Leader</th><th class="num">Leader epoch</th><th class="num">Log start</th><th class="num">High watermark</th><th class="num">Records</th><th class="num">Size</th><th class="num">Stored</th><th class="num">Segments</th><th>Lease holder</th><th>Lease expires</th><th></th></tr></thead><tbody>
${d.partitions.map((p) => html`<tr data-partition="${p.partition}"><td class="num">${p.partition}</td><td class="num">${num(p.leader)}</td><td class="num">${num(p.leaderEpoch)}</td><td class="num">${num(p.logStartOffset)}</td><td class="num hw">${num(p.highWatermark)}</td><td class="num">${num(p.records)}</td><td class="num">${dash(formatBytes(p.sizeBytes))}</td><td class="num">${dash(formatBytes(p.storedBytes))}</td><td class="num">${num(p.segments)}</td><td class="mono">${dash(p.leaseHolder)}</td><td>${dash(formatRelative(p.leaseExpiresAt, now))}</td><td><a href="${href(`${BASE}/records`, { topic: d.name, partition: p.partition })}">records</a></td></tr>`)}
</tbody></table>
<h2>Segments and objects</h2>
<p class="note" id="segments-note">At most ${segments.limit} segments of each partition, the first from the log start (or from <code>&amp;segmentsFrom=OFFSET</code>): ${segments.partitions.map((p, i) => html`${i ? ', ' : ''}partition ${p.partition}: ${p.listed} of ${p.segmentCount}`)}.</p>
<table id="segments"><thead><tr><th class="num">Partition</th><th class="num">Base offset</th><th class="num">Last offset</th><th class="num">Records</th><th class="num">Size</th><th class="num">Stored</th><th>Object</th><th class="num">Byte position</th><th>Max timestamp</th><th>Created</th></tr></thead><tbody>
${segments.partitions.flatMap((p) => p.segments.map((s) => html`<tr><td class="num">${s.partition}</td><td class="num">${s.baseOffset}</td><td class="num">${s.lastOffset}</td><td class="num">${s.records}</td><td class="num">${formatBytes(s.sizeBytes)}</td><td class="num">${formatBytes(s.storedBytes)}</td><td class="mono">${s.bucket}/${s.objectKey}</td><td class="num">${s.bytePosition}</td><td>${dash(formatTime(s.maxTimestamp))}</td><td>${dash(formatTime(s.createdAt))}</td></tr>`))}
</tbody></table>`,
  );
}

export function groupsPage(c: Chrome, list: GroupList, lag: LagReport): Html {
  const lagOf = new Map(lag.groups.map((g) => [g.groupId, g]));
  return layout(
    c,
    html`<table id="groups"><thead><tr><th>Group</th><th>State</th><th>Protocol</th><th class="num">Generation</th><th class="num">Members</th><th class="num">Coordinator</th><th class="num">Total lag</th></tr></thead><tbody>
${list.groups.map((g) => html`<tr data-group="${g.groupId}"><td><a href="${href(`${BASE}/group`, { id: g.groupId })}">${g.groupId}</a></td><td>${dash(g.state)}</td><td>${dash(g.protocolType)}${g.protocol ? html` / ${g.protocol}` : ''}</td><td class="num">${num(g.generation)}</td><td class="num">${num(g.members)}</td><td class="num">${num(g.coordinator)}</td><td class="num lag">${num(lagOf.get(g.groupId)?.totalLag ?? 0)}</td></tr>`)}
</tbody></table>
${list.groups.length === 0 ? html`<p class="muted">No consumer groups.</p>` : ''}`,
  );
}

export function groupPage(c: Chrome, d: GroupDescription, lag: GroupLag | undefined, history: Ring | undefined, sampleMs: number): Html {
  return layout(
    c,
    html`<div class="cards">
${card('State', dash(d.state), 'card-state')}
${card('Members', num(d.memberList.length))}
${card('Generation', num(d.generation))}
${card('Coordinator node', num(d.coordinator))}
${card('Total lag', num(lag?.totalLag ?? 0), 'card-total-lag')}
</div>
<p class="note">Protocol ${dash(d.protocolType)} / ${dash(d.protocol)}; leader ${dash(d.leader)}; coordinator shard ${num(d.shard)}; state saved ${dash(formatTime(d.updatedAt))}.</p>
<h2>Lag over time</h2>
${chart('chart-lag', 'Total lag (records)', ['lag'], history, `No samples yet (sampled every ${sampleMs / 1000} s).`)}
<h2>Lag by partition</h2>
<table id="lag"><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed offset</th><th class="num">Log start</th><th class="num">High watermark</th><th class="num">Lag</th></tr></thead><tbody>
${(lag?.partitions ?? []).map((p) => html`<tr data-topic="${p.topic}" data-partition="${p.partition}"><td><a href="${href(`${BASE}/topic`, { name: p.topic })}">${p.topic}</a></td><td class="num">${p.partition}</td><td class="num committed">${num(p.committedOffset)}</td><td class="num">${num(p.logStartOffset)}</td><td class="num hw">${num(p.highWatermark)}</td><td class="num lag${(p.lag ?? 0) > 0 ? ' lag-high' : ''}">${num(p.lag)}</td></tr>`)}
</tbody></table>
<h2>Members</h2>
<table id="members"><thead><tr><th>Member id</th><th>Instance id</th><th>Client id</th><th>Host</th><th>Assignment</th></tr></thead><tbody>
${d.memberList.map((m) => html`<tr><td class="mono">${m.memberId}</td><td>${dash(m.groupInstanceId)}</td><td>${m.clientId}</td><td>${m.clientHost}</td><td>${m.assignment === null ? dash(null) : m.assignment.map((a) => html`<div>${a.topic}: ${formatRanges(a.partitions)}</div>`)}</td></tr>`)}
</tbody></table>
${d.memberList.length === 0 ? html`<p class="muted">No members (the group is ${d.state ?? 'unknown'}).</p>` : ''}`,
  );
}

export interface RecordsForm {
  topic: string;
  partitions: number;
  partition: number;
  offset: string;
  timestamp: string;
  limit: number;
  format: ValueFormat;
}

function shown(bytes: Buffer | null, format: ValueFormat): Html {
  if (bytes === null) return html`<span class="muted">null</span>`;
  const f = formatValue(bytes, format);
  return html`<pre class="${format}">${f.text}</pre>${f.json === false ? html`<span class="note">(not JSON: shown as text)</span>` : ''}${f.omitted > 0 ? html`<span class="note">… ${f.omitted} more bytes</span>` : ''}`;
}

export function recordsPage(c: Chrome, form: RecordsForm, page: RecordPage | undefined, problem: string | undefined): Html {
  const link = (params: Partial<Record<'offset' | 'timestamp' | 'format', string | number>>) =>
    href(`${BASE}/records`, { topic: form.topic, partition: form.partition, limit: form.limit, format: form.format, ...params });
  const formats: ValueFormat[] = ['text', 'json', 'hex'];
  return layout(
    c,
    html`<p><a href="${href(`${BASE}/topic`, { name: form.topic })}">← topic ${form.topic}</a></p>
<form class="seek" method="get" action="${BASE}/records">
<input type="hidden" name="topic" value="${form.topic}">
<label>Partition <select name="partition">${Array.from({ length: form.partitions }, (_, i) => html`<option value="${i}"${i === form.partition ? html` selected` : ''}>${i}</option>`)}</select></label>
<label>From offset <input name="offset" value="${form.offset}" size="10" inputmode="numeric"></label>
<label>or from timestamp (ms or ISO 8601) <input name="timestamp" value="${form.timestamp}" size="24"></label>
<label>Records (≤ ${MAX_RECORDS}) <input name="limit" value="${form.limit}" size="4" inputmode="numeric"></label>
<label>Show values as <select name="format">${formats.map((f) => html`<option value="${f}"${f === form.format ? html` selected` : ''}>${f}</option>`)}</select></label>
<button type="submit">Show</button>
</form>
${problem ? html`<p class="error" id="problem">${problem}</p>` : ''}
${page
  ? html`<p class="note" id="page-info">Partition ${page.partition}: log start offset ${page.logStartOffset}, high watermark ${page.highWatermark}, leader epoch ${page.leaderEpoch}. ${page.records.length} records from offset ${page.from}.
${page.next !== undefined ? html`<a id="next" href="${link({ offset: page.next })}">next →</a>` : html`<span class="muted">(end of the log)</span>`}
· view as ${formats.map((f, i) => html`${i ? ' | ' : ''}${f === form.format ? html`<b>${f}</b>` : html`<a class="format-${f}" href="${link({ offset: page.from, format: f })}">${f}</a>`}`)}</p>
<table id="records"><thead><tr><th class="num">Offset</th><th>Timestamp</th><th>Key</th><th>Headers</th><th>Value</th></tr></thead><tbody>
${page.records.map((r) => html`<tr data-offset="${r.offset}"><td class="num">${r.offset}</td><td class="mono nowrap">${dash(formatTime(r.timestamp))}</td><td class="key">${shown(r.key, form.format === 'json' ? 'text' : form.format)}</td><td class="headers">${r.headers.map((h) => html`<div><code>${h.key}</code>: ${h.value === null ? html`<span class="muted">null</span>` : html`<code>${formatValue(h.value, form.format === 'json' ? 'text' : form.format).text}</code>`}</div>`)}</td><td class="value">${shown(r.value, form.format)}</td></tr>`)}
</tbody></table>`
  : ''}`,
  );
}

export function problemPage(c: Chrome, message: string): Html {
  return layout(c, html`<p class="error" id="problem">${message}</p>`);
}
