/**
 * DescribeCluster v0-1 (KIP-700): the cluster id, the controller as clients see it and every
 * broker's endpoint, from this broker's metadata image, as Metadata reports them. v1 (KIP-919)
 * names the endpoint type: a broker answers for brokers (1) only; asking it for controllers (2) is
 * MISMATCHED_ENDPOINT_TYPE, anything else UNSUPPORTED_ENDPOINT_TYPE, as Kafka's brokers answer.
 * Authorized operations are not computed (no ACLs), which Kafka reports as INT32_MIN.
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

const ENDPOINT_BROKERS = 1
const ENDPOINT_CONTROLLERS = 2
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648

export const describeClusterHandler = defineHandler({
  apiKey: ApiKey.DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request, version) {
    const endpointType = version >= 1 ? request.endpointType : ENDPOINT_BROKERS
    if (endpointType !== ENDPOINT_BROKERS) {
      const mismatched = endpointType === ENDPOINT_CONTROLLERS
      return {
        throttleTimeMs: 0,
        errorCode: mismatched ? ErrorCode.MISMATCHED_ENDPOINT_TYPE : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: mismatched
          ? 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER'
          : `Unsupported endpoint type ${endpointType}`,
        endpointType,
        clusterId: '',
        controllerId: -1,
        brokers: [],
        clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      }
    }
    const cluster = await ctx.core.metadata([], false)
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType,
      clusterId: cluster.clusterId,
      controllerId: cluster.controllerId,
      brokers: cluster.brokers.map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    }
  },
})
