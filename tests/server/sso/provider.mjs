// A certified OpenID provider for the single sign-on tests: panva's oidc-provider (from the
// npm registry), configured from environment variables by tests/server/sso/oidc_provider.py.
//   OIDC_PROVIDER_MODULE  absolute path of oidc-provider's lib/index.js (installed in a cache)
//   PORT, ISSUER          where it listens (127.0.0.1) and the issuer it names
//   CLIENTS               JSON list of client metadata
//   ACCOUNTS              JSON object: login -> {groups: [...], email: ...}
//   JWKS                  JSON private key set to sign with
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(pathToFileURL(process.env.OIDC_PROVIDER_MODULE).href);
const accounts = JSON.parse(process.env.ACCOUNTS);

const provider = new Provider(process.env.ISSUER, {
  clients: JSON.parse(process.env.CLIENTS),
  jwks: JSON.parse(process.env.JWKS),
  cookies: { keys: ['shadowmap-tests-cookie-key'] },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email'],
    groups: ['groups'],
  },
  // Scope claims in the ID token itself, where the relying party reads the groups.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  // The relying party of the tests listens on 127.0.0.1, which the provider's SSRF guard
  // refuses for its outgoing calls (back-channel logout): the tests' calls go without it.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  async findAccount(ctx, id) {
    const account = accounts[id] || { groups: [] };
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: id,
          email: account.email || `${id}@example.com`,
          groups: account.groups,
        };
      },
    };
  },
  // First-party clients: no consent screen (the documented way to skip it).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('backchannel.error', (ctx, err, client) => console.error('backchannel.error', client.clientId, err.message, err.cause?.code, err.cause?.message));
provider.on('backchannel.success', (ctx, client) => console.error('backchannel.success', client.clientId));
provider.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log(`listening ${process.env.ISSUER}`);
});
