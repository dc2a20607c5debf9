// The relation interfaces of the Turku charms (docs/relations.md). turku-sources.ts is not
// re-exported: it loads the API's full-zod source schema, which only the agent and the principals
// that publish sources need (docs/relations.md, "Start-up cost"); import it directly.
export type { ApiAccess, ApiReadiness } from './api-access.js';
export { type Bag, type ReadResult, readBag, valueOf, writeBag } from './fields.js';
export {
  REGISTRATION_TYPES,
  RegistrationSecretContent,
  type RegistrationType,
  readRegistrationSecret,
  registrationSecretContent,
} from './registration-secret.js';
export {
  AGENT_API_INTERFACE,
  AGENT_API_SECRET_LABEL,
  AgentApiAppBag,
  agentApiSecretContent,
  readAgentApi,
  readAgentApiSecret,
  writeAgentApi,
} from './turku-agent-api.js';
export {
  STORAGE_API_INTERFACE,
  STORAGE_API_SECRET_LABEL,
  StorageApiAppBag,
  StorageUnitBag,
  readStorageApi,
  readStorageApiSecret,
  readStorageUnit,
  storageApiSecretContent,
  writeStorageApi,
  writeStorageUnit,
} from './turku-storage-api.js';
export { PEERS_INTERFACE, PeersAppBag, readPeers, writePeers } from './turku-peers.js';
