"""The intake adapter: partner agencies post contacts over HTTP; they become Kafka events.

app.py builds the FastAPI app around an `IntakeRuntime` (runtime.py); routes.py and health.py
hold the handlers, auth.py says who is asking, answers.py what is answered. The use case itself
is mash/services/submissions.py; kafka.py and guard.py are the intake's producer and its check
of the topics it writes.
"""
