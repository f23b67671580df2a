'use strict';
// The package as a user gets it: types checked against the code, and the
// tarball `npm pack` makes installs on its own in an empty directory and
// starts a process under a real procd.
//
// procd is built from this repository (go build ./cmd/procd) unless
// PROCD_BIN names a binary. Installing the tarball fetches its two
// dependencies from the npm registry (or npm's cache).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const HERE = path.resolve(__dirname, '..');
const REPO = path.resolve(HERE, '..', '..');
const STEP_MS = 300000;

/** Runs a command; resolves {stdout, stderr}, rejects with both on failure. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: STEP_MS, maxBuffer: 64 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

const state = { tmp: '', socket: '', child: null, exited: null, logs: '' };

before(async () => {
  state.tmp = fs.mkdtempSync(path.join('/tmp', 'pdnpk'));
  let bin = process.env.PROCD_BIN ? path.resolve(process.env.PROCD_BIN) : '';
  if (!bin) {
    bin = path.join(state.tmp, 'procd');
    await run('go', ['build', '-o', bin, './cmd/procd'], { cwd: REPO });
  }
  state.socket = path.join(state.tmp, 'procd.sock');
  state.child = spawn(bin, ['--socket', state.socket, '--state-dir', path.join(state.tmp, 'state')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  state.child.stdout.on('data', (b) => { state.logs += b; });
  state.child.stderr.on('data', (b) => { state.logs += b; });
  state.exited = new Promise((resolve) => state.child.on('exit', (code, signal) => resolve({ code, signal })));
}, { timeout: STEP_MS });

after(async () => {
  if (state.child && state.child.exitCode === null && state.child.signalCode === null) {
    state.child.kill('SIGTERM');
    const status = await state.exited;
    assert.deepEqual(status, { code: 0, signal: null }, state.logs.slice(-10000));
  }
  fs.rmSync(state.tmp, { recursive: true, force: true });
});

test('index.d.ts: tsc --noEmit on a usage of every export, each of which exists at run time', async () => {
  const tsc = path.join(HERE, 'node_modules', '.bin', 'tsc');
  assert.ok(fs.existsSync(tsc), 'typescript is a devDependency: run npm ci');
  await run(tsc, ['-p', path.join(__dirname, 'types')], { cwd: HERE });
  const usage = fs.readFileSync(path.join(__dirname, 'types', 'usage.ts'), 'utf8');
  const names = /import procdDefault, \{([^}]*)\}/.exec(usage)[1].split(',').map((s) => s.trim()).filter(Boolean);
  const mod = require('..');
  for (const name of names) assert.notEqual(mod[name], undefined, `export ${name}`);
  assert.equal(mod.default, mod.Procd);
  assert.equal(mod.API_PACKAGE, 'procd.v1');
  assert.match(mod.VERSION, /^1\./, '1.x speaks procd.v1');
});

test('npm pack: the tarball installs in an empty directory and starts a process', async () => {
  // Pack a copy laid out like the repository, so the prepack/postpack proto
  // copy cannot race the other test file, which loads this checkout.
  const copy = path.join(state.tmp, 'repo', 'clients', 'node');
  for (const f of ['index.js', 'index.d.ts', 'package.json', 'README.md', 'LICENSE', 'scripts/copy-proto.js']) {
    fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
    fs.copyFileSync(path.join(HERE, f), path.join(copy, f));
  }
  fs.mkdirSync(path.join(state.tmp, 'repo', 'proto', 'procd', 'v1'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'proto', 'procd', 'v1', 'procd.proto'), path.join(state.tmp, 'repo', 'proto', 'procd', 'v1', 'procd.proto'));
  const packDir = path.join(state.tmp, 'pack');
  fs.mkdirSync(packDir);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: copy });
  const [info] = JSON.parse(stdout);
  const files = info.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['LICENSE', 'README.md', 'index.d.ts', 'index.js', 'package.json', 'proto/procd/v1/procd.proto']);
  assert.equal(info.name, '@procd/client');
  assert.match(info.version, /^1\./);
  assert.ok(!fs.existsSync(path.join(copy, 'proto')), 'postpack removed the proto copy');
  const tarball = path.join(packDir, info.filename);

  const app = path.join(state.tmp, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '0.0.0', private: true }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app });
  const pkg = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', '@procd', 'client', 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'MIT');
  assert.equal(pkg.procd.apiPackage, 'procd.v1');

  fs.writeFileSync(path.join(app, 'main.js'), `
    const { Procd, DEFAULT_PROTO_ROOT } = require('@procd/client');
    (async () => {
      const procd = new Procd({ socket: process.argv[2] });
      await procd.waitUntilServing({ timeoutMs: 30000 });
      const p = await procd.startProcess(['sh', '-c', 'echo packaged; exit 7']);
      const { process: rec } = await procd.waitForProcess(p.id);
      const out = [];
      for await (const c of procd.readOutput(p.id, { stream: 'stdout' })) out.push(c.data);
      console.log(rec.exit.exitCode, Buffer.concat(out).toString().trim(), DEFAULT_PROTO_ROOT.startsWith(__dirname));
      procd.close();
    })().catch((e) => { console.error(e); process.exit(1); });
  `);
  // PROCD_PROTO_ROOT unset and the repository out of reach: the packed proto is used.
  const env = { ...process.env };
  delete env.PROCD_PROTO_ROOT;
  const out = await run(process.execPath, ['main.js', state.socket], { cwd: app, env });
  assert.equal(out.stdout, '7 packaged true\n', out.stderr);
}, { timeout: STEP_MS });
