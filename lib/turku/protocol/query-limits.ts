/**
 * The bounds of a query (docs/datapath.md, "Queries (our extension of the stdin protocol)"), apart
 * from the schemas in queries.ts so that turku-agent-ping reads its flags without building them.
 */

/** Entries (list-files) or matching paths (find) an answer holds unless the request asks for fewer. */
export const DEFAULT_QUERY_LIMIT = 1000;
export const MAX_QUERY_LIMIT = 10_000;
export const MAX_PATTERN_LENGTH = 256;
/** Wildcards in one pattern: each may multiply the work of matching one path. */
export const MAX_PATTERN_WILDCARDS = 8;
export const MAX_QUERY_PATH_LENGTH = 4096;
