"""Matching: decide what a story is about, and which stories report one event.

Contract: pure functions over `Story` values and the compiled config: the rule language
(`query`), the matcher and its meaning stage (`match`, `meaning`), clustering (`cluster`,
`cluster_index`), and the `eval` scoring that calls the same functions. No I/O except reading
labelled files and model files in `evaluate` and `train`. Imports `bot.models`, `bot.config`-free
types and libraries; never the state, Slack or the service.
"""
