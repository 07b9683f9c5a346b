"""Channel adapters: one package per platform; channel-neutral events and messages here."""
