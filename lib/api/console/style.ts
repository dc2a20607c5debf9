/** The console's one stylesheet, served as /console/style.css (the CSP allows no inline style). */
export const CONSOLE_CSS = `
:root { color-scheme: light; --fg: #1d2733; --muted: #5b6776; --line: #d8dee6; --bad: #b42318; --warn: #a15c00; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: #f6f8fa; }
header { display: flex; gap: 1.2em; align-items: center; padding: .6em 1.2em; background: #1d2733; color: #fff; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; margin-right: 1em; }
header form { margin-left: auto; }
main { padding: 1em 1.2em; max-width: 1200px; }
h1 { font-size: 1.3em; margin: .2em 0 .8em; }
h2 { font-size: 1.05em; margin: 1.4em 0 .5em; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: .8em; }
.card { background: #fff; border: 1px solid var(--line); padding: .6em 1em; min-width: 9em; }
.card b { display: block; font-size: 1.5em; }
a.card { color: inherit; text-decoration: none; }
a.card:hover { border-color: #8a99ad; }
.failing, .bad { color: var(--bad); font-weight: 600; }
.overdue, .warn { color: var(--warn); font-weight: 600; }
.ok { color: var(--ok); }
.inactive, .muted { color: var(--muted); }
pre { margin: 0; white-space: pre-wrap; font-size: .9em; max-width: 60em; }
meter { width: 12em; height: 1.1em; }
form.inline { display: inline; margin: 0; }
form.filters { margin: 0 0 .8em; display: flex; gap: .5em; }
button { cursor: pointer; }
.flash { background: #fff8e1; border: 1px solid #f0d58a; padding: .5em .8em; margin-bottom: 1em; }
.login { max-width: 22em; margin: 4em auto; background: #fff; border: 1px solid var(--line); padding: 1.5em; }
.login label { display: block; margin: .6em 0 .2em; }
.login input { width: 100%; padding: .4em; }
.login button { margin-top: 1em; }
nav.pages { margin-top: .6em; display: flex; gap: 1em; }
`;
