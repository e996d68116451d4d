"""Campaign sending: render, relay, the worker that works the ledger, retries.

Modules, by noun: `render` (campaign templates, checks), `sandbox` (Jinja2 with time and size
limits), `message` (MIME bytes, headers), `compose`
(campaign + recipient -> envelope: tokens, Message-ID, DKIM), `dkim_sign`, `relay` (SMTP session,
connection check), `pool` (sending threads), `throttle`, `retry` (the schedule), `ledger` (claim,
record, progress: all the worker's SQL), `worker` (the loop), `campaigns` (life cycle), `testsend`; `relays` (stored relays, their state),
`relay_pool` (weights and failover across them), `identities` (From domain, DKIM key, bounce address),
`headers` (List-Id, Feedback-ID, custom headers); `bodies` (a campaign's bodies in its layout, MJML compiled once),
`mjml` (the bounded MJML compiler), `library` (saved templates and layouts), `schedule` (send times in a time
zone), `archive` (a list's public archive and view in browser).

Delivery guarantee. Every ledger row is sent at least once and, unless a worker dies, exactly once:
a row is leased when claimed and its result is written in the same transaction that releases it.
If a worker is killed (kill -9, power loss) its leased rows come due again when the lease
(BULKMAIL_WORKER_LEASE_SECONDS) runs out and another worker sends them. A recipient can then get a
second copy only if the relay had accepted their message but the result was not yet recorded: at
most the batches in flight, 2 x BULKMAIL_WORKER_BATCH per dead worker. The other two sources of a
second copy: a connection lost between the final dot and the relay's reply, and a database outage
longer than the lease. A shorter outage costs nothing: the worker holds its results and writes them
when the database is back. The copy carries the same Message-ID, so receivers that deduplicate on
it drop it. Pause, resume and restarts never resend a row whose result was recorded.

Relay answers: 2xx sent; 4xx deferred and retried BULKMAIL_RETRY_MINUTES after the first attempt,
then expired (a soft bounce); 5xx at RCPT/DATA failed with a bounce record and the suppression
policy. A message that cannot be rendered within the limits, or needs SMTPUTF8 the relay lacks,
fails its row with the reason. Authentication, TLS, relay-denied and sender-refused errors pause the
campaign with the reason. A relay that refuses, times out, drops the line, answers 421 or never
greets is unreachable: the rows wait (no attempt used), the pool backs off (doubling, capped,
jittered), the campaign shows since when and the next try, and goes on when the relay answers; past
the retry window it pauses. With several relays stored, a message its relay did not take goes to another
relay that is up (a refused login, TLS or sender included); only when none is left does the above apply."""
