// A real OpenID Connect provider (npm oidc-provider) on 127.0.0.1 for Vigil's sign-in tests.
// Its development login page signs anyone in by name (any password); the account's claims
// come from OIDC_ACCOUNTS. Usage: node server.mjs PORT (or OIDC_PORT), with
//   OIDC_CLIENTS  JSON list of {client_id, client_secret, redirect_uris}
//   OIDC_ACCOUNTS JSON map login -> {email, email_verified, name, groups}; a login not in
//                 it gets <login>@example.com, verified, and no groups.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.OIDC_PORT || 4000);
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients,
  claims: { email: ['email', 'email_verified'], profile: ['name', 'preferred_username'],
            groups: ['groups'] },
  pkce: { required: () => true },
  cookies: { keys: ['vigil-test-cookie-key'] },
  findAccount: (ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, preferred_username: id, name: id, groups: [],
                     email: `${id}@example.com`, email_verified: true, ...accounts[id] }),
  }),
});
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${port}`));
