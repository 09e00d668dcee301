/**
 * diagnostics_channel channels corral publishes on, for tracing and for tests that must observe
 * the balancer without timing assumptions. Subscribe with `diagnostics_channel.subscribe(name, fn)`.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

export interface ConnectionEvent {
  /** The listen key (address:port:addressType:fd[:index]). */
  key: string;
  /** The worker involved, when there is one. */
  workerId?: number;
}

/** A connection was accepted by the primary and queued for a worker. */
export const connectionQueued = diagnosticsChannel.channel('corral:connection:queued');
/** A queued connection was sent to a worker (not yet acknowledged). */
export const connectionHandoff = diagnosticsChannel.channel('corral:connection:handoff');
/** A worker refused a hand-off (server closing, or at maxConnections); it goes to another worker. */
export const connectionRefused = diagnosticsChannel.channel('corral:connection:refused');
/** A hand-off in flight to a worker that died was taken back and queued for another worker. */
export const connectionReclaimed = diagnosticsChannel.channel('corral:connection:reclaimed');
