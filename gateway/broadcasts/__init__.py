"""Poll invites sent to many people at once (a Broadcast), kept apart from the web pages.

    numbers.py   a CSV or pasted list -> E.164 numbers, bad rows by line       (pure)
    audience.py  what staff asked for: contacts by ward/language/tag, or numbers (pure)
    figures.py   the preview: recipients, STOP exclusions, encoding, cost      (pure)
    selection.py who the audience is in the database right now                (SQL reads)
    launch.py    confirm: the Broadcast, CSV contacts, the queued invites      (SQL writes, RQ)
    bulk.py      thousands of rows in one COPY, skipping keys that exist       (SQL writes)
    progress.py  counts for the progress bar, and cancel                       (SQL)

The guarantee that nobody gets the same invite twice rests on two things: the Broadcast's
unique `idempotency_key` (a double click finds the first broadcast) and each message's
dedupe key "broadcast:{id}:{pseudonym}" (a retried job inserts nothing new); the outbox only
sends rows it claims from "queued", so a cancelled row is never sent.
"""
