"""Prometheus metrics at /metrics.

The work is done in other processes than the one scraped (`bulkmail serve`'s background process, any number
of `bulkmail worker` processes on other machines sharing PostgreSQL), so what they count is kept in the
database (`counters.py`, added to in the transaction that records the work) and read at scrape time with the
ledger's queue, the guard's rates and the workers' heartbeats (`scrape.py`): every web process reports the
installation's totals, whichever machine it runs on. Only the request latencies are the scraped process's
own (`http.py`)."""
