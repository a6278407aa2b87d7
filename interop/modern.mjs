// The modern authorization requests, through both certified clients: PAR (RFC 9126), request
// objects by value and by PAR reference (RFC 9101), JARM, dynamic client registration
// (RFC 7591) and resource indicators (RFC 8707). Each client checks the answers itself:
// oauth4webapi validates the JARM JWT (signature, iss, aud, exp), openid-client the code
// exchange and the ID token.

import * as oauth from 'oauth4webapi'
import * as client from 'openid-client'

import { REDIRECT_URI, Report, authorize, check, control, registerKeyClient } from './lib.mjs'

// A resource registered through the control API; tokens for it carry it as aud.
const RESOURCE = 'https://api.interop.test/mcp'

// The access token's claims (both clients treat it as opaque; the test reads its aud).
function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

export async function run(opts) {
  const report = new Report('modern')
  const http = { [oauth.allowInsecureRequests]: opts.issuer.protocol === 'http:' }
  const execute = opts.issuer.protocol === 'http:' ? [client.allowInsecureRequests] : []
  let as
  await report.run('oauth4webapi discovery', async () => {
    as = await oauth.processDiscoveryResponse(opts.issuer,
      await oauth.discoveryRequest(opts.issuer, { ...http, algorithm: 'oauth2' }))
    await control(opts, 'POST', '/resources', { uri: RESOURCE })
  })
  if (!as) return report

  // One code flow of oauth4webapi: the authorization URL from `prepare`, then the exchange.
  async function codeFlow(keyClient, auth, prepare, { jarm = false, resource } = {}) {
    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const params = {
      client_id: keyClient.client_id, redirect_uri: REDIRECT_URI, response_type: 'code',
      scope: 'openid', state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(jarm ? { response_mode: 'jwt' } : {}), ...(resource ? { resource } : {}),
    }
    const url = await prepare(params)
    const callback = await authorize(url)
    const answer = jarm
      ? await oauth.validateJwtAuthResponse(as, keyClient, callback, state, http)
      : oauth.validateAuthResponse(as, keyClient, callback, state)
    const response = await oauth.authorizationCodeGrantRequest(as, keyClient, auth, answer,
      REDIRECT_URI, verifier, { ...http, additionalParameters: resource ? { resource } : {} })
    return oauth.processAuthorizationCodeResponse(as, keyClient, response)
  }
  const plainUrl = (params) => {
    const url = new URL(as.authorization_endpoint)
    url.search = new URLSearchParams(params)
    return url
  }

  const { clientId, ...key } = await registerKeyClient(opts, 'interop-modern')
  const keyClient = { client_id: clientId }
  const keyAuth = oauth.PrivateKeyJwt(key)
  const secretClient = { client_id: opts.clientId }
  const basic = oauth.ClientSecretBasic(opts.clientSecret)

  await report.run('oauth4webapi PAR', async () => {
    await codeFlow(secretClient, basic, async (params) => {
      const pushed = await oauth.processPushedAuthorizationResponse(as, secretClient,
        await oauth.pushedAuthorizationRequest(as, secretClient, basic, params, http))
      check(pushed.expires_in > 0, 'no expires_in')
      return plainUrl({ client_id: secretClient.client_id, request_uri: pushed.request_uri })
    })
  })
  await report.run('oauth4webapi JAR by value', async () => {
    await codeFlow(keyClient, keyAuth, async (params) => plainUrl({
      client_id: clientId, request: await oauth.issueRequestObject(as, keyClient, params, key),
    }))
  })
  await report.run('oauth4webapi JAR by PAR reference', async () => {
    await codeFlow(keyClient, keyAuth, async (params) => {
      const request = await oauth.issueRequestObject(as, keyClient, params, key)
      const pushed = await oauth.processPushedAuthorizationResponse(as, keyClient,
        await oauth.pushedAuthorizationRequest(as, keyClient, keyAuth, { request }, http))
      return plainUrl({ client_id: clientId, request_uri: pushed.request_uri })
    })
  })
  await report.run('oauth4webapi JARM', async () => {
    await codeFlow(secretClient, basic, async (params) => plainUrl(params), { jarm: true })
  })
  await report.run('oauth4webapi resource', async () => {
    const tokens = await codeFlow(secretClient, basic, async (params) => plainUrl(params),
      { resource: RESOURCE })
    check(claims(tokens.access_token).aud === RESOURCE, `aud is not ${RESOURCE}`)
  })
  await report.run('oauth4webapi DCR', async () => {
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, {
        redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'client_credentials'], client_name: 'oauth4webapi',
      }, http))
    const answer = await oauth.processClientCredentialsResponse(as, registered,
      await oauth.clientCredentialsGrantRequest(as, registered,
        oauth.ClientSecretBasic(registered.client_secret), {}, http))
    check(answer.access_token, 'no access token for the registered client')
  })

  // openid-client: PAR, JAR (by value and through PAR), JARM, resource, DCR.
  let config
  await report.run('openid-client discovery', async () => {
    config = await client.discovery(opts.issuer, opts.clientId, opts.clientSecret,
      client.ClientSecretBasic(opts.clientSecret), { execute })
  })
  if (!config) return report
  async function rpFlow(cfg, build, { resource } = {}) {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = await build({
      redirect_uri: REDIRECT_URI, scope: 'openid', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256', ...(resource ? { resource } : {}),
    })
    return client.authorizationCodeGrant(cfg, await authorize(url), {
      pkceCodeVerifier: verifier, expectedState: state,
    }, resource ? { resource } : undefined)
  }
  await report.run('openid-client PAR', async () => {
    await rpFlow(config, (params) => client.buildAuthorizationUrlWithPAR(config, params))
  })
  const keyConfig = await client.discovery(opts.issuer, clientId, undefined,
    client.PrivateKeyJwt(key), { execute })
  await report.run('openid-client JAR by value', async () => {
    await rpFlow(keyConfig, (params) => client.buildAuthorizationUrlWithJAR(keyConfig, params,
      key))
  })
  await report.run('openid-client JAR by PAR reference', async () => {
    await rpFlow(keyConfig, async (params) => {
      const signed = await client.buildAuthorizationUrlWithJAR(keyConfig, params, key)
      return client.buildAuthorizationUrlWithPAR(keyConfig, signed.searchParams)
    })
  })
  await report.run('openid-client JARM', async () => {
    const jarmConfig = await client.discovery(opts.issuer, opts.clientId, opts.clientSecret,
      client.ClientSecretBasic(opts.clientSecret), { execute })
    client.useJwtResponseMode(jarmConfig)
    await rpFlow(jarmConfig, async (params) => client.buildAuthorizationUrl(jarmConfig, params))
  })
  await report.run('openid-client resource', async () => {
    const tokens = await rpFlow(config, async (params) => client.buildAuthorizationUrl(config,
      params), { resource: RESOURCE })
    check(claims(tokens.access_token).aud === RESOURCE, `aud is not ${RESOURCE}`)
  })
  await report.run('openid-client DCR', async () => {
    const registered = await client.dynamicClientRegistration(opts.issuer, {
      redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'client_credentials'],
    // The method registered (RFC 7591 §2), which the provider holds the client to; without
    // it openid-client would authenticate with client_secret_post.
    }, client.ClientSecretBasic(), { execute })
    const answer = await client.clientCredentialsGrant(registered)
    check(answer.access_token, 'no access token for the registered client')
  })
  return report
}
