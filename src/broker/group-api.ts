/**
 * The group coordinator as the broker core exposes it: the server's group handlers and the
 * embedded consumer call it directly. It runs on the main thread, hosted beside the supervisor.
 */
import type { GroupCoordinator } from '../actors/group-coordinator.js'

export type GroupCoordinatorApi = Pick<
  GroupCoordinator,
  | 'joinGroup'
  | 'syncGroup'
  | 'heartbeat'
  | 'leaveGroup'
  | 'commitOffsets'
  | 'fetchOffsets'
  | 'describeGroups'
  | 'listGroups'
  | 'deleteGroups'
>
