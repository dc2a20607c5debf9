// How secrets reach the secret-* tools: metadata as flags, content through a private 0600 file so
// it never appears in argv.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SecretMetadataOptions } from './tool-types.js';

/** A secret id without its `secret:` prefix: older Juju prints bare ids, newer prints URIs. */
export function normaliseSecretId(id: string): string {
  return id.startsWith('secret:') ? id.slice('secret:'.length) : id;
}

export function metadataArgs(options: SecretMetadataOptions): string[] {
  const args: string[] = [];
  if (options.label !== undefined) args.push('--label', options.label);
  if (options.description !== undefined) args.push('--description', options.description);
  if (options.expire !== undefined) args.push('--expire', options.expire);
  if (options.rotate !== undefined) args.push('--rotate', options.rotate);
  return args;
}

/** Writes secret content to a 0600 file in a private temporary directory, removed afterwards. */
export async function withSecretFile<T>(
  content: Record<string, string>,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'charm-secret-'));
  try {
    const path = join(dir, 'content.yaml');
    // JSON is YAML; the tool reads the file as a YAML map of key -> value.
    await writeFile(path, JSON.stringify(content), { mode: 0o600 });
    return await use(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
