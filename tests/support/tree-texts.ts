import { gunzipSync } from 'node:zlib';

/** A recorded tree's lines as one text (lib/common/tree-record-pool.ts `texts`), its gzip members decompressed. */
export const treeText = (texts: readonly (string | Uint8Array)[]): string =>
  texts.map((text) => (typeof text === 'string' ? text : gunzipSync(text).toString('utf8'))).join('');
