// Every flow the provider advertises, through oauth4webapi (v3), the certified low-level client
// openid-client is built on: here each request and each check is called by hand.

import * as oauth from 'oauth4webapi'

import {
  REDIRECT_URI, Report, approveDevice, authorize, check, registerDPoPClient, registerKeyClient,
} from './lib.mjs'

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

// RFC 9449 §8, §9: a request refused with use_dpop_nonce is sent once more; the DPoP handle
// has kept the nonce of the answer, which the new proof carries.
async function onceMore(send, process) {
  try {
    return await process(await send())
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error
    return process(await send())
  }
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000))

export async function run(opts) {
  const report = new Report('oauth4webapi')
  // Plain HTTP on loopback is mockidp's documented departure; over TLS it stays refused.
  const http = { [oauth.allowInsecureRequests]: opts.issuer.protocol === 'http:' }
  const client = { client_id: opts.clientId }
  const basic = oauth.ClientSecretBasic(opts.clientSecret)
  let as, tokens

  await report.run('discovery', async () => {
    // algorithm 'oidc': /.well-known/openid-configuration, and the issuer must match exactly.
    const response = await oauth.discoveryRequest(opts.issuer, { ...http, algorithm: 'oidc' })
    as = await oauth.processDiscoveryResponse(opts.issuer, response)
  })
  if (!as) return report

  // Started first: the polling waits the provider's interval while the other flows run.
  const device = report.run('device_code', async () => {
    const started = await oauth.processDeviceAuthorizationResponse(as, client,
      await oauth.deviceAuthorizationRequest(as, client, basic, { scope: 'openid' }, http))
    await approveDevice(started.verification_uri, started.user_code)
    // RFC 8628 §3.5: wait `interval` seconds before each poll.
    await sleep(started.interval ?? 5)
    const granted = await oauth.processDeviceCodeResponse(as, client,
      await oauth.deviceCodeGrantRequest(as, client, basic, started.device_code, http))
    check(granted.access_token, 'no access token')
  })

  await report.run('authorization_code+pkce(S256)+id_token+nonce+iss', async () => {
    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const nonce = oauth.generateRandomNonce()
    const url = new URL(as.authorization_endpoint)
    url.search = new URLSearchParams({
      client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: 'code',
      scope: 'openid profile email', state, nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    // Checks state and, as the metadata advertises it, iss (RFC 9207 §2.4).
    const params = oauth.validateAuthResponse(as, client, await authorize(url), state)
    const response = await oauth.authorizationCodeGrantRequest(
      as, client, basic, params, REDIRECT_URI, verifier, http)
    // The ID token's claims: iss, aud, exp, iat, nonce, azp (OIDC Core §3.1.3.7)...
    tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: nonce, requireIdToken: true,
    })
    // ...and its signature against the JWKS.
    await oauth.validateApplicationLevelSignature(as, response, http)
    return `sub=${oauth.getValidatedIdTokenClaims(tokens).sub}`
  })

  if (tokens) {
    const sub = oauth.getValidatedIdTokenClaims(tokens).sub
    await report.run('userinfo', async () => {
      const info = await oauth.processUserInfoResponse(as, client, sub,
        await oauth.userInfoRequest(as, client, tokens.access_token, http))
      check(info.email, 'no email claim for the email scope')
    })
    await report.run('refresh_token', async () => {
      check(tokens.refresh_token, 'no refresh token')
      const refreshed = await oauth.processRefreshTokenResponse(as, client,
        await oauth.refreshTokenGrantRequest(as, client, basic, tokens.refresh_token, http))
      check(refreshed.access_token, 'no access token')
    })
    await report.run('token_exchange', async () => {
      const params = { subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE }
      const exchanged = await oauth.processGenericTokenEndpointResponse(as, client,
        await oauth.genericTokenEndpointRequest(as, client, basic, TOKEN_EXCHANGE, params, http))
      check(exchanged.issued_token_type, 'no issued_token_type (RFC 8693 §2.2.1)')
    })
  }

  let serviceToken
  await report.run('client_credentials', async () => {
    const answer = await oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, basic, { scope: 'read' }, http))
    serviceToken = answer.access_token
  })
  if (serviceToken) {
    const introspect = async () => oauth.processIntrospectionResponse(as, client,
      await oauth.introspectionRequest(as, client, basic, serviceToken, http))
    await report.run('introspection', async () => {
      check((await introspect()).active === true, 'a fresh token is not active')
    })
    await report.run('revocation', async () => {
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, basic, serviceToken, http))
      check((await introspect()).active === false, 'the revoked token is still active')
    })
  }

  await report.run('client_secret_jwt', async () => {
    const auth = oauth.ClientSecretJwt(opts.clientSecret)
    await oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, {}, http))
  })
  await report.run('private_key_jwt', async () => {
    const { clientId, ...key } = await registerKeyClient(opts, 'interop-oauth4webapi')
    const keyClient = { client_id: clientId }
    const auth = oauth.PrivateKeyJwt(key)
    await oauth.processClientCredentialsResponse(as, keyClient,
      await oauth.clientCredentialsGrantRequest(as, keyClient, auth, {}, http))
  })

  for (const nonce of [false, true]) {
    await report.run(`dpop: authorization_code+pkce+dpop_jkt, refresh, userinfo${nonce ? ' (server nonces)' : ''}`, async () => {
      const dpopClient = { client_id: await registerDPoPClient(opts, 'interop-oauth4webapi', nonce) }
      const DPoP = oauth.DPoP(dpopClient, await oauth.generateKeyPair('ES256'))
      const verifier = oauth.generateRandomCodeVerifier()
      const state = oauth.generateRandomState()
      const url = new URL(as.authorization_endpoint)
      url.search = new URLSearchParams({
        client_id: dpopClient.client_id, redirect_uri: REDIRECT_URI, response_type: 'code',
        scope: 'openid profile', state, dpop_jkt: await DPoP.calculateThumbprint(),
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      const params = oauth.validateAuthResponse(as, dpopClient, await authorize(url), state)
      const none = oauth.None()
      const granted = await onceMore(
        () => oauth.authorizationCodeGrantRequest(as, dpopClient, none, params, REDIRECT_URI,
          verifier, { ...http, DPoP }),
        (response) => oauth.processAuthorizationCodeResponse(as, dpopClient, response))
      check(granted.token_type === 'dpop', `token_type ${granted.token_type}`)
      const refreshed = await onceMore(
        () => oauth.refreshTokenGrantRequest(as, dpopClient, none, granted.refresh_token,
          { ...http, DPoP }),
        (response) => oauth.processRefreshTokenResponse(as, dpopClient, response))
      check(refreshed.token_type === 'dpop', `refreshed token_type ${refreshed.token_type}`)
      const sub = oauth.getValidatedIdTokenClaims(granted).sub
      const info = await onceMore(
        () => oauth.userInfoRequest(as, dpopClient, refreshed.access_token, { ...http, DPoP }),
        (response) => oauth.processUserInfoResponse(as, dpopClient, sub, response))
      check(info.sub === sub, 'userinfo names another subject')
    })
  }

  await device
  return report
}
