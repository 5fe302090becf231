// DescribeCluster (no ACL needed, as Kafka; the cluster's authorized operations are 0 without DESCRIBE on it): the live agents as brokers, the node we report as controller (the lowest live id,
// as in Metadata) and the cluster id. Agents are brokers, never controllers, so only the BROKER
// endpoint type (1) can be described.
import { ApiKey, API_INFO, ErrorCode, type DescribeClusterRequest, type ErrorCodeValue } from '../../protocol/index.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_AUTHORIZED_OPERATIONS, controllerIdOf } from '../topics.js';
import { clusterAuthorizedOperations } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';
import { endpointFor } from '../network/listeners.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.DescribeCluster].validVersions;

/** DescribeClusterRequest.endpointType */
const EndpointType = { BROKER: 1, CONTROLLER: 2 } as const;

function failure(ctx: RequestContext, errorCode: ErrorCodeValue, errorMessage: string | null = null) {
  return {
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    endpointType: EndpointType.BROKER,
    clusterId: ctx.broker.clusterId,
    controllerId: -1,
    brokers: [],
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

async function handle(req: DescribeClusterRequest, ctx: RequestContext) {
  const type = req.endpointType ?? EndpointType.BROKER;
  // Before v1 the field does not exist; Kafka answers such mismatches with INVALID_REQUEST there.
  if (type !== EndpointType.BROKER && type !== EndpointType.CONTROLLER) {
    return failure(ctx, ctx.apiVersion === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, `Unsupported endpoint type ${type}`);
  }
  if (type === EndpointType.CONTROLLER) {
    return failure(
      ctx,
      ctx.apiVersion === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.MISMATCHED_ENDPOINT_TYPE,
      'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER',
    );
  }
  const brokers = await ctx.broker.brokers();
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: EndpointType.BROKER,
    clusterId: ctx.broker.clusterId,
    controllerId: controllerIdOf(brokers, ctx.broker.nodeId),
    brokers: brokers.map((b) => ({ brokerId: b.nodeId, ...endpointFor(b, ctx.conn.listener?.name), rack: b.rack })),
    clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
      ? clusterAuthorizedOperations(ctx, CLUSTER_AUTHORIZED_OPERATIONS)
      : AUTHORIZED_OPERATIONS_OMITTED,
  };
}

export const handler = defineHandler({
  apiKey: ApiKey.DescribeCluster,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle,
  errorResponse(_req, errorCode, ctx) {
    return failure(ctx, errorCode);
  },
});
