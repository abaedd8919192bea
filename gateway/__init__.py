"""mod_gateway: a mod_wsgi-compatible WSGI gateway for Apache httpd, and its tooling."""
