// Node: call with the raw body bytes before using them. The registry checked
// the signature over X-Content-SHA256, not over the body, which the proxy
// does not show it; so the body must be the one that header names.
const { createHash } = require('node:crypto');

function bodyMatchesSignature(headers, rawBody) {
  const declared = headers['x-content-sha256'];
  if (declared === undefined) return rawBody.length === 0;
  return declared === createHash('sha256').update(rawBody).digest('hex');
}

module.exports = { bodyMatchesSignature };
