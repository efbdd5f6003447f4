"""RQ jobs and the queue, worker and scheduler wiring."""
