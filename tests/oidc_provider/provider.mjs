// A certified OpenID provider (panva/node-oidc-provider, OpenID Certified) configured as a council's
// directory for the gateway's tests and demo: the directory's users with their groups, one client for
// the gateway's web interface (authorization code with PKCE, RP-initiated logout), and JWT access
// tokens for the gateway's audience carrying the claims the gateway maps to roles.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {issuer, port, audience, scope, keys: {keys: [private JWKs, signing key first]},
//          clients: [oidc-provider client metadata], users: {login: {claims}}}
// The login page is the provider's own (devInteractions): a user signs in with their login; the
// password is not checked (a test directory), but only the directory's users exist.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = config.users;
const RESOURCE = `urn:resource:${config.audience}`;

function claimsOf(login) {
  const user = users[login];
  return user ? { sub: login, ...user } : undefined;
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.keys,
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'offline_access', config.scope],
  claims: {
    openid: ['sub'],
    profile: ['name', 'groups', 'employee_id', 'team'],
  },
  cookies: { keys: ['gateway-test-provider-cookie-key'] },
  // Short enough that a test sees expiry handled, long enough for a browser journey.
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  async findAccount(_ctx, id) {
    const claims = claimsOf(id);
    if (!claims) return undefined;
    return { accountId: id, async claims() { return claims; } };
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Every authorization is for the gateway: its access token is a JWT for the gateway's audience.
      // (A resource indicator is a URI; the token's audience is the gateway's configured audience.)
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: config.scope,
          audience: config.audience,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // The directory's claims travel in the access token, which is what the gateway reads.
  async extraTokenClaims(_ctx, token) {
    const claims = claimsOf(token.accountId);
    if (!claims) return undefined;
    const { sub, ...rest } = claims;
    return rest;
  },
});
provider.proxy = false;
provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
