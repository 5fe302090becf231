// Headless Chromium from Debian (/usr/bin/chromium, installed by scripts/test-prerequisites.mjs),
// driven by playwright-core over the DevTools protocol. We start the browser ourselves, in its own
// process group registered with the reaper (so it is killed with the test process however that ends,
// like the agents), on a fresh profile directory, and connect Playwright to it: no browser download,
// nothing fetched from the internet (background networking, component updates and sync are off).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { killGroup, spawnTracked } from './reaper.js';

export const CHROMIUM = '/usr/bin/chromium';

export interface BrowserHandle {
  browser: Browser;
  close(): Promise<void>;
}

export async function startChromium(timeoutMs = 30_000): Promise<BrowserHandle> {
  const profile = mkdtempSync(join(tmpdir(), 'streamhouse-chromium-'));
  const child = spawnTracked(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`,
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
    { removeDir: profile },
  );
  let stderr = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium did not start within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('error', (err) => (clearTimeout(timer), reject(err)));
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`chromium exited (${code}) before listening:\n${stderr}`))));
  });
  child.stderr!.resume();
  const browser = await chromium.connectOverCDP(endpoint);
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        killGroup(child, 'SIGKILL');
        await exited;
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
