// CreatePartitions: grows a topic to `count` partitions (never shrinks it). A manual assignment must
// name one consistent replica list per new partition, as in Kafka; beyond that check it is unused,
// since partition leadership follows leases. Existing data keeps its partitions: as in Kafka, keyed
// records may map to a different partition afterwards.
import {
  ApiKey,
  API_INFO,
  ErrorCode,
  KafkaError,
  type CreatePartitionsRequest,
  type CreatePartitionsRequestCreatePartitionsTopic,
  type CreatePartitionsResponseCreatePartitionsTopicResult,
  type ErrorCodeValue,
} from '../../protocol/index.js';
import { MAX_PARTITIONS_PER_TOPIC, checkReplicaAssignment } from '../topics.js';
import { AclOperation, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.CreatePartitions].validVersions;

type Result = CreatePartitionsResponseCreatePartitionsTopicResult;

function result(name: string, errorCode: ErrorCodeValue, errorMessage: string | null = null): Result {
  return { name, errorCode, errorMessage };
}

async function grow(t: CreatePartitionsRequestCreatePartitionsTopic, validateOnly: boolean, ctx: RequestContext, liveBrokers: ReadonlySet<number>): Promise<Result> {
  // Kafka: ALTER on the topic, before its existence is checked.
  if (!allowedTopic(ctx, AclOperation.ALTER, t.name)) return result(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.');
  try {
    const topic = await ctx.broker.metadata.getTopic(t.name);
    if (topic === undefined) return result(t.name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.');
    const current = topic.partitionCount;
    if (t.count === current) return result(t.name, ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`);
    if (t.count < current) {
      return result(t.name, ErrorCode.INVALID_PARTITIONS, `The topic ${t.name} currently has ${current} partition(s); ${t.count} would not be an increase.`);
    }
    if (t.count > MAX_PARTITIONS_PER_TOPIC) {
      return result(t.name, ErrorCode.INVALID_PARTITIONS, `Number of partitions ${t.count} is above the limit of ${MAX_PARTITIONS_PER_TOPIC}.`);
    }
    const additional = t.count - current;
    if (t.assignments !== null) {
      if (t.assignments.length !== additional) {
        return result(
          t.name,
          ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          `Attempted to add ${additional} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`,
        );
      }
      let size: number | undefined;
      for (const a of t.assignments) {
        checkReplicaAssignment(a.brokerIds, size, liveBrokers);
        size = a.brokerIds.length;
      }
    }
    if (!validateOnly) {
      await ctx.broker.metadata.addPartitions(t.name, t.count);
      ctx.broker.log.info({ topic: t.name, from: current, to: t.count }, 'added partitions');
    }
    return result(t.name, ErrorCode.NONE);
  } catch (err) {
    if (err instanceof KafkaError) return result(t.name, err.code, err.message);
    ctx.broker.log.error({ err, topic: t.name }, 'create partitions failed');
    return result(t.name, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

async function handle(req: CreatePartitionsRequest, ctx: RequestContext) {
  const counts = new Map<string, number>();
  for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  const needBrokers = req.topics.some((t) => t.assignments !== null);
  const liveBrokers = new Set(needBrokers ? (await ctx.broker.brokers()).map((b) => b.nodeId) : []);
  const answered = new Set<string>();
  const out: Array<Result | Promise<Result>> = [];
  for (const t of req.topics) {
    if (counts.get(t.name)! > 1) {
      if (!answered.has(t.name)) out.push(result(t.name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
      answered.add(t.name);
      continue;
    }
    out.push(grow(t, req.validateOnly, ctx, liveBrokers));
  }
  return { throttleTimeMs: 0, results: await Promise.all(out) };
}

export const handler = defineHandler({
  apiKey: ApiKey.CreatePartitions,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle,
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, results: req.topics.map((t) => result(t.name, errorCode)) };
  },
});
