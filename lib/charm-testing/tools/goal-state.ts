// goal-state: what Juju intends for the unit's application and its relations
// (docs/charm-runtime.md, "Hook tools").
import { type Unit, compareUnitNames, ownEnd, remoteApp } from '../model.js';
import { type ToolContext, unitOf } from './context.js';
import { checkEmpty, parseFlags } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

interface GoalStatus {
  status: string;
  since: string;
}

function unitGoal(unit: Unit): GoalStatus {
  return { status: unit.life === 'alive' ? unit.workloadStatus.status : unit.life, since: unit.workloadStatus.since };
}

function unitsOf(ctx: ToolContext, app: string): Unit[] {
  return Object.values(ctx.model.units)
    .filter((unit) => unit.app === app && unit.life !== 'dead')
    .sort((a, b) => compareUnitNames(a.name, b.name));
}

export function goalState(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed, ['yaml', 'json']);
  checkEmpty(parsed.positional);
  const own = unitOf(ctx);
  const since = ctx.model.now().toISOString();
  const units: Record<string, GoalStatus> = {};
  for (const unit of unitsOf(ctx, own.app)) units[unit.name] = unitGoal(unit);
  const relations: Record<string, Record<string, GoalStatus>> = {};
  for (const relation of Object.values(ctx.model.relations).sort((a, b) => a.id - b.id)) {
    const end = ownEnd(relation, own.app);
    const other = remoteApp(relation, own.app);
    if (end === undefined || other === undefined || relation.life === 'dead') continue;
    const entry = (relations[end.endpoint] ??= {});
    entry[other] = { status: relation.life === 'alive' ? 'joined' : relation.life, since };
    for (const unit of unitsOf(ctx, other)) entry[unit.name] = unitGoal(unit);
  }
  return emit(parsed, { units, relations }, format);
}
