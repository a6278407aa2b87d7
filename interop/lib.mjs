// What both library runs share: the options, the control API, the browser's part of the code
// flow, the user's part of the device flow, and the report.

import { parseArgs } from 'node:util'

export function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      issuer: { type: 'string' },
      ca: { type: 'string' },
      control: { type: 'string' },
      'client-id': { type: 'string', default: 'mockidp-client' },
      'client-secret': { type: 'string', default: 'mockidp-client-secret' },
    },
  })
  if (!values.issuer) throw new Error('usage: node run.mjs --issuer URL [--ca FILE] ' +
    '[--control URL] [--client-id ID --client-secret SECRET]')
  return {
    issuer: new URL(values.issuer),
    ca: values.ca,
    // The control API lives at the server's root, not below the issuer: a profile's issuer has
    // a path (/realms/master, /oauth2/default, ...) and /realms/master/_mockidp is not served.
    control: (values.control ?? new URL(values.issuer).origin).replace(/\/$/, ''),
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
  }
}

// Any redirect URI does for the default client, and nothing is ever fetched from it: the
// authorization response is read from the Location header.
export const REDIRECT_URI = 'http://127.0.0.1/callback'

// The user agent's part of the code flow: `mockidp serve --login auto` signs the default user
// in at once and redirects, so one GET, not followed, gives the authorization response.
export async function authorize(url) {
  const response = await fetch(url, { redirect: 'manual' })
  const location = response.headers.get('location')
  if (response.status < 300 || response.status > 399 || !location) {
    throw new Error(`authorize answered ${response.status}: ${await response.text()}`)
  }
  return new URL(location)
}

// The user's part of the device flow: the verification page, as a person would submit it
// (the control API's POST /devices/approve would do too; the page is what a user drives).
export async function approveDevice(verificationUri, userCode) {
  const response = await fetch(verificationUri, {
    method: 'POST',
    body: new URLSearchParams({ user_code: userCode }),
  })
  const page = await response.text()
  if (!response.ok || !page.includes('Device approved.')) {
    throw new Error(`the verification page did not approve ${userCode}: ${response.status}`)
  }
}

// A client of its own for private_key_jwt: an ES256 key made here, its public half registered
// through the control API (POST /_mockidp/clients with `jwks`).
// The id gets a random suffix so that the script can run twice against one server.
export async function registerKeyClient(opts, name) {
  const clientId = `${name}-${crypto.randomUUID().slice(0, 8)}`
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
  const jwk = await crypto.subtle.exportKey('jwk', publicKey)
  const kid = `${clientId}-key`
  await control(opts, 'POST', '/clients', {
    client_id: clientId, jwks: { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] },
  })
  return { clientId, key: privateKey, kid }
}

// A public client of its own for DPoP (RFC 9449): with `nonce`, registered with `dpop_nonce`, so
// the provider demands its nonces (§8, §9) of this client alone and the other runs are not asked.
export async function registerDPoPClient(opts, name, nonce) {
  const clientId = `${name}-${nonce ? 'nonce' : 'plain'}-${crypto.randomUUID().slice(0, 8)}`
  await control(opts, 'POST', '/clients', {
    client_id: clientId, public: true, redirect_uris: [REDIRECT_URI], dpop_nonce: nonce,
  })
  return clientId
}

// A user of its own for the password grant, added through the control API.
export async function registerUser(opts, name, password) {
  const sub = `${name}-${crypto.randomUUID().slice(0, 8)}`
  await control(opts, 'POST', '/users', { sub, password })
  return sub
}

export async function control(opts, method, path, body) {
  const response = await fetch(`${opts.control}/_mockidp${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!response.ok) throw new Error(`control API ${path}: ${response.status} ${await response.text()}`)
  return response.json()
}

export function check(condition, message) {
  if (!condition) throw new Error(message)
}

// Runs named flows in order; a flow that throws is FAILED with the client's own reason (its
// error code and, for oauth4webapi's checks, the cause), and the next flows still run. A flow
// that needs an earlier one's result gets `skipped` when that one failed.
export class Report {
  constructor(library) {
    this.library = library
    this.lines = []
    this.failures = 0
  }

  async run(flow, fn) {
    try {
      const detail = await fn()
      this.lines.push(`${this.library}\t${flow}\tok${detail ? `\t${detail}` : ''}`)
      return true
    } catch (error) {
      this.failures += 1
      this.lines.push(`${this.library}\t${flow}\tFAILED\t${reason(error)}`)
      return false
    }
  }
}

function reason(error) {
  const parts = [`${error.name}: ${error.message}`]
  if (error.code) parts.push(`code=${error.code}`)
  if (error.error) parts.push(`error=${error.error} ${error.error_description ?? ''}`.trim())
  if (error.cause && !(error.cause instanceof Response)) {
    const cause = error.cause instanceof Error ? error.cause.message : JSON.stringify(error.cause)
    parts.push(`cause=${cause}`)
  }
  return parts.join('; ').replace(/\s+/g, ' ')
}
