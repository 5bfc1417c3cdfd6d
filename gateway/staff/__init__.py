"""The staff web view at /staff/: accounts, sessions, CSRF, roles, audit, and the pages."""
