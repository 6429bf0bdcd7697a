"""Delivery: every outbox notification reaches the people its recipient role resolves to.

- `channels` — sending one message on one channel through Apprise (e-mail over the SMTP server
  in `CELLPATH_SMTP_URL`, SMS through `CELLPATH_SMS_URL`, any Apprise URL of a person's).
- `messages` — the text of a message from its Jinja2 template, in the recipient's language,
  dates and times by Babel in their locale and time zone.

The workflow `DeliverNotification` (workflows/delivery.py) drives a delivery durably; its
activities (activities/delivery.py) resolve recipients and send, one channel at a time.
"""
