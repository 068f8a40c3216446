"""Leader election against a real API server: the leader's work failing ends the
campaign with that error (so a controller manager whose controllers cannot start
stops instead of running on without them), and cancelling the campaign waits until
the leader's work has stopped."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from runtime.client.leaderelection import LeaderElector
from runtime.client.rest import Client
from tests.conftest import Server


def elector(client: Client) -> LeaderElector:
    return LeaderElector(client, name=f"le-{uuid.uuid4().hex[:8]}", namespace="default",
                         identity="tests", retry_period=0.05)


def test_a_failing_leader_ends_the_campaign(server: Server) -> None:
    async def main() -> None:
        client = server.runtime_client()
        try:
            async def lead() -> None:
                raise RuntimeError("controller x could not start")
            with pytest.raises(RuntimeError, match="controller x could not start"):
                await asyncio.wait_for(elector(client).run(lead), 30)
        finally:
            await client.close()
    asyncio.run(main())


def test_cancelling_the_campaign_waits_for_the_leader_to_stop(server: Server) -> None:
    async def main() -> None:
        client = server.runtime_client()
        led, stopped = asyncio.Event(), []
        try:
            async def lead() -> None:
                led.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    await asyncio.sleep(0.05)  # a controller's stop() takes a moment
                    stopped.append(True)
            campaign = asyncio.create_task(elector(client).run(lead))
            await asyncio.wait_for(led.wait(), 30)
            campaign.cancel()
            await asyncio.gather(campaign, return_exceptions=True)
            assert stopped == [True]
        finally:
            await client.close()
    asyncio.run(main())
