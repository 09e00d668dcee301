/**
 * `corral start <script>`: runs the app on every core in the foreground (for terminals,
 * containers and systemd) until a signal or `corral stop` ends it. Exits 0 after a clean
 * shutdown, 1 when the app cannot start or a worker had to be killed, 2 on bad usage.
 */
import { ensureRunDirectory, socketPath } from '../control/run-dir.js';
import { ControlServer } from '../control/server.js';
import { statusPids, statusReport } from '../control/status-report.js';
import { CpuMeter } from '../control/process-stats.js';
import {
  AdminListenError, CorralError, describeStartFailure, ExecNotFoundError, InvalidBalancerError, InvalidOptionError,
  InvalidWorkerCountError, LogFileError, PrimaryModuleError, ReloadFailedError, StartFailedError, type OptionWords,
} from '../errors.js';
import { createCluster, type ManagedCluster } from '../managed/managed-cluster.js';
import type { ShutdownResult } from '../managed/shutdown.js';
import { handleSignals, type SignalAction } from '../managed/signals.js';
import { CliError, EXIT } from './exit-codes.js';
import { createLogger, formatLog, type Logger } from './logger.js';
import { loadPrimaryModule, processPrimary } from './primary-module.js';
import { parseStart, SeveralAppsError, type StartRequest } from './start-options.js';
import { startSeveral } from './start-several.js';
import type { CliOutput } from './output-sink.js';
import { fileSink, passWorkerOutput, terminalSink, type WorkerLineSink } from './worker-output.js';
import { startDetached, withoutDetach, type DetachedChild } from './detach.js';
import type { LaunchInfo } from '../control/protocol.js';
import { RotatingLogFile } from './log-file.js';
import { logDirectory, logFilePath } from './log-paths.js';
import { watchFiles } from './watch.js';
import { cliOptionWords } from './option-words.js';
import { describeHealthAction } from './health-line.js';
import { describeKilled, describeStop, killedFields, killedNote } from './kill-report.js';
import { cgroupMemoryLimit, memoryBudgetNote } from './memory-budget.js';
import { cpuBudget, describeCpuBudget } from '../options/cpu-budget.js';
import { notifyEnvironment, notifySystemd, SystemdNotifier } from './systemd-notify.js';
import { shortList } from '../util/short-list.js';
import { nameOf } from '../primary/balancers/balancers.js';
import { describeInspector, slotPort } from '../managed/inspector-ports.js';
import { FORWARDING_HEADERS } from '../primary/balancers/forwarded-client.js';
import { kOpenAdmin } from '../internal/symbols.js';
import { launchEnvironment, PASSED_ENV_PREFIX, takePassedEnvironment, unusedPassedNames } from '../options/passed-env.js';
import { flagWords, optionErrorText } from './cli-words.js';

const SIGNAL_ACTIONS: Readonly<Record<SignalAction, string>> = {
  shutdown: 'shutting down gracefully',
  force: 'forcing the stop: SIGKILL to every worker',
  reload: 'reloading',
  'scale-up': 'adding a worker',
  'scale-down': 'removing a worker',
  hangup: 'the terminal closed: shutting down gracefully (its output went there)',
  detach: "the terminal closed: corral keeps running, its output goes elsewhere (stop it with 'corral stop', reload with 'corral reload')",
  'reopen-logs': 'reopening the log file',
  upgrade: "upgrading corral's primary in place is not supported yet: the signal is ignored and the app serves on " +
    "(for new app code, 'corral reload' or SIGHUP)",
};

/**
 * How often a paused pipe of a detached app's worker (its workers block on it) asks again whether
 * the log file can take more, so that a wake-up gone amiss cannot stop the app for good.
 */
const MAX_OUTPUT_PAUSE = 2_000;

/** How long the primary waits, after the last worker exited, for the rest of its output through --log-prefix. */
const OUTPUT_END_TIMEOUT = 5_000;

export async function runStart(argv: readonly string[], streams: CliOutput, detached?: DetachedChild): Promise<number> {
  // A unit's --env values (CORRAL_ENV_<KEY>, passed-env.ts) are for `--env KEY` to give the
  // workers: out of this process's environment before anything else here reads it or inherits it.
  takePassedEnvironment();
  // From here on node:cluster in this process is the primary that forks the app's workers: for
  // the config file, and for the --primary module.
  const primary = processPrimary();
  const cwd = process.cwd();
  let request: StartRequest;
  try {
    request = await parseStart(argv, cwd);
  } catch (error) {
    // A config file of several apps: with -d, each starts as its own detached primary.
    if (error instanceof SeveralAppsError && error.detach && detached === undefined) return startSeveral(argv, error, streams);
    throw error;
  }
  /** createCluster()'s words for options (startTimeout, maxMemory…) said as this start's (--start-timeout, or the config key). */
  const words = (text: string): string => flagWords(text, request.sources);
  /** Settings changed in the config since the start, which only a restart applies (the latest reload's finding). */
  let restartNeeded: string[] = [];
  let cluster: ManagedCluster;
  try {
    // A detached primary's workers write through it, into the log file with their tags.
    cluster = createCluster(detached === undefined ? request.options : { ...request.options, silent: true }, {
      primary,
      // A detached primary's worker output goes to the log file alone, which pauses a pipe while
      // the disk is behind and lets it go within a second when the disk stalls (log-file.ts):
      // workers then wait for it, rather than queue it in their memory without bound. In the
      // foreground, output also goes to corral's stdout, whose reader may stop for good (a paused
      // pager): there a blocking write would stop the app itself, so workers queue as Node's do.
      blockingOutput: detached !== undefined,
      // Each reload reads the config file and the env files again: a changed env takes effect.
      prepareReload: async () => {
        restartNeeded = await rereadConfig(argv, cwd, request, cluster, log);
      },
    });
  } catch (error) {
    throw optionError(error, request);
  }
  const logPath = logFilePath(cluster.options.name);
  // Failed starts and reloads name the options to change as flags (and the config file's keys).
  const optionWords = cliOptionWords(request.configFile, request.sources);
  const launch: LaunchInfo = {
    // With the CORRAL_ENV_* variables taken at the start: `corral restart` starts the app again from
    // this, and its `--env KEY` needs them as this start had them. (Only this user reads it: protocol.ts.)
    argv: withoutDetach(argv), cwd: process.cwd(), env: definedEnv(launchEnvironment()), execPath: process.execPath,
    execArgv: process.execArgv, bin: process.argv[1] ?? '', detached: detached !== undefined, pid: process.pid,
  };
  const pm2Notes = request.pm2Notes.length === 0 ? undefined
    : `PM2 keys left out, as they change nothing here: ${request.pm2Notes.join('; ')}`;
  // `-d`: the options are good; the primary itself runs in the background (detach.ts).
  if (request.detach && detached === undefined) {
    if (pm2Notes !== undefined) streams.err(`corral: ${pm2Notes}\n`);
    return startDetached(argv, logPath, streams);
  }
  // A detached primary has no terminal: its lines go to the log file alone (its stdout and stderr
  // are `<name>.primary.out`, for what Node prints outside corral's code and the log file's own troubles).
  const terminal = detached === undefined;
  let file: RotatingLogFile | undefined;
  if (request.logFile || detached !== undefined) {
    try {
      const name = cluster.options.name;
      file = new RotatingLogFile(logPath, {
        maxSize: request.logMaxSize,
        maxFiles: request.logMaxFiles,
        // Troubles of the file itself (full, stalled, removed) and what they cost: to stderr, the
        // terminal's, or a detached primary's own file (detach.ts), since the log may not take them.
        onWarning: (message) => {
          for (const line of formatLog(name, request.logFormat, 'warn', 'log-file', message)) streams.err(line);
        },
        notice: (message) => formatLog(name, request.logFormat, 'warn', 'log-lost', message).join(''),
      });
    } catch (error) {
      // The log file or its directory cannot be trusted (a symlink, another user's, open to others…): its message names the fix.
      if (error instanceof LogFileError) throw new CliError(`corral: ${error.message}`, EXIT.USAGE);
      throw new CliError(`corral: cannot open the log file ${logPath}: ${(error as Error).message}. Set CORRAL_LOG_DIR to a directory you can write.`, EXIT.USAGE);
    }
  }
  const log = createLogger(cluster.options.name, request.logFormat, (line, level) => {
    if (terminal) streams.err(line);
    file?.write(line);
    // The command that waits for a detached start prints its errors without the log's own prefix.
    if (level === 'error') detached?.noteError(request.logFormat === 'json' ? line : line.replace(/^\S+ corral\[[^\]]*\] ERROR /, ''));
  });
  const startedAt = Date.now();
  const cpuMeter = new CpuMeter(() => statusPids(cluster));
  // Type=notify: systemd hears READY=1, reloads, the stop and the watchdog pings (systemd-notify.ts).
  const notifyEnv = notifyEnvironment(process.env);
  const notifier = notifyEnv === undefined ? undefined : new SystemdNotifier(notifyEnv, (message) => log.log('error', 'systemd-notify', message));
  const stopNotifying = notifier === undefined || notifyEnv === undefined ? () => {} : notifySystemd(cluster, notifier, notifyEnv);
  const sayStopping = (why: string): void => void notifier?.stopping(`stopping: ${why}`);
  // The control socket first: a second start of a running name is refused before anything forks.
  const control = await ControlServer.open(socketPath(cluster.options.name, ensureRunDirectory()), cluster.options.name, {
    status: () => statusReport(cluster, startedAt, cpuMeter),
    reload: async () => ({ ...await inCliWords(cluster, 'reload', cluster.reload(), optionWords), restartNeeded }),
    scale: (request) => inCliWords(cluster, 'scale', cluster.scale(request.workers ?? ''), optionWords),
    stop: () => {
      log.log('info', 'stop', 'corral stop: shutting down gracefully');
      sayStopping('corral stop');
      return cluster.close();
    },
    launch: () => Promise.resolve(launch),
  });
  let outputEnded: (ms: number) => Promise<void> = () => Promise.resolve();
  const sinks: WorkerLineSink[] = [];
  if (terminal && (request.logPrefix !== undefined || file !== undefined)) sinks.push(terminalSink(streams, request.logPrefix, request.logFormat));
  if (file !== undefined) sinks.push(fileSink(file, request.logFormat));
  if (sinks.length > 0) {
    outputEnded = passWorkerOutput(cluster, sinks, () => {
      log.log('warn', 'output-paused', 'worker output is written slower than the workers write it: their output is paused ' +
        'until it is (their writes wait, nothing is dropped)');
    }, detached === undefined ? undefined : MAX_OUTPUT_PAUSE);
  }
  logLifecycle(cluster, log, words, optionWords);
  const unused = unusedPassedNames();
  if (unused.length > 0) {
    const flags = unused.map((name) => `--env ${name.slice(PASSED_ENV_PREFIX.length)}`).join(' or ');
    log.log('warn', 'env-unused', `${unused.join(', ')} ${unused.length === 1 ? 'is' : 'are'} set, but no ${flags} alone takes ` +
      `${unused.length === 1 ? 'it' : 'them'}: no worker gets ${unused.length === 1 ? 'its value' : 'their values'} ` +
      `(a unit's environment file holds the values of the --env KEY flags in its ExecStart)`, { names: unused });
  }
  if (pm2Notes !== undefined) log.log('info', 'pm2-keys', pm2Notes, { keys: request.pm2Notes.map((note) => note.split(' ')[0]) });
  const closed = new Promise<ShutdownResult>((resolve) => cluster.once('closed', resolve));
  const removeSignalHandlers = handleSignals(cluster, {
    onSignal: (signal, action) => {
      const delay = action === 'shutdown' || action === 'hangup' ? cluster.options.shutdownDelay : 0;
      if (action === 'shutdown' || action === 'hangup' || action === 'force') sayStopping(signal);
      const said = action !== 'reopen-logs' ? SIGNAL_ACTIONS[action]
        : file === undefined ? 'no log file to reopen (corral writes to its stdout and stderr; -d and --log-file write one)' : `reopening the log file ${file.path}`;
      log.log('info', 'signal', `${signal}: ${said}` +
        `${delay > 0 ? `, serving new connections ${delay} ms more first (--shutdown-delay)` : ''}`, { signal, action });
    },
    onError: (error, action) => log.log('error', `${action}-failed`, error.message, { action }),
    // logrotate's postrotate (`kill -USR1`): new lines go to a new file at the same path.
    onReopenLogs: () => file?.reopen(),
  });
  const { options } = cluster;
  /** Undoes the above when the app ends before it served (its cluster closed or never started). */
  const endBeforeServing = async (): Promise<void> => {
    removeSignalHandlers();
    await control.close();
    cpuMeter.close();
    stopNotifying();
  };
  try {
    // The admin port before anything else runs or is said: one that cannot be opened is the
    // error, and no line says that workers are starting (start() would open it first anyway).
    await cluster[kOpenAdmin]();
  } catch (error) {
    if (!(error instanceof AdminListenError)) throw error;
    await cluster.close();
    await endBeforeServing();
    log.log('error', 'admin-failed', `${request.sources.get('admin') ?? 'admin'}: ${error.message}`, { admin: `${error.address.host}:${error.address.port}` });
    await file?.close();
    return EXIT.USAGE;
  }
  if (request.primaryModule !== undefined) {
    try {
      await loadPrimaryModule(request.primaryModule);
    } catch (error) {
      if (!(error instanceof PrimaryModuleError)) throw error;
      await cluster.close();
      await endBeforeServing();
      log.log('error', 'primary-failed', error.message, { primary: error.file });
      await file?.close();
      return EXIT.APP_FAILED;
    }
    log.log('info', 'primary', `loaded the primary module ${request.primaryModule}`, { primary: request.primaryModule });
  }
  const memoryLimit = cgroupMemoryLimit();
  const memoryNote = memoryBudgetNote(memoryLimit, options.workers, options);
  // 'max' (the default) is one worker per CPU the app may use: the start line says where that number came from.
  const rawWorkers = request.options.workers;
  const budget = cpuBudget();
  const cpuNote = rawWorkers === undefined || rawWorkers === 'auto' || rawWorkers === 'max' || (typeof rawWorkers === 'number' && rawWorkers < 0)
    ? describeCpuBudget(budget) : undefined;
  // The workers' debugger: each slot's port, which a restart or a reload keeps (inspector-ports.ts).
  const inspector = cluster.inspector;
  const inspectorNote = describeInspector(inspector, options.workers);
  log.log('info', 'starting', `starting ${options.workers} worker${options.workers === 1 ? '' : 's'} of ${options.exec} ` +
    `(balancer ${nameOf(options.balancer)}${stickyNote(options.stickyHeader, options.stickyProxyHops)}, ready when ${options.readyWhen})` +
    (request.configFile === undefined ? '' : `, config ${request.configFile}`) + (cpuNote === undefined ? '' : `; CPUs: ${cpuNote}`) +
    (memoryNote === undefined ? '' : `; ${memoryNote}`) + (inspectorNote === undefined ? '' : `; ${inspectorNote}`), {
    workers: options.workers, exec: options.exec, balancer: nameOf(options.balancer), pid: process.pid,
    cpus: budget.cpus, ...(budget.quota === undefined ? {} : { cpuQuota: budget.quota }),
    ...(memoryLimit === undefined ? {} : { memoryLimit: memoryLimit.value }),
    ...(inspectorNote === undefined || inspector === undefined ? {} : {
      inspector: { host: inspector.host, ports: Array.from({ length: options.workers }, (_, slot) => slotPort(inspector, slot)) },
    }),
  });
  if (process.pid === 1) {
    // A container's init: signals are handled (corral's own handlers, PID 1 or not), but the
    // kernel hands every orphan to PID 1 to reap, and Node can reap only the processes it started.
    log.log('warn', 'pid-1', 'corral runs as PID 1: it handles SIGTERM and SIGINT, but processes the app leaves behind (double-forked, ' +
      "orphaned) cannot be reaped without native code and would stay as zombies. Give the container an init: 'docker run --init', " +
      "tini as the ENTRYPOINT, or shareProcessNamespace: true in a Kubernetes pod.");
  }
  let stopWatching = (): void => {};
  try {
    await cluster.start();
    const ms = Date.now() - startedAt;
    log.log('info', 'ready', `ready: ${options.workers} worker${options.workers === 1 ? '' : 's'} in ${ms} ms; ` +
      `control socket ${control.path}${cluster.adminUrl === undefined ? '' : `; admin ${cluster.adminUrl} (/metrics, dashboard at /)`}` +
      `${file === undefined ? '' : `; log file ${file.path}`}`,
    { workers: options.workers, ms, socket: control.path, ...(cluster.adminUrl === undefined ? {} : { admin: cluster.adminUrl }) });
    if (request.watch !== undefined) stopWatching = watchAndReload(cluster, request.watch, log);
    // The ready line is in the file before the command that waits says where to read it.
    await file?.flush();
    detached?.ready({ name: options.name, pid: process.pid, workers: options.workers, ms, socket: control.path, logFile: logPath });
  } catch (error) {
    if (!(error instanceof StartFailedError)) {
      // Closed by a signal while starting: fall through to the shutdown result.
      if (!(error instanceof CorralError && error.code === 'CORRAL_ERR_CLUSTER_CLOSED')) throw error;
    } else {
      await closed;
      await endBeforeServing();
      log.log('error', 'start-failed', error.messageIn(optionWords), { slot: error.failure.slot, exitCode: error.failure.exitCode });
      await file?.close();
      return EXIT.APP_FAILED;
    }
  }
  const result = await closed;
  stopWatching();
  stopNotifying();
  removeSignalHandlers();
  await control.close();
  cpuMeter.close();
  // The workers' last lines (their drain flushed them into the pipes) are passed on before exiting.
  await outputEnded(OUTPUT_END_TIMEOUT);
  const code = finish(result, log);
  await file?.close();
  return code;
}

/**
 * Before a reload: the config file and env files as they are now. The new environment is what the
 * new workers get; any other setting that changed needs a restart, and is said (and returned).
 * A config that no longer reads fails the reload, and the app runs on unchanged.
 */
async function rereadConfig(argv: readonly string[], cwd: string, started: StartRequest, cluster: ManagedCluster, log: Logger): Promise<string[]> {
  let fresh: StartRequest;
  try {
    fresh = await parseStart(argv, cwd);
  } catch (error) {
    throw Object.assign(new Error(`the config could not be read again, so nothing was reloaded and the app runs on unchanged: ${(error as Error).message.replace(/^corral: /, '')}`),
      { code: 'CORRAL_ERR_CONFIG' });
  }
  cluster.setEnv(fresh.options.env ?? {});
  const before = started.options as Record<string, unknown>;
  const after = fresh.options as Record<string, unknown>;
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => key !== 'env' && JSON.stringify(before[key]) !== JSON.stringify(after[key])).sort();
  if (changed.length > 0) {
    log.log('warn', 'restart-needed', `changed since the start, and applied only by a restart (corral restart ${cluster.options.name}): ` +
      `${changed.join(', ')}; this reload applies the new environment`, { changed });
  }
  return changed;
}

/** `--watch`: a reload when files change, said with what changed (watch.ts). */
function watchAndReload(cluster: ManagedCluster, paths: readonly string[], log: Logger): () => void {
  const watcher = watchFiles(paths, cluster.options.cwd, [logDirectory()], (files) => {
    log.log('info', 'watch', `changed: ${shortList(files)}; reloading`, { files: files.slice(0, 20) });
    cluster.reload().catch((error: unknown) => {
      // A failed reload (a syntax error being typed) leaves the old workers serving, and was said
      // ('reloadFailed'); a stop under way makes it moot.
      if (error instanceof ReloadFailedError || (error instanceof CorralError && (error.code === 'CORRAL_ERR_CLUSTER_CLOSED' || error.code === 'CORRAL_ERR_CANCELLED'))) return;
      log.log('error', 'reload-failed', (error as Error).message);
    });
  });
  log.log('info', 'watching', `watching ${paths.join(', ')} for changes (node_modules and .git left out): a change reloads the app`, { paths });
  return () => watcher.close();
}

function finish(result: ShutdownResult, log: Logger): number {
  const cancelled = result.cancelled.length === 0 ? '' : `; cancelled what the stop overtook: ${result.cancelled.join(', ')}`;
  log.log(result.clean ? 'info' : 'warn', 'stopped', `${describeStop(result)}${cancelled}`, {
    cancelled: result.cancelled,
    ...(result.clean ? {} : { killed: killedFields(result.killed), failed: result.failed.map((exit) => ({ slot: exit.slot, pid: exit.pid ?? null, code: exit.code, signal: exit.signal })) }),
  });
  return result.clean ? EXIT.OK : EXIT.APP_FAILED;
}

function logLifecycle(cluster: ManagedCluster, log: Logger, words: (text: string) => string, optionWords: OptionWords): void {
  const who = (slot: number | undefined, id: number, pid: number | undefined): string => `worker ${id} (slot ${slot ?? '?'}, pid ${pid ?? '?'})`;
  cluster.on('restart', ({ slot, previous, delay, crashes }) => {
    const exit = previous.process.signalCode ?? `code ${previous.process.exitCode}`;
    log.log(crashes > 0 ? 'warn' : 'info', 'restart', `${who(slot, previous.id, previous.process.pid)} exited (${exit}); ` +
      `restarting in ${delay} ms${crashes > 0 ? ` (crash ${crashes} in a row)` : ''}`, { slot, crashes, delay });
  });
  cluster.on('crashloop', ({ slot, crashes, retryIn, serving }) => {
    const others = serving === 0 ? 'no slot is serving' : `${serving} slot${serving === 1 ? '' : 's'} serving meanwhile`;
    log.log('error', 'crashloop', `slot ${slot} is crash-looping (${crashes} early crashes in a row within the window); ` +
      `retrying every ${retryIn} ms, ${others}`, { slot, crashes, retryIn, serving });
  });
  cluster.on('health', (action) => {
    log.log('warn', 'health', words(describeHealthAction(action)), {
      slot: action.slot, pid: action.worker.process.pid, reason: action.reason, action: action.action, value: action.value, limit: action.limit,
    });
  });
  cluster.on('draining', (worker, reason) => {
    if (reason !== 'recycle') return;
    const slot = cluster.slotOf(worker);
    log.log('info', 'recycled', `${who(slot, worker.id, worker.process.pid)} drains: its replacement serves the slot`, { slot, pid: worker.process.pid });
  });
  cluster.on('leftovers', ({ slot, worker, pids }) => {
    log.log('warn', 'leftovers', `${who(slot, worker.id, worker.process.pid)} had left ${pids.length} process` +
      `${pids.length === 1 ? '' : 'es'} it started running (pid ${shortList(pids)}); SIGKILLed them`, { slot, pid: worker.process.pid, pids });
  });
  cluster.on('startFailed', (failure) => {
    log.log('warn', 'start-failed', describeStartFailure(failure, optionWords), { slot: failure.slot, pid: failure.pid, exitCode: failure.exitCode });
  });
  cluster.on('reloading', (generation) => log.log('info', 'reloading', `rolling reload to generation ${generation}`, { generation }));
  cluster.on('reload', ({ generation, duration, killed }) => {
    log.log(killed.length > 0 ? 'warn' : 'info', 'reloaded', `reloaded: every worker runs generation ${generation} (${duration} ms)${killedNote(killed, 'old worker')}`,
      { generation, ms: duration, ...(killed.length > 0 ? { killed: killedFields(killed) } : {}) });
  });
  // Reloads, scalings and stops say their kills in their own line; these drains have none.
  cluster.on('killed', (kill) => {
    if (kill.reason !== 'recycle' && kill.reason !== 'signal') return;
    log.log('warn', 'killed', describeKilled([kill], kill.reason === 'recycle' ? 'recycled worker' : 'signalled worker'),
      { reason: kill.reason, killed: killedFields([kill]) });
  });
  cluster.on('reloadFailed', (error) => log.log('error', 'reload-failed', error.messageIn(optionWords), { slot: error.failure.slot }));
  cluster.on('scale', ({ workers, killed }) => log.log(killed.length > 0 ? 'warn' : 'info', 'scaled',
    `scaled to ${workers} worker${workers === 1 ? '' : 's'}${killedNote(killed)}`, { workers, ...(killed.length > 0 ? { killed: killedFields(killed) } : {}) }));
}

/** ` by x-forwarded-for, 2 proxies in front` for the start line: what the sticky balancer reads the client from. */
function stickyNote(header: string | undefined, hops: number): string {
  if (header === undefined) return '';
  return ` by ${header}${FORWARDING_HEADERS.has(header) ? `, ${hops} prox${hops === 1 ? 'y' : 'ies'} in front` : ''}`;
}

/** An option error from createCluster(), told in terms of the flag or config key that set it (cli-words.ts). */
export function optionError(error: unknown, request: StartRequest): unknown {
  // The script was checked (app-script.ts), so this is one removed since: said without createCluster()'s `exec`.
  if (error instanceof ExecNotFoundError) return new CliError(`corral: cannot start ${error.resolved ?? error.exec}: ${error.reason}.`, EXIT.APP_FAILED);
  const option = error instanceof InvalidOptionError ? error.option
    : error instanceof InvalidWorkerCountError ? 'workers'
      : error instanceof InvalidBalancerError ? 'balancer' : undefined;
  if (option === undefined || !(error instanceof Error)) return error;
  return new CliError(`corral: ${optionErrorText(error.message, option, request.sources)}`, EXIT.USAGE);
}

/**
 * A control command's failure in the CLI's words, not createCluster()'s: one that came once the app
 * began to stop says so; a failed reload names flags; `corral scale` out of range names the count.
 */
async function inCliWords<T>(cluster: ManagedCluster, action: string, operation: Promise<T>, words: OptionWords): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof CorralError && error.code === 'CORRAL_ERR_CLUSTER_CLOSED') {
      throw Object.assign(new Error(`${cluster.options.name} is stopping, so the ${action} was not started.`), { code: error.code });
    }
    if (error instanceof ReloadFailedError) throw Object.assign(new Error(error.messageIn(words)), { code: error.code });
    if (error instanceof InvalidOptionError && error.option === 'scale') {
      throw Object.assign(new Error(error.message.replace('Expected `scale` to be ', 'the count must be ')), { code: error.code });
    }
    throw error;
  }
}

/** The environment as strings (what a new start gets). */
function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
