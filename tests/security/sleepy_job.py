"""A job whose run sits in its step, so a test can kill its run worker mid-run."""

import time

import dagster as dg


@dg.op
def wait_a_while() -> None:
    time.sleep(120)


@dg.job(tags={"twin/compute": "embedding"})
def sleepy_embedding_job():
    wait_a_while()
