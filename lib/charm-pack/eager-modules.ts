// Makes V8 compile eagerly the module bodies an esbuild bundle runs at every start, so that Node's
// compile cache keeps them (docs/charm-runtime.md, "Packing and start-up"). Node writes a
// script's code cache right after compiling it, before it runs, so the cache holds only what V8
// compiled eagerly: the top level, and the functions it guesses run at once (a function expression
// in parentheses). Everything else is parsed and compiled again at every start.
//
// esbuild puts a module that some code loads lazily (a dynamic `import()`), and every module that
// one imports, in a wrapper function that runs its body on first use:
// `var init_x = __esm(() => { init_y(); ...body... })`, and CommonJS modules in
// `__commonJS((exports, module) => { ... })`. Once the agent's ping loaded its restore and query
// code on demand, zod and most of our modules were wrapped, and their bodies, which run at every
// check-in, were compiled at every check-in. The bodies the program runs at start (those the top
// level calls, and those they call in turn before anything else) get parentheses; the others stay
// lazy, since compiling them would only make the cache bigger. A parenthesised expression means
// the same as the bare one, so the program does not change, whatever the choice.
import { parse, type AnyNode, type ArrowFunctionExpression, type FunctionExpression, type Program } from 'acorn';

type WrappedBody = ArrowFunctionExpression | FunctionExpression;

/** Each top-level `var name = wrapper(function)`, by name: esbuild's module wrappers. */
function wrappers(program: Program): Map<string, WrappedBody> {
  const found = new Map<string, WrappedBody>();
  for (const statement of program.body) {
    if (statement.type !== 'VariableDeclaration' || statement.kind !== 'var') continue;
    for (const { id, init } of statement.declarations) {
      if (id.type !== 'Identifier' || init?.type !== 'CallExpression') continue;
      const [body, ...rest] = init.arguments;
      if (init.callee.type !== 'Identifier' || rest.length > 0) continue;
      if (body?.type === 'ArrowFunctionExpression' || body?.type === 'FunctionExpression') found.set(id.name, body);
    }
  }
  return found;
}

/** The names `node` calls as it runs, outside the functions it defines (those run later, if ever). */
function directCalls(node: AnyNode, names: Set<string>): void {
  switch (node.type) {
    case 'ArrowFunctionExpression':
    case 'FunctionExpression':
    case 'FunctionDeclaration':
    case 'ClassDeclaration':
    case 'ClassExpression':
      return;
    case 'CallExpression':
      if (node.callee.type === 'Identifier') names.add(node.callee.name);
  }
  for (const value of Object.values(node) as unknown[]) {
    for (const child of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (typeof child === 'object' && child !== null && typeof (child as { type?: unknown }).type === 'string') {
        directCalls(child as AnyNode, names);
      }
    }
  }
}

/** The wrapped bodies that run at start: called by the top level, or by such a body as it runs. */
function bodiesRunAtStart(program: Program): WrappedBody[] {
  const wrapped = wrappers(program);
  const pending = new Set<string>();
  for (const statement of program.body) directCalls(statement, pending);
  const run = new Map<string, WrappedBody>();
  for (const name of pending) {
    const body = wrapped.get(name);
    if (body === undefined || run.has(name)) continue;
    run.set(name, body);
    // A Set visits what is added while it is iterated.
    if (body.body.type === 'BlockStatement') for (const statement of body.body.body) directCalls(statement, pending);
    else directCalls(body.body, pending);
  }
  return [...run.values()].sort((a, b) => a.start - b.start);
}

/** `code` (an esbuild CommonJS bundle) with the module bodies it runs at start compiled eagerly. */
export function eagerModuleBodies(code: string): string {
  const program = parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true });
  let result = '';
  let copied = 0;
  for (const { start, end } of bodiesRunAtStart(program)) {
    result += `${code.slice(copied, start)}(${code.slice(start, end)})`;
    copied = end;
  }
  return result + code.slice(copied);
}
