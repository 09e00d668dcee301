/**
 * `corral start ecosystem.config.js -d` with several apps: each app is a `corral start … --only
 * <name> -d` of its own (its own primary, control socket and log file; `corral restart <name>`
 * starts it the same way), all launched at once and said in the file's order.
 */
import { launchDetached, describeReady } from './detach.js';
import { EXIT } from './exit-codes.js';
import { logFilePath } from './log-paths.js';
import type { CliOutput } from './output-sink.js';
import type { SeveralAppsError } from './start-options.js';

export async function startSeveral(argv: readonly string[], apps: SeveralAppsError, io: CliOutput): Promise<number> {
  if (apps.pm2Notes.length > 0) io.err(`corral: PM2 keys left out, as they change nothing here: ${apps.pm2Notes.join('; ')}\n`);
  const outcomes = await Promise.all(apps.names.map((name) => launchDetached(withOnly(argv, name), logFilePath(name))));
  let code: number = EXIT.OK;
  const failed: string[] = [];
  outcomes.forEach((outcome, index) => {
    const name = apps.names[index]!;
    if (outcome.ok) io.out(describeReady(outcome.ready));
    else {
      io.err(`${name}: did not start:\n${outcome.message.replace(/^/gm, '  ')}\n`);
      failed.push(name);
      if (code === EXIT.OK) code = outcome.code;
    }
  });
  if (failed.length > 0) {
    const running = apps.names.filter((name) => !failed.includes(name));
    io.err(`corral: ${failed.length} of ${apps.names.length} apps did not start (${failed.join(', ')})` +
      `${running.length === 0 ? '' : `; ${running.join(', ')} ${running.length === 1 ? 'runs' : 'run'} (corral stop all stops ${running.length === 1 ? 'it' : 'them'})`}.\n`);
  }
  return code;
}

/** The arguments with `--only <name>` in place of any --only given (app arguments after `--` left alone). */
function withOnly(argv: readonly string[], name: string): string[] {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const own: string[] = [];
  for (let index = 0; index < end; index += 1) {
    const arg = argv[index]!;
    if (arg === '--only') index += 1;
    else if (!arg.startsWith('--only=')) own.push(arg);
  }
  return [...own, `--only=${name}`, ...argv.slice(end)];
}
