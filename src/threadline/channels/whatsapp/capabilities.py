"""What the WhatsApp Cloud API accepts, as data (limits from the platform reference)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Capabilities:
    text_max: int = 4096
    interactive_body_max: int = 1024
    header_text_max: int = 60
    footer_max: int = 60
    buttons_min: int = 1
    buttons_max: int = 3
    button_title_max: int = 20
    button_id_max: int = 256
    list_button_max: int = 20
    list_sections_max: int = 10
    list_rows_max: int = 10
    list_section_title_max: int = 24
    list_row_title_max: int = 24
    list_row_id_max: int = 200
    list_row_description_max: int = 72
    cta_display_text_max: int = 20
    # Single and multi-product messages (the catalog connected to the number).
    product_list_items_max: int = 30
    product_list_sections_max: int = 10
    product_section_title_max: int = 24
    product_retailer_id_max: int = 100
    caption_max: int = 1024
    template_name_max: int = 512
    otp_code_max: int = 15
    callback_data_max: int = 512


CAPABILITIES = Capabilities()

# Audio and stickers cannot carry a caption.
CAPTIONLESS = frozenset({"audio", "sticker"})
