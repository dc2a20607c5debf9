// `juju status`'s default (tabular) output, from its JSON form: the model line, then the
// applications, units (subordinates indented under their principal) and machines tables, and
// the integrations, as Juju 3 prints them.
type Json = Record<string, unknown>;

function object(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function unitRow(name: string, unit: Json, machine: string): string[] {
  const workload = object(unit['workload-status']);
  const agent = object(unit['juju-status']);
  const ports = Array.isArray(unit['open-ports']) ? unit['open-ports'].map(text).join(',') : '';
  return [
    `${name}${unit['leader'] === true ? '*' : ''}`,
    text(workload['current']),
    text(agent['current']),
    machine,
    text(unit['public-address']),
    ports,
    text(workload['message']),
  ];
}

export function statusTable(status: unknown, controller = 'local'): string {
  const root = object(status);
  const model = object(root['model']);
  const applications = object(root['applications']);
  const machines = object(root['machines']);
  const now = new Date().toISOString().slice(11, 19);
  const sections = [
    table([
      ['Model', 'Controller', 'Cloud/Region', 'Version', 'Timestamp'],
      [text(model['name']), controller, 'local/localhost', text(model['version']), `${now}Z`],
    ]),
  ];
  const appRows = [['App', 'Version', 'Status', 'Scale', 'Charm', 'Channel', 'Rev', 'Exposed', 'Message']];
  const unitRows = [['Unit', 'Workload', 'Agent', 'Machine', 'Public address', 'Ports', 'Message']];
  const integrations: string[][] = [['Integration provider', 'Requirer', 'Interface', 'Type', 'Message']];
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(applications).sort(([a], [b]) => a.localeCompare(b))) {
    const app = object(value);
    const units = object(app['units']);
    const appStatus = object(app['application-status']);
    appRows.push([
      name,
      text(app['version']),
      text(appStatus['current']),
      app['subordinate-to'] === undefined ? String(Object.keys(units).length) : '',
      text(app['charm-name']),
      '',
      text(app['charm-rev']),
      app['exposed'] === true ? 'yes' : 'no',
      text(appStatus['message']),
    ]);
    for (const [unitName, unitValue] of Object.entries(units)) {
      const unit = object(unitValue);
      unitRows.push(unitRow(unitName, unit, text(unit['machine'])));
      for (const [subName, sub] of Object.entries(object(unit['subordinates']))) {
        unitRows.push(unitRow(`  ${subName}`, object(sub), ''));
      }
    }
    for (const [endpoint, list] of Object.entries(object(app['relations']))) {
      for (const entry of Array.isArray(list) ? list.map(object) : []) {
        const other = text(entry['related-application']);
        // Each integration shows under both its applications: list it once.
        const key = `${[name, other].sort().join(' ')} ${text(entry['interface'])}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const peer = other === name;
        integrations.push([
          `${name}:${endpoint}`,
          peer ? `${name}:${endpoint}` : other,
          text(entry['interface']),
          peer ? 'peer' : entry['scope'] === 'container' ? 'subordinate' : 'regular',
          '',
        ]);
      }
    }
  }
  const machineRows = [['Machine', 'State', 'Address', 'Inst id', 'Base', 'AZ', 'Message']];
  for (const [id, value] of Object.entries(machines)) {
    const machine = object(value);
    const base = object(machine['base']);
    machineRows.push([
      id,
      text(object(machine['juju-status'])['current']),
      text(machine['dns-name']),
      `machine-${id}`,
      `${text(base['name'])}@${text(base['channel'])}`,
      '',
      '',
    ]);
  }
  if (appRows.length > 1) sections.push(table(appRows), table(unitRows), table(machineRows));
  if (integrations.length > 1) sections.push(table(integrations));
  return `${sections.join('\n\n')}\n`;
}
