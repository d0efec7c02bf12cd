"""LayerNext-compatible routes: the wire protocol of the public `layernext` 2.3.x client,
translated onto the same Lake calls our own API makes (spec/layernext-protocol.md)."""
