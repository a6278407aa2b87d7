#!/usr/bin/env bash
# interop/run-all.sh: run interop/run.mjs against `mockidp serve --login auto` for the generic
# provider, every profile with its default options, and over TLS; exit 1 if any flow failed.
#
# Needs `mockidp` on PATH and `npm ci --prefix interop` done. The servers run side by side:
# each run spends most of its time waiting out the device flow's 5 s polling interval.
set -euo pipefail
cd "$(dirname "$0")"

# name | extra `mockidp serve` arguments
providers=(
  "generic|"
  "keycloak|--profile keycloak"
  "okta|--profile okta"
  "entra|--profile entra"
  "auth0|--profile auth0"
  "google|--profile google"
  "cognito|--profile cognito"
  "mcp|--profile mcp"
  "generic+tls|--tls"
  "keycloak+tls|--profile keycloak --tls"
)

work="$(mktemp -d)"
servers=()
cleanup() {
  # SIGTERM is mockidp serve's clean stop; wait for each so no server outlives the script.
  for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A field `mockidp serve` prints at start-up (issuer, listening, CA bundle), once printed.
field() {
  local out="$1" name="$2"
  for _ in $(seq 100); do
    if grep -q "^$name:" "$out"; then
      sed -n "s/^$name: *//p" "$out"
      return
    fi
    sleep 0.1
  done
  echo "mockidp serve did not start: $(cat "$out")" >&2
  return 1
}

for entry in "${providers[@]}"; do
  name="${entry%%|*}"
  # shellcheck disable=SC2086  # the arguments are words
  PYTHONUNBUFFERED=1 mockidp serve --port 0 --login auto --quiet ${entry#*|} \
    >"$work/$name.serve" 2>&1 &
  servers+=("$!")
done

clients=()
for entry in "${providers[@]}"; do
  name="${entry%%|*}"
  issuer="$(field "$work/$name.serve" issuer)"
  args=(--issuer "$issuer" --control "$(field "$work/$name.serve" listening)")
  # `mockidp serve --tls` prints where its CA is; the client trusts that file and no other.
  if [[ "$entry" == *--tls* ]]; then args+=(--ca "$(field "$work/$name.serve" "CA bundle")"); fi
  node run.mjs "${args[@]}" >"$work/$name.out" 2>&1 &
  clients+=("$!")
done

failed=0
for i in "${!providers[@]}"; do
  name="${providers[$i]%%|*}"
  wait "${clients[$i]}" || failed=1
  sed "s/^/$name\t/" "$work/$name.out"
done
exit "$failed"
