// The `lzma` package (LZMA-JS) ships no types: the synchronous calls grafana-dashboard.ts uses.
declare module 'lzma' {
  /** LZMA (.lzma container) of the text's UTF-8 or of the bytes; bytes as signed numbers. */
  export function compress(data: string | Uint8Array, mode: number): number[];
  export function decompress(data: Uint8Array | readonly number[]): string | number[];
}
