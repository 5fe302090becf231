// SASL mechanisms, the session state machine and the gate, without sockets: SCRAM-SHA-256 against the
// example exchange of RFC 7677, PLAIN against PLAIN and SCRAM credentials, Kafka's failure messages,
// and which requests the gate lets through in each state (time injected).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../../protocol/index.js';
import { encodeRequest } from '../../../protocol/index.js';
import { AuthenticationFailure, startExchange } from '../../../src/security/sasl/mechanisms.js';
import { FailedAuthentications, SaslSession, type SaslServerSettings } from '../../../src/security/sasl/session.js';
import { SaslGate } from '../../../src/security/sasl/gate.js';
import { plainCredential, scramCredential, type StoredCredential } from '../../../src/security/scram.js';
import { ANONYMOUS } from '../../../src/security/principal.js';
import { Turns } from '../../../src/network/turns.js';
import type { ConnectionInfo, FrameHandler } from '../../../src/network/server.js';
import { createLogger } from '../../../src/logger.js';

const lookupOf = (creds: StoredCredential[]) => ({ credentials: async (user: string) => creds.filter((c) => c.user === user) });

test('SCRAM-SHA-256: the example exchange of RFC 7677 (user "user", password "pencil")', async () => {
  const cred = scramCredential('user', 'SCRAM-SHA-256', 'pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
  const ex = startExchange('SCRAM-SHA-256', lookupOf([cred]), () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  const first = await ex.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  assert.equal(first.done, false);
  assert.equal(String(!first.done && first.challenge), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  const final = await ex.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
  assert.ok(final.done);
  assert.equal(final.done && final.user, 'user');
  assert.equal(String(final.done && final.response), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
});

test('SCRAM: a wrong proof, an unknown user, a foreign authzid or a delegation token fail with Kafka\'s messages', async () => {
  const cred = scramCredential('user', 'SCRAM-SHA-256', 'pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
  const generic = /^AuthenticationFailure: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256$/;
  const ex = startExchange('SCRAM-SHA-256', lookupOf([cred]), () => 'S');
  await ex.step(Buffer.from('n,,n=user,r=C'));
  await assert.rejects(ex.step(Buffer.from('c=biws,r=CS,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=')), (e: Error) => e instanceof AuthenticationFailure && generic.test(String(e)));
  await assert.rejects(startExchange('SCRAM-SHA-256', lookupOf([cred])).step(Buffer.from('n,,n=nobody,r=C')), generic);
  await assert.rejects(startExchange('SCRAM-SHA-512', lookupOf([cred])).step(Buffer.from('n,,n=user,r=C')), /SCRAM-SHA-512/, 'no credential of that mechanism');
  await assert.rejects(startExchange('SCRAM-SHA-256', lookupOf([cred])).step(Buffer.from('n,a=admin,n=user,r=C')), /authorization id that is different/);
  await assert.rejects(startExchange('SCRAM-SHA-256', lookupOf([cred])).step(Buffer.from('n,,n=user,r=C,tokenauth=true')), /delegation tokens/);
  await assert.rejects(startExchange('SCRAM-SHA-256', lookupOf([cred])).step(Buffer.from('p=tls-unique,,n=user,r=C')), generic, 'channel binding is not offered');
});

test('PLAIN checks a PLAIN hash or a SCRAM credential; Kafka\'s messages for the rest', async () => {
  const creds = [plainCredential('p', 'pw'), scramCredential('s', 'SCRAM-SHA-512', 'pw2')];
  const plain = (token: string) => startExchange('PLAIN', lookupOf(creds)).step(Buffer.from(token));
  assert.deepEqual(await plain('\u0000p\u0000pw'), { done: true, user: 'p', response: Buffer.alloc(0) });
  assert.equal(((await plain('s\u0000s\u0000pw2')) as { user: string }).user, 's');
  await assert.rejects(plain('\u0000p\u0000nope'), /^AuthenticationFailure: Authentication failed: Invalid username or password$/);
  await assert.rejects(plain('\u0000nobody\u0000pw'), /Invalid username or password/);
  await assert.rejects(plain('x\u0000p\u0000pw'), /authorization id that is different/);
  await assert.rejects(plain('\u0000p'), /expected 3 tokens/);
  await assert.rejects(plain('\u0000\u0000pw'), /username not specified/);
});

function fakeConn(securityProtocol: 'SASL_PLAINTEXT' | 'PLAINTEXT' = 'SASL_PLAINTEXT') {
  const conn = {
    id: 1,
    remoteAddress: '10.0.0.9',
    remotePort: 4242,
    principal: ANONYMOUS,
    listener: { name: securityProtocol, securityProtocol },
    appendTurns: new Turns(),
    closing: 0,
    closeAfterResponses() {
      this.closing++;
    },
  };
  return conn as ConnectionInfo & { closing: number };
}

const frame = (apiKey: number, version = 0) => Buffer.concat(encodeRequest(apiKey as never, version, 1, 't', {} as never).map((b) => Buffer.from(b))).subarray(4);

test('the gate: ApiVersions and SaslHandshake only before authentication; an expired session closes on anything but a re-authentication', async () => {
  let now = 1000;
  const log = createLogger('silent');
  const settings: SaslServerSettings = {
    mechanisms: ['PLAIN'],
    credentials: lookupOf([plainCredential('u', 'pw')]),
    reauthMs: 500,
    failures: new FailedAuthentications(log, 0),
    now: () => now,
    log,
  };
  const passed: number[] = [];
  const inner: FrameHandler = { handleFrame: (f) => (passed.push(f.readInt16BE(0)), []) };
  const gate = new SaslGate(inner, settings);

  const plaintext = fakeConn('PLAINTEXT');
  gate.handleFrame(frame(ApiKey.Metadata), plaintext);
  assert.deepEqual(passed, [ApiKey.Metadata], 'listeners without SASL are not gated');

  const c = fakeConn();
  assert.deepEqual(gate.handleFrame(frame(ApiKey.ApiVersions), c), []);
  assert.equal(gate.handleFrame(frame(ApiKey.Metadata), c), null);
  assert.equal(c.closing, 1, 'an unauthenticated request closes the connection');

  const d = fakeConn();
  const session = (d.sasl = new SaslSession(settings));
  assert.equal(session.handshake('PLAIN', 1), 0);
  assert.equal(gate.handleFrame(frame(ApiKey.Metadata), d), null, 'only SaslAuthenticate after the handshake');
  const e = fakeConn();
  const s2 = (e.sasl = new SaslSession(settings));
  s2.handshake('PLAIN', 1);
  const ok = await s2.authenticate(Buffer.from('\u0000u\u0000pw'), e);
  assert.deepEqual(ok, { ok: true, done: true, response: Buffer.alloc(0), sessionLifetimeMs: 500 });
  assert.equal(e.principal, 'User:u');
  passed.length = 0;
  gate.handleFrame(frame(ApiKey.Metadata), e);
  now += 500;
  gate.handleFrame(frame(ApiKey.SaslHandshake, 1), e);
  assert.deepEqual(passed, [ApiKey.Metadata, ApiKey.SaslHandshake], 'a handshake after expiry starts a re-authentication');
  e.sasl!.state = { kind: 'authenticated', principal: 'User:u', mechanism: 'PLAIN', expiresAt: now };
  assert.equal(gate.handleFrame(frame(ApiKey.Metadata), e), null);
  assert.equal(e.closing, 1, 'an expired session closes the connection');
});

test('failed authentications are delayed, up to a bound on how many wait at once', async () => {
  const log = createLogger('silent');
  const f = new FailedAuthentications(log, 50, Date.now, 1);
  const conn = fakeConn();
  const started = [Date.now()];
  const first = f.failed(conn, 'PLAIN', new AuthenticationFailure('x'));
  let secondDone = false;
  const second = f.failed(conn, 'PLAIN', new AuthenticationFailure('x')).then(() => (secondDone = true));
  await second;
  assert.equal(secondDone, true);
  let firstDone = false;
  void first.then(() => (firstDone = true));
  await Promise.resolve();
  assert.equal(firstDone, false, 'the first failure still waits while the second, over the bound, was answered');
  await first;
  assert.equal(f.count, 2);
  assert.ok(started.length === 1);
});
