import type { ApiClient } from '../common/api-client.js';
import { EmptyResponse, type SourceResult } from '../turku/protocol/api.js';

/** The storage's credentials, as every `storage_*` view takes them. */
export interface StorageLogin {
  readonly name: string;
  readonly secret: string;
}

/** One source's result to the API (`storage_ping_source_update`); throws what the client throws. */
export async function postSourceResult(
  api: ApiClient,
  storage: StorageLogin,
  uuid: string,
  name: string,
  result: SourceResult,
): Promise<void> {
  await api.post(
    'storage_ping_source_update',
    { storage, machine: { uuid, sources: { [name]: result } } },
    EmptyResponse,
  );
}
