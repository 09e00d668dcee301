/**
 * The workers' debugger: the app's own inspector flags (`--node-args "--inspect=…"`, `execArgv`,
 * `NODE_OPTIONS`) say the host and a base port, and each slot's worker listens on base + slot + 1.
 * node:cluster numbers its workers from the primary's port and goes on counting with each fork, so
 * a restarted or reloaded worker came back on a new port; a slot's port stays the same, so that a
 * debugger can attach again to the same address. (The base itself is left to the primary, which
 * holds it when NODE_OPTIONS starts its own inspector too.)
 */
import { InvalidOptionError } from '../errors.js';

/** How the inspector starts: at once, or stopping before the app's first line, or waiting for a debugger first. */
export type InspectorMode = 'inspect' | 'inspect-brk' | 'inspect-wait';

export interface InspectorPlan {
  /** undefined: the flags name a port only (`--inspect-port`); the inspector opens on SIGUSR1. */
  readonly mode: InspectorMode | undefined;
  readonly host: string;
  /** The port the flags name (Node's default 9229); 0: each worker gets a port the system chooses. */
  readonly base: number;
}

/** Node's defaults (src/node_options.h). */
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 9229;
const MIN_PORT = 1024;
const MAX_PORT = 65535;

const MODE_FLAG = /^--(inspect|inspect-brk|inspect-wait)(?:=(.*))?$/s;
const PORT_FLAG = /^--(?:inspect-port|debug-port)(?:=(.*))?$/s;
const NEGATED_MODE = /^--no-(inspect|inspect-brk|inspect-wait)$/;

/**
 * The inspector the workers' Node options ask for, or undefined when they ask for none. NODE_OPTIONS
 * is read first and the command line's options after it, as Node does (the later flag wins).
 * Throws InvalidOptionError for a port Node would refuse, naming where it was given.
 */
export function inspectorPlan(execArgv: readonly string[], nodeOptions: string | undefined): InspectorPlan | undefined {
  const state: { mode: InspectorMode | undefined; host: string; port: number; seen: boolean } = {
    mode: undefined, host: DEFAULT_HOST, port: DEFAULT_PORT, seen: false,
  };
  read(splitNodeOptions(nodeOptions ?? ''), 'NODE_OPTIONS', state);
  read(execArgv, 'execArgv', state);
  return state.seen ? { mode: state.mode, host: state.host, base: state.port } : undefined;
}

/** The NODE_OPTIONS a worker gets: its environment's, else the primary's (which it inherits). */
export function workerNodeOptions(env: Readonly<Record<string, string | undefined>>): string | undefined {
  return Object.hasOwn(env, 'NODE_OPTIONS') ? env['NODE_OPTIONS'] : process.env['NODE_OPTIONS'];
}

/** The port of the worker in `slot`: base + slot + 1, wrapping from 65535 to 1024 as node:cluster does. */
export function slotPort(plan: InspectorPlan, slot: number): number {
  if (plan.base === 0) return 0;
  const port = plan.base + slot + 1;
  return port > MAX_PORT ? port - MAX_PORT + MIN_PORT - 1 : port;
}

/** `127.0.0.1:9401`, `[::1]:9401`. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Node options a worker in `slot` gets after the app's own: its slot's port, or, while another
 * worker of the slot holds that port (the one it replaces), no inspector at all: it opens its
 * inspector once the port is free (inspector-slots.ts). Node would otherwise fail to listen, say
 * so in its stderr, and run without one.
 */
export function inspectorArgs(plan: InspectorPlan, slot: number, portTaken: boolean): string[] {
  if (!portTaken || plan.mode === undefined) return [`--inspect-port=${hostPort(plan.host, slotPort(plan, slot))}`];
  return [...(plan.mode === 'inspect' ? [] : [`--no-${plan.mode}`]), '--no-inspect'];
}

/** For the start line: `inspector 127.0.0.1:9401 to 9402 (port 9401 + slot; --inspect-brk)`; undefined when it does not open by itself. */
export function describeInspector(plan: InspectorPlan | undefined, workers: number): string | undefined {
  if (plan?.mode === undefined) return undefined;
  const flag = plan.mode === 'inspect' ? '' : `; --${plan.mode}`;
  if (plan.base === 0) return `inspector on ${plan.host}, each worker on a port the system chooses${flag}`;
  const first = slotPort(plan, 0);
  if (workers === 1) return `inspector on ${hostPort(plan.host, first)} (slot 0${flag})`;
  return `inspector on ${hostPort(plan.host, first)} to ${slotPort(plan, workers - 1)} (port ${first} + slot${flag})`;
}

function read(args: readonly string[], source: 'NODE_OPTIONS' | 'execArgv', state: { mode: InspectorMode | undefined; host: string; port: number; seen: boolean }): void {
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    const mode = MODE_FLAG.exec(arg);
    const port = PORT_FLAG.exec(arg);
    const negated = NEGATED_MODE.exec(arg);
    if (mode !== null) {
      // --inspect-brk and --inspect-wait each imply --inspect; the stronger of those given stays.
      const given = mode[1] as InspectorMode;
      if (state.mode === undefined || state.mode === 'inspect') state.mode = given;
      state.seen = true;
      if (mode[2] !== undefined) update(state, mode[2], arg, source);
    } else if (port !== null) {
      state.seen = true;
      // `--inspect-port 9400` takes the next argument, as Node's options with a value do.
      const value = port[1] ?? args[index + 1];
      if (port[1] === undefined) index += 1;
      if (value !== undefined) update(state, value, port[1] === undefined ? `${arg} ${value}` : arg, source);
    } else if (negated !== null) {
      state.mode = negated[1] === 'inspect' ? undefined : state.mode === negated[1] ? 'inspect' : state.mode;
    }
  }
}

/** Node's `[host:]port` (SplitHostPort): `9400`, `host:9400`, `:9400`, `[::1]:9400`, or a host alone. */
function update(state: { host: string; port: number }, value: string, arg: string, source: 'NODE_OPTIONS' | 'execArgv'): void {
  if (value.startsWith('[') && value.endsWith(']')) {
    state.host = value.slice(1, -1);
    return;
  }
  const colon = value.lastIndexOf(':');
  const portText = colon === -1 ? value : value.slice(colon + 1);
  if (colon === -1 && !/^\d+$/.test(value)) {
    state.host = value;
    return;
  }
  if (colon > 0) state.host = value.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  if (port === 0 || (port >= MIN_PORT && port <= MAX_PORT)) {
    state.port = port;
    return;
  }
  throw new InvalidOptionError(source, `Node options whose inspector port is 0 or from ${MIN_PORT} to ${MAX_PORT} (as Node requires)`, arg,
    `Give it a port such as ${DEFAULT_PORT}: the worker in each slot listens on that port + slot + 1.`);
}

/**
 * NODE_OPTIONS as Node splits it: on spaces, with double quotes around a value that has spaces
 * (and a backslash escaping the next character inside them).
 */
export function splitNodeOptions(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let started = false;
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quoted && char === '\\' && index + 1 < text.length) {
      current += text[++index]!;
    } else if (char === '"') {
      quoted = !quoted;
      started = true;
    } else if (char === ' ' && !quoted) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}
