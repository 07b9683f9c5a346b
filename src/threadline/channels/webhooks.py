"""The webhook routers of every channel type, for the app to mount."""

from __future__ import annotations

from fastapi import APIRouter

from threadline.channels.apple.endpoints import router as apple
from threadline.channels.email.endpoints import router as email
from threadline.channels.instagram.endpoints import router as instagram
from threadline.channels.messenger.endpoints import router as messenger
from threadline.channels.sms.endpoints import router as sms
from threadline.channels.whatsapp.endpoints import router as whatsapp

ROUTERS: tuple[APIRouter, ...] = (whatsapp, messenger, instagram, sms, email, apple)
