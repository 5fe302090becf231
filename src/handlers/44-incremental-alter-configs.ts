// IncrementalAlterConfigs: SET / DELETE / APPEND / SUBTRACT applied to a topic's current overrides,
// then the result is validated as a whole and written (unless validateOnly). APPEND and SUBTRACT only
// work on LIST configs (cleanup.policy) and start from the default when the config is unset. The broker
// configs we report are read-only (INVALID_REQUEST, as Kafka answers for configs it cannot change
// dynamically); other names on a BROKER resource are accepted and unused, as Kafka keeps them.
import {
  ApiKey,
  API_INFO,
  ErrorCode,
  KafkaError,
  type ErrorCodeValue,
  type IncrementalAlterConfigsRequest,
  type IncrementalAlterConfigsRequestAlterConfigsResource,
  type IncrementalAlterConfigsResponseAlterConfigsResourceResponse,
} from '../../protocol/index.js';
import {
  ConfigOperation,
  TOPIC_CONFIGS,
  alterConfigResource,
  duplicateResources,
  duplicates,
  isListConfig,
  resourceKey,
} from '../topics.js';
import { AclOperation, configResourceRefusal } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.IncrementalAlterConfigs].validVersions;

type Resource = IncrementalAlterConfigsRequestAlterConfigsResource;
type Result = IncrementalAlterConfigsResponseAlterConfigsResourceResponse;

const OPERATION_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'];

function result(r: Resource, errorCode: ErrorCodeValue, errorMessage: string | null = null): Result {
  return { errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName };
}

/** The new overrides after applying the operations in order to `current`. */
function apply(current: Readonly<Record<string, string>>, r: Resource): Record<string, string> {
  const next: Record<string, string> = { ...current };
  for (const c of r.configs) {
    switch (c.configOperation) {
      case ConfigOperation.SET:
        next[c.name] = c.value!;
        break;
      case ConfigOperation.DELETE:
        delete next[c.name];
        break;
      case ConfigOperation.APPEND:
      case ConfigOperation.SUBTRACT: {
        if (!isListConfig(c.name)) {
          const op = OPERATION_NAMES[c.configOperation];
          const what = TOPIC_CONFIGS.has(c.name) ? 'its type is not LIST' : 'it is not a known topic config';
          throw new KafkaError(ErrorCode.INVALID_CONFIG, `Can't ${op} to key ${c.name} because ${what}.`);
        }
        const old = next[c.name] ?? TOPIC_CONFIGS.get(c.name)!.default;
        const items = old === '' ? [] : old.split(',');
        const given = c.value!.split(',').map((x) => x.trim());
        const out = c.configOperation === ConfigOperation.APPEND ? [...items, ...given.filter((x) => !items.includes(x))] : items.filter((x) => !given.includes(x));
        next[c.name] = out.join(',');
        break;
      }
    }
  }
  return next;
}

async function alter(r: Resource, validateOnly: boolean, ctx: RequestContext): Promise<Result> {
  const refused = configResourceRefusal(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName);
  if (refused) return result(r, refused.errorCode, refused.errorMessage);
  try {
    if (duplicates(r.configs.map((c) => c.name)).size > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys');
    const bad = r.configs.find((c) => !Object.values(ConfigOperation).includes(c.configOperation as never));
    if (bad !== undefined) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown operations type ${bad.configOperation}`);
    const nulls = r.configs.filter((c) => c.value === null && c.configOperation !== ConfigOperation.DELETE).map((c) => c.name);
    if (nulls.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`);
    await alterConfigResource(ctx.broker, r, r.configs.map((c) => c.name), (current) => apply(current, r), validateOnly);
    return result(r, ErrorCode.NONE);
  } catch (err) {
    if (err instanceof KafkaError) return result(r, err.code, err.message);
    ctx.broker.log.error({ err, resource: r.resourceName }, 'incremental alter configs failed');
    return result(r, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

async function handle(req: IncrementalAlterConfigsRequest, ctx: RequestContext) {
  const dup = duplicateResources(req.resources);
  const responses = await Promise.all(
    req.resources.map((r) => (dup.has(resourceKey(r)) ? result(r, ErrorCode.INVALID_REQUEST, 'Duplicate resource.') : alter(r, req.validateOnly, ctx))),
  );
  return { throttleTimeMs: 0, responses };
}

export const handler = defineHandler({
  apiKey: ApiKey.IncrementalAlterConfigs,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle,
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, responses: req.resources.map((r) => result(r, errorCode)) };
  },
});
