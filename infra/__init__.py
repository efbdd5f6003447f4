"""Infrastructure: configuration, the database unit of work, Redis, the job outbox, the clock.

It uses nothing above `models`, and everything above it may use it.
"""
