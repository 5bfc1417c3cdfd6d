"""Provider channels: one module per provider, each with the same verbs.

`parse_inbound_sms`, `send_sms(settings, messages)`, `lookup(settings, message, since)`, and
the delivery report parser (`parse_delivery` for AT, `parse_status` for Twilio).
"""

from types import ModuleType

from gateway.channels import africastalking, twilio

CHANNELS: dict[str, ModuleType] = {"africastalking": africastalking, "twilio": twilio}
