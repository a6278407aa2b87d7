"""The core: one issuer's state (keys, users, clients, clock, flow stores, endpoint controls,
request log) and the one minting pipeline. Imports neither Werkzeug nor the web face nor the
facade, so everything here can be used and tested without a server."""
