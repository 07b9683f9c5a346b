"""Imports every model module so that `Base.metadata` knows every table."""

from threadline.consent import models as consent_models
from threadline.contacts import models as contact_models
from threadline.conversations import models as conversation_models
from threadline.kit.db import Base
from threadline.policy import models as policy_models
from threadline.workspaces import models as workspace_models

__all__ = [
    "Base",
    "consent_models",
    "contact_models",
    "conversation_models",
    "policy_models",
    "workspace_models",
]
