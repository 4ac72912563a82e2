/**
 * Calls a device route as a device would: signs the request with the device
 * secret (signing.ts) and prints the status line and the response body.
 *
 *   npm run device:call -- --id <deviceId> --secret <dvs_…> [--url http://127.0.0.1:3000] \
 *     [--data '<json>'] METHOD PATH
 *
 * The URL may also be your own API behind a forward-auth proxy: a request
 * with a body carries X-Content-SHA256 for it.
 *
 * DEVICE_ID, DEVICE_SECRET and REGISTRY_URL may stand in for the flags; prefer
 * DEVICE_SECRET, since command-line arguments are visible to other users.
 * Exit code: 0 on a 2xx answer, 1 otherwise.
 */
import { parseArgs } from 'node:util';
import { signRequest } from '../device-auth/signing';
import { SECRET_PREFIX } from '../devices/secret-generator';

const USAGE =
  'usage: npm run device:call -- --id <deviceId> --secret <dvs_…> [--url <base url>] ' +
  "[--data '<json>'] METHOD PATH\n" +
  '  env: DEVICE_ID, DEVICE_SECRET, REGISTRY_URL (default http://127.0.0.1:3000)\n';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: 'string' },
      secret: { type: 'string' },
      url: { type: 'string' },
      data: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const deviceId = values.id ?? process.env.DEVICE_ID;
  const secret = values.secret ?? process.env.DEVICE_SECRET;
  const base = values.url ?? process.env.REGISTRY_URL ?? 'http://127.0.0.1:3000';
  const [method, path] = positionals;
  if (!deviceId || !secret || !method || !path?.startsWith('/') || positionals.length !== 2) {
    process.stderr.write(USAGE);
    return 1;
  }
  if (!secret.startsWith(SECRET_PREFIX)) {
    process.stderr.write(
      `The secret is the whole ${SECRET_PREFIX}… string, exactly as it was shown.\n`,
    );
    return 1;
  }

  // Sign the target exactly as fetch will send it (URL normalises the path).
  const url = new URL(base.replace(/\/+$/, '') + path);
  const body = values.data ? Buffer.from(values.data, 'utf8') : undefined;
  const verb = method.toUpperCase();
  const headers: Record<string, string> = signRequest({
    deviceId,
    secret,
    method: verb,
    path: url.pathname + url.search,
    body,
  });
  if (body) headers['Content-Type'] = 'application/json';

  const res = await fetch(url, {
    method: verb,
    headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  process.stdout.write(`HTTP ${res.status} ${res.statusText}\n`);
  const text = await res.text();
  if (text) process.stdout.write(`${pretty(text, res.headers.get('content-type'))}\n`);
  return res.ok ? 0 : 1;
}

function pretty(text: string, contentType: string | null): string {
  if (!contentType?.includes('json')) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    // fetch errors name the URL and the cause, never the headers.
    const cause =
      error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    process.stderr.write(
      `device:call: ${error instanceof Error ? error.message : String(error)}${cause}\n`,
    );
    process.exitCode = 1;
  },
);
