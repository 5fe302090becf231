// DescribeUserScramCredentials (v0, KIP-554): each user's SCRAM mechanisms and iteration counts (never
// salts or keys), from the user_credentials table. Null or empty users = every user with a SCRAM
// credential; PLAIN-only rows are not SCRAM credentials and are not shown. Kafka's errors: a user named
// twice is DUPLICATE_RESOURCE, a user without SCRAM credentials RESOURCE_NOT_FOUND.
import { ApiKey, ErrorCode, KafkaError } from '../../protocol/index.js';
import { MECHANISM_IDS, type ScramMechanism } from '../security/scram.js';
import { AclOperation, allowedOnCluster } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.DescribeUserScramCredentials,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    if (!allowedOnCluster(ctx, AclOperation.DESCRIBE)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, results: [] };
    const store = ctx.broker.credentials;
    if (store === undefined) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, 'credentials are not served here');
    const scram = (await store.list()).filter((c) => c.mechanism !== 'PLAIN');
    const byUser = new Map<string, Array<{ mechanism: number; iterations: number }>>();
    for (const c of scram) {
      let infos = byUser.get(c.user);
      if (infos === undefined) byUser.set(c.user, (infos = []));
      infos.push({ mechanism: MECHANISM_IDS[c.mechanism as ScramMechanism], iterations: c.iterations });
    }
    const names = req.users === null || req.users.length === 0 ? [...byUser.keys()] : req.users.map((u) => u.name);
    const counts = new Map<string, number>();
    for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
    const seen = new Set<string>();
    const results = [];
    for (const user of names) {
      if (seen.has(user)) continue;
      seen.add(user);
      if (counts.get(user)! > 1) {
        results.push({ user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`, credentialInfos: [] });
      } else if (!byUser.has(user)) {
        results.push({ user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `Attempt to describe a user credential that does not exist: ${user}`, credentialInfos: [] });
      } else {
        results.push({ user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: byUser.get(user)! });
      }
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, errorMessage: null, results: [] };
  },
});
