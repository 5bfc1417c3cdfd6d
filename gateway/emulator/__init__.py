"""A local stand-in for Africa's Talking and Twilio, so SMS flows run with nothing configured.

It speaks the parts of both HTTP APIs the official SDKs call, records what it accepted, fails
on request (faults), fires delivery reports back at the gateway, and plays a citizen.
`gateway emulator` serves it; `server.running` serves it on a thread in tests; `client` drives it.
"""
