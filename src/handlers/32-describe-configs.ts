// DescribeConfigs for TOPIC and BROKER resources. A topic lists every supported config with its
// effective value: DYNAMIC_TOPIC_CONFIG when set on the topic, DEFAULT_CONFIG otherwise (no topic
// default is a broker setting here). The broker lists our settings under Kafka's names (read-only,
// STATIC_BROKER_CONFIG when set by a flag or the environment) plus the broker defaults of the topic
// configs. An empty or null configurationKeys list means every config, as in Kafka.
import {
  ApiKey,
  API_INFO,
  ErrorCode,
  KafkaError,
  type DescribeConfigsRequest,
  type DescribeConfigsRequestDescribeConfigsResource,
  type DescribeConfigsResponseDescribeConfigsResourceResult,
  type DescribeConfigsResponseDescribeConfigsResult,
  type DescribeConfigsResponseDescribeConfigsSynonym,
  type ErrorCodeValue,
} from '../../protocol/index.js';
import {
  ConfigResourceType,
  ConfigSource,
  ConfigType,
  assertTopicName,
  brokerConfigEntries,
  brokerResourceProblem,
  topicConfigEntries,
} from '../topics.js';
import { AclOperation, configResourceRefusal } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.DescribeConfigs].validVersions;

type Entry = DescribeConfigsResponseDescribeConfigsResourceResult;
type Result = DescribeConfigsResponseDescribeConfigsResult;

function failure(r: DescribeConfigsRequestDescribeConfigsResource, errorCode: ErrorCodeValue, errorMessage: string | null = null): Result {
  return { errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] };
}

interface Described {
  name: string;
  value: string | null;
  source: number;
  readOnly: boolean;
  type: keyof typeof ConfigType;
  doc: string;
  synonyms: DescribeConfigsResponseDescribeConfigsSynonym[];
}

function entry(d: Described, req: DescribeConfigsRequest, version: number): Entry {
  return {
    name: d.name,
    value: d.value,
    readOnly: d.readOnly,
    isDefault: d.source === ConfigSource.DEFAULT_CONFIG,
    configSource: d.source,
    isSensitive: false,
    synonyms: version >= 1 && req.includeSynonyms ? d.synonyms : [],
    configType: ConfigType[d.type],
    documentation: version >= 3 && req.includeDocumentation ? d.doc : null,
  };
}

async function describeTopic(r: DescribeConfigsRequestDescribeConfigsResource, ctx: RequestContext): Promise<Described[]> {
  assertTopicName(r.resourceName);
  const topic = await ctx.broker.metadata.getTopic(r.resourceName);
  if (topic === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${r.resourceName} does not exist.`);
  return topicConfigEntries(topic.config).map((e) => {
    // Most specific first, as Kafka lists synonyms: the topic override, then the broker default. Kafka
    // lists broker synonyms from the topic config's own broker name on: when that one is unset (the
    // default comes from a coarser config, log.retention.hours for log.retention.ms), none.
    const synonyms: DescribeConfigsResponseDescribeConfigsSynonym[] = [];
    if (e.source === ConfigSource.DYNAMIC_TOPIC_CONFIG) synonyms.push({ name: e.name, value: e.value, source: e.source });
    if (e.def.brokerName !== null && e.def.derivedFrom === undefined) synonyms.push({ name: e.def.brokerName, value: e.def.default, source: ConfigSource.DEFAULT_CONFIG });
    return { name: e.name, value: e.value, source: e.source, readOnly: false, type: e.def.type, doc: e.def.doc, synonyms };
  });
}

function describeBroker(r: DescribeConfigsRequestDescribeConfigsResource, ctx: RequestContext): Described[] {
  const problem = brokerResourceProblem(r.resourceName, ctx.broker.nodeId);
  if (problem !== undefined) throw new KafkaError(ErrorCode.INVALID_REQUEST, problem);
  // The empty name asks for cluster-wide dynamic defaults, and there are none.
  if (r.resourceName === '') return [];
  return brokerConfigEntries(ctx.broker).map((e) => ({
    name: e.name,
    value: e.value,
    source: e.source,
    readOnly: true,
    type: e.type,
    doc: e.doc,
    synonyms: [{ name: e.name, value: e.value, source: e.source }],
  }));
}

async function describe(r: DescribeConfigsRequestDescribeConfigsResource, req: DescribeConfigsRequest, ctx: RequestContext): Promise<Result> {
  const refused = configResourceRefusal(ctx, AclOperation.DESCRIBE_CONFIGS, r.resourceType, r.resourceName);
  if (refused) return failure(r, refused.errorCode, refused.errorMessage);
  try {
    let all: Described[];
    if (r.resourceType === ConfigResourceType.TOPIC) all = await describeTopic(r, ctx);
    else if (r.resourceType === ConfigResourceType.BROKER) all = describeBroker(r, ctx);
    else return failure(r, ErrorCode.INVALID_REQUEST, `Unsupported resource type: ${r.resourceType}`);
    const keys = r.configurationKeys === null || r.configurationKeys.length === 0 ? undefined : new Set(r.configurationKeys);
    const configs = all.filter((d) => keys === undefined || keys.has(d.name)).map((d) => entry(d, req, ctx.apiVersion));
    return { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs };
  } catch (err) {
    if (err instanceof KafkaError) return failure(r, err.code, err.message);
    ctx.broker.log.error({ err, resource: r.resourceName }, 'describe configs failed');
    return failure(r, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

export const handler = defineHandler({
  apiKey: ApiKey.DescribeConfigs,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  async handle(req, ctx) {
    return { throttleTimeMs: 0, results: await Promise.all(req.resources.map((r) => describe(r, req, ctx))) };
  },
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, results: req.resources.map((r) => failure(r, errorCode)) };
  },
});
