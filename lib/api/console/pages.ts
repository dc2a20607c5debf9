import { html, query, type Html } from './html.js';
import {
  MACHINE_STATES,
  SOURCE_STATES,
  type FleetCounts,
  type HistoryEntry,
  type LogEntry,
  type MachineState,
  type MachineSummary,
  type Page,
  type SourceDetail,
  type SourceState,
  type SourceSummary,
  type StorageSummary,
} from './queries.js';

/**
 * The console's pages as plain template functions (docs/api.md, "Web console"). Every value goes
 * through `html`, which escapes it; there is no script, and forms carry the session's CSRF token.
 */

export interface Layout {
  readonly admin: string;
  readonly csrf: string;
  /** One line about the action just done (from the redirect's query string). */
  readonly flash?: string | undefined;
}

function layout(title: string, context: Layout, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width" />
        <title>${title} · Turku</title>
        <link rel="stylesheet" href="/console/style.css" />
      </head>
      <body>
        <header>
          <a class="brand" href="/console">Turku</a> <a href="/console">Overview</a
          ><a href="/console/machines">Machines</a><a href="/console/sources">Sources</a>
          <a href="/console/storages">Storages</a><a href="/console/logs">Backup logs</a>
          <form method="post" action="/console/logout">
            ${csrfField(context.csrf)}<span>${context.admin}</span> <button type="submit">Log out</button>
          </form>
        </header>
        <main>
          ${context.flash === undefined ? '' : html`<p class="flash">${context.flash}</p>`}
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}" />`;
}

// ---- formatting -----------------------------------------------------------------------------

function when(date: Date | null): Html {
  if (date === null) return html`<span class="muted">never</span>`;
  const text = date.toISOString().replace('T', ' ').slice(0, 19);
  return html`<time datetime="${date.toISOString()}">${text}</time>`;
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]!}`;
}

function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes} min ${Math.round(seconds % 60)} s`
    : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function sourceLink(uuid: string, name: string, text: unknown = name): Html {
  return html`<a href="/console/source${query({ machine: uuid, name })}">${text}</a>`;
}

function stateLabel(state: SourceState): Html {
  return html`<span class="${state}">${state}</span>`;
}

function result(entry: HistoryEntry): Html {
  if (entry.skipped) return html`<span class="warn">skipped</span>`;
  return entry.success ? html`<span class="ok">ok</span>` : html`<span class="bad">failed</span>`;
}

function pager(path: string, params: Record<string, string | undefined>, page: Page<unknown>): Html {
  return html`<nav class="pages">
    ${page.page > 1 ? html`<a href="${path}${query({ ...params, page: page.page - 1 })}">← previous</a>` : ''}
    <span>page ${page.page}</span>
    ${page.hasNext ? html`<a href="${path}${query({ ...params, page: page.page + 1 })}">next →</a>` : ''}
  </nav>`;
}

function switchForm(csrf: string, action: string, fields: Record<string, string>, active: boolean, what = ''): Html {
  return html`<form class="inline" method="post" action="${action}">
    ${csrfField(csrf)}
    ${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`)}
    <input type="hidden" name="active" value="${active ? '0' : '1'}" />
    <button type="submit">${active ? 'Deactivate' : 'Activate'}${what === '' ? '' : ` ${what}`}</button>
  </form>`;
}

function capacity(storage: StorageSummary): Html {
  const used = Math.max(0, storage.totalMib - storage.availableMib);
  const percent = storage.totalMib > 0 ? Math.round((used / storage.totalMib) * 100) : 0;
  return html`<meter
      min="0"
      max="${storage.totalMib}"
      value="${used}"
      high="${storage.totalMib * 0.8}"
      optimum="0"
      title="${percent}% used"
    >
      ${percent}%
    </meter>
    ${percent}% used, ${formatBytes(storage.availableMib * 2 ** 20)} free of ${formatBytes(storage.totalMib * 2 ** 20)}`;
}

// ---- pages ----------------------------------------------------------------------------------

export function loginPage(loginCsrf: string, problem?: string): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width" />
        <title>Log in · Turku</title>
        <link rel="stylesheet" href="/console/style.css" />
      </head>
      <body>
        <form class="login" method="post" action="/console/login">
          <h1>Turku console</h1>
          ${problem === undefined ? '' : html`<p class="bad">${problem}</p>`}
          <input type="hidden" name="csrf" value="${loginCsrf}" />
          <label for="name">Admin name</label><input id="name" name="name" autocomplete="username" required />
          <label for="secret">Secret</label
          ><input id="secret" name="secret" type="password" autocomplete="current-password" required />
          <button type="submit">Log in</button>
        </form>
      </body>
    </html>`;
}

function sourceRows(context: Layout, sources: readonly SourceSummary[], withReason: boolean): Html {
  if (sources.length === 0) return html`<p class="muted">None.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Machine</th>
        <th>Source</th>
        <th>State</th>
        <th>Failures</th>
        <th>Last backup</th>
        <th>Next due</th>
        ${withReason ? html`<th>Last failure</th>` : ''}
        <th></th>
      </tr>
    </thead>
    <tbody>
      ${sources.map(
        (source) =>
          html`<tr>
            <td>${source.unitName}</td>
            <td>${sourceLink(source.machineUuid, source.name)}</td>
            <td>${stateLabel(source.state)}</td>
            <td class="num">${source.failureCount}</td>
            <td>${when(source.lastBackedUp)}</td>
            <td>${when(source.nextBackup)}</td>
            ${withReason ? html`<td><pre>${source.lastFailure ?? ''}</pre></td>` : ''}
            <td>${backupNowForm(context.csrf, source)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function backupNowForm(csrf: string, source: SourceSummary): Html {
  if (!source.active || !source.machineActive) return html``;
  return html`<form class="inline" method="post" action="/console/sources/backup">
    ${csrfField(csrf)} <input type="hidden" name="machine" value="${source.machineUuid}" /><input
      type="hidden"
      name="name"
      value="${source.name}"
    />
    <button type="submit">Back up now</button>
  </form>`;
}

export function overviewPage(
  context: Layout,
  counts: FleetCounts,
  attention: { readonly failing: SourceSummary[]; readonly overdue: SourceSummary[] },
  storages: readonly StorageSummary[],
  latest: readonly LogEntry[],
): Html {
  const card = (label: string, value: number, href: string, cls = '') =>
    html`<a class="card" href="${href}"><span>${label}</span><b class="${cls}">${value}</b></a>`;
  return layout(
    'Overview',
    context,
    html`<div class="cards">
        ${card('Machines', counts.machines, '/console/machines')}
        ${card('Active machines', counts.machinesActive, '/console/machines?state=active')}
        ${card('Sources', counts.sources, '/console/sources')}
        ${card('Failing', counts.sourcesFailing, '/console/sources?state=failing', counts.sourcesFailing > 0 ? 'bad' : '')}
        ${card('Overdue', counts.sourcesOverdue, '/console/sources?state=overdue', counts.sourcesOverdue > 0 ? 'warn' : '')}
      </div>
      <h2>Failing sources</h2>
      ${sourceRows(context, attention.failing, true)}
      <h2>Overdue sources</h2>
      ${sourceRows(context, attention.overdue, false)}
      <h2>Storages</h2>
      ${storageTable(context, storages)}
      <h2>Latest backups</h2>
      ${logTable(latest)}
      <p><a href="/console/logs">All backup logs</a></p>`,
  );
}

function storageTable(_context: Layout, storages: readonly StorageSummary[]): Html {
  if (storages.length === 0) return html`<p class="muted">No storage has registered yet.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Storage</th>
        <th>Capacity</th>
        <th>Machines</th>
        <th>Last check-in</th>
        <th>State</th>
      </tr>
    </thead>
    <tbody>
      ${storages.map(
        (storage) =>
          html`<tr>
            <td>${storage.name}</td>
            <td>${capacity(storage)}</td>
            <td class="num">${storage.machines}</td>
            <td>${when(storage.lastCheckin)}</td>
            <td>
              ${!storage.active ? html`<span class="inactive">inactive</span>` : storage.healthy ? html`<span class="ok">ok</span>` : html`<span class="bad">not checked in for 30 min</span>`}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function storagesPage(context: Layout, storages: readonly StorageSummary[]): Html {
  return layout('Storages', context, storageTable(context, storages));
}

function filterForm(path: string, q: string | undefined, states: readonly string[], state: string | undefined): Html {
  return html`<form class="filters" method="get" action="${path}">
    <input type="search" name="q" value="${q ?? ''}" placeholder="Search" aria-label="Search" />
    <select name="state" aria-label="State">
      <option value="">any state</option>
      ${states.map((option) => html`<option value="${option}" ${option === state ? html` selected` : ''}>${option}</option>`)}</select
    ><button type="submit">Filter</button>
  </form>`;
}

export function sourcesPage(
  context: Layout,
  filter: { readonly q?: string | undefined; readonly state?: SourceState | undefined },
  page: Page<SourceSummary>,
): Html {
  return layout(
    'Sources',
    context,
    html`${filterForm('/console/sources', filter.q, SOURCE_STATES, filter.state)}
    ${sourceRows(context, page.rows, false)}${pager('/console/sources', { q: filter.q, state: filter.state }, page)}`,
  );
}

export function machinesPage(
  context: Layout,
  filter: { readonly q?: string | undefined; readonly state?: MachineState | undefined },
  page: Page<MachineSummary>,
): Html {
  const rows =
    page.rows.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table>
          <thead>
            <tr>
              <th>Unit</th>
              <th>UUID</th>
              <th>Service</th>
              <th>Environment</th>
              <th>Storage</th>
              <th>Sources</th>
              <th>Last check-in</th>
              <th>State</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${page.rows.map(
              (machine) =>
                html`<tr>
                  <td>${machine.unitName}</td>
                  <td><a href="/console/sources${query({ machine: machine.uuid })}">${machine.uuid}</a></td>
                  <td>${machine.service ?? ''}</td>
                  <td>${machine.environment ?? ''}</td>
                  <td>${machine.storage ?? ''}</td>
                  <td class="num">${machine.sources}</td>
                  <td>${when(machine.lastCheckin)}</td>
                  <td>
                    ${!machine.active ? html`<span class="inactive">inactive</span>` : machine.silent ? html`<span class="warn">silent</span>` : html`<span class="ok">active</span>`}
                  </td>
                  <td>
                    ${switchForm(context.csrf, '/console/machines/active', { machine: machine.uuid }, machine.active)}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>`;
  return layout(
    'Machines',
    context,
    html`${filterForm('/console/machines', filter.q, MACHINE_STATES, filter.state)}${rows}
    ${pager('/console/machines', { q: filter.q, state: filter.state }, page)}`,
  );
}

export function machineSourcesPage(context: Layout, uuid: string, page: Page<SourceSummary>): Html {
  return layout(
    `Sources of ${page.rows[0]?.unitName ?? uuid}`,
    context,
    html`${sourceRows(context, page.rows, false)}${pager('/console/sources', { machine: uuid }, page)}`,
  );
}

export function sourcePage(context: Layout, detail: SourceDetail): Html {
  const { source } = detail;
  const history =
    detail.history.length === 0
      ? html`<p class="muted">No backup yet.</p>`
      : html`<table>
          <thead>
            <tr>
              <th>Date</th>
              <th>Result</th>
              <th>Snapshot</th>
              <th>Storage</th>
              <th>Duration</th>
              <th>Size</th>
              <th>Summary</th>
            </tr>
          </thead>
          <tbody>
            ${detail.history.map(
              (entry) =>
                html`<tr>
                  <td>${when(entry.date)}</td>
                  <td>${result(entry)}</td>
                  <td>${entry.snapshot ?? ''}</td>
                  <td>${entry.storage ?? ''}</td>
                  <td class="num">${duration(entry.durationSeconds)}</td>
                  <td class="num">${formatBytes(entry.bytes)}</td>
                  <td><pre>${entry.summary ?? ''}</pre></td>
                </tr>`,
            )}
          </tbody>
        </table>`;
  return layout(
    `${source.unitName} · ${source.name}`,
    context,
    html`<table>
        <tbody>
          <tr>
            <th>Machine</th>
            <td>
              ${source.unitName} (<a href="/console/sources${query({ machine: source.machineUuid })}"
                >${source.machineUuid}</a
              >) ${source.machineActive ? '' : html` <span class="inactive">machine inactive</span>`}
            </td>
          </tr>
          <tr>
            <th>Path</th>
            <td>${source.path}</td>
          </tr>
          <tr>
            <th>Frequency</th>
            <td>${source.frequency}</td>
          </tr>
          <tr>
            <th>Storage</th>
            <td>${detail.storage ?? ''}</td>
          </tr>
          <tr>
            <th>State</th>
            <td>
              ${stateLabel(source.state)}${source.failureCount > 0 ? ` (${source.failureCount} failures in a row)` : ''}
            </td>
          </tr>
          <tr>
            <th>Last backup</th>
            <td>${when(source.lastBackedUp)}</td>
          </tr>
          <tr>
            <th>Next due</th>
            <td>${when(source.nextBackup)}</td>
          </tr>
        </tbody>
      </table>
      <p>
        ${backupNowForm(context.csrf, source)}
        ${switchForm(
          context.csrf,
          '/console/sources/active',
          { machine: source.machineUuid, name: source.name },
          source.active,
          'source',
        )}
        ${switchForm(
          context.csrf,
          '/console/machines/active',
          { machine: source.machineUuid },
          source.machineActive,
          'machine',
        )}
      </p>
      <h2>History</h2>
      ${history}`,
  );
}

function logTable(entries: readonly LogEntry[]): Html {
  if (entries.length === 0) return html`<p class="muted">No backup logs.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Date</th>
        <th>Machine</th>
        <th>Source</th>
        <th>Result</th>
        <th>Storage</th>
        <th>Duration</th>
        <th>Summary</th>
      </tr>
    </thead>
    <tbody>
      ${entries.map(
        (entry) =>
          html`<tr>
            <td>${when(entry.date)}</td>
            <td>${entry.unitName ?? '?'}</td>
            <td>
              ${entry.machineUuid === null || entry.source === null ? '?' : sourceLink(entry.machineUuid, entry.source)}
            </td>
            <td>${result(entry)}</td>
            <td>${entry.storage ?? ''}</td>
            <td class="num">${duration(entry.durationSeconds)}</td>
            <td><pre>${entry.summary ?? ''}</pre></td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function logsPage(context: Layout, failedOnly: boolean, page: Page<LogEntry>): Html {
  return layout(
    'Backup logs',
    context,
    html`<p>
        ${failedOnly ? html`<a href="/console/logs">all</a> · failed only` : html`all · <a href="/console/logs?failed=1">failed only</a>`}
      </p>
      ${logTable(page.rows)}${pager('/console/logs', { failed: failedOnly ? '1' : undefined }, page)}`,
  );
}

export function notFoundPage(context: Layout, what: string): Html {
  return layout('Not found', context, html`<p>${what}</p>`);
}
