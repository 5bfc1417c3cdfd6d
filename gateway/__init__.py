"""A civic SMS/USSD gateway: polls, surveys and citizen reports from basic phones."""

__version__ = "0.1.0"
