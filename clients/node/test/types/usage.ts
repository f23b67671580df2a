// Type-checked (tsc --noEmit, in test/package.test.js) against index.d.ts:
// every export used as documented, so the declarations cannot drift from
// what the code offers without this file failing to compile. package.test.js
// also checks that each name used here exists at run time.
import procdDefault, {
  API_PACKAGE,
  DEFAULT_PROTO_ROOT,
  LOADER_OPTIONS,
  Procd,
  ProcdError,
  RLIM_INFINITY,
  VERSION,
  clientEnvironment,
  defaultSocket,
  durationToMs,
  exitCodeOf,
  timestampToDate,
  toDuration,
} from '../..';
import type { Event, Process, ProcessSpec, RunBatchResponse, Stats, WaitResult } from '../..';

async function main(): Promise<void> {
  const c: Procd = new Procd({ socket: defaultSocket(), inheritContext: true });
  const d = new procdDefault({ address: 'localhost:1', tls: { ca: 'ca.pem' }, tokenFile: '/t', inheritContext: false });
  const inherit: boolean = c.inheritContext && d.inheritContext;
  const spec: ProcessSpec = {
    command: ['sh', '-c', 'echo hi'],
    cwd: '/',
    env: { A: '1' },
    clearEnv: false,
    timeout: '1.5s',
    grace: 500,
    activity: ['cpu', 'ACTIVITY_SOURCE_OUTPUT'],
    rlimits: [{ name: 'NOFILE', soft: 1024, hard: 'unlimited' }],
    restart: { mode: 'on-failure', on: ['nonzero', 'RESTART_FAILURE_HUNG'], delay: 100, maxDelay: '1s', jitter: 0, limit: 5, window: '1m' },
  };
  const p: Process = await c.startProcess(spec);
  const q: Process = await c.startProcess(['true'], { deadlineMs: 1000 });
  const w: WaitResult = await c.waitForProcess(p.id, { timeoutMs: 100 });
  const web: Process = await c.startProcess({ command: ['python3', '-m', 'http.server', '8000'], ready: { http: 'http://127.0.0.1:8000/', interval: '50ms' }, startupTimeout: '30s' });
  const up: WaitResult = await c.waitForProcess(web.id, { untilReady: true });
  const readyAt: Date | null = up.process.readyAt ? timestampToDate(up.process.readyAt) : null;
  const probeLog: string = up.process.ready ? up.process.ready.log : '';
  const runs: number = w.process.runs.length + w.process.attempt + (w.process.restart?.restarts ?? 0);
  const code: number | null = exitCodeOf(w.process);
  const listed: Process[] = await c.listProcesses({ states: ['running'], labels: { a: 'b' } });
  const sig = await c.sendSignal({ selector: { all: true } }, 'timeout', { leaderOnly: false });
  const delivered: boolean = sig.results.every((r) => r.delivered);
  await c.stopProcess(q.pid, { graceMs: 100, stopSignal: 'SIGINT' });
  await c.updateActivity(p);
  const removed: string[] = await c.cleanupFinished({ all: true });
  const stats: Stats = await c.getStats();
  const seq: number = stats.events ? stats.events.lastSeq : 0;
  const written: number = await c.writeInput('p-1', 'data', { close: true });
  for await (const ev of c.watchEvents({ afterSeq: seq, types: ['exited'] })) {
    const e: Event = ev;
    const when: Date | null = timestampToDate(e.time);
    void when;
    break;
  }
  for await (const chunk of c.readOutput(p.id, { follow: true, stream: 'stdout' })) {
    const data: Buffer = chunk.data;
    void data;
  }
  const attach = c.attach(p.id, { stdin: true });
  await attach.write('x');
  await attach.closeStdin();
  attach.cancel();
  for await (const m of c.runBatch(['true', ['false'], { command: ['sleep', '1'] }], { maxConcurrency: 2 })) {
    const msg: RunBatchResponse = m;
    if (msg.kind === 'summary') console.log(msg.summary.results);
  }
  const ms: number | null = durationToMs(toDuration('250ms'));
  const env: Record<string, string> = clientEnvironment(process.env, 0);
  await c.waitUntilServing({ timeoutMs: 10 });
  try {
    await c.getProcess('p-404');
  } catch (err) {
    if (err instanceof ProcdError) console.log(err.code, err.grpcCode, err.details, err.method);
  }
  const api: string = API_PACKAGE;
  const version: string = VERSION;
  console.log(inherit, code, listed.length, delivered, removed, ms, env, written, api, version,
    RLIM_INFINITY, LOADER_OPTIONS.keepCase, DEFAULT_PROTO_ROOT, runs);
  c.close();
  d.close();
}

void main;
