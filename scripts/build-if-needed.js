// `npm start` builds first when dist/ is missing or older than the sources, or
// lacks the embedded database's template (`nest build` alone, as `npm run
// start:dev` runs it, empties dist/ and makes no template).
const { execSync } = require('node:child_process');
const { existsSync, statSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const entry = join(root, 'dist/main.js');

function newest(dir) {
  let latest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    latest = Math.max(latest, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return latest;
}

/** Whether dist/ holds the template for the installed PGlite (see src/database/embedded-template.ts). */
function hasTemplate() {
  try {
    return existsSync(require(join(root, 'dist/src/database/embedded-template.js')).templatePath());
  } catch {
    return false;
  }
}

if (!existsSync(entry) || newest(join(root, 'src')) > statSync(entry).mtimeMs || !hasTemplate()) {
  execSync('npm run build', { cwd: root, stdio: 'inherit' });
}
