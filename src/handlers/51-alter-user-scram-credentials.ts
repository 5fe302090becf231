// AlterUserScramCredentials (v0, KIP-554): upserts carry the salted password (Hi(password, salt, i)),
// from which StoredKey and ServerKey are derived and stored; deletions remove one mechanism of a user.
// One result per user, as Kafka: any problem with one of a user's changes (unknown mechanism, too few
// or too many iterations, an empty name, the same user and mechanism twice, deleting what does not
// exist) fails all of that user's changes, and other users' changes still apply.
import { ApiKey, ErrorCode, KafkaError, type ErrorCodeValue } from '../../protocol/index.js';
import { checkUserName } from '../security/credentials.js';
import { MAX_ITERATIONS, MIN_ITERATIONS, keysFromSalted, mechanismById, type ScramMechanism, type StoredCredential } from '../security/scram.js';
import { AclOperation, allowedOnCluster } from '../security/authorize.js';
import { defineHandler } from './types.js';

interface Problem {
  errorCode: ErrorCodeValue;
  errorMessage: string;
}

export const handler = defineHandler({
  apiKey: ApiKey.AlterUserScramCredentials,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    // Kafka: ALTER on the cluster, else every user is answered CLUSTER_AUTHORIZATION_FAILED.
    if (!allowedOnCluster(ctx, AclOperation.ALTER)) {
      const users = [...new Set([...req.deletions.map((d) => d.name), ...req.upsertions.map((u) => u.name)])];
      return { throttleTimeMs: 0, results: users.map((user) => ({ user, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED as ErrorCodeValue, errorMessage: null })) };
    }
    const store = ctx.broker.credentials;
    if (store === undefined) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, 'credentials are not served here');
    const users: string[] = [];
    const problems = new Map<string, Problem>();
    const fail = (user: string, errorCode: ErrorCodeValue, errorMessage: string) => {
      if (!problems.has(user)) problems.set(user, { errorCode, errorMessage });
    };
    const seen = new Set<string>();
    const upserts: StoredCredential[] = [];
    const deletes: Array<{ user: string; mechanism: ScramMechanism }> = [];
    const visit = (user: string, mechanismId: number): ScramMechanism | undefined => {
      if (!users.includes(user)) users.push(user);
      const nameProblem = checkUserName(user);
      if (nameProblem !== undefined) return void fail(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, nameProblem);
      const mechanism = mechanismById(mechanismId);
      if (mechanism === undefined) return void fail(user, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
      const key = `${user}\u0000${mechanism}`;
      if (seen.has(key)) return void fail(user, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request');
      seen.add(key);
      return mechanism;
    };
    for (const d of req.deletions) {
      const mechanism = visit(d.name, d.mechanism);
      if (mechanism !== undefined) deletes.push({ user: d.name, mechanism });
    }
    for (const u of req.upsertions) {
      const mechanism = visit(u.name, u.mechanism);
      if (mechanism === undefined) continue;
      if (u.iterations < MIN_ITERATIONS) fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations');
      else if (u.iterations > MAX_ITERATIONS) fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations');
      else if (u.salt.length === 0 || u.salt.length > 1024) fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt must be 1 to 1024 bytes');
      else if (u.saltedPassword.length !== (mechanism === 'SCRAM-SHA-256' ? 32 : 64)) fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Salted password of ${mechanism} must be ${mechanism === 'SCRAM-SHA-256' ? 32 : 64} bytes`);
      else upserts.push({ user: u.name, mechanism, salt: Buffer.from(u.salt), iterations: u.iterations, ...keysFromSalted(mechanism, u.saltedPassword) });
    }
    // Deleting what does not exist fails that user's changes (checked before anything is written).
    for (const d of deletes) {
      if (problems.has(d.user)) continue;
      const existing = await store.credentials(d.user);
      if (!existing.some((c) => c.mechanism === d.mechanism)) fail(d.user, ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist');
    }
    for (const d of deletes) if (!problems.has(d.user)) await store.delete(d.user, d.mechanism);
    for (const u of upserts) if (!problems.has(u.user)) await store.upsert(u);
    if (deletes.length + upserts.length > 0) ctx.broker.log.info({ users: users.filter((u) => !problems.has(u)), principal: ctx.conn.principal }, 'SCRAM credentials altered');
    return {
      throttleTimeMs: 0,
      results: users.map((user) => {
        const p = problems.get(user);
        return { user, errorCode: p?.errorCode ?? ErrorCode.NONE, errorMessage: p?.errorMessage ?? null };
      }),
    };
  },
  errorResponse(req, errorCode) {
    const users = [...new Set([...req.deletions.map((d) => d.name), ...req.upsertions.map((u) => u.name)])];
    return { throttleTimeMs: 0, results: users.map((user) => ({ user, errorCode, errorMessage: null })) };
  },
});
