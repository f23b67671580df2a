#!/usr/bin/env node
'use strict';
// Starts a process under procd, streams its output and its events, waits for
// it and prints the exit record.
//
//   node example.js                          # a small demo script
//   node example.js -- sh -c 'echo hi; exit 3'
//
// procd must be running (`make run` at the repository root, or `procd`);
// the socket is procd's default, or PROCD_SOCKET / PROCD_ADDR.

const { Procd, ProcdError, exitCodeOf, durationToMs } = require('./index.js');

const DEMO = [
  'sh', '-c',
  'for i in 1 2 3; do echo "tick $i"; echo "warn $i" >&2; sleep 0.2; done; exit 3',
];

async function main() {
  const dash = process.argv.indexOf('--');
  const command = dash >= 0 ? process.argv.slice(dash + 1) : DEMO;
  if (command.length === 0) throw new Error('usage: node example.js [-- COMMAND [ARG...]]');

  const procd = new Procd();
  try {
    // Subscribe from the current end of the event ring: afterSeq replays
    // whatever is published between now and the subscription, so the
    // process's "started" event cannot be missed.
    const { events: { lastSeq } } = await procd.getStats();
    const events = procd.watchEvents({ afterSeq: lastSeq });

    const proc = await procd.startProcess({ command, name: 'example', labels: { from: 'example.js' } });
    console.log(`started ${proc.id} (pid ${proc.pid}): ${proc.command.join(' ')}`);

    const printEvents = (async () => {
      for await (const ev of events) {
        if (ev.processId !== proc.id) continue;
        console.log(`[event ${ev.seq}] ${ev.type.replace('EVENT_TYPE_', '').toLowerCase()} ${ev.detail}`);
        if (ev.type === 'EVENT_TYPE_EXITED') break; // leaving the loop cancels the stream
      }
    })();

    const printOutput = (async () => {
      for await (const chunk of procd.readOutput(proc.id, { follow: true })) {
        const dest = chunk.stream === 'STREAM_STDERR' ? process.stderr : process.stdout;
        dest.write(chunk.data);
      }
    })();

    const { process: rec } = await procd.waitForProcess(proc.id);
    await Promise.all([printOutput, printEvents]);

    const e = rec.exit;
    console.log(`\n${rec.id} finished: reason ${e.reason.replace('EXIT_REASON_', '')}, ` +
      (e.signalNumber !== undefined ? `signal ${e.signal} (${e.signalNumber})` : `exit code ${e.exitCode}`) +
      `, ran ${durationToMs(rec.duration).toFixed(1)} ms, shell status ${exitCodeOf(rec)}`);
    console.log(JSON.stringify(e, null, 2));
  } finally {
    procd.close();
  }
}

main().catch((err) => {
  if (err instanceof ProcdError) console.error(`procd: ${err.code}: ${err.message}`);
  else console.error(err);
  process.exit(1);
});
