'use strict';
// Tests of the Node.js client against a real procd.
//
// procd is built from this repository (go build ./cmd/procd) unless
// PROCD_BIN names a binary, then started on a socket in a short temporary
// directory and stopped with SIGTERM by the last test, which requires exit
// status 0. Every wait is a poll or a stream with a deadline; nothing
// sleeps to synchronise.
//
//   node --test test/            (or ./run-tests.sh)

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Procd, ProcdError, exitCodeOf, durationToMs, clientEnvironment } = require('..');

const REPO = path.resolve(__dirname, '..', '..', '..');
const STEP_MS = 30000; // deadline for any single step of a test

/** A temporary directory whose socket path fits in sun_path (108 bytes). */
function shortTempDir() {
  for (const base of [os.tmpdir(), '/tmp']) {
    try {
      const dir = fs.mkdtempSync(path.join(base, 'pdn'));
      if (Buffer.byteLength(path.join(dir, 'procd.sock')) < 100) return dir;
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (_) { /* try the next base */ }
  }
  throw new Error('no temporary directory short enough for a Unix socket path');
}

function buildProcd(dir) {
  if (process.env.PROCD_BIN) return Promise.resolve(path.resolve(process.env.PROCD_BIN));
  const out = path.join(dir, 'procd');
  return new Promise((resolve, reject) => {
    execFile('go', ['build', '-o', out, './cmd/procd'], { cwd: REPO, timeout: 600000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`go build ./cmd/procd failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(out);
    });
  });
}

/** Rejects after ms with a message, to bound an await. */
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const daemon = {
  cwd: '/',
  dir: '',
  socket: '',
  child: null,
  logs: '',
  exited: null, // Promise<{code, signal}>
  exitStatus: null,
};

/** @type {Procd} */
let client;

before(async () => {
  daemon.dir = shortTempDir();
  daemon.socket = path.join(daemon.dir, 'procd.sock');
  const bin = await buildProcd(daemon.dir);
  daemon.child = spawn(bin, [
    '--socket', daemon.socket,
    '--state-dir', path.join(daemon.dir, 'state'),
    '--log-level', 'debug',
  ], { stdio: ['ignore', 'pipe', 'pipe'], cwd: daemon.cwd });
  const keep = (b) => {
    daemon.logs += b.toString();
    if (daemon.logs.length > 4 << 20) daemon.logs = daemon.logs.slice(-(2 << 20));
  };
  daemon.child.stdout.on('data', keep);
  daemon.child.stderr.on('data', keep);
  daemon.exited = new Promise((resolve) => {
    daemon.child.on('exit', (code, signal) => {
      daemon.exitStatus = { code, signal };
      resolve(daemon.exitStatus);
    });
  });
  daemon.child.on('error', (e) => {
    daemon.logs += `spawn error: ${e.message}\n`;
  });

  client = new Procd({ socket: daemon.socket });
  // Poll GetStats until procd serves; fail early if it exits.
  const stats = await Promise.race([
    client.waitUntilServing({ timeoutMs: 30000 }),
    daemon.exited.then((s) => {
      throw new Error(`procd exited during start (${JSON.stringify(s)}):\n${daemon.logs}`);
    }),
  ]).catch((e) => {
    throw new Error(`procd did not start serving: ${e.message}\n${daemon.logs}`);
  });
  assert.ok(stats.daemon.pid > 0);
}, { timeout: 660000 });

after(async () => {
  if (client) client.close();
  if (daemon.child && daemon.exitStatus === null) {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  if (daemon.dir) fs.rmSync(daemon.dir, { recursive: true, force: true });
});

/**
 * Collects a stream into an array, bounded by a deadline.
 * @template T
 * @param {AsyncIterable<T> & {cancel(): void}} iter
 * @param {string} what
 * @param {(x: T) => boolean} [until] stop (and cancel the stream) after the first item it accepts
 * @returns {Promise<T[]>}
 */
async function collect(iter, what, until = () => false) {
  const items = [];
  await within((async () => {
    for await (const x of iter) {
      items.push(x);
      if (until(x)) break;
    }
  })(), STEP_MS, what).catch((e) => {
    iter.cancel();
    throw e;
  });
  return items;
}

describe('procd Node client', () => {
  test('restart policy: one id, every run, FAILED with CRASH_LOOP', async () => {
    const proc = await client.startProcess({
      command: ['sh', '-c', 'exit 3'],
      restart: { mode: 'on-failure', on: ['nonzero'], delay: 50, multiplier: 2, jitter: 0, limit: 2 },
    });
    assert.equal(proc.attempt, 1);
    assert.equal(proc.restart.policy.mode, 'RESTART_MODE_ON_FAILURE');
    const { process: fin, timedOut } = await within(client.waitForProcess(proc.id), STEP_MS, 'WaitForProcess');
    assert.equal(timedOut, false);
    assert.equal(fin.id, proc.id);
    assert.equal(fin.state, 'PROCESS_STATE_FAILED');
    assert.equal(fin.exit.reason, 'EXIT_REASON_CRASH_LOOP');
    assert.deepEqual(fin.runs.map((r) => [r.attempt, r.exit.exitCode, r.exit.reason]),
      [[1, 3, 'EXIT_REASON_EXITED'], [2, 3, 'EXIT_REASON_EXITED'], [3, 3, 'EXIT_REASON_EXITED']]);
    assert.equal(fin.restart.restarts, 2);
    assert.equal(durationToMs(fin.restart.delay), 100);
  });

  test('start, stream events and output, wait, exit record', async () => {
    // Resume from the current end of the event ring, so nothing between
    // here and the start can be missed.
    const { events: { lastSeq } } = await client.getStats();
    const events = client.watchEvents({ afterSeq: lastSeq, types: ['started', 'exited'] });

    const script = 'echo out 1; echo err 1 >&2; echo out 2; printf "err 2" >&2; printf "tail"; exit 3';
    const proc = await client.startProcess({
      command: ['sh', '-c', script],
      name: 'node-client-test',
      labels: { suite: 'node' },
      grace: 500,
    });
    assert.match(proc.id, /^p-\d+$/);
    assert.ok(proc.pid > 0);
    assert.equal(proc.name, 'node-client-test');
    assert.deepEqual(proc.labels, { suite: 'node' });
    assert.deepEqual(proc.command, ['sh', '-c', script]);

    const output = collect(client.readOutput(proc.id, { follow: true }), 'ReadOutput follow');
    const waited = within(client.waitForProcess(proc.id), STEP_MS, 'WaitForProcess');
    const seen = collect(events, 'WatchEvents',
      (ev) => ev.processId === proc.id && ev.type === 'EVENT_TYPE_EXITED');

    const { process: rec, timedOut } = await waited;
    assert.equal(timedOut, false);
    assert.equal(rec.id, proc.id);
    assert.equal(rec.state, 'PROCESS_STATE_EXITED');
    assert.equal(rec.exit.reason, 'EXIT_REASON_EXITED');
    assert.equal(rec.exit.exitCode, 3);
    assert.equal(rec.exit.signalNumber, undefined, 'no signal number');
    assert.equal(rec.exit.signal, '');
    assert.equal(rec.exit.coreDumped, false);
    assert.equal(exitCodeOf(rec), 3);
    assert.ok(rec.finishedAt && rec.startedAt);
    assert.ok(durationToMs(rec.duration) > 0, 'a process that ran has a duration');

    // Output: exact contents per stream, offsets contiguous, nothing skipped.
    const chunks = await output;
    const text = { STREAM_STDOUT: '', STREAM_STDERR: '' };
    for (const c of chunks) {
      assert.ok(c.stream in text, `stream ${c.stream}`);
      assert.ok(Buffer.isBuffer(c.data));
      assert.equal(c.skippedBytes, 0);
      assert.equal(c.offset, Buffer.byteLength(text[c.stream]), 'chunks are contiguous');
      text[c.stream] += c.data.toString('utf8');
    }
    assert.equal(text.STREAM_STDOUT, 'out 1\nout 2\ntail');
    assert.equal(text.STREAM_STDERR, 'err 1\nerr 2');
    assert.equal(rec.stdout.totalBytes, Buffer.byteLength(text.STREAM_STDOUT));
    assert.equal(rec.stderr.totalBytes, Buffer.byteLength(text.STREAM_STDERR));

    // Reading again from an offset returns the rest of one stream.
    const again = await collect(client.readOutput(proc.id, { stream: 'stdout', offset: 6 }), 'ReadOutput offset');
    assert.equal(Buffer.concat(again.map((c) => c.data)).toString(), 'out 2\ntail');
    assert.ok(again.every((c) => c.stream === 'STREAM_STDOUT'));

    // Events: started then exited for this process, in sequence order.
    const mine = (await seen).filter((ev) => ev.processId === proc.id);
    assert.deepEqual(mine.map((ev) => ev.type), ['EVENT_TYPE_STARTED', 'EVENT_TYPE_EXITED']);
    assert.ok(mine[0].seq > lastSeq && mine[1].seq > mine[0].seq, 'seqs increase');
    assert.equal(mine[0].pid, proc.pid);
    assert.equal(mine[1].exit.exitCode, 3);
    assert.equal(mine[1].exit.signalNumber, undefined);

    // Leaving the for-await loop cancelled the subscription on the daemon too.
    await within((async () => {
      while ((await client.getStats()).events.subscribers !== 0) await new Promise((r) => setTimeout(r, 20));
    })(), STEP_MS, 'WatchEvents subscription ends after break');

    // The record stays until removed.
    const got = await client.getProcess(proc.id);
    assert.equal(got.exit.exitCode, 3);
    const removed = await client.removeProcess(proc.id);
    assert.equal(removed.id, proc.id);
    await assert.rejects(client.getProcess(proc.id), (e) => e instanceof ProcdError && e.code === 'NOT_FOUND');
  });

  test('errors are ProcdErrors with the gRPC code and procd message', async () => {
    const before = (await client.listProcesses()).length;
    await assert.rejects(client.startProcess({ command: ['no-such-binary'] }), (e) => {
      assert.ok(e instanceof ProcdError, `${e}`);
      assert.ok(e instanceof Error);
      assert.equal(e.code, 'NOT_FOUND');
      assert.equal(e.grpcCode, 5);
      assert.match(e.message, /no-such-binary/);
      assert.equal(typeof e.details, 'string');
      assert.equal(e.method, 'StartProcess');
      return true;
    });
    assert.equal((await client.listProcesses()).length, before, 'a failed start leaves no record');

    const sleeper = await client.startProcess({ command: ['sleep', '60'], grace: 200 });
    try {
      // A wait with a timeout returns the live record instead of an error.
      const live = await client.waitForProcess(sleeper.id, { timeoutMs: 50 });
      assert.equal(live.timedOut, true);
      assert.equal(live.process.state, 'PROCESS_STATE_RUNNING');
      assert.equal(live.process.exit, null);

      await assert.rejects(client.sendSignal(sleeper.id, 'SIGNOSUCH'), (e) => {
        assert.ok(e instanceof ProcdError);
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.equal(e.grpcCode, 3);
        assert.match(e.message, /SIGNOSUCH/);
        return true;
      });
      // The process is still running: the bad signal reached nothing.
      assert.equal((await client.getProcess(sleeper.pid)).state, 'PROCESS_STATE_RUNNING');
    } finally {
      const [res] = await within(client.stopProcess(sleeper.id, { graceMs: 200 }), STEP_MS, 'StopProcess');
      assert.equal(res.error, '');
      assert.equal(res.process.exit.reason, 'EXIT_REASON_STOPPED');
      assert.equal(res.process.exit.signal, 'SIGTERM');
      assert.equal(res.process.exit.signalNumber, 15);
      assert.equal(res.process.exit.exitCode, undefined);
    }

    for (const call of [
      () => client.getProcess('p-999999'),
      () => client.waitForProcess('p-999999'),
      () => client.sendSignal('p-999999', 'SIGTERM'),
    ]) {
      await assert.rejects(call(), (e) => {
        assert.ok(e instanceof ProcdError);
        assert.equal(e.code, 'NOT_FOUND');
        assert.equal(e.grpcCode, 5);
        assert.match(e.message, /p-999999/);
        return true;
      });
    }
    // Streams report errors the same way.
    await assert.rejects(collect(client.readOutput('p-999999'), 'ReadOutput'),
      (e) => e instanceof ProcdError && e.code === 'NOT_FOUND' && e.method === 'ReadOutput');
    // Bad arguments are caught before the call, with the same error type.
    // @ts-expect-error: an unknown field, on purpose
    await assert.rejects(client.startProcess({ command: ['true'], clearEnvironment: true }),
      (e) => e instanceof ProcdError && e.code === 'INVALID_ARGUMENT' && /clearEnvironment/.test(e.message));
  });

  test('stdin: writeInput to a pipe', async () => {
    const proc = await client.startProcess({ command: ['cat'], stdin: 'pipe' });
    assert.equal(await client.writeInput(proc.id, 'hello '), 6);
    assert.equal(await client.writeInput(proc.id, Buffer.from('world\n'), { close: true }), 6);
    const { process: rec } = await within(client.waitForProcess(proc.id), STEP_MS, 'WaitForProcess');
    assert.equal(rec.exit.exitCode, 0);
    const out = await collect(client.readOutput(proc.id), 'ReadOutput');
    assert.equal(Buffer.concat(out.map((c) => c.data)).toString(), 'hello world\n');
  });

  test('readiness: STARTING until a log line matches, waitForProcess untilReady, STARTUP_TIMEOUT', async () => {
    const proc = await client.startProcess({ command: ['sh', '-c', 'sleep 0.3; echo listening; sleep 60'], ready: { log: '^listening$' } });
    assert.equal(proc.state, 'PROCESS_STATE_STARTING');
    assert.equal(proc.readyAt, null);
    assert.equal(proc.ready.log, '^listening$');
    const { process: rec, timedOut } = await within(client.waitForProcess(proc.id, { untilReady: true }), STEP_MS, 'WaitForProcess untilReady');
    assert.equal(timedOut, false);
    assert.equal(rec.state, 'PROCESS_STATE_RUNNING');
    assert.ok(rec.readyAt);
    await client.stopProcess(proc.id);

    const mute = await client.startProcess({ command: ['sleep', '60'], ready: { tcp: '1' }, startupTimeout: '300ms' });
    const { process: end } = await within(client.waitForProcess(mute.id, { untilReady: true }), STEP_MS, 'WaitForProcess untilReady');
    assert.equal(end.readyAt, null);
    assert.equal(end.exit.reason, 'EXIT_REASON_STARTUP_TIMEOUT');
    assert.match(end.readyError, /connection refused/);
  });

  test('attach: stdin in, output then the final record out', async () => {
    const proc = await client.startProcess({ command: ['sh', '-c', 'read x; echo "got $x"; exit 7'], stdin: 'pipe' });
    const a = client.attach(proc.id, { stdin: true });
    await a.write('ping\n');
    const msgs = await collect(a, 'Attach');
    const last = msgs.pop();
    assert.equal(last.kind, 'exit');
    assert.equal(last.exit.exit.exitCode, 7);
    assert.ok(msgs.every((m) => m.kind === 'output'));
    assert.equal(Buffer.concat(msgs.map((m) => m.output.data)).toString(), 'got ping\n');
  });

  test('runBatch: per-index outcomes and a summary', async () => {
    const msgs = await collect(client.runBatch([['true'], ['false']], { maxConcurrency: 2, timeout: 20000, name: 'node-batch' }),
      'RunBatch');
    assert.equal(msgs[0].kind, 'started');
    assert.equal(msgs[0].started.jobs, 2);
    const last = msgs[msgs.length - 1];
    assert.equal(last.kind, 'summary');
    assert.equal(msgs.filter((m) => m.kind === 'summary').length, 1);

    for (const index of [0, 1]) {
      const started = msgs.findIndex((m) => m.kind === 'attemptStarted' && m.attemptStarted.index === index);
      const finished = msgs.findIndex((m) => m.kind === 'attemptFinished' && m.attemptFinished.index === index);
      assert.ok(started > 0 && finished > started, `job ${index}: attempt started then finished`);
    }

    const s = last.summary;
    assert.match(s.batchId, /^b-\d+$/);
    assert.deepEqual(s.jobs.map((j) => j.index), [0, 1]);
    assert.equal(s.jobs[0].outcome, 'JOB_OUTCOME_SUCCEEDED');
    assert.equal(s.jobs[0].exit.exitCode, 0);
    assert.equal(s.jobs[1].outcome, 'JOB_OUTCOME_EXIT_CODE');
    assert.equal(s.jobs[1].exit.exitCode, 1);
    assert.deepEqual(s.results, [0]);
    assert.deepEqual(s.errors, [1]);
    assert.equal(s.succeeded, 1);
    assert.equal(s.failed, 1);
    assert.equal(s.cancelled, 0);
    assert.equal(s.stopped, '');
  });

  test('the caller\'s cwd and environment over the local socket; inheritContext: false gives the daemon\'s', async () => {
    const here = fs.mkdtempSync(path.join(os.tmpdir(), 'pdncwd'));
    const oldCwd = process.cwd();
    process.env.PDN_CALLER_VAR = 'from-caller';
    process.env.LD_PDN_TEST = 'ld';
    process.chdir(here);
    const script = 'pwd; echo "${PDN_CALLER_VAR:-unset} ${EXTRA:-unset} ${LD_PDN_TEST:-unset}"';
    const run = async (c, spec) => {
      const p = await c.startProcess({ command: ['sh', '-c', script], ...spec });
      await within(c.waitForProcess(p.id), STEP_MS, 'WaitForProcess');
      const chunks = await collect(c.readOutput(p.id, { stream: 'stdout' }), 'ReadOutput');
      return Buffer.concat(chunks.map((x) => x.data)).toString();
    };
    const root = process.getuid() === 0;
    try {
      assert.equal(client.inheritContext, true);
      assert.equal(await run(client, { env: { EXTRA: 'x' } }),
        `${fs.realpathSync(here)}\nfrom-caller x ${root ? 'ld' : 'unset'}\n`);
      // Explicit fields win: cwd as given; clearEnv set explicitly means no inheritance.
      assert.equal(await run(client, { cwd: '/', clearEnv: false, env: { EXTRA: 'y' } }), '/\nunset y unset\n');

      const daemonSide = new Procd({ socket: daemon.socket, inheritContext: false });
      try {
        assert.equal(await run(daemonSide, {}), `${daemon.cwd}\nunset unset unset\n`);
      } finally {
        daemonSide.close();
      }
      assert.equal(new Procd({ address: '127.0.0.1:1' }).inheritContext, false, 'over TCP the daemon\'s context is the default');
    } finally {
      process.chdir(oldCwd);
      delete process.env.PDN_CALLER_VAR;
      delete process.env.LD_PDN_TEST;
      fs.rmSync(here, { recursive: true, force: true });
    }
    const env = clientEnvironment({ LD_PRELOAD: 'x', NOTIFY_SOCKET: '/n', LISTEN_FDS: '1', A: '1' }, 1000);
    assert.deepEqual(env, { A: '1' });
    assert.deepEqual(clientEnvironment({ LD_PRELOAD: 'x', A: '1' }, 0), { LD_PRELOAD: 'x', A: '1' });
  });

  test('procd exits 0 on SIGTERM', async () => {
    client.close();
    assert.equal(daemon.exitStatus, null, `procd exited early:\n${daemon.logs}`);
    daemon.child.kill('SIGTERM');
    const status = await within(daemon.exited, 60000, 'procd exit after SIGTERM');
    assert.deepEqual(status, { code: 0, signal: null }, daemon.logs.slice(-20000));
    assert.doesNotMatch(daemon.logs, /panic/);
  });
});
