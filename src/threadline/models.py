"""Imports every model module so that `Base.metadata` knows every table."""

from threadline.broadcasts import models as broadcast_models
from threadline.channels import models as channel_models
from threadline.commerce import models as commerce_models
from threadline.consent import models as consent_models
from threadline.contacts import models as contact_models
from threadline.conversations import models as conversation_models
from threadline.flows import models as flow_models
from threadline.growth import models as growth_models
from threadline.inbox import models as inbox_models
from threadline.kit.db import Base
from threadline.messages import models as message_models
from threadline.policy import models as policy_models
from threadline.secrets import models as secret_models
from threadline.templates import models as template_models
from threadline.tickets import models as ticket_models
from threadline.workspaces import models as workspace_models

__all__ = [
    "Base",
    "broadcast_models",
    "channel_models",
    "commerce_models",
    "consent_models",
    "contact_models",
    "conversation_models",
    "flow_models",
    "growth_models",
    "inbox_models",
    "message_models",
    "policy_models",
    "secret_models",
    "template_models",
    "ticket_models",
    "workspace_models",
]
