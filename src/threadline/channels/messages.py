"""Channel-neutral outbound message content. Adapters render it into platform requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from threadline.kit.clock import known_zone

_STRICT = ConfigDict(extra="forbid")


class Text(BaseModel):
    model_config = _STRICT
    type: Literal["text"] = "text"
    body: str
    preview_url: bool = False


class Media(BaseModel):
    model_config = _STRICT
    type: Literal["media"] = "media"
    kind: Literal["image", "video", "audio", "document", "sticker"]
    media_id: str | None = None
    link: str | None = None
    caption: str | None = None
    filename: str | None = None


class Location(BaseModel):
    model_config = _STRICT
    type: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None


class ContactCards(BaseModel):
    model_config = _STRICT
    type: Literal["contacts"] = "contacts"
    contacts: list[dict[str, Any]] = Field(min_length=1)


class Reaction(BaseModel):
    model_config = _STRICT
    type: Literal["reaction"] = "reaction"
    message_id: str
    emoji: str = ""  # empty removes the reaction


class Button(BaseModel):
    model_config = _STRICT
    id: str
    title: str


class Buttons(BaseModel):
    model_config = _STRICT
    type: Literal["buttons"] = "buttons"
    body: str
    buttons: list[Button]
    header: str | None = None
    footer: str | None = None


class ListRow(BaseModel):
    model_config = _STRICT
    id: str
    title: str
    description: str | None = None


class ListSection(BaseModel):
    model_config = _STRICT
    title: str | None = None
    rows: list[ListRow]


class ListMessage(BaseModel):
    model_config = _STRICT
    type: Literal["list"] = "list"
    body: str
    button: str
    sections: list[ListSection]
    header: str | None = None
    footer: str | None = None


class CtaUrl(BaseModel):
    model_config = _STRICT
    type: Literal["cta_url"] = "cta_url"
    body: str
    display_text: str
    url: str
    header: str | None = None
    footer: str | None = None


class LocationRequest(BaseModel):
    model_config = _STRICT
    type: Literal["location_request"] = "location_request"
    body: str


class TemplateMedia(BaseModel):
    model_config = _STRICT
    kind: Literal["image", "video", "document"]
    link: str | None = None
    media_id: str | None = None
    filename: str | None = None


class TemplateButtonParam(BaseModel):
    model_config = _STRICT
    index: int = Field(ge=0, le=9)
    sub_type: Literal["quick_reply", "url", "copy_code"]
    value: str  # payload for quick_reply, URL suffix for url, the code for copy_code


class Template(BaseModel):
    model_config = _STRICT
    type: Literal["template"] = "template"
    name: str
    language: str = "en_US"
    header_text: list[str] | dict[str, str] | None = None
    header_media: TemplateMedia | None = None
    header_location: Location | None = None
    body: list[str] | dict[str, str] = Field(default_factory=list)
    buttons: list[TemplateButtonParam] = Field(default_factory=list)
    otp_code: str | None = Field(
        default=None, description="Authentication templates: the code, sent in body and button"
    )


class CardButton(BaseModel):
    model_config = _STRICT
    title: str
    # A postback answer (id) or a link (url): exactly one.
    id: str | None = None
    url: str | None = None


class Card(BaseModel):
    model_config = _STRICT
    title: str
    subtitle: str | None = None
    image_url: str | None = None
    url: str | None = None  # where tapping the card opens
    buttons: list[CardButton] = Field(default_factory=list)


class Cards(BaseModel):
    """A carousel (Messenger/Instagram generic template); degraded where there is none."""

    model_config = _STRICT
    type: Literal["cards"] = "cards"
    cards: list[Card] = Field(min_length=1)
    body: str | None = None  # said before the cards where they become text


class ProductItem(BaseModel):
    """One product as the message shows it: a snapshot taken from the workspace's catalog
    when the message is composed, so every channel (and a fallback to another one) can say
    it without looking the catalog up again."""

    model_config = _STRICT
    retailer_id: str = Field(min_length=1, max_length=100)  # the SKU in the catalog
    name: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")  # ISO 4217
    description: str | None = None
    image_url: str | None = None
    url: str | None = None  # the product's page in the shop


class ProductMessage(BaseModel):
    """One product. WhatsApp shows it from the catalog connected to the number
    (`catalog_id`); elsewhere it becomes a card or text with its price and link."""

    model_config = _STRICT
    type: Literal["product"] = "product"
    product: ProductItem
    body: str | None = None
    footer: str | None = None
    catalog_id: str | None = None

    def items(self) -> list[ProductItem]:
        return [self.product]


class ProductSection(BaseModel):
    model_config = _STRICT
    title: str | None = None
    products: list[ProductItem] = Field(min_length=1)


class ProductListMessage(BaseModel):
    """Several products in sections (WhatsApp's multi-product message, from which the
    person fills a cart); a carousel or numbered text where there is no catalog."""

    model_config = _STRICT
    type: Literal["product_list"] = "product_list"
    header: str
    body: str
    sections: list[ProductSection] = Field(min_length=1)
    footer: str | None = None
    catalog_id: str | None = None

    def items(self) -> list[ProductItem]:
        return [item for section in self.sections for item in section.products]


Products = ProductMessage | ProductListMessage


class TimeSlot(BaseModel):
    model_config = _STRICT
    id: str = Field(min_length=1, max_length=200)
    start: AwareDatetime
    duration_minutes: int = Field(ge=1, le=24 * 60)


class TimePicker(BaseModel):
    """Pick one time (an appointment, a delivery slot). Apple shows its native time picker;
    elsewhere the slots become a list of choices in the event's own time zone."""

    model_config = _STRICT
    type: Literal["time_picker"] = "time_picker"
    body: str
    slots: list[TimeSlot] = Field(min_length=1, max_length=50)
    timezone: str = "UTC"  # where the event is: the times are shown in it
    button: str = "Choose a time"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    def as_list(self) -> ListMessage:
        """The slots as list rows ("Tue 10 Mar, 14:00", "30 min"), for channels without a
        time picker; the row id is the slot's, so the answer reads the same."""
        zone = ZoneInfo(self.timezone)
        rows = [
            ListRow(
                id=slot.id,
                title=slot.start.astimezone(zone).strftime("%a %d %b, %H:%M"),
                description=f"{slot.duration_minutes} min",
            )
            for slot in self.slots
        ]
        return ListMessage(body=self.body, button=self.button, sections=[ListSection(rows=rows)])


class Typing(BaseModel):
    """Show (or stop showing) that someone is writing."""

    model_config = _STRICT
    type: Literal["typing"] = "typing"
    on: bool = True


class MarkRead(BaseModel):
    model_config = _STRICT
    type: Literal["mark_read"] = "mark_read"
    message_id: str


Content = Annotated[
    Text
    | Media
    | Location
    | ContactCards
    | Reaction
    | Buttons
    | ListMessage
    | CtaUrl
    | LocationRequest
    | Template
    | Cards
    | TimePicker
    | ProductMessage
    | ProductListMessage
    | Typing
    | MarkRead,
    Field(discriminator="type"),
]


CONTENT_ADAPTER: TypeAdapter[Content] = TypeAdapter(Content)
