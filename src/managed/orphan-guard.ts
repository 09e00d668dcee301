/**
 * No worker outlives its primary. When the primary dies without a word (SIGKILL, the OOM killer,
 * a crash in native code), Node's worker half exits as soon as it reads its IPC channel's end, and
 * the worker runtime first ends what the app started (src/worker/runtime.cts). A worker whose
 * event loop is blocked never reads it: it would run on for ever, holding its port under
 * `shared`, and so would the processes it started. The guard, one per cluster, knows the live
 * workers and ends them, and every process below them, once the primary is gone: SIGTERM, then
 * SIGKILL a second later.
 *
 * It is a few lines of POSIX sh (≈1.7 MB RSS, no CPU while it waits), not a watchdog thread in
 * every worker: a worker_threads thread costs each worker ≈9.5 MiB of RSS and ≈55 ms of CPU to
 * start. It reads the primary's list of workers (`+pid`, `-pid` lines) from a pipe whose other end
 * only the primary holds, so the end of that pipe is the primary's death, whatever killed it. It
 * ignores the terminal's and the service manager's signals, which the primary handles for the
 * cluster. Where no /bin/sh exists (a distroless image), clusters run unguarded (said once); there
 * the primary is usually PID 1, whose death ends every process of the container.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { emitWarningOnce } from '../warnings.js';

const SHELL = '/bin/sh';

/**
 * On the pipe's end: the parent of every process (from /proc where there is one), then each
 * worker's descendants, parents first; all get SIGTERM, and what still runs a second later SIGKILL.
 * (`kill -s SIG pid` is the form every sh takes: dash misreads `kill -0 -- …`.)
 */
const GUARD_SCRIPT = `
trap '' INT HUP TERM QUIT TSTP TTIN TTOU
workers=' '
while IFS= read -r line; do
  case $line in
    +*) workers="$workers\${line#+} " ;;
    -*) w=\${line#-}; case $workers in *" $w "*) workers="\${workers%% $w *} \${workers#* $w }" ;; esac ;;
  esac
done
[ -z "$(echo $workers)" ] && exit 0
table=$(for d in /proc/[0-9]*; do { while read -r k v; do [ "$k" = PPid: ] && { echo "\${d#/proc/} $v"; break; }; done < "$d/status"; } 2>/dev/null; done)
doomed=
frontier=$workers
while [ -n "$(echo $frontier)" ]; do
  doomed="$doomed $frontier"
  next=
  for f in $frontier; do
    next="$next $(printf '%s\\n' "$table" | while read -r c p; do [ "$p" = "$f" ] && printf '%s ' "$c"; done)"
  done
  frontier=$next
done
for p in $doomed; do kill -s TERM "$p" 2>/dev/null; done
left=
for p in $doomed; do kill -s 0 "$p" 2>/dev/null && left="$left $p"; done
[ -z "$left" ] && exit 0
sleep 1
for p in $left; do kill -s KILL "$p" 2>/dev/null; done
`;

/** The name the guard shows in `ps`. */
export const GUARD_NAME = 'corral-orphan-guard';

export class OrphanGuard {
  readonly #live = new Set<number>();
  #guard: ChildProcess | undefined;
  #closed = false;

  /** A worker started: it is guarded from now on. */
  started(pid: number): void {
    this.#live.add(pid);
    this.#tell(`+${pid}`);
  }

  /** A worker exited. */
  exited(pid: number): void {
    this.#live.delete(pid);
    this.#tell(`-${pid}`);
  }

  /** The cluster closed (every worker exited): the guard ends too. */
  close(): void {
    this.#closed = true;
    this.#guard?.stdin?.end();
    this.#guard = undefined;
  }

  #tell(line: string): void {
    if (this.#closed) return;
    if (this.#guard === undefined) {
      // A new guard (the first, or one after a guard was killed) learns every live worker.
      this.#guard = this.#start();
      line = [...this.#live].map((pid) => `+${pid}`).join('\n');
      if (line === '') return;
    }
    if (this.#guard?.stdin?.writable === true) this.#guard.stdin.write(`${line}\n`);
  }

  #start(): ChildProcess | undefined {
    if (!existsSync(SHELL)) {
      if (process.pid !== 1) {
        emitWarningOnce('CORRAL_NO_ORPHAN_GUARD', `corral: ${SHELL} was not found, so workers are not guarded against ` +
          "the primary's sudden death (SIGKILL): a worker whose event loop is blocked then would outlive it. Run the " +
          'primary where a POSIX shell exists, or as PID 1 of a container (whose death ends every process in it).');
      }
      return undefined;
    }
    // The script travels in the environment, so that `ps` shows one short line; the guard gets
    // nothing of the app's environment but PATH (for `sleep`).
    const guard = spawn(SHELL, ['-c', 'eval "$CORRAL_GUARD_SCRIPT"'], {
      argv0: GUARD_NAME,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CORRAL_GUARD_SCRIPT: GUARD_SCRIPT },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // The guard must never keep the primary alive, nor end it: a guard that died (killed from
    // outside) is started again at the next worker's start or exit, and told every live worker.
    guard.unref();
    (guard.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
    guard.stdin?.on('error', () => {});
    guard.on('error', () => {});
    guard.on('exit', () => {
      if (this.#guard === guard) this.#guard = undefined;
    });
    return guard;
  }
}
