"""What an SMS costs in rate-card units: one `mms` for a message with media, else one `sms`
per segment of its rendered body (a UCS-2 text of 71 characters is two)."""

from __future__ import annotations

from threadline.channels import messages as m
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.sms import render
from threadline.channels.types import Billable, ChannelType

MMS = "mms"
SMS_SEGMENT = "sms"


def billable(content: m.Content, declared: ChannelType) -> Billable:
    try:
        body = render.render(content, Envelope(to=""), declared)
    except RenderError:
        # Never sent, so never billed; one unit keeps an estimate honest until it fails.
        return Billable(SMS_SEGMENT, 1)
    if body.get("MediaUrl"):
        return Billable(MMS, 1)
    return Billable(SMS_SEGMENT, render.segments_of(body))
