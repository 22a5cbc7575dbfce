"""Service: the long-running process and one poll cycle.

Contract: `pipeline` runs one feed's poll (fetch -> parse -> match -> admit/cluster -> queue);
`runner` schedules polls, delivery, digests, pruning and config reloads with APScheduler and stops
cleanly on SIGTERM; `health` and `metrics` serve /healthz, /readyz and /metrics; `wiring` builds
the parts from settings. The only package that imports all the others (with `cli`).
"""
