// Metadata: live agents as brokers, and each requested topic (all of them for a null list, or an
// empty one at v0) with its partitions and their leaders. Every agent can lead any partition, so
// replicas = ISR = [leader] and nothing is ever offline.
//
// Unknown topics are auto-created when the request allows it (always before v4) and
// auto.create.topics.enable is on. Kafka answers LEADER_NOT_AVAILABLE on the response that triggered
// the creation and the client asks again; our topics are usable as soon as the row is committed, so
// we answer NONE with the full partition list and save clients that round trip.
import {
  ApiKey,
  API_INFO,
  ErrorCode,
  KafkaError,
  type ErrorCodeValue,
  type MetadataRequest,
  type MetadataResponseTopic,
} from '../../protocol/index.js';
import type { TopicRecord } from '../../metadata/types.js';
import {
  AUTHORIZED_OPERATIONS_OMITTED,
  CLUSTER_AUTHORIZED_OPERATIONS,
  TOPIC_AUTHORIZED_OPERATIONS,
  ZERO_UUID,
  autoCreateTopic,
  controllerIdOf,
  topicNameProblem,
} from '../topics.js';
import { AclOperation, ResourceType, allowedOnCluster, allowedTopic, authorizedOperations, clusterAuthorizedOperations } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';
import { endpointFor } from '../network/listeners.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.Metadata].validVersions;

function topicError(errorCode: ErrorCodeValue, name: string | null, topicId = ZERO_UUID): MetadataResponseTopic {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}

async function describeTopic(topic: TopicRecord, ctx: RequestContext, includeOps: boolean): Promise<MetadataResponseTopic> {
  const topicOps = includeOps ? authorizedOperations(ctx, ResourceType.TOPIC, topic.name, TOPIC_AUTHORIZED_OPERATIONS) : AUTHORIZED_OPERATIONS_OMITTED;
  const leaders = await ctx.broker.leaders(topic.name, topic.partitionCount);
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: false,
    partitions: leaders.map((l, partitionIndex) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex,
      leaderId: l.nodeId,
      leaderEpoch: l.leaderEpoch,
      replicaNodes: [l.nodeId],
      isrNodes: [l.nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: topicOps,
  };
}

/** A failure of one topic's lookup or creation becomes that topic's error; bugs are logged. */
function failedTopic(err: unknown, ctx: RequestContext, name: string | null, topicId?: string): MetadataResponseTopic {
  if (err instanceof KafkaError) return topicError(err.code, name, topicId);
  ctx.broker.log.error({ err, topic: name ?? topicId }, 'metadata lookup failed');
  return topicError(ErrorCode.UNKNOWN_SERVER_ERROR, name, topicId);
}

async function byName(name: string, autoCreate: boolean, ctx: RequestContext, topicOps: boolean): Promise<MetadataResponseTopic> {
  // Kafka: a topic the principal may not DESCRIBE is refused by name, before anything else.
  if (!allowedTopic(ctx, AclOperation.DESCRIBE, name)) return topicError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, name);
  if (topicNameProblem(name) !== undefined) return topicError(ErrorCode.INVALID_TOPIC_EXCEPTION, name);
  try {
    let topic = await ctx.broker.metadata.getTopic(name);
    if (topic === undefined) {
      if (!autoCreate) return topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name);
      // Auto-creation needs CREATE on the cluster or on the topic.
      if (!allowedOnCluster(ctx, AclOperation.CREATE) && !allowedTopic(ctx, AclOperation.CREATE, name)) {
        return topicError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, name);
      }
      topic = await autoCreateTopic(ctx.broker, name);
    }
    return await describeTopic(topic, ctx, topicOps);
  } catch (err) {
    return failedTopic(err, ctx, name);
  }
}

async function byId(topicId: string, ctx: RequestContext, topicOps: boolean): Promise<MetadataResponseTopic> {
  try {
    const topic = await ctx.broker.metadata.getTopicById(topicId);
    if (topic === undefined) return topicError(ErrorCode.UNKNOWN_TOPIC_ID, null, topicId);
    // Topic ids are not secret (Kafka answers so too); the name stays hidden.
    if (!allowedTopic(ctx, AclOperation.DESCRIBE, topic.name)) return topicError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, null, topicId);
    return await describeTopic(topic, ctx, topicOps);
  } catch (err) {
    return failedTopic(err, ctx, null, topicId);
  }
}

async function handle(req: MetadataRequest, ctx: RequestContext) {
  const v = ctx.apiVersion;
  const all = req.topics === null || (v === 0 && req.topics.length === 0);
  if (!all) {
    // As Kafka: names are required before v12, and ids only mean something from v12.
    for (const t of req.topics!) {
      if (v < 12 && t.name === null) throw new KafkaError(ErrorCode.INVALID_REQUEST, `topic name can not be null for version ${v}`);
      if (v < 12 && t.topicId !== undefined && t.topicId !== ZERO_UUID) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `topic ids are not supported in requests for version ${v}`);
      }
    }
  }
  const topicOps = v >= 8 && req.includeTopicAuthorizedOperations === true;
  const autoCreate = ctx.broker.config.autoCreateTopics && (v < 4 || req.allowAutoTopicCreation !== false);

  const brokersP = ctx.broker.brokers();
  let topics: Promise<MetadataResponseTopic[]>;
  if (all) {
    // All topics: those the principal may not DESCRIBE are left out, silently.
    topics = ctx.broker.metadata.listTopics().then((list) =>
      Promise.all(list.filter((t) => allowedTopic(ctx, AclOperation.DESCRIBE, t.name)).map((t) => describeTopic(t, ctx, topicOps).catch((err: unknown) => failedTopic(err, ctx, t.name, t.topicId)))),
    );
  } else {
    // A topic asked for twice is answered once, like Kafka's set of requested topics.
    const seen = new Set<string>();
    const lookups: Array<Promise<MetadataResponseTopic>> = [];
    for (const t of req.topics!) {
      const id = t.topicId !== undefined && t.topicId !== ZERO_UUID ? t.topicId.toLowerCase() : undefined;
      const key = id !== undefined ? `id:${id}` : `name:${t.name ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (id !== undefined) lookups.push(byId(id, ctx, topicOps));
      else if (t.name === null) lookups.push(Promise.resolve(topicError(ErrorCode.INVALID_REQUEST, null)));
      else lookups.push(byName(t.name, autoCreate, ctx, topicOps));
    }
    topics = Promise.all(lookups);
  }
  const [brokers, topicList] = await Promise.all([brokersP, topics]);
  return {
    throttleTimeMs: 0,
    brokers: brokers.map((b) => ({ nodeId: b.nodeId, ...endpointFor(b, ctx.conn.listener?.name), rack: b.rack })),
    clusterId: ctx.broker.clusterId,
    controllerId: controllerIdOf(brokers, ctx.broker.nodeId),
    topics: topicList,
    clusterAuthorizedOperations:
      v >= 8 && v <= 10 && req.includeClusterAuthorizedOperations
        ? clusterAuthorizedOperations(ctx, CLUSTER_AUTHORIZED_OPERATIONS)
        : AUTHORIZED_OPERATIONS_OMITTED,
  };
}

export const handler = defineHandler({
  apiKey: ApiKey.Metadata,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle,
  errorResponse(req, errorCode, ctx) {
    return {
      throttleTimeMs: 0,
      brokers: [],
      clusterId: ctx.broker.clusterId,
      controllerId: -1,
      // Names are not nullable before v12.
      topics: (req.topics ?? []).map((t) => topicError(errorCode, ctx.apiVersion >= 12 ? t.name : (t.name ?? ''), t.topicId ?? ZERO_UUID)),
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
});
