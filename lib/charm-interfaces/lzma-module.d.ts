// The `lzma` package (LZMA-JS) ships no types: the synchronous calls grafana-dashboard.ts uses.
// Its coder file, not the package's main: the main loads the coder by a path it builds at run
// time, which a bundled charm (one dist/charm.cjs) does not have; the coder itself bundles.
declare module 'lzma/src/lzma_worker.js' {
  interface LzmaCoder {
    /** LZMA (.lzma container) of the text's UTF-8 or of the bytes; bytes as signed numbers. */
    compress(data: string | Uint8Array, mode: number): number[];
    decompress(data: Uint8Array | readonly number[]): string | number[];
  }
  const coder: { readonly LZMA_WORKER: LzmaCoder };
  export default coder;
}
