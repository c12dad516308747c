// An upstream OpenID provider for the tests: panva/node-oidc-provider (OpenID
// Certified), over https with the test run's certificate, with its development
// sign-in pages (any login name, any password; then a consent page).
//
// Usage: node provider.mjs PORT CERT KEY
//   UPSTREAM_CLIENTS   JSON list of client registrations
//   UPSTREAM_ACCOUNTS  JSON {login: {email, email_verified, name, groups, ...}}
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const [port, cert, key] = process.argv.slice(2);
const accounts = JSON.parse(process.env.UPSTREAM_ACCOUNTS || '{}');

const provider = new Provider(`https://localhost:${port}`, {
  clients: JSON.parse(process.env.UPSTREAM_CLIENTS || '[]'),
  findAccount: (ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, ...(accounts[id] || {}) }),
  }),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['test-upstream-cookie-key'] },
});

https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, provider.callback())
  .listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
