/**
 * The one logging interface of Turku: the API server, the agent and storage programs and the
 * charms all log one-line messages at these four levels, and never pass secrets. How a line is
 * written differs (lib/api/logger.ts, lib/common/workload-log.ts, the charm's juju-log), so
 * `Written` is what a call returns: nothing for loggers that write at once, a promise for the
 * charm's, whose lines go out through a hook tool.
 */

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface Logger<Written = void> {
  debug(message: string): Written;
  info(message: string): Written;
  warning(message: string): Written;
  error(message: string): Written;
}
