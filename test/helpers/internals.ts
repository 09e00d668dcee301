// corral's internal modules, for unit tests of the lifecycle algorithms. They are not exported by
// the package: types come from dist/ as seen from this source file, values from dist/ as seen
// from the compiled file (build/test/helpers/).
import type * as Supervision from '../../dist/managed/supervision.js';
import type * as RollingReload from '../../dist/managed/rolling-reload.js';
import type * as Scaling from '../../dist/managed/scaling.js';
import type * as Logger from '../../dist/cli/logger.js';
import type * as StartOptions from '../../dist/cli/start-options.js';
import type * as ConfigSchema from '../../dist/cli/config-schema.js';
import type * as Dispatcher from '../../dist/primary/balancers/dispatcher.js';
import type * as Symbols from '../../dist/internal/symbols.js';
import type * as MemoryBudget from '../../dist/cli/memory-budget.js';
import type * as ReuseportSupport from '../../dist/primary/balancers/reuseport-support.js';
import type * as AppAggregation from '../../dist/observability/app-aggregation.js';
import type * as Exposition from '../../dist/observability/exposition.js';
import type * as MonitView from '../../dist/cli/monit-view.js';
import type * as CpuBudget from '../../dist/options/cpu-budget.js';
import type * as LogFile from '../../dist/cli/log-file.js';
import type * as ForwardedClient from '../../dist/primary/balancers/forwarded-client.js';
import type * as HttpHead from '../../dist/primary/balancers/http-head.js';
import type * as StickyStrategy from '../../dist/primary/balancers/strategies/sticky.js';
import type * as OptionWords from '../../dist/cli/option-words.js';
import type * as ClusterPrimary from '../../dist/primary/cluster-primary.js';
import type * as InspectorPorts from '../../dist/managed/inspector-ports.js';
import type * as ControlServer from '../../dist/control/server.js';
import type * as OperationQueue from '../../dist/managed/operation-queue.js';
import type * as ManagedWorker from '../../dist/managed/managed-worker.js';

const load = <T>(file: string): Promise<T> => import(new URL(`../../../dist/${file}`, import.meta.url).href) as Promise<T>;

export const supervision = await load<typeof Supervision>('managed/supervision.js');
export const rollingReload = await load<typeof RollingReload>('managed/rolling-reload.js');
export const scaling = await load<typeof Scaling>('managed/scaling.js');
export const logger = await load<typeof Logger>('cli/logger.js');
export const startOptions = await load<typeof StartOptions>('cli/start-options.js');
export const configSchema = await load<typeof ConfigSchema>('cli/config-schema.js');
export const dispatcher = await load<typeof Dispatcher>('primary/balancers/dispatcher.js');
export const symbols = await load<typeof Symbols>('internal/symbols.js');
export const memoryBudget = await load<typeof MemoryBudget>('cli/memory-budget.js');
export const reuseportSupport = await load<typeof ReuseportSupport>('primary/balancers/reuseport-support.js');
export const appAggregation = await load<typeof AppAggregation>('observability/app-aggregation.js');
export const exposition = await load<typeof Exposition>('observability/exposition.js');
export const monitView = await load<typeof MonitView>('cli/monit-view.js');
export const cpuBudget = await load<typeof CpuBudget>('options/cpu-budget.js');
export const logFile = await load<typeof LogFile>('cli/log-file.js');
export const forwardedClient = await load<typeof ForwardedClient>('primary/balancers/forwarded-client.js');
export const httpHead = await load<typeof HttpHead>('primary/balancers/http-head.js');
export const stickyStrategy = await load<typeof StickyStrategy>('primary/balancers/strategies/sticky.js');
export const optionWords = await load<typeof OptionWords>('cli/option-words.js');
export const clusterPrimary = await load<typeof ClusterPrimary>('primary/cluster-primary.js');
export const inspectorPorts = await load<typeof InspectorPorts>('managed/inspector-ports.js');
export const controlServer = await load<typeof ControlServer>('control/server.js');
export const operationQueue = await load<typeof OperationQueue>('managed/operation-queue.js');
export const managedWorker = await load<typeof ManagedWorker>('managed/managed-worker.js');
