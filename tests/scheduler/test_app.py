"""The scheduler process: its jobs in APScheduler, a failing job, and ``shopbot scheduler --once``."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot.cli import main as shopbot
from bot.clock import BUSINESS_TZ
from bot.config import Settings
from bot.services import build_services
from bot.store import Database, make_engine
from bot.store.settlement import CycleRun
from scheduler import jobs
from scheduler.app import build_scheduler, finish_running, run_job


def test_every_job_wakes_on_its_interval_in_business_time(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/s.db",
                        data_dir=tmp_path)
    scheduler = build_scheduler(settings, build_services(settings))
    found = {job.id: job.trigger for job in scheduler.get_jobs() if not job.id.endswith("-at-start")}
    assert set(found) == set(jobs.JOBS)
    at_start = {job.id for job in scheduler.get_jobs()} - set(found)
    assert at_start == {"settlement-at-start", "biller_settlement-at-start", "reconcile-at-start"}
    assert all(isinstance(t, IntervalTrigger) and t.timezone == BUSINESS_TZ for t in found.values())
    assert found["settlement"].interval == dt.timedelta(minutes=1)
    assert str(scheduler.timezone) == "Asia/Shanghai"


async def test_a_failing_job_is_logged_and_the_scheduler_goes_on(desk, monkeypatch, caplog):
    async def broken(services, now):
        raise RuntimeError("boom")

    monkeypatch.setitem(jobs.JOBS, "auto_confirm", broken)
    await run_job(desk.services, "auto_confirm")
    assert "job auto_confirm failed" in caplog.text


async def test_a_stopping_scheduler_lets_a_running_job_finish_and_cuts_a_slow_one_quietly(
    desk, monkeypatch, caplog
):
    finished = []

    async def quick(services, now):
        await asyncio.sleep(0.05)
        finished.append("quick")

    async def stuck(services, now):
        await asyncio.sleep(60)

    monkeypatch.setitem(jobs.JOBS, "auto_confirm", quick)
    monkeypatch.setitem(jobs.JOBS, "reconcile", stuck)
    running = [asyncio.create_task(run_job(desk.services, name)) for name in ("auto_confirm", "reconcile")]
    await asyncio.sleep(0.01)
    # 2 s for the quick job's 0.05 s and its lock's round trips to the database (0.5 s was short on a
    # loaded machine); the stuck one would take 60 s.
    await finish_running(timeout_s=2.0)

    assert finished == ["quick"] and all(task.done() and not task.cancelled() for task in running)
    assert "job reconcile interrupted by shutdown" in caplog.text and "Traceback" not in caplog.text


def test_shopbot_scheduler_once_runs_the_due_cycles_and_exits(tmp_path, monkeypatch, sqlite_template):
    shutil.copyfile(sqlite_template, tmp_path / "shop.db")
    url = f"sqlite+aiosqlite:///{tmp_path}/shop.db"
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    for name, value in {"DATABASE_URL": url, "DATA_DIR": str(tmp_path),
                        "GATEWAY_KEYS_FILE": str(tmp_path / "none.json")}.items():
        monkeypatch.setenv(f"SHOPBOT_{name}", value)
    assert shopbot(["scheduler", "--once", "all", "--now", "2026-01-20T02:30:00+08:00"]) == 0

    async def periods() -> list[tuple[str, str]]:
        db = Database(make_engine(url))
        async with db.transaction() as s:
            found = [(r.job, r.period) for r in await s.scalars(select(CycleRun))]
        await db.dispose()
        return found

    assert asyncio.run(periods()) == [("settlement", "2026-01-20"), ("biller_settlement", "2026-01-20")]
