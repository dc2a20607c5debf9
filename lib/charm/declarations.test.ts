import * as z from 'zod/mini';
import { checkActionsDeclaration, checkConfigDeclaration } from './declarations.js';

describe('checkConfigDeclaration', () => {
  const schema = z.object({
    port: z._default(z.int(), 8080),
    'api-url': z.string(),
    ratio: z._default(z.number(), 0.5),
    debug: z._default(z.boolean(), false),
    'api-token': z.optional(z.string()),
  });
  const options = {
    port: { type: 'int', default: 8080, description: 'Listening port.' },
    'api-url': { type: 'string' },
    ratio: { type: 'float', default: 0.5 },
    debug: { type: 'boolean', default: false },
    'api-token': { type: 'secret' },
  };

  test('agreeing declarations give no mismatches', () => {
    expect(checkConfigDeclaration(schema, options)).toEqual([]);
  });

  test('missing and extra keys are reported', () => {
    const { debug: _debug, ...withoutDebug } = options;
    expect(checkConfigDeclaration(schema, { ...withoutDebug, extra: { type: 'string' } })).toEqual([
      'config option "extra": declared in config.yaml but missing from the schema',
      'config option "debug": in the schema but not declared in config.yaml',
    ]);
  });

  test('type mismatches: int option with a string schema, float option with an int schema', () => {
    const problems = checkConfigDeclaration(schema, {
      ...options,
      port: { type: 'string', default: '8080' },
      ratio: { type: 'int', default: 1 },
    });
    expect(problems).toContainEqual(
      expect.stringMatching(/^config option "port": config.yaml type string .* accepts integer$/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/"port": default "8080" in config.yaml but 8080 in the schema/),
    );
    // An int option fits a number schema; the defaults differ though.
    expect(problems).not.toContainEqual(expect.stringMatching(/"ratio": config.yaml type int/));
    expect(problems).toContainEqual('config option "ratio": default 1 in config.yaml but 0.5 in the schema');
    const floatIntoInt = checkConfigDeclaration(z.object({ port: z.int() }), { port: { type: 'float' } });
    expect(floatIntoInt).toEqual([
      expect.stringMatching(/"port": config.yaml type float \(JSON number\) but the schema accepts integer/),
    ]);
  });

  test('a schema default with no config.yaml default is reported; unknown and missing types too', () => {
    expect(checkConfigDeclaration(schema, { ...options, debug: { type: 'boolean' } })).toEqual([
      'config option "debug": the schema defaults to false but config.yaml has no default',
    ]);
    expect(checkConfigDeclaration(z.object({ a: z.string() }), { a: { type: 'list' } })).toEqual([
      'config option "a": unknown type "list" in config.yaml',
    ]);
    expect(checkConfigDeclaration(z.object({ a: z.string() }), { a: {} })).toEqual([
      'config option "a": config.yaml does not state its type',
    ]);
  });

  test('a config.yaml default that does not fit its own type is reported', () => {
    expect(
      checkConfigDeclaration(z.object({ n: z.optional(z.int()) }), { n: { type: 'int', default: 'ten' } }),
    ).toEqual(['config option "n": config.yaml default "ten" is not a valid int']);
  });

  test('enums and literals count as their value type', () => {
    const enumSchema = z.object({ mode: z._default(z.enum(['fast', 'safe']), 'safe') });
    expect(checkConfigDeclaration(enumSchema, { mode: { type: 'string', default: 'safe' } })).toEqual([]);
    expect(checkConfigDeclaration(enumSchema, { mode: { type: 'int', default: 1 } })).toContainEqual(
      expect.stringMatching(/"mode": config.yaml type int .* accepts string/),
    );
  });
});

describe('checkActionsDeclaration', () => {
  const backupParams = z.object({ tag: z.string(), retries: z._default(z.int(), 3) });
  const yaml = {
    'backup-now': {
      description: 'Run a backup immediately.',
      params: { tag: { type: 'string' }, retries: { type: 'integer', default: 3, minimum: 0 } },
      required: ['tag'],
      additionalProperties: false,
    },
    'list-machines': { description: 'List machines.', additionalProperties: false },
  };

  test('agreeing declarations give no mismatches; charm action definitions are accepted as they are', () => {
    expect(checkActionsDeclaration({ 'backup-now': backupParams, 'list-machines': undefined }, yaml)).toEqual([]);
    const definitions = {
      'backup-now': { params: backupParams, run: () => Promise.resolve() },
      'list-machines': { run: () => Promise.resolve() },
    };
    expect(checkActionsDeclaration(definitions, yaml)).toEqual([]);
  });

  test('missing and extra actions are reported', () => {
    expect(checkActionsDeclaration({ 'backup-now': backupParams, restore: undefined }, yaml)).toEqual([
      'action "list-machines": declared in actions.yaml but the charm has no handler',
      'action "restore": handled by the charm but not declared in actions.yaml',
    ]);
  });

  test('param type, default and required mismatches are reported', () => {
    const schema = z.object({ tag: z.optional(z.string()), retries: z._default(z.number(), 5), force: z.boolean() });
    const problems = checkActionsDeclaration({ 'backup-now': schema, 'list-machines': undefined }, yaml);
    expect(problems).toEqual(
      expect.arrayContaining([
        'action "backup-now": param "retries": default 3 in actions.yaml but 5 in the schema',
        'action "backup-now": param "tag" is required in actions.yaml but optional in the schema',
        'action "backup-now": param "force" in the schema but not declared in actions.yaml',
      ]),
    );
    expect(problems).toHaveLength(3);
    const wrongType = checkActionsDeclaration(
      { 'backup-now': z.object({ tag: z.string(), retries: z._default(z.int(), 3) }) },
      {
        'backup-now': {
          ...yaml['backup-now'],
          params: { tag: { type: 'string' }, retries: { type: 'number', default: 3 } },
        },
      },
    );
    expect(wrongType).toEqual([
      'action "backup-now": param "retries" is number in actions.yaml but the schema accepts integer',
    ]);
  });

  test('a param the schema requires must be required or defaulted in actions.yaml', () => {
    const problems = checkActionsDeclaration(
      { 'backup-now': backupParams },
      { 'backup-now': { ...yaml['backup-now'], required: [] } },
    );
    expect(problems).toEqual([
      'action "backup-now": param "tag" is required by the schema but actions.yaml neither requires it nor gives a default',
    ]);
  });

  test('additionalProperties must be stated; bad action names are reported', () => {
    const { additionalProperties: _unused, ...loose } = yaml['list-machines'];
    expect(checkActionsDeclaration({ 'list-machines': undefined }, { 'list-machines': loose })).toEqual([
      'action "list-machines": actions.yaml must state additionalProperties (Juju 3 defaults to true, Juju 4 to false)',
    ]);
    expect(checkActionsDeclaration({ 'juju-run': undefined }, { 'juju-run': { additionalProperties: false } })).toEqual(
      ['action "juju-run": invalid action name'],
    );
  });
});
