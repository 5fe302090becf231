// CreateTopics: each topic is checked (name, partition count, replication factor, manual assignment,
// configs) and created with one metadata insert; validateOnly stops after the checks. Creation is
// synchronous, so timeoutMs is never reached.
//
// Differences from Kafka, because storage is not replicated by brokers:
// - any positive replication factor is accepted (Kafka rejects one above the broker count); it is
//   echoed in the v5+ response but not stored, and Metadata always shows replicas = [leader];
// - a manual assignment is checked for consistency (contiguous partitions, one non-empty replica
//   list each of the same size, no repeated broker, only live brokers) and then only its partition
//   count is used: leadership follows partition leases.
import {
  ApiKey,
  API_INFO,
  ErrorCode,
  KafkaError,
  type CreateTopicsRequest,
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsResponseCreatableTopicResult,
  type ErrorCodeValue,
} from '../../protocol/index.js';
import {
  MAX_PARTITIONS_PER_TOPIC,
  checkReplicaAssignment,
  ZERO_UUID,
  retentionMsColumn,
  topicConfigEntries,
  topicNameProblem,
  validateTopicConfig,
} from '../topics.js';
import { AclOperation, allowedOnCluster, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.CreateTopics].validVersions;
/** default.replication.factor */
const DEFAULT_REPLICATION_FACTOR = 1;

type Result = CreateTopicsResponseCreatableTopicResult;

function failure(name: string, errorCode: ErrorCodeValue, errorMessage: string | null = null): Result {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: [] };
}

/** Partition count and replication factor of a valid request entry; throws KafkaError otherwise. */
function layout(t: CreateTopicsRequestCreatableTopic, ctx: RequestContext, liveBrokers: ReadonlySet<number>): { partitions: number; replicationFactor: number } {
  if (t.assignments.length > 0) {
    if (t.replicationFactor !== -1) {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.');
    }
    if (t.numPartitions !== -1) {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.');
    }
    const seen = new Set<number>();
    let rf: number | undefined;
    for (const a of t.assignments) {
      if (seen.has(a.partitionIndex)) {
        throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Found multiple manual partition assignments for partition ${a.partitionIndex}`);
      }
      seen.add(a.partitionIndex);
      checkReplicaAssignment(a.brokerIds, rf, liveBrokers);
      rf = a.brokerIds.length;
    }
    for (let i = 0; i < seen.size; i++) {
      if (!seen.has(i)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence');
    }
    return { partitions: t.assignments.length, replicationFactor: rf! };
  }
  if (t.replicationFactor < -1 || t.replicationFactor === 0) {
    throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.');
  }
  if (t.numPartitions < -1 || t.numPartitions === 0) {
    throw new KafkaError(ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.');
  }
  const partitions = t.numPartitions === -1 ? ctx.broker.config.numPartitions : t.numPartitions;
  return { partitions, replicationFactor: t.replicationFactor === -1 ? DEFAULT_REPLICATION_FACTOR : t.replicationFactor };
}

async function createOne(t: CreateTopicsRequestCreatableTopic, validateOnly: boolean, ctx: RequestContext, liveBrokers: ReadonlySet<number>, clusterCreate: boolean): Promise<Result> {
  // Kafka: CREATE on the cluster, or on the topic; checked before anything else about the topic.
  if (!clusterCreate && !allowedTopic(ctx, AclOperation.CREATE, t.name)) return failure(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.');
  const nameProblem = topicNameProblem(t.name);
  if (nameProblem !== undefined) return failure(t.name, ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  let partitions: number;
  let replicationFactor: number;
  let config: Record<string, string>;
  try {
    ({ partitions, replicationFactor } = layout(t, ctx, liveBrokers));
    if (partitions > MAX_PARTITIONS_PER_TOPIC) {
      return failure(t.name, ErrorCode.INVALID_PARTITIONS, `Number of partitions ${partitions} is above the limit of ${MAX_PARTITIONS_PER_TOPIC}.`);
    }
    const nulls = t.configs.filter((c) => c.value === null).map((c) => c.name);
    if (nulls.length > 0) return failure(t.name, ErrorCode.INVALID_CONFIG, `Null value not supported for topic configs: ${nulls.join(',')}`);
    // Later entries for one name win, as in Kafka's map of requested configs.
    const requested: Record<string, string> = {};
    for (const c of t.configs) requested[c.name] = c.value!;
    config = validateTopicConfig(requested);
  } catch (err) {
    if (err instanceof KafkaError) return failure(t.name, err.code, err.message);
    throw err;
  }

  let topicId = ZERO_UUID;
  try {
    if (validateOnly) {
      if ((await ctx.broker.metadata.getTopic(t.name)) !== undefined) {
        return failure(t.name, ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`);
      }
    } else {
      const created = await ctx.broker.metadata.createTopic({ name: t.name, partitionCount: partitions, retentionMs: retentionMsColumn(config), config });
      topicId = created.topicId;
      ctx.broker.log.info({ topic: t.name, partitions }, 'created topic');
    }
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    const message = err.code === ErrorCode.TOPIC_ALREADY_EXISTS ? `Topic '${t.name}' already exists.` : err.message;
    return failure(t.name, err.code, message);
  }
  // The configs are shown only to a principal that may DESCRIBE_CONFIGS the topic (Kafka, v5+).
  if (!allowedTopic(ctx, AclOperation.DESCRIBE_CONFIGS, t.name)) {
    return { name: t.name, topicId, errorCode: ErrorCode.NONE, errorMessage: null, topicConfigErrorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, numPartitions: -1, replicationFactor: -1, configs: [] };
  }
  return {
    name: t.name,
    topicId,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: partitions,
    replicationFactor,
    configs: topicConfigEntries(config).map((e) => ({ name: e.name, value: e.value, readOnly: false, configSource: e.source, isSensitive: false })),
  };
}

async function handle(req: CreateTopicsRequest, ctx: RequestContext) {
  const counts = new Map<string, number>();
  for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  const needBrokers = req.topics.some((t) => t.assignments.length > 0);
  const liveBrokers = new Set(needBrokers ? (await ctx.broker.brokers()).map((b) => b.nodeId) : []);
  const validateOnly = ctx.apiVersion >= 1 && req.validateOnly === true;
  const clusterCreate = allowedOnCluster(ctx, AclOperation.CREATE);
  const answered = new Set<string>();
  const topics: Result[] = [];
  const work: Array<Promise<void>> = [];
  for (const t of req.topics) {
    if (counts.get(t.name)! > 1) {
      // Kafka answers a repeated name once, with INVALID_REQUEST, and creates nothing for it.
      if (!answered.has(t.name)) topics.push(failure(t.name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
      answered.add(t.name);
      continue;
    }
    const slot = topics.push(failure(t.name, ErrorCode.UNKNOWN_SERVER_ERROR)) - 1;
    work.push(
      createOne(t, validateOnly, ctx, liveBrokers, clusterCreate).then(
        (r) => {
          topics[slot] = r;
        },
        (err: unknown) => {
          ctx.broker.log.error({ err, topic: t.name }, 'create topic failed');
        },
      ),
    );
  }
  await Promise.all(work);
  return { throttleTimeMs: 0, topics };
}

export const handler = defineHandler({
  apiKey: ApiKey.CreateTopics,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle,
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, topics: req.topics.map((t) => failure(t.name, errorCode)) };
  },
});
