// AlterConfigs (the legacy, non-incremental form): the configs given become the topic's whole set of
// overrides, so anything not named returns to its default. validateOnly checks without writing.
// The broker configs we report are read-only: changing one gets INVALID_REQUEST, which is what Kafka
// answers for configs that cannot be updated dynamically. Other names on a BROKER resource are
// accepted and change nothing: Kafka validates only the broker configs it knows and keeps the rest.
import {
  ApiKey,
  API_INFO,
  ErrorCode,
  KafkaError,
  type AlterConfigsRequest,
  type AlterConfigsRequestAlterConfigsResource,
  type AlterConfigsResponseAlterConfigsResourceResponse,
  type ErrorCodeValue,
} from '../../protocol/index.js';
import { alterConfigResource, duplicateResources, duplicates, resourceKey } from '../topics.js';
import { AclOperation, configResourceRefusal } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.AlterConfigs].validVersions;

type Resource = AlterConfigsRequestAlterConfigsResource;
type Result = AlterConfigsResponseAlterConfigsResourceResponse;

function result(r: Resource, errorCode: ErrorCodeValue, errorMessage: string | null = null): Result {
  return { errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName };
}

async function alter(r: Resource, validateOnly: boolean, ctx: RequestContext): Promise<Result> {
  const refused = configResourceRefusal(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName);
  if (refused) return result(r, refused.errorCode, refused.errorMessage);
  try {
    if (duplicates(r.configs.map((c) => c.name)).size > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys');
    const nulls = r.configs.filter((c) => c.value === null).map((c) => c.name);
    if (nulls.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`);
    await alterConfigResource(ctx.broker, r, r.configs.map((c) => c.name), () => Object.fromEntries(r.configs.map((c) => [c.name, c.value])), validateOnly);
    return result(r, ErrorCode.NONE);
  } catch (err) {
    if (err instanceof KafkaError) return result(r, err.code, err.message);
    ctx.broker.log.error({ err, resource: r.resourceName }, 'alter configs failed');
    return result(r, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

async function handle(req: AlterConfigsRequest, ctx: RequestContext) {
  const dup = duplicateResources(req.resources);
  const responses = await Promise.all(
    req.resources.map((r) =>
      dup.has(resourceKey(r)) ? result(r, ErrorCode.INVALID_REQUEST, 'Duplicate resource.') : alter(r, req.validateOnly, ctx),
    ),
  );
  return { throttleTimeMs: 0, responses };
}

export const handler = defineHandler({
  apiKey: ApiKey.AlterConfigs,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle,
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, responses: req.resources.map((r) => result(r, errorCode)) };
  },
});
