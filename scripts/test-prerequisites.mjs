#!/usr/bin/env node
// Makes sure the programs the tests drive are installed (`npm test` runs this before the build):
// PostgreSQL server binaries, kcat, openssl (test certificates), confluent-kafka and kafka-python for /usr/bin/python3, Go with
// sarama, Chromium for the web console's browser test. Missing ones are installed from Debian
// (apt-get update once, then apt-get install), as root or through password-less sudo; otherwise this
// stops at once and prints the command that installs them. When everything is there it only looks
// (no apt-get), in well under a second.
// Plain Node with no dependencies: it runs before the build and needs nothing from node_modules
// except node-rdkafka, which `npm ci` compiled and which it loads once to prove it works.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

const PYTHON = '/usr/bin/python3'; // the python3 first on PATH (pyenv and the like) cannot see Debian's modules
const SARAMA = '/usr/share/gocode/src/github.com/Shopify/sarama';
const CHROMIUM = '/usr/bin/chromium';

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir || '.', cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function postgresBinaries() {
  const override = process.env.STREAMHOUSE_PG_BIN; // test/helpers/postgres.ts honours it too
  if (override) return existsSync(join(override, 'initdb')) && existsSync(join(override, 'pg_ctl'));
  const root = '/usr/lib/postgresql';
  return existsSync(root) && readdirSync(root).some((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')));
}

/** PostgreSQL refuses to run as root; the helper runs it as `postgres`, which Debian's package creates. */
function postgresUser() {
  return process.getuid?.() !== 0 || spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status === 0;
}

function pythonModules() {
  return new Promise((resolve) => {
    if (!existsSync(PYTHON)) return resolve({ confluent_kafka: false, kafka: false });
    const code = 'import importlib.util as u; print(*(u.find_spec(m) is not None for m in ("confluent_kafka", "kafka")))';
    const child = spawn(PYTHON, ['-c', code], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', () => resolve({ confluent_kafka: false, kafka: false }));
    child.on('close', () => {
      const [ck, kp] = out.trim().split(' ');
      resolve({ confluent_kafka: ck === 'True', kafka: kp === 'True' });
    });
  });
}

/** Debian packages still missing, in install order. */
async function missingPackages() {
  const py = pythonModules(); // runs while the file checks below do
  const missing = [];
  if (!postgresBinaries() || !postgresUser()) missing.push('postgresql');
  if (!onPath('kcat')) missing.push('kcat');
  if (!onPath('openssl')) missing.push('openssl');
  const { confluent_kafka, kafka } = await py;
  if (!confluent_kafka) missing.push('python3-confluent-kafka');
  if (!kafka) missing.push('python3-kafka');
  if (!onPath('go')) missing.push('golang-go');
  if (!existsSync(SARAMA)) missing.push('golang-github-shopify-sarama-dev');
  // Driven by playwright-core (test/helpers/browser.ts); never a browser build downloaded by Playwright.
  if (!existsSync(CHROMIUM)) missing.push('chromium');
  return missing;
}

/** node-rdkafka is an npm devDependency that `npm ci` compiles (a C/C++ toolchain and python3 for
 * node-gyp); its librdkafka is bundled and linked to the system's libssl, zlib and zstd. */
function checkNodeRdkafka() {
  try {
    const version = createRequire(import.meta.url)('node-rdkafka').librdkafkaVersion;
    if (typeof version !== 'string') throw new Error('no librdkafkaVersion');
  } catch (err) {
    fail(`node-rdkafka does not load (${String(err.message ?? err).split('\n')[0]}).\nRe-run \`npm ci\` (it compiles librdkafka; needs g++, make and python3: apt-get install -y g++ make python3).`);
  }
}

function fail(message) {
  console.error(`test prerequisites: ${message}`);
  process.exit(1);
}

function run(argv) {
  console.error(`test prerequisites: ${argv.join(' ')}`);
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) fail(`\`${argv.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`})`);
}

checkNodeRdkafka();
const missing = await missingPackages();
if (missing.length > 0) {
  // Wait for another apt/dpkg run (unattended upgrades) instead of failing on its lock.
  const install = ['apt-get', '-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-q', '--no-install-recommends', ...missing];
  const update = ['apt-get', '-o', 'DPkg::Lock::Timeout=300', 'update', '-q'];
  const root = process.getuid?.() === 0;
  const sudo = !root && onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  const command = `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (!onPath('apt-get')) fail(`missing ${missing.join(', ')} and there is no apt-get here. On Debian/Ubuntu: ${command}`);
  if (!root && !sudo) fail(`missing ${missing.join(', ')}; install them with:\n  ${command}\nthen run npm test again.`);
  const prefix = root ? [] : ['sudo', '-n', '-E'];
  console.error(`test prerequisites: installing ${missing.join(' ')}`);
  run([...prefix, ...update]);
  run([...prefix, ...install]);
  const still = await missingPackages();
  if (still.length > 0) fail(`still missing after apt-get install: ${still.join(', ')}`);
}
