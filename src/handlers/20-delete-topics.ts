// DeleteTopics: by name (v0-5 `topicNames`; v6 `topics` with a name) or by topic id (v6). Deleting
// the topic row removes its partitions, leases, segment index rows and committed offsets in the
// metadata store. The answer waits until every other live agent has confirmed that it dropped the
// topic (PostgreSQL: src/agent.ts, metadata/topic-changes.ts), so no agent serves it afterwards. The segment objects themselves are left in the object store: other partitions'
// data shares them, and the orphan cleaner removes objects no segment row refers to.
import {
  ApiKey,
  API_INFO,
  ErrorCode,
  KafkaError,
  type DeleteTopicsRequest,
  type DeleteTopicsResponseDeletableTopicResult,
  type ErrorCodeValue,
} from '../../protocol/index.js';
import { ZERO_UUID } from '../topics.js';
import { AclOperation, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.DeleteTopics].validVersions;

type Result = DeleteTopicsResponseDeletableTopicResult;

/** One entry of the request, whichever version it came in. */
interface Target {
  name: string | null;
  topicId: string;
}

function targets(req: DeleteTopicsRequest, version: number): Target[] {
  if (version >= 6) return (req.topics ?? []).map((t) => ({ name: t.name, topicId: t.topicId.toLowerCase() }));
  return (req.topicNames ?? []).map((name) => ({ name, topicId: ZERO_UUID }));
}

function result(t: Target, errorCode: ErrorCodeValue, errorMessage: string | null = null, version = 6): Result {
  // Names are not nullable before v6.
  return { name: version >= 6 ? t.name : (t.name ?? ''), topicId: t.topicId, errorCode, errorMessage };
}

async function deleteOne(t: Target, ctx: RequestContext): Promise<Result> {
  const v = ctx.apiVersion;
  try {
    let name = t.name;
    // Kafka: DELETE on the topic, checked before its existence; by id, an unknown id is UNKNOWN_TOPIC_ID
    // and the name of one the principal may not DESCRIBE stays hidden.
    if (t.topicId !== ZERO_UUID) {
      const topic = await ctx.broker.metadata.getTopicById(t.topicId);
      if (topic === undefined) return result(t, ErrorCode.UNKNOWN_TOPIC_ID, null, v);
      if (!allowedTopic(ctx, AclOperation.DESCRIBE, topic.name)) return result(t, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.', v);
      name = topic.name;
    }
    if (!allowedTopic(ctx, AclOperation.DELETE, name!)) return result({ name, topicId: t.topicId }, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.', v);
    const deleted = await ctx.broker.metadata.deleteTopic(name!);
    if (!deleted) {
      return t.topicId !== ZERO_UUID ? result(t, ErrorCode.UNKNOWN_TOPIC_ID, null, v) : result(t, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, v);
    }
    ctx.broker.partitions.forgetTopic(name!);
    // Answered only once no other agent serves the topic either (bounded: see topicChangeApplied).
    await ctx.broker.topicChangeApplied?.(name!);
    ctx.broker.log.info({ topic: name }, 'deleted topic');
    return result({ name, topicId: t.topicId }, ErrorCode.NONE, null, v);
  } catch (err) {
    if (err instanceof KafkaError) return result(t, err.code, err.message, v);
    ctx.broker.log.error({ err, topic: t.name ?? t.topicId }, 'delete topic failed');
    return result(t, ErrorCode.UNKNOWN_SERVER_ERROR, null, v);
  }
}

async function handle(req: DeleteTopicsRequest, ctx: RequestContext) {
  const v = ctx.apiVersion;
  const list = targets(req, v);
  const key = (t: Target) => (t.topicId !== ZERO_UUID ? `id:${t.topicId}` : `name:${t.name}`);
  const wellFormed = (t: Target) => (t.name === null) !== (t.topicId === ZERO_UUID);
  const counts = new Map<string, number>();
  for (const t of list) if (wellFormed(t)) counts.set(key(t), (counts.get(key(t)) ?? 0) + 1);
  const answered = new Set<string>();
  const out: Array<Result | Promise<Result>> = [];
  for (const t of list) {
    const k = key(t);
    if (t.name !== null && t.topicId !== ZERO_UUID) {
      out.push(result(t, ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.', v));
    } else if (t.name === null && t.topicId === ZERO_UUID) {
      out.push(result(t, ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.', v));
    } else if (counts.get(k)! > 1) {
      // Like Kafka: a repeated name or id is answered once with INVALID_REQUEST and not deleted.
      if (!answered.has(k)) out.push(result(t, ErrorCode.INVALID_REQUEST, t.name !== null ? 'Duplicate topic name.' : 'Duplicate topic id.', v));
      answered.add(k);
    } else {
      out.push(deleteOne(t, ctx));
    }
  }
  return { throttleTimeMs: 0, responses: await Promise.all(out) };
}

export const handler = defineHandler({
  apiKey: ApiKey.DeleteTopics,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle,
  errorResponse(req, errorCode, ctx) {
    return { throttleTimeMs: 0, responses: targets(req, ctx.apiVersion).map((t) => result(t, errorCode, null, ctx.apiVersion)) };
  },
});
