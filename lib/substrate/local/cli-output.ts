// turku-local's output in Juju 3's shapes: YAML or JSON documents, and `juju run`'s task views
// (keyed by unit for --format json|yaml, the results as YAML for plain).
import { dump } from 'js-yaml';

import { CliError } from './cli-args.js';

export function formatted(value: unknown, format: string | undefined, fallback: 'yaml' | 'json'): string {
  const chosen = format ?? fallback;
  if (chosen === 'json') return `${JSON.stringify(value)}\n`;
  if (chosen === 'yaml') return dump(value, { lineWidth: -1 });
  throw new CliError(`invalid value "${chosen}" for option --format: unknown format`);
}

/** Juju's agent tag of a unit: `unit-turku-agent-1`. */
export function unitTag(unit: string): string {
  return `unit-${unit.replace('/', '-')}`;
}

export interface Task {
  id: string;
  unit: string;
  status: string;
  message: string;
  results: Record<string, unknown>;
  log: string[];
}

/** One task as `juju run --format json|yaml` shows it, keyed by unit. */
export function taskView(task: Task): Record<string, unknown> {
  return {
    [task.unit]: {
      id: task.id,
      ...(task.log.length === 0 ? {} : { log: task.log }),
      ...(task.message === '' ? {} : { message: task.message }),
      results: task.results,
      status: task.status,
      unit: task.unit,
    },
  };
}

/** `juju run`'s plain output: the results (less return-code/stdout/stderr) as YAML, then stdout, stderr. */
export function plainTask(task: Task): string {
  const { 'return-code': _code, stdout, stderr, ...rest } = task.results;
  let text = '';
  if (task.status === 'failed') text += `Action id ${task.id} failed: ${task.message}\n`;
  text += Object.keys(rest).length > 0 ? dump(rest, { lineWidth: -1 }) : `Task ${task.id} ${task.status}\n`;
  if (typeof stdout === 'string' && stdout !== '') text += `${stdout.replace(/\n+$/, '')}\n`;
  if (typeof stderr === 'string' && stderr !== '') text += `${stderr.replace(/\n+$/, '')}\n`;
  return text;
}

export interface LogLine {
  unit: string;
  level: string;
  source: string;
  event: string;
  message: string;
}
