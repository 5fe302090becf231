// `streamhouse configs` (broker settings and defaults, and every topic-level override) and
// `configs TOPIC` (every config of the topic with its effective value and where it comes from).
// Database: topic overrides as stored, defaults from the one table of topic configs (src/topics.ts);
// an agent's own settings (flags, environment) are not in the database: ask a broker for those.
// Broker: DescribeConfigs for the BROKER resource of one broker and for TOPIC resources.
import { ApiKey, ErrorCode, errorName } from '../../protocol/index.js';
import { ConfigResourceType, ConfigSource, TOPIC_CONFIGS, topicConfigEntries } from '../topics.js';
import { AdminError } from './errors.js';
import { formatTable } from './table.js';
import type { Target } from './target.js';

export interface ConfigEntry {
  name: string;
  value: string | null;
  /** "topic" (override), "default", "static-broker", "dynamic-broker"… */
  source: string;
}

export interface TopicConfigs {
  source: 'database' | 'broker';
  topic: string;
  configs: ConfigEntry[];
}

export interface ConfigOverview {
  source: 'database' | 'broker';
  /** The broker whose settings are listed (broker mode); null: the built-in defaults (database mode). */
  brokerNode: number | null;
  brokerConfigs: ConfigEntry[];
  topicOverrides: Array<{ topic: string; name: string; value: string | null }>;
}

const SOURCE_NAMES: Record<number, string> = {
  [ConfigSource.DYNAMIC_TOPIC_CONFIG]: 'topic',
  [ConfigSource.DYNAMIC_BROKER_CONFIG]: 'dynamic-broker',
  [ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG]: 'dynamic-default',
  [ConfigSource.STATIC_BROKER_CONFIG]: 'static-broker',
  [ConfigSource.DEFAULT_CONFIG]: 'default',
};
const sourceName = (s: number | undefined) => (s === undefined ? 'unknown' : (SOURCE_NAMES[s] ?? 'unknown'));
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

async function describe(target: Extract<Target, { kind: 'broker' }>, node: number | null, resources: Array<{ resourceType: number; resourceName: string }>) {
  const { client } = target;
  const v = client.version(ApiKey.DescribeConfigs);
  const body = { resources: resources.map((r) => ({ ...r, configurationKeys: null })), includeSynonyms: false, includeDocumentation: false };
  const conn = node === null ? undefined : await client.node(node);
  const res = conn ? await conn.request(ApiKey.DescribeConfigs, v, body) : await client.bootstrapRequest(ApiKey.DescribeConfigs, v, body);
  return res.results;
}

export async function topicConfigs(target: Target, topic: string): Promise<TopicConfigs> {
  if (target.kind === 'db') {
    const t = await target.store.getTopic(topic);
    if (t === undefined) throw new AdminError(`unknown topic "${topic}"`);
    return {
      source: 'database',
      topic,
      configs: topicConfigEntries(t.config).map((e) => ({ name: e.name, value: e.value, source: sourceName(e.source) })),
    };
  }
  const [r] = await describe(target, null, [{ resourceType: ConfigResourceType.TOPIC, resourceName: topic }]);
  if (r === undefined || r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new AdminError(`unknown topic "${topic}"`);
  if (r.errorCode !== ErrorCode.NONE) throw new AdminError(`configs of topic "${topic}": ${errorName(r.errorCode)}${r.errorMessage ? ` (${r.errorMessage})` : ''}`);
  return {
    source: 'broker',
    topic,
    configs: r.configs.map((c) => ({ name: c.name, value: c.value, source: c.configSource !== undefined ? sourceName(c.configSource) : c.isDefault ? 'default' : 'topic' })).sort(byName),
  };
}

export async function configOverview(target: Target): Promise<ConfigOverview> {
  if (target.kind === 'db') {
    const brokerConfigs: ConfigEntry[] = [];
    const seen = new Set<string>();
    for (const d of TOPIC_CONFIGS.values()) {
      if (d.brokerName === null || seen.has(d.brokerName)) continue;
      seen.add(d.brokerName);
      if (d.derivedFrom === undefined) brokerConfigs.push({ name: d.brokerName, value: d.default, source: 'default' });
      else if (!seen.has(d.derivedFrom.name)) {
        seen.add(d.derivedFrom.name);
        brokerConfigs.push({ name: d.derivedFrom.name, value: d.derivedFrom.value, source: 'default' });
      }
    }
    const topics = await target.store.listTopics();
    return {
      source: 'database',
      brokerNode: null,
      brokerConfigs: brokerConfigs.sort(byName),
      topicOverrides: topics.flatMap((t) => Object.entries(t.config).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, value]) => ({ topic: t.name, name, value }))),
    };
  }
  const md = await target.client.metadata(null);
  const broker = [...md.brokers].sort((a, b) => a.nodeId - b.nodeId)[0];
  if (broker === undefined) throw new AdminError('the cluster lists no brokers');
  const [b] = await describe(target, broker.nodeId, [{ resourceType: ConfigResourceType.BROKER, resourceName: String(broker.nodeId) }]);
  if (b === undefined || b.errorCode !== ErrorCode.NONE) {
    throw new AdminError(`configs of broker ${broker.nodeId}: ${errorName(b?.errorCode ?? -1)}${b?.errorMessage ? ` (${b.errorMessage})` : ''}`);
  }
  const names = md.topics.filter((t) => t.errorCode === ErrorCode.NONE && t.name !== null && !t.isInternal).map((t) => t.name!).sort();
  const results = names.length === 0 ? [] : await describe(target, null, names.map((resourceName) => ({ resourceType: ConfigResourceType.TOPIC, resourceName })));
  return {
    source: 'broker',
    brokerNode: broker.nodeId,
    brokerConfigs: b.configs.map((c) => ({ name: c.name, value: c.value, source: sourceName(c.configSource) })).sort(byName),
    topicOverrides: results
      .filter((r) => r.errorCode === ErrorCode.NONE)
      .sort((x, y) => (x.resourceName < y.resourceName ? -1 : 1))
      .flatMap((r) =>
        r.configs
          .filter((c) => (c.configSource !== undefined ? c.configSource === ConfigSource.DYNAMIC_TOPIC_CONFIG : !c.isDefault))
          .sort(byName)
          .map((c) => ({ topic: r.resourceName, name: c.name, value: c.value })),
      ),
  };
}

export function renderTopicConfigs(r: TopicConfigs): string {
  return formatTable(
    [
      { header: 'CONFIG', value: (c: ConfigEntry) => c.name },
      { header: 'VALUE', value: (c) => c.value },
      { header: 'SOURCE', value: (c) => c.source },
    ],
    r.configs,
  );
}

export function renderConfigOverview(r: ConfigOverview): string {
  const title = r.brokerNode === null ? 'Broker defaults (built in; an agent\'s own settings: ask it with --bootstrap-server)' : `Broker ${r.brokerNode}`;
  const broker = formatTable(
    [
      { header: 'CONFIG', value: (c: ConfigEntry) => c.name },
      { header: 'VALUE', value: (c) => c.value },
      { header: 'SOURCE', value: (c) => c.source },
    ],
    r.brokerConfigs,
  );
  const overrides = formatTable(
    [
      { header: 'TOPIC', value: (o: ConfigOverview['topicOverrides'][number]) => o.topic },
      { header: 'CONFIG', value: (o) => o.name },
      { header: 'VALUE', value: (o) => o.value },
    ],
    r.topicOverrides,
    { empty: '(no topic overrides)' },
  );
  return `${title}\n${broker}\n\nTopic overrides\n${overrides}`;
}
