"""A script written for the released runtime (mcp-server-fuzzer 0.7).

It is kept exactly as written for the original: test_runtime_api runs it
with only its import lines changed to procd_client, and unchanged behind the
one-line alias ``sys.modules["mcp_fuzzer"] = procd_client``, and compares
what it prints, field by field, with what the original prints.
"""

import asyncio
import sys

from hypothesis import strategies as st

from mcp_fuzzer.fuzz_engine.executor import AsyncFuzzExecutor
from mcp_fuzzer.fuzz_engine.runtime import ProcessConfigBuilder, ProcessManager


async def double(value):
    await asyncio.sleep(0.01)
    return value * 2


def fail(value):
    raise ValueError(f"bad value {value}")


async def main():
    manager = ProcessManager.from_config(
        config_dict={
            "watchdog_check_interval": 0.5,
            "watchdog_process_timeout": 20.0,
            "watchdog_extra_buffer": 2.0,
            "watchdog_max_hang_time": 40.0,
            "auto_kill": True,
        }
    )
    config = manager.watchdog.config
    print("watchdog", config.check_interval, config.process_timeout, config.extra_buffer, config.max_hang_time, config.auto_kill)

    # Each process outlives the wait() that follows it: the original's
    # watchdog forgets a process within check_interval of its exit.
    commands = [["sh", "-c", "sleep 2; exit 0"], ["sh", "-c", "sleep 2; exit 3"], ["sleep", "30"]]
    processes = []
    for i, command in enumerate(commands):
        cfg = ProcessConfigBuilder().with_command(command).with_name(f"worker-{i}").with_env({"WORKER": str(i)}).build()
        print("config", cfg.name, cfg.command[0], cfg.timeout, cfg.auto_kill, cfg.env)
        process = await manager.start_process(cfg)
        processes.append(process)
        print("started", cfg.name, process.pid > 0, await manager.is_process_registered(process.pid))

    status = await manager.get_process_status(processes[2].pid)
    print("status", sorted(status), status["status"], status["config"].name)

    print("signal", await manager.send_timeout_signal(processes[2].pid, "timeout"))
    for process in (processes[2], processes[0], processes[1]):
        result = await manager.wait(process.pid, timeout=10.0)
        print("wait", result.pid == process.pid, result.exit_code, result.timed_out)

    stats = await manager.get_stats()
    print("stats", sorted(stats), sorted(stats["watchdog"]), stats["watchdog"]["watchdog_active"])

    executor = AsyncFuzzExecutor(max_concurrency=2)
    batch = await executor.execute_batch([(double, [5], {}), (fail, [1], {}), (double, [10], {})])
    print("batch", sorted(batch), batch["results"], [type(e).__name__ for e in batch["errors"]])
    print("empty", await executor.execute_batch([]))
    example = await executor.run_hypothesis_strategy(st.integers(min_value=7, max_value=7))
    print("hypothesis", example)
    text = await executor.run_hypothesis_strategy(st.text(alphabet="ab", min_size=3, max_size=3))
    print("hypothesis-text", len(text), set(text) <= {"a", "b"})
    await executor.shutdown()

    await manager.shutdown()
    print("registered-after-shutdown", [await manager.is_process_registered(p.pid) for p in processes])


asyncio.run(main())
sys.exit(0)
