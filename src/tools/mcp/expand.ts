/**
 * "$VAR" / "${VAR}" in an MCP server's env or headers take the value from pod's
 * environment, so a manifest can name a secret without containing it. A variable
 * that is not set is an error (an empty token would fail later and less clearly).
 */
export function expandVars(value: string, env: NodeJS.ProcessEnv): { value: string } | { missing: string } {
  let missing: string | undefined;
  const out = value.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const v = env[name];
    if (v === undefined) missing ??= name;
    return v ?? "";
  });
  return missing !== undefined ? { missing } : { value: out };
}

export function expandAll(record: Record<string, string>, env: NodeJS.ProcessEnv): { values: Record<string, string> } | { missing: string; key: string } {
  const values: Record<string, string> = {};
  for (const [key, raw] of Object.entries(record)) {
    const r = expandVars(raw, env);
    if ("missing" in r) return { missing: r.missing, key };
    values[key] = r.value;
  }
  return { values };
}
