// The public API of the charm runtime. declarations.ts is deliberately not re-exported: it pulls in
// full zod (JSON Schema export) and is for tests only; import it from 'lib/charm/declarations.js'.
export {
  type JujuActionContext,
  type JujuCommon,
  type JujuContext,
  JujuEnvironmentError,
  type JujuHookContext,
  type JujuModel,
  type NoJujuContext,
  type BrokenRelationInfo,
  type LiveRelationInfo,
  type RelationHookKind,
  type RelationInfo,
  type SecretEventInfo,
  type StorageInfo,
  readJujuContext,
} from './context.js';
export {
  type ActionContext,
  type ActionDefinition,
  type CharmDefinition,
  type CharmLogger,
  type ConfigOf,
  type HookContext,
  type ParamsOf,
  type StatusCollector,
  defineCharm,
  main,
  runCharm,
} from './dispatch.js';
export {
  AccessError,
  ActionFailure,
  ArgvLimitError,
  CharmConfigError,
  DatabagError,
  HookToolError,
  NotInActionError,
  ParamsError,
  RelationNotFoundError,
  SecretNotFoundError,
  ToolUsageError,
  classifyToolFailure,
} from './errors.js';
export { createExecRunner } from './exec-runner.js';
export {
  type BoundedListing,
  INLINE_LISTING_BYTES,
  type Listing,
  type ListingResultsOptions,
  boundListing,
  listingResults,
  writeActionOutput,
} from './large-results.js';
export { type CharmIo, type HookToolRunner, type InProcessCharm, type ToolResult } from './runner.js';
export {
  type Schema,
  describeIssue,
  encodeDatabag,
  jsonField,
  parseActionParams,
  parseConfig,
  parseDatabag,
} from './schemas.js';
export { flattenActionResults } from './action-results.js';
export { MAX_ARG_BYTES, argvBytes } from './argv-limits.js';
export { normaliseSecretId } from './secret-args.js';
// The hook tools' argument and answer types, all of them.
export type * from './tool-types.js';
export { HookTools } from './tools.js';
