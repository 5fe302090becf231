// The handler registry: one module per Kafka API. The dispatcher routes by this list and ApiVersions
// advertises exactly these ranges.
import type { Handler } from './types.js';
import { apiVersionsHandler } from './18-api-versions.js';
import { handler as produce } from './00-produce.js';
import { handler as fetch } from './01-fetch.js';
import { handler as listOffsets } from './02-list-offsets.js';
import { handler as metadata } from './03-metadata.js';
import { handler as createTopics } from './19-create-topics.js';
import { handler as deleteTopics } from './20-delete-topics.js';
import { handler as deleteRecords } from './21-delete-records.js';
import { handler as initProducerId } from './22-init-producer-id.js';
import { handler as offsetForLeaderEpoch } from './23-offset-for-leader-epoch.js';
import { handler as createPartitions } from './37-create-partitions.js';
import { handler as describeConfigs } from './32-describe-configs.js';
import { handler as alterConfigs } from './33-alter-configs.js';
import { handler as incrementalAlterConfigs } from './44-incremental-alter-configs.js';
import { handler as describeCluster } from './60-describe-cluster.js';
import { handler as offsetCommit } from './08-offset-commit.js';
import { handler as offsetFetch } from './09-offset-fetch.js';
import { handler as findCoordinator } from './10-find-coordinator.js';
import { handler as joinGroup } from './11-join-group.js';
import { handler as heartbeat } from './12-heartbeat.js';
import { handler as leaveGroup } from './13-leave-group.js';
import { handler as syncGroup } from './14-sync-group.js';
import { handler as describeGroups } from './15-describe-groups.js';
import { handler as listGroups } from './16-list-groups.js';
import { handler as deleteGroups } from './42-delete-groups.js';
import { handler as offsetDelete } from './47-offset-delete.js';
import { handler as addPartitionsToTxn } from './24-add-partitions-to-txn.js';
import { handler as addOffsetsToTxn } from './25-add-offsets-to-txn.js';
import { handler as endTxn } from './26-end-txn.js';
import { handler as writeTxnMarkers } from './27-write-txn-markers.js';
import { handler as txnOffsetCommit } from './28-txn-offset-commit.js';
import { handler as describeTransactions } from './65-describe-transactions.js';
import { handler as listTransactions } from './66-list-transactions.js';
import { handler as saslHandshake } from './17-sasl-handshake.js';
import { handler as saslAuthenticate } from './36-sasl-authenticate.js';
import { handler as describeUserScramCredentials } from './50-describe-user-scram-credentials.js';
import { handler as alterUserScramCredentials } from './51-alter-user-scram-credentials.js';
import { handler as describeAcls } from './29-describe-acls.js';
import { handler as createAcls } from './30-create-acls.js';
import { handler as deleteAcls } from './31-delete-acls.js';

const handlers: Handler[] = [];
const apiVersions = apiVersionsHandler(() => handlers);

handlers.push(
  ...([
    produce,
    fetch,
    listOffsets,
    metadata,
    apiVersions,
    createTopics,
    deleteTopics,
    deleteRecords,
    initProducerId,
    offsetForLeaderEpoch,
    createPartitions,
    describeConfigs,
    alterConfigs,
    incrementalAlterConfigs,
    describeCluster,
    offsetCommit,
    offsetFetch,
    findCoordinator,
    joinGroup,
    heartbeat,
    leaveGroup,
    syncGroup,
    describeGroups,
    listGroups,
    deleteGroups,
    offsetDelete,
    addPartitionsToTxn,
    addOffsetsToTxn,
    endTxn,
    writeTxnMarkers,
    txnOffsetCommit,
    describeTransactions,
    listTransactions,
    saslHandshake,
    saslAuthenticate,
    describeUserScramCredentials,
    alterUserScramCredentials,
    describeAcls,
    createAcls,
    deleteAcls,
  ] as Handler[]),
);

export const HANDLERS: readonly Handler[] = handlers;
