// A process a test starts (a redis-server, a gateway) must not outlive the Jest worker that
// started it. The worker's exit hook (process-shared.ts) kills them when the worker ends normally
// or by SIGTERM, but a worker Jest force-kills at the end of a run (SIGKILL) runs no hook: its
// servers were left running with no parent, holding ports and memory across runs.
//
// So each such process gets a watchdog: a shell waiting on a pipe from this process. A line on
// the pipe means "it exited, stand down"; end of file means this process died, however it died
// (the kernel closes its end of the pipe), and the shell kills the child.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * Kills `child` (SIGKILL) when this process dies, even by SIGKILL. Call it right after spawning;
 * the watchdog stands down by itself when the child exits first.
 */
export function killWhenThisProcessDies(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return; // it never started
  // `read` succeeds on a line and fails on end of file. detached: its own process group, so a
  // Ctrl-C to the test run does not kill the watchdog before it has done its work.
  const watchdog = spawn('/bin/sh', ['-c', `read _ || kill -9 ${pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  watchdog.on('error', () => undefined); // best effort: no shell, no watchdog
  watchdog.stdin?.on('error', () => undefined);
  // Neither keeps this process alive.
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  child.once('exit', () => watchdog.stdin?.end('exited\n'));
}
