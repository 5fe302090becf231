// Golden bytes captured from real clients (kafkajs 2.2.4, kcat/librdkafka 2.0.2, @platformatic/kafka)
// during produce, consume-with-group and topic admin (scripts/capture-golden.ts): every request decodes
// at its version, and re-encoding gives back the exact bytes; so does every response our agent sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_INFO, ApiKey, decodeRequest, decodeResponse, encodeRequest, encodeResponse, type ApiKeyValue } from '../../protocol/index.js';
import { fixturePath } from '../helpers/paths.js';

const root = fixturePath('golden');
const clients = readdirSync(root);

function frameOf(chunks: Buffer[]): Buffer {
  return Buffer.concat(chunks).subarray(4); // drop the size prefix
}

test('fixtures exist for every client and cover produce, fetch, groups and admin', () => {
  assert.deepEqual(clients.sort(), ['kafkajs', 'kcat', 'platformatic']);
  for (const client of clients) {
    const names = readdirSync(join(root, client)).filter((f) => !f.endsWith('.response.bin'));
    for (const key of ['00-Produce', '01-Fetch', '03-Metadata', '10-FindCoordinator', '11-JoinGroup', '14-SyncGroup', '08-OffsetCommit', '18-ApiVersions']) {
      assert.ok(names.some((n) => n.startsWith(key)), `${client} lacks ${key}`);
    }
  }
});

for (const client of clients) {
  for (const file of readdirSync(join(root, client)).filter((f) => !f.endsWith('.response.bin')).sort()) {
    test(`${client}: ${file} decodes and re-encodes byte for byte`, () => {
      const m = /^(\d+)-(\w+)-v(\d+)\.bin$/.exec(file)!;
      const [apiKey, name, version] = [Number(m[1]) as ApiKeyValue, m[2], Number(m[3])];
      assert.equal(API_INFO[apiKey].name, name);
      const frame = readFileSync(join(root, client, file));
      const req = decodeRequest(frame);
      assert.equal(req.apiKey, apiKey);
      assert.equal(req.apiVersion, version);
      const again = frameOf(encodeRequest(apiKey, version, req.header.correlationId, req.header.clientId ?? null, req.body as never));
      assert.deepEqual(again, frame);

      if (apiKey === ApiKey.Produce && req.apiKey === ApiKey.Produce) assert.equal(req.body.topicData[0].name, `golden-${client}`);
      if (apiKey === ApiKey.ApiVersions && req.apiKey === ApiKey.ApiVersions && version >= 3) assert.ok((req.body.clientSoftwareName ?? '').length > 0);

      const resFile = join(root, client, file.replace(/\.bin$/, '.response.bin'));
      let res: Buffer;
      try {
        res = readFileSync(resFile);
      } catch {
        return; // no response captured for this one
      }
      const decoded = decodeResponse(apiKey, version, res);
      assert.equal(decoded.header.correlationId, req.header.correlationId);
      assert.deepEqual(frameOf(encodeResponse(apiKey, version, decoded.header.correlationId, decoded.body as never)), res);
    });
  }
}
