"""The functional core: everything a social worker would recognise, with no I/O.

Nothing in this package imports faust, Kafka, HTTP or Prometheus, so every rule can be
read and tested on its own.
"""
