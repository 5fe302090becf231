// The web console in a real browser, on both configurations: an agent with real topics (records with keys, headers
// and JSON values, produced by kafkajs), a consumer group that committed and then lags, and every page
// loaded in headless Chromium (Debian's, driven by playwright-core) with assertions on what it shows.
// Screenshots go to test-artifacts/console/<configuration>/ (git-ignored); with
// STREAMHOUSE_UPDATE_DOCS_SCREENSHOT=1, or when it is missing, the embedded overview is also copied to docs/console.png for the README. A hostile key,
// value, header and group id must show as text and run nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Page } from 'playwright-core';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { startChromium, type BrowserHandle } from '../helpers/browser.js';
import { projectRoot } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;

const T0 = Date.now() - 120_000;
const HOSTILE = {
  key: '<script>window.__pwned = 1</script>',
  value: '<img src=x onerror="window.__pwned = 2">',
  headerKey: '"><svg onload="window.__pwned = 3">',
  headerValue: '</code><script>window.__pwned = 4</script>',
  group: '<script>window.__pwned=5</script>&amp;',
};

for (const backendName of BACKENDS) describe(`web console in Chromium (${backendName})`, () => {
  const ARTIFACTS = join(projectRoot(), 'test-artifacts', 'console', backendName.replace('+', '-'));
  let backend: Backend;
  let agent: AgentHandle;
  let chromium: BrowserHandle;
  let page: Page;
  const dialogs: string[] = [];
  const failedRequests: string[] = [];
  let kafka: InstanceType<typeof Kafka>;

  const url = (path: string) => `${agent.httpUrl}${path}`;
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const cellTexts = (selector: string) => page.locator(selector).allTextContents();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    backend = await startBackend(backendName);
    agent = await startAgent({ env: backend.env, args: ['--num-partitions', '1', '--console-sample-ms', '500'] });
    kafka = new Kafka({ clientId: 'console-test', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: 'orders', numPartitions: 3 }, { topic: 'payments', numPartitions: 1 }, { topic: 'hostile-topic', numPartitions: 1 }],
    });
    const producer = kafka.producer();
    await producer.connect();
    // orders: 30 records, i on partition i % 3 (offset i / 3), timestamps one second apart.
    await producer.send({
      topic: 'orders',
      messages: Array.from({ length: 30 }, (_, i) => ({
        partition: i % 3,
        key: `order-${i}`,
        value: JSON.stringify({ id: i, item: 'widget', price: 2.5 * i }),
        headers: { source: 'console-test', 'trace-id': `trace-${i}` },
        timestamp: String(T0 + i * 1000),
      })),
    });
    await producer.send({ topic: 'payments', messages: Array.from({ length: 5 }, (_, i) => ({ key: `p${i}`, value: `payment ${i}` })) });
    await producer.send({ topic: 'hostile-topic', messages: [{ key: HOSTILE.key, value: HOSTILE.value, headers: { [HOSTILE.headerKey]: HOSTILE.headerValue } }] });

    // The group reads everything and commits (10 on each partition), then falls behind by 4 per partition.
    const consumer = kafka.consumer({ groupId: 'billing' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    let seen = 0;
    await consumer.run({ eachMessage: async () => void seen++ });
    await waitFor('billing consumed orders', () => seen >= 30, 60_000);
    await waitFor('billing committed', async () => {
      const [t] = await admin.fetchOffsets({ groupId: 'billing', topics: ['orders'] });
      return t!.partitions.every((p) => p.offset === '10');
    }, 60_000);
    await consumer.disconnect();
    const hostileConsumer = kafka.consumer({ groupId: HOSTILE.group });
    await hostileConsumer.connect();
    await hostileConsumer.subscribe({ topic: 'hostile-topic', fromBeginning: true });
    let hostileSeen = 0;
    await hostileConsumer.run({ eachMessage: async () => void hostileSeen++ });
    await waitFor('hostile group consumed', () => hostileSeen >= 1, 60_000);
    await hostileConsumer.disconnect();
    // Four rounds, a sampling interval or more apart: the lag chart climbs 3, 6, 9, 12.
    for (let round = 0; round < 4; round++) {
      await producer.send({
        topic: 'orders',
        messages: [0, 1, 2].map((partition) => ({ partition, key: `late-${round}-${partition}`, value: JSON.stringify({ late: round }) })),
      });
      await new Promise((r) => setTimeout(r, 700));
    }
    await producer.disconnect();
    await admin.disconnect();

    chromium = await startChromium();
    const context = await chromium.browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('requestfailed', (r) => failedRequests.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400) failedRequests.push(`${r.status()} ${r.url()}`);
    });
  });

  after(async () => {
    await chromium?.close();
    await agent?.stop();
    await backend?.stop();
  });

  test('overview: agents, leases, counts, throughput chart and cost', async () => {
    // Two throughput samples at least (the first rate needs two).
    await waitFor('throughput samples', async () => {
      await page.goto(url('/console'));
      return (await page.locator('[data-chart="chart-throughput"] canvas').count()) > 0;
    }, 30_000);
    assert.equal(await page.title(), 'Cluster overview · StreamHouse');
    assert.equal(await page.locator('#card-topics .value').textContent(), '3');
    assert.equal(await page.locator('#card-partitions .value').textContent(), '5');
    assert.equal(await page.locator('#card-groups .value').textContent(), '2');
    assert.equal(await page.locator('#card-lag .value').textContent(), '12');
    const agents = page.locator('#agents tbody tr');
    assert.equal(await agents.count(), 1);
    assert.match((await agents.first().textContent()) ?? '', /live/);
    assert.match((await agents.first().textContent()) ?? '', /this agent/);
    // Five partitions led by this agent, 50 coordinator shards.
    assert.deepEqual(await cellTexts('#leases tbody td:nth-child(3)'), ['5']);
    assert.deepEqual(await cellTexts('#leases tbody td:nth-child(4)'), ['50']);
    assert.match((await page.locator('#card-request-cost .value').textContent()) ?? '', /^\$\d/);
    await shot('overview');
    const docs = join(projectRoot(), 'docs', 'console.png');
    if (backendName === 'embedded' && (process.env.STREAMHOUSE_UPDATE_DOCS_SCREENSHOT === '1' || !existsSync(docs))) copyFileSync(join(ARTIFACTS, 'overview.png'), docs);
  });

  test('topics: partitions, records, sizes', async () => {
    await page.goto(url('/console/topics'));
    const row = page.locator('#topics tr[data-topic="orders"] td');
    assert.deepEqual((await row.allTextContents()).slice(0, 3), ['orders', '3', '42']);
    assert.deepEqual((await page.locator('#topics tr[data-topic="payments"] td').allTextContents()).slice(0, 3), ['payments', '1', '5']);
    await shot('topics');
  });

  test('topic: leaders, epochs, high watermarks, segments and objects', async () => {
    await page.goto(url('/console/topics'));
    await page.click('text=orders');
    await page.waitForURL(/\/console\/topic\?name=orders$/);
    assert.equal(await page.locator('h1').textContent(), 'Topic orders');
    assert.deepEqual(await cellTexts('#partitions tbody td.hw'), ['14', '14', '14']);
    for (const epoch of await cellTexts('#partitions tbody td:nth-child(3)')) assert.ok(Number(epoch) >= 1, `leader epoch ${epoch}`);
    const segments = await cellTexts('#segments tbody td:nth-child(7)');
    assert.ok(segments.length >= 3, `segment rows: ${segments.length}`);
    for (const object of segments) assert.match(object, /\//);
    assert.match((await page.locator('#segments-note').textContent()) ?? '', /partition 0: \d+ of \d+/);
    await page.goto(url('/console/topic?name=orders&segmentsFrom=12'));
    assert.deepEqual(await cellTexts('#segments tbody td:nth-child(3)').then((last) => last.every((o) => Number(o) >= 12)), true);
    await page.goto(url('/console/topic?name=orders'));
    await shot('topic-orders');
  });

  test('groups: the lagging group and its lag', async () => {
    await page.goto(url('/console/groups'));
    const row = page.locator('#groups tr[data-group="billing"]');
    assert.equal(await row.locator('td.lag').textContent(), '12');
    assert.equal(await row.locator('td:nth-child(2)').textContent(), 'Empty');
    await shot('groups');
  });

  test('group: lag by partition and over time', async () => {
    await page.goto(url('/console/group?id=billing'));
    assert.equal(await page.locator('#card-total-lag .value').textContent(), '12');
    assert.deepEqual(await cellTexts('#lag tbody td.committed'), ['10', '10', '10']);
    assert.deepEqual(await cellTexts('#lag tbody td.hw'), ['14', '14', '14']);
    assert.deepEqual(await cellTexts('#lag tbody td.lag'), ['4', '4', '4']);
    await page.locator('[data-chart="chart-lag"] canvas').first().waitFor();
    // The sampled history, as the chart got it: it climbed to 12.
    const lagSeries = (await page.evaluate("JSON.parse(document.getElementById('chart-lag').textContent).columns[1]")) as number[];
    assert.equal(lagSeries[lagSeries.length - 1], 12);
    assert.ok(lagSeries.some((v) => v < 12), `lag over time: ${lagSeries.join(',')}`);
    await shot('group-billing');
  });

  test('records: keys, headers, JSON values, offset and timestamp seek, hex view', async () => {
    await page.goto(url('/console/topic?name=orders'));
    await page.click('#partitions tr[data-partition="0"] a');
    await page.waitForURL(/\/console\/records\?/);
    const first = page.locator('#records tr[data-offset="0"]');
    assert.equal(await first.locator('td.key').textContent(), 'order-0');
    assert.equal(await first.locator('td.headers').innerText(), 'source: console-test\ntrace-id: trace-0');
    assert.equal(await first.locator('td.value pre').textContent(), JSON.stringify({ id: 0, item: 'widget', price: 0 }));
    assert.equal(await page.locator('#records tbody tr').count(), 14);

    // JSON view, from offset 5 through the form.
    await page.fill('input[name="offset"]', '5');
    await page.selectOption('select[name="format"]', 'json');
    await page.click('button[type="submit"]');
    await page.waitForURL(/offset=5/);
    assert.equal(await page.locator('#records tbody tr').first().getAttribute('data-offset'), '5');
    assert.equal(await page.locator('#records tr[data-offset="5"] td.value pre').textContent(), JSON.stringify({ id: 15, item: 'widget', price: 37.5 }, null, 2));
    await shot('records-json');

    // Timestamp seek: the first record at or after record 15's timestamp less half a second is offset 5.
    await page.fill('input[name="offset"]', '');
    await page.fill('input[name="timestamp"]', new Date(T0 + 15 * 1000 - 500).toISOString());
    await page.click('button[type="submit"]');
    await page.waitForURL(/timestamp=/);
    assert.equal(await page.locator('#records tbody tr').first().getAttribute('data-offset'), '5');
    assert.equal(await page.locator('#records tr[data-offset="5"] td:nth-child(2)').textContent(), new Date(T0 + 15 * 1000).toISOString());

    // Hex view of the same page.
    await page.click('a.format-hex');
    await page.waitForURL(/format=hex/);
    const hex = (await page.locator('#records tr[data-offset="5"] td.value pre').textContent()) ?? '';
    assert.match(hex, /^00000000  7b 22 69 64 22 3a 31 35 2c 22 69 74 65 6d 22 3a  \|\{"id":15,"item":\|/);
    assert.match((await page.locator('#records tr[data-offset="5"] td.key').textContent()) ?? '', /6f 72 64 65 72 2d 31 35/); // order-15
    await shot('records-hex');

    // Paging: limit 4 from offset 12 ends at the high watermark.
    await page.goto(url('/console/records?topic=orders&partition=0&offset=12&limit=4'));
    assert.deepEqual(await page.locator('#records tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-offset'))), ['12', '13']);
    assert.equal(await page.locator('#next').count(), 0);
  });

  test('hostile keys, values, headers and group ids are shown as text and run nothing', async () => {
    await page.goto(url('/console/records?topic=hostile-topic&partition=0'));
    const row = page.locator('#records tr[data-offset="0"]');
    assert.equal(await row.locator('td.key pre').textContent(), HOSTILE.key);
    assert.equal(await row.locator('td.value pre').textContent(), HOSTILE.value);
    assert.equal(await row.locator('td.headers code').first().textContent(), HOSTILE.headerKey);
    assert.equal(await row.locator('td.headers code').nth(1).textContent(), HOSTILE.headerValue);
    assert.equal(await page.locator('#records img, #records svg, #records script').count(), 0);
    await shot('hostile-records');

    await page.goto(url('/console/groups'));
    const link = page.locator('#groups a', { hasText: HOSTILE.group });
    assert.equal(await link.textContent(), HOSTILE.group);
    await link.click();
    await page.waitForURL(/\/console\/group\?id=/);
    assert.equal(await page.locator('h1').textContent(), `Consumer group ${HOSTILE.group}`);
    assert.equal(await page.title(), `Consumer group ${HOSTILE.group} · StreamHouse`);
    // Only the console's own scripts are on any page.
    const scripts = await page.locator('script').evaluateAll((s) => s.map((e) => e.getAttribute('src') ?? e.getAttribute('type')));
    assert.deepEqual(scripts.sort(), ['/console/static/console.js', '/console/static/uPlot.iife.min.js', 'application/json'].sort());
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    assert.deepEqual(dialogs, []);
  });

  if (backendName === 'postgres+s3') {
    test('two agents: both listed; a partition led elsewhere names its leader in the record browser', async () => {
      const second = await startAgent({ env: backend.env, args: ['--console-sample-ms', '500'] });
      try {
        // Placement spreads the partitions over both agents: wait until the second leads some of orders.
        const holders = await waitFor('orders led by both agents', async () => {
          await page.goto(url('/console/topic?name=orders'));
          const h = await cellTexts('#partitions tbody td:nth-child(2)');
          return new Set(h).size === 2 && !h.includes('-') ? h : undefined;
        }, 60_000);
        await page.goto(url('/console'));
        assert.equal(await page.locator('#agents tbody tr').count(), 2);
        assert.equal(await page.locator('#card-agents .value').textContent(), '2 of 2');
        const ownNode = (await page.locator('#agents tbody tr', { hasText: 'this agent' }).locator('td').first().textContent())!;
        const elsewhere = holders.findIndex((n) => n !== ownNode);
        await page.goto(url(`/console/records?topic=orders&partition=${elsewhere}`));
        assert.equal(await page.locator('#problem').textContent(), `this agent does not lead partition ${elsewhere}: node ${holders[elsewhere]} does; open the console on its HTTP port`);
        // The leader's own console shows the records.
        await page.goto(`${second.httpUrl}/console/records?topic=orders&partition=${elsewhere}`);
        assert.equal(await page.locator('#records tbody tr').count(), 14);
        await shot('two-agents-records');
      } finally {
        await second.stop();
      }
    });
  }

  test('read-only: anything but GET is refused; nothing was fetched from elsewhere', async () => {
    for (const path of ['/console', '/console/topic?name=orders', '/console/records?topic=orders', '/console/group?id=billing']) {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await fetch(url(path), { method });
        assert.equal(res.status, 405, `${method} ${path}`);
      }
    }
    const res = await fetch(url('/console'));
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.deepEqual(failedRequests, []);
  });
});
