// A real OpenID Connect provider (the npm package oidc-provider) on loopback, for bulkmail's sign-in tests.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": 4000, "issuer": "http://127.0.0.1:4000", "clients": [{client_id, client_secret, redirect_uris}],
//          "users_file": "/path/users.json"}
// users.json: {"alice": {"password": "...", "claims": {"email": "...", "email_verified": true, "groups": [...]}}}
// It is read again at each use, so a test changes a user's groups (or password) between two sign-ins.
//
// The login page is this script's own (a username and a password, checked against users.json); consent is
// given without asking, as an organisation's provider does for its own applications.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = () => JSON.parse(readFileSync(config.users_file, 'utf8'));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  scopes: ['openid', 'email', 'profile', 'groups', 'roles'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
    roles: ['roles'],
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['bulkmail test provider: cookie signing key'] },
  async findAccount(_ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { ...user.claims, sub: id }; } };
  },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, problem) {
  res.statusCode = problem ? 401 : 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example Org sign-in</title></head>
<body><h1>Example Org sign-in</h1>${problem ? `<p role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Continue</button></form></body></html>`);
}

async function formOf(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const { uid, prompt, params, session, grantId } = await provider.interactionDetails(req, res);
  if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const saved = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId: saved } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method !== 'POST') {
    loginPage(res, uid);
    return;
  }
  const form = await formOf(req);
  const user = users()[form.get('username') ?? ''];
  if (!user || user.password !== form.get('password')) {
    loginPage(res, uid, 'Wrong username or password.');
    return;
  }
  await provider.interactionFinished(
    req, res, { login: { accountId: form.get('username') } }, { mergeWithLastSubmission: false },
  );
}

const handle = provider.callback();
http.createServer((req, res) => {
  if (new URL(req.url, config.issuer).pathname.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = 400;
      res.end(`interaction failed: ${err.message}`);
    });
    return;
  }
  handle(req, res);
}).listen(config.port, '127.0.0.1', () => console.log(`listening on ${config.issuer}`));
