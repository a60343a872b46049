"""The fake Twilio REST API of tests/fakes/twilio_server.py as a process of its own, for
bench/sms.py: ``python bench/fake_twilio.py PORT`` with the credentials in FAKE_TWILIO_ACCOUNT_SID
and FAKE_TWILIO_AUTH_TOKEN. ``GET /count`` answers how many messages it accepted."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.twilio_server import FakeTwilio

fake = FakeTwilio(
    account_sid=os.environ["FAKE_TWILIO_ACCOUNT_SID"],
    auth_token=os.environ["FAKE_TWILIO_AUTH_TOKEN"],
)


async def count(request: Request) -> JSONResponse:
    return JSONResponse({"messages": len(fake.messages), "requests": fake.requests})


app = fake.app
app.router.routes.append(Route("/count", count, methods=["GET"]))

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
