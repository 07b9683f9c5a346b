"""Email over SMTP: a From address of a domain, sent through a relay (smarthost), with
replies, bounces (RFC 3464 DSNs), complaints (RFC 5965 ARF) and one-click unsubscribes
(RFC 8058) coming back to Threadline."""
