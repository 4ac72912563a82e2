// The service as `npm start` runs it: package.json's start script is
// `NAME=value … node <options> dist/main.js`. The bench and the start-up tests
// run the service through this, so that they measure and check what users run.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

/** The start script's environment and Node's arguments, the entry resolved under `root`. */
function startCommand(root = join(__dirname, '..')) {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const words = scripts.start.trim().split(/\s+/);
  const node = words.indexOf('node');
  const args = words.slice(node + 1);
  if (node < 0 || args.at(-1) !== 'dist/main.js') {
    throw new Error(`package.json's start script is not "… node … dist/main.js": ${scripts.start}`);
  }
  const env = Object.fromEntries(words.slice(0, node).map((word) => word.split(/=(.*)/s, 2)));
  return { env, args: [...args.slice(0, -1), join(root, 'dist/main.js')] };
}

module.exports = { startCommand };
