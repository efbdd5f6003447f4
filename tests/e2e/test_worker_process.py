"""A job enqueued from here runs in a real `flask --app web worker` process and its effect lands
in the database; /healthz sees that worker."""

from __future__ import annotations

from sqlalchemy import select

from infra.jobs import enqueue_after_commit
from models import JobProbe, db
from tests.conftest import wait_for


def test_job_runs_in_a_real_worker_process_and_writes_to_the_database(app, worker_process):
    with app.app_context():
        db.session.execute(select(1))  # the transaction the job is enqueued inside
        enqueue_after_commit("workers.system.record_probe", "e2e-token", job_id="probe-e2e")
        db.session.commit()

    def probe_row():
        with app.app_context():
            return db.session.scalar(select(JobProbe).where(JobProbe.token == "e2e-token"))

    probe = wait_for(probe_row, message="the worker's probe row")
    assert probe.worker_name.startswith("test-worker-")


def test_healthz_counts_the_live_worker_process(app, client, worker_process):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["workers"]["count"] == 1
    assert body["workers"]["names"][0].startswith("test-worker-")
