/**
 * The registration credential settings an agent or storage may carry
 * (docs/datapath.md, "Configuration keys").
 */
export interface RegistrationAuthSettings {
  readonly api_auth_name?: string | undefined;
  readonly api_auth_secret?: string | undefined;
  /** Legacy nameless secret. */
  readonly api_auth?: string | undefined;
}

/**
 * The `auth` to send when registering: a named credential (flags win over the config), else the
 * legacy bare string, else none.
 */
export function registrationAuth(
  settings: RegistrationAuthSettings,
  flags: { readonly name?: string | undefined; readonly secret?: string | undefined } = {},
): { name: string; secret: string } | string | undefined {
  const name = flags.name ?? settings.api_auth_name;
  const secret = flags.secret ?? settings.api_auth_secret;
  if (name !== undefined && secret !== undefined) return { name, secret };
  return settings.api_auth;
}
