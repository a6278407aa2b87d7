// node interop/run.mjs --issuer URL [--ca FILE] [--control URL] [--client-id ID --client-secret S]
//
// Runs every flow mockidp advertises through openid-client and oauth4webapi against a running
// `mockidp serve --login auto`; prints one line per library and flow (tab-separated: library,
// flow, ok or FAILED, detail) and exits 1 if any flow failed.

import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'

import { options } from './lib.mjs'
import * as modern from './modern.mjs'
import * as oauth4webapi from './oauth4webapi.mjs'
import * as openidClient from './openid-client.mjs'

const opts = options(process.argv.slice(2))

// Node's fetch takes no per-request CA, and reads NODE_EXTRA_CA_CERTS only at start-up: to
// trust a `mockidp serve --tls` CA, run again with it set (nothing is added to a system store).
if (opts.ca && process.env.NODE_EXTRA_CA_CERTS !== resolve(opts.ca)) {
  const child = spawnSync(process.execPath, process.argv.slice(1), {
    stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: resolve(opts.ca) },
  })
  process.exit(child.status ?? 1)
}

// Both libraries at once (and their PAR, JAR, JARM, DCR and resource flows): each spends most
// of its time waiting for the device flow's interval.
const reports = await Promise.all([openidClient.run(opts), oauth4webapi.run(opts),
  modern.run(opts)])
for (const report of reports) console.log(report.lines.join('\n'))
process.exit(reports.some((report) => report.failures > 0) ? 1 : 0)
