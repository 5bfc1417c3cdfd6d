"""HTTP endpoints, one module per concern; each exports `routes` for the app factory."""
