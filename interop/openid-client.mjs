// Every flow the provider advertises, through openid-client (v6), the certified relying party.

import * as client from 'openid-client'

import {
  REDIRECT_URI, Report, approveDevice, authorize, check, registerDPoPClient, registerKeyClient,
  registerUser,
} from './lib.mjs'

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

// Plain HTTP on loopback is mockidp's documented departure (docs/conformance.md); over TLS the
// library's default, HTTPS only, stays on.
function discover(opts, clientId, metadata, auth) {
  const execute = opts.issuer.protocol === 'http:' ? [client.allowInsecureRequests] : []
  return client.discovery(opts.issuer, clientId, metadata, auth, { execute })
}

export async function run(opts) {
  const report = new Report('openid-client')
  let config, tokens

  await report.run('discovery', async () => {
    config = await discover(opts, opts.clientId, opts.clientSecret,
      client.ClientSecretBasic(opts.clientSecret))
    // Verify ID-token signatures against the JWKS too, not only the claims (the token comes
    // from the token endpoint, where OIDC Core §3.1.3.7 lets a client skip the signature).
    client.enableNonRepudiationChecks(config)
    check(config.serverMetadata().issuer === opts.issuer.href.replace(/\/$/, '') ||
          config.serverMetadata().issuer === opts.issuer.href, 'issuer differs')
  })
  if (!config) return report

  // The device flow waits the provider's interval (5 s) before its first poll: start it now
  // and let the other flows run meanwhile.
  const device = report.run('device_code', async () => {
    const started = await client.initiateDeviceAuthorization(config, { scope: 'openid' })
    await approveDevice(started.verification_uri, started.user_code)
    const granted = await client.pollDeviceAuthorizationGrant(config, started)
    check(granted.access_token, 'no access token')
  })

  await report.run('authorization_code+pkce(S256)+id_token+nonce+iss', async () => {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid profile email', state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    const callback = await authorize(url)
    check(callback.searchParams.get('iss'), 'no iss in the authorization response (RFC 9207)')
    // Checks state, iss (RFC 9207, advertised), the code exchange, and the ID token: signature,
    // iss, aud, exp, iat, nonce.
    tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
      idTokenExpected: true,
    })
    return `sub=${tokens.claims().sub}`
  })

  if (tokens) {
    await report.run('userinfo', async () => {
      const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub)
      check(info.email, 'no email claim for the email scope')
    })
    await report.run('refresh_token', async () => {
      check(tokens.refresh_token, 'no refresh token')
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
      check(refreshed.access_token, 'no access token')
    })
    await report.run('jwt_bearer (RFC 7523 §2.1)', async () => {
      const granted = await client.genericGrantRequest(config, JWT_BEARER, {
        assertion: tokens.id_token,
      })
      check(granted.access_token, 'no access token')
    })
    await report.run('end_session (RP-Initiated Logout 1.0)', async () => {
      const state = client.randomState()
      const url = client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token, post_logout_redirect_uri: REDIRECT_URI, state,
      })
      const answer = await fetch(url, { redirect: 'manual' })
      check(answer.status === 302, `status ${answer.status}`)
      const back = new URL(answer.headers.get('location'))
      check(back.origin + back.pathname === REDIRECT_URI && back.searchParams.get('state') === state,
        `back to ${back}`)
    })
    await report.run('token_exchange', async () => {
      const exchanged = await client.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE,
      })
      check(exchanged.issued_token_type, 'no issued_token_type (RFC 8693 §2.2.1)')
    })
  }

  // Run where advertised; a provider that leaves the grant out (the mcp profile, OAuth 2.1
  // §10.2) must refuse it as RFC 6749 §5.2 says.
  const passwordServed = config.serverMetadata().grant_types_supported.includes('password')
  await report.run(passwordServed ? 'password (RFC 6749 §4.3)'
    : 'password not advertised: unsupported_grant_type (OAuth 2.1 §10.2)', async () => {
    const username = await registerUser(opts, 'interop-openid-client', 'p4ss word')
    const request = client.genericGrantRequest(config, 'password', {
      username, password: 'p4ss word', scope: 'openid',
    })
    if (passwordServed) {
      check((await request).access_token, 'no access token')
      return
    }
    const error = await request.then(() => null, (caught) => caught)
    check(error?.error === 'unsupported_grant_type', `not refused as unsupported: ${error}`)
  })

  let serviceToken
  await report.run('client_credentials', async () => {
    serviceToken = (await client.clientCredentialsGrant(config, { scope: 'read' })).access_token
  })
  if (serviceToken) {
    await report.run('introspection', async () => {
      const answer = await client.tokenIntrospection(config, serviceToken)
      check(answer.active === true, 'a fresh token is not active')
    })
    await report.run('revocation', async () => {
      await client.tokenRevocation(config, serviceToken)
      const answer = await client.tokenIntrospection(config, serviceToken)
      check(answer.active === false, 'the revoked token is still active')
    })
  }

  await report.run('client_secret_jwt', async () => {
    const jwtConfig = await discover(opts, opts.clientId, opts.clientSecret,
      client.ClientSecretJwt(opts.clientSecret))
    await client.clientCredentialsGrant(jwtConfig)
  })
  await report.run('private_key_jwt', async () => {
    const { clientId, ...key } = await registerKeyClient(opts, 'interop-openid-client')
    const keyConfig = await discover(opts, clientId, {}, client.PrivateKeyJwt(key))
    await client.clientCredentialsGrant(keyConfig)
  })

  for (const nonce of [false, true]) {
    await report.run(`dpop: authorization_code+pkce+dpop_jkt, refresh, userinfo${nonce ? ' (server nonces)' : ''}`, async () => {
      const clientId = await registerDPoPClient(opts, 'interop-openid-client', nonce)
      const dpopConfig = await discover(opts, clientId, {}, client.None())
      const DPoP = client.getDPoPHandle(dpopConfig, await client.randomDPoPKeyPair('ES256'))
      const verifier = client.randomPKCECodeVerifier()
      const state = client.randomState()
      const url = client.buildAuthorizationUrl(dpopConfig, {
        redirect_uri: REDIRECT_URI, scope: 'openid profile', state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256', dpop_jkt: await DPoP.calculateThumbprint(),
      })
      // The library retries once on use_dpop_nonce (RFC 9449 §8) and keeps the nonce.
      const granted = await client.authorizationCodeGrant(dpopConfig, await authorize(url), {
        pkceCodeVerifier: verifier, expectedState: state,
      }, undefined, { DPoP })
      check(granted.token_type === 'dpop', `token_type ${granted.token_type}`)
      const refreshed = await client.refreshTokenGrant(dpopConfig, granted.refresh_token,
        undefined, { DPoP })
      check(refreshed.token_type === 'dpop', `refreshed token_type ${refreshed.token_type}`)
      const info = await client.fetchUserInfo(dpopConfig, refreshed.access_token,
        granted.claims().sub, { DPoP })
      check(info.sub === granted.claims().sub, 'userinfo names another subject')
    })
  }

  await device
  return report
}
