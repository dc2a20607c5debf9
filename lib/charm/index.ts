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
  ConfigError,
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
export {
  type ApplicationStatusDetails,
  type ConfigValue,
  type GoalState,
  HookTools,
  type HookToolsOptions,
  type LogLevel,
  type NetworkInfo,
  type PortSpec,
  type RelationRef,
  type SecretAddOptions,
  type SecretInfo,
  type SecretMetadataOptions,
  type SecretRef,
  type SecretRevokeTarget,
  type StatusDetails,
  type StatusName,
  type StorageDetails,
  flattenActionResults,
  normaliseSecretId,
} from './tools.js';
