/** The environment and Node's arguments of package.json's start script (scripts/start-command.js). */
export function startCommand(root?: string): { env: Record<string, string>; args: string[] };
