"""The web face: the server thread, the HTTP/1.1 connection handler, the WSGI app with its one
routing table, and the endpoint handlers grouped by concern. It is given the core's state and
never reaches into the facade."""
