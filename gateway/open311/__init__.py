"""Open311 GeoReport v2 at /open311/v2/: services, service definitions and service requests.

City systems read citizen reports and file their own, in XML or JSON, following the spec
(wiki.open311.org/GeoReport_v2). GeoReport v2 has no endpoint to change a request's status, so a
city system changes statuses through `gateway reports status` (gateway.reports.service) for now.
"""
